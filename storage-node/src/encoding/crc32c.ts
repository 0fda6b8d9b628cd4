/**
 * CRC-32C (Castagnoli), the checksum of Prometheus's index, chunk and
 * tombstone files, and of our WAL records: every chunk a query reads from a
 * block is checked, and every WAL record written.
 *
 * Two ways, by length. From NATIVE_MIN bytes on, the CPU's CRC32 instruction
 * (through @node-rs/crc32): a 1 KB chunk in about a third of the time. Below
 * it the call into native code costs more than it saves, and the checksum is
 * table-driven here, eight bytes per step ("slicing by 8"); the tables are
 * Int32Array so every value stays a small integer to V8 (a Uint32Array's
 * upper half would not). Both give the same value (crc32c.test.ts).
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/** Lengths from which the native checksum is faster (measured: equal at about 200 bytes). */
export const NATIVE_MIN = 256;

const TABLES = (() => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[0]![i] = c;
  }
  // Table k: the CRC of a byte followed by k zero bytes.
  for (let k = 1; k < 8; k++) for (let i = 0; i < 256; i++) t[k]![i] = (t[k - 1]![i]! >>> 8) ^ t[0]![t[k - 1]![i]! & 0xff]!;
  return t;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

/** CRC-32C of bytes[start, end), optionally continuing from a previous value. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, prev = 0): number {
  if (end - start >= NATIVE_MIN) return nativeCrc32c(bytes.subarray(start, end), prev);
  return tableCrc32c(bytes, start, end, prev);
}

/** The table-driven checksum, for any length (exported for its test). */
export function tableCrc32c(bytes: Uint8Array, start: number, end: number, prev: number): number {
  let c = ~prev | 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = T7[c & 0xff]! ^ T6[(c >>> 8) & 0xff]! ^ T5[(c >>> 16) & 0xff]! ^ T4[c >>> 24]! ^ T3[bytes[i + 4]!]! ^ T2[bytes[i + 5]!]! ^ T1[bytes[i + 6]!]! ^ T0[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = T0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// Both loops run once before the function is hot: an optimizing compile made
// while only the eight-byte loop had run would deoptimize at the first tail,
// again and again (V8: "insufficient type feedback"), and run unoptimized.
for (let n = 0; n <= 16; n++) tableCrc32c(new Uint8Array(16), 0, n, 0);
