/**
 * Downsampling (docs/format/downsampled.md): raw samples into 5 m windows,
 * 5 m windows into 1 h windows. A window is [k * res, (k + 1) * res) in
 * absolute time; each keeps count, sum, min, max and the counter-aware
 * increase, stamped with the time of its last raw sample. Staleness markers
 * are not samples and are left out.
 *
 * Blocks: a downsampled block covers the same series and time as its source
 * blocks, with the same compaction sources (so the planner can tell which raw
 * blocks a tier already holds) and meta.json's `thanos.downsample.resolution`
 * set. Deleted samples (tombstones, and deletions in force passed as
 * `without`) are left out before aggregating.
 */
import { isStale, mergeChunks, withoutIntervals, type SampleColumns } from '../chunkenc/merge.js';
import { deletedIntervals, deletionRanges, type DeletionSpec } from '../model/deletions.js';
import { XorIterator } from '../chunkenc/xor.js';
import type { BlockReader } from '../block/reader.js';
import { resolutionOf, type BlockMeta } from '../block/meta.js';
import { writeBlock, type BlockChunk, type BlockSeriesInput } from '../block/writer.js';
import { isHistogramChunk, liveChunks, mergedSeries, sourcesOf } from '../compact/compactor.js';
import { mergedSections } from '../bucket/layout.js';
import { AGGR_COLUMNS, CounterStitch, decodeAggrChunk, emptyAggr, encodeAggrChunk, ENCODING_AGGR, WINDOWS_PER_CHUNK, type AggrColumns } from '../chunkenc/aggr-chunk.js';
import { decodeHistogramChunk, encodeHistogramChunks } from '../chunkenc/histogram.js';
import { isHistogramEncoding } from '../block/reader.js';
import { detectReset, isStaleHistogram } from '../promql/histograms.js';
import type { NativeHistogram } from '../../../wire/histogram.js';

import { RES_RAW } from '../block/meta.js';
// The resolutions and tiers live with block metadata (block/meta.ts), below PromQL, which reads them too.
export { COARSEST_FIRST, RES_1H, RES_5M, RES_RAW, TIERS } from '../block/meta.js';

/**
 * Folds parts (raw samples, or finer windows) in time order into windows of
 * `res`: a raw sample is a part of count 1 whose sum, min and max are its value.
 * NaN is never kept as a window's min or max while the window has a number.
 */
class WindowFold {
  out = emptyAggr(16);
  private win = NaN;

  constructor(private readonly res: number) {}

  add(t: number, count: number, sum: number, min: number, max: number, counter: number): void {
    let out = this.out;
    const w = Math.floor(t / this.res);
    if (w !== this.win) {
      if (out.n === out.t.length) out = this.out = grow(out);
      const k = out.n++;
      out.count[k] = 0;
      out.sum[k] = 0;
      out.min[k] = min;
      out.max[k] = max;
      this.win = w;
    }
    const k = out.n - 1;
    out.t[k] = t;
    out.count[k] = out.count[k]! + count;
    out.sum[k] = out.sum[k]! + sum;
    if (min < out.min[k]! || Number.isNaN(out.min[k]!)) out.min[k] = min;
    if (max > out.max[k]! || Number.isNaN(out.max[k]!)) out.max[k] = max;
    out.counter[k] = counter;
  }
}

function grow(c: AggrColumns): AggrColumns {
  const next = emptyAggr(c.t.length * 2);
  for (const k of AGGR_COLUMNS) next[k].set(c[k]);
  next.n = c.n;
  next.rawFirst = c.rawFirst;
  next.rawLast = c.rawLast;
  return next;
}

