/**
 * The node's background work, on timers: WAL fsyncs, the head-cut check,
 * compaction (with downsampling and retention), uploads with backoff, and
 * the bucket's cleanup of marked blocks. `stop` ends them all (shutdown).
 */
import { errorFields, type Logger } from '../../../wire/log.js';
import type { MergeRunner } from '../jobs/runner.js';
import type { NodeStore } from './store.js';

/** WAL fsync cadence: the coordinators' logs are the truth, so a second of OS buffering is safe. */
const WAL_SYNC_MS = 1000;
/** Cadence of the head-cut check (a cut is uploaded at once, so the coordinators' logs shrink). */
const FLUSH_CHECK_MS = 10_000;
/** Uploads every this often while anything waits (and after each flush and compaction). */
const SHIP_MS = 10_000;
/** Upload retries while the bucket fails: 1 s doubling to 60 s. */
const SHIP_RETRY_MAX_MS = 60_000;
/** Blocks marked for deletion leave the bucket after the delay; this is how often that is checked. */
const CLEAN_MS = 10 * 60_000;

export interface SchedulerOptions {
  store: NodeStore;
  log: Logger;
  /** Where compaction merges (a worker thread in production). */
  merge: MergeRunner;
  compactionIntervalMs: number;
  /** Counts failed upload rounds (the bucket metrics' `failures`). */
  onShipFailure: () => void;
  /** The bucket's name, for logs. */
  bucketWhere: string;
}

export class NodeScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private shipTimer: NodeJS.Timeout | undefined;
  private shipFailures = 0;
  private stopped = false;

  constructor(private readonly o: SchedulerOptions) {}

  start(): void {
    const { store, log } = this.o;
    this.timers.push(setInterval(() => store.syncWals(), WAL_SYNC_MS));
    this.timers.push(
      setInterval(() => {
        try {
          if (store.flushIfDue().length > 0) {
            this.shipSoon(0);
            void this.compactNow();
          }
        } catch (e) {
          log.error('head cut failed; will retry', errorFields(e));
        }
      }, FLUSH_CHECK_MS),
    );
    this.timers.push(setInterval(() => void this.compactNow(), this.o.compactionIntervalMs));
    this.timers.push(setInterval(() => void store.cleanBucket().catch((e) => log.warn('bucket cleanup failed; will retry', errorFields(e))), CLEAN_MS));
    this.shipSoon(0);
  }

  /** Compact, downsample and expire now (also after a flush); uploads follow what changed. */
  compactNow(): Promise<void> {
    return this.o.store
      .compact(Date.now(), this.o.merge)
      .then((r) => {
        if (r.compactions > 0 || r.downsampled > 0 || r.deleted > 0) this.shipSoon(0);
      })
      .catch((e) => this.o.log.error('compaction failed; will retry', errorFields(e)));
  }

  /**
   * Upload in `ms`: after each flush and compaction, and every SHIP_MS while
   * anything waits; with backoff while the bucket fails. Writes go on
   * meanwhile: the coordinators keep the records until the bucket has them.
   */
  shipSoon(ms: number): void {
    if (this.stopped) return;
    if (this.shipTimer) clearTimeout(this.shipTimer);
    this.shipTimer = setTimeout(() => {
      this.shipTimer = undefined;
      this.o.store
        .ship()
        .then((r) => {
          if (this.shipFailures > 0) this.o.log.info('the bucket answers again', { failures: this.shipFailures, uploaded: r.uploaded });
          this.shipFailures = 0;
          this.shipSoon(SHIP_MS);
        })
        .catch((e) => {
          this.shipFailures++;
          this.o.onShipFailure();
          const retryInMs = Math.min(1000 * 2 ** (this.shipFailures - 1), SHIP_RETRY_MAX_MS);
          if (this.shipFailures === 1 || this.shipFailures % 10 === 0) {
            this.o.log.warn('upload to the bucket failed; retrying', { failures: this.shipFailures, retryInMs, pending: this.o.store.pendingUploads(), bucket: this.o.bucketWhere, ...errorFields(e) });
          }
          this.shipSoon(retryInMs);
        });
    }, ms);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.shipTimer) clearTimeout(this.shipTimer);
  }
}
