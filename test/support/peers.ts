/** Whether Debian's Prometheus tools are on this machine (tests that use them say so when skipped). */
import { execFileSync } from 'node:child_process';

export function hasPromtool(): boolean {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
