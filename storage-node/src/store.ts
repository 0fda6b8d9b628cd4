/**
 * The node's state: one head per tenant, and per tenant×shard the commit-log
 * position it has applied. Applying is idempotent by sequence number, so a
 * coordinator may resend (replay) anything and nothing is stored twice.
 */
import { uncompressSync } from 'snappy';
import { WriteRequestReader } from '../../wire/remote-write.js';
import { decodeBatch, type BatchRecord } from '../../wire/node-batch.js';
import { snappyDeclaredLength } from '../../wire/snappy.js';
import type { ShardState } from '../../wire/internal-api.js';
import type { Logger } from '../../wire/log.js';
import { TenantHead, type AppendResult } from './head/head.js';
import type { NodeMetrics } from './metrics.js';

export type ApplyOutcome = { ok: true; state: ShardState } | { ok: false; gap: true; state: ShardState };

/** Uncompressed size cap for one record; the edge already enforced a tighter one. */
const MAX_RECORD_UNCOMPRESSED = 64 * 1024 * 1024;

export class NodeStore {
  readonly bootId = crypto.randomUUID();
  private readonly heads = new Map<string, TenantHead>();
  private readonly shards = new Map<string, { applied: number; persisted: number }>();

  constructor(
    private readonly metrics: NodeMetrics,
    private readonly log: Logger,
    /** Told about every new tenant×shard (the node's shard registry); optional in tests. */
    private readonly onNewShard: (tenant: string, shard: number) => void = () => {},
  ) {}

  head(tenant: string): TenantHead | undefined {
    return this.heads.get(tenant);
  }

  tenants(): IterableIterator<[string, TenantHead]> {
    return this.heads.entries();
  }

  shardState(tenant: string, shard: number): ShardState {
    const st = this.shards.get(`${tenant}/${shard}`);
    return { applied: st?.applied ?? 0, persisted: st?.persisted ?? 0, bootId: this.bootId };
  }

  /**
   * Apply a batch for tenant×shard. Records at or below the applied position
   * are skipped (replays). The first new record must follow the applied
   * position, or start the coordinator's retained log (`logStart`); otherwise
   * the answer is a gap and the coordinator resends from `state.applied + 1`.
   */
  apply(tenant: string, shard: number, body: Uint8Array, logStart: number): ApplyOutcome {
    const key = `${tenant}/${shard}`;
    let st = this.shards.get(key);
    if (!st) {
      st = { applied: 0, persisted: 0 };
      this.shards.set(key, st);
      this.onNewShard(tenant, shard);
    }
    const records = decodeBatch(body);
    const fresh = records.filter((r) => r.seq > st!.applied);
    if (fresh.length === 0) return { ok: true, state: this.shardState(tenant, shard) };
    const first = fresh[0]!.seq;
    if (first !== st.applied + 1 && !(first === logStart && logStart > st.applied)) {
      return { ok: false, gap: true, state: this.shardState(tenant, shard) };
    }
    let head = this.heads.get(tenant);
    if (!head) {
      head = new TenantHead();
      this.heads.set(tenant, head);
    }
    let seq = st.applied;
    for (const r of fresh) {
      if (r.seq > seq + 1 && seq !== st.applied) {
        // A hole inside one batch: apply up to it, the coordinator resends the rest.
        break;
      }
      this.applyRecord(tenant, shard, head, r);
      seq = r.seq;
    }
    st.applied = seq;
    return { ok: true, state: this.shardState(tenant, shard) };
  }

  private applyRecord(tenant: string, shard: number, head: TenantHead, r: BatchRecord): void {
    let body: Uint8Array;
    try {
      const declared = snappyDeclaredLength(r.payload);
      if (declared === undefined || declared > MAX_RECORD_UNCOMPRESSED) throw new Error(`record declares ${declared ?? 'an invalid'} uncompressed size`);
      body = uncompressSync(Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength), { asBuffer: true }) as Buffer;
    } catch (e) {
      this.corrupt(tenant, shard, r.seq, `snappy: ${(e as Error).message}`);
      return;
    }
    const res: AppendResult = { appended: 0, duplicates: 0, discarded: {}, newSeries: 0 };
    const reader = new WriteRequestReader(body);
    try {
      while (reader.next()) {
        if (reader.problem) {
          // The edge rejects these before logging; one here means a bug or corruption.
          this.metrics.discarded(tenant, reader.problem.id, reader.sampleCount);
          continue;
        }
        const { s, created } = head.getOrCreate(reader);
        if (created) res.newSeries++;
        head.appendSamples(s, reader.timestamps, reader.sampleValues, reader.sampleCount, res);
      }
    } catch (e) {
      this.corrupt(tenant, shard, r.seq, (e as Error).message);
    }
    this.metrics.appended(tenant, res);
  }

  private corrupt(tenant: string, shard: number, seq: number, what: string): void {
    this.metrics.corruptRecords++;
    this.log.error('skipping corrupt commit-log record', { tenant, shard, seq, what });
  }
}
