/** Whether Debian's Prometheus tools are on this machine (tests that use them say so when skipped). */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function hasPromtool(): boolean {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The folder holding Prometheus 3's `prometheus` and `promtool`, the reference
 * for exemplars, native histograms, remote write 2.0 and OTLP: `$ISOBAR_PROMETHEUS3_DIR`,
 * else where `../shared/tools/prometheus3.sh` caches its build. Undefined when
 * neither has it; in CI (`CI` set) that is an error, since `.ci/run` builds it.
 */
export function prometheus3Dir(): string | undefined {
  const dirs = [process.env.ISOBAR_PROMETHEUS3_DIR, join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'prometheus3', 'v0.309.1')];
  const found = dirs.find((d) => d && existsSync(join(d, 'prometheus')));
  if (found) return found;
  if (process.env.CI) throw new Error('Prometheus 3 is missing: .ci/run builds it with ../shared/tools/prometheus3.sh and exports ISOBAR_PROMETHEUS3_DIR');
  console.warn('\n*** SKIPPED: tests against Prometheus 3 (set ISOBAR_PROMETHEUS3_DIR, or run ../shared/tools/prometheus3.sh) ***\n');
  return undefined;
}
