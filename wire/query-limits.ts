/**
 * Query limits' built-in defaults, in one place for the edge (a tenant's
 * limits, durable/limits.ts), the storage node (its own ceilings,
 * storage-node/src/config.ts) and the PromQL engine (when called without
 * limits). A tenant's limits apply where lower than the node's.
 */
export const QUERY_LIMIT_DEFAULTS = {
  /** How long one query may run. */
  timeoutSeconds: 120,
  /** Samples one query may load. */
  maxSamples: 50_000_000,
  /** Points (samples over all series and steps) one result may hold. */
  maxPoints: 10_000_000,
  /** Series one query may load, over all its selectors. */
  maxSeries: 500_000,
  /** The longest stretch of time one selector may read, for a tenant (a node sets no ceiling by default). */
  maxRangeSeconds: 366 * 86_400,
  /** How far back a vector selector looks for a sample. */
  lookbackSeconds: 300,
} as const;
