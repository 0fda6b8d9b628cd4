/**
 * ShardCoordinator: one per tenant×shard (name `<tenant>/<shard>`), SQLite-backed.
 *
 * Durability: `append` returns only after the batch is a row of the commit log
 * (Durable Object storage is replicated; the output gate holds our reply until
 * the write is confirmed). That is the moment the edge may acknowledge.
 *
 * Forwarding: one pump per object sends log rows to the storage node that owns
 * the shard, strictly in sequence order, several rows per request. The node
 * answers with the highest sequence it has applied; a node that restarted and
 * lost its head answers lower, and the pump simply resends from there. While
 * the node is unreachable, an alarm retries with backoff; writes keep being
 * acknowledged from the log.
 *
 * Truncation: rows are deleted only up to what the node reports as durable
 * without the log (in the bucket; in its blocks when it has no bucket).
 *
 * Cost: concurrent appends are group-committed into one row (rows written are
 * billed), and the applied position is not written at all: it is re-learned
 * from the node after the object restarts.
 */
import { DurableObject } from 'cloudflare:workers';
import { ErrorIds } from '../wire/errors.js';
import { applyPath, LOG_ID_HEADER, LOG_START_HEADER, MAX_EXEMPLARS_HEADER, shardStatePath, type Rejection, type ShardState, retentionHeaders, type RetentionSpec } from '../wire/internal-api.js';
import { createLogger, errorFields, type Logger } from '../wire/log.js';
import { encodeBatch, MAX_RECORD_BYTES, RECORD_HEADER_BYTES } from '../wire/node-batch.js';
import { edgeConfig, type EdgeVars } from './vars.js';
import { transportFrom, type NodeTransport } from './transport.js';
import { SeriesAdmission, type AdmitAnswer, type AdmitRequest } from './series-admission.js';
import { TokenBucket } from './token-bucket.js';
import { UsageLedger, type UsageWindow } from './usage-ledger.js';

export { ACTIVE_SERIES_MS, type AdmitAnswer, type AdmitRequest } from './series-admission.js';
export type { UsageWindow } from './usage-ledger.js';

/** A log row's payload stays under Durable Object SQLite's 2 MB value limit. */
export const MAX_ROW_BYTES = 1_950_000;
/** Bytes of log rows per apply request to the node. */
const MAX_FORWARD_BYTES = 8 * 1024 * 1024;
/** How long `append` waits for the node to apply before answering from the log alone. */
const FORWARD_WAIT_MS = 2_000;
const APPLY_TIMEOUT_MS = 15_000;
/** The body-less position request: cheap for the node, so a short wait. */
const STATE_TIMEOUT_MS = 5_000;
/** Retry backoff while the node is unreachable: 0.5 s doubling to 30 s. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;
/**
 * While the log holds rows the node has not made durable, check the node this
 * often, so a node that restarted (and lost its head) is refilled even when no
 * new writes arrive. One alarm per interval per such object.
 */
const SYNC_INTERVAL_MS = 15_000;

export interface AppendAck {
  /** Sequence number of the (last) row holding this batch. */
  seq: number;
  /** Whether the storage node had applied it when we answered. */
  applied: boolean;
  /** Samples of this batch the node refused (known only when `applied`). */
  rejected?: Array<{ id: string; message: string; count: number }>;
}

/** This coordinator's share of the tenant's ingestion rate limit, and what the append holds. */
export interface Quota {
  samples: number;
  /** Samples per second for this shard (the tenant's rate / its shard count). */
  rate: number;
  /** Most samples this shard's token bucket holds. */
  burst: number;
}

/** An append refused by the rate limit: nothing of it was written. */
export interface RateLimited {
  rateLimited: { retryAfterSeconds: number };
}

/**
 * An append refused because the log holds `commitLogMaxBytes` the bucket has
 * not confirmed (bucket or storage node down): nothing of it was written.
 */
export interface Backlogged {
  backlogged: { retryAfterSeconds: number; logBytes: number; maxBytes: number };
}

/** While backlogged, clients are asked to wait this long. */
const BACKLOG_RETRY_SECONDS = 30;

