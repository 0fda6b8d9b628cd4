/**
 * A range query split over idle query threads, each reading its own range of
 * the series (select.ts partRange) from a lent block and the head: the answer
 * is the one-thread answer byte for byte (the additions happen in series
 * order on one thread), with the same usage, warnings and infos, and the
 * same limit errors; where a part cannot do its share the query is answered
 * unsplit; a split query can be cancelled, and the threads are free after.
 * Runs the bundled worker (scripts/build.mjs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStorageNode } from '../../../scripts/build.mjs';
import { PairLabels } from '../../../wire/remote-write.js';
import { createLogger } from '../../../wire/log.js';
import { ErrorIds } from '../../../wire/errors.js';
import { queryRangeApi, type QueryOptions, type QueryStats } from '../api/query.js';
import { TenantDB } from '../db/tenant-db.js';
import type { AppendResult } from '../head/head.js';
import { Engine, QueryError } from '../promql/engine.js';
import { parsePromQL } from '../promql/parse.js';
import { MIN_SPLIT_SERIES } from '../promql/fused.js';
import { QueryPool } from './query-pool.js';

const HOUR = 3_600_000;
const START = 1_700_006_400_000;
const END = START + 3 * HOUR;
const SERIES = 3 * MIN_SPLIT_SERIES + 300; // every fused selector below has more than MIN_SPLIT_SERIES
const dir = mkdtempSync(join(tmpdir(), 'isobar-split-'));
const db = new TenantDB('t', { blocksDir: join(dir, 'blocks'), walDir: join(dir, 'wal') });
let pool: QueryPool;
let worker: URL;

/** Series s in [from, to): some only in the block (s % 11 == 0, before the flush), some only in the head (s % 13 == 0, after it). */
function write(from: number, to: number, inBlock: boolean) {
  const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
  const stale = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0]!;
  for (let s = 0; s < SERIES; s++) {
    if (s % (inBlock ? 13 : 11) === 0) continue;
    const labels: Array<[string, string]> = [['__name__', s % 3 ? 'req_total' : 'temp'], ['instance', `i-${s}`], ['job', `j-${s % 7}`]];
    if (s % 3) labels.push(['le', ['0.1', '1', '10', '+Inf'][s % 4]!]);
    const { s: series } = db.head.getOrCreate(new PairLabels(labels));
    const ts: number[] = [];
    const vs: number[] = [];
    let c = s;
    for (let t = from; t < to; t += 30_000) {
      ts.push(t);
      if (s % 97 === 0 && t > END - HOUR / 2) vs.push(stale); // some series go stale
      else vs.push(s % 3 ? (c += ((t / 30_000) * s) % 13) : Math.sin(t / 600_000 + s) * 100);
    }
    db.head.appendSamples(series, Float64Array.from(ts), Float64Array.from(vs), ts.length, res);
  }
}

