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
    expect(() => new Engine(db, { maxSamples: 50 }).instant(parsePromQL('sum_over_time(m[5m])'), 99_000)).toThrow(/more than 50 \(max_samples\)/);
    expect(new Engine(db, { maxSamples: 100 }).instant(parsePromQL('count_over_time(m[5m])'), 99_000)).toMatchObject({ type: 'vector', samples: [{ v: 100 }] });
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
