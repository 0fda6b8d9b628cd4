/**
 * Series as compressed chunks, in the message shape of Prometheus's remote
 * read (`prompb.ChunkedReadResponse`): what a storage node sends a peer that
 * evaluates a query over series it does not hold. Chunks travel as they are
 * stored (XOR, Prometheus's chunk encoding 1), so nothing is decoded twice.
 *
 *   ChunkedReadResponse { repeated ChunkedSeries chunked_series = 1; repeated Tier tiers = 2; }
 *   ChunkedSeries       { repeated Label labels = 1; repeated Chunk chunks = 2; }
 *   Label               { string name = 1; string value = 2; }
 *   Chunk               { int64 min_time_ms = 1; int64 max_time_ms = 2; Encoding type = 3; bytes data = 4;
 *                         int64 resolution_ms = 5; }
 *   Tier                { int64 resolution_ms = 1; int64 until_ms = 2; }
 *
 * Isobar's additions (fields Prometheus does not have, so its readers skip
 * them) carry downsampled data (docs/format/downsampled.md): a chunk of type
 * 0xFE is an aggregate chunk of `resolution_ms` windows, and `tiers` is the
 * sending node's plan, coarsest first: the first tier answers before its
 * `until_ms`, each next one from the previous `until_ms` to its own, and raw
 * (XOR) chunks after the last.
 */
import { ProtoWriter } from './remote-write.js';

/** Prometheus's chunk encoding number for XOR float chunks. */
export const CHUNK_XOR = 1;
/** Isobar's aggregate chunk (the storage node's ENCODING_AGGR), outside Prometheus's numbers. */
export const CHUNK_AGGR = 0xfe;

export interface ChunkData {
  minT: number;
  maxT: number;
  data: Uint8Array;
  /** Set (ms per window) for an aggregate chunk of a downsampled tier; absent for an XOR chunk of raw samples. */
  resolution?: number;
}

/** One tier of the sender's plan: it answers up to `until` (exclusive), from where the tier before it stops. */
export interface TierUntil {
  resolution: number;
  until: number;
}

export interface ChunkedSeries {
  /** Flat [name, value, name, value, ...], sorted by name. */
  labels: readonly string[];
  chunks: ChunkData[];
}

export class ChunkedSeriesError extends Error {
  constructor(message: string) {
    super(`malformed chunked series: ${message}`);
    this.name = 'ChunkedSeriesError';
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function encodeChunkedSeries(series: Iterable<ChunkedSeries>, tiers: readonly TierUntil[] = []): Uint8Array {
  const out = new ProtoWriter();
  for (const s of series) {
    const sw = new ProtoWriter();
    for (let i = 0; i < s.labels.length; i += 2) {
      const l = new ProtoWriter();
      l.bytes(1, enc.encode(s.labels[i]!));
      l.bytes(2, enc.encode(s.labels[i + 1]!));
      sw.bytes(1, l.finish());
    }
    for (const c of s.chunks) {
      const cw = new ProtoWriter();
      cw.int64(1, c.minT);
      cw.int64(2, c.maxT);
      cw.int64(3, c.resolution ? CHUNK_AGGR : CHUNK_XOR);
      cw.bytes(4, c.data);
      if (c.resolution) cw.int64(5, c.resolution);
      sw.bytes(2, cw.finish());
    }
    out.bytes(1, sw.finish());
  }
  for (const t of tiers) {
    const tw = new ProtoWriter();
    tw.int64(1, t.resolution);
    tw.int64(2, t.until);
    out.bytes(2, tw.finish());
  }
  return out.finish();
}

/** A minimal protobuf reader over one message's bytes. */
class Fields {
  pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly from = 0,
    private readonly to = buf.length,
  ) {
    this.pos = from;
  }
  get done(): boolean {
    return this.pos >= this.to;
  }
  varint(): number {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.to) throw new ChunkedSeriesError(`truncated varint at byte ${start - this.from}`);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    // Over 49 bits (or a negative int64, ten bytes): exactly, with BigInt.
    this.pos = start;
    let big = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.to) throw new ChunkedSeriesError(`truncated varint at byte ${start - this.from}`);
      const b = this.buf[this.pos++]!;
      big |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return Number(BigInt.asIntN(64, big));
    }
    throw new ChunkedSeriesError('varint longer than 10 bytes');
  }
  /** The next field: its number and, for length-delimited fields, its bytes' range. */
  next(): { field: number; wire: number; value: number; start: number; end: number } {
    const tag = this.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) return { field, wire, value: this.varint(), start: 0, end: 0 };
    if (wire === 2) {
      const len = this.varint();
      const start = this.pos;
      const end = start + len;
      if (end > this.to) throw new ChunkedSeriesError(`field ${field} runs past its message`);
      this.pos = end;
      return { field, wire, value: len, start, end };
    }
    if (wire === 1 || wire === 5) {
      const end = this.pos + (wire === 1 ? 8 : 4);
      if (end > this.to) throw new ChunkedSeriesError(`field ${field} runs past its message`);
      this.pos = end;
      return { field, wire, value: 0, start: 0, end: 0 };
    }
    throw new ChunkedSeriesError(`unsupported wire type ${wire}`);
  }
}

