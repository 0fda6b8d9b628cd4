/**
 * A query's gathered series (Engine.gatherFor) packed for another thread:
 * labels as one JSON string, every chunk's bytes in one buffer, the chunks'
 * times and tiers in typed arrays. Structured cloning the object graph costs
 * about ten times more than this for 10k series (it walks every object on both
 * sides); here the main thread writes a few arrays, and the buffers move
 * without a copy.
 */
import type { BlockHandles } from '../block/reader.js';
import type { TierChunk } from '../chunkenc/aggr-chunk.js';
import type { DeletionSpec } from '../model/deletions.js';
import type { Labels } from '../model/labels.js';
import type { TierPlan } from './tiers.js';
import type { HistogramSeries } from './values.js';

/** A series and its chunks, still compressed (aggregate chunks where read through a tier). */
export interface ChunkSeries {
  labels: Labels;
  chunks: TierChunk[];
}

/**
 * Local blocks a selector's reader reads itself (TenantDB.selectChunksLater),
 * over [mint, maxt], in front of the series the main thread copied; then the
 * deletions in force apply to the whole.
 */
export interface LocalRead {
  blocks: BlockHandles[];
  mint: number;
  maxt: number;
  deletions: DeletionSpec[];
}

/** Series and chunks in arrays (a chunk's fields by its index). */
export interface PackedSeries {
  /** JSON: each series' labels. */
  labels: string;
  /** Series k's chunks are [firstChunk[k], firstChunk[k + 1]). */
  firstChunk: Uint32Array;
  minT: Float64Array;
  maxT: Float64Array;
  /** A chunk's tier resolution (ms), 0 for raw samples. */
  resolution: Float64Array;
  /** Chunk i's bytes are bytes[byteStart[i], byteStart[i + 1]). */
  byteStart: Uint32Array;
  bytes: Uint8Array;
  /** JSON: where each aggregate chunk came from, by chunk index (errors name it); absent when none says. */
  where?: string;
}

/**
 * What a query read for one selector, before decoding (EngineOptions.gathered),
 * packed as it moves to a query thread. Raw series: the local blocks' (read
 * by the evaluating thread), then this node's others (`series`: the head's, in the slices it was read in,
 * the bucket's), then the peers'; each series' chunks in that order.
 */
export type Gathered = (
  | { kind: 'raw'; series: PackedSeries[]; peers?: PackedSeries; local?: LocalRead }
  | { kind: 'tiered'; mint: number; sources: Array<{ plan: TierPlan; series: PackedSeries }> }
) & {
  /** The selector's native histograms (raw, from every source), as plain objects: few, and cloned as they are. */
  histograms?: HistogramSeries[];
};

/**
 * Each label set's JSON, kept while the label set lives: the head's series
 * keep theirs for their life, so a dashboard's series are written once, not
 * on every query (about half of packing's time on the thread that
 * acknowledges writes). About 100 bytes per series queried.
 */
const jsonOf = new WeakMap<Labels, string>();
function labelsJson(labels: Labels): string {
  let json = jsonOf.get(labels);
  if (json === undefined) jsonOf.set(labels, (json = JSON.stringify(labels)));
  return json;
}

/** Packed series' arrays for this many series, chunks and bytes, zeroed. */
function allocPacked(labels: string, series: number, chunks: number, size: number): PackedSeries {
  return {
    labels,
    firstChunk: new Uint32Array(series + 1),
    minT: new Float64Array(chunks),
    maxT: new Float64Array(chunks),
    resolution: new Float64Array(chunks),
    byteStart: new Uint32Array(chunks + 1),
    bytes: new Uint8Array(size),
  };
}

/**
 * The series with every chunk's bytes copied into one new buffer, in order.
 * The gathering thread calls it in the turn it reads: the head goes on
 * writing its open chunks. One pass, no object per chunk: this runs on the
 * thread that acknowledges writes.
 */
export function packSeries(list: readonly ChunkSeries[]): PackedSeries {
  let chunks = 0;
  let size = 0;
  for (const s of list) {
    chunks += s.chunks.length;
    for (const c of s.chunks) size += c.data.length;
  }
  const p = allocPacked(`[${list.map((s) => labelsJson(s.labels)).join(',')}]`, list.length, chunks, size);
  let where: Record<number, string> | undefined;
  let i = 0;
  let at = 0;
  for (let k = 0; k < list.length; k++) {
    p.firstChunk[k] = i;
    for (const c of list[k]!.chunks) {
      p.minT[i] = c.minT;
      p.maxT[i] = c.maxT;
      if (c.resolution) p.resolution[i] = c.resolution;
      if (c.where !== undefined) (where ??= {})[i] = c.where;
      p.byteStart[i] = at;
      p.bytes.set(c.data, at);
      at += c.data.length;
      i++;
    }
  }
  p.firstChunk[list.length] = i;
  p.byteStart[i] = at;
  if (where) p.where = JSON.stringify(where);
  return p;
}

/** The series of one packing, or of its parts in order (the head's slices). */
export function unpackSeries(p: PackedSeries | readonly PackedSeries[]): ChunkSeries[] {
  return ('bytes' in p ? [p] : p).flatMap((x) => unpacked(x, (k, where) => chunksOf(x, k, where)));
}

/** The series with their labels, each one's chunks made when asked for (a part of a split query unpacks only its own). */
export function unpackLazily(parts: readonly PackedSeries[]): Array<{ labels: Labels; chunks: () => TierChunk[] }> {
  return parts.flatMap((x) => unpacked(x, (k, where) => () => chunksOf(x, k, where)));
}

/** One packing's series: their labels, and for series k what `chunks` makes of it. */
function unpacked<T>(p: PackedSeries, chunks: (k: number, where: Record<string, string> | undefined) => T): Array<{ labels: Labels; chunks: T }> {
  const where = p.where ? (JSON.parse(p.where) as Record<string, string>) : undefined;
  return (JSON.parse(p.labels) as string[][]).map((labels, k) => ({ labels, chunks: chunks(k, where) }));
}

/** Series k's chunks, their bytes views of the packed buffer. */
function chunksOf(p: PackedSeries, k: number, where: Record<string, string> | undefined): TierChunk[] {
  const chunks: TierChunk[] = [];
  for (let i = p.firstChunk[k]!; i < p.firstChunk[k + 1]!; i++) {
    const c: TierChunk = { minT: p.minT[i]!, maxT: p.maxT[i]!, data: p.bytes.subarray(p.byteStart[i]!, p.byteStart[i + 1]!) };
    if (p.resolution[i]) c.resolution = p.resolution[i]!;
    if (where?.[i] !== undefined) c.where = where[i];
    chunks.push(c);
  }
  return chunks;
}

/** The buffers to move (not copy) with a postMessage of `gs`. */
export function transferList(gs: readonly Gathered[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>(); // once each: two uses of a selector share their packed series
  const add = (p: PackedSeries) => {
    for (const a of [p.firstChunk, p.minT, p.maxT, p.resolution, p.byteStart, p.bytes]) out.add(a.buffer as ArrayBuffer);
  };
  for (const g of gs) {
    if (g.kind === 'raw') {
      for (const p of g.series) add(p);
      if (g.peers) add(g.peers);
    } else for (const s of g.sources) add(s.series);
  }
  return [...out];
}
