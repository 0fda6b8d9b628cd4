/**
 * Merging samples from several XOR chunks (in-order chunks, out-of-order
 * buffers, overlapping blocks) into one sorted run, one sample per timestamp,
 * and cutting a run back into chunks.
 *
 * Values stay in Float64Arrays end to end: V8 may quiet a signaling NaN stored
 * into a plain JS array, which would turn Prometheus's staleness marker
 * (0x7ff0000000000002) into an ordinary NaN.
 */
import { SAMPLES_PER_CHUNK, XorAppender, XorIterator } from './xor.js';

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
}

/**
 * Decode `chunks` (in priority order: at equal timestamps the earlier chunk's
 * sample is kept) within [mint, maxt] into sorted, de-duplicated columns.
 */
export function mergeChunks(chunks: Iterable<ChunkRange>, mint = -Infinity, maxt = Infinity): SampleColumns {
  // Columns sized once, from the sample counts the overlapping chunks' headers give.
  const hit: ChunkRange[] = [];
  let size = 0;
  for (const c of chunks) {
    if (c.maxT < mint || c.minT > maxt) continue;
    hit.push(c);
    size += c.data.length >= 2 ? (c.data[0]! << 8) | c.data[1]! : 0;
  }
  let t = new Float64Array(Math.max(size, 1));
  let v = new Float64Array(Math.max(size, 1));
  let n = 0;
  let sorted = true;
  const it = new XorIterator();
  for (const c of hit) {
    it.reset(c.data);
    while (it.next()) {
      if (it.t < mint) continue;
      if (it.t > maxt) break; // a chunk's samples are in time order
      if (n === t.length) {
        // Only when a header undercounts (it never should): grow.
        const t2 = new Float64Array(n * 2);
        t2.set(t);
        t = t2;
        const v2 = new Float64Array(n * 2);
        v2.set(v);
        v = v2;
      }
      if (n > 0 && it.t <= t[n - 1]!) sorted = false;
      t[n] = it.t;
      v[n] = it.v;
      n++;
    }
  }
  if (sorted) return { t, v, n };
  // Stable sort of indices by time, then keep the first of each timestamp.
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const order = Array.from(idx).sort((a, b) => t[a]! - t[b]! || a - b);
  const t2 = new Float64Array(n);
  const v2 = new Float64Array(n);
  let m = 0;
  for (const i of order) {
    if (m > 0 && t2[m - 1] === t[i]) continue;
    t2[m] = t[i]!;
    v2[m] = v[i]!;
    m++;
  }
  return { t: t2, v: v2, n: m };
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
