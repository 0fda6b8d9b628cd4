/**
 * Fused (series by series) and step-by-step evaluation of range queries give
 * the same answer, bit for bit, on arbitrary data: gaps, staleness markers,
 * NaN and infinite values, counter resets, groups that come and go, and
 * parents that care about the order of a step's samples (topk's ties).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PairLabels } from '../../../wire/remote-write.js';
import { TenantDB } from '../db/tenant-db.js';
import type { AppendResult } from '../head/head.js';
import { Engine } from './engine.js';
import { parsePromQL } from './parse.js';
import type { RangeSeries } from './values.js';
import { extrapolatedRate } from './range-functions.js';
import { loadedSeries } from './windows.js';

const STALE = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0]!;

const value = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: -5, max: 50 }).map((x) => x * 0.5) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, STALE, 1e308, -1e308) },
);
const seriesArb = fc.record({
  job: fc.constantFrom('a', 'b', 'c'),
  instance: fc.constantFrom('x', 'y', 'z', 'w'),
  counter: fc.boolean(),
  // Sample times as 5 s slots over 20 minutes; duplicates are dropped by the head.
  points: fc.array(fc.tuple(fc.integer({ min: 0, max: 240 }), value), { minLength: 0, maxLength: 60 }),
});

// absent_over_time is no window function: its aggregation falls back to the step evaluation, which then decodes the deferred selector.
const FUNCTIONS = ['rate', 'increase', 'delta', 'irate', 'idelta', 'sum_over_time', 'avg_over_time', 'min_over_time', 'max_over_time', 'count_over_time', 'last_over_time', 'stddev_over_time', 'changes', 'resets', 'deriv', 'absent_over_time'];
const queryArb = fc
  .record({
    op: fc.constantFrom('sum', 'avg', 'count', 'min', 'max', 'group', 'topk 2', 'bottomk 1', 'topk 3', 'topk 0', 'bottomk (2.5)'),
    grouping: fc.constantFrom('by (job)', 'by (job, instance)', 'without (instance)', '', 'by (nope)'),
    fn: fc.constantFrom(...FUNCTIONS, '', ''), // '': the plain selector
    range: fc.constantFrom('30s', '1m', '3m'),
    offset: fc.constantFrom('', ' offset 1m'),
    wrap: fc.constantFrom('%', 'topk(2, %)', 'bottomk(1, %)', '% * 2', 'sum(%)', 'abs(%) > 1'),
  })
  .map(({ op, grouping, fn, range, offset, wrap }) => {
    const [name, k] = op.split(' ');
    return wrap.replace('%', `${name} ${grouping} (${k ? `${k}, ` : ''}${fn ? `${fn}(m[${range}]${offset})` : `m${offset}`})`);
  });

function same(a: RangeSeries[], b: RangeSeries[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i]!;
    if (JSON.stringify(x.labels) !== JSON.stringify(y.labels) || x.hi !== y.hi) return false;
    for (let k = 0; k < x.hi; k++) if (x.t[k] !== y.t[k] || !Object.is(x.v[k], y.v[k])) return false;
    return true;
  });
}

describe('fused range evaluation', () => {
  it('answers as the step-by-step evaluation does, bit for bit, with the same annotations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(seriesArb, { minLength: 1, maxLength: 8 }), queryArb, fc.constantFrom(10_000, 15_000, 60_000), async (series, query, step) => {
        const db = new TenantDB('t');
        const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
        series.forEach((s, n) => {
          const { s: mem } = db.head.getOrCreate(new PairLabels([['__name__', 'm'], ['instance', `${s.instance}${n}`], ['job', s.job], ['kind', s.counter ? 'c' : 'g']]));
          const pts = [...new Map(s.points.map(([slot, v]) => [slot * 5000, v])).entries()].sort((x, y) => x[0] - y[0]);
          let acc = 0;
          const vs = pts.map(([, v]) => (s.counter && Number.isFinite(v) ? (acc = v < 0 ? 0 : acc + v) : v)); // counters rise, and reset
          db.head.appendSamples(mem, Float64Array.from(pts, (p) => p[0]), Float64Array.from(vs), pts.length, res);
        });
        const expr = () => parsePromQL(query);
        const run = async (fuse: boolean) => {
          const e = new Engine(db, { fuse });
          const r = await e.rangeAsync(expr(), 60_000, 1_200_000, step).then((m) => ({ m, err: '' }), (err: Error) => ({ m: [] as RangeSeries[], err: err.message }));
          return { ...r, infos: [...e.infos].sort(), warnings: [...e.warnings].sort() };
        };
        const fused = await run(true);
        const plain = await run(false);
        expect(fused.err, query).toBe(plain.err);
        expect(same(fused.m, plain.m), `${query} at step ${step}`).toBe(true);
        expect(fused.infos).toEqual(plain.infos);
        expect(fused.warnings).toEqual(plain.warnings);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the monotonic hint', () => {
  it('rate, increase and delta give the same answer with the hint as without it, on any window (property)', () => {
    const vals = fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 100 }) }, { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -1) }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(vals, fc.nat(), fc.nat(), (vs, a, b) => {
        const c = { t: Float64Array.from(vs, (_, i) => i * 15_000), v: Float64Array.from(vs), n: vs.length };
        const s = loadedSeries([], c);
        const lo = a % vs.length;
        const hi = lo + 1 + (b % (vs.length - lo));
        for (const [counter, isRate] of [[true, true], [true, false], [false, false]] as const) {
          const hinted = extrapolatedRate({ labels: [], t: c.t, v: c.v, lo, hi, monotonic: s.monotonic }, -60_000, vs.length * 15_000, counter, isRate);
          const plain = extrapolatedRate({ labels: [], t: c.t, v: c.v, lo, hi }, -60_000, vs.length * 15_000, counter, isRate);
          expect(Object.is(hinted, plain) || hinted === plain).toBe(true);
        }
      }),
    );
  });
});
