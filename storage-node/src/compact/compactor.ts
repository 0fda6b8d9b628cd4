/**
 * Compaction of a tenant's blocks on local disk:
 *  1. overlapping blocks (out-of-order data, repeated flushes of a range) are
 *     merged first ("vertical" compaction), so compaction never halts on overlaps;
 *  2. then blocks inside one window of the next level (2 h -> 6 h -> 24 h by
 *     default) are merged once the window is closed: newer data exists after it.
 * The new block is written and renamed into place before its sources are
 * deleted; a crash in between leaves an overlap that the next run merges.
 *
 * Memory: a merge holds the merged blocks' chunk bytes (compressed) in memory;
 * runs synchronously on the event loop (a worker thread is the next step).
 */
import { rmSync } from 'node:fs';
import { encodeColumns, mergeChunks } from '../chunkenc/merge.js';
import { ENCODING_XOR, XorAppender, XorIterator } from '../chunkenc/xor.js';
import { BlockReader, isHistogramEncoding, type BlockSeries } from '../block/reader.js';
import { decodeHistogramChunk, encodeHistogramChunks, interleaveChunks } from '../chunkenc/histogram.js';
import type { NativeHistogram } from '../../../wire/histogram.js';
import { compareLabelsUtf8 } from '../block/utf8-order.js';
import { writeBlock, type BlockChunk, type BlockSeriesInput } from '../block/writer.js';
import type { BlockMeta } from '../block/meta.js';
import { mergedSections } from '../bucket/layout.js';

const HOUR = 3_600_000;
export const DEFAULT_LEVELS_MS = [2 * HOUR, 6 * HOUR, 24 * HOUR];

/** The next group of blocks to merge, or undefined (decided from metas and tombstones alone). */
export function planCompaction<B extends { meta: BlockMeta; tombstones: readonly unknown[] }>(blocks: readonly B[], levelsMs: readonly number[] = DEFAULT_LEVELS_MS): B[] | undefined {
  const sorted = [...blocks].sort((a, b) => a.meta.minTime - b.meta.minTime || a.meta.maxTime - b.meta.maxTime);
  // 1. Overlaps: the first run of blocks that overlap each other.
  for (let i = 0; i < sorted.length; i++) {
    const group = [sorted[i]!];
    let end = sorted[i]!.meta.maxTime;
    for (let j = i + 1; j < sorted.length && sorted[j]!.meta.minTime < end; j++) {
      group.push(sorted[j]!);
      end = Math.max(end, sorted[j]!.meta.maxTime);
    }
    if (group.length > 1) return group;
  }
  // 2. Levels: blocks that fit one window of the next level, when data exists after the window.
  const newest = Math.max(...sorted.map((b) => b.meta.maxTime));
  for (const range of levelsMs.slice(1)) {
    const windows = new Map<number, B[]>();
    for (const b of sorted) {
      const start = Math.floor(b.meta.minTime / range) * range;
      if (b.meta.maxTime > start + range) continue; // spans windows: already at this level or above
      if (b.meta.maxTime - b.meta.minTime >= range) continue;
      let w = windows.get(start);
      if (!w) windows.set(start, (w = []));
      w.push(b);
    }
    for (const [start, group] of [...windows].sort((a, b) => a[0] - b[0])) {
      if (group.length > 1 && start + range <= newest) return group;
    }
  }
  // 3. Deletions: a block with tombstones is rewritten on its own, without the deleted samples.
  const marked = sorted.find((b) => b.tombstones.length > 0);
  return marked ? [marked] : undefined;
}

interface Cursor {
  reader: BlockReader;
  refs: number[];
  i: number;
  labels: string[] | undefined;
}

/**
 * The series of several blocks in label order, each once, with the block
 * series that hold it (in `sources` order). Reads one series at a time.
 */
export function* mergedSeries(sources: readonly BlockReader[]): Generator<{ labels: string[]; parts: Array<{ reader: BlockReader; series: BlockSeries }> }> {
  const cursors: Cursor[] = sources.map((reader) => {
    const c: Cursor = { reader, refs: reader.allPostings(), i: 0, labels: undefined };
    advance(c);
    return c;
  });
  for (;;) {
    let min: string[] | undefined;
    for (const c of cursors) if (c.labels && (!min || compareLabelsUtf8(c.labels, min) < 0)) min = c.labels;
    if (!min) return;
    const parts: Array<{ reader: BlockReader; series: BlockSeries }> = [];
    for (const c of cursors) {
      if (!c.labels || compareLabelsUtf8(c.labels, min) !== 0) continue;
      parts.push({ reader: c.reader, series: c.reader.series(c.refs[c.i - 1]!) });
      advance(c);
    }
    yield { labels: min, parts };
  }
}

/**
 * The chunks of a block series overlapping nothing deleted, tombstoned samples
 * left out: XOR chunks (no `encoding`), and native-histogram chunks (their
 * `encoding` set) of a local block.
 */
