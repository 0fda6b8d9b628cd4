import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeChunks, mergeMany, type ChunkRange } from './merge.js';
import { XorAppender } from './xor.js';

/** A chunk of the given samples (in the order given: a chunk may be out of order only when a test means it). */
function chunk(samples: Array<[number, number]>): ChunkRange {
  const a = new XorAppender();
  for (const [t, v] of samples) a.append(t, v);
  return { minT: Math.min(...samples.map(([t]) => t)), maxT: Math.max(...samples.map(([t]) => t)), data: a.bytes().slice() };
}

/** What merging means: samples in [mint, maxt] sorted by time, the earliest chunk's sample at equal times. */
function expected(lists: Array<Array<[number, number]>>, mint: number, maxt: number): Array<[number, number]> {
  const seen = new Map<number, number>();
  for (const l of lists) for (const [t, v] of l) if (t >= mint && t <= maxt && !seen.has(t)) seen.set(t, v);
  return [...seen].sort((a, b) => a[0] - b[0]);
}

const pairs = (c: { t: Float64Array; v: Float64Array; n: number }) => Array.from({ length: c.n }, (_, i) => [c.t[i]!, c.v[i]!] as [number, number]);

describe('merging chunks', () => {
  it('mergeChunks and mergeMany (shared columns) give each series its samples sorted, first chunk winning (property)', () => {
    const sorted = fc.uniqueArray(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 150 }).map((ts) => ts.sort((a, b) => a - b));
    const seriesArb = fc.array(
      fc.tuple(sorted, fc.integer({ min: 0, max: 100 })).map(([ts, base]) => ts.map((t) => [t * 1000, base + (t % 17)] as [number, number])),
      { minLength: 0, maxLength: 4 },
    );
    fc.assert(
      fc.property(fc.array(seriesArb, { maxLength: 6 }), fc.integer({ min: -1, max: 2_100_000 }), fc.integer({ min: 0, max: 2_100_000 }), (series, a, b) => {
        const [mint, maxt] = a <= b ? [a, b] : [b, a];
        const lists = series.map((chunks) => chunks.map(chunk));
        const many = mergeMany(lists, mint, maxt);
        series.forEach((chunks, i) => {
          const want = expected(chunks, mint, maxt);
          expect(pairs(mergeChunks(lists[i]!, mint, maxt))).toEqual(want);
          expect(pairs(many[i]!)).toEqual(want);
        });
      }),
    );
  });

  it('keeps a staleness marker\'s bits when out-of-order chunks are sorted', () => {
    // The marker goes from a typed array straight into the appender: a plain JS array may quiet it.
    const stale = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer);
    const a = new XorAppender();
    a.append(3000, 1);
    a.append(4000, stale[0]!);
    const later = { minT: 3000, maxT: 4000, data: a.bytes().slice() };
    const earlier = chunk([[1000, 5], [2000, 6]]);
    const c = mergeMany([[later, earlier]])[0]!;
    expect(Array.from(c.t)).toEqual([1000, 2000, 3000, 4000]);
    expect(new BigUint64Array(c.v.buffer, c.v.byteOffset, c.n)[3]).toBe(0x7ff0000000000002n);
  });
});
