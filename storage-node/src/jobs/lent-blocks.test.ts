/**
 * Local blocks read in the query threads: a query's main-thread half copies
 * only the head's (and the bucket's) chunks and lends the blocks; the thread
 * reads them through the same files. Answers equal a node holding the same
 * data in its head alone; deletions apply across both; a block compacted away
 * while a query holds it stays until the query is done.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStorageNode } from '../../../scripts/build.mjs';
import { PairLabels } from '../../../wire/remote-write.js';
import { createLogger } from '../../../wire/log.js';
import { answerJob, queryApi, queryRangeApi } from '../api/query.js';
import { TenantDB } from '../db/tenant-db.js';
import { deleteBlock } from '../compact/compactor.js';
import type { AppendResult } from '../head/head.js';
import { Matcher } from '../model/matcher.js';
import { Engine } from '../promql/engine.js';
import { parsePromQL } from '../promql/parse.js';
import { QueryPool } from './query-pool.js';

const HOUR = 3_600_000;
const START = 1_700_006_400_000; // a block boundary: the first 4 hours make two blocks
const END = START + 6 * HOUR;
const dir = mkdtempSync(join(tmpdir(), 'isobar-lent-'));
const split = new TenantDB('t', { blocksDir: join(dir, 'blocks'), walDir: join(dir, 'wal') });
const headOnly = new TenantDB('t');
let pool: QueryPool;

/** Samples every 60 s of [from, to) into a head: counters, gauges, and a series that ends. */
function write(db: TenantDB, from: number, to: number) {
  const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
  for (let s = 0; s < 60; s++) {
    if (s % 10 === 9 && from >= START + 4 * HOUR) continue; // in the blocks only
    if (s % 10 === 8 && from < START + 4 * HOUR) continue; // in the head only
    const { s: series } = db.head.getOrCreate(new PairLabels([['__name__', s % 3 ? 'req_total' : 'temp'], ['instance', `i-${s}`], ['job', `j-${s % 4}`]]));
    const ts: number[] = [];
    const vs: number[] = [];
    for (let t = from; t < to; t += 60_000) {
      ts.push(t);
      vs.push(s % 3 ? Math.floor((t - START) / 60_000) * (s + 1) : Math.sin(t / 600_000 + s) * 100);
    }
    db.head.appendSamples(series, Float64Array.from(ts), Float64Array.from(vs), ts.length, res);
  }
}

beforeAll(async () => {
  const main = await buildStorageNode();
  pool = new QueryPool(new URL('./query-worker.mjs', `file://${main}`), 1, createLogger('test', 'error'));
  write(split, START, START + 4 * HOUR);
  split.openBlocks();
  split.flushHead();
  write(split, START + 4 * HOUR, END);
  write(headOnly, START, START + 4 * HOUR);
  write(headOnly, START + 4 * HOUR, END);
  for (const db of [split, headOnly]) db.addDeletion({ selector: '{job="j-1"}', matchers: [new Matcher('=', 'job', 'j-1')], mint: START + 3 * HOUR, maxt: START + 5 * HOUR });
}, 120_000);
afterAll(async () => {
  await pool?.close();
  split.close();
  rmSync(dir, { recursive: true, force: true });
});

const range = (query: string) => new URLSearchParams({ query, start: String((START + HOUR) / 1000), end: String(END / 1000), step: '300' });
// The fourth reads one selector in two fused passes: the second reads again the chunks the first let go.
const QUERIES = [
  'sum by (job) (rate(req_total[10m]))',
  'temp',
  'count_over_time(req_total{job=~"j-[13]"}[1h])',
  'sum by (job) (rate(req_total[10m])) / count by (job) (rate(req_total[10m]))',
  'req_total - req_total offset 2h',
  'topk(3, temp)',
];

describe('local blocks read in the query threads', () => {
  it('the node under test has two blocks and a head', () => {
    expect(split.blocks).toHaveLength(2);
    expect(split.head.numSeries).toBeGreaterThan(0);
  });

  it('answers as a node holding the same data in its head, in the pool and on the main thread', async () => {
    for (const q of QUERIES) {
      const want = await queryRangeApi(headOnly, range(q));
      expect(JSON.parse(want).data.result.length, q).toBeGreaterThan(0);
      expect(await queryRangeApi(split, range(q), { runner: pool.run }), q).toBe(want);
      expect(await queryRangeApi(split, range(q)), q).toBe(want);
      const instant = new URLSearchParams({ query: q, time: String((START + 3.5 * HOUR) / 1000) });
      expect(await queryApi(split, instant, { runner: pool.run }), q).toBe(await queryApi(headOnly, instant));
    }
  });

  it('keeps a block a query holds until the query is done, though compaction deleted it', async () => {
    const expr = parsePromQL('sum(rate(req_total[10m]))');
    const { gathered, release } = await new Engine(split).gatherFor(expr, START + HOUR, END, 300_000);
    const local = gathered[0]!.kind === 'raw' ? gathered[0]!.local : undefined;
    expect(local?.blocks).toHaveLength(2); // lent, not read here
    const gone = split.localBlocks.remove(() => true);
    for (const b of gone) deleteBlock(b);
    for (const b of gone) expect(existsSync(b.dir)).toBe(true);
    const job = { query: 'sum(rate(req_total[10m]))', range: true, start: START + HOUR, end: END, step: 300_000, opts: {}, gathered };
    const here = await answerJob(job); // first: the pool's run moves the head's chunks away
    const there = await pool.run(job);
    release();
    for (const b of gone) expect(existsSync(b.dir)).toBe(false);
    expect({ ...there, evalMs: 0 }).toEqual({ ...here, evalMs: 0 });
    expect(there.ok && JSON.parse(there.body).data.result[0].values.length).toBe(61);
    const headOnlyBody = await queryRangeApi(headOnly, new URLSearchParams({ query: job.query, start: String(job.start / 1000), end: String(END / 1000), step: '300' }));
    expect(there.ok && there.body).toBe(headOnlyBody);
  });
});
