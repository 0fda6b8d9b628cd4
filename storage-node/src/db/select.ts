/**
 * A selector's chunks over blocks and what follows them (the head, bucket
 * blocks, peers' series), merged into one list per series. TenantDB reads
 * this way on the main thread; a query thread reads the local blocks it was
 * lent the same way (BlockReader.borrow), in front of the chunks the main
 * thread copied.
 */
import { encodeColumns, mergeChunks, withoutIntervals, type ChunkRange } from '../chunkenc/merge.js';
import type { BlockReader } from '../block/reader.js';
import { compareLabelsUtf8 } from '../block/utf8-order.js';
import { deletedIntervals, type DeletionRange } from '../model/deletions.js';
import type { Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';

export interface SeriesChunks {
  labels: Labels;
  chunks: ChunkRange[];
}

/**
 * The chunks (still compressed) of the series matching `matchers` that
 * overlap [mint, maxt]: the blocks' (in the order given) first, then
 * `after`'s, which holds each series once. At equal timestamps the earlier
 * chunk wins when merged. Series with deleted samples are re-encoded without
 * them. Sorted by labels: always with blocks (the sources are merged in
 * label order); with none, unless `sort` is false (the thread that evaluates
 * sorts, not the one that acknowledges writes). With `lazy`, a block's chunk
 * is read when its bytes are first used (LazyChunk): the caller must not let
 * the blocks close before, and gets to skip the series it never decodes.
 * With `part`, only that part of the answer (partRange): a block's series
 * outside it are never read.
 */
export function selectChunksFrom(
  blocks: readonly BlockReader[],
  after: Iterable<{ labels: Labels; chunks: () => Iterable<ChunkRange> }>,
  matchers: readonly Matcher[],
  mint: number,
  maxt: number,
  { deletions = [], sort = true, lazy = false, part }: { deletions?: readonly DeletionRange[]; sort?: boolean; lazy?: boolean; part?: Part } = {},
): SeriesChunks[] {
  const overlaps = (c: { minT: number; maxT: number }) => c.maxT >= mint && c.minT <= maxt;
  const postings = blocks.map((b) => b.postingsFor(matchers));
  // `after` holds each series once; of a part, only the series in its range are looked at.
  let range: ReturnType<typeof partRange> | undefined;
  let source = after;
  if (part && part.parts > 1) {
    const head = sortedByLabels(Array.from(after));
    range = partRange(blocks[0] && { block: blocks[0], refs: postings[0]! }, head, part);
    source = head.slice(...indexRange(head.length, (i) => head[i]!.labels, range));
  }
  const rest: SeriesChunks[] = [];
  for (const s of source) {
    const chunks: ChunkRange[] = [];
    for (const c of s.chunks()) if (overlaps(c)) chunks.push(c);
    if (chunks.length > 0) rest.push({ labels: s.labels, chunks });
  }
  // A block's series in label order (its postings are: its series are written sorted).
  const fromBlock = (b: BlockReader, i: number): SeriesChunks[] => {
    const list: SeriesChunks[] = [];
    let refs = postings[i]!;
    if (range) {
      const labelsAt = (i: number) => b.series(refs[i]!).labels;
      refs = refs.slice(...indexRange(refs.length, labelsAt, range));
    }
    for (const ref of refs) {
      const s = b.series(ref);
      const chunks: ChunkRange[] = [];
      for (const c of s.chunks) if (overlaps(c)) chunks.push(lazy ? new LazyChunk(b, c.ref, c.minT, c.maxT) : { minT: c.minT, maxT: c.maxT, data: b.chunk(c.ref) });
      if (chunks.length > 0) list.push({ labels: s.labels, chunks });
    }
    return sortedByLabels(list);
  };
  // With blocks, one merge of the sources in label order: a series found in
  // several is met in each at once, with no key string or map per series.
  const found = blocks.length === 0 ? rest : mergeSorted([...blocks.map((b, i) => fromBlock(b, i)), sortedByLabels(rest)]);
  if (deletions.length > 0) {
    for (const e of found) {
      const iv = deletedIntervals(deletions, e.labels);
      if (iv.length === 0) continue;
      const cols = withoutIntervals(mergeChunks(e.chunks), iv);
      e.chunks = cols.n ? encodeColumns(cols) : [];
    }
  }
  const out = found.filter((e) => e.chunks.length > 0);
  return sort && blocks.length === 0 ? sortedByLabels(out) : out; // merged lists are sorted already
}

/** Part `part` (from 0) of `parts` of a selector's series, in label order. */
export interface Part {
  part: number;
  parts: number;
}

/**
 * The label sets part `part` of a selector's series holds: [from, to) (no
 * `from`: from the first; no `to`: to the last; `none`: no series at all).
 * The bounds are the label sets at 1/parts, 2/parts, ... of the longer of
 * the list after the blocks (the head's series, sorted) and the first
 * block's (its postings for the selector, `refs`). Every thread given the
 * same blocks and head finds the same bounds, and the parts never share a
 * series: each is a range of label sets, in every source alike.
 */
export function partRange(first: { block: BlockReader; refs: readonly number[] } | undefined, head: ReadonlyArray<{ labels: Labels }>, { part, parts }: Part): { from?: Labels; to?: Labels; none?: true } {
  let n = head.length;
  let labelsAt = (i: number) => head[i]!.labels;
  if (first && first.refs.length > n) {
    n = first.refs.length;
    labelsAt = (i) => first.block.series(first.refs[i]!).labels;
  }
  if (n === 0) return part === 0 ? {} : { none: true };
  const bound = (p: number) => (p <= 0 || p >= parts ? undefined : labelsAt(Math.floor((n * p) / parts)));
  const from = bound(part);
  const to = bound(part + 1);
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

/** Of n label sets in order (labelsAt), those in `range`: [lo, hi). */
function indexRange(n: number, labelsAt: (i: number) => Labels, range: { from?: Labels; to?: Labels; none?: true }): [number, number] {
  if (range.none) return [0, 0];
  const first = (at: Labels) => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareLabelsUtf8(labelsAt(mid), at) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const lo = range.from ? first(range.from) : 0;
  return [lo, range.to ? Math.max(lo, first(range.to)) : n];
}

/**
 * Lists sorted by labels merged into one: a series in several lists once,
 * its chunks in list order (the earlier list's first). The entries are
 * reused (their chunk arrays grow).
 */
function mergeSorted(lists: SeriesChunks[][]): SeriesChunks[] {
  const live = lists.filter((l) => l.length > 0);
  if (live.length === 1) return live[0]!;
  const out: SeriesChunks[] = [];
  const at = new Int32Array(live.length);
  for (;;) {
    let min: Labels | undefined;
    for (let i = 0; i < live.length; i++) {
      const e = live[i]![at[i]!];
      if (e && (!min || compareLabelsUtf8(e.labels, min) < 0)) min = e.labels;
    }
    if (!min) return out;
    let merged: SeriesChunks | undefined;
    for (let i = 0; i < live.length; i++) {
      const e = live[i]![at[i]!];
      if (!e || (e.labels !== min && compareLabelsUtf8(e.labels, min) !== 0)) continue;
      at[i]!++;
      if (!merged) merged = e;
      else merged.chunks.push(...e.chunks); // the lists' entries and their chunk arrays are this read's own
    }
    out.push(merged!);
  }
}

/** The list sorted by labels: as it is when it already is (a check costs less than a sort). */
export function sortedByLabels<T extends { labels: Labels }>(list: T[]): T[] {
  for (let i = 1; i < list.length; i++) {
    if (compareLabelsUtf8(list[i - 1]!.labels, list[i]!.labels) > 0) return list.sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  }
  return list;
}

/**
 * A block's chunk, read (and its checksum checked) when its bytes are first
 * used, and let go by `forget` once decoded (read again if used again), so a
 * pass over many series does not hold every chunk it has read.
 */
class LazyChunk implements ChunkRange {
  private bytes: Uint8Array | undefined;

  constructor(
    private readonly block: BlockReader,
    private readonly ref: number,
    readonly minT: number,
    readonly maxT: number,
  ) {}

  get data(): Uint8Array {
    return (this.bytes ??= this.block.chunk(this.ref));
  }

  forget(): void {
    this.bytes = undefined;
  }
}

/** Series with their chunks as `selectChunksFrom`'s `after`. */
export function asAfter(list: Iterable<SeriesChunks>): Iterable<{ labels: Labels; chunks: () => Iterable<ChunkRange> }> {
  return Array.from(list, (s) => ({ labels: s.labels, chunks: () => s.chunks }));
}
