/**
 * Which blocks to downsample (docs/format/downsampled.md), decided from
 * block metas alone, so a restart or a rebuilt node decides the same:
 *
 *  - 5 m: a raw block compaction is done with at the `rawLevelMs` level (its
 *    window of that level is closed and holds no other raw block), or a raw
 *    block about to pass retention, whose sources are not all in 5 m blocks.
 *  - 1 h: the 5 m blocks of one closed `windowMs` window (7 d by default), or
 *    of a window with a 5 m block about to pass retention, when some source
 *    of theirs is in no 1 h block.
 *
 * A tier's blocks carry the compaction sources of the blocks they were made
 * from; a new one replaces the blocks of its tier whose sources it holds all
 * of (raw data merged after it was downsampled is downsampled again).
 */
import type { BlockMeta } from '../block/meta.js';
import { resolutionOf } from '../block/meta.js';
import type { BlockReader } from '../block/reader.js';
import { RES_1H, RES_5M, RES_RAW } from './downsample.js';

export interface DownsampleJob<B extends { meta: BlockMeta } = BlockReader> {
  res: number;
  sources: B[];
  /** Blocks of the tier the new block replaces. */
  replaces: BlockMeta[];
}

export interface DownsamplePlanInput<B extends { meta: BlockMeta }> {
  /** Blocks ready to be read for downsampling (local and uploaded, or bucket-only), any resolution. */
  ready: readonly B[];
  /** Every block of the tenant, local and bucket-only. */
  all: readonly BlockMeta[];
  /** Which tiers are kept. */
  tiers: { [RES_5M]: boolean; [RES_1H]: boolean };
  /** The compaction level after which raw blocks are downsampled (24 h by default). */
  rawLevelMs: number;
  /** The span of a 1 h block (the top compaction level, 7 d by default). */
  windowMs: number;
  /** Blocks ending at or before these are about to be deleted: downsampled first. */
  rawCutoff: number;
  m5Cutoff: number;
}

const sourcesOfMeta = (m: BlockMeta) => m.compaction.sources ?? [m.ulid];
const overlaps = (m: BlockMeta, from: number, to: number) => m.minTime < to && m.maxTime > from;

export function planDownsampling<B extends { meta: BlockMeta }>(p: DownsamplePlanInput<B>): Array<DownsampleJob<B>> {
  const jobs: Array<DownsampleJob<B>> = [];
  const of = (res: number) => p.all.filter((m) => resolutionOf(m) === res);
  const newest = Math.max(-Infinity, ...p.all.map((m) => m.maxTime));
  const coveredBy = (res: number) => new Set(of(res).flatMap(sourcesOfMeta));
  const replaced = (res: number, sources: readonly string[]) => {
    const set = new Set(sources);
    return of(res).filter((m) => sourcesOfMeta(m).every((s) => set.has(s)));
  };

  if (p.tiers[RES_5M]) {
    const covered = coveredBy(RES_5M);
    const rawAll = of(RES_RAW);
    for (const b of p.ready.filter((r) => resolutionOf(r.meta) === RES_RAW)) {
      const sources = sourcesOfMeta(b.meta);
      if (sources.every((s) => covered.has(s))) continue;
      const L = p.rawLevelMs;
      const start = Math.floor(b.meta.minTime / L) * L;
      const above = b.meta.maxTime > start + L; // spans windows: past this level already
      const settled = above || (start + L <= newest && !rawAll.some((m) => m.ulid !== b.meta.ulid && overlaps(m, start, start + L)));
      if (!settled && b.meta.maxTime > p.rawCutoff) continue;
      jobs.push({ res: RES_5M, sources: [b], replaces: replaced(RES_5M, sources) });
    }
  }

  if (p.tiers[RES_1H]) {
    const covered = coveredBy(RES_1H);
    const W = p.windowMs;
    const windows = new Map<number, BlockMeta[]>();
    for (const m of of(RES_5M)) {
      const start = Math.floor(m.minTime / W) * W;
      let w = windows.get(start);
      if (!w) windows.set(start, (w = []));
      w.push(m);
    }
    for (const [start, metas] of [...windows].sort((a, b) => a[0] - b[0])) {
      const group = p.ready.filter((r) => metas.some((m) => m.ulid === r.meta.ulid));
      if (group.length < metas.length) continue; // some not uploaded yet: wait for them
      const sources = [...new Set(metas.flatMap(sourcesOfMeta))];
      if (sources.every((s) => covered.has(s))) continue;
      const closed = start + W <= newest;
      if (!closed && !metas.some((m) => m.maxTime <= p.m5Cutoff)) continue;
      jobs.push({ res: RES_1H, sources: group.sort((a, b) => a.meta.minTime - b.meta.minTime), replaces: replaced(RES_1H, sources) });
    }
  }
  return jobs;
}
