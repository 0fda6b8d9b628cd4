import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jumpHash, SeriesHasher, seriesHash } from './hash.js';

function fnv(s: string): string {
  const h = new SeriesHasher();
  const b = new TextEncoder().encode(s);
  h.update(b, 0, b.length);
  return h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0');
}

/** Lamping & Veach's reference algorithm, transcribed with plain BigInt arithmetic. */
function jumpReference(key: bigint, buckets: number): number {
  let b = -1n;
  let j = 0n;
  while (j < BigInt(buckets)) {
    b = j;
    key = (key * 2862933555777941757n + 1n) % 2n ** 64n;
    j = BigInt(Math.floor(Number(b + 1n) * (Number(1n << 31n) / Number((key >> 33n) + 1n))));
  }
  return Number(b);
}

describe('FNV-1a 64', () => {
  it('matches the published test vectors', () => {
    expect(fnv('')).toBe('cbf29ce484222325');
    expect(fnv('a')).toBe('af63dc4c8601ec8c');
    expect(fnv('foobar')).toBe('85944171f73967e8');
  });

  it('separates label boundaries', () => {
    expect(seriesHash([['a', 'bc']])).not.toEqual(seriesHash([['ab', 'c']]));
  });
});

describe('jump consistent hash', () => {
  it('agrees with the reference algorithm', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.integer({ min: 1, max: 5000 }), (hi, lo, n) => {
        expect(jumpHash(hi, lo, n)).toBe(jumpReference((BigInt(hi) << 32n) | BigInt(lo), n));
      }),
    );
  });

  it('is stable: these placements never change (changing them would move tenants\u2019 series)', () => {
    const h = seriesHash([['__name__', 'up'], ['job', 'prometheus']]);
    const placements = [1, 2, 3, 8, 64, 1000].map((n) => jumpHash(h.hi, h.lo, n));
    expect(placements).toEqual([1, 2, 3, 8, 64, 1000].map((n) => jumpReference((BigInt(h.hi) << 32n) | BigInt(h.lo), n)));
    expect(placements[0]).toBe(0);
  });

  it('moves a key only to the new bucket when buckets grow', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.integer({ min: 1, max: 200 }), (hi, lo, n) => {
        const before = jumpHash(hi, lo, n);
        const after = jumpHash(hi, lo, n + 1);
        expect(after === before || after === n).toBe(true);
      }),
    );
  });

  it('spreads keys evenly', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) {
      const h = seriesHash([['__name__', 'm'], ['i', String(i)]]);
      counts[jumpHash(h.hi, h.lo, 8)]++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});
