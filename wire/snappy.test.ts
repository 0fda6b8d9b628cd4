import fc from 'fast-check';
import { uncompressSync, compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { snappyDecode, snappyDeclaredLength, snappyEncode } from './snappy.js';

const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

describe('snappy block format', () => {
  it('decodes hand-built golden blocks', () => {
    // preamble 5, literal of 5 bytes (tag (5-1)<<2 = 0x10), "hello"
    expect(Buffer.from(snappyDecode(bytes('0510' + Buffer.from('hello').toString('hex')), 100)).toString()).toBe('hello');
    // preamble 9, literal "abc" (tag 0x08), copy-1 of length 6 at offset 3 (tag ((6-4)<<2)|1 = 0x09, offset 0x03)
    expect(Buffer.from(snappyDecode(bytes('0908616263' + '0903'), 100)).toString()).toBe('abcabcabc');
  });

  it('refuses a block declaring more than the cap, before allocating', () => {
    // preamble declares 4 GiB - 1 in 5 bytes; nothing else.
    const bomb = bytes('ffffffff0f');
    expect(snappyDeclaredLength(bomb)).toBe(0xffffffff);
    expect(() => snappyDecode(bomb, 1 << 20)).toThrow(/declares 4294967295 uncompressed bytes, over the limit of 1048576/);
  });

  it('rejects garbage with a bad-data error', () => {
    expect(() => snappyDecode(bytes('0a'), 100)).toThrow(/not a valid snappy block/);
    expect(() => snappyDecode(bytes('ffffffffffff'), 100)).toThrow(/bad length preamble/);
  });

  it('interoperates with native snappy both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4000 }), (data) => {
        expect(Buffer.from(uncompressSync(Buffer.from(snappyEncode(data))) as Buffer)).toEqual(Buffer.from(data));
        expect(Buffer.from(snappyDecode(new Uint8Array(compressSync(Buffer.from(data))), 1 << 20))).toEqual(Buffer.from(data));
      }),
    );
  });
});

describe('snappy decoder on hostile input', () => {
  it('returns exactly the declared length or throws bad-data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        try {
          const out = snappyDecode(data, 1 << 16);
          expect(out.length).toBe(snappyDeclaredLength(data));
        } catch (e) {
          expect((e as Error).message).toMatch(/snappy/);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
