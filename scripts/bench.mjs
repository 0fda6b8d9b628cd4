#!/usr/bin/env node
// `npm run bench`: micro-benchmarks beside the code (vitest bench), then the
// whole system against its peers on this machine, in one run:
//   the same remote_write workload (../shared/bench/rwload.mjs) against
//   VictoriaMetrics, Prometheus and Isobar (npm start's stack), alternating,
//   RUNS times each; medians and ratios are printed, plus the storage node's
//   RSS per active series.
// Options (environment): BENCH_SERIES (50000), BENCH_ROUNDS (20), BENCH_RUNS (3),
// BENCH_SKIP_MICRO=1, BENCH_DIR (default ../shared/bench).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { settings, startEdge, startNode, stop, ROOT } from './stack.mjs';

const SERIES = Number(process.env.BENCH_SERIES ?? 50000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BENCH_DIR = resolve(ROOT, process.env.BENCH_DIR ?? '../shared/bench');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (!process.env.BENCH_SKIP_MICRO) {
  console.log('== micro-benchmarks (vitest bench)');
  spawnSync(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'bench', '--run'], { cwd: ROOT, stdio: 'inherit' });
}

if (!existsSync(join(BENCH_DIR, 'rwload.mjs'))) {
  console.error(`no ${BENCH_DIR}/rwload.mjs: set BENCH_DIR to the yardstick folder`);
  process.exit(1);
}
// rwload resolves snappyjs from its own folder; a copy under our node_modules finds ours.
const work = join(ROOT, 'node_modules/.cache/isobar-bench');
mkdirSync(work, { recursive: true });
copyFileSync(join(BENCH_DIR, 'rwload.mjs'), join(work, 'rwload.mjs'));

console.log('\n== starting peers (Debian prometheus, victoria-metrics) and Isobar');
const peersDir = join(work, 'peers');
execFileSync('bash', [join(BENCH_DIR, 'peers.sh'), 'start', peersDir], { stdio: 'inherit' });
const s = settings({ ...process.env, ISOBAR_DATA_DIR: join(work, 'isobar'), ISOBAR_PORT: '18787', ISOBAR_NODE_PORT: '18790' });
execFileSync('rm', ['-rf', s.ISOBAR_DATA_DIR]);
const node = await startNode(s);
const edge = await startEdge(s);
const rss = () => Number(readFileSync(`/proc/${node.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;
const rssBefore = rss();

const targets = {
  'victoria-metrics': { url: 'http://127.0.0.1:18428/api/v1/write', headers: [] },
  prometheus: { url: 'http://127.0.0.1:19090/api/v1/write', headers: [] },
  isobar: { url: `http://127.0.0.1:${s.ISOBAR_PORT}/api/v1/write`, headers: ['--header', `Authorization: Bearer ${s.ISOBAR_DEMO_KEY}`] },
};
const results = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
let end = Math.floor(Date.now() / 15000) * 15000 - 3_600_000;
try {
  for (let run = 1; run <= RUNS; run++) {
    for (const [name, t] of Object.entries(targets)) {
      // Each run writes a fresh time range, so no receiver sees duplicates.
      end += (ROUNDS + 1) * 15000;
      const out = execFileSync(process.execPath, [join(work, 'rwload.mjs'), '--url', t.url, ...t.headers, '--series', String(SERIES), '--rounds', String(ROUNDS), '--end-ms', String(end)], { encoding: 'utf8' });
      const r = JSON.parse(out.trim().split('\n').at(-1));
      if (r.ok_requests !== r.requests) throw new Error(`${name}: ${r.requests - r.ok_requests} failed requests: ${r.first_error}`);
      results[name].push(r);
      console.log(`run ${run} ${name.padEnd(17)} ${String(r.samples_per_s).padStart(9)} samples/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms`);
    }
  }
  const rssAfter = rss();
  console.log(`\n== remote_write, ${SERIES} series x ${ROUNDS} rounds, median of ${RUNS} runs (same machine, same run)`);
  const vm = median(results['victoria-metrics'].map((r) => r.samples_per_s));
  for (const [name, rs] of Object.entries(results)) {
    const sps = median(rs.map((r) => r.samples_per_s));
    console.log(`${name.padEnd(17)} ${String(sps).padStart(9)} samples/s  (${(sps / vm).toFixed(2)}x VictoriaMetrics)  p50 ${median(rs.map((r) => r.p50_ms))} ms  p99 ${median(rs.map((r) => r.p99_ms))} ms`);
  }
  console.log(`\nisobar storage node RSS: ${(rssBefore / 1e6).toFixed(0)} MB idle -> ${(rssAfter / 1e6).toFixed(0)} MB with ${SERIES} active series = ${((rssAfter - rssBefore) / SERIES).toFixed(0)} bytes per active series (${RUNS * ROUNDS} samples each)`);
} finally {
  await stop(edge);
  await stop(node);
  execFileSync('bash', [join(BENCH_DIR, 'peers.sh'), 'stop', peersDir]);
}
