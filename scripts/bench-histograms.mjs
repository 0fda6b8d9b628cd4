#!/usr/bin/env node
// `npm run bench:histograms` (also run by `npm run bench`): remote-write
// throughput with native histograms, Isobar (npm start's stack) against
// Prometheus 3 (its remote-write receiver), same workload, same machine,
// taking turns (storage-node/bench/histogram-write.ts). Prometheus 3 is found
// as the tests find it (ISOBAR_PROMETHEUS3_DIR, or ../shared/tools/prometheus3.sh's cache).
// Options (environment): BENCH_HIST_SERIES (10000), BENCH_HIST_ROUNDS (20), BENCH_RUNS (3).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { settings, startEdge, startNode, stop, ROOT } from './stack.mjs';

const SERIES = process.env.BENCH_HIST_SERIES ?? '10000';
const ROUNDS = process.env.BENCH_HIST_ROUNDS ?? '20';
const RUNS = process.env.BENCH_RUNS ?? '3';
const PROM_PORT = 19093;

const promDir = [process.env.ISOBAR_PROMETHEUS3_DIR, join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'prometheus3', 'v0.309.1')].find((d) => d && existsSync(join(d, 'prometheus')));
if (!promDir) {
  console.log('== native-histogram remote write: SKIPPED, no Prometheus 3 (run ../shared/tools/prometheus3.sh, or set ISOBAR_PROMETHEUS3_DIR)');
  process.exit(0);
}

const work = join(ROOT, 'node_modules/.cache/isobar-bench-histograms');
execFileSync('rm', ['-rf', work]);
mkdirSync(join(work, 'prom'), { recursive: true });
const { build } = await import('esbuild');
await build({ entryPoints: [join(ROOT, 'storage-node/bench/histogram-write.ts')], outfile: join(work, 'histogram-write.mjs'), bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning' });

writeFileSync(join(work, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\n');
if ((await fetch(`http://127.0.0.1:${PROM_PORT}/-/ready`).catch(() => undefined)) !== undefined) throw new Error(`port ${PROM_PORT} is taken (a Prometheus left running?): stop it first`);
const prom = spawn(join(promDir, 'prometheus'), [`--config.file=${join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${join(work, 'prom')}`, `--web.listen-address=127.0.0.1:${PROM_PORT}`, '--web.enable-remote-write-receiver', '--storage.tsdb.retention.time=30d'], { stdio: 'ignore' });
const s = settings({ ...process.env, ISOBAR_DATA_DIR: join(work, 'isobar'), ISOBAR_PORT: '18797', ISOBAR_NODE_PORT: '18798' });
let node;
let edge;
try {
  node = await startNode(s);
  edge = await startEdge(s);
  for (let i = 0; ; i++) {
    if ((await fetch(`http://127.0.0.1:${PROM_PORT}/-/ready`).catch(() => undefined))?.ok) break;
    if (i > 120) throw new Error('Prometheus 3 did not get ready');
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`== native-histogram remote write: ${SERIES} series x ${ROUNDS} histograms, ${RUNS} runs each, taking turns (Prometheus 3 from ${promDir})`);
  const out = execFileSync(process.execPath, [join(work, 'histogram-write.mjs'), SERIES, ROUNDS, RUNS, `prometheus3=http://127.0.0.1:${PROM_PORT}/api/v1/write`, `isobar=http://127.0.0.1:${s.ISOBAR_PORT}/api/v1/write,Bearer ${s.ISOBAR_DEMO_KEY}`], { encoding: 'utf8', cwd: ROOT });
  const lines = out.trim().split('\n');
  for (const l of lines.slice(0, -1)) console.log(l);
  const { medians } = JSON.parse(lines.at(-1));
  for (const [name, m] of Object.entries(medians)) console.log(`${name.padEnd(12)} ${String(m.histograms_per_s).padStart(8)} histograms/s  p50 ${m.p50_ms} ms  p99 ${m.p99_ms} ms`);
  console.log(`isobar / prometheus3 throughput: ${(medians.isobar.histograms_per_s / medians.prometheus3.histograms_per_s).toFixed(2)}x (medians)`);
} finally {
  if (edge) await stop(edge);
  if (node) await stop(node);
  prom.kill('SIGTERM');
}
