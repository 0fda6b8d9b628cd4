/**
 * Native-histogram chunks in Prometheus's block format (encoding 2: integer
 * histograms, 3: float histograms), so `promtool` and Prometheus read our
 * blocks and we read theirs. Spec: tsdb/docs/format/chunks.md in
 * prometheus/prometheus, and docs/format/chunks.md here.
 *
 *   chunk  = num_samples u16 BE | flags u8 | layout | samples | padding
 *   layout = zero_threshold | schema varbit_int | pos spans | neg spans | [custom bounds]
 *
 * Every sample of a chunk has the layout of its first (schema, zero threshold,
 * spans, custom bounds): an appender refuses a histogram with another layout,
 * or (integer or float counters) one that went down, and the caller starts a
 * new chunk; the new chunk's flags say why (a counter reset, or not).
 */
import type { NativeHistogram } from '../../../wire/histogram.js';
import { bucketsOf, emptyHistogram } from '../../../wire/histogram.js';
import { BitReader, BitWriter } from './bstream.js';
import { bitsFloat, floatBits, readFloat64, readXorValue, writeFloat64, writeXorValue, type XorValueState } from './xor.js';
import { encodeColumns, mergeChunks } from './merge.js';

export const ENCODING_HISTOGRAM = 2;
export const ENCODING_FLOAT_HISTOGRAM = 3;

/** The flags byte's top two bits: why the chunk was cut. */
export const COUNTER_RESET = 0b1000_0000;
export const NOT_COUNTER_RESET = 0b0100_0000;
export const GAUGE_TYPE = 0b1100_0000;
export const UNKNOWN_COUNTER_RESET = 0;
const HEADER_MASK = 0b1100_0000;

/** Samples per histogram chunk before a new one is started (Prometheus cuts by size, around this many). */
export const HISTOGRAM_SAMPLES_PER_CHUNK = 120;

// ---------------------------------------------------------------------------
// varbit integers: a unary prefix naming the width, then the value in that
// many bits (two's complement for signed), as Prometheus's varbit.go lays out.

/** Widths after the prefixes 10, 110, ... 11111110; 11111111 is 64 bits. */
const WIDTHS = [3, 6, 9, 12, 18, 25, 56];

/** Write `n` bits (up to 64) of the integer x, two's complement when negative; exact for |x| < 2^53. */
function writeWide(w: BitWriter, x: number, n: number): void {
  const hi = Math.floor(x / 0x100000000);
  const lo = x - hi * 0x100000000;
  if (n > 32) {
    w.writeBits((hi >>> 0) & (n >= 64 ? 0xffffffff : 2 ** (n - 32) - 1), n - 32);
    w.writeBits(lo >>> 0, 32);
  } else {
    w.writeBits((lo >>> 0) & (n === 32 ? 0xffffffff : 2 ** n - 1), n);
  }
}

export function putVarbitInt(w: BitWriter, x: number): void {
  if (x === 0) {
    w.writeBit(0);
    return;
  }
  for (let i = 0; i < WIDTHS.length; i++) {
    const n = WIDTHS[i]!;
    const half = 2 ** (n - 1);
    if (x >= 1 - half && x <= half) {
      w.writeBits((1 << (i + 2)) - 2, i + 2); // i+1 ones, then a zero
      writeWide(w, x, n);
      return;
    }
  }
  w.writeBits(0xff, 8);
  writeWide(w, x, 64);
}

export function putVarbitUint(w: BitWriter, x: number): void {
  if (x === 0) {
    w.writeBit(0);
    return;
  }
  for (let i = 0; i < WIDTHS.length; i++) {
    const n = WIDTHS[i]!;
    if (x < 2 ** n) {
      w.writeBits((1 << (i + 2)) - 2, i + 2);
      writeWide(w, x, n);
      return;
    }
  }
  w.writeBits(0xff, 8);
  writeWide(w, x, 64);
}

/** The width a varbit prefix names (0 for the single 0 bit). */
function readWidth(r: BitReader): number {
  let ones = 0;
  while (ones < 8 && r.readBit() === 1) ones++;
  return ones === 0 ? 0 : ones === 8 ? 64 : WIDTHS[ones - 1]!;
}

/** `n` bits as an unsigned number (exact below 2^53). */
function readWideUnsigned(r: BitReader, n: number): number {
  if (n <= 32) return r.readBits(n);
  const hi = r.readBits(n - 32);
  return hi * 0x100000000 + r.readBits(32);
}