beforeAll(async () => {
  worker = new URL('./query-worker.mjs', `file://${await buildStorageNode()}`);
  pool = new QueryPool(worker, 2, createLogger('test', 'error'));
  db.openBlocks();
  write(START, START + 2 * HOUR, true);
  db.flushHead(); // the first two hours in a block, lent to both threads
  write(START + 2 * HOUR, END, false);
}, 120_000);
afterAll(async () => {
  await pool?.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const range = (query: string, from = START + HOUR, to = END, step = 60) => new URLSearchParams({ query, start: String(from / 1000), end: String(to / 1000), step: String(step) });

/** The query answered on this thread and through the pool: both bodies and usages, and whether the pool split it. */
async function both(params: URLSearchParams, opts: QueryOptions = {}) {
  const here: QueryStats = { samples: 0 };
  const there: QueryStats = { samples: 0 };
  const before = pool.stats().split;
  const want = await queryRangeApi(db, params, { ...opts, stats: here });
  const got = await queryRangeApi(db, params, { ...opts, stats: there, runner: pool.run });
  return { want, got, here, there, split: pool.stats().split - before };
}

describe('a query split over idle threads', () => {
  it('answers byte for byte as one thread does, with the same usage', async () => {
    const queries = [
      'sum by (job) (rate(req_total[5m]))',
      'topk(3, temp)',
      'bottomk(2, rate(req_total[5m]))',
      'count(req_total)',
      'avg by (job) (temp)',
      'max(rate(req_total[10m])) - min(rate(req_total[10m]))',
      'sum(rate(req_total[5m])) / count(temp)',
      'sum by (job) (increase(req_total[1h]))',
      'histogram_quantile(0.9, sum by (le) (rate(req_total[5m])))',
      // temp sorts after req_total: its series, and the info that they are not counters, are all in the second part
      'max by (job) (last_over_time({__name__=~"req_total|temp"}[5m]))',
      'sum without (instance) (rate({__name__=~"req_total|temp"}[5m]))',
    ];
    for (const q of queries) {
      const { want, got, here, there, split } = await both(range(q));
      expect(split, q).toBe(1);
      expect(got, q).toBe(want);
      expect(there.samples, q).toBe(here.samples);
      expect(JSON.parse(got).data.result.length, q).toBeGreaterThan(0);
    }
    expect(JSON.parse((await both(range('sum without (instance) (rate({__name__=~"req_total|temp"}[5m]))'))).got).infos).toEqual([expect.stringMatching(/might not be a counter.*"temp"/)]);
    expect(pool.stats()).toMatchObject({ busy: 0, queued: 0, replaced: 0 });
  });

  it('splits a query over the block alone, and leaves whole what it cannot split', async () => {
    const past = await both(range('sum by (job) (rate(req_total[5m]))', START + HOUR / 2, START + HOUR + HOUR / 2));
    expect(past.split).toBe(1);
    expect(past.got).toBe(past.want);
    for (const q of ['rate(req_total[5m]) > 1000', 'sum(rate(req_total[5m])) / on() group_left() max(temp)', 'sum(temp{instance="i-1"})']) {
      const { want, got, split } = await both(range(q));
      expect(split, q).toBe(q.startsWith('sum(rate') ? 1 : 0);
      expect(got, q).toBe(want);
    }
    // ISOBAR_QUERY_SPLIT_THREADS=1: a pool that never splits.
    const whole = new QueryPool(worker, 2, createLogger('test', 'error'), 0, 1);
    try {
      const params = range('sum by (job) (rate(req_total[5m]))');
      expect(await queryRangeApi(db, params, { runner: whole.run })).toBe(await queryRangeApi(db, params));
      expect(whole.stats().split).toBe(0);
    } finally {
      await whole.close();
    }
  });

  it('answers unsplit where a part cannot do its share', async () => {
    // absent_over_time has no window kernel: the aggregation is not fused, so no part can answer from its series alone.
    const absent = await both(range('count(absent_over_time(req_total[5m]))'));
    expect(absent.split).toBe(1);
    expect(absent.got).toBe(absent.want);
    // At a 2 s step, a part's rows (half of 3,372 series x 3,601 steps) would be too large to send: the
    // node does not split such a query (splittable), and a thread given it split answers it whole.
    const q = 'sum(rate({__name__=~"req_total|temp"}[5m]))';
    const fine = await both(range(q, START + HOUR, END, 2));
    expect(fine.split).toBe(0);
    expect(fine.got).toBe(fine.want);
    const before = pool.stats().split;
    const { gathered, release } = await new Engine(db).gatherFor(parsePromQL(q), START + HOUR, END, 2000, true);
    const forced = await pool.run({ query: q, range: true, start: START + HOUR, end: END, step: 2000, opts: {}, gathered, splittable: true }).finally(release);
    expect(pool.stats().split).toBe(before + 1);
    expect(forced).toMatchObject({ ok: true, body: fine.want, samples: fine.here.samples });
    expect(pool.stats()).toMatchObject({ busy: 0, queued: 0, replaced: 0 });
  });

  it('gives the limit error one thread gives, where each part is under the limit and both are over it', async () => {
    const params = range('sum(rate(req_total[5m]))');
    const all = await both(params);
    expect(all.split).toBe(1);
    for (const maxSamples of [Math.floor(all.here.samples * 0.7), 100_000]) {
      const here = await queryRangeApi(db, params, { maxSamples }).catch((e: unknown) => e);
      const there = await queryRangeApi(db, params, { maxSamples, runner: pool.run }).catch((e: unknown) => e);
      expect(here).toBeInstanceOf(QueryError);
      expect((there as QueryError).id).toBe(ErrorIds.queryMaxSamples);
      expect((there as QueryError).message).toBe((here as QueryError).message);
    }
  });

  it('stops a split query whose client went away, and frees both threads', async () => {
    const stop = new AbortController();
    const q = queryRangeApi(db, range('sum by (instance) (rate(req_total[5m]))'), { runner: pool.run, signal: stop.signal });
    while (pool.stats().busy < 2) await new Promise((r) => setImmediate(r));
    stop.abort();
    const e = await q.catch((x: unknown) => x);
    expect((e as QueryError).id).toBe(ErrorIds.queryCanceled);
    while (pool.stats().busy > 0) await new Promise((r) => setTimeout(r, 5));
    expect(JSON.parse(await queryRangeApi(db, range('count(temp)'), { runner: pool.run })).status).toBe('success');
  });
});