export function liveChunks(reader: BlockReader, s: BlockSeries, it = new XorIterator()): BlockChunk[] {
  const stones = reader.tombstones.filter((t) => t.ref === s.ref);
  const out: BlockChunk[] = [];
  for (const m of s.chunks) {
    if (stones.some((t) => t.minT <= m.minT && t.maxT >= m.maxT)) continue; // wholly deleted
    // A bucket block's chunk source keeps floats only (its histogram chunks read as none).
    const { encoding, data } = reader.local ? reader.encodedChunk(m.ref) : { encoding: ENCODING_XOR, data: reader.chunk(m.ref) };
    if (!isHistogramEncoding(encoding)) {
      out.push({ minT: m.minT, maxT: m.maxT, data: deleteRanges(data, stones, it) });
    } else if (!stones.some((t) => t.minT <= m.maxT && t.maxT >= m.minT)) {
      out.push({ minT: m.minT, maxT: m.maxT, data, encoding });
    } else {
      const kept = decodeHistogramChunk(data, encoding).filter((h) => !stones.some((t) => h.t >= t.minT && h.t <= t.maxT));
      out.push(...encodeHistogramChunks(kept));
    }
  }
  return out;
}

/** Is this a native-histogram chunk (else XOR)? */
export const isHistogramChunk = (c: BlockChunk) => c.encoding !== undefined && isHistogramEncoding(c.encoding);

/** Native-histogram chunks of several holders as one sorted list: one histogram per timestamp, the first holder's. */
function rechunkHistograms(parts: readonly BlockChunk[]): BlockChunk[] {
  const byT = new Map<number, NativeHistogram>();
  for (const p of parts) for (const h of decodeHistogramChunk(p.data, p.encoding!)) if (!byT.has(h.t)) byT.set(h.t, h);
  return encodeHistogramChunks([...byT.values()].sort((a, b) => a.t - b.t));
}

/**
 * Merge blocks into one; returns the new block (the caller swaps readers and
 * deletes sources), or undefined when deletions left no sample at all.
 */
export function compactBlocks(parentDir: string, sources: readonly BlockReader[]): { dir: string; meta: BlockMeta } | undefined {
  const out: BlockSeriesInput[] = [];
  const it = new XorIterator();
  for (const { labels, parts: held } of mergedSeries(sources)) {
    const live = held.flatMap((p) => liveChunks(p.reader, p.series, it));
    const floats = merged(live.filter((c) => !isHistogramChunk(c)), held.length, rechunk);
    const histograms = merged(live.filter(isHistogramChunk), held.length, rechunkHistograms);
    const chunks = interleaveChunks(floats, histograms);
    if (chunks.length > 0) out.push({ labels, chunks });
  }
  if (out.length === 0) return undefined;
  const parents = sources.map((b) => ({ ulid: b.meta.ulid, minTime: b.meta.minTime, maxTime: b.meta.maxTime }));
  const level = Math.max(...sources.map((b) => b.meta.compaction.level)) + 1;
  return writeBlock(parentDir, out, { level, sources: sourcesOf(sources), parents, sections: mergedSections(sources.map((b) => b.meta)) });
}

/** The level-1 blocks a set of blocks was made from (ULIDs, sorted). */
export function sourcesOf(blocks: readonly { meta: BlockMeta }[]): string[] {
  return [...new Set(blocks.flatMap((b) => b.meta.compaction.sources ?? [b.meta.ulid]))].sort();
}

function advance(c: Cursor): void {
  c.labels = c.i < c.refs.length ? c.reader.series(c.refs[c.i]!).labels : undefined;
  c.i++;
}

/** A chunk without the samples inside any tombstone range (unchanged when none applies). */
function deleteRanges(data: Uint8Array, stones: ReadonlyArray<{ minT: number; maxT: number }>, it: XorIterator): Uint8Array {
  if (stones.length === 0) return data;
  const a = new XorAppender();
  it.reset(data);
  while (it.next()) if (!stones.some((s) => it.t >= s.minT && it.t <= s.maxT)) a.append(it.t, it.v);
  return a.seal();
}

/** One kind of chunk of a series: as they are when one block held them and none overlap, else merged by `rechunkAll`. */
function merged(parts: BlockChunk[], holders: number, rechunkAll: (parts: readonly BlockChunk[]) => BlockChunk[]): BlockChunk[] {
  parts.sort((a, b) => a.minT - b.minT);
  const overlap = parts.some((p, i) => i > 0 && p.minT <= parts[i - 1]!.maxT);
  return holders === 1 && !overlap ? parts.filter((p) => ((p.data[0]! << 8) | p.data[1]!) > 0) : rechunkAll(parts);
}

/** Decode overlapping chunks, sort, keep one sample per timestamp (the earliest chunk's), re-encode. */
function rechunk(parts: readonly BlockChunk[]): BlockChunk[] {
  return encodeColumns(mergeChunks(parts));
}

/** Close a reader and delete its folder: now, or when the last query reading it elsewhere is done (BlockReader.lease). */
export function deleteBlock(b: BlockReader): void {
  b.whenFree(() => {
    b.close();
    rmSync(b.dir, { recursive: true, force: true });
  });
}