/** Windows of `res` over raw samples (sorted, one per timestamp); undefined when only staleness markers. */
export function aggregateRaw(c: SampleColumns, res: number): AggrColumns | undefined {
  const fold = new WindowFold(res);
  let rawFirst = NaN;
  let increase = 0;
  let prev = NaN;
  for (let i = 0; i < c.n; i++) {
    if (isStale(c.v, i)) continue;
    const v = c.v[i]!;
    if (Number.isNaN(rawFirst)) rawFirst = v;
    else increase += v >= prev ? v - prev : v; // a drop is a reset: the counter restarted from 0
    prev = v;
    fold.add(c.t[i]!, 1, v, v, v, increase);
  }
  const out = fold.out;
  if (out.n === 0) return undefined;
  out.rawFirst = rawFirst;
  out.rawLast = prev;
  return out;
}

/**
 * Windows of `res` over finer windows: chunks of one series in time order.
 * Windows of a chunk that start before the previous chunk's last one (an
 * overlap) are left out, so no raw sample counts twice.
 */
export function aggregateAggr(chunks: readonly AggrColumns[], res: number): AggrColumns | undefined {
  const fold = new WindowFold(res);
  const stitch = new CounterStitch();
  let start = NaN;
  let lastT = -Infinity;
  let rawLast = NaN;
  for (const c of chunks) {
    if (c.t[c.n - 1]! <= lastT) continue; // wholly overlapped
    const base = stitch.begin(c.rawFirst);
    if (Number.isNaN(start)) start = base;
    let total = base;
    for (let i = 0; i < c.n; i++) {
      if (c.t[i]! <= lastT) continue;
      total = base + c.counter[i]!;
      fold.add(c.t[i]!, c.count[i]!, c.sum[i]!, c.min[i]!, c.max[i]!, total - start);
      lastT = c.t[i]!;
    }
    stitch.end(total, c.rawLast);
    rawLast = c.rawLast;
  }
  const out = fold.out;
  if (out.n === 0) return undefined;
  out.rawFirst = chunks[0]!.rawFirst;
  out.rawLast = rawLast;
  return out;
}

/**
 * A series' native histograms in tier form (docs/format/downsampled.md): per
 * window of `res`, the window's last histogram, at its own time, said to be a
 * counter reset ("reset" hint, so it starts a chunk with that header) where the
 * counter reset inside the window or since the window before. Gauge
 * histograms stay gauges. `hs`: in time order, one per timestamp; staleness
 * markers are left out.
 */
export function lastPerWindow(hs: readonly NativeHistogram[], res: number): NativeHistogram[] {
  const out: NativeHistogram[] = [];
  let prev: NativeHistogram | undefined;
  let reset = false;
  let win = NaN;
  for (const h of hs) {
    if (isStaleHistogram(h)) continue;
    const w = Math.floor(h.t / res);
    if (w !== win) {
      reset = false;
      win = w;
      out.push(h);
    }
    if (prev && h.resetHint !== 3 && detectReset(h, prev)) reset = true;
    out[out.length - 1] = h.resetHint === 3 ? h : { ...h, resetHint: reset ? 1 : 0 };
    prev = h;
  }
  return out;
}

/** Windows as aggregate chunks of at most WINDOWS_PER_CHUNK windows. */
export function encodeAggrColumns(c: AggrColumns): BlockChunk[] {
  const out: BlockChunk[] = [];
  for (let i = 0; i < c.n; i += WINDOWS_PER_CHUNK) {
    const end = Math.min(i + WINDOWS_PER_CHUNK, c.n);
    out.push({ minT: c.t[i]!, maxT: c.t[end - 1]!, data: encodeAggrChunk(c, i, end), encoding: ENCODING_AGGR });
  }
  return out;
}

/**
 * Write the downsampled block of `sources` (raw blocks to 5 m, or 5 m blocks
 * to 1 h) into `parentDir`; undefined when nothing is left to keep.
 * `without` removes the samples of deletions in force from a raw series.
 */
