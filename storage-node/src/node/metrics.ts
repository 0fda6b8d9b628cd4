/**
 * The node's own metrics in Prometheus text format (`GET /metrics`).
 * Kept to plain counters and gauges computed on scrape; no client library.
 */
import type { AppendResult } from '../head/head.js';
import type { AddOutcome } from '../db/exemplars.js';

/** One tenant's gauges, read at each scrape. */
export interface TenantGauges {
  tenant: string;
  headSeries: number;
  headChunks: number;
  localBlocks: number;
  localBlockBytes: number;
  walBytes: number;
  /** Blocks served from the bucket (no local copy). */
  remoteBlocks: number;
  exemplars: number;
}

/** The bucket's counters and gauges, where the node has a bucket. */
export interface BucketGauges {
  uploadedBlocks: number;
  uploadedBytes: number;
  uploadFailures: number;
  pendingUploads: number;
  deletionMarks: number;
  deletedBlocks: number;
  indexCacheBytes: number;
  chunkCacheBytes: number;
  indexFetches: number;
  chunkRangeGets: number;
  chunkCacheHits: number;
  fetchedBytes: number;
}

/** The query threads (jobs/query-pool.ts PoolStats). */
export interface QueryPoolGauges {
  threads: number;
  busy: number;
  queued: number;
  replaced: number;
  /** Range queries split over idle query threads. */
  split: number;
}

/** What the metrics page reads of the node's state (node-gauges.ts reads it from the store). */
export interface NodeGauges {
  tenants: TenantGauges[];
  bucket?: BucketGauges;
  queryPool?: QueryPoolGauges;
}