/** An append for a tenant that was deleted (an edge still had its key cached): nothing written. */
export interface TenantGone {
  gone: true;
}

export interface AppendOptions {
  quota?: Quota;
  /**
   * The tenant's generation (its creation time): an append of a deleted
   * generation is refused; a newer one (the id was re-created) starts a new log.
   */
  generation?: number;
  /** Samples the edge refused from the same request, by error id (counted in this tenant's usage). */
  rejected?: Record<string, number>;
  /** The tenant's retention (raw and tiers, seconds), passed on to the storage node with every forward. */
  retention?: RetentionSpec;
  /** Most bytes the log may hold that the bucket has not confirmed (the tenant's commit_log_max_bytes). */
  maxLogBytes?: number;
  /** This shard's share of the tenant's max_exemplars, passed on to the storage node with every forward. */
  exemplars?: number;
  /** Series of this append the edge has not had admitted lately: admitted before anything is written. */
  admit?: AdmitRequest;
}

/**
 * New series of an append refused by the series limits (indexes into its
 * `admit`): nothing of the append was written; its other new series were admitted.
 */
export interface SeriesRefused {
  seriesRefused: AdmitAnswer['refused'];
}

/** Where an append's payloads went: row seq and index within the row. */
type Placement = Array<{ seq: number; index: number }>;
/** Rejections kept for appends still to collect them; older ones are dropped past this. */
const MAX_KEPT_REJECTIONS = 10_000;

export interface CoordinatorState {
  tenant: string;
  shard: number;
  nextSeq: number;
  applied: number;
  durable: number;
  rows: number;
  bytes: number;
  nodeBootId: string;
}

interface PendingAppend {
  payloads: Uint8Array[];
  resolve: (placement: Placement) => void;
  reject: (e: unknown) => void;
}

export class ShardCoordinator extends DurableObject<EdgeVars> {
  private readonly sql: SqlStorage;
  private readonly log: Logger;
  private tenant = '';
  private shard = -1;
  private generation = 0;
  /** The tenant's retention as its last append said (not stored: every append says it again). */
  private retention: RetentionSpec | undefined;
  /** This shard's share of the tenant's max_exemplars as its last append said (not stored either). */
  private exemplars: number | undefined;
  private deletedGeneration = 0;
  private logId = '';
  private nextSeq = 1;
  /** Bytes of log rows held (not yet confirmed in the bucket). */
  private logBytes = 0;
  private applied = 0;
  /** Highest seq durable without the log (the node said so): rows up to it are deleted. */
  private durable = 0;
  private nodeBootId = '';
  private synced = false;
  private failures = 0;
  private group: PendingAppend[] = [];
  /** Active series, for the series limits (the `series` table). */
  private readonly series: SeriesAdmission;
  /** Samples accepted and refused (the `usage` table). */
  private readonly usageLedger: UsageLedger;
  /** The tenant's ingestion rate, this shard's share; in memory, refilled by time. */
  private readonly rate = new TokenBucket();
  private groupScheduled = false;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private waiters: Array<{ seq: number; resolve: (applied: boolean) => void }> = [];
  private transportCache: NodeTransport | undefined;
  private readonly rejections = new Map<string, Rejection>();