export function readVarbitInt(r: BitReader): number {
  const n = readWidth(r);
  if (n === 0) return 0;
  if (n === 64) {
    const hi = r.readBits(32) | 0;
    return hi * 0x100000000 + r.readBits(32);
  }
  if (n <= 32) {
    // Values run from -(2^(n-1) - 1) to 2^(n-1): anything above is negative.
    const u = r.readBits(n);
    return u > 2 ** (n - 1) ? u - 2 ** n : u;
  }
  // Wider than 32 bits: negate in two halves, so that no intermediate passes 2^53.
  const hi = r.readBits(n - 32);
  const lo = r.readBits(32);
  const top = 2 ** (n - 33);
  if (hi < top || (hi === top && lo === 0)) return hi * 0x100000000 + lo;
  return lo === 0 ? -(2 * top - hi) * 0x100000000 : -((2 * top - hi - 1) * 0x100000000 + (0x100000000 - lo));
}

export function readVarbitUint(r: BitReader): number {
  const n = readWidth(r);
  return n === 0 ? 0 : readWideUnsigned(r, n);
}

// ---------------------------------------------------------------------------
// layout

function putZeroThreshold(w: BitWriter, z: number): void {
  if (z === 0) {
    w.writeByte(0);
    return;
  }
  // A power of two 2^k, -243 <= k <= 10, is one byte: k + 244 (Go's Frexp exponent + 243).
  const k = Math.round(Math.log2(z));
  if (2 ** k === z && k >= -243 && k <= 10) {
    w.writeByte(k + 244);
    return;
  }
  w.writeByte(255);
  writeFloat64(w, z);
}

function readZeroThreshold(r: BitReader): number {
  const b = r.readByte();
  if (b === 0) return 0;
  if (b === 255) return readFloat64(r);
  return 2 ** (b - 244);
}

function putSpans(w: BitWriter, spans: readonly number[]): void {
  putVarbitUint(w, spans.length / 2);
  for (let i = 0; i < spans.length; i += 2) {
    putVarbitUint(w, spans[i + 1]!);
    putVarbitInt(w, spans[i]!);
  }
}

function readSpans(r: BitReader): number[] {
  const n = readVarbitUint(r);
  if (n > 1_000_000) throw new Error(`histogram chunk with ${n} spans`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const length = readVarbitUint(r);
    out.push(readVarbitInt(r), length);
  }
  return out;
}

/** A custom bound: (bound * 1000) + 1 as varbit_uint when that is a whole number up to 33554431, else a 0 bit and the float64. */
function putCustomBound(w: BitWriter, x: number): void {
  const y = x * 1000;
  if (y >= 0 && y <= 33554430 && Math.round(y) / 1000 === x) {
    putVarbitUint(w, Math.round(y) + 1);
    return;
  }
  w.writeBit(0);
  writeFloat64(w, x);
}

function readCustomBound(r: BitReader): number {
  const u = readVarbitUint(r);
  return u !== 0 ? (u - 1) / 1000 : readFloat64(r);
}

