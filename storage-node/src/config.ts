/**
 * Storage-node settings, from the environment (zod-validated at start, so a
 * bad value stops the process with a message instead of misbehaving later).
 */
import { z } from 'zod';
import { durationMs } from '../../wire/duration.js';
import { availableParallelism } from 'node:os';
import { QUERY_LIMIT_DEFAULTS } from '../../wire/query-limits.js';
import type { Bucket } from './bucket/bucket.js';
import { FsBucket } from './bucket/fs-bucket.js';
import { S3Bucket } from './bucket/s3-bucket.js';

/** Development default of the internal secret; documented in the README, refused in production. */
export const DEV_NODE_SECRET = 'isobar-dev-node-secret';

const Env = z.object({
  ISOBAR_DATA_DIR: z.string().default('.isobar'),
  ISOBAR_NODE_HOST: z.string().default('127.0.0.1'),
  ISOBAR_NODE_PORT: z.coerce.number().int().min(0).max(65535).default(8790),
  ISOBAR_NODE_SECRET: z.string().min(16, 'ISOBAR_NODE_SECRET must be at least 16 characters').default(DEV_NODE_SECRET),
  ISOBAR_ENV: z.enum(['development', 'production']).default('development'),
  ISOBAR_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Block range in seconds (Prometheus's 2 h by default); compaction levels are x3 and x12. */
  ISOBAR_BLOCK_RANGE_SECONDS: z.coerce.number().int().min(60).default(7200),
  /**
   * A tenant's head is cut into blocks (and uploaded) once its WAL holds this
   * many bytes: the shard coordinators keep the same records until then.
   */
  ISOBAR_FLUSH_WAL_BYTES: z.coerce.number().int().min(1024 * 1024).default(256 * 1024 * 1024),
  /** Compaction levels, comma-separated durations from the block range up (default: 2h,6h,24h,7d at a 2 h block range). */
  ISOBAR_COMPACTION_RANGES: z
    .string()
    .regex(/^\d+[smhdw](,\d+[smhdw])*$/, 'durations such as 2h,6h,24h,7d')
    .optional(),
  /** How often compaction, downsampling and retention run (seconds). */
  ISOBAR_COMPACTION_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** Blocks wholly older than this are deleted (seconds; default 30 days). */
  ISOBAR_RETENTION_SECONDS: z.coerce.number().int().min(3600).default(30 * 86400),
  /** PromQL: how far back a vector selector looks for a sample (seconds). */
  ISOBAR_QUERY_LOOKBACK_SECONDS: z.coerce.number().int().min(1).default(QUERY_LIMIT_DEFAULTS.lookbackSeconds),
  /** PromQL: the most samples one query may load. */
  ISOBAR_QUERY_MAX_SAMPLES: z.coerce.number().int().min(1).default(QUERY_LIMIT_DEFAULTS.maxSamples),
  /** PromQL: the most points (samples over all series and steps) one result may hold. */
  ISOBAR_QUERY_MAX_POINTS: z.coerce.number().int().min(1).default(QUERY_LIMIT_DEFAULTS.maxPoints),
  /** PromQL: the most series one query may load. */
  ISOBAR_QUERY_MAX_SERIES: z.coerce.number().int().min(1).default(QUERY_LIMIT_DEFAULTS.maxSeries),
  /** PromQL: the longest stretch of time one query may read (seconds; 0: no limit at the node). */
  ISOBAR_QUERY_MAX_RANGE_SECONDS: z.coerce.number().int().min(0).default(0),
  /** PromQL: worker threads that evaluate queries (default: one per core; 0: on the main thread). */
  ISOBAR_QUERY_THREADS: z.coerce.number().int().min(0).max(256).default(availableParallelism()),
  /** PromQL: most query threads one range query is split over when they are idle (1: never split). */
  ISOBAR_QUERY_SPLIT_THREADS: z.coerce.number().int().min(1).max(256).default(4),
  /** PromQL: how much lower the query threads' priority is than the main thread's, which acknowledges writes (nice increment). */
  ISOBAR_QUERY_THREAD_NICE: z.coerce.number().int().min(0).max(19).default(10),
  /** PromQL: queries that take at least this long (ms) are logged with where their time went (gather, wait, eval). */
  ISOBAR_QUERY_LOG_SLOW_MS: z.coerce.number().min(0).default(2000),
  /** PromQL: how long one query may run (seconds). */
  ISOBAR_QUERY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).default(QUERY_LIMIT_DEFAULTS.timeoutSeconds),
  /** The edge, which a restarted node asks to have its coordinators replay (unset: coordinators find out on their own). */
  ISOBAR_EDGE_URL: z.string().url().optional(),
  /** This node's name in the bucket (blocks it wrote carry it): unique per node, kept across disk replacements. */
  ISOBAR_NODE_ID: z.string().regex(/^[a-zA-Z0-9_.-]{1,100}$/, 'letters, digits, ".", "_" and "-"').default('node-0'),
  /** S3 API bucket (R2 in production); unset: the filesystem bucket under ISOBAR_DATA_DIR/bucket. */
  ISOBAR_S3_ENDPOINT: z.string().url().optional(),
  ISOBAR_S3_BUCKET: z.string().min(3).optional(),
  ISOBAR_S3_REGION: z.string().default('auto'),
  ISOBAR_S3_ACCESS_KEY_ID: z.string().optional(),
  ISOBAR_S3_SECRET_ACCESS_KEY: z.string().optional(),
  /** `https://endpoint/bucket/key` addressing (most self-hosted S3 servers); R2 and AWS take either. */
  ISOBAR_S3_PATH_STYLE: z.enum(['true', 'false', '1', '0']).default('false').transform((v) => v === 'true' || v === '1'),
  /** How long a block marked for deletion stays in the bucket (seconds), so queries reading it finish. */
  ISOBAR_BUCKET_DELETE_DELAY_SECONDS: z.coerce.number().int().min(0).default(3600),
  /** Disk kept for the indexes of bucket blocks (bytes). */
  ISOBAR_INDEX_CACHE_BYTES: z.coerce.number().int().min(0).default(8 * 1024 ** 3),
  /** Memory kept for chunks read from bucket blocks (bytes). */
  ISOBAR_CHUNK_CACHE_BYTES: z.coerce.number().int().min(0).default(512 * 1024 ** 2),
});

