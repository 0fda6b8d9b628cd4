/** The node's state as the metrics page reads it (metrics.ts stays below the store). */
import type { NodeGauges } from './metrics.js';
import type { NodeStore } from './store.js';

export function nodeGauges(store: NodeStore): NodeGauges {
  const tenants = [...store.tenants()].map(([tenant, db]) => ({
    tenant,
    headSeries: db.head.numSeries,
    headChunks: db.head.chunkCount,
    exemplars: db.exemplars.size,
    localBlocks: db.blocks.length,
    localBlockBytes: db.blocks.reduce((n, b) => n + b.bytes(), 0),
    walBytes: db.wal?.bytes() ?? 0,
    remoteBlocks: db.remote.length,
  }));
  if (!store.bucket) return { tenants };
  const { shipper, cache } = store.bucket;
  const cs = cache.stats;
  return {
    tenants,
    bucket: {
      uploadedBlocks: shipper.totals.blocks,
      uploadedBytes: shipper.totals.bytes,
      uploadFailures: shipper.totals.failures,
      pendingUploads: store.pendingUploads(),
      deletionMarks: shipper.totals.marks,
      deletedBlocks: shipper.totals.deleted,
      indexCacheBytes: cache.bytes.index,
      chunkCacheBytes: cache.bytes.chunks,
      indexFetches: cs.indexFetches,
      chunkRangeGets: cs.chunkRangeGets,
      chunkCacheHits: cs.chunkHits,
      fetchedBytes: cs.indexBytesFetched + cs.chunkBytesFetched,
    },
  };
}
