/**
 * The node's state: one TenantDB per tenant (head, WAL, blocks), and per
 * tenant×shard the commit-log position it has applied and the position that
 * is persisted in blocks. Applying is idempotent by sequence number, so a
 * coordinator may resend (replay) anything and nothing is stored twice.
 *
 * On disk (when `nodeDir` is given): see node/layout.ts; the state files'
 * spec is docs/format/node-state.md.
 *
 * With a bucket, the disk is working storage: every block is uploaded, and
 * what a coordinator may drop from its log ("durable" in ShardState) is
 * what the bucket holds, not what this disk holds. A node started on an empty
 * disk rebuilds from the bucket (`rebuild`), then coordinators replay the rest.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { uncompressSync } from 'snappy';
import { isMetadataProblem, WriteRequestReader } from '../../../wire/remote-write.js';
import { decodeBatch, type BatchRecord } from '../../../wire/node-batch.js';
import { snappyDeclaredLength } from '../../../wire/snappy.js';
import type { Rejection, ShardState } from '../../../wire/internal-api.js';
import { ErrorIds } from '../../../wire/errors.js';
import { labelsObject } from '../../../wire/prom-json.js';
import { errorFields, type Logger } from '../../../wire/log.js';
import { fsyncDir, writeFileAtomic } from '../fs/durable-files.js';
import { META_FILE } from '../block/filenames.js';
import { validateBlock, type BlockSummary } from '../import/validate.js';
import { BlockReader } from '../block/reader.js';
import { RES_1H, RES_5M } from '../downsample/downsample.js';
import { TOMBSTONES_FILE } from '../block/filenames.js';
import { encodeTombstones } from '../block/tombstones.js';
import { parseSeriesSelector } from '../promql/selector.js';
import { mergeInThread, type MergeRunner } from '../jobs/runner.js';
import { DEFAULT_BLOCK_RANGE_MS, TenantDB } from '../db/tenant-db.js';
import { isobarOf, thanosSection, type ShardSpan } from '../bucket/layout.js';
import type { BlockCache } from '../bucket/remote-block.js';
import type { Shipper } from '../bucket/shipper.js';
import type { AppendResult } from '../head/head.js';
import type { NodeMetrics } from './metrics.js';
import { isTenantId } from '../../../wire/tenant-id.js';
import { NodeLayout } from './layout.js';
import { BucketSync, type ShipResult } from './bucket-sync.js';
import { Maintenance } from './maintenance.js';
import { Retentions } from './retention.js';
import { DeletionsFile, readDeletions, readExemplarSnapshot, readMetadataFile, readTenantState, writeDeletions, writeStateBytes, writeTenantState, type DeletionEntry, type TenantState, type TierRetention } from './state-files.js';
import type { Labels } from '../model/labels.js';

export type ApplyOutcome = { ok: true; state: ShardState } | { ok: false; gap: true; state: ShardState };

/** Uncompressed size cap for one record; the edge already enforced a tighter one. */
const MAX_RECORD_UNCOMPRESSED = 64 * 1024 * 1024;
export const DEFAULT_RETENTION_MS = 30 * 86_400_000;
export type { TierRetention } from './state-files.js';

interface Position {
  applied: number;
  /** In blocks on this node's disk ("persisted" means that, here and in the state file). */
  persisted: number;
  /** The coordinator log these sequence numbers belong to (undefined: not known yet). */
  logId?: string;
}

export interface StoreOptions {
  /** `<ISOBAR_DATA_DIR>/node`; without it everything stays in memory (tests). */
  nodeDir?: string;
  blockRangeMs?: number;
  /** Blocks wholly older than this are deleted (default 30 days). */
  retentionMs?: number;
  /** Told about every new tenant×shard (the node's shard registry). */
  onNewShard?: (tenant: string, shard: number) => void;
  /** The bucket every block goes to (needs `nodeDir`). */
  bucket?: BucketOptions;
  /** A tenant's head is cut once its WAL holds this many bytes (default 256 MiB). */
  flushWalBytes?: number;
  /** Compaction levels: block ranges, the first the head's (default: block range x 1, 3, 12, 84). */
  compactionRangesMs?: number[];
}

