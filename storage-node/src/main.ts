/**
 * Storage-node entry point: `node dist/storage-node/main.mjs`.
 * Reads its settings from the environment (see config.ts), serves HTTP, and
 * stops cleanly on SIGTERM/SIGINT.
 */
import { serve } from '@hono/node-server';
import { mkdirSync } from 'node:fs';
import { createLogger, errorFields } from '../../wire/log.js';
import { loadConfig } from './config.js';
import { NodeMetrics } from './metrics.js';
import { workerRunner } from './compact/runner.js';
import { announceRestart } from './resync.js';
import { ShardRegistry } from './shard-registry.js';
import { createServer } from './server.js';
import { NodeStore } from './store.js';

const config = loadConfig();
const log = createLogger('storage-node', config.ISOBAR_LOG_LEVEL);
mkdirSync(config.nodeDir, { recursive: true });

const metrics = new NodeMetrics();
const shardRegistry = new ShardRegistry(config.nodeDir);
const known = shardRegistry.load();
if (known.problem) log.warn(known.problem);
const store = new NodeStore(metrics, log, {
  nodeDir: config.nodeDir,
  blockRangeMs: config.ISOBAR_BLOCK_RANGE_SECONDS * 1000,
  retentionMs: config.ISOBAR_RETENTION_SECONDS * 1000,
  onNewShard: (tenant, shard) => shardRegistry.remember(tenant, shard),
});
const opened = store.open();
log.info('storage opened', opened);
/** WAL fsync cadence: the coordinators' logs are the truth, so a second of OS buffering is safe. */
const WAL_SYNC_MS = 1000;
const walSync = setInterval(() => store.syncWals(), WAL_SYNC_MS);
/** Cadence of head cuts, compaction and retention. */
const COMPACT_MS = 60_000;
const compaction = setInterval(() => {
  try {
    store.flushIfDue();
  } catch (e) {
    log.error('head cut failed; will retry', errorFields(e));
  }
  void compactNow();
}, COMPACT_MS);
// Merges run in a worker thread (compact-worker.mjs is bundled beside this file).
const merger = workerRunner(new URL('./compact-worker.mjs', import.meta.url));
const compactNow = () =>
  store.compact(Date.now(), merger.run).catch((e) => log.error('compaction failed; will retry', errorFields(e)));
const app = createServer({
  store,
  metrics,
  log,
  secret: config.ISOBAR_NODE_SECRET,
  onFlushed: () => void compactNow(),
  onTenantDeleted: (tenant) => shardRegistry.forget(tenant),
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
  log.info('storage node listening', { address: `http://${info.address}:${info.port}`, dataDir: config.nodeDir, bootId: store.bootId, node: process.version, knownShards: known.loaded });
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
  clearInterval(walSync);
  clearInterval(compaction);
  void merger.close();
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