/** The series only (a sender without tiers). */
export function decodeChunkedSeries(buf: Uint8Array): ChunkedSeries[] {
  return decodeChunkedResponse(buf).series;
}

export function decodeChunkedResponse(buf: Uint8Array): { series: ChunkedSeries[]; tiers: TierUntil[] } {
  const out: ChunkedSeries[] = [];
  const tiers: TierUntil[] = [];
  const top = new Fields(buf);
  while (!top.done) {
    const f = top.next();
    if (f.field === 2 && f.wire === 2) {
      const tf = new Fields(buf, f.start, f.end);
      const t: TierUntil = { resolution: 0, until: 0 };
      while (!tf.done) {
        const h = tf.next();
        if (h.field === 1 && h.wire === 0) t.resolution = h.value;
        else if (h.field === 2 && h.wire === 0) t.until = h.value;
      }
      if (!(t.resolution > 0)) throw new ChunkedSeriesError(`tier with resolution ${t.resolution}`);
      tiers.push(t);
      continue;
    }
    if (f.field !== 1 || f.wire !== 2) continue;
    const labels: string[] = [];
    const series: ChunkedSeries = { labels, chunks: [] };
    const sf = new Fields(buf, f.start, f.end);
    while (!sf.done) {
      const g = sf.next();
      if (g.wire !== 2) continue;
      if (g.field === 1) {
        const lf = new Fields(buf, g.start, g.end);
        let name = '';
        let value = '';
        while (!lf.done) {
          const h = lf.next();
          if (h.wire !== 2) continue;
          if (h.field === 1) name = dec.decode(buf.subarray(h.start, h.end));
          if (h.field === 2) value = dec.decode(buf.subarray(h.start, h.end));
        }
        labels.push(name, value);
      } else if (g.field === 2) {
        const cf = new Fields(buf, g.start, g.end);
        const c: ChunkData = { minT: 0, maxT: 0, data: new Uint8Array(0) };
        let type = 0; // proto3: absent means UNKNOWN
        let resolution = 0;
        while (!cf.done) {
          const h = cf.next();
          if (h.field === 1 && h.wire === 0) c.minT = h.value;
          else if (h.field === 2 && h.wire === 0) c.maxT = h.value;
          else if (h.field === 3 && h.wire === 0) type = h.value;
          else if (h.field === 4 && h.wire === 2) c.data = buf.subarray(h.start, h.end);
          else if (h.field === 5 && h.wire === 0) resolution = h.value;
        }
        if (type === CHUNK_AGGR) {
          if (!(resolution > 0)) throw new ChunkedSeriesError(`aggregate chunk without a resolution`);
          c.resolution = resolution;
        } else if (type !== CHUNK_XOR) throw new ChunkedSeriesError(`chunk encoding ${type} is not XOR (1) or aggregate (0xfe)`);
        else if (resolution !== 0) throw new ChunkedSeriesError(`XOR chunk with a resolution (${resolution})`);
        series.chunks.push(c);
      }
    }
    out.push(series);
  }
  return { series: out, tiers };
}
