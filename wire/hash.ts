/**
 * Series hashing and shard placement, shared by the edge (which routes) and the
 * storage node (which must agree on what a series is).
 *
 * Series hash: 64-bit FNV-1a over the sorted label set in its canonical byte
 * form `name 0xFF value 0xFF ...` (0xFF never occurs in UTF-8, so no two label
 * sets share a byte form). It is carried as two unsigned 32-bit halves so no
 * BigInt is needed on the hot path.
 *
 * Shard: Lamping & Veach's jump consistent hash of the series hash over the
 * tenant's shard count, so growing a tenant from n to n+1 shards moves only
 * 1/(n+1) of new writes.
 */

const FNV_OFFSET_HI = 0xcbf29ce4;
const FNV_OFFSET_LO = 0x84222325;
// FNV 64-bit prime = 2^40 + 0x1b3.
const FNV_PRIME_LOW = 0x1b3;

/** Streaming FNV-1a-64; reset(), then update() the canonical bytes, read hi/lo. */
export class SeriesHasher {
  hi = FNV_OFFSET_HI;
  lo = FNV_OFFSET_LO;

  reset(): void {
    this.hi = FNV_OFFSET_HI;
    this.lo = FNV_OFFSET_LO;
  }

  /** Feed bytes[start, end). */
  update(bytes: Uint8Array, start: number, end: number): void {
    let hi = this.hi;
    let lo = this.lo;
    for (let i = start; i < end; i++) {
      lo = (lo ^ bytes[i]!) >>> 0;
      // (hi:lo) * (2^40 + 0x1b3) mod 2^64, exactly, in doubles:
      // lo*0x1b3 < 2^41, hi*0x1b3 < 2^41, so no precision is lost.
      const loMul = lo * FNV_PRIME_LOW;
      const carry = Math.floor(loMul / 0x100000000);
      hi = (hi * FNV_PRIME_LOW + carry + ((lo << 8) >>> 0)) >>> 0;
      lo = loMul >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
  }

  /** Feed one byte (the 0xFF separator). */
  updateByte(b: number): void {
    let lo = (this.lo ^ b) >>> 0;
    const loMul = lo * FNV_PRIME_LOW;
    const carry = Math.floor(loMul / 0x100000000);
    this.hi = (this.hi * FNV_PRIME_LOW + carry + ((lo << 8) >>> 0)) >>> 0;
    this.lo = loMul >>> 0;
  }
}

const encoder = new TextEncoder();

/**
 * Hash of a sorted label set given as [name, value] pairs; equals what the edge
 * computes from the wire bytes of the same labels.
 */
export function seriesHash(labels: ReadonlyArray<readonly [string, string]>): { hi: number; lo: number } {
  const h = new SeriesHasher();
  for (const [name, value] of labels) {
    const n = encoder.encode(name);
    h.update(n, 0, n.length);
    h.updateByte(0xff);
    const v = encoder.encode(value);
    h.update(v, 0, v.length);
    h.updateByte(0xff);
  }
  return { hi: h.hi, lo: h.lo };
}

const MASK64 = (1n << 64n) - 1n;
const JUMP_MUL = 2862933555777941757n;

/**
 * Jump consistent hash: bucket in [0, buckets) for a 64-bit key (hi:lo).
 * BigInt is used for the 64-bit LCG; the loop runs O(ln buckets) times, and
 * not at all beyond the first step for one bucket.
 */
export function jumpHash(hi: number, lo: number, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`buckets must be a positive integer, got ${buckets}`);
  if (buckets === 1) return 0;
  let key = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = (key * JUMP_MUL + 1n) & MASK64;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(key >> 33n) + 1)));
  }
  return b;
}
