import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPromqlTest } from './promqltest.js';

const DIR = resolve(import.meta.dirname, '../../../test/promql');

describe('promqltest scripts (test/promql)', () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.test'))) {
    it(file, () => {
      const { failures, evals } = runPromqlTest(readFileSync(join(DIR, file), 'utf8'));
      expect(failures).toEqual([]);
      expect(evals).toBeGreaterThan(0);
    });
  }

  it('the runner itself fails wrong expectations', () => {
    const { failures } = runPromqlTest('load 1m\n  m 1 2 3\neval instant at 2m m\n  m 99\neval instant at 2m foo(\n  m 1\n');
    expect(failures).toHaveLength(2);
  });
});

describe('query limits', () => {
  it('refuses a query that would load more samples than allowed, naming the limit', async () => {
    const { TenantDB } = await import('../db/tenant-db.js');
    const { PairLabels } = await import('../../../wire/remote-write.js');
    const { Engine } = await import('./engine.js');
    const { parsePromQL } = await import('./parse.js');
    const db = new TenantDB('t');
    const { s } = db.head.getOrCreate(new PairLabels([['__name__', 'm']]));
    const ts = Float64Array.from({ length: 100 }, (_, i) => i * 1000);
    db.head.appendSamples(s, ts, new Float64Array(100), 100, { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 });
    expect(() => new Engine(db, { maxSamples: 50 }).instant(parsePromQL('sum_over_time(m[5m])'), 99_000)).toThrow(/more than 50 \(limit query_max_samples \/ ISOBAR_QUERY_MAX_SAMPLES\)/);
    expect(new Engine(db, { maxSamples: 100 }).instant(parsePromQL('count_over_time(m[5m])'), 99_000)).toMatchObject({ type: 'vector', samples: [{ v: 100 }] });
  });

  it('refuses a result with more points than allowed, and stops a query whose client went away or whose time is up', async () => {
    const { TenantDB } = await import('../db/tenant-db.js');
    const { PairLabels } = await import('../../../wire/remote-write.js');
    const { Engine, QueryError } = await import('./engine.js');
    const { parsePromQL } = await import('./parse.js');
    const db = new TenantDB('t');
    for (let i = 0; i < 10; i++) {
      const { s } = db.head.getOrCreate(new PairLabels([['__name__', 'm'], ['i', String(i)]]));
      const ts = Float64Array.from({ length: 100 }, (_, k) => k * 1000);
      db.head.appendSamples(s, ts, new Float64Array(100), 100, { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 });
    }
    // 10 series x 11 steps = 110 points.
    const run = (opts: ConstructorParameters<typeof Engine>[1]) => new Engine(db, opts).rangeAsync(parsePromQL('m'), 0, 99_000, 9_900);
    expect((await run({ maxPoints: 110 })).length).toBe(10);
    await expect(run({ maxPoints: 109 })).rejects.toThrow(/more than 109 points \(limit query_max_points \/ ISOBAR_QUERY_MAX_POINTS\)/);
    await expect(new Engine(db, { maxPoints: 9 }).instantAsync(parsePromQL('m'), 99_000)).rejects.toThrow(/ISOBAR_QUERY_MAX_POINTS/);

    const heavy = parsePromQL('sum(avg_over_time(m[50s:1ms]))');
    const aborted = new AbortController();
    setTimeout(() => aborted.abort(), 20);
    const canceled = await new Engine(db, { signal: aborted.signal }).rangeAsync(heavy, 0, 99_000, 1000).catch((e: unknown) => e);
    expect(canceled).toBeInstanceOf(QueryError);
    expect(canceled).toMatchObject({ type: 'canceled' });
    const late = await new Engine(db, { timeoutMs: 20 }).rangeAsync(heavy, 0, 99_000, 1000).catch((e: unknown) => e);
    expect(late).toMatchObject({ type: 'timeout', message: expect.stringMatching(/ISOBAR_QUERY_TIMEOUT_SECONDS/) });
  });
});

describe('heavy queries share the node', () => {
  it('a long range query gives the event loop back, so other work (writes) runs before it ends', async () => {
    const { TenantDB } = await import('../db/tenant-db.js');
    const { PairLabels } = await import('../../../wire/remote-write.js');
    const { Engine } = await import('./engine.js');
    const { parsePromQL } = await import('./parse.js');
    const db = new TenantDB('t');
    for (let i = 0; i < 200; i++) {
      const { s } = db.head.getOrCreate(new PairLabels([['__name__', 'm'], ['i', String(i)]]));
      const ts = Float64Array.from({ length: 500 }, (_, k) => k * 15_000);
      db.head.appendSamples(s, ts, Float64Array.from(ts, (x) => x / 1000), 500, { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 });
    }
    let otherWorkRan = 0;
    const other = setInterval(() => otherWorkRan++, 0);
    const expr = parsePromQL('sum(rate(m[5m])) + sum(avg_over_time(m[10m:1m]))');
    const series = await new Engine(db).rangeAsync(expr, 600_000, 7_000_000, 15_000);
    clearInterval(other);
    expect(series.length).toBeGreaterThan(0);
    expect(otherWorkRan).toBeGreaterThan(0);
    // And the answer is the same as the uninterrupted evaluation's.
    const sync = new Engine(db).range(expr, 600_000, 7_000_000, 15_000);
    expect(series.map((s) => [s.labels, s.t, Array.from(s.v)])).toEqual(sync.map((s) => [s.labels, s.t, Array.from(s.v)]));
  });
});
