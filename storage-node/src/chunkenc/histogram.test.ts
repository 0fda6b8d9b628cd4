import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NativeHistogram } from '../../../wire/histogram.js';
import { grown, histogramSeriesArb, validHistogramArb } from '../../../test/support/histograms.js';
import { BitReader, BitWriter } from './bstream.js';
import { COUNTER_RESET, chunkFlags, decodeHistogramChunk, encodeHistogramChunks, GAUGE_TYPE, NOT_COUNTER_RESET, putVarbitInt, putVarbitUint, readVarbitInt, readVarbitUint, UNKNOWN_COUNTER_RESET } from './histogram.js';

/** What a decoded histogram says of its reset hint: from the chunk's flags (first sample) or "no reset". */
const withoutHints = (hs: NativeHistogram[]) => hs.map((h) => ({ ...h, resetHint: 0 }));

describe('varbit integers', () => {
  it('round-trip signed and unsigned values, across every width boundary', () => {
    const edges = [0, 1, -1, 4, 5, -3, -4, 32, 33, -31, -32, 256, 257, -255, 2048, 2049, 131072, 131073, 16777216, 16777217, 2 ** 40 + 1, -(2 ** 40) - 1, 2 ** 53 - 1, -(2 ** 53) + 1]; // exact below 2^53
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...edges), fc.maxSafeInteger(), fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), fc.integer({ min: -5000, max: 5000 })), { maxLength: 40 }), (xs) => {
        const w = new BitWriter();
        for (const x of xs) {
          putVarbitInt(w, x);
          putVarbitUint(w, Math.abs(x));
        }
        const r = new BitReader();
        r.reset(w.bytes());
        for (const x of xs) {
          expect(readVarbitInt(r)).toBe(x);
          expect(readVarbitUint(r)).toBe(Math.abs(x));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('native-histogram chunks', () => {
  it('a counter series reads back as written: one chunk per 120 samples, each after the first flagged "no reset" (property)', () => {
    fc.assert(
      fc.property(histogramSeriesArb, (hs) => {
        const chunks = encodeHistogramChunks(hs);
        expect(chunks).toHaveLength(Math.ceil(hs.length / 120));
        expect(chunks.map((c) => c.encoding)).toEqual(chunks.map(() => (hs[0]!.float ? 3 : 2)));
        expect(chunks.map((c) => chunkFlags(c.data))).toEqual(chunks.map((_, i) => (i === 0 ? UNKNOWN_COUNTER_RESET : NOT_COUNTER_RESET)));
        const back = chunks.flatMap((c) => decodeHistogramChunk(c.data, c.encoding));
        expect(withoutHints(back)).toEqual(withoutHints(hs));
        expect(chunks.map((c) => [c.minT, c.maxT])).toEqual(chunks.map((_, i) => [hs[i * 120]!.t, hs[Math.min(hs.length, (i + 1) * 120) - 1]!.t]));
      }),
      { numRuns: 200 },
    );
  });

  it('cuts a chunk at a counter reset (flagged), at a new layout (flag unknown), and keeps gauges together', () => {
    fc.assert(
      fc.property(validHistogramArb, (first) => {
        const h0 = { ...first, resetHint: 0 };
        const h1 = grown(h0, h0.t + 1000, [5], 1);
        const reset = { ...h0, t: h0.t + 2000 }; // back to h0's counts: a reset unless nothing grew
        const other = { ...grown(reset, h0.t + 3000, [1], 1), zeroThreshold: h0.zeroThreshold === 0 ? 0 : h0.zeroThreshold * 2 };
        const chunks = encodeHistogramChunks([h0, h1, reset, other]);
        const grew = h1.count > h0.count || h1.zeroCount > h0.zeroCount;
        const flags = chunks.map((c) => chunkFlags(c.data));
        if (grew) expect(flags.slice(0, 2)).toEqual([UNKNOWN_COUNTER_RESET, COUNTER_RESET]);
        expect(withoutHints(chunks.flatMap((c) => decodeHistogramChunk(c.data, c.encoding)))).toEqual(withoutHints([h0, h1, reset, other]));
        // Gauges: one chunk, whatever they do.
        const gauges = [h0, h1, reset].map((h) => ({ ...h, resetHint: 3 }));
        const g = encodeHistogramChunks(gauges);
        expect(g.map((c) => chunkFlags(c.data))).toEqual([GAUGE_TYPE]);
        expect(decodeHistogramChunk(g[0]!.data, g[0]!.encoding)).toEqual(gauges);
      }),
      { numRuns: 200 },
    );
  });
});
