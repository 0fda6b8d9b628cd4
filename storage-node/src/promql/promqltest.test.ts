import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPromqlScript, runPromqlTest } from './promqltest.js';
import { expandPoints } from './promqltest-script.js';

const DIR = resolve(import.meta.dirname, '../../../test/promql');

describe('promqltest scripts (test/promql)', () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.test'))) {
    it(file, async () => {
      const { failures, evals } = await runPromqlTest(readFileSync(join(DIR, file), 'utf8'));
      expect(failures).toEqual([]);
      expect(evals).toBeGreaterThan(0);
    });
  }

  it('the runner itself fails wrong expectations', async () => {
    const { failures } = await runPromqlTest('load 1m\n  m 1 2 3\n\neval instant at 2m m\n  m 99\n\neval instant at 2m foo(\n  m 1\n');
    expect(failures).toHaveLength(2);
  });
});

describe('the promqltest language, as Prometheus judges it', () => {
  const judge = async (script: string) => (await runPromqlScript(`load 1m\n  m{a="x"} 1 2 3\n  m{a="y"} 0+10x2\n\n${script}\n`)).map((c) => c.ok);

  it('values, expansions, missing samples and staleness markers', async () => {
    expect(expandPoints('1 _ _x2 stale -2+4x3 1-2x2 3x1 Inf -Inf NaN 0x2 .5 1e3')).toEqual([1, undefined, undefined, undefined, 'stale', -2, 2, 6, 10, 1, -1, -3, 3, 3, Infinity, -Infinity, NaN, 0, 0, 0, 0.5, 1000]);
    const h = expandPoints('{{schema:1 sum:3 count:22 buckets:[5 10 7]}}x1 _');
    expect(h).toHaveLength(3);
    expect(h[0]).toMatchObject({ kind: 'histogram', fields: { schema: '1', sum: '3', count: '22', buckets: '[5 10 7]' } });
    expect(h[2]).toBeUndefined();
  });

  it('instant, range, scalar and string results; clear', async () => {
    expect(await judge('eval instant at 2m m\n  m{a="x"} 3\n  m{a="y"} 20')).toEqual([true]);
    expect(await judge('eval instant at 2m m\n  m{a="x"} 3')).toEqual([false]); // a series too many
    expect(await judge('eval range from 0 to 2m step 1m m{a="x"}\n  m{a="x"} 1 2 3')).toEqual([true]);
    expect(await judge('eval range from 0 to 2m step 1m m{a="x"}\n  m{a="x"} 1 _ 3')).toEqual([false]); // a point on the grid is not expected
    expect(await judge('eval instant at -1m30s 1.5\n  1.5')).toEqual([true]);
    expect(await judge('eval instant at 0 "a"\n  expect string "a"')).toEqual([true]);
    expect(await judge('eval instant at 0 "a"\n  expect string "b"')).toEqual([false]);
    expect(await judge('eval instant at 2m m[2m]\n  expect range vector from 1m to 2m step 1m\n  m{a="x"} 2 3\n  m{a="y"} 10 20')).toEqual([true]);
    expect(await judge('clear\neval instant at 2m m')).toEqual([true]); // clear, then a command on the next line
  });

  it('expect fail, ordered, and the older eval_ forms', async () => {
    expect(await judge('eval instant at 0 foo(\n  expect fail')).toEqual([true]);
    expect(await judge('eval_fail instant at 0 foo(')).toEqual([true]);
    expect(await judge('eval instant at 0 foo(\n  expect fail msg: something else')).toEqual([false]);
    expect(await judge('eval instant at 0 foo(\n  expect fail regex: parse error')).toEqual([true]);
    expect(await judge('eval instant at 0 m\n  expect fail')).toEqual([false]);
    expect(await judge('eval instant at 2m sort_desc(m)\n  expect ordered\n  m{a="y"} 20\n  m{a="x"} 3')).toEqual([true]);
    expect(await judge('eval instant at 2m sort(m)\n  expect ordered\n  m{a="y"} 20\n  m{a="x"} 3')).toEqual([false]);
    expect(await judge('eval_ordered instant at 2m sort(m)\n  m{a="x"} 3\n  m{a="y"} 20')).toEqual([true]);
  });

  it('annotations: expected ones must appear, and with any given, every one must be expected', async () => {
    // rate() of a metric not named like a counter: an info annotation.
    expect(await judge('eval instant at 2m rate(m[2m])\n  expect info\n  {a="x"} 0.016666666666666666\n  {a="y"} 0.16666666666666666')).toEqual([true]);
    expect(await judge('eval instant at 2m rate(m[2m])\n  expect no_info\n  {a="x"} 0.016666666666666666\n  {a="y"} 0.16666666666666666')).toEqual([false]);
    expect(await judge('eval instant at 2m rate(m[2m])\n  expect info msg: something else\n  {a="x"} 0.016666666666666666\n  {a="y"} 0.16666666666666666')).toEqual([false]);
    expect(await judge('eval instant at 2m m\n  expect warn\n  m{a="x"} 3\n  m{a="y"} 20')).toEqual([false]);
    expect(await judge('eval instant at 2m m\n  expect no_warn\n  expect no_info\n  m{a="x"} 3\n  m{a="y"} 20')).toEqual([true]);
  });

  it('loads native histograms (increments too) and compares them, beside float series', async () => {
    const cases = await runPromqlScript(
      'load 1m\n  h {{schema:0 sum:1 count:1 buckets:[1]}}+{{schema:0 sum:2 count:2 buckets:[2]}}x2\n  f 1 2 3\n\n' +
        'eval instant at 2m f\n  f 3\n\n' +
        'eval instant at 2m h\n  h {{schema:0 sum:5 count:5 buckets:[5]}}\n\n' +
        'eval instant at 2m h\n  h {{schema:0 sum:5 count:5 buckets:[4]}}\n',
    );
    expect(cases.map((c) => [c.ok, c.histograms])).toEqual([
      [true, false],
      [true, true],
      [false, true],
    ]);
    expect(cases[2]!.message).toMatch(/got \{\{schema:0 count:5 sum:5 .*buckets:\[5\]/);
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
    await expect(new Engine(db, { maxSamples: 50 }).instantAsync(parsePromQL('sum_over_time(m[5m])'), 99_000)).rejects.toThrow(/more than 50 \(limit query_max_samples \/ ISOBAR_QUERY_MAX_SAMPLES\)/);
    expect(await new Engine(db, { maxSamples: 100 }).instantAsync(parsePromQL('count_over_time(m[5m])'), 99_000)).toMatchObject({ type: 'vector', samples: [{ v: 100 }] });
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
    expect(canceled).toMatchObject({ id: 'err-isobar-query-canceled', cause_: 'canceled' });
    const late = await new Engine(db, { timeoutMs: 20 }).rangeAsync(heavy, 0, 99_000, 1000).catch((e: unknown) => e);
    expect(late).toMatchObject({ id: 'err-isobar-query-timeout', cause_: 'timeout', message: expect.stringMatching(/ISOBAR_QUERY_TIMEOUT_SECONDS/) });
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
    // And the answer is that of an instant query at each step.
    const steps: Array<[number, number]> = [];
    for (let t = 600_000; t <= 7_000_000; t += 15_000) {
      const v = await new Engine(db).instantAsync(expr, t);
      if (v.type === 'vector' && v.samples.length) steps.push([t, v.samples[0]!.v]);
    }
    expect(series.length).toBe(1);
    expect(Array.from(series[0]!.t)).toEqual(steps.map(([t]) => t));
    expect(Array.from(series[0]!.v)).toEqual(steps.map(([, v]) => v));
  });
});
