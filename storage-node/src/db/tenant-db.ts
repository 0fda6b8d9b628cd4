/**
 * One tenant's data on a node: the in-memory head, its WAL, and its blocks on
 * disk (`<node dir>/blocks/<tenant>/<ULID>/`, Prometheus format), read together.
 *
 * Flush cuts everything in the head into blocks aligned to the block range
 * (2 h by default, as Prometheus aligns them), fsyncs them, then empties the
 * head and the WAL. Reads merge the head and every block that overlaps the
 * requested time range; a series present in several places is one series.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { encodeColumns, mergeChunks, withoutIntervals, type ChunkRange, type SampleColumns } from '../chunkenc/merge.js';
import { TMP_BLOCK_SUFFIX } from '../block/filenames.js';
import { BlockSet } from './block-set.js';
import { BlockReader, isHistogramEncoding, listBlocks } from '../block/reader.js';
import { compareLabelsUtf8, compareUtf8 } from '../block/utf8-order.js';
import { deletedIntervals } from '../model/deletions.js';
import { selectChunksFrom, type SeriesChunks } from './select.js';
import { writeBlock, type BlockChunk, type BlockSeriesInput } from '../block/writer.js';
import { TenantHead } from '../head/head.js';
import { decodeHistogramChunk, encodeHistogramChunks, interleaveChunks } from '../chunkenc/histogram.js';
import type { NativeHistogram } from '../../../wire/histogram.js';
import { ExemplarStore } from './exemplars.js';
import { DEFAULT_MAX_EXEMPLARS } from '../../../wire/internal-api.js';
import { MetadataStore } from './metadata.js';
import { labelsKey as key, type Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import { Wal } from '../wal/wal.js';
import type { BlockCache, RemoteBlock } from '../bucket/remote-block.js';
import { UPLOADED_MARKER } from '../bucket/shipper.js';
import { resolutionOf, RES_RAW } from '../block/meta.js';
import { AGGR_COLUMNS, decodeAggrChunk, emptyAggr, encodeAggrChunk, type AggrColumns, type TierChunk } from '../chunkenc/aggr-chunk.js';

/** Does a block of `meta` overlap [mint, maxt] at resolution `res` (any, with 'any')? */
function overlapsBlock(meta: BlockReader['meta'], mint: number, maxt: number, res: number | 'any'): boolean {
  return meta.minTime <= maxt && meta.maxTime > mint && (res === 'any' || resolutionOf(meta) === res);
}

/** Head series a query reads per turn of the event loop (TenantDB.selectChunksLater): about 3 ms of work. */
export const HEAD_SLICE_SERIES = 512;

/** Default block range: Prometheus's 2 h. */
export const DEFAULT_BLOCK_RANGE_MS = 2 * 60 * 60 * 1000;

export interface TenantPaths {
  blocksDir: string;
  walDir: string;
}

export interface SeriesColumns extends SampleColumns {
  labels: Labels;
}

export interface SeriesSamples {
  labels: Labels;
  samples: Array<[number, number]>;
}

/** A delete_series request: samples of series matching `matchers` in [mint, maxt] are gone. */
export interface Deletion {
  /** The selector as given (kept in the tenant's deletions file). */
  selector: string;
  matchers: Matcher[];
  mint: number;
  maxt: number;
}

/** Aggregate windows without those whose time is inside any of the intervals. */
function withoutWindows(c: AggrColumns, intervals: ReadonlyArray<readonly [number, number]>): AggrColumns {
  const keep: number[] = [];
  for (let i = 0; i < c.n; i++) if (!intervals.some(([lo, hi]) => c.t[i]! >= lo && c.t[i]! <= hi)) keep.push(i);
  if (keep.length === c.n) return c;
  const out = emptyAggr(Math.max(1, keep.length));
  out.n = keep.length;
  out.rawFirst = c.rawFirst;
  out.rawLast = c.rawLast;
  keep.forEach((i, j) => {
    for (const k of AGGR_COLUMNS) out[k][j] = c[k][i]!;
  });
  return out;
}

export class TenantDB {
  head = new TenantHead();
  /** Blocks with local files, in time order (changed only through the set). */
  readonly localBlocks = new BlockSet<BlockReader>();
  /** Blocks only in the bucket, read through the caches (`prepare` before reading), in time order. */
  readonly remoteBlocks = new BlockSet<RemoteBlock>();