  constructor(ctx: DurableObjectState, env: EdgeVars) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.log = createLogger('shard-coordinator', edgeConfig(env).logLevel);
    this.series = new SeriesAdmission(this.sql, ctx.storage);
    this.usageLedger = new UsageLedger(this.sql);
    void ctx.blockConcurrencyWhile(async () => {
      // Each part owns its table (docs/format/coordinator-tables.md).
      this.sql.exec(`CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL, bytes INTEGER NOT NULL)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`);
      this.usageLedger.init();
      this.series.init();
      for (const r of this.sql.exec<{ k: string; v: string }>(`SELECT k, v FROM meta`)) {
        if (r.k === 'tenant') this.tenant = r.v;
        if (r.k === 'shard') this.shard = Number(r.v);
        if (r.k === 'durable' || r.k === 'persisted') this.durable = Math.max(this.durable, Number(r.v)); // `persisted` in objects made before the rename
        if (r.k === 'log_id') this.logId = r.v;
        if (r.k === 'generation') this.generation = Number(r.v);
        if (r.k === 'deleted_generation') this.deletedGeneration = Number(r.v);
      }
      const max = this.sql.exec<{ m: number | null }>(`SELECT MAX(seq) AS m FROM log`).one().m;
      this.logBytes = this.sql.exec<{ b: number | null }>(`SELECT SUM(bytes) AS b FROM log`).one().b ?? 0;
      // Sequence numbers never go back, even after truncation emptied the log.
      this.nextSeq = Math.max(max ?? 0, this.durable) + 1;
      this.applied = this.durable;
    });
  }

  private get transport(): NodeTransport {
    return (this.transportCache ??= transportFrom(this.env));
  }

  /**
   * Append a batch (snappy-compressed WriteRequests of this shard's series,
   * each at most MAX_RECORD_BYTES) to the commit log. Resolves once durable.
   *
   * New series travel with the append (`admit`) and are admitted first, under
   * this shard's share of the series limits: one call for the edge instead of
   * two. When any is refused, nothing of the append is written (its refused
   * samples are counted): the edge drops those series and appends the rest.
   */
  async append(tenant: string, shard: number, payloads: Uint8Array[], { quota, generation = 0, rejected: refusedAtEdge, retention, maxLogBytes, admit, exemplars }: AppendOptions = {}): Promise<AppendAck | SeriesRefused | RateLimited | Backlogged | TenantGone> {
    if (!this.adopt(generation)) return { gone: true };
    if (retention) this.retention = retention;
    if (exemplars !== undefined) this.exemplars = exemplars;
    if (refusedAtEdge) this.count(refusedAtEdge);
    this.identify(tenant, shard);
    if (admit) {
      const { refused } = this.series.admit(admit, Date.now());
      if (refused.length > 0) {
        const counts: Record<string, number> = {};
        for (const r of refused) {
          const id = r.limit === 'maxSeries' ? ErrorIds.maxSeriesPerTenant : ErrorIds.maxSeriesPerMetric;
          counts[id] = (counts[id] ?? 0) + (admit.samples[r.index] ?? 0);
        }
        this.count(counts);
        this.usageLedger.write(); // no log row follows to carry it
        return { seriesRefused: refused };
      }
    }
    if (maxLogBytes !== undefined && this.logBytes >= maxLogBytes) {
      if (quota) this.count({ [ErrorIds.storageBacklogged]: quota.samples });
      this.kick(); // and look again whether the node and the bucket have caught up
      this.log.warn('commit log at its bound: refusing writes until the bucket confirms', { tenant, shard, logBytes: this.logBytes, maxLogBytes, applied: this.applied, durable: this.durable });
      return { backlogged: { retryAfterSeconds: BACKLOG_RETRY_SECONDS, logBytes: this.logBytes, maxBytes: maxLogBytes } };
    }
    if (quota) {
      const wait = this.rate.take(quota.samples, Date.now(), quota.rate, quota.burst);
      if (wait > 0) {
        this.count({ [ErrorIds.ingestionRateLimited]: quota.samples });
        return { rateLimited: { retryAfterSeconds: Math.max(1, Math.ceil(wait)) } };
      }
      this.count({ '': quota.samples }); // written with this append's row; moved to a reason if the node refuses some
    }
    for (const p of payloads) {
      if (p.byteLength > MAX_RECORD_BYTES) throw new RangeError(`payload of ${p.byteLength} bytes over the ${MAX_RECORD_BYTES}-byte record limit`);
    }
    const placement = await new Promise<Placement>((resolve, reject) => {
      this.group.push({ payloads, resolve, reject });
      if (!this.groupScheduled) {
        this.groupScheduled = true;
        // One macrotask hop lets appends already queued at this object join the same row.
        setTimeout(() => this.commitGroup(), 0);
      }
    });
    const seq = placement.at(-1)!.seq;
    this.kick();
    const applied = await this.waitApplied(seq, FORWARD_WAIT_MS);
    const rejected: NonNullable<AppendAck['rejected']> = [];
    for (const p of placement) {
      const r = this.rejections.get(`${p.seq}:${p.index}`);
      if (r) {
        rejected.push({ id: r.id, message: r.message, count: r.count });
        this.rejections.delete(`${p.seq}:${p.index}`);
      }
    }
    // Samples the node refused move from accepted (counted at commit) to their reason.
    const counts: Record<string, number> = {};
    for (const r of rejected) {
      counts[r.id] = (counts[r.id] ?? 0) + r.count;
      if (quota) counts[''] = (counts[''] ?? 0) - r.count;
    }
    this.count(counts);
    return { seq, applied, ...(rejected.length ? { rejected } : {}) };
  }

  /**
   * Check the tenant generation a request comes with: false for a deleted one;
   * a newer one (the id was deleted and created again) starts afresh.
   */
  private adopt(generation: number): boolean {
    if (generation !== 0 && generation <= this.deletedGeneration) return false;
    if (generation > this.generation) {
      if (this.generation !== 0) this.clear();
      this.generation = generation;
      this.sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES ('generation', ?)`, String(generation));
    }
    return true;
  }

  /** Add samples to the usage ledger ('' accepted, any other key an error id); written with the next log row. */
  private count(samples: Record<string, number>): void {
    this.usageLedger.count(samples);
  }

  /** Count samples the edge refused from a request none of whose series reached a coordinator. */
  async recordRejected(rejected: Record<string, number>, generation = 0): Promise<void> {
    if (generation !== 0 && generation <= this.deletedGeneration) return;
    this.count(rejected);
    this.usageLedger.write();
  }

  /** Samples accepted and refused over the last hour and the last day. */
  async usage(): Promise<{ lastHour: UsageWindow; lastDay: UsageWindow }> {
    return { lastHour: this.usageLedger.window(3_600_000), lastDay: this.usageLedger.window(86_400_000) };
  }

  /** Write the pending appends as few rows as fit, in one transaction. */
  private commitGroup(): void {
    const group = this.group;
    this.group = [];
    this.groupScheduled = false;
    const rows: Array<{ seq: number; records: Uint8Array[]; bytes: number }> = [];
    const placements: Placement[] = [];
    let cur: { seq: number; records: Uint8Array[]; bytes: number } | undefined;
    let seq = this.nextSeq;
    for (const a of group) {
      const placement: Placement = [];
      for (const p of a.payloads) {
        const size = RECORD_HEADER_BYTES + p.byteLength;
        if (!cur || cur.bytes + size > MAX_ROW_BYTES) {
          cur = { seq: seq++, records: [], bytes: 0 };
          rows.push(cur);
        }
        placement.push({ seq: cur.seq, index: cur.records.length });
        cur.records.push(p);
        cur.bytes += size;
      }
      placements.push(placement);
    }
    try {
      let added = 0;
      this.ctx.storage.transactionSync(() => {
        for (const r of rows) {
          const payload = encodeBatch(r.records.map((p) => ({ seq: r.seq, payload: p })));
          this.sql.exec(`INSERT INTO log (seq, payload, bytes) VALUES (?, ?, ?)`, r.seq, payload, payload.byteLength);
          added += payload.byteLength;
        }
        this.usageLedger.write();
      });
      this.logBytes += added;
      this.nextSeq = seq;
      group.forEach((a, i) => a.resolve(placements[i]!));
    } catch (e) {
      this.log.error('commit-log write failed', { tenant: this.tenant, shard: this.shard, ...errorFields(e) });
      for (const a of group) a.reject(e);
    }
  }

  private identify(tenant: string, shard: number): void {
    if (this.tenant === tenant && this.shard === shard) return;
    if (this.tenant !== '') throw new Error(`coordinator ${this.tenant}/${this.shard} asked to append for ${tenant}/${shard}`);
    this.tenant = tenant;
    this.shard = shard;
    this.logId = crypto.randomUUID();
    this.sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES ('tenant', ?), ('shard', ?), ('log_id', ?)`, tenant, String(shard), this.logId);
  }

  private waitApplied(seq: number, ms: number): Promise<boolean> {
    if (this.applied >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = { seq, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(this.applied >= seq);
      }, ms);
    });
  }

  private settleWaiters(): void {
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) (this.applied >= w.seq ? w.resolve(true) : keep.push(w));
    this.waiters = keep;
  }

  /** Start the pump, or tell the running one to go round again (rows may have landed after its last read). */
  private kick(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.pumpAgain = false;
        await this.pump();
      } while (this.pumpAgain && this.failures === 0);
    })().finally(() => (this.pumping = undefined));
  }

  /** Send everything past `applied` to the node, in order, until caught up or it fails. */
  private async pump(): Promise<void> {
    if (this.tenant === '') return;
    const node = this.transport.nodeFor(this.tenant, this.shard);
    let lastGapAt = -1;
    try {
      if (!this.synced) await this.syncWithNode();
      while (this.applied < this.nextSeq - 1) {
        const rows = this.sql.exec<{ seq: number; payload: ArrayBuffer }>(`SELECT seq, payload FROM log WHERE seq > ? ORDER BY seq LIMIT 256`, this.applied).toArray();
        if (rows.length === 0) break;
        const parts: Uint8Array[] = [];
        let size = 0;
        for (const r of rows) {
          if (parts.length > 0 && size + r.payload.byteLength > MAX_FORWARD_BYTES) break;
          parts.push(new Uint8Array(r.payload));
          size += r.payload.byteLength;
        }
        const body = new Uint8Array(size);
        let o = 0;
        for (const p of parts) {
          body.set(p, o);
          o += p.byteLength;
        }
        const logStart = this.sql.exec<{ m: number }>(`SELECT MIN(seq) AS m FROM log`).one().m;
        this.log.debug('forwarding rows', { tenant: this.tenant, shard: this.shard, from: this.applied + 1, rows: parts.length, bytes: size });
        const res = await node.fetch(applyPath(this.tenant, this.shard), {
          method: 'POST',
          body,
          headers: {
            'content-type': 'application/octet-stream',
            [LOG_START_HEADER]: String(logStart),
            [LOG_ID_HEADER]: this.logId,
            ...(this.retention ? retentionHeaders(this.retention) : {}),
            ...(this.exemplars !== undefined ? { [MAX_EXEMPLARS_HEADER]: String(this.exemplars) } : {}),
          },
          signal: AbortSignal.timeout(APPLY_TIMEOUT_MS),
        });
        if (res.status !== 200 && res.status !== 409) throw new Error(`node ${node.id} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
        const st = (await res.json()) as ShardState;
        this.log.debug('node answered', { tenant: this.tenant, shard: this.shard, status: res.status, applied: st.applied });
        if (res.status === 409) {
          if (st.applied === lastGapAt) throw new Error(`node ${node.id} keeps reporting a gap at ${st.applied}`);
          lastGapAt = st.applied;
          this.log.info('node is behind the log; replaying', { tenant: this.tenant, shard: this.shard, nodeApplied: st.applied, logStart });
        }
        this.onNodeState(st);
      }
      this.failures = 0;
      await this.scheduleAlarm(this.hasNotDurable() ? SYNC_INTERVAL_MS : undefined);
    } catch (e) {
      // Re-learn the node's position (a cheap, body-less request) before sending again:
      // it may have restarted, and a refused connection costs nothing to find out.
      this.synced = false;
      this.failures++;
      const delay = Math.min(RETRY_MIN_MS * 2 ** (this.failures - 1), RETRY_MAX_MS);
      this.log.warn('forwarding to storage node failed; will retry', { tenant: this.tenant, shard: this.shard, node: node.id, retryInMs: delay, ...errorFields(e) });
      await this.scheduleAlarm(delay);
      // Appends waiting for the node answer now: their rows are durable in the log.
      for (const w of this.waiters) w.resolve(false);
      this.waiters = [];
    }
  }

  private async syncWithNode(): Promise<void> {
    const node = this.transport.nodeFor(this.tenant, this.shard);
    this.log.debug('asking the node for its position', { tenant: this.tenant, shard: this.shard });
    const res = await node.fetch(shardStatePath(this.tenant, this.shard), { headers: { [LOG_ID_HEADER]: this.logId }, signal: AbortSignal.timeout(STATE_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`node ${node.id} answered ${res.status} to a state request`);
    const st = (await res.json()) as ShardState;
    if (st.applied < this.applied || (this.nodeBootId !== '' && st.bootId !== this.nodeBootId)) {
      this.log.info('storage node restarted; replaying the log', { tenant: this.tenant, shard: this.shard, nodeApplied: st.applied, ours: this.applied });
    }
    this.onNodeState(st);
    this.synced = true;
  }

  private onNodeState(st: ShardState): void {
    for (const r of st.rejections ?? []) {
      this.rejections.set(`${r.seq}:${r.index}`, r);
      if (this.rejections.size > MAX_KEPT_REJECTIONS) this.rejections.delete(this.rejections.keys().next().value!);
    }
    this.applied = Math.min(st.applied, this.nextSeq - 1);
    this.nodeBootId = st.bootId;
    if (st.durable > this.durable) {
      this.durable = Math.min(st.durable, this.applied);
      this.ctx.storage.transactionSync(() => {
        this.sql.exec(`DELETE FROM log WHERE seq <= ?`, this.durable);
        this.sql.exec(`DELETE FROM meta WHERE k = 'persisted'`);
        this.sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES ('durable', ?)`, String(this.durable));
      });
      this.logBytes = this.sql.exec<{ b: number | null }>(`SELECT SUM(bytes) AS b FROM log`).one().b ?? 0;
    }
    this.settleWaiters();
  }

  private hasNotDurable(): boolean {
    return this.nextSeq - 1 > this.durable;
  }

  private async scheduleAlarm(inMs: number | undefined): Promise<void> {
    if (inMs === undefined) return;
    const at = Date.now() + inMs;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** Retry forwarding, and check a node that may have restarted. Safe to run twice. */
  override async alarm(): Promise<void> {
    if (this.tenant === '') return;
    this.synced = false; // re-learn the node's position: it may have restarted since
    this.kick();
    await this.pumping;
  }

  /**
   * The storage node restarted (it says so through the edge): re-learn its
   * position and replay what it lacks. Returns at once; the pump does the work.
   */
  async resync(): Promise<void> {
    if (this.tenant === '') return;
    this.synced = false;
    this.failures = 0;
    this.kick();
  }

  /**
   * The tenant was deleted: drop the log (nothing of it is forwarded any more)
   * and refuse appends of this generation or older from now on.
   */
  async purge(generation: number): Promise<void> {
    this.clear();
    this.deletedGeneration = Math.max(this.deletedGeneration, generation);
    this.sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES ('deleted_generation', ?)`, String(this.deletedGeneration));
    this.log.info('tenant deleted: commit log dropped', { generation });
  }

  /** Back to a coordinator that has never been written to (the deletion mark stays). */
  private clear(): void {
    this.sql.exec(`DELETE FROM log`);
    this.logBytes = 0;
    this.usageLedger.clear();
    this.series.clear();
    this.sql.exec(`DELETE FROM meta WHERE k <> 'deleted_generation'`);
    this.tenant = '';
    this.shard = -1;
    this.logId = '';
    this.generation = 0;
    this.nextSeq = 1;
    this.applied = 0;
    this.durable = 0;
    this.synced = false;
    this.rejections.clear();
    void this.ctx.storage.deleteAlarm();
  }

  /** Readiness probe: the object and its storage answer. */
  async ping(): Promise<boolean> {
    this.sql.exec(`SELECT 1`);
    return true;
  }

  async state(): Promise<CoordinatorState> {
    const s = this.sql.exec<{ n: number; b: number | null }>(`SELECT COUNT(*) AS n, SUM(bytes) AS b FROM log`).one();
    return { tenant: this.tenant, shard: this.shard, nextSeq: this.nextSeq, applied: this.applied, durable: this.durable, rows: s.n, bytes: s.b ?? 0, nodeBootId: this.nodeBootId };
  }

  /** Sequence numbers in the log, in order (tests and operators). */
  async logSeqs(): Promise<number[]> {
    return this.sql.exec<{ seq: number }>(`SELECT seq FROM log ORDER BY seq`).toArray().map((r) => r.seq);
  }
}
