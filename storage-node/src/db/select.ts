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
import { labelsKey as key, type Labels } from '../model/labels.js';
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
 * them. Sorted by labels, unless `sort` is false (the thread that evaluates
 * sorts, not the one that acknowledges writes). With `lazy`, a block's chunk
 * is read when its bytes are first used (LazyChunk): the caller must not let
 * the blocks close before, and gets to skip the series it never decodes.
 */
export function selectChunksFrom(
  blocks: readonly BlockReader[],
  after: Iterable<{ labels: Labels; chunks: () => Iterable<ChunkRange> }>,
  matchers: readonly Matcher[],
  mint: number,
  maxt: number,
  { deletions = [], sort = true, lazy = false }: { deletions?: readonly DeletionRange[]; sort?: boolean; lazy?: boolean } = {},
): SeriesChunks[] {
  const overlaps = (c: { minT: number; maxT: number }) => c.maxT >= mint && c.minT <= maxt;
  let found: SeriesChunks[];
  if (blocks.length === 0) {
    // `after` alone holds each series once: no need to find series across sources by their labels.
    found = [];
    for (const s of after) {
      const chunks: ChunkRange[] = [];
      for (const c of s.chunks()) if (overlaps(c)) chunks.push(c);
      if (chunks.length > 0) found.push({ labels: s.labels, chunks });
    }
  } else {
    const acc = new Map<string, SeriesChunks>();
    const add = (labels: Labels, chunks: Iterable<ChunkRange>) => {
      const k = key(labels);
      let e = acc.get(k);
      if (!e) acc.set(k, (e = { labels, chunks: [] }));
      for (const c of chunks) if (overlaps(c)) e.chunks.push(c);
    };
    for (const b of blocks) {
      for (const ref of b.postingsFor(matchers)) {
        const s = b.series(ref);
        add(s.labels, s.chunks.filter(overlaps).map((c) => (lazy ? new LazyChunk(b, c.ref, c.minT, c.maxT) : { minT: c.minT, maxT: c.maxT, data: b.chunk(c.ref) })));
      }
    }
    for (const s of after) add(s.labels, s.chunks());
    found = [...acc.values()];
  }
  if (deletions.length > 0) {
    for (const e of found) {
      const iv = deletedIntervals(deletions, e.labels);
      if (iv.length === 0) continue;
      const cols = withoutIntervals(mergeChunks(e.chunks), iv);
      e.chunks = cols.n ? encodeColumns(cols) : [];
    }
  }
  const out = found.filter((e) => e.chunks.length > 0);
  return sort ? sortedByLabels(out) : out;
}

/** The list sorted by labels: as it is when it already is (a check costs less than a sort). */
export function sortedByLabels<T extends { labels: Labels }>(list: T[]): T[] {
  for (let i = 1; i < list.length; i++) {
    if (compareLabelsUtf8(list[i - 1]!.labels, list[i]!.labels) > 0) return list.sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  }
  return list;
}

/** A block's chunk, read (and its checksum checked) when its bytes are first used. */
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
}

/** Series with their chunks as `selectChunksFrom`'s `after`. */
export function asAfter(list: Iterable<SeriesChunks>): Iterable<{ labels: Labels; chunks: () => Iterable<ChunkRange> }> {
  return Array.from(list, (s) => ({ labels: s.labels, chunks: () => s.chunks }));
}