  /** The local blocks, in time order (a snapshot: later changes make a new array). */
  get blocks(): readonly BlockReader[] {
    return this.localBlocks.all;
  }

  /** The bucket-only blocks, in time order (a snapshot). */
  get remote(): readonly RemoteBlock[] {
    return this.remoteBlocks.all;
  }
  /** Local blocks (ULIDs) whose copy in the bucket is complete. */
  readonly uploaded = new Set<string>();
  cache: BlockCache | undefined;
  readonly wal: Wal | undefined;
  /** The newest exemplars (capacity: the tenant's max_exemplars shares of the shards applied here). */
  readonly exemplars = new ExemplarStore(DEFAULT_MAX_EXEMPLARS);
  readonly metadata = new MetadataStore();

  constructor(
    readonly tenant: string,
    readonly paths?: TenantPaths,
  ) {
    this.wal = paths ? new Wal(paths.walDir) : undefined;
  }

  /** Open the blocks already on disk, removing `*.tmp-for-creation` folders a crash left behind. */
  openBlocks(): number {
    if (!this.paths) return 0;
    mkdirSync(this.paths.blocksDir, { recursive: true });
    for (const n of readdirSync(this.paths.blocksDir)) {
      if (n.endsWith(TMP_BLOCK_SUFFIX)) rmSync(join(this.paths.blocksDir, n), { recursive: true, force: true });
    }
    for (const ulid of listBlocks(this.paths.blocksDir)) {
      this.localBlocks.add(BlockReader.open(join(this.paths.blocksDir, ulid)));
      if (existsSync(join(this.paths.blocksDir, ulid, UPLOADED_MARKER))) this.uploaded.add(ulid);
    }
    return this.blocks.length;
  }

  /**
   * Write everything in the head to blocks, one per block range it touches.
   * Returns the new blocks' metas. The caller records positions and truncates the WAL.
   */
  flushHead(blockRangeMs = DEFAULT_BLOCK_RANGE_MS, sections?: Record<string, unknown>): Array<BlockReader['meta']> {
    if (!this.paths) throw new Error('flush needs a data directory');
    const byRange = new Map<number, BlockSeriesInput[]>();
    // A series' chunks of one range: its floats', then its histograms' (added right after), interleaved.
    const add = (start: number, labels: Labels, chunks: BlockChunk[]) => {
      let list = byRange.get(start);
      if (!list) byRange.set(start, (list = []));
      const last = list[list.length - 1];
      if (last && last.labels === labels) list[list.length - 1] = { labels, chunks: interleaveChunks(last.chunks, chunks) };
      else list.push({ labels, chunks });
    };
    for (const s of this.head.select([], -Infinity, Infinity)) {
      if ((s.ooo?.n ?? 0) === 0 && (this.deletions.length === 0 || deletedIntervals(this.deletions, s.labels).length === 0)) {
        // In order and nothing deleted: the head's chunks go to the block as they are.
        for (const [start, chunks] of chunksByRange(s.chunks(), blockRangeMs)) add(start, s.labels, chunks);
      } else {
        // In-order and out-of-order samples together, sorted, one per timestamp; deleted ones left out.
        const cols = this.deleted(s.labels, mergeChunks(s.chunks()));
        for (const [start, from, to] of rangesOf(cols, blockRangeMs)) add(start, s.labels, encodeColumns(cols, from, to));
      }
      if (s.hist) for (const [start, hs] of this.histogramsByRange(s.labels, s.hist.all(), blockRangeMs)) add(start, s.labels, encodeHistogramChunks(hs));
    }
    const metas: Array<BlockReader['meta']> = [];
    for (const start of [...byRange.keys()].sort((a, b) => a - b)) {
      const { dir, meta } = writeBlock(this.paths.blocksDir, byRange.get(start)!, sections ? { sections } : {});
      this.localBlocks.add(BlockReader.open(dir));
      metas.push(meta);
    }
    this.head = new TenantHead();
    return metas;
  }

  /** A series' native histograms by the block range they fall in, deleted ones left out. */
  private histogramsByRange(labels: Labels, hs: readonly NativeHistogram[], blockRangeMs: number): Map<number, NativeHistogram[]> {
    const gone = this.deletions.length ? deletedIntervals(this.deletions, labels) : [];
    const byStart = new Map<number, NativeHistogram[]>();
    for (const h of hs) {
      if (gone.some(([lo, hi]) => h.t >= lo && h.t <= hi)) continue;
      const start = Math.floor(h.t / blockRangeMs) * blockRangeMs;
      const list = byStart.get(start);
      if (list) list.push(h);
      else byStart.set(start, [h]);
    }
    return byStart;
  }

