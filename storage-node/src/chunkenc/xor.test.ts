import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeXor, XorAppender, XorIterator } from './xor.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Prometheus's staleness marker: a NaN with this exact bit pattern. */
const STALE_BITS = 0x7ff0000000000002n;
const bitsOf = (v: number) => {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  return dv.getBigUint64(0);
};

function roundTrip(samples: Array<[number, number]>): Array<[number, number]> {
  const a = new XorAppender();
  for (const [t, v] of samples) a.append(t, v);
  const it = new XorIterator().reset(a.bytes().slice());
  const out: Array<[number, number]> = [];
  while (it.next()) out.push([it.t, it.v]);
  expect(it.err).toBeUndefined();
  return out;
}

describe('XOR chunk', () => {
  it('matches hand-derived golden bytes', () => {
    // count=3; t0=1000 zig-zag varint (2000 -> d0 0f); v0=1.0 raw bits; t1 delta 1000 uvarint (e8 07);
    // then v1 xor=0 ('0'), dod=0 ('0'), v2 xor=0 ('0') -> one zero byte.
    const a = new XorAppender();
    a.append(1000, 1);
    a.append(2000, 1);
    a.append(3000, 1);
    expect(hex(a.bytes())).toBe('0003' + 'd00f' + '3ff0000000000000' + 'e807' + '00');
  });

  it('keeps NaN, ±Inf, -0, staleness markers and equal timestamps exactly', () => {
    // Values travel in typed arrays only: V8 may quiet a NaN stored into a plain JS array,
    // which would hide whether the codec keeps the staleness marker's exact bits.
    const ts = [0, 0, 15000, 30000, 45000, 45000, 60000, 61000, 61000];
    const bits = [0x3ff8000000000000n, 0x4004000000000000n, 0x7ff8000000000001n, 0x7ff0000000000000n, 0xfff0000000000000n, 0x8000000000000000n, STALE_BITS, 0x7fe1ccf385ebc8a0n, 1n];
    const vals = new BigUint64Array(bits);
    const asF64 = new Float64Array(vals.buffer);
    const a = new XorAppender();
    for (let i = 0; i < ts.length; i++) a.append(ts[i]!, asF64[i]!);
    const it = new XorIterator().reset(a.bytes().slice());
    const gotT: number[] = [];
    const gotV = new Float64Array(ts.length);
    let n = 0;
    while (it.next()) {
      gotT.push(it.t);
      gotV[n++] = it.v;
    }
    expect(gotT).toEqual(ts);
    expect(Array.from(new BigUint64Array(gotV.buffer))).toEqual(bits);
  });

  it('handles every delta-of-delta bucket, negative timestamps and large jumps', () => {
    const ts = [-5_000_000, -4_999_000, -4_998_000, -4_990_000, -4_900_000, -4_000_000, 0, 2 ** 40, 2 ** 40 + 1, 2 ** 41];
    expect(roundTrip(ts.map((t, i) => [t, i])).map(([t]) => t)).toEqual(ts);
  });

  it('round-trips random series (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 45), max: 2 ** 45 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 32 }), fc.double()), { minLength: 1, maxLength: 120 }),
        (t0, steps) => {
          let t = t0;
          const input = steps.map(([d, v]) => [(t += d), v] as [number, number]);
          const out = roundTrip(input);
          expect(out.map(([tt]) => tt)).toEqual(input.map(([tt]) => tt));
          out.forEach(([, v], i) => expect(bitsOf(v)).toBe(bitsOf(input[i]![1])));
        },
      ),
    );
  });

  it('reports a truncated chunk instead of inventing samples', () => {
    const a = new XorAppender();
    for (let i = 0; i < 50; i++) a.append(i * 15000 + (i % 3), Math.sin(i));
    const cut = a.bytes().slice(0, 40);
    const it = new XorIterator().reset(cut);
    let n = 0;
    while (it.next()) n++;
    expect(n).toBeLessThan(50);
    expect(it.err).toBeDefined();
  });

  it('decodeXor gives what XorIterator gives: valid, cut short, corrupted and random chunks, any time window (property)', () => {
    const viaIterator = (chunk: Uint8Array, mint: number, maxt: number) => {
      const it = new XorIterator().reset(chunk);
      const t: number[] = [];
      const bits: bigint[] = [];
      const dv = new DataView(new ArrayBuffer(8));
      while (it.next()) {
        if (it.t < mint) continue;
        if (it.t > maxt) break;
        t.push(it.t);
        dv.setFloat64(0, it.v);
        bits.push(dv.getBigUint64(0));
      }
      return { t, bits };
    };
    const viaDecoder = (chunk: Uint8Array, mint: number, maxt: number) => {
      const cap = chunk.length >= 2 ? (chunk[0]! << 8) | chunk[1]! : 0;
      const t = new Float64Array(cap + 3);
      const v = new Float64Array(cap + 3);
      // Samples land after `at`; what is before it stays.
      const n = decodeXor(chunk, mint, maxt, t, new Uint32Array(v.buffer), 3);
      const dv = new DataView(v.buffer);
      return { t: Array.from(t.subarray(3, n)), bits: Array.from({ length: n - 3 }, (_, i) => dv.getBigUint64((3 + i) * 8, true)) };
    };
    const sample = fc.tuple(
      fc.oneof(fc.constant(15_000), fc.integer({ min: 0, max: 2 ** 21 }), fc.integer({ min: 0, max: 2 ** 40 })),
      fc.oneof(fc.double(), fc.constant(1), fc.integer({ min: 0, max: 1000 }).map((x) => x / 8), fc.constant(STALE_BITS).map(() => Number.NaN)),
    );
    const chunkArb = fc.oneof(
      fc.tuple(fc.integer({ min: -(2 ** 45), max: 2 ** 45 }), fc.array(sample, { minLength: 1, maxLength: 200 }), fc.nat(), fc.nat()).map(([t0, steps, cut, flip]) => {
        const a = new XorAppender();
        let t = t0;
        for (const [d, v] of steps) a.append((t += d), v);
        const bytes = a.bytes().slice();
        const mode = cut % 3;
        if (mode === 1) return bytes.slice(0, Math.max(0, bytes.length - 1 - (cut % bytes.length)));
        if (mode === 2 && bytes.length > 2) bytes[2 + (flip % (bytes.length - 2))]! ^= 1 << flip % 8;
        return bytes;
      }),
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
    );
    fc.assert(
      fc.property(chunkArb, fc.option(fc.integer({ min: -(2 ** 46), max: 2 ** 46 })), fc.option(fc.integer({ min: -(2 ** 46), max: 2 ** 46 })), (chunk, lo, hi) => {
        const mint = lo ?? -Infinity;
        const maxt = hi ?? Infinity;
        expect(viaDecoder(chunk, mint, maxt)).toEqual(viaIterator(chunk, mint, maxt));
      }),
      { numRuns: 2000 },
    );
  });
});
