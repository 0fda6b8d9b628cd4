/**
 * A node's block maintenance, run on a schedule (main.ts) and after flushes:
 * merge overlapping blocks, compact levels, downsample, and delete what is
 * past retention, for every tenant. With a bucket, only uploaded blocks take
 * part (uploads then go in flush order), and blocks only in the bucket (a
 * rebuilt node's) are downloaded when a job needs them. Blocks that leave are
 * marked for deletion in the bucket through BucketSync.
 */
import type { Logger } from '../../../wire/log.js';
import { BlockReader } from '../block/reader.js';
import { resolutionOf, type BlockMeta } from '../block/meta.js';
import type { BlockCache, RemoteBlock } from '../bucket/remote-block.js';
import type { Shipper } from '../bucket/shipper.js';
import { deleteBlock, planCompaction } from '../compact/compactor.js';
import type { MergeRunner } from '../jobs/runner.js';
import type { TenantDB } from '../db/tenant-db.js';
import { RES_1H, RES_5M, RES_RAW } from '../downsample/downsample.js';
import { planDownsampling } from '../downsample/planner.js';
import type { NodeMetrics } from './metrics.js';
import { tierName } from '../promql/tiers.js';
import type { BucketSync } from './bucket-sync.js';
import type { TierRetention } from './state-files.js';
import { deletionSpecs } from '../model/deletions.js';

/** A block compaction or downsampling may take: a local one, or one only in the bucket (downloaded first). */
type Candidate = BlockReader | { meta: BlockMeta; tombstones: never[]; remote: RemoteBlock };

/** What maintenance reads and changes of the store. */
export interface MaintenanceHost {
  readonly dbs: ReadonlyMap<string, TenantDB>;
  readonly bucket: { shipper: Shipper; cache: BlockCache } | undefined;
  readonly sync: BucketSync | undefined;
  readonly metrics: NodeMetrics;
  readonly log: Logger;
  retentionOf(tenant: string): number;
  tiersOf(tenant: string): TierRetention;
}

export class Maintenance {
  private running = false;

  constructor(
    private readonly host: MaintenanceHost,
    /** Compaction levels: block ranges, the first the head's (default block range x 1, 3, 12, 84). */
    private readonly levels: readonly number[],
  ) {}

  /**
   * Merge overlapping blocks, then compact levels (block range x 1, 3, 12, 84:
   * 2 h -> 6 h -> 24 h -> 7 d by default, or `compactionRangesMs`), then
   * downsample (downsample/planner.ts), then delete blocks wholly past their
   * retention (raw, and each tier's). One run at a time; `merge` decides
   * where the merging work happens (a worker thread in the node process),
   * while swapping readers and deleting sources happens here, between requests.
   */
  async run(nowMs: number, merge: MergeRunner): Promise<{ compactions: number; downsampled: number; deleted: number }> {
    if (this.running) return { compactions: 0, downsampled: 0, deleted: 0 };
    this.running = true;
    try {
      const levels = this.levels;
      let compactions = 0;
      let downsampled = 0;
      let deleted = 0;
      for (const [tenant, db] of this.host.dbs) {
        if (!db.paths) continue;
        // With a bucket, only uploaded blocks compact: uploads then go in flush order (see durable()).
        // Blocks only in the bucket (a rebuilt node's) take part too: downloaded when a group needs them.
        const ready = (): Candidate[] => [...(this.host.bucket ? db.blocks.filter((b) => db.uploaded.has(b.meta.ulid)) : db.blocks), ...db.remote.map((remote) => ({ meta: remote.meta, tombstones: [], remote }))];
        const readyRaw = () => ready().filter((b) => resolutionOf(b.meta) === RES_RAW);
        for (let planned = planCompaction(readyRaw(), levels); planned; planned = planCompaction(readyRaw(), levels)) {
          const t0 = performance.now();
          const group = await this.localize(tenant, db, planned);
          const dir = await merge(db.paths.blocksDir, group);
          const fresh = dir ? BlockReader.open(dir) : undefined; // none: deletions left nothing
          db.localBlocks.remove((b) => group.includes(b));
          if (fresh) db.localBlocks.add(fresh);
          for (const b of group) deleteBlock(b);
          // The sources leave the bucket once the new block is there (marked then, by ship()); or now, if none was made.
          if (!fresh) for (const b of group) this.host.sync?.mark(tenant, b.meta.ulid, 'emptied by deletions');
          compactions++;
          this.host.metrics.compactions++;
          const m = fresh?.meta;
          this.host.log.info('compacted blocks', { tenant, sources: group.length, ...(m ? { ulid: m.ulid, level: m.compaction.level, minTime: m.minTime, maxTime: m.maxTime } : { emptied: true }), ms: Math.round(performance.now() - t0) });
        }
        downsampled += await this.downsample(tenant, db, levels, nowMs, ready(), merge);
        const expired = new Set([...db.blocks.map((b) => b.meta), ...db.remote.map((r) => r.meta)].filter((m) => m.maxTime <= this.cutoff(tenant, resolutionOf(m), nowMs)).map((m) => m.ulid));
        if (expired.size) {
          this.retire(tenant, db, expired, 'past retention');
          deleted += expired.size;
          this.host.log.info('deleted blocks past retention', { tenant, blocks: expired.size, retentionDays: this.host.retentionOf(tenant) / 86_400_000 });
        }
      }
      return { compactions, downsampled, deleted };
    } finally {
      this.running = false;
    }
  }

