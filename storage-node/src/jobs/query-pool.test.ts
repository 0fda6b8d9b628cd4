/**
 * The query pool against the main thread: the same bodies, errors, usage
 * counts; a queued query times out or is cancelled without running; a job
 * that throws fails alone and the thread serves the next one. Runs the
 * bundled worker (scripts/build.mjs), as the storage node does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStorageNode } from '../../../scripts/build.mjs';
import { PairLabels } from '../../../wire/remote-write.js';
import { createLogger } from '../../../wire/log.js';
import { ErrorIds } from '../../../wire/errors.js';
import { queryApi, queryRangeApi, type QueryOptions } from '../api/query.js';
import { TenantDB } from '../db/tenant-db.js';
import type { AppendResult } from '../head/head.js';
import { QueryError } from '../promql/engine.js';
import { NodeMetrics } from '../node/metrics.js';
import { QueryPool } from './query-pool.js';

const END = 1_700_000_000_000;
const db = new TenantDB('t');
let pool: QueryPool;

beforeAll(async () => {
  const main = await buildStorageNode();
  pool = new QueryPool(new URL('./query-worker.mjs', `file://${main}`), 1, createLogger('test', 'error'));
  const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
  const n = 480;
  const ts = Float64Array.from({ length: n }, (_, i) => END - (n - 1 - i) * 15_000);
  const stale = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer);
  for (let s = 0; s < 300; s++) {
    const { s: series } = db.head.getOrCreate(new PairLabels([['__name__', s % 3 ? 'req_total' : 'temp'], ['instance', `i-${s}`], ['job', `j-${s % 7}`]]));
    const vs = new Float64Array(n);
    let c = s;
    for (let i = 0; i < n; i++) vs[i] = s % 3 ? (c += (i * s) % 11) : Math.sin(i + s) * 100;
    if (s % 50 === 0) vs.set(stale, n - 40); // a series that went stale
    db.head.appendSamples(series, ts, vs, n, res);
  }
}, 120_000);
afterAll(() => pool?.close());

const range = (query: string, extra: Record<string, string> = {}) => new URLSearchParams({ query, start: String((END - 3_600_000) / 1000), end: String(END / 1000), step: '60', ...extra });

async function both(run: (o: QueryOptions) => Promise<string>) {
  const here = { samples: 0 };
  const there = { samples: 0 };
  const a = await run({ stats: here });
  const b = await run({ stats: there, runner: pool.run });
  return { here: a, there: b, samplesHere: here.samples, samplesThere: there.samples };
}

describe('query pool', () => {
  it('answers range and instant queries byte for byte as the main thread does, with the same usage', async () => {
    for (const q of ['sum by (job) (rate(req_total[5m]))', 'topk(3, temp)', 'rate(req_total{job="j-2"}[5m]) / rate(req_total{job="j-2"}[10m] offset 5m)', 'req_total{job="j-1"} / ignoring(job) group_left sum(req_total)', 'count_over_time(temp[10m])', 'absent(nothing)', 'max_over_time(temp[1h])[30m:5m]']) {
      const r = q.endsWith('[30m:5m]') ? undefined : await both((o) => queryRangeApi(db, range(q), o));
      if (r) {
        expect(r.there, q).toBe(r.here);
        expect(r.samplesThere, q).toBe(r.samplesHere);
        expect(JSON.parse(r.here).status).toBe('success');
      }
      const i = await both((o) => queryApi(db, new URLSearchParams({ query: q, time: String(END / 1000) }), o));
      expect(i.there, q).toBe(i.here);
      expect(i.samplesThere, q).toBe(i.samplesHere);
    }
  });

  it('gives the query error the main thread gives: message and id', async () => {
    const run = (o: QueryOptions) => queryRangeApi(db, range('sum(req_total)'), { ...o, maxSamples: 1000 });
    const here = await run({}).catch((e: unknown) => e);
    const there = await run({ runner: pool.run }).catch((e: unknown) => e);
    expect(here).toBeInstanceOf(QueryError);
    expect(there).toBeInstanceOf(QueryError);
    expect((there as QueryError).id).toBe(ErrorIds.queryMaxSamples);
    expect((there as QueryError).message).toBe((here as QueryError).message);
  });

  it('times out a query still waiting at its deadline, and cancels one whose client went away, without running them', async () => {
    const heavy = queryRangeApi(db, range('sum by (instance) (rate(req_total[5m]))'), { runner: pool.run });
    while (pool.stats().busy === 0) await new Promise((r) => setImmediate(r)); // gathered, and running
    const late = pool.run({ query: 'vector(1)', range: false, start: END, end: END, step: 0, opts: { deadline: Date.now() - 1, timeoutMs: 1000 }, gathered: [] });
    const stop = new AbortController();
    const gone = pool.run({ query: 'vector(1)', range: false, start: END, end: END, step: 0, opts: {}, gathered: [] }, stop.signal);
    expect(pool.stats()).toMatchObject({ threads: 1, busy: 1, queued: 2 });
    stop.abort();
    expect(await gone).toMatchObject({ ok: false, id: ErrorIds.queryCanceled, samples: 0 });
    expect(await late).toMatchObject({ ok: false, id: ErrorIds.queryTimeout, message: expect.stringContaining('timed out after 1s') });
    expect(JSON.parse(await heavy).status).toBe('success');
  });

  it('fails a job that throws, alone: the thread answers the next one', async () => {
    // One selector in the query, none gathered: the engine throws a plain Error, not a query error.
    const broken = pool.run({ query: 'up', range: false, start: END, end: END, step: 0, opts: {}, gathered: [] });
    await expect(broken).rejects.toThrow('gathered 0 selectors for a query of 1');
    const next = await pool.run({ query: 'vector(2)', range: false, start: END, end: END, step: 0, opts: {}, gathered: [] });
    expect(next).toMatchObject({ ok: true, body: expect.stringContaining('"2"') });
    expect(pool.stats()).toMatchObject({ busy: 0, queued: 0, replaced: 0 });
  });

  it('shows its threads on the metrics page', () => {
    const page = new NodeMetrics().render({ tenants: [], queryPool: pool.stats() });
    expect(page).toContain('\nisobar_node_query_threads 1\n');
    expect(page).toContain('\nisobar_node_query_threads_busy 0\n');
    expect(page).toContain('\nisobar_node_queries_queued 0\n');
    expect(page).toContain('# TYPE isobar_node_query_threads_replaced_total counter\nisobar_node_query_threads_replaced_total 0\n');
    expect(page).toContain('# TYPE isobar_node_queries_split_total counter\nisobar_node_queries_split_total 0\n');
  });
});