  /**
   * Local blocks and (prepared) bucket blocks overlapping [mint, maxt]: of one
   * resolution (raw, 0, unless said), or of any (`'any'`: label lookups, where
   * downsampled blocks hold the same series).
   */
  private overlapping(mint: number, maxt: number, res: number | 'any' = RES_RAW): BlockReader[] {
    return [...this.localOverlapping(mint, maxt, res), ...this.remoteOverlapping(mint, maxt, res)];
  }

  private localOverlapping(mint: number, maxt: number, res: number | 'any'): BlockReader[] {
    return this.blocks.filter((b) => overlapsBlock(b.meta, mint, maxt, res));
  }

  private remoteOverlapping(mint: number, maxt: number, res: number | 'any'): BlockReader[] {
    const out: BlockReader[] = [];
    for (const r of this.remote) {
      if (!overlapsBlock(r.meta, mint, maxt, res)) continue;
      if (!r.reader) throw new Error(`bucket block ${this.tenant}/${r.meta.ulid} read without prepare()`);
      out.push(r.reader);
    }
    return out;
  }

  /**
   * Read [mint, maxt]: first the bucket blocks it overlaps get their indexes
   * opened and, with `chunksFor`, the chunks those selectors need fetched
   * (with `parts`, only blocks of each part's resolution in its range); then
   * `fn` reads, right after, with no await in between, which is what the
   * caches need (remote-block.ts). The one way in for reads that may touch the
   * bucket.
   */
  async read<T>(mint: number, maxt: number, fn: () => T, chunksFor?: readonly (readonly Matcher[])[], parts?: ReadonlyArray<{ res: number; mint: number; maxt: number }>): Promise<T> {
    await this.prepare(mint, maxt, chunksFor, parts);
    return fn();
  }

  private async prepare(mint: number, maxt: number, chunksFor?: readonly (readonly Matcher[])[], parts?: ReadonlyArray<{ res: number; mint: number; maxt: number }>): Promise<void> {
    // With `parts`, only blocks of each part's resolution in its range (a read through downsampled tiers).
    const ranges = parts ?? [{ res: -1, mint, maxt }];
    const hit: Array<{ r: RemoteBlock; mint: number; maxt: number }> = [];
    for (const r of this.remote) {
      const p = ranges.find((x) => (x.res < 0 || x.res === resolutionOf(r.meta)) && r.meta.minTime <= x.maxt && r.meta.maxTime > x.mint);
      if (p) hit.push({ r, mint: p.mint, maxt: p.maxt });
    }
    if (hit.length === 0) return;
    const epoch = this.cache?.begin();
    try {
      await Promise.all(hit.map((h) => h.r.openIndex()));
      if (chunksFor) for (const ms of chunksFor) await Promise.all(hit.map((h) => h.r.prefetch(ms, h.mint, h.maxt)));
    } finally {
      if (epoch !== undefined) this.cache!.end(epoch);
    }
  }

  /** Deletions in force (delete_series), applied to every read and to flushes. */
  deletions: Deletion[] = [];

  private deleted(labels: Labels, cols: SampleColumns): SampleColumns {
    if (this.deletions.length === 0) return cols;
    const iv = deletedIntervals(this.deletions, labels);
    return iv.length ? withoutIntervals(cols, iv) : cols;
  }

  /**
   * Delete the samples of series matching `matchers` in [mint, maxt]: reads
   * leave them out at once; flushes do not write them; blocks get tombstones,
   * so compaction rewrites them without the samples. Returns the tombstones
   * to write, per block directory (the caller writes them durably).
   */
  addDeletion(d: Deletion): Map<BlockReader, Array<{ ref: number; minT: number; maxT: number }>> {
    this.deletions.push(d);
    const stones = new Map<BlockReader, Array<{ ref: number; minT: number; maxT: number }>>();
    // Local raw blocks only: bucket and downsampled blocks have the deletion applied when read (and in deletions.json).
    for (const b of this.localOverlapping(d.mint, d.maxt, RES_RAW)) {
      const add = [...b.postingsFor(d.matchers)].map((ref) => ({ ref, minT: Math.max(d.mint, b.meta.minTime), maxT: Math.min(d.maxt, b.meta.maxTime) }));
      if (add.length) stones.set(b, add);
    }
    return stones;
  }

