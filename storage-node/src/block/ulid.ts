/** ULIDs (block names): 48-bit ms time + 80 random bits, Crockford base32, 26 characters. */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A new ULID; `entropy` (10 bytes) instead of random ones makes it reproducible (imports). */
export function ulid(timeMs = Date.now(), entropy?: Uint8Array): string {
  let t = timeMs;
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  const r = entropy?.subarray(0, 10) ?? randomBytes(10);
  // 80 bits -> 16 characters of 5 bits.
  let bits = 0;
  let acc = 0;
  for (const b of r) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

export function isUlid(s: string): boolean {
  return /^[0-9A-HJKMNP-TV-Z]{26}$/.test(s);
}