export interface BucketOptions {
  shipper: Shipper;
  cache: BlockCache;
  /** How long a block marked for deletion stays (queries in flight finish). */
  deleteDelayMs: number;
}

export type { ShipResult } from './bucket-sync.js';

export interface FlushResult {
  tenant: string;
  blocks: Array<{ ulid: string; minTime: number; maxTime: number; numSamples: number; numSeries: number }>;
}

export class NodeStore {
  readonly bootId = crypto.randomUUID();
  private readonly dbs = new Map<string, TenantDB>();
  private readonly shards = new Map<string, Position>();
  /** Where things live on disk (`nodeDir`); none: everything in memory (tests). */
  private readonly layout: NodeLayout | undefined;
  private readonly blockRangeMs: number;
  private readonly flushWalBytes: number;
  /** Compaction, downsampling and retention. */
  private readonly maintenance: Maintenance;
  /** Tenants' own retention (ms), told by their coordinators and kept in their state files. */
  private readonly retentions: Retentions;
  /** tenant -> shard -> its share of the tenant's max_exemplars */
  private readonly exemplarShares = new Map<string, Record<string, number>>();
  private readonly onNewShard: (tenant: string, shard: number) => void;
  readonly bucket: BucketOptions | undefined;
  /** Uploads, deletion marks and deletions files going to the bucket (none without a bucket). */
  private readonly sync: BucketSync | undefined;

  constructor(
    private readonly metrics: NodeMetrics,
    private readonly log: Logger,
    opts: StoreOptions = {},
  ) {
    this.layout = opts.nodeDir ? new NodeLayout(opts.nodeDir) : undefined;
    this.blockRangeMs = opts.blockRangeMs ?? DEFAULT_BLOCK_RANGE_MS;
    this.retentions = new Retentions(opts.retentionMs ?? DEFAULT_RETENTION_MS);
    this.flushWalBytes = opts.flushWalBytes ?? 256 * 1024 * 1024;
    this.onNewShard = opts.onNewShard ?? (() => {});
    if (opts.bucket && !opts.nodeDir) throw new Error('a bucket needs a node directory');
    this.bucket = opts.bucket;
    this.sync = opts.bucket ? new BucketSync(opts.bucket, this.dbs, log) : undefined;
    const levels = opts.compactionRangesMs ?? [1, 3, 12, 84].map((k) => k * this.blockRangeMs);
    this.maintenance = new Maintenance({ dbs: this.dbs, bucket: this.bucket, sync: this.sync, metrics, log, retentionOf: (t) => this.retentionOf(t), tiersOf: (t) => this.tiersOf(t) }, levels);
  }

  /** Load blocks, positions and WAL of every tenant on disk. */
  open(): { tenants: number; blocks: number; walRecords: number } {
    if (!this.layout) return { tenants: 0, blocks: 0, walRecords: 0 };
    const tenants = new Set<string>();
    for (const dir of this.layout.tenantFolders) {
      if (!existsSync(dir)) continue;
      for (const n of readdirSync(dir)) {
        const t = n.replace(/\.json$/, '');
        if (isTenantId(t)) tenants.add(t);
      }
    }
    let blocks = 0;
    let walRecords = 0;
    for (const tenant of [...tenants].sort()) {
      const db = this.db(tenant);
      this.readDeletions(tenant, db);
      blocks += db.openBlocks();
      if (this.bucket) db.remoteBlocks.replace(this.bucket.cache.known(tenant));
      const state = readTenantState(this.layout.stateFile(tenant), this.log, tenant);
      this.retentions.load(tenant, state.retentionMs, state.tiersMs);
      if (state.exemplars) this.exemplarShares.set(tenant, state.exemplars);
      this.sizeExemplars(tenant, db);
      this.loadSideStores(tenant, db);
      for (const { shard, persisted, logId } of state.positions) this.shards.set(`${tenant}/${shard}`, { applied: persisted, persisted, ...(logId ? { logId } : {}) });
      const t0 = performance.now();
      const res = db.wal!.replay(
        (r) => {
          const st = this.position(tenant, r.shard);
          if (r.seq <= st.applied) return;
          this.applyRecord(tenant, r.shard, db, r);
          st.applied = r.seq;
        },
        (r) => this.switchLog(tenant, r.shard, r.logId, false),
      );
      walRecords += res.records;
      if (res.problem) this.log.warn('WAL damaged; cut at the last good record', { tenant, ...res.problem });
      this.log.info('tenant loaded', { tenant, blocks: db.blocks.length, walRecords: res.records, walBytes: res.bytes, replayMs: Math.round(performance.now() - t0), headSeries: db.head.numSeries });
    }
    return { tenants: tenants.size, blocks, walRecords };
  }

