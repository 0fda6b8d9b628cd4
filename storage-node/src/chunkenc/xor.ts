/**
 * Prometheus's XOR chunk ("Gorilla" compression), byte-compatible with
 * prometheus/tsdb/chunkenc: chunk = u16 BE sample count, then a bit stream.
 *
 *   sample 0: timestamp as signed varint (zig-zag), value as 64 raw bits
 *   sample 1: timestamp delta as uvarint, value XOR-encoded against sample 0
 *   sample n: delta-of-delta in one of 5 buckets, value XOR-encoded
 *
 *   delta-of-delta dod:  0 -> '0'
 *                        in [-(2^13-1), 2^13] -> '10'   + 14 bits
 *                        in [-(2^16-1), 2^16] -> '110'  + 17 bits
 *                        in [-(2^19-1), 2^19] -> '1110' + 20 bits
 *                        else                 -> '1111' + 64 bits
 *   value x = v ^ prev:  0 -> '0'
 *                        fits the previous leading/trailing window -> '10' + window bits
 *                        else -> '11' + 5 bits leading zeros + 6 bits significant
 *                                bit count (64 written as 0) + the significant bits
 *
 * See docs/format/chunks.md. Timestamps are int64 ms held in doubles; every
 * timestamp in a safe-integer range round-trips exactly.
 */
import { BitReader, BitWriter } from './bstream.js';

/** Samples per chunk before the head cuts a new one (Prometheus's default). */
export const SAMPLES_PER_CHUNK = 120;
/** Encoding byte Prometheus uses for XOR chunks in block chunk files. */
export const ENCODING_XOR = 1;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer); // little-endian hosts: u32[0] = low word
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;

function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}
function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}
function ctz64(hi: number, lo: number): number {
  return lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
}

/**
 * Appends samples to one XOR chunk. The chunk is complete at SAMPLES_PER_CHUNK
 * samples (the caller checks `count` and starts a new appender).
 */
export class XorAppender implements XorValueState {
  readonly w: BitWriter;
  count = 0;
  private t = 0;
  private tDelta = 0;
  vHi = 0;
  vLo = 0;
  leading = 0xff;
  trailing = 0;

  constructor(initialBytes = 32) {
    this.w = new BitWriter(initialBytes);
    this.w.writeBits(0, 16); // sample count, patched in bytes()
  }

  append(t: number, v: number): void {
    const w = this.w;
    f64[0] = v;
    const hi = u32[HI]!;
    const lo = u32[LO]!;
    if (this.count === 0) {
      writeVarint(w, t);
      w.write64(hi, lo);
    } else if (this.count === 1) {
      const tDelta = t - this.t;
      writeUvarint(w, tDelta);
      this.writeValue(hi, lo);
      this.tDelta = tDelta;
    } else {
      const tDelta = t - this.t;
      const dod = tDelta - this.tDelta;
      if (dod === 0) {
        w.writeBit(0);
      } else if (dod >= -8191 && dod <= 8192) {
        w.writeBits(0b10, 2);
        w.writeBits(dod & 0x3fff, 14);
      } else if (dod >= -65535 && dod <= 65536) {
        w.writeBits(0b110, 3);
        w.writeBits(dod & 0x1ffff, 17);
      } else if (dod >= -524287 && dod <= 524288) {
        w.writeBits(0b1110, 4);
        w.writeBits(dod & 0xfffff, 20);
      } else {
        w.writeBits(0b1111, 4);
        writeInt64Bits(w, dod);
      }
      this.writeValue(hi, lo);
      this.tDelta = tDelta;
    }
    this.t = t;
    this.vHi = hi;
    this.vLo = lo;
    this.count++;
  }

  private writeValue(hi: number, lo: number): void {
    writeXorValue(this.w, this, hi, lo);
  }

  /** Chunk bytes with the sample count header; a view valid until the next append. */
  bytes(): Uint8Array {
    const b = this.w.bytes();
    b[0] = this.count >>> 8;
    b[1] = this.count & 0xff;
    return b;
  }

  /** Exact-size copy of the chunk, for sealing it. */
  seal(): Uint8Array {
    return this.bytes().slice();
  }

  get lastT(): number {
    return this.t;
  }
}

/**
 * What the XOR value coding carries from one value to the next: the previous
 * value's bits, and the window (leading and trailing zero bits) of the last
 * XOR written in full (leading 0xff: none yet).
 */
export interface XorValueState {
  vHi: number;
  vLo: number;
  leading: number;
  trailing: number;
}

/**
 * Write the value (hi:lo) as its XOR with the previous one, Gorilla style, as
 * Prometheus's `xorWrite` does (XOR chunks and native-histogram chunks share it).
 */