function putLayout(w: BitWriter, h: NativeHistogram): void {
  putZeroThreshold(w, h.zeroThreshold);
  putVarbitInt(w, h.schema);
  putSpans(w, h.positiveSpans);
  putSpans(w, h.negativeSpans);
  if (h.schema === -53) {
    putVarbitUint(w, h.customValues.length);
    for (const b of h.customValues) putCustomBound(w, b);
  }
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Do two histograms share the layout a chunk fixes? */
export function sameLayout(a: NativeHistogram, b: NativeHistogram): boolean {
  return (
    a.schema === b.schema &&
    Object.is(a.zeroThreshold, b.zeroThreshold) &&
    sameNumbers(a.positiveSpans, b.positiveSpans) &&
    sameNumbers(a.negativeSpans, b.negativeSpans) &&
    sameNumbers(a.customValues, b.customValues)
  );
}

/**
 * Did the counter go down from `prev` to `h` (same layout): the count, the
 * zero bucket, or a bucket? Prometheus cuts a chunk there (a counter reset).
 */
export function wentDown(prev: NativeHistogram, h: NativeHistogram): boolean {
  if (h.count < prev.count || h.zeroCount < prev.zeroCount) return true;
  for (const side of ['positiveBuckets', 'negativeBuckets'] as const) {
    const spans = side === 'positiveBuckets' ? prev.positiveSpans : prev.negativeSpans;
    const a = bucketsOf(spans, prev[side], !prev.float);
    const b = bucketsOf(spans, h[side], !h.float);
    for (let i = 0; i < a.length; i++) if (b[i]![1] < a[i]![1]) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// appending

/**
 * Appends native histograms, all of one kind (integer or float) and one
 * layout, to one chunk. `append` answers false for a histogram the chunk
 * cannot take (another layout or kind, a counter that went down, full): the
 * caller starts a new chunk with `flagsFor`.
 */
export class HistogramChunkAppender {
  readonly w = new BitWriter(64);
  count = 0;
  private first: NativeHistogram | undefined;
  private last: NativeHistogram | undefined;
  private t = 0;
  private tDelta = 0;
  // integer histograms
  private cntDelta = 0;
  private zDelta = 0;
  private pDeltas: number[] = [];
  private nDeltas: number[] = [];
  private readonly sum: XorValueState = { vHi: 0, vLo: 0, leading: 0xff, trailing: 0 };
  // float histograms: one XOR state per field
  private xs: XorValueState[] = [];

  constructor(
    readonly float: boolean,
    flags: number,
  ) {
    this.w.writeBits(0, 16); // sample count, patched in bytes()
    this.w.writeByte(flags & HEADER_MASK);
  }

  get encoding(): number {
    return this.float ? ENCODING_FLOAT_HISTOGRAM : ENCODING_HISTOGRAM;
  }

  get lastT(): number {
    return this.t;
  }

  /** Append h (newer than the last), or false when it needs a new chunk. */
  append(h: NativeHistogram): boolean {
    if (h.float !== this.float) return false;
    const w = this.w;
    const bits: [number, number] = [0, 0];
    if (this.count === 0) {
      putLayout(w, h);
      putVarbitInt(w, h.t);
      if (this.float) {
        const fields = [h.count, h.zeroCount, h.sum, ...h.positiveBuckets, ...h.negativeBuckets];
        this.xs = fields.map((v) => {
          floatBits(v, bits);
          w.writeBits(bits[0], 32);
          w.writeBits(bits[1], 32);
          return { vHi: bits[0], vLo: bits[1], leading: 0xff, trailing: 0 };
        });
      } else {
        putVarbitUint(w, h.count);
        putVarbitUint(w, h.zeroCount);
        floatBits(h.sum, bits);
        w.writeBits(bits[0], 32);
        w.writeBits(bits[1], 32);
        [this.sum.vHi, this.sum.vLo] = bits;
        for (const b of h.positiveBuckets) putVarbitInt(w, b);
        for (const b of h.negativeBuckets) putVarbitInt(w, b);
        this.pDeltas = h.positiveBuckets.map(() => 0);
        this.nDeltas = h.negativeBuckets.map(() => 0);
      }
      this.first = h;
    } else {
      if (this.count >= HISTOGRAM_SAMPLES_PER_CHUNK || h.t <= this.t || !sameLayout(this.first!, h)) return false;
      // A gauge chunk holds gauges only; a counter chunk ends at a reset, said (hint "yes") or seen.
      const gauge = this.first!.resetHint === 3;
      if (gauge !== (h.resetHint === 3)) return false;
      if (!gauge && (h.resetHint === 1 || wentDown(this.last!, h))) return false;
      const tDelta = h.t - this.t;
      putVarbitInt(w, tDelta - this.tDelta);
      this.tDelta = tDelta;
      if (this.float) {
        const fields = [h.count, h.zeroCount, h.sum, ...h.positiveBuckets, ...h.negativeBuckets];
        fields.forEach((v, i) => {
          floatBits(v, bits);
          writeXorValue(w, this.xs[i]!, bits[0], bits[1]);
        });
      } else {
        const prev = this.last!;
        const cntDelta = h.count - prev.count;
        const zDelta = h.zeroCount - prev.zeroCount;
        putVarbitInt(w, cntDelta - this.cntDelta);
        putVarbitInt(w, zDelta - this.zDelta);
        this.cntDelta = cntDelta;
        this.zDelta = zDelta;
        floatBits(h.sum, bits);
        writeXorValue(w, this.sum, bits[0], bits[1]);
        const side = (now: readonly number[], before: readonly number[], deltas: number[]) => {
          for (let i = 0; i < now.length; i++) {
            const d = now[i]! - before[i]!;
            putVarbitInt(w, d - deltas[i]!);
            deltas[i] = d;
          }
        };
        side(h.positiveBuckets, prev.positiveBuckets, this.pDeltas);
        side(h.negativeBuckets, prev.negativeBuckets, this.nDeltas);
      }
    }
    this.t = h.t;
    this.last = h;
    this.count++;
    return true;
  }

  /** Chunk bytes with the sample count; a view valid until the next append. */
  bytes(): Uint8Array {
    const b = this.w.bytes();
    b[0] = this.count >>> 8;
    b[1] = this.count & 0xff;
    return b;
  }
}

/** The flags of a chunk that starts with h, after `prev` (the previous chunk's last sample, if any). */
export function flagsFor(h: NativeHistogram, prev: NativeHistogram | undefined): number {
  if (h.resetHint === 3) return GAUGE_TYPE;
  if (h.resetHint === 1) return COUNTER_RESET;
  if (!prev || prev.float !== h.float) return UNKNOWN_COUNTER_RESET;
  if (sameLayout(prev, h)) return wentDown(prev, h) ? COUNTER_RESET : NOT_COUNTER_RESET;
  return UNKNOWN_COUNTER_RESET;
}

/** Histograms as chunks, each cut where Prometheus would need a new one. */
export function encodeHistogramChunks(hs: readonly NativeHistogram[]): Array<{ encoding: number; minT: number; maxT: number; data: Uint8Array }> {
  const out: Array<{ encoding: number; minT: number; maxT: number; data: Uint8Array }> = [];
  let app: HistogramChunkAppender | undefined;
  let minT = 0;
  let prev: NativeHistogram | undefined;
  const seal = () => {
    if (app && app.count > 0) out.push({ encoding: app.encoding, minT, maxT: app.lastT, data: app.bytes().slice() });
  };
  for (const h of hs) {
    if (!app || !app.append(h)) {
      seal();
      app = new HistogramChunkAppender(h.float, flagsFor(h, prev));
      minT = h.t;
      if (!app.append(h)) throw new Error(`histogram at ${h.t} cannot start a chunk`);
    }
    prev = h;
  }
  seal();
  return out;
}

// ---------------------------------------------------------------------------
// reading

/** The counter-reset flags of a histogram chunk. */
export function chunkFlags(chunk: Uint8Array): number {
  return (chunk[2] ?? 0) & HEADER_MASK;
}

/**
 * Every histogram of a chunk (encoding 2 or 3). Integer histograms keep their
 * buckets as deltas, as the wire has them. The first sample's reset hint comes
 * from the chunk's flags (counter reset, gauge), the others are "no reset",
 * or gauge in a gauge chunk; `read` gives the first "unknown" instead, as
 * Prometheus's chunk iterator does for queries.
 */
export function decodeHistogramChunk(chunk: Uint8Array, encoding: number, hints: 'stored' | 'read' = 'stored'): NativeHistogram[] {
  if (chunk.length < 3) throw new Error('histogram chunk shorter than its header');
  const float = encoding === ENCODING_FLOAT_HISTOGRAM;
  if (!float && encoding !== ENCODING_HISTOGRAM) throw new Error(`not a histogram chunk encoding: ${encoding}`);
  const total = (chunk[0]! << 8) | chunk[1]!;
  const flags = chunkFlags(chunk);
  const r = new BitReader();
  r.reset(chunk, 3);
  const out: NativeHistogram[] = [];
  if (total === 0) return out;
  const layout = emptyHistogram();
  layout.zeroThreshold = readZeroThreshold(r);
  layout.schema = readVarbitInt(r);
  layout.positiveSpans = readSpans(r);
  layout.negativeSpans = readSpans(r);
  if (layout.schema === -53) {
    const n = readVarbitUint(r);
    if (n > 1_000_000) throw new Error(`histogram chunk with ${n} custom bounds`);
    for (let i = 0; i < n; i++) layout.customValues.push(readCustomBound(r));
  }
  const nPos = layout.positiveSpans.reduce((n, x, i) => (i % 2 ? n + x : n), 0);
  const nNeg = layout.negativeSpans.reduce((n, x, i) => (i % 2 ? n + x : n), 0);
  let t = 0;
  let tDelta = 0;
  let cntDelta = 0;
  let zDelta = 0;
  const pDeltas = new Array<number>(nPos).fill(0);
  const nDeltas = new Array<number>(nNeg).fill(0);
  const sum: XorValueState = { vHi: 0, vLo: 0, leading: 0, trailing: 0 };
  const xs: XorValueState[] = Array.from({ length: 3 + nPos + nNeg }, () => ({ vHi: 0, vLo: 0, leading: 0, trailing: 0 }));
  let prev: NativeHistogram | undefined;
  for (let k = 0; k < total; k++) {
    const h: NativeHistogram = {
      ...layout,
      float,
      positiveSpans: layout.positiveSpans,
      negativeSpans: layout.negativeSpans,
      customValues: layout.customValues,
      // Gauges stay gauges; after the first, "no reset" (a reset starts a chunk). The first says what the
      // header says, or (`read`, as Prometheus's iterator hands them to PromQL) "unknown" whatever the
      // header says: the chunk before it may be gone, or another source's.
      resetHint: flags === GAUGE_TYPE ? 3 : k > 0 ? 2 : hints === 'read' ? 0 : flags === COUNTER_RESET ? 1 : flags === NOT_COUNTER_RESET ? 2 : 0,
    };
    if (k === 0) {
      t = readVarbitInt(r);
    } else {
      tDelta += readVarbitInt(r);
      t += tDelta;
    }
    h.t = t;
    if (float) {
      for (const x of xs) {
        if (k === 0) {
          x.vHi = r.readBits(32);
          x.vLo = r.readBits(32);
        } else readXorValue(r, x);
      }
      const v = xs.map((x) => bitsFloat(x.vHi, x.vLo));
      h.count = v[0]!;
      h.zeroCount = v[1]!;
      h.sum = v[2]!;
      h.positiveBuckets = v.slice(3, 3 + nPos);
      h.negativeBuckets = v.slice(3 + nPos);
    } else if (k === 0) {
      h.count = readVarbitUint(r);
      h.zeroCount = readVarbitUint(r);
      sum.vHi = r.readBits(32);
      sum.vLo = r.readBits(32);
      h.sum = bitsFloat(sum.vHi, sum.vLo);
      h.positiveBuckets = Array.from({ length: nPos }, () => readVarbitInt(r));
      h.negativeBuckets = Array.from({ length: nNeg }, () => readVarbitInt(r));
    } else {
      cntDelta += readVarbitInt(r);
      zDelta += readVarbitInt(r);
      h.count = prev!.count + cntDelta;
      h.zeroCount = prev!.zeroCount + zDelta;
      readXorValue(r, sum);
      h.sum = bitsFloat(sum.vHi, sum.vLo);
      const side = (before: readonly number[], deltas: number[]) =>
        before.map((b, i) => {
          deltas[i]! += readVarbitInt(r);
          return b + deltas[i]!;
        });
      h.positiveBuckets = side(prev!.positiveBuckets, pDeltas);
      h.negativeBuckets = side(prev!.negativeBuckets, nDeltas);
    }
    out.push(h);
    prev = h;
  }
  return out;
}

/** A chunk of either kind: XOR (no encoding) or native histograms (encoding 2 or 3). */
export interface KindedChunk {
  minT: number;
  maxT: number;
  data: Uint8Array;
  encoding?: number;
}

/**
 * One series' float chunks (XOR) and native-histogram chunks as one list in
 * time order with no two overlapping, as Prometheus's index wants them. Where
 * the two kinds interleave (a series that switched between floats and
 * histograms), both are cut into runs of one kind at each switch.
 */
export function interleaveChunks(floats: readonly KindedChunk[], histograms: readonly KindedChunk[]): KindedChunk[] {
  const byTime = (a: KindedChunk, b: KindedChunk) => a.minT - b.minT;
  const all = [...floats, ...histograms].sort(byTime);
  if (!all.some((c, i) => i > 0 && c.minT <= all[i - 1]!.maxT)) return all;
  const cols = mergeChunks(floats);
  const hs = histograms.flatMap((c) => decodeHistogramChunk(c.data, c.encoding!));
  const out: KindedChunk[] = [];
  let i = 0;
  let k = 0;
  while (i < cols.n || k < hs.length) {
    if (k >= hs.length || (i < cols.n && cols.t[i]! < hs[k]!.t)) {
      const from = i;
      while (i < cols.n && (k >= hs.length || cols.t[i]! < hs[k]!.t)) i++;
      out.push(...encodeColumns(cols, from, i));
    } else {
      const from = k;
      while (k < hs.length && (i >= cols.n || hs[k]!.t <= cols.t[i]!)) k++;
      out.push(...encodeHistogramChunks(hs.slice(from, k)));
    }
  }
  return out;
}