  /** Make the downsampled blocks the planner asks for; returns how many were made. */
  private async downsample(tenant: string, db: TenantDB, levels: readonly number[], nowMs: number, ready: Candidate[], merge: MergeRunner): Promise<number> {
    const tiers = this.host.tiersOf(tenant);
    if (!(tiers[RES_5M] > 0) && !(tiers[RES_1H] > 0)) return 0;
    const jobs = planDownsampling({
      ready,
      all: [...db.blocks.map((b) => b.meta), ...db.remote.map((r) => r.meta)],
      tiers: { [RES_5M]: tiers[RES_5M] > 0, [RES_1H]: tiers[RES_1H] > 0 },
      rawLevelMs: levels[Math.min(2, levels.length - 1)]!,
      windowMs: levels[levels.length - 1]!,
      rawCutoff: this.cutoff(tenant, RES_RAW, nowMs),
      m5Cutoff: this.cutoff(tenant, RES_5M, nowMs),
    });
    let made = 0;
    for (const job of jobs) {
      const here = (c: Candidate) => ('remote' in c ? db.remote.includes(c.remote) : db.blocks.includes(c));
      if (!job.sources.every(here)) continue; // gone meanwhile (an earlier job replaced it)
      const t0 = performance.now();
      const sources = await this.localize(tenant, db, job.sources);
      const dir = await merge(db.paths!.blocksDir, sources, { res: job.res, deletions: deletionSpecs(db.deletions) });
      if (!dir) continue; // deletions left nothing to keep
      const fresh = BlockReader.open(dir);
      db.localBlocks.add(fresh);
      if (job.replaces.length) this.retire(tenant, db, new Set(job.replaces.map((m) => m.ulid)), `replaced by downsampled block ${fresh.meta.ulid}`);
      made++;
      this.host.log.info('downsampled blocks', { tenant, tier: tierName(job.res), sources: job.sources.length, ulid: fresh.meta.ulid, minTime: fresh.meta.minTime, maxTime: fresh.meta.maxTime, replaced: job.replaces.length, ms: Math.round(performance.now() - t0) });
    }
    return made;
  }

  /** The blocks of a plan as local blocks: those only in the bucket are downloaded first (and then served locally). */
  private async localize(tenant: string, db: TenantDB, planned: readonly Candidate[]): Promise<BlockReader[]> {
    const out: BlockReader[] = [];
    for (const c of planned) {
      if (!('remote' in c)) {
        out.push(c);
        continue;
      }
      const t0 = performance.now();
      const dir = await this.host.bucket!.shipper.download(tenant, c.meta.ulid, db.paths!.blocksDir);
      const reader = BlockReader.open(dir);
      db.remoteBlocks.remove((r) => r === c.remote);
      this.host.bucket!.cache.drop(c.remote);
      db.uploaded.add(c.meta.ulid);
      db.localBlocks.add(reader);
      this.host.log.info('bucket block downloaded to compact', { tenant, ulid: c.meta.ulid, bytes: reader.bytes(), ms: Math.round(performance.now() - t0) });
      out.push(reader);
    }
    return out;
  }

  /** Drop blocks (local or bucket-only) from this node; those in the bucket get deletion marks. */
  private retire(tenant: string, db: TenantDB, ulids: ReadonlySet<string>, why: string): void {
    const local = db.localBlocks.remove((b) => ulids.has(b.meta.ulid));
    const remote = db.remoteBlocks.remove((r) => ulids.has(r.meta.ulid));
    for (const b of local) {
      if (db.uploaded.has(b.meta.ulid)) this.host.sync?.mark(tenant, b.meta.ulid, why);
      deleteBlock(b);
    }
    for (const r of remote) {
      this.host.sync?.mark(tenant, r.meta.ulid, why);
      this.host.bucket?.cache.drop(r);
    }
  }

  /** Blocks of `res` end their life at: raw at the retention, a tier at its own (a tier turned off at the raw one). */
  private cutoff(tenant: string, res: number, nowMs: number): number {
    const tierMs = res === RES_RAW ? 0 : this.host.tiersOf(tenant)[res as keyof TierRetention] ?? 0;
    return nowMs - (tierMs > 0 ? tierMs : this.host.retentionOf(tenant));
  }
}
