import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, NATIVE_MIN, tableCrc32c } from './crc32c.js';

/** The definition, a bit at a time: what the table-driven code must equal. */
function bitwise(bytes: Uint8Array, start: number, end: number, prev: number): number {
  let c = ~prev >>> 0;
  for (let i = start; i < end; i++) {
    c ^= bytes[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (0x82f63b78 ^ (c >>> 1)) >>> 0 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32c', () => {
  it('gives the check value of CRC-32C', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('equals the bit-at-a-time definition for any bytes, range and previous value (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), (bytes, a, b, prev) => {
        const start = bytes.length ? a % (bytes.length + 1) : 0;
        const end = start + (b % (bytes.length - start + 1));
        expect(crc32c(bytes, start, end, prev)).toBe(bitwise(bytes, start, end, prev));
      }),
    );
  });

  it('is the same native (long ranges) and table-driven (short ones), on both sides of the threshold (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: NATIVE_MIN - 8, maxLength: 3 * NATIVE_MIN }), fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), (bytes, a, prev) => {
        const start = a % 9;
        for (const end of [start + NATIVE_MIN - 1, start + NATIVE_MIN, bytes.length]) {
          if (end > bytes.length) continue;
          const want = bitwise(bytes, start, end, prev);
          expect(crc32c(bytes, start, end, prev)).toBe(want);
          expect(tableCrc32c(bytes, start, end, prev)).toBe(want);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('continues: the CRC of a whole is the CRC of its second part from the first part\'s', () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 2654435761) >>> 24);
    expect(crc32c(bytes, 437, 1000, crc32c(bytes, 0, 437))).toBe(crc32c(bytes));
  });
});
