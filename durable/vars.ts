/**
 * The edge's variables and the storage-node binding: what every Durable
 * Object and the transport read. The Durable Object namespaces themselves are
 * added in env.ts, above the classes, so no class imports another's module
 * through the environment.
 */
export interface EdgeVars {
  /** Production: storage nodes as Cloudflare Containers (see storage-node-container.ts). */
  STORAGE_NODE?: DurableObjectNamespace;
  /** `development` or `production`. */
  ISOBAR_ENV?: string;
  /** Development / self-hosted: comma-separated storage-node base URLs. */
  ISOBAR_NODE_URLS?: string;
  /** Production: how many storage-node containers share the shards. */
  ISOBAR_NODE_COUNT?: string;
  /** Shared secret of the internal API (secret). */
  ISOBAR_NODE_SECRET: string;
  /** Operator token for /admin/v1 (secret). */
  ISOBAR_ADMIN_TOKEN: string;
  /** Development only: key of tenant `demo`, created on first use. */
  ISOBAR_DEMO_KEY?: string;
  /** Development only: shard count of tenant `demo`. */
  ISOBAR_DEMO_SHARDS?: string;
  /** Production: the Worker's public base URL (given to storage-node containers for resync). */
  ISOBAR_PUBLIC_URL?: string;
  /** Production: the R2 bucket (S3 API) storage-node containers upload blocks to; the keys are secrets. */
  ISOBAR_S3_ENDPOINT?: string;
  ISOBAR_S3_BUCKET?: string;
  ISOBAR_S3_ACCESS_KEY_ID?: string;
  ISOBAR_S3_SECRET_ACCESS_KEY?: string;
  ISOBAR_COMMIT_LOG_MAX_BYTES?: string;
  /** Default retention of the 5 m and 1 h downsampled tiers (seconds; default 0: not kept). */
  ISOBAR_RETENTION_5M_SECONDS?: string;
  ISOBAR_RETENTION_1H_SECONDS?: string;
  ISOBAR_MAX_BODY_BYTES?: string;
  /** How far ahead of the edge's clock a sample may be (seconds; default 600). */
  ISOBAR_MAX_FUTURE_SECONDS?: string;
  /** Default retention (seconds; default 30 days): older samples are refused. */
  ISOBAR_RETENTION_SECONDS?: string;
  ISOBAR_MAX_DECOMPRESSED_BYTES?: string;
  /** Global defaults of the per-tenant limits (durable/limits.ts; each tenant may override them). */
  ISOBAR_INGESTION_RATE?: string;
  ISOBAR_INGESTION_BURST?: string;
  ISOBAR_MAX_SERIES?: string;
  ISOBAR_MAX_SERIES_PER_METRIC?: string;
  ISOBAR_MAX_LABEL_NAMES_PER_SERIES?: string;
  ISOBAR_MAX_LABEL_NAME_LENGTH?: string;
  ISOBAR_MAX_LABEL_VALUE_LENGTH?: string;
  ISOBAR_QUERY_TIMEOUT_SECONDS?: string;
  ISOBAR_QUERY_MAX_SAMPLES?: string;
  ISOBAR_QUERY_MAX_POINTS?: string;
  ISOBAR_QUERY_MAX_SERIES?: string;
  ISOBAR_QUERY_MAX_RANGE_SECONDS?: string;
  ISOBAR_DEFAULT_SHARDS?: string;
  ISOBAR_KEY_CACHE_TTL_SECONDS?: string;
  ISOBAR_LOG_LEVEL?: string;
}

/** A positive integer variable, or the default. */
export function intVar(raw: string | undefined, fallback: number): number {
  const n = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
