/**
 * Merging samples from several XOR chunks (in-order chunks, out-of-order
 * buffers, overlapping blocks) into one sorted run, one sample per timestamp,
 * and cutting a run back into chunks.
 *
 * Values stay in Float64Arrays end to end: V8 may quiet a signaling NaN stored
 * into a plain JS array, which would turn Prometheus's staleness marker
 * (0x7ff0000000000002) into an ordinary NaN.
 */
import { decodeXor, SAMPLES_PER_CHUNK, XorAppender } from './xor.js';

const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

/** Prometheus's staleness marker, by its exact bits (read from the column, never through a JS value). */
export function isStale(v: Float64Array, i: number): boolean {
  const x = v[i]!;
  if (x === x) return false; // not NaN: the common case, no bit inspection
  const u = new Uint32Array(v.buffer, v.byteOffset + i * 8, 2);
  return u[1] === STALE_HI && u[0] === STALE_LO;
}

export interface SampleColumns {
  t: Float64Array;
  v: Float64Array;
  n: number;
}

export interface ChunkRange {
  minT: number;
  maxT: number;
  data: Uint8Array;
  /** Let go of `data` (read lazily, and again when used again): its samples are decoded. */
  forget?(): void;
}

/** Room the columns of `chunks` within [mint, maxt] need: the overlapping chunks' header counts. */
export function columnsSize(chunks: Iterable<ChunkRange>, mint = -Infinity, maxt = Infinity): number {
  let size = 0;
  for (const c of chunks) if (c.maxT >= mint && c.minT <= maxt && c.data.length >= 2) size += (c.data[0]! << 8) | c.data[1]!;
  return size;
}

/**
 * Decode `chunks` (in priority order: at equal timestamps the earlier chunk's
 * sample is kept) within [mint, maxt] into sorted, de-duplicated columns.
 */
export function mergeChunks(iterable: Iterable<ChunkRange>, mint = -Infinity, maxt = Infinity): SampleColumns {
  const chunks = Array.isArray(iterable) ? (iterable as readonly ChunkRange[]) : [...iterable]; // read twice: sizes, then samples
  const size = Math.max(columnsSize(chunks, mint, maxt), 1);
  const t = new Float64Array(size);
  const v = new Float64Array(size);
  const n = mergeInto(chunks, mint, maxt, t, new Uint32Array(v.buffer, v.byteOffset, 2 * size), 0);
  return { t, v, n };
}

/**
 * Many series' chunks (each list as mergeChunks takes it) decoded within
 * [mint, maxt] into slices of two shared columns: one allocation for all of
 * them, not two per series. A query's loader uses it (with each list's
 * columnsSize when it has them already).
 */
export function mergeMany(lists: ReadonlyArray<readonly ChunkRange[]>, mint = -Infinity, maxt = Infinity, sizes = lists.map((l) => columnsSize(l, mint, maxt))): SampleColumns[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const t = new Float64Array(total);
  const v = new Float64Array(total);
  const bits = new Uint32Array(v.buffer);
  let at = 0;
  return lists.map((l, i) => {
    const n = mergeInto(l, mint, maxt, t, bits, at) - at;
    const cols = { t: t.subarray(at, at + n), v: v.subarray(at, at + n), n };
    at += sizes[i]!;
    return cols;
  });
}

/**
 * One series at a time decoded into columns reused from call to call (grown
 * when a series needs more room): for a pass that reads each series once, so
 * its memory is one series' columns, not all of them.
 */
export class ColumnsBuffer {
  private t = new Float64Array(256);
  private v = new Float64Array(256);
  private bits = new Uint32Array(this.v.buffer);

  /** mergeChunks' answer, in this buffer's columns: valid until the next call. The chunks' bytes are let go (ChunkRange.forget). */
  decode(chunks: readonly ChunkRange[], mint = -Infinity, maxt = Infinity): SampleColumns {
    const size = columnsSize(chunks, mint, maxt);
    if (size > this.t.length) {
      this.t = new Float64Array(size * 2);
      this.v = new Float64Array(size * 2);
      this.bits = new Uint32Array(this.v.buffer);
    }
    const n = mergeInto(chunks, mint, maxt, this.t, this.bits, 0);
    for (const c of chunks) c.forget?.();
    return { t: this.t, v: this.v, n };
  }
}

/**
 * mergeChunks into columns that have room (columnsSize) from index `at`;
 * `vBits` is a Uint32Array over the value column. Returns the index after the
 * last sample.
 */
function mergeInto(chunks: readonly ChunkRange[], mint: number, maxt: number, t: Float64Array, vBits: Uint32Array, at: number): number {
  let n = at;
  let sorted = true;
  for (const c of chunks) {
    if (c.maxT < mint || c.minT > maxt) continue;
    const from = n;
    n = decodeXor(c.data, mint, maxt, t, vBits, n);
    for (let i = from === at ? at + 1 : from; i < n && sorted; i++) if (t[i]! <= t[i - 1]!) sorted = false;
  }
  if (sorted) return n;
  // Stable sort by time, keeping the first sample of each timestamp; values move as bits.
  const count = n - at;
  const ts = t.slice(at, n);
  const bits = vBits.slice(2 * at, 2 * n);
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => ts[a]! - ts[b]! || a - b);
  let m = at;
  for (const i of order) {
    if (m > at && t[m - 1] === ts[i]) continue;
    t[m] = ts[i]!;
    vBits[2 * m] = bits[2 * i]!;
    vBits[2 * m + 1] = bits[2 * i + 1]!;
    m++;
  }
  return m;
}

/** Samples [from, to) of the columns as XOR chunks of at most 120 samples. */
export function encodeColumns(c: SampleColumns, from = 0, to = c.n): ChunkRange[] {
  const out: ChunkRange[] = [];
  for (let i = from; i < to; i += SAMPLES_PER_CHUNK) {
    const end = Math.min(i + SAMPLES_PER_CHUNK, to);
    const a = new XorAppender(64);
    for (let k = i; k < end; k++) a.append(c.t[k]!, c.v[k]!);
    out.push({ minT: c.t[i]!, maxT: c.t[end - 1]!, data: a.seal() });
  }
  return out;
}

/** The columns without samples inside any of the intervals (the same object when none applies). */
export function withoutIntervals(c: SampleColumns, intervals: ReadonlyArray<readonly [number, number]>): SampleColumns {
  const t = new Float64Array(c.n);
  const v = new Float64Array(c.n);
  let n = 0;
  for (let i = 0; i < c.n; i++) {
    const ts = c.t[i]!;
    if (intervals.some(([lo, hi]) => ts >= lo && ts <= hi)) continue;
    t[n] = ts;
    v.set(c.v.subarray(i, i + 1), n); // copies the bits: staleness markers stay markers
    n++;
  }
  return n === c.n ? c : { t, v, n };
}
