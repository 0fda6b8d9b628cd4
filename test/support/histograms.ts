/** Random native histograms for property tests (unit and end-to-end). */
import fc from 'fast-check';
import { emptyHistogram, type NativeHistogram } from '../../wire/histogram.js';

/** A valid histogram: buckets drawn first, then spans that cover them and a count that adds up. */
export const validHistogramArb: fc.Arbitrary<NativeHistogram> = fc
  .record({
    float: fc.boolean(),
    custom: fc.boolean(),
    schema: fc.integer({ min: -4, max: 8 }),
    pos: fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 8 }),
    neg: fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 5 }),
    gaps: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
    start: fc.integer({ min: -5, max: 5 }),
    zero: fc.integer({ min: 0, max: 9 }),
    sum: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    t: fc.integer({ min: 0, max: 2 ** 41 }),
    hint: fc.integer({ min: 0, max: 3 }),
  })
  .map((r) => {
    const h = emptyHistogram();
    h.t = r.t;
    h.float = r.float;
    h.sum = r.sum;
    h.resetHint = r.hint;
    const spansOf = (n: number, first: number) => {
      const spans: number[] = [];
      for (let i = 0; i < n; ) {
        const len = Math.min(n - i, 1 + (r.gaps[spans.length / 2] ?? 0));
        spans.push(spans.length === 0 ? first : r.gaps[(spans.length / 2 + 3) % 8]!, len);
        i += len;
      }
      return spans;
    };
    const asDeltas = (counts: number[]) => counts.map((c, i) => c - (i > 0 ? counts[i - 1]! : 0));
    if (r.custom) {
      h.schema = -53;
      h.positiveSpans = spansOf(r.pos.length, Math.abs(r.start));
      const reach = h.positiveSpans.reduce((n, x) => n + x, 0);
      h.customValues = Array.from({ length: Math.max(0, reach - 1) + (r.zero % 3) }, (_, i) => 0.5 * (i + 1));
      h.positiveBuckets = r.float ? r.pos : asDeltas(r.pos);
      h.count = r.pos.reduce((a, b) => a + b, 0);
    } else {
      h.schema = r.schema;
      h.zeroThreshold = 1e-128;
      h.zeroCount = r.zero;
      h.positiveSpans = spansOf(r.pos.length, r.start);
      h.negativeSpans = spansOf(r.neg.length, -r.start | 0); // | 0: no -0
      h.positiveBuckets = r.float ? r.pos : asDeltas(r.pos);
      h.negativeBuckets = r.float ? r.neg : asDeltas(r.neg);
      h.count = [...r.pos, ...r.neg].reduce((a, b) => a + b, r.zero);
    }
    return h;
  });


/** Integer histograms keep bucket deltas; counts grow by `adds` per bucket. */
export function grown(h: NativeHistogram, t: number, adds: number[], sumAdd: number): NativeHistogram {
  const abs = (bs: number[]) => {
    let c = 0;
    return h.float ? [...bs] : bs.map((d) => (c += d));
  };
  const rel = (bs: number[]) => (h.float ? bs : bs.map((c, i) => c - (i > 0 ? bs[i - 1]! : 0)));
  let k = 0;
  const pos = abs(h.positiveBuckets).map((c) => c + (adds[k++ % adds.length] ?? 0));
  const neg = abs(h.negativeBuckets).map((c) => c + (adds[k++ % adds.length] ?? 0));
  const zero = h.zeroCount + (h.schema === -53 ? 0 : (adds[0] ?? 0));
  const count = [...pos, ...neg].reduce((a, b) => a + b, zero);
  return { ...h, t, count, zeroCount: zero, sum: h.sum + sumAdd, positiveBuckets: rel(pos), negativeBuckets: rel(neg), resetHint: 0 };
}

/** A counter series: a valid histogram, then up to 150 that grow from it, same layout, later timestamps. */
export const histogramSeriesArb = fc
  .tuple(validHistogramArb, fc.array(fc.tuple(fc.integer({ min: 1, max: 60_000 }), fc.array(fc.nat(1000), { minLength: 1, maxLength: 4 }), fc.double({ min: 0, max: 1e4, noNaN: true })), { maxLength: 150, size: 'max' }))
  .map(([first, steps]) => {
    const out = [{ ...first, resetHint: 0 }];
    for (const [dt, adds, ds] of steps) out.push(grown(out.at(-1)!, out.at(-1)!.t + dt, adds, ds));
    return out;
  });