  /**
   * delete_series: the samples of series matching any selector in [mint, maxt]
   * go from every read at once; the tenant's blocks get tombstones (compaction
   * rewrites them without the samples) and flushes leave them out. Kept in
   * `state/<tenant>.deletions.json` so a restart (WAL replay) honours them.
   */
  deleteSeries(tenant: string, selectors: string[], from: number, to: number): { blocksMarked: number } {
    // Finite bounds: they are written to JSON and to tombstones.
    const mint = Math.max(from, Number.MIN_SAFE_INTEGER);
    const maxt = Math.min(to, Number.MAX_SAFE_INTEGER);
    const db = this.dbs.get(tenant);
    if (!db) return { blocksMarked: 0 };
    const marked = new Set<string>();
    for (const selector of selectors) {
      for (const [block, stones] of db.addDeletion({ selector, matchers: parseSeriesSelector(selector), mint, maxt })) {
        writeFileAtomic(join(block.dir, TOMBSTONES_FILE), encodeTombstones([...block.tombstones, ...stones]));
        block.tombstones.push(...stones);
        marked.add(block.dir);
      }
    }
    this.writeDeletions(tenant, db);
    this.sync?.deletionsChanged(tenant);
    this.log.info('series deleted', { tenant, selectors: selectors.length, mint, maxt, blocksMarked: marked.size });
    return { blocksMarked: marked.size };
  }

  private writeDeletions(tenant: string, db: TenantDB): void {
    if (this.layout) writeDeletions(this.layout.deletionsFile(tenant), db.deletions);
  }

  private readDeletions(tenant: string, db: TenantDB): void {
    if (!this.layout) return;
    this.adoptDeletions(tenant, db, readDeletions(this.layout.deletionsFile(tenant), this.log, tenant));
  }

  /** Deletions read back (a state file, the bucket's copy) into the tenant's DB; an unreadable selector is logged and skipped. */
  private adoptDeletions(tenant: string, db: TenantDB, entries: readonly DeletionEntry[]): void {
    for (const d of entries) {
      try {
        db.deletions.push({ ...d, matchers: parseSeriesSelector(d.selector) });
      } catch (e) {
        this.log.error('a deletion in force has an unreadable selector; its series may show again', { tenant, selector: d.selector, ...errorFields(e) });
      }
    }
  }

  /**
   * The tenant's retention of raw samples and, when said, of its downsampled
   * tiers (its coordinators say both with every forward); written down when it changes.
   */
  setRetention(tenant: string, ms: number, tiers?: TierRetention): void {
    if (!this.retentions.set(tenant, ms, tiers)) return;
    this.writeState(tenant);
    const t = this.retentions.tiersOf(tenant);
    this.log.info('tenant retention set', { tenant, retentionDays: ms / 86_400_000, retention5mDays: t[RES_5M] / 86_400_000, retention1hDays: t[RES_1H] / 86_400_000 });
  }

  retentionOf(tenant: string): number {
    return this.retentions.rawOf(tenant);
  }

