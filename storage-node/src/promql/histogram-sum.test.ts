import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketsOf, type NativeHistogram } from '../../../wire/histogram.js';
import { addHistograms, IncompatibleSchemas, meanHistogram, sumHistograms, type SumNotes } from './histogram-sum.js';

/** A float histogram from [index, count] pairs on the positive side. */
function hist(schema: number, pairs: Array<[number, number]>, extra: Partial<NativeHistogram> = {}): NativeHistogram {
  const sorted = [...new Map(pairs)].sort((a, b) => a[0] - b[0]);
  const spans: number[] = [];
  let prev = 0;
  for (const [idx] of sorted) {
    if (spans.length && idx === prev + 1) spans[spans.length - 1]!++;
    else spans.push(spans.length ? idx - prev - 1 : idx, 1);
    prev = idx;
  }
  const buckets = sorted.map(([, c]) => c);
  const count = buckets.reduce((a, b) => a + b, 0);
  return { t: 0, float: true, schema, count, sum: count, zeroThreshold: 0, zeroCount: 0, positiveSpans: spans, positiveBuckets: buckets, negativeSpans: [], negativeBuckets: [], customValues: [], resetHint: 0, ...extra };
}

const positive = (h: NativeHistogram) => new Map(bucketsOf(h.positiveSpans, h.positiveBuckets, !h.float));
const pairs = fc.array(fc.tuple(fc.integer({ min: -20, max: 20 }), fc.integer({ min: 1, max: 1000 })), { minLength: 1, maxLength: 12 });

describe('adding native histograms', () => {
  it('adds bucket by bucket at one schema, and subtracting undoes it', () => {
    fc.assert(
      fc.property(pairs, pairs, (a, b) => {
        const [x, y] = [hist(1, a), hist(1, b)];
        const sum = sumHistograms([x, y]);
        const want = new Map(positive(x));
        for (const [i, c] of positive(y)) want.set(i, (want.get(i) ?? 0) + c);
        expect(positive(sum)).toEqual(new Map([...want].sort((p, q) => p[0] - q[0])));
        expect(sum.count).toBe(x.count + y.count);
        expect(positive(addHistograms(sum, y, -1))).toEqual(positive(x));
      }),
    );
  });

  it('reduces the finer schema to the coarser, keeping every observation', () => {
    fc.assert(
      fc.property(pairs, pairs, (a, b) => {
        const sum = addHistograms(hist(0, a), hist(2, b));
        expect(sum.schema).toBe(0);
        const total = [...positive(sum).values()].reduce((p, q) => p + q, 0);
        expect(total).toBe(hist(0, a).count + hist(2, b).count);
        // Bucket 1..4 of schema 2 lie in bucket 1 of schema 0 ((1, 2]).
        const only = addHistograms(hist(0, [[5, 1]]), hist(2, [[1, 1], [2, 1], [3, 1], [4, 1]]));
        expect(positive(only)).toEqual(new Map([[1, 4], [5, 1]]));
      }),
    );
  });

  it('keeps small terms beside huge ones that cancel (compensated sums)', () => {
    const hs = [1e100, 1, -1e100].map((s) => hist(0, [[1, 1]], { sum: s }));
    expect(sumHistograms(hs).sum).toBe(1);
    expect(meanHistogram(hs).sum).toBeCloseTo(1 / 3, 15);
  });

  it('maps differing custom bounds onto the shared ones and says so', () => {
    const notes: SumNotes = {};
    const a = hist(-53, [[0, 1], [1, 2], [2, 3]], { customValues: [1, 5] }); // (-Inf,1] (1,5] (5,+Inf)
    const b = hist(-53, [[0, 10], [1, 20]], { customValues: [5] }); // (-Inf,5] (5,+Inf)
    const sum = addHistograms(a, b, 1, notes);
    expect(notes.reconciled).toBe(true);
    expect(sum.customValues).toEqual([5]);
    expect(positive(sum)).toEqual(new Map([[0, 13], [1, 23]]));
    expect(sum.count).toBe(36);
  });

  it('refuses to add exponential and custom buckets', () => {
    expect(() => addHistograms(hist(0, [[1, 1]]), hist(-53, [[0, 1]], { customValues: [1] }))).toThrow(IncompatibleSchemas);
  });

  it('tells a counter-reset collision between inputs', () => {
    const notes: SumNotes = {};
    sumHistograms([hist(0, [[1, 1]], { resetHint: 1 }), hist(0, [[1, 1]], { resetHint: 2 })], notes);
    expect(notes.collision).toBe(true);
    const none: SumNotes = {};
    sumHistograms([hist(0, [[1, 1]], { resetHint: 0 }), hist(0, [[1, 1]], { resetHint: 2 })], none);
    expect(none.collision).toBeUndefined();
  });
});
