/**
 * The PromQL engine alone, in-process (no HTTP, no edge): bench:query's
 * dashboard queries over a head shaped like rwload.mjs's series (19 per
 * instance: counters, histogram buckets, gauges), `query_range` over the last
 * hour at 60 s. For profiling (`node --cpu-prof`) and before/after ratios.
 * Usage: query-engine SERIES [HOURS] [RUNS] [QUERY INDEX]. Prints one JSON line.
 * With QUERY_THREADS=N (N > 0) each query goes the way the node answers it:
 * gathered here, evaluated and written as JSON in a pool of N worker threads
 * (the bundle scripts/build.mjs makes; run from the repository's root); the
 * figure then includes the hand-over, and the phases (gather here, wait,
 * evaluate there) are printed too. With BLOCKS=1 the head is first flushed to
 * blocks in a temporary folder, so queries read blocks, as a node's do once
 * its data is older than the head. With CONCURRENT=N (and QUERY_THREADS) each
 * run sends N copies of the query at once and times them all: against a run
 * of one, how well the threads share the machine. On Linux it also prints
 * each query's peak RSS growth (the process's high-water mark reset before a
 * run, read after it; the largest of the runs), as bench:query measures it.
 */
import { PairLabels } from '../../wire/remote-write.js';
import { TenantDB } from '../src/db/tenant-db.js';
import type { AppendResult } from '../src/head/head.js';
import { Engine } from '../src/promql/engine.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parsePromQL } from '../src/promql/parse.js';
import { queryRangeApi, type QueryStats } from '../src/api/query.js';
import { QueryPool } from '../src/jobs/query-pool.js';
import { createLogger } from '../../wire/log.js';
import DASHBOARD_QUERIES from './dashboard-queries.json';

const QUERIES: string[] = DASHBOARD_QUERIES;
const SHAPES: Array<[string, boolean, Array<Array<[string, string]>>]> = [
  ['http_requests_total', true, ['GET', 'POST'].flatMap((m) => ['200', '500'].map((c) => [['code', c], ['method', m]] as Array<[string, string]>))],
  ['http_request_duration_seconds_bucket', true, ['0.05', '0.1', '0.25', '0.5', '1', '+Inf'].map((le) => [['le', le]] as Array<[string, string]>)],
  ['process_cpu_seconds_total', true, [[]]],
  ['process_resident_memory_bytes', false, [[]]],
  ['node_filesystem_avail_bytes', false, ['/', '/data'].map((m) => [['mountpoint', m]] as Array<[string, string]>)],
  ['go_goroutines', false, [[]]],
  ['queue_depth', false, ['a', 'b', 'c'].map((q) => [['queue', q]] as Array<[string, string]>)],
  ['up', false, [[]]],
];

const [nSeries = 50_000, hours = 2, runs = 5, only = -1] = process.argv.slice(2).map(Number);
const perSeries = Math.round(hours * 240);
const end = 1_700_000_000_000;
const blocksDir = process.env.BLOCKS === '1' ? mkdtempSync(join(tmpdir(), 'isobar-qe-')) : undefined;
const db = new TenantDB('bench', blocksDir ? { blocksDir: join(blocksDir, 'blocks'), walDir: join(blocksDir, 'wal') } : undefined);
const ts = Float64Array.from({ length: perSeries }, (_, i) => end - (perSeries - 1 - i) * 15_000);
const vs = new Float64Array(perSeries);
const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
let made = 0;
let seed = 1;
const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
for (let inst = 0; made < nSeries; inst++) {
  for (const [name, counter, variants] of SHAPES) {
    for (const extra of variants) {
      if (made >= nSeries) break;
      const labels: Array<[string, string]> = [['__name__', name], ['instance', `host-${inst}:9100`], ['job', `svc-${inst % 20}`], ...extra];
      labels.sort((a, b) => (a[0] < b[0] ? -1 : 1));
      const { s } = db.head.getOrCreate(new PairLabels(labels));
      let v = Math.floor(rand() * 1000);
      for (let k = 0; k < perSeries; k++) vs[k] = counter ? (v += Math.floor(rand() * 10)) : rand() * 100;
      db.head.appendSamples(s, ts, vs, perSeries, res);
      made++;
    }
  }
}
if (blocksDir) {
  db.openBlocks();
  db.flushHead();
}

const threads = Number(process.env.QUERY_THREADS ?? 0);
const concurrent = Math.max(1, Number(process.env.CONCURRENT ?? 1));
// The bundle of the worker is made by scripts/build.mjs, found from the working directory (the repository's root).
const build = (await import(pathToFileURL(resolve('scripts/build.mjs')).href)) as { buildStorageNode(): Promise<string> };
const pool = threads > 0 ? new QueryPool(new URL('./query-worker.mjs', pathToFileURL(await build.buildStorageNode())), threads, createLogger('bench', 'error')) : undefined;
const params = (q: string) => new URLSearchParams({ query: q, start: String((end - 3_600_000) / 1000), end: String(end / 1000), step: '60' });

/** The process's RSS now and its high-water mark (bytes), the mark reset first when `reset`; undefined off Linux. */
function rss(reset: boolean): { now: number; peak: number } | undefined {
  try {
    if (reset) writeFileSync('/proc/self/clear_refs', '5');
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) * 1024;
    return { now: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out: Record<string, number> = {};
const phases: Record<string, string> = {};
const rssGrowthMb: Record<string, number> = {};
for (const q of only >= 0 ? [QUERIES[only]!] : QUERIES) {
  const times: number[] = [];
  const split: QueryStats[] = [];
  let points = 0;
  let growth = 0;
  for (let r = 0; r < runs; r++) {
    const before = rss(true);
    const t0 = performance.now();
    if (pool) {
      const stats: QueryStats = { samples: 0 };
      const bodies = await Promise.all(Array.from({ length: concurrent }, (_, i) => queryRangeApi(db, params(q), { runner: pool.run, ...(i === 0 ? { stats } : {}) })));
      times.push(performance.now() - t0);
      split.push(stats);
      const body = JSON.parse(bodies[0]!) as { data: { result: Array<{ values: unknown[] }> } };
      points = body.data.result.reduce((n, s) => n + s.values.length, 0);
    } else {
      const m = await new Engine(db, {}).rangeAsync(parsePromQL(q), end - 3_600_000, end, 60_000);
      times.push(performance.now() - t0);
      points = m.reduce((n, s) => n + s.t.length, 0);
    }
    const after = rss(false);
    if (before && after) growth = Math.max(growth, after.peak - before.now);
  }
  rssGrowthMb[q] = Math.round(growth / 1e5) / 10;
  if (points === 0) throw new Error(`${q}: no points`);
  out[q] = +median(times).toFixed(1);
  if (split.length) phases[q] = (['gatherMs', 'waitMs', 'evalMs'] as const).map((k) => `${k} ${median(split.map((x) => x[k] ?? 0)).toFixed(1)}`).join(', ');
}
console.log(JSON.stringify({ bench: 'query-engine', series: nSeries, hours, runs, threads, ...(concurrent > 1 ? { concurrent } : {}), blocks: db.blocks.length, medianMs: out, ...(pool ? { phases } : {}), peakRssGrowthMb: rssGrowthMb }));
await pool?.close();
db.close();
if (blocksDir) rmSync(blocksDir, { recursive: true, force: true });