  tiersOf(tenant: string): TierRetention {
    return this.retentions.tiersOf(tenant);
  }

  /**
   * This shard's share of the tenant's max_exemplars (its coordinator says it
   * with every forward); the tenant's store here keeps the sum over its shards.
   */
  setExemplarShare(tenant: string, shard: number, n: number): void {
    const shares = this.exemplarShares.get(tenant) ?? {};
    if (shares[String(shard)] === n) return;
    this.exemplarShares.set(tenant, { ...shares, [String(shard)]: n });
    this.sizeExemplars(tenant, this.db(tenant));
    this.writeState(tenant);
  }

  private sizeExemplars(tenant: string, db: TenantDB): void {
    const shares = this.exemplarShares.get(tenant);
    if (shares) db.exemplars.resize(Object.values(shares).reduce((a, b) => a + b, 0));
  }

  /** Exemplars and metadata as the last flush wrote them down; the WAL replays what came after. */
  private loadSideStores(tenant: string, db: TenantDB): void {
    if (!this.layout) return;
    db.metadata.load(readMetadataFile(this.layout.metadataFile(tenant), this.log, tenant));
    const snapshot = readExemplarSnapshot(this.layout.exemplarsFile(tenant), this.log, tenant);
    if (!snapshot) return;
    try {
      db.exemplars.restore(snapshot);
    } catch (e) {
      this.log.error('exemplar snapshot damaged; exemplars from before the last flush are gone', { tenant, ...errorFields(e) });
    }
  }

  /** Written before a flush empties the WAL, which held what they hold. */
  private writeSideStores(tenant: string, db: TenantDB): void {
    if (!this.layout) return;
    writeStateBytes(this.layout.exemplarsFile(tenant), db.exemplars.snapshot());
    writeStateBytes(this.layout.metadataFile(tenant), JSON.stringify(db.metadata));
  }

  private writeState(tenant: string): void {
    if (!this.layout) return;
    const positions: TenantState['positions'] = [];
    for (const [k, st] of this.shards) {
      const [t, sh] = k.split('/');
      if (t === tenant) positions.push({ shard: Number(sh), persisted: st.persisted, ...(st.logId ? { logId: st.logId } : {}) });
    }
    const exemplars = this.exemplarShares.get(tenant);
    writeTenantState(this.layout.stateFile(tenant), { positions, ...this.retentions.said(tenant), ...(exemplars ? { exemplars } : {}) });
  }

  private db(tenant: string): TenantDB {
    let db = this.dbs.get(tenant);
    if (!db) {
      db = new TenantDB(tenant, this.layout ? { blocksDir: this.layout.blocks(tenant), walDir: this.layout.wal(tenant) } : undefined);
      if (this.layout) mkdirSync(db.paths!.blocksDir, { recursive: true });
      db.cache = this.bucket?.cache;
      this.dbs.set(tenant, db);
    }
    return db;
  }

  /**
   * The tenant×shard follows the coordinator log `logId` from now on. A
   * different log than before restarts the sequence (its records are new data,
   * not replays); the switch is written to the WAL so a restart decides the same.
   */
  private switchLog(tenant: string, shard: number, logId: string | undefined, record = true): void {
    if (!logId) return;
    const st = this.position(tenant, shard);
    if (st.logId === logId) return;
    if (st.logId !== undefined) {
      this.log.warn('coordinator log changed; its sequence starts over', { tenant, shard, previousApplied: st.applied });
      st.applied = 0;
      st.persisted = 0;
    }
    st.logId = logId;
    if (record) this.db(tenant).wal?.appendLogId({ shard, logId });
  }

  private position(tenant: string, shard: number): Position {
    const k = `${tenant}/${shard}`;
    let st = this.shards.get(k);
    if (!st) {
      st = { applied: 0, persisted: 0 };
      this.shards.set(k, st);
      this.onNewShard(tenant, shard);
    }
    return st;
  }

  tenantDb(tenant: string): TenantDB | undefined {
    return this.dbs.get(tenant);
  }

