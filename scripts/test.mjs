#!/usr/bin/env node
// `npm test`: type checks, then the Node-side tests (unit + end-to-end, on this
// machine's Node.js, which is what the storage node runs on), then the workerd
// tests (Cloudflare's vitest pool, on the tool Node.js wrangler requires).
// The end-to-end tests drive Debian's `prometheus`; it is installed when missing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './stack.mjs';
import { toolCommand } from './tool-node.mjs';

const totals = { passed: 0, failed: 0, skipped: 0 };
const reports = mkdtempSync(join(tmpdir(), 'isobar-test-'));

function run(label, bin, args, { report } = {}) {
  console.log(`\n== ${label}`);
  const r = spawnSync(bin, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ISOBAR_NODE: process.execPath } });
  if (report) {
    try {
      const j = JSON.parse(readFileSync(report, 'utf8'));
      totals.passed += j.numPassedTests;
      // A file that failed before any of its tests could (its setup threw) counts as one failure: its tests only show as skipped.
      const brokenFiles = (j.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed')).length;
      totals.failed += j.numFailedTests + brokenFiles;
      totals.skipped += j.numPendingTests + (j.numTodoTests ?? 0);
    } catch {
      totals.failed += 1; // no report: the run itself broke
    }
  }
  if (r.status !== 0) {
    if (!report) totals.failed += 1; // a failed check counts as a failure too
    console.error(`\n${label} failed`);
    summary();
    process.exit(r.status ?? 1);
  }
}

function summary() {
  console.log(`\nisobar: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
}

function ensurePrometheus() {
  if (spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0) return;
  const root = process.getuid?.() === 0;
  const sudo = root ? [] : ['sudo', '-n'];
  console.log(`\n== installing Debian's prometheus (the end-to-end tests use it as a real client)`);
  for (const cmd of [['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', 'prometheus']]) {
    const all = [...sudo, ...cmd];
    const r = spawnSync(all[0], all.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) {
      console.error(`could not run "${all.join(' ')}"; install Prometheus yourself (apt-get install prometheus) and rerun`);
      process.exit(1);
    }
  }
}

const extra = process.argv.slice(2);
ensurePrometheus();
const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
run('typecheck (Node side)', process.execPath, [tsc, '-p', 'tsconfig.node.json']);
run('typecheck (workerd side)', process.execPath, [tsc, '-p', 'tsconfig.worker.json']);
const vitestArgs = (report) => ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra];
const nodeReport = join(reports, 'node.json');
run(`unit and end-to-end tests (Node.js ${process.version})`, process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), ...vitestArgs(nodeReport)], { report: nodeReport });
const workerReport = join(reports, 'workers.json');
const [bin, args] = toolCommand('vitest', [...vitestArgs(workerReport), '-c', 'vitest.workers.config.ts']);
run('workerd tests (Cloudflare vitest pool, tool Node.js)', bin, args, { report: workerReport });
summary();