export function writeXorValue(w: BitWriter, s: XorValueState, hi: number, lo: number): void {
  const xHi = (hi ^ s.vHi) >>> 0;
  const xLo = (lo ^ s.vLo) >>> 0;
  s.vHi = hi;
  s.vLo = lo;
  if (xHi === 0 && xLo === 0) {
    w.writeBit(0);
    return;
  }
  w.writeBit(1);
  let leading = clz64(xHi, xLo);
  const trailing = ctz64(xHi, xLo);
  if (leading >= 32) leading = 31; // 5 bits hold at most 31
  if (s.leading !== 0xff && leading >= s.leading && trailing >= s.trailing) {
    w.writeBit(0);
    writeSignificant(w, xHi, xLo, s.trailing, 64 - s.leading - s.trailing);
    return;
  }
  s.leading = leading;
  s.trailing = trailing;
  w.writeBit(1);
  w.writeBits(leading, 5);
  const sig = 64 - leading - trailing;
  w.writeBits(sig & 63, 6); // 64 significant bits are written as 0
  writeSignificant(w, xHi, xLo, trailing, sig);
}

/** Read a value writeXorValue wrote, into s.vHi and s.vLo. */
export function readXorValue(r: BitReader, s: XorValueState): void {
  if (r.readBit() === 0) return;
  if (r.readBit() === 1) {
    s.leading = r.readBits(5);
    let sig = r.readBits(6);
    if (sig === 0) sig = 64;
    s.trailing = 64 - s.leading - sig;
    if (s.trailing < 0) throw new Error('malformed chunk: leading and significant bits over 64');
  }
  const sig = 64 - s.leading - s.trailing;
  // Read `sig` bits and shift left by `trailing` into a 64-bit (hi:lo).
  let hi = 0;
  let lo = 0;
  if (sig > 32) {
    hi = r.readBits(sig - 32);
    lo = r.readBits(32);
  } else {
    lo = r.readBits(sig);
  }
  const t = s.trailing;
  let xHi: number;
  let xLo: number;
  if (t === 0) {
    xHi = hi;
    xLo = lo;
  } else if (t < 32) {
    xHi = ((hi << t) | (lo >>> (32 - t))) >>> 0;
    xLo = (lo << t) >>> 0;
  } else {
    xHi = (lo << (t - 32)) >>> 0;
    xLo = 0;
  }
  s.vHi = (s.vHi ^ xHi) >>> 0;
  s.vLo = (s.vLo ^ xLo) >>> 0;
}

/** A float64's bits as two uint32 halves (hi, lo), in `into`. */
export function floatBits(v: number, into: [number, number]): [number, number] {
  f64[0] = v;
  into[0] = u32[HI]!;
  into[1] = u32[LO]!;
  return into;
}

/** Write a float64's 64 bits as they are. */
export function writeFloat64(w: BitWriter, v: number): void {
  f64[0] = v;
  w.writeBits(u32[HI]!, 32);
  w.writeBits(u32[LO]!, 32);
}

/** Read 64 bits as a float64. */
export function readFloat64(r: BitReader): number {
  const hi = r.readBits(32);
  return bitsFloat(hi, r.readBits(32));
}

/** The float64 of bits (hi:lo). */
export function bitsFloat(hi: number, lo: number): number {
  u32[HI] = hi;
  u32[LO] = lo;
  return f64[0]!;
}

/** Write bits [shift, shift+n) of the 64-bit x (hi:lo), most significant first. */
function writeSignificant(w: BitWriter, hi: number, lo: number, shift: number, n: number): void {
  // x >> shift, as a 64-bit (hi:lo) pair.
  let sHi: number;
  let sLo: number;
  if (shift === 0) {
    sHi = hi;
    sLo = lo;
  } else if (shift < 32) {
    sLo = ((lo >>> shift) | (hi << (32 - shift))) >>> 0;
    sHi = hi >>> shift;
  } else {
    sLo = hi >>> (shift - 32);
    sHi = 0;
  }
  if (n > 32) {
    w.writeBits(sHi, n - 32);
    w.writeBits(sLo, 32);
  } else {
    w.writeBits(sLo, n);
  }
}

/** Zig-zag signed varint (Go's binary.PutVarint), byte by byte into the bit stream. */
function writeVarint(w: BitWriter, x: number): void {
  // zigzag: 2x for x >= 0, -2x-1 for x < 0; exact in doubles for |x| < 2^52.
  writeUvarint(w, x >= 0 ? x * 2 : -x * 2 - 1);
}

function writeUvarint(w: BitWriter, x: number): void {
  if (x < 0) throw new RangeError(`uvarint of negative ${x}: timestamps must not decrease within a chunk`);
  while (x >= 0x80) {
    w.writeByte((x % 0x80) | 0x80);
    x = Math.floor(x / 0x80);
  }
  w.writeByte(x);
}