  tenants(): IterableIterator<[string, TenantDB]> {
    return this.dbs.entries();
  }

  /** The position for a coordinator, adopting its log (see switchLog) when it names one. */
  shardStateFor(tenant: string, shard: number, logId: string | undefined): ShardState {
    this.switchLog(tenant, shard, logId);
    return this.shardState(tenant, shard);
  }

  shardState(tenant: string, shard: number): ShardState {
    const st = this.shards.get(`${tenant}/${shard}`);
    return { applied: st?.applied ?? 0, durable: st ? this.durable(tenant, shard, st) : 0, bootId: this.bootId };
  }

  /**
   * What the coordinator may drop from its log: without a bucket, what is in
   * blocks here; with one, what is in the bucket, i.e. persisted here less
   * the records held by local blocks not uploaded yet.
   */
  private durable(tenant: string, shard: number, st: Position): number {
    if (!this.bucket) return st.persisted;
    const db = this.dbs.get(tenant);
    let upTo = st.persisted;
    for (const b of db?.blocks ?? []) {
      if (db!.uploaded.has(b.meta.ulid)) continue;
      const span = isobarOf(b.meta)?.shards[String(shard)];
      if (span && span.logId === st.logId) upTo = Math.min(upTo, span.from);
      else if (!isobarOf(b.meta)) return 0; // a block without spans: nothing is known to be in the bucket until it is
    }
    return upTo;
  }

  /**
   * Apply a batch for tenant×shard. Records at or below the applied position
   * are skipped (replays). The first new record must follow the applied
   * position, or start the coordinator's retained log (`logStart`); otherwise
   * the answer is a gap and the coordinator resends from `state.applied + 1`.
   */
  apply(tenant: string, shard: number, body: Uint8Array, logStart: number, logId?: string): ApplyOutcome {
    this.switchLog(tenant, shard, logId);
    const st = this.position(tenant, shard);
    const records = decodeBatch(body);
    const fresh = records.filter((r) => r.seq > st.applied);
    if (fresh.length === 0) return { ok: true, state: this.shardState(tenant, shard) };
    const first = fresh[0]!.seq;
    if (first !== st.applied + 1 && !(first === logStart && logStart > st.applied)) {
      return { ok: false, gap: true, state: this.shardState(tenant, shard) };
    }
    const db = this.db(tenant);
    let seq = st.applied;
    let index = 0;
    const rejections: Rejection[] = [];
    for (const r of fresh) {
      if (r.seq > seq + 1 && seq !== st.applied) break; // a hole inside one batch: the coordinator resends the rest
      index = r.seq === seq ? index + 1 : 0;
      db.wal?.append({ shard, seq: r.seq, payload: r.payload }); // write-ahead
      const res = this.applyRecord(tenant, shard, db, r);
      if (res?.firstConflict) {
        const { series, t } = res.firstConflict;
        rejections.push({
          seq: r.seq,
          index,
          id: ErrorIds.duplicateSample,
          count: res.discarded[ErrorIds.duplicateSample] ?? 1,
          message: `duplicate sample for timestamp ${new Date(t).toISOString()} with a different value in series ${labelsObject(series.labels)}; the first value written is kept`,
        });
      }
      seq = r.seq;
    }
    st.applied = seq;
    return { ok: true, state: { ...this.shardState(tenant, shard), ...(rejections.length ? { rejections } : {}) } };
  }

