/**
 * What goes from a node to the bucket, and the queue of it: blocks not
 * uploaded yet, deletion marks (blocks compacted away, emptied by deletions
 * or past retention), and changed deletions files; and the bucket's cleanup
 * of marked blocks. The queue lives in memory and is retried until the bucket
 * answers; what it holds is also derivable from disk (a restarted node
 * uploads every block not marked uploaded).
 */
import type { Logger } from '../../../wire/log.js';
import type { TenantDB } from '../db/tenant-db.js';
import type { Shipper } from '../bucket/shipper.js';

export interface ShipResult {
  uploaded: number;
  bytes: number;
  marked: number;
  /** Local blocks still not in the bucket. */
  pending: number;
}

export class BucketSync {
  private readonly marks: Array<{ tenant: string; ulid: string; why: string }> = [];
  private readonly deletionsDirty = new Set<string>();
  private shipping: Promise<ShipResult> | undefined;

  constructor(
    private readonly bucket: { shipper: Shipper; deleteDelayMs: number },
    /** The node's tenants (the store's map, read live). */
    private readonly dbs: ReadonlyMap<string, TenantDB>,
    private readonly log: Logger,
  ) {}

  /** A block in the bucket is to go (after the delete delay, by `clean`). */
  mark(tenant: string, ulid: string, why: string): void {
    this.marks.push({ tenant, ulid, why });
  }

  /** The tenant's deletions changed: its file goes to the bucket with the next ship. */
  deletionsChanged(tenant: string): void {
    this.deletionsDirty.add(tenant);
  }

  /** A deleted tenant: nothing of it is queued any more. */
  forget(tenant: string): void {
    this.deletionsDirty.delete(tenant);
    for (let i = this.marks.length - 1; i >= 0; i--) if (this.marks[i]!.tenant === tenant) this.marks.splice(i, 1);
  }

  /**
   * Upload every local block not in the bucket yet (per tenant in ULID order,
   * which is flush order: compaction only takes uploaded blocks), then mark
   * the blocks compaction replaced, then write changed deletions. One run at a
   * time; throws when the bucket fails (what was done stays done).
   */
  ship(): Promise<ShipResult> {
    if (this.shipping) return this.shipping;
    const run = (async () => {
      const { shipper } = this.bucket;
      const out: ShipResult = { uploaded: 0, bytes: 0, marked: 0, pending: 0 };
      for (const [tenant, db] of [...this.dbs]) {
        for (const b of [...db.blocks].sort((x, y) => (x.meta.ulid < y.meta.ulid ? -1 : 1))) {
          if (db.uploaded.has(b.meta.ulid) || !db.blocks.includes(b)) continue;
          const t0 = performance.now();
          const bytes = await shipper.upload(tenant, b);
          db.uploaded.add(b.meta.ulid);
          out.uploaded++;
          out.bytes += bytes;
          this.log.info('block uploaded', { tenant, ulid: b.meta.ulid, bytes, ms: Math.round(performance.now() - t0), bucket: shipper.bucket.where });
          for (const p of b.meta.compaction.parents ?? []) this.mark(tenant, p.ulid, `compacted into ${b.meta.ulid}`);
        }
      }
      while (this.marks.length > 0) {
        const m = this.marks[0]!;
        await shipper.markDeleted(m.tenant, m.ulid, m.why);
        this.marks.shift();
        out.marked++;
      }
      for (const tenant of [...this.deletionsDirty]) {
        const db = this.dbs.get(tenant);
        if (db) await shipper.putDeletions(tenant, db.deletions.map(({ selector, mint, maxt }) => ({ selector, mint, maxt })));
        this.deletionsDirty.delete(tenant);
      }
      out.pending = this.blocksNotUploaded();
      return out;
    })();
    this.shipping = run;
    return run.finally(() => (this.shipping = undefined));
  }

  private blocksNotUploaded(): number {
    let n = 0;
    for (const db of this.dbs.values()) n += db.blocks.filter((b) => !db.uploaded.has(b.meta.ulid)).length;
    return n;
  }

  /** Bucket work waiting: local blocks not uploaded, deletion marks, deletions files. */
  pending(): number {
    return this.blocksNotUploaded() + this.marks.length + this.deletionsDirty.size;
  }

  /** Delete this node's blocks marked for deletion longer ago than the delay. */
  async clean(now: number): Promise<number> {
    let n = 0;
    for (const tenant of [...this.dbs.keys()]) {
      const expired = await this.bucket.shipper.expiredMarks(tenant, this.bucket.deleteDelayMs, now);
      for (const ulid of expired) {
        await this.bucket.shipper.deleteBlock(tenant, ulid);
        n++;
      }
      if (expired.length) this.log.info('deleted marked blocks from the bucket', { tenant, blocks: expired.length });
    }
    return n;
  }

  /** A deleted tenant's objects in the bucket (every node's: all are deleting it). */
  deleteTenant(tenant: string): Promise<number> {
    return this.bucket.shipper.deleteTenant(tenant);
  }
}