function writeInt64Bits(w: BitWriter, x: number): void {
  const hi = Math.floor(x / 0x100000000);
  const lo = x - hi * 0x100000000;
  w.writeBits(hi >>> 0, 32);
  w.writeBits(lo >>> 0, 32);
}

/**
 * Iterates an XOR chunk. Reusable (`reset`), allocation-free per sample:
 * read `t` and `v` after each `next()` that returned true.
 */
export class XorIterator implements XorValueState {
  t = 0;
  v = 0;
  private readonly r = new BitReader();
  private total = 0;
  private read = 0;
  private tDelta = 0;
  vHi = 0;
  vLo = 0;
  leading = 0;
  trailing = 0;
  /** Set when the chunk ended early or was malformed. */
  err: Error | undefined;

  reset(chunk: Uint8Array): this {
    if (chunk.length < 2) {
      this.total = 0;
      this.err = chunk.length === 0 ? undefined : new Error('XOR chunk shorter than its header');
    } else {
      this.total = (chunk[0]! << 8) | chunk[1]!;
      this.err = undefined;
    }
    this.r.reset(chunk, 2);
    this.read = 0;
    this.leading = 0;
    this.trailing = 0;
    return this;
  }

  /** Sample count from the header. */
  get numSamples(): number {
    return this.total;
  }

  next(): boolean {
    if (this.read >= this.total || this.err) return false;
    try {
      this.step();
    } catch (e) {
      this.err = e as Error;
      return false;
    }
    this.read++;
    return true;
  }

  private step(): void {
    const r = this.r;
    if (this.read === 0) {
      const z = readUvarint(r);
      this.t = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      this.vHi = r.readBits(32);
      this.vLo = r.readBits(32);
      this.setValue();
      return;
    }
    if (this.read === 1) {
      this.tDelta = readUvarint(r);
      this.t += this.tDelta;
      this.readValue();
      return;
    }
    let prefix = 0;
    let i = 0;
    for (; i < 4; i++) {
      prefix <<= 1;
      if (r.readBit() === 0) break;
      prefix |= 1;
    }
    let dod = 0;
    let bits = 0;
    switch (i) {
      case 0:
        break;
      case 1:
        bits = 14;
        break;
      case 2:
        bits = 17;
        break;
      case 3:
        bits = 20;
        break;
      default:
        bits = 64;
    }
    if (bits === 64) {
      const hi = r.readBits(32) | 0;
      const lo = r.readBits(32);
      dod = hi * 0x100000000 + lo;
    } else if (bits > 0) {
      dod = r.readBits(bits);
      if (dod > 1 << (bits - 1)) dod -= 1 << bits; // two's complement in `bits` bits
    }
    this.tDelta += dod;
    this.t += this.tDelta;
    this.readValue();
  }

  private readValue(): void {
    readXorValue(this.r, this);
    this.setValue();
  }

  private setValue(): void {
    this.v = bitsFloat(this.vHi, this.vLo);
  }
}

function readUvarint(r: BitReader): number {
  let x = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const b = r.readByte();
    x += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return x;
    mul *= 128;
  }
  throw new Error('uvarint longer than 10 bytes in XOR chunk');
}

/**
 * The chunk being decoded as big-endian 32-bit words, with zero words after
 * it, so that any field is read from two words whatever its bit position.
 */
let words = new Int32Array(1024);
/** Zero words after a chunk: the widest read (a 64-bit delta-of-delta at the end) stays inside. */
const PAD_WORDS = 8;

/** `chunk` into `words` (grown when needed); returns them. */
function loadWords(chunk: Uint8Array): Int32Array {
  const len = chunk.length;
  const full = len >>> 2;
  if (words.length < full + 1 + PAD_WORDS) words = new Int32Array(2 * (full + 1 + PAD_WORDS));
  const w = words;
  for (let i = 0, j = 0; i < full; i++, j += 4) w[i] = (chunk[j]! << 24) | (chunk[j + 1]! << 16) | (chunk[j + 2]! << 8) | chunk[j + 3]!;
  let last = 0;
  for (let j = full * 4, sh = 24; j < len; j++, sh -= 8) last |= chunk[j]! << sh;
  w[full] = last;
  w.fill(0, full + 1, full + 1 + PAD_WORDS);
  return w;
}

/** 32 bits of the word stream `w` from bit `p` on, most significant first. */
function peek32(w: Int32Array, p: number): number {
  const i = p >>> 5;
  const s = p & 31;
  // (x >>> 1) >>> (31 - s) is x >>> (32 - s), and 0 when s is 0 (a shift by 32 would be none).
  return ((w[i]! << s) | ((w[i + 1]! >>> 1) >>> (31 - s))) >>> 0;
}

/** `n` bits (1..32) from bit `p`. */
function bitsAt(w: Int32Array, p: number, n: number): number {
  return peek32(w, p) >>> (32 - n);
}