  private applyRecord(tenant: string, shard: number, db: TenantDB, r: Pick<BatchRecord, 'seq' | 'payload'>): AppendResult | undefined {
    let body: Uint8Array;
    try {
      const declared = snappyDeclaredLength(r.payload);
      if (declared === undefined || declared > MAX_RECORD_UNCOMPRESSED) throw new Error(`record declares ${declared ?? 'an invalid'} uncompressed size`);
      body = uncompressSync(Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength), { asBuffer: true }) as Buffer;
    } catch (e) {
      this.corrupt(tenant, shard, r.seq, `snappy: ${(e as Error).message}`);
      return undefined;
    }
    const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
    const reader = new WriteRequestReader(body);
    const head = db.head;
    try {
      while (reader.next()) {
        if (reader.problem) {
          // The edge rejects these before logging; one here means a bug or corruption.
          this.metrics.discarded(tenant, reader.problem.id, reader.sampleCount);
          continue;
        }
        let labels: Labels | undefined;
        if (reader.sampleCount > 0 || reader.histogramCount > 0) {
          const { s, created } = head.getOrCreate(reader);
          if (created) res.newSeries++;
          if (reader.sampleCount > 0) head.appendSamples(s, reader.timestamps, reader.sampleValues, reader.sampleCount, res);
          if (reader.histogramCount > 0) head.appendHistograms(s, reader.histograms, reader.histogramCount, res);
          labels = s.labels;
        }
        // Exemplars the reader found invalid were dropped by it (the edge named them to the client).
        if (reader.exemplarCount > 0) {
          labels ??= Array.from({ length: reader.labelCount }, (_, i) => [reader.name(i), reader.value(i)]).flat();
          for (let j = 0; j < reader.exemplarCount; j++) {
            const outcome = db.exemplars.add(labels, { labels: reader.exemplarLabels(j), value: reader.exemplarValues[j]!, t: reader.exemplarTimestamps[j]! });
            this.metrics.exemplars[outcome]++;
          }
        }
      }
      const meta = reader.metadataRanges;
      for (let i = 0; i < meta.length; i += 2) {
        const m = reader.readMetadata(meta[i]!, meta[i + 1]!);
        if (!isMetadataProblem(m)) db.metadata.add(m);
      }
    } catch (e) {
      this.corrupt(tenant, shard, r.seq, (e as Error).message);
    }
    this.metrics.appended(tenant, res);
    return res;
  }

  /**
   * Cut every tenant's head into blocks on disk (or one tenant's), then record
   * that everything applied so far is persisted, and empty the WAL.
   * Order matters for crashes: blocks (fsynced) -> positions (fsynced) -> WAL removed.
   */
  flush(only?: string): FlushResult[] {
    const out: FlushResult[] = [];
    for (const [tenant, db] of this.dbs) {
      if (only !== undefined && tenant !== only) continue;
      const metas = db.head.numSeries > 0 ? db.flushHead(this.blockRangeMs, this.sections(tenant)) : [];
      for (const [k, st] of this.shards) if (k.startsWith(`${tenant}/`)) st.persisted = st.applied;
      this.writeSideStores(tenant, db);
      this.writeState(tenant);
      db.wal?.truncateAll();
      this.metrics.blocksWritten += metas.length;
      out.push({ tenant, blocks: metas.map((m) => ({ ulid: m.ulid, minTime: m.minTime, maxTime: m.maxTime, numSamples: m.stats?.numSamples ?? 0, numSeries: m.stats?.numSeries ?? 0 })) });
      if (metas.length) this.log.info('head flushed to blocks', { tenant, blocks: metas.length, samples: metas.reduce((n, m) => n + (m.stats?.numSamples ?? 0), 0) });
    }
    return out;
  }

  /** meta.json sections of a block flushed now: Thanos labels, and the log records it holds per shard. */
  private sections(tenant: string): Record<string, unknown> | undefined {
    if (!this.bucket) return undefined;
    const shards: Record<string, ShardSpan> = {};
    for (const [k, st] of this.shards) {
      const [t, s] = k.split('/');
      if (t === tenant && st.applied > st.persisted) shards[s!] = { from: st.persisted, to: st.applied, ...(st.logId ? { logId: st.logId } : {}) };
    }
    return { thanos: thanosSection(tenant, 'isobar'), isobar: { node: this.bucket.shipper.node, shards } };
  }

  /**
   * Compaction, downsampling and retention, one run at a time (see
   * node/maintenance.ts); `merge` decides where the merging work happens.
   */
  compact(nowMs = Date.now(), merge: MergeRunner = mergeInThread): Promise<{ compactions: number; downsampled: number; deleted: number }> {
    return this.maintenance.run(nowMs, merge);
  }

  /**
   * Flush each tenant whose head spans 1.5 block ranges or more (Prometheus
   * cuts its head at the same point), or whose WAL holds `flushWalBytes`: the
   * WAL holds the same records as the coordinators' logs since the last flush
   * (about 16 bytes per sample), and those logs shrink only once a flush is
   * uploaded. Keeps head memory, the WAL and the logs bounded; overlaps
   * between partial flushes of a range are merged by compaction.
   */
  flushIfDue(): FlushResult[] {
    const out: FlushResult[] = [];
    for (const [tenant, db] of this.dbs) {
      if (!db.paths || db.head.numSeries === 0) continue;
      const span = db.head.maxT - db.head.minT >= 1.5 * this.blockRangeMs;
      const walFull = (db.wal?.bytes() ?? 0) >= this.flushWalBytes;
      if (span || walFull) {
        if (walFull && !span) this.log.info('head cut: its WAL (and the coordinators\' logs) reached the bound', { tenant, walBytes: db.wal!.bytes(), flushWalBytes: this.flushWalBytes });
        out.push(...this.flush(tenant));
      }
    }
    return out;
  }

  /** Upload what the bucket lacks (see BucketSync.ship). */
  ship(): Promise<ShipResult> {
    return this.sync ? this.sync.ship() : Promise.resolve({ uploaded: 0, bytes: 0, marked: 0, pending: 0 });
  }

  /** Bucket work waiting: local blocks not uploaded, deletion marks, deletions files. */
  pendingUploads(): number {
    return this.sync?.pending() ?? 0;
  }

  /** Delete this node's blocks marked for deletion longer ago than the delay. */
  cleanBucket(now = Date.now()): Promise<number> {
    return this.sync?.clean(now) ?? Promise.resolve(0);
  }

  /** A deleted tenant's objects in the bucket (every node's: all are deleting it). */
  deleteTenantFromBucket(tenant: string): Promise<number> {
    return this.sync?.deleteTenant(tenant) ?? Promise.resolve(0);
  }

  /**
   * A node on an empty disk: learn this node's blocks of every tenant from
   * the bucket (served from it through the caches), the deletions in force,
   * and per tenant×shard the last commit-log record the bucket holds. The
   * coordinators then replay from there (the caller announces the restart).
   */
  async rebuild(): Promise<{ tenants: number; blocks: number }> {
    if (!this.bucket || !this.layout) return { tenants: 0, blocks: 0 };
    const { shipper, cache } = this.bucket;
    let tenants = 0;
    let blocks = 0;
    for (const tenant of await shipper.tenants()) {
      if (!isTenantId(tenant)) continue;
      const metas = await shipper.liveBlocks(tenant);
      const deletions = DeletionsFile.safeParse(await shipper.getDeletions(tenant));
      if (metas.length === 0 && !deletions.success) continue;
      const db = this.db(tenant);
      tenants++;
      if (deletions.success) {
        this.adoptDeletions(tenant, db, deletions.data);
        this.writeDeletions(tenant, db);
      }
      const top = new Map<string, ShardSpan>();
      for (const meta of metas) {
        db.remoteBlocks.add(cache.adopt(tenant, meta));
        blocks++;
        for (const [shard, span] of Object.entries(isobarOf(meta)?.shards ?? {})) {
          const cur = top.get(shard);
          if (!cur || span.to > cur.to) top.set(shard, span);
        }
      }
      for (const [shard, span] of top) {
        const st = this.position(tenant, Number(shard));
        st.applied = st.persisted = span.to;
        if (span.logId) st.logId = span.logId;
      }
      this.writeState(tenant);
      this.log.info('tenant rebuilt from the bucket', { tenant, blocks: metas.length, shards: Object.fromEntries([...top].map(([s, sp]) => [s, sp.to])) });
    }
    return { tenants, blocks };
  }

  /** Whether a block of this ULID was imported (it may since have been merged into another). */
  hasBlock(tenant: string, ulid: string): boolean {
    const db = this.dbs.get(tenant);
    if (!db) return false;
    const has = (m: BlockReader['meta']) => m.ulid === ulid || (m.compaction.sources ?? []).includes(ulid);
    return db.blocks.some((b) => has(b.meta)) || db.remote.some((r) => has(r.meta));
  }

  /**
   * Take a complete block folder (an import) as one of the tenant's blocks:
   * checked first (validateBlock: index, chunks, samples inside the tenant's
   * retention), its meta.json given the Thanos and Isobar sections, then moved
   * in. It is uploaded and compacted with live data like any block. A block
   * already taken (same ULID, or merged since) is left alone: reruns are safe.
   */
  importBlock(tenant: string, dir: string, nowMs = Date.now(), maxFutureMs = 600_000): { already: boolean; summary?: BlockSummary } {
    if (!this.layout) throw new Error('import needs a data directory');
    const ulid = basename(dir);
    if (this.hasBlock(tenant, ulid)) return { already: true };
    const summary = validateBlock(dir, { oldestMs: nowMs - this.retentionOf(tenant), newestMs: nowMs + maxFutureMs });
    const meta = JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')) as Record<string, unknown>;
    meta.thanos = thanosSection(tenant, 'isobar-import');
    // The counts queries go by, as the block holds them (a Prometheus from before native histograms writes no numHistogramSamples).
    meta.stats = { ...(meta.stats as object | undefined), numSamples: summary.samples, numFloatSamples: summary.samples - summary.histogramSamples, numHistogramSamples: summary.histogramSamples };
    if (this.bucket) meta.isobar = { node: this.bucket.shipper.node, shards: {} };
    writeFileAtomic(join(dir, META_FILE), new TextEncoder().encode(JSON.stringify(meta, null, '\t') + '\n'));
    const db = this.db(tenant);
    const target = join(db.paths!.blocksDir, ulid);
    renameSync(dir, target);
    fsyncDir(db.paths!.blocksDir);
    db.localBlocks.add(BlockReader.open(target));
    this.log.info('block imported', { tenant, ...summary });
    return { already: false, summary };
  }

  /** fsync every WAL with unsynced writes; returns how many were synced. */
  syncWals(): number {
    let n = 0;
    for (const db of this.dbs.values()) {
      if (!db.wal) continue;
      const before = db.wal.fsyncSeconds.length;
      db.wal.sync();
      if (db.wal.fsyncSeconds.length > before) {
        this.metrics.walFsync(db.wal.fsyncSeconds.at(-1)!);
        n++;
      }
    }
    return n;
  }

  close(): void {
    for (const db of this.dbs.values()) db.close();
  }

  /**
   * Remove a deleted tenant's data from this node: head, WAL, blocks and
   * positions. Its coordinators were purged first, so nothing replays it.
   */
  deleteTenant(tenant: string): { removed: boolean } {
    if (!isTenantId(tenant)) throw new Error(`bad tenant id ${JSON.stringify(tenant)}`);
    const db = this.dbs.get(tenant);
    db?.close();
    this.dbs.delete(tenant);
    for (const k of [...this.shards.keys()]) if (k.startsWith(`${tenant}/`)) this.shards.delete(k);
    this.retentions.forget(tenant);
    this.exemplarShares.delete(tenant);
    this.sync?.forget(tenant);
    let removed = db !== undefined;
    if (this.layout) {
      for (const path of this.layout.tenantPaths(tenant)) {
        if (!existsSync(path)) continue;
        rmSync(path, { recursive: true, force: true });
        removed = true;
      }
    }
    if (removed) this.log.info('tenant deleted from this node', { tenant });
    return { removed };
  }

  private corrupt(tenant: string, shard: number, seq: number, what: string): void {
    this.metrics.corruptRecords++;
    this.log.error('skipping corrupt commit-log record', { tenant, shard, seq, what });
  }
}
