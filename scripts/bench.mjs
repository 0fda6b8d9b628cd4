#!/usr/bin/env node
// `npm run bench`: micro-benchmarks beside the code (vitest bench), then the
// whole system against its peers on this machine, in one run:
//   the same remote_write workload (../shared/bench/rwload.mjs) against
//   VictoriaMetrics, Prometheus and Isobar (npm start's stack), alternating,
//   RUNS times each; medians and ratios are printed, plus the storage node's
//   RSS per active series.
// Then the commit log's size before and after an upload, and the bucket path
// (storage-node/bench/bucket.ts: upload, rebuild, cold and warm queries), and the
// downsampled tiers (storage-node/bench/downsample.ts: a cold 30-day panel, tiers against raw),
// and remote write of native histograms against Prometheus 3 (scripts/bench-histograms.mjs).
// Options (environment): BENCH_SERIES (50000), BENCH_ROUNDS (20), BENCH_RUNS (3),
// BENCH_SKIP_MICRO=1, BENCH_DIR (default ../shared/bench),
// BENCH_BUCKET_SERIES (10000), BENCH_BUCKET_HOURS (12).
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

  // Bytes per sample on disk, same samples everywhere: Isobar's blocks after a flush and
  // compaction; the same samples re-written into blocks by Prometheus's own tool; VictoriaMetrics's data dir.
  const samples = SERIES * ROUNDS * RUNS;
  // The commit log holds every write until its block is in the bucket: its bytes per sample,
  // times a shard's rate, times the time between head cuts, is its size at steady state.
  const admin = { authorization: `Bearer ${s.ISOBAR_ADMIN_TOKEN}` };
  const logState = async () => (await fetch(`http://127.0.0.1:${s.ISOBAR_PORT}/admin/v1/tenants/demo/shards/0/log`, { headers: admin })).json();
  const held = await logState();
  const flush = await fetch(`http://127.0.0.1:${s.ISOBAR_PORT}/admin/v1/flush`, { method: 'POST', headers: admin });
  if (!flush.ok) throw new Error(`flush: ${flush.status} ${await flush.text()}`);
  const flushed = await flush.json();
  const tFlush = Date.now();
  let after = await logState();
  while (after.rows > 0 && Date.now() - tFlush < 60_000) {
    await new Promise((r) => setTimeout(r, 500));
    after = await logState();
  }
  console.log(`\n== commit log (tenant demo, 1 shard)`);
  console.log(`before upload: ${held.rows} rows, ${(held.bytes / 1e6).toFixed(1)} MB for ${samples} samples = ${(held.bytes / samples).toFixed(2)} B/sample`);
  console.log(`  steady state = B/sample x the shard's samples/s x time between head cuts (up to 3 h): at 100,000 samples/s, ${((held.bytes / samples) * 100_000 * 3 * 3600 / 1e9).toFixed(1)} GB`);
  console.log(`flush + upload: ${flushed.nodes.map((n) => `${n.upload.uploaded} blocks uploaded in ${n.tookMs} ms`).join(', ')}; log truncated to ${after.rows} rows (${after.bytes} bytes) ${((Date.now() - tFlush) / 1000).toFixed(1)} s after the flush`);
  await new Promise((r) => setTimeout(r, 5000)); // let the background compaction merge partial blocks
  const blocksDir = join(s.ISOBAR_DATA_DIR, 'node', 'blocks', 'demo');
  const isobarBytes = Number(execFileSync('du', ['-sb', blocksDir], { encoding: 'utf8' }).split('\t')[0]);
  const promDir = join(work, 'prom-blocks');
  execFileSync('rm', ['-rf', promDir]);
  execFileSync('bash', ['-c', `rm -rf '${work}/dumpdb' && cp -r '${blocksDir}' '${work}/dumpdb' && mkdir -p '${work}/dumpdb/wal'`]);
  await dumpAsOpenMetrics(join(work, 'dumpdb'), join(work, 'same.om'));
  execFileSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(work, 'same.om'), promDir], { stdio: 'ignore' });
  const promBytes = Number(execFileSync('du', ['-sb', promDir], { encoding: 'utf8' }).split('\t')[0]);
  const vmOut = execFileSync('bash', [join(BENCH_DIR, 'peers.sh'), 'du', peersDir], { encoding: 'utf8' });
  const vmBytes = Number(/victoria-metrics (\d+)/.exec(vmOut)[1]);
  console.log(`\n== bytes per sample on disk (${samples} samples each)`);
  console.log(`isobar blocks                  ${(isobarBytes / samples).toFixed(2)} B/sample`);
  console.log(`prometheus blocks (promtool)   ${(promBytes / samples).toFixed(2)} B/sample  (isobar/prometheus ${(isobarBytes / promBytes).toFixed(2)}x)`);
  console.log(`victoria-metrics data dir      ${(vmBytes / samples).toFixed(2)} B/sample  (isobar/vm ${(isobarBytes / vmBytes).toFixed(2)}x)`);
  // Head append throughput, RSS per active series, and WAL replay (own processes).
  const { build } = await import('esbuild');
  await build({ entryPoints: [join(ROOT, 'storage-node/bench/head-and-replay.ts')], outfile: join(work, 'head-and-replay.mjs'), bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning' });
  console.log('\n== storage node head, WAL replay and head flush (in-process, one core)');
  for (const args of [['head', '100000'], ['head', String(process.env.BENCH_HEAD_BIG ?? 1_000_000)], ['replay', String(process.env.BENCH_REPLAY_MB ?? 1024)], ['flush', '100000']]) {
    console.log(execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=16000', join(work, 'head-and-replay.mjs'), ...args], { encoding: 'utf8', cwd: ROOT }).trim());
  }
  // The bucket: upload throughput, rebuild time, queries on bucket blocks cold and warm.
  await build({ entryPoints: [join(ROOT, 'storage-node/bench/bucket.ts')], outfile: join(work, 'bucket.mjs'), bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning' });
  console.log('\n== bucket: upload, rebuild, queries on bucket blocks (filesystem bucket, and s3rver on this machine)');
  for (const kind of ['fs', 's3']) {
    const out = execFileSync(process.execPath, ['--openssl-legacy-provider', '--no-warnings', join(work, 'bucket.mjs'), kind, String(process.env.BENCH_BUCKET_SERIES ?? 10_000), String(process.env.BENCH_BUCKET_HOURS ?? 12)], { encoding: 'utf8', cwd: ROOT });
    console.log(out.trim().split('\n').at(-1));
  }
  // Downsampled tiers: the cold 30-day rate panel from the 5 m and 1 h tiers against raw blocks.
  await build({ entryPoints: [join(ROOT, 'storage-node/bench/downsample.ts')], outfile: join(work, 'downsample.mjs'), bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning' });
  console.log('\n== downsampled tiers: a cold 30-day rate panel (filesystem bucket)');
  const ds = execFileSync(process.execPath, ['--no-warnings', '--max-old-space-size=8000', join(work, 'downsample.mjs'), String(process.env.BENCH_DS_SERIES ?? 500), String(process.env.BENCH_DS_DAYS ?? 30)], { encoding: 'utf8', cwd: ROOT });
  console.log(ds.trim().split('\n').at(-1));
} finally {
  await stop(edge);
  await stop(node);
  execFileSync('bash', [join(BENCH_DIR, 'peers.sh'), 'stop', peersDir]);
}

// Native histograms: remote-write throughput against Prometheus 3 (its own stack and ports).
console.log('');
spawnSync(process.execPath, [join(ROOT, 'scripts/bench-histograms.mjs')], { cwd: ROOT, stdio: 'inherit' });

/** `promtool tsdb dump` of a data dir, rewritten as OpenMetrics text (seconds) for create-blocks-from. */
async function dumpAsOpenMetrics(dbDir, outFile) {
  const { spawn } = await import('node:child_process');
  const { createWriteStream } = await import('node:fs');
  const { createInterface } = await import('node:readline');
  const out = createWriteStream(outFile);
  const child = spawn('promtool', ['tsdb', 'dump', dbDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = /^\{__name__="([^"]*)"(?:, )?(.*)\} (\S+) (-?\d+)$/;
  for await (const l of createInterface({ input: child.stdout })) {
    const m = line.exec(l);
    if (!m) continue;
    const ms = Number(m[4]);
    const labels = m[2].replaceAll(`", `, `",`); // OpenMetrics allows no space after the comma
    if (!out.write(`${m[1]}{${labels}} ${m[3]} ${(ms / 1000).toFixed(3)}\n`)) await new Promise((r) => out.once('drain', r));
  }
  out.write('# EOF\n');
  await new Promise((r) => out.end(r));
}