export class NodeMetrics {
  samplesAppended = 0;
  oooSamplesAppended = 0;
  duplicateSamples = 0;
  seriesCreated = 0;
  corruptRecords = 0;
  applyRequests = 0;
  applyGaps = 0;
  blocksWritten = 0;
  compactions = 0;
  /** Exemplars offered to the tenants' stores, by what became of them. */
  readonly exemplars: Record<AddOutcome, number> = { added: 0, duplicate: 0, 'out-of-order': 0, disabled: 0 };
  /** WAL fsync durations: cumulative histogram buckets (seconds). */
  private readonly fsyncBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1];
  private readonly fsyncCounts = new Array<number>(8).fill(0);
  private fsyncSum = 0;
  private fsyncCount = 0;

  walFsync(seconds: number): void {
    this.fsyncSum += seconds;
    this.fsyncCount++;
    const i = this.fsyncBuckets.findIndex((b) => seconds <= b);
    this.fsyncCounts[i < 0 ? this.fsyncBuckets.length : i]!++;
  }
  /** reason -> tenant -> samples */
  private readonly discards = new Map<string, Map<string, number>>();

  appended(tenant: string, r: AppendResult): void {
    this.samplesAppended += r.appended;
    this.oooSamplesAppended += r.outOfOrder;
    this.duplicateSamples += r.duplicates;
    this.seriesCreated += r.newSeries;
    for (const [reason, n] of Object.entries(r.discarded)) if (n) this.discarded(tenant, reason, n);
  }

  discarded(tenant: string, reason: string, n: number): void {
    let byTenant = this.discards.get(reason);
    if (!byTenant) this.discards.set(reason, (byTenant = new Map()));
    byTenant.set(tenant, (byTenant.get(tenant) ?? 0) + n);
  }

  render(g: NodeGauges): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    let series = 0;
    let chunks = 0;
    let blocks = 0;
    let blockBytes = 0;
    let walBytes = 0;
    const perTenant: Array<[string, number]> = [];
    for (const t of g.tenants) {
      series += t.headSeries;
      chunks += t.headChunks;
      blocks += t.localBlocks;
      blockBytes += t.localBlockBytes;
      walBytes += t.walBytes;
      perTenant.push([`{tenant=${JSON.stringify(t.tenant)}}`, t.headSeries]);
    }
    metric('isobar_node_head_series', 'gauge', 'Series in the head.', [['', series]]);
    metric('isobar_node_head_series_by_tenant', 'gauge', 'Series in the head per tenant.', perTenant);
    metric('isobar_node_head_chunks', 'gauge', 'XOR chunks in the head (started since the last flush).', [['', chunks]]);
    metric('isobar_node_samples_appended_total', 'counter', 'Samples appended to the head.', [['', this.samplesAppended]]);
    metric('isobar_node_ooo_samples_appended_total', 'counter', 'Samples appended older than their series\u2019 newest (backfill, late data).', [['', this.oooSamplesAppended]]);
    metric('isobar_node_duplicate_samples_total', 'counter', 'Samples ignored as exact duplicates (same timestamp and value).', [['', this.duplicateSamples]]);
    metric('isobar_node_exemplars_total', 'counter', 'Exemplars offered to the tenants\u2019 stores, by outcome (added; duplicate or out-of-order: ignored, as Prometheus; disabled: max_exemplars is 0).', Object.entries(this.exemplars).map(([o, n]) => [`{outcome=${JSON.stringify(o)}}`, n]));
    metric('isobar_node_exemplars', 'gauge', 'Exemplars held in the tenants\u2019 stores.', [['', g.tenants.reduce((n, t) => n + t.exemplars, 0)]]);
    metric('isobar_node_series_created_total', 'counter', 'Series created in the head.', [['', this.seriesCreated]]);
    const disc: Array<[string, number]> = [];
    for (const [reason, byTenant] of this.discards) for (const [t, n] of byTenant) disc.push([`{reason=${JSON.stringify(reason)},tenant=${JSON.stringify(t)}}`, n]);
    metric('isobar_node_discarded_samples_total', 'counter', 'Samples not stored, by reason.', disc);
    metric('isobar_node_corrupt_records_total', 'counter', 'Commit-log records skipped as unreadable.', [['', this.corruptRecords]]);
    metric('isobar_node_apply_requests_total', 'counter', 'Apply requests from shard coordinators.', [['', this.applyRequests]]);
    metric('isobar_node_apply_gaps_total', 'counter', 'Apply requests answered with a sequence gap (replay needed).', [['', this.applyGaps]]);
    metric('isobar_node_blocks', 'gauge', 'Blocks on local disk.', [['', blocks]]);
    metric('isobar_node_block_bytes', 'gauge', 'Bytes of blocks on local disk.', [['', blockBytes]]);
    metric('isobar_node_blocks_written_total', 'counter', 'Blocks written (head flushes).', [['', this.blocksWritten]]);
    metric('isobar_node_compactions_total', 'counter', 'Block compactions (merges of overlapping or adjacent blocks).', [['', this.compactions]]);
    metric('isobar_node_wal_bytes', 'gauge', 'Bytes of WAL segments on disk.', [['', walBytes]]);
    lines.push('# HELP isobar_node_wal_fsync_duration_seconds WAL fsync durations.', '# TYPE isobar_node_wal_fsync_duration_seconds histogram');
    let cum = 0;
    this.fsyncBuckets.forEach((b, i) => {
      cum += this.fsyncCounts[i]!;
      lines.push(`isobar_node_wal_fsync_duration_seconds_bucket{le="${b}"} ${cum}`);
    });
    lines.push(`isobar_node_wal_fsync_duration_seconds_bucket{le="+Inf"} ${this.fsyncCount}`, `isobar_node_wal_fsync_duration_seconds_sum ${this.fsyncSum}`, `isobar_node_wal_fsync_duration_seconds_count ${this.fsyncCount}`);
    if (g.queryPool) {
      const q = g.queryPool;
      metric('isobar_node_query_threads', 'gauge', 'Worker threads that evaluate queries.', [['', q.threads]]);
      metric('isobar_node_query_threads_busy', 'gauge', 'Query threads evaluating a query now.', [['', q.busy]]);
      metric('isobar_node_queries_queued', 'gauge', 'Queries gathered and waiting for a query thread.', [['', q.queued]]);
      metric('isobar_node_query_threads_replaced_total', 'counter', 'Query threads replaced (died, or held a query far past its deadline).', [['', q.replaced]]);
      metric('isobar_node_queries_split_total', 'counter', 'Range queries split over several idle query threads, each reading its own part of the series.', [['', q.split]]);
    }
    if (g.bucket) {
      const b = g.bucket;
      const remote = g.tenants.reduce((n, t) => n + t.remoteBlocks, 0);
      metric('isobar_bucket_uploaded_blocks_total', 'counter', 'Blocks uploaded to the bucket.', [['', b.uploadedBlocks]]);
      metric('isobar_bucket_uploaded_bytes_total', 'counter', 'Bytes uploaded to the bucket.', [['', b.uploadedBytes]]);
      metric('isobar_bucket_upload_failures_total', 'counter', 'Upload rounds that failed (retried with backoff).', [['', b.uploadFailures]]);
      metric('isobar_bucket_pending_uploads', 'gauge', 'Blocks, deletion marks and deletion lists waiting for the bucket.', [['', b.pendingUploads]]);
      metric('isobar_bucket_deletion_marks_total', 'counter', 'Blocks marked for deletion (compacted away or past retention).', [['', b.deletionMarks]]);
      metric('isobar_bucket_deleted_blocks_total', 'counter', 'Marked blocks deleted from the bucket.', [['', b.deletedBlocks]]);
      metric('isobar_bucket_remote_blocks', 'gauge', 'Blocks served from the bucket (no local copy).', [['', remote]]);
      metric('isobar_bucket_index_cache_bytes', 'gauge', 'Bytes of bucket-block indexes cached on disk.', [['', b.indexCacheBytes]]);
      metric('isobar_bucket_chunk_cache_bytes', 'gauge', 'Bytes of bucket-block chunks cached in memory.', [['', b.chunkCacheBytes]]);
      metric('isobar_bucket_index_fetches_total', 'counter', 'Bucket-block indexes fetched.', [['', b.indexFetches]]);
      metric('isobar_bucket_chunk_range_gets_total', 'counter', 'Ranged GETs for bucket-block chunks.', [['', b.chunkRangeGets]]);
      metric('isobar_bucket_chunk_cache_hits_total', 'counter', 'Chunk reads served by the chunk cache.', [['', b.chunkCacheHits]]);
      metric('isobar_bucket_fetched_bytes_total', 'counter', 'Bytes read from the bucket for queries.', [['', b.fetchedBytes]]);
    }
    const mem = process.memoryUsage();
    metric('isobar_node_resident_memory_bytes', 'gauge', 'Resident set size.', [['', mem.rss]]);
    metric('isobar_node_heap_used_bytes', 'gauge', 'V8 heap in use.', [['', mem.heapUsed]]);
    return lines.join('\n') + '\n';
  }
}