export function downsampleBlocks(
  parentDir: string,
  sources: readonly BlockReader[],
  res: number,
  without: Without = { floats: (_, c) => c, histograms: (_, hs) => hs },
): { dir: string; meta: BlockMeta } | undefined {
  const from = resolutionOf(sources[0]!.meta);
  if (sources.some((b) => resolutionOf(b.meta) !== from) || from >= res) throw new Error(`downsampling to ${res} ms takes blocks of one finer resolution`);
  const out: BlockSeriesInput[] = [];
  const it = new XorIterator();
  for (const { labels, parts } of mergedSeries(sources)) {
    let agg: AggrColumns | undefined;
    // Native histograms: every source's, one per timestamp (the first source's), in time order.
    const byT = new Map<number, NativeHistogram>();
    if (from === RES_RAW) {
      const live = parts.flatMap((p) => liveChunks(p.reader, p.series, it));
      const cols = without.floats(labels, mergeChunks(live.filter((c) => !isHistogramChunk(c))));
      agg = aggregateRaw(cols, res);
      for (const c of live.filter(isHistogramChunk)) for (const h of decodeHistogramChunk(c.data, c.encoding!)) if (!byT.has(h.t)) byT.set(h.t, h);
    } else {
      const chunks: AggrColumns[] = [];
      for (const p of parts) {
        for (const m of p.series.chunks) {
          const { encoding, data } = p.reader.encodedChunk(m.ref);
          // A finer tier's histograms: their stored hints say where it saw resets.
          if (!isHistogramEncoding(encoding)) {
            chunks.push(decodeAggrChunk(data, `block ${p.reader.meta.ulid} chunk ${m.ref}`));
            continue;
          }
          for (const h of decodeHistogramChunk(data, encoding)) if (!byT.has(h.t)) byT.set(h.t, h);
        }
      }
      agg = chunks.length ? aggregateAggr(chunks.sort((a, b) => a.t[0]! - b.t[0]!), res) : undefined;
    }
    const hs = byT.size ? lastPerWindow(without.histograms(labels, [...byT.values()].sort((a, b) => a.t - b.t)), res) : [];
    const chunks = [...(agg ? encodeAggrColumns(agg) : []), ...encodeHistogramChunks(hs)];
    if (chunks.length) out.push({ labels, chunks });
  }
  if (out.length === 0) return undefined;
  const sections = mergedSections(sources.map((b) => b.meta)) as { thanos?: { downsample: { resolution: number }; source: string }; isobar?: { node: string; shards: object } };
  if (sections.thanos) sections.thanos = { ...sections.thanos, downsample: { resolution: res }, source: 'isobar-downsampler' };
  // The log records are in the raw blocks: a downsampled block holds back no truncation and sets no rebuild position.
  if (sections.isobar) sections.isobar = { ...sections.isobar, shards: {} };
  const level = Math.max(...sources.map((b) => b.meta.compaction.level));
  return writeBlock(parentDir, out, { level, sources: sourcesOf(sources), sections, span: { minTime: Math.min(...sources.map((b) => b.meta.minTime)), maxTime: Math.max(...sources.map((b) => b.meta.maxTime)) } });
}

/** What the downsampler leaves out of a raw series' floats and histograms: deletions in force. */
export interface Without {
  floats(labels: readonly string[], c: SampleColumns): SampleColumns;
  histograms(labels: readonly string[], hs: NativeHistogram[]): NativeHistogram[];
}

/** Deletions in force, as the downsampler applies them to raw series (a worker thread gets them as data). */
export function deletionFilter(deletions: readonly DeletionSpec[]): Without {
  const ranges = deletionRanges(deletions);
  return {
    floats: (labels, c) => {
      const iv = deletedIntervals(ranges, labels);
      return iv.length ? withoutIntervals(c, iv) : c;
    },
    histograms: (labels, hs) => {
      const iv = deletedIntervals(ranges, labels);
      return iv.length ? hs.filter((h) => !iv.some(([lo, hi]) => h.t >= lo && h.t <= hi)) : hs;
    },
  };
}
