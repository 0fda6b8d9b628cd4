import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CorruptionError } from '../encoding/encbuf.js';
import { CounterStitch, decodeAggrChunk, encodeAggrChunk, type AggrColumns } from '../chunkenc/aggr-chunk.js';
import { aggregateAggr, aggregateRaw, encodeAggrColumns, lastPerWindow, RES_1H, RES_5M } from './downsample.js';
import type { NativeHistogram } from '../../../wire/histogram.js';

const STALE = new Float64Array(new Uint32Array([2, 0x7ff00000]).buffer)[0]!;

/** Raw samples: times increasing by 1..120 s, values a counter with occasional resets (or a gauge). */
const rawSeries = fc
  .record({
    start: fc.integer({ min: 0, max: 10 * 86_400_000 }),
    steps: fc.array(fc.record({ dt: fc.integer({ min: 1_000, max: 120_000 }), inc: fc.integer({ min: 0, max: 1000 }), reset: fc.integer({ min: 0, max: 40 }), stale: fc.integer({ min: 0, max: 60 }) }), { minLength: 1, maxLength: 2000 }),
  })
  .map(({ start, steps }) => {
    const t = new Float64Array(steps.length);
    const v = new Float64Array(steps.length);
    let ts = start;
    let x = 0;
    steps.forEach((s, i) => {
      ts += s.dt;
      x = s.reset === 0 ? s.inc : x + s.inc;
      t[i] = ts;
      v[i] = s.stale === 0 ? STALE : x;
    });
    return { t, v, n: steps.length };
  });

/** What Prometheus's increase sees with every sample in range: drops are resets. */
function rawIncrease(v: number[]): number {
  let inc = 0;
  for (let i = 1; i < v.length; i++) inc += v[i]! >= v[i - 1]! ? v[i]! - v[i - 1]! : v[i]!;
  return inc;
}

function stitched(chunks: AggrColumns[]): number[] {
  const s = new CounterStitch();
  const out: number[] = [];
  for (const c of chunks) {
    const base = s.begin(c.rawFirst);
    for (let i = 0; i < c.n; i++) out.push(base + c.counter[i]!);
    s.end(base + c.counter[c.n - 1]!, c.rawLast);
  }
  return out;
}

describe('downsampling', () => {
  it('keeps count, sum, min, max and the counter-aware increase per window, through 5m and 1h', () => {
    fc.assert(
      fc.property(rawSeries, (raw) => {
        const live: Array<[number, number]> = [];
        for (let i = 0; i < raw.n; i++) if (raw.v[i] === raw.v[i]) live.push([raw.t[i]!, raw.v[i]!]);
        const m5 = aggregateRaw(raw, RES_5M);
        if (live.length === 0) {
          expect(m5).toBeUndefined(); // only staleness markers: nothing to keep
          return;
        }
        const check = (a: AggrColumns, res: number) => {
          for (let k = 0; k < a.n; k++) {
            const w = Math.floor(a.t[k]! / res);
            const inWin = live.filter(([t]) => Math.floor(t / res) === w);
            expect(a.t[k]).toBe(inWin.at(-1)![0]);
            expect(a.count[k]).toBe(inWin.length);
            expect(a.sum[k]).toBe(inWin.reduce((x, [, v]) => x + v, 0));
            expect(a.min[k]).toBe(Math.min(...inWin.map(([, v]) => v)));
            expect(a.max[k]).toBe(Math.max(...inWin.map(([, v]) => v)));
            const upTo = live.filter(([t]) => t <= a.t[k]!).map(([, v]) => v);
            expect(a.counter[k]).toBe(rawIncrease(upTo));
          }
          expect(a.rawFirst).toBe(live[0]![1]);
          expect(a.rawLast).toBe(live.at(-1)![1]);
        };
        check(m5!, RES_5M);
        // Through chunks cut at any point (and encoded): the 1 h windows are those of the raw data.
        const chunks = encodeAggrColumns({ ...m5! }).map((c) => decodeAggrChunk(c.data));
        expect(chunks.reduce((n, c) => n + c.n, 0)).toBe(m5!.n);
        check(aggregateAggr(chunks, RES_1H)!, RES_1H);
      }),
      { numRuns: 60 },
    );
  });

  it('joins counter columns across chunks and blocks exactly, resets included', () => {
    fc.assert(
      fc.property(rawSeries, fc.array(fc.nat(), { maxLength: 5 }), (raw, cuts) => {
        // The raw series split into "blocks" at arbitrary samples, each aggregated on its own.
        const points = [...new Set(cuts.map((c) => c % raw.n))].sort((a, b) => a - b).filter((c) => c > 0);
        const bounds = [0, ...points, raw.n];
        const chunks: AggrColumns[] = [];
        for (let b = 0; b + 1 < bounds.length; b++) {
          const part = { t: raw.t.subarray(bounds[b]!, bounds[b + 1]!), v: raw.v.subarray(bounds[b]!, bounds[b + 1]!), n: bounds[b + 1]! - bounds[b]! };
          const a = aggregateRaw(part, RES_5M);
          if (a) chunks.push(...encodeAggrColumns(a).map((c) => decodeAggrChunk(c.data)));
        }
        const live = Array.from(raw.v).filter((v) => v === v);
        if (live.length === 0) return;
        const total = stitched(chunks);
        // The stitched total runs from the first raw value; its growth is the raw increase up to each window.
        expect(total.at(-1)! - live[0]!).toBe(rawIncrease(live));
        for (let i = 1; i < total.length; i++) expect(total[i]!).toBeGreaterThanOrEqual(total[i - 1]!);
      }),
      { numRuns: 80 },
    );
  });

  it('refuses damaged aggregate chunks with where and what', () => {
    const a = aggregateRaw({ t: Float64Array.from([1000, 2000, 400_000]), v: Float64Array.from([1, 2, 3]), n: 3 }, RES_5M)!;
    const bytes = encodeAggrChunk(a);
    expect(decodeAggrChunk(bytes).n).toBe(2);
    expect(() => decodeAggrChunk(bytes.subarray(0, bytes.length - 3), 'x')).toThrow(CorruptionError);
    const wrongCount = bytes.slice();
    wrongCount[1] = 3;
    expect(() => decodeAggrChunk(wrongCount, 'x')).toThrow(/holds 2 windows, not 3/);
  });
});

describe('native histograms in tier form', () => {
  const h = (t: number, count: number, resetHint = 0): NativeHistogram => ({ t, float: true, schema: 0, count, sum: count, zeroThreshold: 0, zeroCount: 0, positiveSpans: [0, 1], positiveBuckets: [count], negativeSpans: [], negativeBuckets: [], customValues: [], resetHint });

  it('keeps each window\u2019s last histogram, marking a reset inside it even where the counter grew back past the window before', () => {
    const out = lastPerWindow([h(10_000, 100), h(200_000, 110), h(310_000, 5), h(590_000, 200), h(610_000, 210), h(900_000, 220, 3)], RES_5M);
    expect(out.map((x) => [x.t, x.count, x.resetHint])).toEqual([
      [200_000, 110, 0],
      [590_000, 200, 1], // 110 -> 5 inside the window: a reset, though 200 > 110
      [610_000, 210, 0],
      [900_000, 220, 3], // a gauge stays a gauge
    ]);
  });

  it('leaves staleness markers out', () => {
    const stale = { ...h(250_000, 0), sum: STALE, positiveSpans: [], positiveBuckets: [] };
    expect(lastPerWindow([h(10_000, 1), stale], RES_5M).map((x) => x.t)).toEqual([10_000]);
  });
});
