#!/usr/bin/env node
// `npm run bench:query`: typical dashboard queries over 50,000 series x 2 h,
// against Isobar, Prometheus and VictoriaMetrics loaded with the same data in
// the same run (../shared/bench: rwload.mjs for the data, peers.sh for the
// peers). Prints each query's median latency and its ratio to the peers.
// Options (environment): BENCH_SERIES (50000), BENCH_HOURS (2), BENCH_RUNS (5), BENCH_DIR.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT, settings, startEdge, startNode, stop } from './stack.mjs';

const SERIES = Number(process.env.BENCH_SERIES ?? 50000);
const ROUNDS = Math.round(Number(process.env.BENCH_HOURS ?? 2) * 240); // 15 s scrapes
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BENCH_DIR = resolve(ROOT, process.env.BENCH_DIR ?? '../shared/bench');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const QUERIES = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
  'topk(5, process_resident_memory_bytes)',
  'count(up)',
  'sum(rate(http_requests_total{job=~"svc-1.*"}[5m]))',
];

const work = join(ROOT, 'node_modules/.cache/isobar-bench');
mkdirSync(work, { recursive: true });
copyFileSync(join(BENCH_DIR, 'rwload.mjs'), join(work, 'rwload.mjs'));
const peersDir = join(work, 'peers-query');
execFileSync('bash', [join(BENCH_DIR, 'peers.sh'), 'start', peersDir], { stdio: 'inherit' });
const s = settings({ ...process.env, ISOBAR_DATA_DIR: join(work, 'isobar-query'), ISOBAR_PORT: '18797', ISOBAR_NODE_PORT: '18791' });
execFileSync('rm', ['-rf', s.ISOBAR_DATA_DIR]);
const node = await startNode(s);
const edge = await startEdge(s);
const end = Math.floor(Date.now() / 15000) * 15000 - 60_000;
try {
  const targets = {
    isobar: { write: `http://127.0.0.1:${s.ISOBAR_PORT}/api/v1/write`, read: `http://127.0.0.1:${s.ISOBAR_PORT}/prometheus`, auth: `Bearer ${s.ISOBAR_DEMO_KEY}` },
    prometheus: { write: 'http://127.0.0.1:19090/api/v1/write', read: 'http://127.0.0.1:19090' },
    'victoria-metrics': { write: 'http://127.0.0.1:18428/api/v1/write', read: 'http://127.0.0.1:18428' },
  };
  console.log(`== loading ${SERIES} series x ${ROUNDS} samples into each`);
  for (const [name, t] of Object.entries(targets)) {
    const args = [join(work, 'rwload.mjs'), '--url', t.write, '--series', String(SERIES), '--rounds', String(ROUNDS), '--end-ms', String(end)];
    if (t.auth) args.push('--header', `Authorization: ${t.auth}`);
    const out = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n').at(-1));
    if (out.ok_requests !== out.requests) throw new Error(`${name}: ${out.first_error}`);
    console.log(`${name.padEnd(17)} loaded ${out.samples} samples in ${out.wall_s}s`);
  }
  execFileSync('curl', ['-s', '-XPOST', 'http://127.0.0.1:18428/internal/force_flush']);
  await new Promise((r) => setTimeout(r, 5000));

  console.log(`\n== query_range over the last hour, step 60s; median of ${RUNS} runs`);
  const qs = (q) => `query=${encodeURIComponent(q)}&start=${(end - 3_600_000) / 1000}&end=${end / 1000}&step=60`;
  for (const q of QUERIES) {
    const ms = {};
    for (const [name, t] of Object.entries(targets)) {
      const times = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const r = await fetch(`${t.read}/api/v1/query_range?${qs(q)}`, { headers: t.auth ? { authorization: t.auth } : {} });
        const body = await r.json();
        if (body.status !== 'success') throw new Error(`${name} ${q}: ${JSON.stringify(body).slice(0, 200)}`);
        times.push(performance.now() - t0);
      }
      ms[name] = median(times);
    }
    console.log(`${q}\n    isobar ${ms.isobar.toFixed(0)} ms   prometheus ${ms.prometheus.toFixed(0)} ms (${(ms.isobar / ms.prometheus).toFixed(1)}x)   victoria-metrics ${ms['victoria-metrics'].toFixed(0)} ms (${(ms.isobar / ms['victoria-metrics']).toFixed(1)}x)`);
  }
} finally {
  await stop(edge);
  await stop(node);
  execFileSync('bash', [join(BENCH_DIR, 'peers.sh'), 'stop', peersDir]);
}
