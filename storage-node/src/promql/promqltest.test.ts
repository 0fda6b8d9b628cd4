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
