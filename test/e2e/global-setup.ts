/** End-to-end tests need Debian's `prometheus` (installed by .ci/run). Fail early and say so. */
import { execFileSync } from 'node:child_process';

export default function setup() {
  try {
    execFileSync('prometheus', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('end-to-end tests need Prometheus on PATH: apt-get install prometheus (see .ci/run)');
  }
}
