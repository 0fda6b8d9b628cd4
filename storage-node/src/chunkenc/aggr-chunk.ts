/**
 * The aggregate chunk of a downsampled block (docs/format/downsampled.md):
 * per series and window of the block's resolution, the window's sample count,
 * sum, min, max and a counter-aware running increase, each a column of one
 * chunk. Encoding byte ENCODING_AGGR in the block's chunk files.
 *
 *   n          <u16 BE>   windows in the chunk (1..65535)
 *   rawFirst   <f64 BE>   the raw value the counter column starts from
 *   rawLast    <f64 BE>   the raw value of the last sample of the last window
 *   5 columns, each: len <uvarint>, an XOR chunk (docs/format/chunks.md)
 *     count    (t, count)       t = time of the window's last raw sample
 *     sum      (i, sum)         i = 0, 1, 2 ... (the times are in column 1)
 *     min      (i, min)
 *     max      (i, max)
 *     counter  (i, increase)    reset-aware increase since rawFirst
 *
 * Counter columns of consecutive chunks join exactly: a chunk's rawFirst is
 * compared with the previous chunk's rawLast (a drop is a counter reset),
 * which is what `CounterStitch` does.
 */
import { DecBuf, EncBuf } from '../encoding/encbuf.js';
import { XorAppender, XorIterator } from './xor.js';
import { CHUNK_AGGR } from '../../../wire/chunked-series.js';
import type { ChunkRange } from './merge.js';

/** Encoding byte of aggregate chunks in chunk files and between nodes (Prometheus uses 1-3; Thanos's aggregate chunks are 0xff and differ). */
export const ENCODING_AGGR = CHUNK_AGGR;

/** Most windows one chunk holds: 24 h of 5 m windows, 10 days of 1 h windows. */
export const WINDOWS_PER_CHUNK = 240;

/** Windows of one series, in time order, as columns. */
export interface AggrColumns {
  n: number;
  /** Time of each window's last raw sample (ms). */
  t: Float64Array;
  count: Float64Array;
  sum: Float64Array;
  min: Float64Array;
  max: Float64Array;
  /** Reset-aware increase from `rawFirst` to the window's last sample. */
  counter: Float64Array;
  rawFirst: number;
  rawLast: number;
}

/** A stored chunk as read for a query: raw (XOR), or with `resolution` an aggregate chunk of that tier; `where` names it in errors. */
export interface TierChunk extends ChunkRange {
  resolution?: number;
  where?: string;
}

/** The per-window columns of AggrColumns. */
export const AGGR_COLUMNS = ['t', 'count', 'sum', 'min', 'max', 'counter'] as const;

export function emptyAggr(capacity: number): AggrColumns {
  return {
    n: 0,
    t: new Float64Array(capacity),
    count: new Float64Array(capacity),
    sum: new Float64Array(capacity),
    min: new Float64Array(capacity),
    max: new Float64Array(capacity),
    counter: new Float64Array(capacity),
    rawFirst: NaN,
    rawLast: NaN,
  };
}

const COLUMNS = ['count', 'sum', 'min', 'max', 'counter'] as const;

/** Windows [from, to) as one chunk. The counter column is rebased so the chunk starts from the raw value before `from`. */
export function encodeAggrChunk(c: AggrColumns, from = 0, to = c.n): Uint8Array {
  const n = to - from;
  if (n < 1 || n > 0xffff) throw new RangeError(`an aggregate chunk holds 1 to 65535 windows, not ${n}`);
  // Splitting a run: the later piece starts from the raw value at the end of the window before it.
  const base = from === 0 ? 0 : c.counter[from - 1]!;
  const rawFirst = from === 0 ? c.rawFirst : rawAt(c, from - 1);
  const rawLast = to === c.n ? c.rawLast : rawAt(c, to - 1);
  const out = new EncBuf(64 + n * 8);
  out.be16(n);
  out.f64(rawFirst);
  out.f64(rawLast);
  for (const col of COLUMNS) {
    const a = new XorAppender(16 + n);
    for (let i = from; i < to; i++) a.append(col === 'count' ? c.t[i]! : i - from, col === 'counter' ? c.counter[i]! - base : c[col][i]!);
    const bytes = a.seal();
    out.uvarint(bytes.length);
    out.bytesField(bytes);
  }
  return out.bytes().slice();
}

/**
 * The raw counter value at the end of window i: rawFirst plus the increase,
 * minus the resets' drops, which the increase does not say. Exact only at the
 * last window (rawLast); elsewhere the caller splitting a run passes values
 * that only need to agree between neighbouring chunks, which they do.
 */
function rawAt(c: AggrColumns, i: number): number {
  return c.rawFirst + c.counter[i]!;
}

/** A column of an aggregate chunk besides `count` (which carries the windows' times and is always read). */
export type AggrColumn = (typeof COLUMNS)[number];

/**
 * Decode one aggregate chunk, checking its shape; `where` names it in errors.
 * With `only`, just those columns (and `count`, with the times) are decoded;
 * the others are skipped and left at 0: a query reads one or two of five.
 */
export function decodeAggrChunk(data: Uint8Array, where = 'aggregate chunk', only?: ReadonlySet<AggrColumn>): AggrColumns {
  const d = new DecBuf(data, 0, data.length, where);
  const n = d.be16();
  if (n === 0) d.fail('aggregate chunk with no windows');
  const out = emptyAggr(n);
  out.n = n;
  out.rawFirst = d.f64();
  out.rawLast = d.f64();
  const it = new XorIterator();
  for (const col of COLUMNS) {
    const len = d.uvarint();
    const bytes = d.bytesN(len);
    if (only && col !== 'count' && !only.has(col)) continue;
    it.reset(bytes);
    let i = 0;
    while (it.next()) {
      if (i >= n) d.fail(`column ${col} holds more than ${n} windows`);
      if (col === 'count') out.t[i] = it.t;
      else if (it.t !== i) d.fail(`column ${col} is out of step at window ${i}`);
      out[col][i++] = it.v;
    }
    if (i !== n) d.fail(`column ${col} holds ${i} windows, not ${n}`);
  }
  return out;
}

/**
 * Joins the counter columns of consecutive chunks into one running, never
 * decreasing total, as if the series had never been reset: each chunk's
 * increases are added to the total reached, plus the step from the previous
 * chunk's last raw value to this chunk's first (a drop is a reset: the step
 * is then the new value itself).
 */
export class CounterStitch {
  private total = NaN;
  private lastRaw = NaN;

  /** The running total at the start of chunk `c` (call once per chunk, in time order). */
  begin(rawFirst: number): number {
    if (Number.isNaN(this.total)) this.total = rawFirst;
    else this.total += rawFirst >= this.lastRaw ? rawFirst - this.lastRaw : rawFirst;
    return this.total;
  }

  /** After a chunk: its running total at the end, and its last raw value. */
  end(total: number, rawLast: number): void {
    this.total = total;
    this.lastRaw = rawLast;
  }

  /** A raw sample after the chunks (the raw part of a read): its running total. */
  raw(v: number): number {
    if (Number.isNaN(this.total)) this.total = v;
    else this.total += v >= this.lastRaw ? v - this.lastRaw : v;
    this.lastRaw = v;
    return this.total;
  }
}