  /** Label sets of series matching any of the selectors with samples in [mint, maxt], sorted, unique. */
  seriesLabels(sets: readonly Matcher[][], mint: number, maxt: number): Labels[] {
    if (this.deletions.length > 0) return this.seriesLabelsAfterDeletions(sets, mint, maxt);
    const out = new Map<string, Labels>();
    for (const ms of sets) for (const s of this.head.select(ms, mint, maxt)) out.set(key(s.labels), s.labels);
    for (const b of this.overlapping(mint, maxt, 'any')) {
      for (const ms of sets) {
        for (const ref of b.postingsFor(ms)) {
          const s = b.series(ref);
          if (s.chunks.some((c) => c.maxT >= mint && c.minT <= maxt)) out.set(key(s.labels), s.labels);
        }
      }
    }
    return [...out.values()].sort(compareLabelsUtf8);
  }

  /** With deletions in force: the series that still have samples (or native histograms) in [mint, maxt] (reads them). */
  private seriesLabelsAfterDeletions(sets: readonly Matcher[][], mint: number, maxt: number): Labels[] {
    const out = new Map<string, Labels>();
    for (const ms of sets) {
      for (const s of this.selectChunks(ms, mint, maxt)) out.set(key(s.labels), s.labels);
      for (const s of this.selectHistograms(ms, mint, maxt)) out.set(key(s.labels), s.labels);
    }
    return [...out.values()].sort(compareLabelsUtf8);
  }

  /**
   * The native histograms of the series matching `matchers` in [mint, maxt]:
   * blocks' (local, and bucket blocks read through `read`), then the head's;
   * one per timestamp (the first source's), deleted ones left out; series
   * sorted by labels, each one's histograms by time. `res`: a downsampled
   * tier's instead (each window's last histogram, docs/format/downsampled.md),
   * with their stored reset hints: the downsampler marked the windows where
   * the counter reset.
   */
  selectHistograms(matchers: readonly Matcher[], mint: number, maxt: number, res = RES_RAW): Array<{ labels: Labels; histograms: NativeHistogram[] }> {
    const bySeries = new Map<string, { labels: Labels; histograms: NativeHistogram[] }>();
    const add = (labels: Labels, hs: readonly NativeHistogram[]) => {
      const k = key(labels);
      let e = bySeries.get(k);
      if (!e) bySeries.set(k, (e = { labels, histograms: [] }));
      for (const h of hs) if (h.t >= mint && h.t <= maxt) e.histograms.push(h);
    };
    // Only blocks that hold histograms are read (their meta says; a block without the count holds none).
    for (const b of this.overlapping(mint, maxt, res).filter((x) => (x.meta.stats?.numHistogramSamples ?? 0) > 0)) {
      for (const ref of b.postingsFor(matchers)) {
        const s = b.series(ref);
        for (const c of s.chunks) {
          if (c.maxT < mint || c.minT > maxt) continue;
          const { encoding, data } = b.encodedChunk(c.ref);
          if (isHistogramEncoding(encoding)) add(s.labels, decodeHistogramChunk(data, encoding, res === RES_RAW ? 'read' : 'stored'));
        }
      }
    }
    if (res === RES_RAW) for (const s of this.head.select(matchers, mint, maxt)) if (s.hist) add(s.labels, s.hist.all('read'));
    const out: Array<{ labels: Labels; histograms: NativeHistogram[] }> = [];
    for (const e of bySeries.values()) {
      const gone = this.deletions.length ? deletedIntervals(this.deletions, e.labels) : [];
      const seen = new Set<number>();
      const hs = e.histograms.filter((h) => !seen.has(h.t) && seen.add(h.t) && !gone.some(([lo, hi]) => h.t >= lo && h.t <= hi)).sort((x, y) => x.t - y.t);
      if (hs.length) out.push({ labels: e.labels, histograms: hs });
    }
    return out.sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  }

  labelNames(sets: readonly Matcher[][], mint: number, maxt: number): string[] {
    const names = new Set<string>();
    if (sets.length === 0 && this.deletions.length === 0) {
      for (const n of this.head.labelNames(mint, maxt)) names.add(n);
      for (const b of this.overlapping(mint, maxt, 'any')) for (const n of b.labelNames()) names.add(n);
    } else {
      for (const ls of this.seriesLabels(sets.length ? sets : [[]], mint, maxt)) for (let i = 0; i < ls.length; i += 2) names.add(ls[i]!);
    }
    return [...names].sort(compareUtf8);
  }