/** The uvarint at bit `p` and the bit after it; undefined past `end` or past 10 bytes (twice a chunk, not per sample). */
function uvarintAt(w: Int32Array, p: number, end: number): { z: number; p: number } | undefined {
  let z = 0;
  let mul = 1;
  for (let i = 0; i < 10 && p <= end; i++) {
    const byte = bitsAt(w, p, 8);
    p += 8;
    z += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return { z, p };
    mul *= 128;
  }
  return undefined;
}

/**
 * Decode `chunk`'s samples within [mint, maxt] into t[at..] and the value
 * column's raw bits (`vBits`: a Uint32Array over a Float64Array, so every NaN
 * keeps its bits), and return the index after the last one written. The
 * columns must have room for the header's count. A chunk that ends early
 * gives the samples before the break, as XorIterator does. This is the
 * query path's decoder: one pass with the state in locals, the chunk read as
 * 32-bit words, each field from one 32-bit window; a sample whose timestamp
 * and value both repeat their pattern ('0' delta-of-delta, '10' value) is
 * read from one window.
 */
export function decodeXor(chunk: Uint8Array, mint: number, maxt: number, t: Float64Array, vBits: Uint32Array, at: number): number {
  const len = chunk.length;
  if (len < 2) return at;
  const total = (chunk[0]! << 8) | chunk[1]!;
  const b = loadWords(chunk);
  const end = len * 8;
  let p = 16;
  let ts = 0;
  let delta = 0;
  let hi = 0;
  let lo = 0;
  let leading = 0;
  let trailing = 0;
  for (let k = 0; k < total; k++) {
    if (k === 0) {
      const u = uvarintAt(b, p, end);
      if (!u) return at;
      p = u.p;
      ts = u.z % 2 === 0 ? u.z / 2 : -(u.z + 1) / 2;
      hi = peek32(b, p);
      lo = peek32(b, p + 32);
      p += 64;
    } else {
      let w: number;
      let avail = 32; // bits of w read from p on
      if (k === 1) {
        const u = uvarintAt(b, p, end);
        if (!u) return at;
        p = u.p;
        delta = u.z;
        w = peek32(b, p);
      } else {
        w = peek32(b, p);
        if ((w & 0x80000000) === 0) {
          // '0': the same delta; the value's control bits follow in this window.
          p += 1;
          w = (w << 1) >>> 0;
          avail = 31;
        } else {
          if ((w & 0x40000000) === 0) {
            let dod = (w >>> 16) & 0x3fff;
            if (dod > 0x2000) dod -= 0x4000;
            delta += dod;
            p += 16;
          } else if ((w & 0x20000000) === 0) {
            let dod = (w >>> 12) & 0x1ffff;
            if (dod > 0x10000) dod -= 0x20000;
            delta += dod;
            p += 20;
          } else if ((w & 0x10000000) === 0) {
            let dod = (w >>> 8) & 0xfffff;
            if (dod > 0x80000) dod -= 0x100000;
            delta += dod;
            p += 24;
          } else {
            delta += (peek32(b, p + 4) | 0) * 0x100000000 + peek32(b, p + 36);
            p += 68;
          }
          w = peek32(b, p);
        }
      }
      ts += delta;
      if ((w & 0x80000000) === 0) p += 1;
      else {
        let sig: number;
        if ((w & 0x40000000) === 0) {
          p += 2;
          sig = 64 - leading - trailing;
          w = sig <= avail - 2 ? (w << 2) >>> 0 : peek32(b, p);
        } else {
          leading = (w >>> 25) & 0x1f;
          sig = (w >>> 19) & 0x3f;
          if (sig === 0) sig = 64;
          trailing = 64 - leading - sig;
          if (trailing < 0) return at; // malformed, as XorIterator reports it
          p += 13;
          w = sig <= avail - 13 ? (w << 13) >>> 0 : peek32(b, p);
        }
        // w holds the significant bits from its top.
        let xHi = 0;
        let xLo = 0;
        if (sig > 32) {
          xHi = w >>> (64 - sig);
          xLo = peek32(b, p + sig - 32);
        } else xLo = w >>> (32 - sig);
        p += sig;
        if (trailing >= 32) {
          xHi = (xLo << (trailing - 32)) >>> 0;
          xLo = 0;
        } else if (trailing > 0) {
          xHi = ((xHi << trailing) | (xLo >>> (32 - trailing))) >>> 0;
          xLo = (xLo << trailing) >>> 0;
        }
        hi = (hi ^ xHi) >>> 0;
        lo = (lo ^ xLo) >>> 0;
      }
    }
    if (p > end) return at; // the chunk ended inside this sample
    if (ts < mint) continue;
    if (ts > maxt) return at; // a chunk's samples are in time order
    t[at] = ts;
    vBits[2 * at + LO] = lo;
    vBits[2 * at + HI] = hi;
    at++;
  }
  return at;
}