export type NodeConfig = z.infer<typeof Env> & { nodeDir: string; bucketDir: string };

export function compactionRangesMs(spec: string): number[] {
  return spec.split(',').map((d) => durationMs(d)!);
}

/** The bucket the configuration names: S3 API when ISOBAR_S3_ENDPOINT is set, else the filesystem. */
export function bucketFrom(c: NodeConfig): Bucket {
  if (c.ISOBAR_S3_ENDPOINT) {
    return new S3Bucket({
      endpoint: c.ISOBAR_S3_ENDPOINT,
      bucket: c.ISOBAR_S3_BUCKET!,
      region: c.ISOBAR_S3_REGION,
      accessKeyId: c.ISOBAR_S3_ACCESS_KEY_ID!,
      secretAccessKey: c.ISOBAR_S3_SECRET_ACCESS_KEY!,
      pathStyle: c.ISOBAR_S3_PATH_STYLE,
    });
  }
  return new FsBucket(c.bucketDir);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid storage-node configuration: ${issues}`);
  }
  const c = parsed.data;
  if (c.ISOBAR_S3_ENDPOINT !== undefined) {
    const missing = (['ISOBAR_S3_BUCKET', 'ISOBAR_S3_ACCESS_KEY_ID', 'ISOBAR_S3_SECRET_ACCESS_KEY'] as const).filter((k) => !c[k]);
    if (missing.length) throw new Error(`invalid storage-node configuration: ISOBAR_S3_ENDPOINT is set, so ${missing.join(', ')} must be too`);
  }
  if (c.ISOBAR_ENV === 'production' && c.ISOBAR_NODE_SECRET === DEV_NODE_SECRET) {
    throw new Error('ISOBAR_NODE_SECRET must be set to a real secret in production');
  }
  if (c.ISOBAR_COMPACTION_RANGES) {
    const ranges = compactionRangesMs(c.ISOBAR_COMPACTION_RANGES);
    if (ranges[0] !== c.ISOBAR_BLOCK_RANGE_SECONDS * 1000 || ranges.some((r, i) => i > 0 && r % ranges[i - 1]! !== 0)) {
      throw new Error('invalid storage-node configuration: ISOBAR_COMPACTION_RANGES must start at the block range (ISOBAR_BLOCK_RANGE_SECONDS), each range a multiple of the one before');
    }
  }
  const dataDir = c.ISOBAR_DATA_DIR.replace(/\/$/, '');
  return { ...c, nodeDir: `${dataDir}/node`, bucketDir: `${dataDir}/bucket` };
}
