/**
 * A query's gathered series (Engine.gatherFor) packed for another thread:
 * labels as one JSON string, every chunk's bytes in one buffer, the chunks'
 * times and tiers in typed arrays. Structured cloning the object graph costs
 * about ten times more than this for 10k series (it walks every object on both
 * sides); here the main thread writes a few arrays, and the buffers move
 * without a copy.
 */
import type { TierChunk } from '../chunkenc/aggr-chunk.js';
import type { Labels } from '../model/labels.js';
import type { TierPlan, TieredChunks } from './tiers.js';

/** A series and its chunks, still compressed (aggregate chunks where read through a tier). */
export interface ChunkSeries {
  labels: Labels;
  chunks: TierChunk[];
}

/** What a query read for one selector, before decoding (EngineOptions.gathered). */
export type Gathered = { kind: 'raw'; series: ChunkSeries[] } | { kind: 'tiered'; mint: number; sources: TieredChunks[] };

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

export type PackedGathered = { kind: 'raw'; series: PackedSeries } | { kind: 'tiered'; mint: number; sources: Array<{ plan: TierPlan; series: PackedSeries }> };

/**
 * The series with every chunk's bytes copied into one new buffer, in order.
 * The gathering thread calls it at once after reading: the head goes on
 * writing its open chunks, and one buffer is one allocation where a copy per
 * chunk would be thousands (and packSeries then moves it as it is).
 */
export function settleChunks(list: readonly ChunkSeries[]): ChunkSeries[] {
  let size = 0;
  for (const s of list) for (const c of s.chunks) size += c.data.length;
  const bytes = new Uint8Array(size);
  let at = 0;
  return list.map((s) => ({
    labels: s.labels,
    chunks: s.chunks.map((c) => {
      bytes.set(c.data, at);
      const data = bytes.subarray(at, (at += c.data.length));
      // Fields by name, not a spread: this runs for every chunk a query reads.
      const out: TierChunk = { minT: c.minT, maxT: c.maxT, data };
      if (c.resolution !== undefined) out.resolution = c.resolution;
      if (c.where !== undefined) out.where = c.where;
      return out;
    }),
  }));
}

/** The one buffer holding every chunk of `list` back to back in order (settleChunks'), if there is one. */
function sharedBuffer(list: readonly ChunkSeries[], size: number): Uint8Array | undefined {
  let buffer: ArrayBufferLike | undefined;
  let next = 0;
  for (const s of list) {
    for (const c of s.chunks) {
      if (c.data.byteOffset !== next || (buffer !== undefined && c.data.buffer !== buffer)) return undefined;
      buffer = c.data.buffer;
      next += c.data.length;
    }
  }
  return buffer && buffer.byteLength === size ? new Uint8Array(buffer) : undefined;
}

export function packSeries(list: readonly ChunkSeries[]): PackedSeries {
  let chunks = 0;
  let size = 0;
  for (const s of list) {
    chunks += s.chunks.length;
    for (const c of s.chunks) size += c.data.length;
  }
  const shared = sharedBuffer(list, size);
  const p: PackedSeries = {
    labels: JSON.stringify(list.map((s) => s.labels)),
    firstChunk: new Uint32Array(list.length + 1),
    minT: new Float64Array(chunks),
    maxT: new Float64Array(chunks),
    resolution: new Float64Array(chunks),
    byteStart: new Uint32Array(chunks + 1),
    bytes: shared ?? new Uint8Array(size),
  };
  const where: Record<number, string> = {};
  let i = 0;
  let at = 0;
  list.forEach((s, k) => {
    p.firstChunk[k] = i;
    for (const c of s.chunks) {
      p.minT[i] = c.minT;
      p.maxT[i] = c.maxT;
      p.resolution[i] = c.resolution ?? 0;
      if (c.where !== undefined) where[i] = c.where;
      p.byteStart[i] = at;
      if (!shared) p.bytes.set(c.data, at);
      at += c.data.length;
      i++;
    }
  });
  p.firstChunk[list.length] = i;
  p.byteStart[i] = at;
  if (Object.keys(where).length > 0) p.where = JSON.stringify(where);
  return p;
}

export function unpackSeries(p: PackedSeries): ChunkSeries[] {
  const labels = JSON.parse(p.labels) as string[][];
  const where = p.where ? (JSON.parse(p.where) as Record<string, string>) : undefined;
  return labels.map((l, k) => {
    const chunks: TierChunk[] = [];
    for (let i = p.firstChunk[k]!; i < p.firstChunk[k + 1]!; i++) {
      const c: TierChunk = { minT: p.minT[i]!, maxT: p.maxT[i]!, data: p.bytes.subarray(p.byteStart[i]!, p.byteStart[i + 1]!) };
      if (p.resolution[i]) c.resolution = p.resolution[i]!;
      if (where?.[i] !== undefined) c.where = where[i];
      chunks.push(c);
    }
    return { labels: l, chunks };
  });
}

export function packGathered(g: Gathered): PackedGathered {
  if (g.kind === 'raw') return { kind: 'raw', series: packSeries(g.series) };
  return { kind: 'tiered', mint: g.mint, sources: g.sources.map((s) => ({ plan: s.plan, series: packSeries(s.series) })) };
}

export function unpackGathered(g: PackedGathered): Gathered {
  if (g.kind === 'raw') return { kind: 'raw', series: unpackSeries(g.series) };
  return { kind: 'tiered', mint: g.mint, sources: g.sources.map((s) => ({ plan: s.plan, series: unpackSeries(s.series) })) };
}

/** The buffers to move (not copy) with a postMessage of `gs`. */
export function transferList(gs: readonly PackedGathered[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>(); // once each: two uses of a selector share their settled bytes
  const add = (p: PackedSeries) => {
    for (const a of [p.firstChunk, p.minT, p.maxT, p.resolution, p.byteStart, p.bytes]) out.add(a.buffer as ArrayBuffer);
  };
  for (const g of gs) {
    if (g.kind === 'raw') add(g.series);
    else for (const s of g.sources) add(s.series);
  }
  return [...out];
}
