/**
 * Storage-node entry point: `node dist/storage-node/main.mjs`.
 * Reads its settings from the environment (see config.ts), serves HTTP, and
 * stops cleanly on SIGTERM/SIGINT.
 */
import { serve } from '@hono/node-server';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createLogger, errorFields } from '../../wire/log.js';
import { bucketFrom, compactionRangesMs, loadConfig } from './config.js';
import { BlockCache } from './bucket/remote-block.js';
import { Shipper } from './bucket/shipper.js';
import { ImportStaging } from './import/staging.js';
import { NodeMetrics } from './node/metrics.js';
import { QueryPool } from './jobs/query-pool.js';
import { workerRunner } from './jobs/runner.js';
import { announceRestart } from './resync.js';
import { ShardRegistry } from './shard-registry.js';
import { createServer } from './server.js';
import { NodeStore } from './node/store.js';
import { NodeLayout } from './node/layout.js';
import { NodeScheduler } from './node/scheduler.js';

const config = loadConfig();
const layout = new NodeLayout(config.nodeDir);
const log = createLogger('storage-node', config.ISOBAR_LOG_LEVEL);
/** An empty disk (new node, or a replaced one): rebuild from the bucket before serving. */
const emptyDisk = !existsSync(config.nodeDir) || readdirSync(config.nodeDir).length === 0;
mkdirSync(config.nodeDir, { recursive: true });
const bucket = bucketFrom(config);
const shipper = new Shipper(bucket, config.ISOBAR_NODE_ID);
const cache = new BlockCache(bucket, { dir: layout.remoteRoot, maxIndexBytes: config.ISOBAR_INDEX_CACHE_BYTES, maxChunkBytes: config.ISOBAR_CHUNK_CACHE_BYTES });

const metrics = new NodeMetrics();
const shardRegistry = new ShardRegistry(config.nodeDir);
const known = shardRegistry.load();
if (known.problem) log.warn(known.problem);
const store = new NodeStore(metrics, log, {
  nodeDir: config.nodeDir,
  blockRangeMs: config.ISOBAR_BLOCK_RANGE_SECONDS * 1000,
  retentionMs: config.ISOBAR_RETENTION_SECONDS * 1000,
  flushWalBytes: config.ISOBAR_FLUSH_WAL_BYTES,
  ...(config.ISOBAR_COMPACTION_RANGES ? { compactionRangesMs: compactionRangesMs(config.ISOBAR_COMPACTION_RANGES) } : {}),
  onNewShard: (tenant, shard) => shardRegistry.remember(tenant, shard),
  bucket: { shipper, cache, deleteDelayMs: config.ISOBAR_BUCKET_DELETE_DELAY_SECONDS * 1000 },
});
const opened = store.open();
log.info('storage opened', { ...opened, bucket: bucket.where, nodeId: config.ISOBAR_NODE_ID });
if (emptyDisk) {
  // Nothing is served until the bucket has answered: a node that skipped this
  // would take the coordinators' truncated logs for the whole story.
  for (let attempt = 0, delay = 1000; ; attempt++, delay = Math.min(delay * 2, 30_000)) {
    try {
      const t0 = performance.now();
      const r = await store.rebuild();
      log.info('rebuilt from the bucket', { ...r, ms: Math.round(performance.now() - t0) });
      break;
    } catch (e) {
      log.warn('the bucket is not answering; rebuild retries', { attempt, retryInMs: delay, bucket: bucket.where, ...errorFields(e) });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
// Merges run in a worker thread (compact-worker.mjs is bundled beside this file).
const merger = workerRunner(new URL('./compact-worker.mjs', import.meta.url));
const scheduler = new NodeScheduler({
  store,
  log,
  merge: merger.run,
  compactionIntervalMs: config.ISOBAR_COMPACTION_INTERVAL_SECONDS * 1000,
  onShipFailure: () => shipper.totals.failures++,
  bucketWhere: bucket.where,
});
scheduler.start();
// Queries are evaluated in worker threads (query-worker.mjs, bundled beside this file).
const queryPool = config.ISOBAR_QUERY_THREADS > 0 ? new QueryPool(new URL('./query-worker.mjs', import.meta.url), config.ISOBAR_QUERY_THREADS, log, config.ISOBAR_QUERY_THREAD_NICE, config.ISOBAR_QUERY_SPLIT_THREADS) : undefined;
const app = createServer({
  store,
  metrics,
  log,
  secret: config.ISOBAR_NODE_SECRET,
  staging: new ImportStaging(layout.importRoot),
  onFlushed: () => void scheduler.compactNow(),
  onTenantDeleted: (tenant) => shardRegistry.forget(tenant),
  ...(queryPool ? { queryRunner: queryPool.run, queryPoolStats: () => queryPool.stats() } : {}),
  slowQueryMs: config.ISOBAR_QUERY_LOG_SLOW_MS,
  queryLimits: {
    lookbackMs: config.ISOBAR_QUERY_LOOKBACK_SECONDS * 1000,
    maxSamples: config.ISOBAR_QUERY_MAX_SAMPLES,
    maxPoints: config.ISOBAR_QUERY_MAX_POINTS,
    maxSeries: config.ISOBAR_QUERY_MAX_SERIES,
    ...(config.ISOBAR_QUERY_MAX_RANGE_SECONDS > 0 ? { maxRangeMs: config.ISOBAR_QUERY_MAX_RANGE_SECONDS * 1000 } : {}),
    timeoutMs: config.ISOBAR_QUERY_TIMEOUT_SECONDS * 1000,
  },
});

/**
 * Keep idle keep-alive connections longer than clients do: Node's default (5 s)
 * closes a socket a client may be reusing at that very moment, losing the
 * request until the client's timeout (seen with workerd as the client).
 */
const KEEP_ALIVE_MS = 75_000;
const stopping = new AbortController();
const server = serve({ fetch: app.fetch, hostname: config.ISOBAR_NODE_HOST, port: config.ISOBAR_NODE_PORT }, (info) => {
  log.info('storage node listening', { address: `http://${info.address}:${info.port}`, dataDir: config.nodeDir, bootId: store.bootId, node: process.version, knownShards: known.loaded, queryThreads: config.ISOBAR_QUERY_THREADS });
  if (config.ISOBAR_EDGE_URL) {
    void announceRestart({ edgeUrl: config.ISOBAR_EDGE_URL, secret: config.ISOBAR_NODE_SECRET, store, pairs: [...shardRegistry.pairs], log, signal: stopping.signal });
  }
});

const httpServer = server as unknown as { keepAliveTimeout: number; headersTimeout: number };
httpServer.keepAliveTimeout = KEEP_ALIVE_MS;
httpServer.headersTimeout = KEEP_ALIVE_MS + 1000;

function shutdown(signal: string) {
  log.info('shutting down', { signal });
  stopping.abort();
  scheduler.stop();
  void merger.close();
  void queryPool?.close();
  store.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('uncaughtException', (e) => {
  log.error('uncaught exception', errorFields(e));
  process.exit(1);
});