  labelValues(name: string, sets: readonly Matcher[][], mint: number, maxt: number): string[] {
    const values = new Set<string>();
    if (sets.length === 0 && this.deletions.length === 0) {
      for (const v of this.head.labelValues(name, mint, maxt)) values.add(v);
      for (const b of this.overlapping(mint, maxt, 'any')) for (const v of b.labelValues(name)) values.add(v);
    } else {
      for (const ls of this.seriesLabels(sets.length ? sets : [[]], mint, maxt)) for (let i = 0; i < ls.length; i += 2) if (ls[i] === name) values.add(ls[i + 1]!);
    }
    return [...values].sort(compareUtf8);
  }

  /**
   * The chunks (still compressed) of every series matching `matchers` that
   * overlap [mint, maxt], blocks first then the head: at equal timestamps the
   * earlier chunk wins when merged. Sorted by labels.
   */
  selectChunks(matchers: readonly Matcher[], mint: number, maxt: number): SeriesChunks[] {
    return selectChunksFrom(this.overlapping(mint, maxt), this.head.select(matchers, mint, maxt), matchers, mint, maxt, { deletions: this.deletions });
  }

  /**
   * selectChunks with the local blocks left for a query thread to read: those
   * blocks (lease them before this thread's next turn), and the chunks of the
   * bucket blocks and the head, in slices of `sliceSize` series. The
   * reader puts the blocks' chunks in front (selectChunksFrom) and applies
   * the deletions in force; with no local block, the slices are the whole
   * answer. Not sorted: the reader sorts.
   *
   * Each slice is read when asked for, so a caller may give the event loop
   * back between slices (a series is read whole in one slice). The bucket's
   * blocks are read in the first slice, with all of the head, as `read`
   * requires.
   */
  selectChunksLater(matchers: readonly Matcher[], mint: number, maxt: number, sliceSize = HEAD_SLICE_SERIES): { local: BlockReader[]; slices: Generator<SeriesChunks[]> } {
    const local = this.localOverlapping(mint, maxt, RES_RAW);
    const remote = this.remoteOverlapping(mint, maxt, RES_RAW);
    const opts = { deletions: local.length ? [] : this.deletions, sort: false };
    const head = this.head;
    function* slices(): Generator<SeriesChunks[]> {
      const series = head.select(matchers, mint, maxt);
      if (remote.length > 0) return yield selectChunksFrom(remote, series, matchers, mint, maxt, opts);
      for (let i = 0; i < series.length; i += sliceSize) yield selectChunksFrom([], series.slice(i, i + sliceSize), matchers, mint, maxt, opts);
    }
    return { local, slices: slices() };
  }

  /**
   * Samples of the series matching `matchers` in [mint, maxt], merged over the
   * head and the blocks: sorted by time, one sample per timestamp (blocks in
   * time order first, then the head). Values stay in Float64Arrays, so
   * staleness markers keep their exact bits. The query engine's input.
   */
  selectColumns(matchers: readonly Matcher[], mint: number, maxt: number): SeriesColumns[] {
    const out: SeriesColumns[] = [];
    for (const e of this.selectChunks(matchers, mint, maxt)) {
      const cols = mergeChunks(e.chunks, mint, maxt);
      if (cols.n > 0) out.push({ labels: e.labels, ...cols });
    }
    return out;
  }

  /**
   * Where a downsampled tier can answer alone: from its oldest block's start
   * to its newest block's end (exclusive), cut short at the start of the first
   * finer block (raw, or a finer tier) whose data it does not hold yet (by
   * compaction sources: a day not downsampled yet, data merged in since).
   * Undefined without blocks of `res`.
   */
  tierSpan(res: number): { minTime: number; maxTime: number } | undefined {
    const metas = [...this.blocks.map((b) => b.meta), ...this.remote.map((r) => r.meta)];
    let minTime = Infinity;
    let maxTime = -Infinity;
    const held = new Set<string>();
    for (const m of metas) {
      if (resolutionOf(m) !== res) continue;
      minTime = Math.min(minTime, m.minTime);
      maxTime = Math.max(maxTime, m.maxTime);
      for (const s of m.compaction.sources ?? [m.ulid]) held.add(s);
    }
    for (const m of metas) {
      if (resolutionOf(m) >= res || (m.compaction.sources ?? [m.ulid]).every((s) => held.has(s))) continue;
      maxTime = Math.min(maxTime, m.minTime);
    }
    return maxTime > minTime ? { minTime, maxTime } : undefined;
  }

  /**
   * The aggregate chunks of resolution `res` (still compressed) of the series
   * matching `matchers` that overlap [mint, maxt], per series in time order,
   * sorted by labels. Deletions in force drop the windows whose time falls
   * inside them (downsampled data is deleted at window granularity): such
   * chunks are re-encoded without them.
   */
  aggregateChunks(matchers: readonly Matcher[], mint: number, maxt: number, res: number): Array<{ labels: Labels; chunks: TierChunk[] }> {
    const acc = new Map<string, { labels: Labels; chunks: TierChunk[] }>();
    for (const b of this.overlapping(mint, maxt, res)) {
      for (const ref of b.postingsFor(matchers)) {
        const s = b.series(ref);
        let e = acc.get(key(s.labels));
        for (const c of s.chunks) {
          if (c.maxT < mint || c.minT > maxt) continue;
          // A tier's native histograms are read apart (tierHistograms).
          const { encoding, data } = b.encodedChunk(c.ref);
          if (isHistogramEncoding(encoding)) continue;
          if (!e) acc.set(key(s.labels), (e = { labels: s.labels, chunks: [] }));
          e.chunks.push({ minT: c.minT, maxT: c.maxT, data, resolution: res, where: `block ${b.meta.ulid} chunk ${c.ref}` });
        }
      }
    }
    const out = [...acc.values()];
    for (const e of out) {
      e.chunks.sort((a, b) => a.minT - b.minT);
      if (this.deletions.length === 0) continue;
      const iv = deletedIntervals(this.deletions, e.labels);
      if (iv.length === 0) continue;
      e.chunks = e.chunks.flatMap((c) => {
        const kept = withoutWindows(decodeAggrChunk(c.data, c.where), iv);
        return kept.n ? [{ ...c, minT: kept.t[0]!, maxT: kept.t[kept.n - 1]!, data: encodeAggrChunk(kept) }] : [];
      });
    }
    return out.filter((e) => e.chunks.length > 0).sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  }

  /** selectColumns as [t, v] pairs (tests and the internal JSON API; NaN payload bits may be lost). */
  select(matchers: readonly Matcher[], mint: number, maxt: number): SeriesSamples[] {
    return this.selectColumns(matchers, mint, maxt).map((s) => ({ labels: s.labels, samples: Array.from({ length: s.n }, (_, i) => [s.t[i]!, s.v[i]!] as [number, number]) }));
  }

  close(): void {
    this.wal?.close();
    for (const b of this.blocks) b.whenFree(() => b.close());
    for (const r of this.remote) r.closeIndex();
  }
}

/** [block start, from, to) runs of sorted columns, one per block range they touch. */
function* rangesOf(cols: SampleColumns, blockRangeMs: number): Generator<[number, number, number]> {
  let i = 0;
  while (i < cols.n) {
    const start = Math.floor(cols.t[i]! / blockRangeMs) * blockRangeMs;
    let j = i;
    while (j < cols.n && cols.t[j]! < start + blockRangeMs) j++;
    yield [start, i, j];
    i = j;
  }
}

/**
 * In-order chunks (sorted, not overlapping) by the block range they fall in,
 * their bytes untouched; only a chunk across a range boundary is decoded and
 * cut in two.
 */
function chunksByRange(chunks: Iterable<BlockChunk>, blockRangeMs: number): Map<number, BlockChunk[]> {
  const out = new Map<number, BlockChunk[]>();
  const put = (start: number, c: BlockChunk[]) => {
    const list = out.get(start);
    if (list) list.push(...c);
    else out.set(start, c);
  };
  for (const c of chunks) {
    const start = Math.floor(c.minT / blockRangeMs) * blockRangeMs;
    if (c.maxT < start + blockRangeMs) {
      put(start, [c]);
      continue;
    }
    const cols = mergeChunks([c]);
    for (const [s, from, to] of rangesOf(cols, blockRangeMs)) put(s, encodeColumns(cols, from, to));
  }
  return out;
}
