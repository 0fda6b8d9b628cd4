/**
 * The edge's variables and the storage-node binding: what every Durable
 * Object and the transport read. The Durable Object namespaces themselves are
 * added in env.ts, above the classes, so no class imports another's module
 * through the environment. Read them through `edgeConfig`, never directly.
 */
import { z } from 'zod';
import type { Level } from '../wire/log.js';
import { defaultLimits, type Limits } from './limits.js';

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

/**
 * The edge's configuration, parsed from its variables once per isolate
 * (`edgeConfig`). One policy for bad values: a variable that is set but not
 * valid stops the Worker and every Durable Object with an error naming it
 * (never its value when it is a secret); an unset or empty one takes its default.
 */
export interface EdgeConfig {
  env: 'development' | 'production';
  /** Development / self-hosted storage nodes; empty in production (containers). */
  nodeUrls: string[];
  nodeCount: number;
  nodeSecret: string;
  adminToken: string;
  demoKey: string | undefined;
  demoShards: number;
  publicUrl: string | undefined;
  /** Production: the bucket storage-node containers upload to (R2's S3 API), handed to them as is. */
  s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string } | undefined;
  /** Largest remote-write body after snappy decoding. */
  maxDecompressedBytes: number;
  keyCacheTtlSeconds: number;
  logLevel: Level;
  /** The global defaults of the per-tenant limits (built-in values, each replaced by its variable). */
  limits: Limits;
}

const unset = (v: unknown) => v === undefined || v === '';
const positiveInt = z.string().regex(/^[1-9][0-9]*$/, 'must be a positive integer').transform(Number);

const EdgeVarsSchema = z.object({
  ISOBAR_ENV: z.enum(['development', 'production']).default('development'),
  ISOBAR_NODE_URLS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((u) => u.trim()).filter(Boolean))
    .pipe(z.array(z.url({ protocol: /^https?$/, error: 'must be comma-separated http(s) URLs' }))),
  ISOBAR_NODE_COUNT: positiveInt.default(1),
  ISOBAR_NODE_SECRET: z.string({ error: 'is required (a secret shared with the storage nodes)' }).min(16, 'must be at least 16 characters'),
  ISOBAR_ADMIN_TOKEN: z.string({ error: 'is required (the operator token of /admin/v1)' }).min(16, 'must be at least 16 characters'),
  ISOBAR_DEMO_KEY: z.string().optional(),
  ISOBAR_DEMO_SHARDS: positiveInt.default(1),
  ISOBAR_PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  ISOBAR_S3_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  ISOBAR_S3_BUCKET: z.string().optional(),
  ISOBAR_S3_ACCESS_KEY_ID: z.string().optional(),
  ISOBAR_S3_SECRET_ACCESS_KEY: z.string().optional(),
  ISOBAR_MAX_DECOMPRESSED_BYTES: positiveInt.default(32 * 1024 * 1024),
  ISOBAR_KEY_CACHE_TTL_SECONDS: positiveInt.default(30),
  ISOBAR_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});
const SECRET_VARS = new Set(['ISOBAR_NODE_SECRET', 'ISOBAR_ADMIN_TOKEN', 'ISOBAR_DEMO_KEY', 'ISOBAR_S3_ACCESS_KEY_ID', 'ISOBAR_S3_SECRET_ACCESS_KEY']);

/** An edge variable set to something it cannot be. */
export class EdgeConfigError extends Error {
  override name = 'EdgeConfigError';
}

const parsed = new WeakMap<object, EdgeConfig>();

/** The configuration of this environment (parsed on first use, then kept); throws EdgeConfigError naming every bad variable. */
export function edgeConfig(env: EdgeVars): EdgeConfig {
  const known = parsed.get(env);
  if (known) return known;
  const vars = env as unknown as Record<string, unknown>;
  const given = Object.fromEntries(Object.keys(EdgeVarsSchema.shape).filter((k) => !unset(vars[k])).map((k) => [k, vars[k]]));
  const r = EdgeVarsSchema.safeParse(given);
  const problems = r.success ? [] : r.error.issues.map((i) => {
    const name = String(i.path[0]);
    return SECRET_VARS.has(name) || vars[name] === undefined ? `${name} ${i.message}` : `${name}=${JSON.stringify(vars[name])} ${i.message}`;
  });
  let limits: Limits | undefined;
  try {
    limits = defaultLimits(env);
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (!r.success || !limits) throw new EdgeConfigError(`bad edge configuration (wrangler.toml [vars] or secrets): ${problems.join('; ')}`);
  const v = r.data;
  const config: EdgeConfig = {
    env: v.ISOBAR_ENV,
    nodeUrls: v.ISOBAR_NODE_URLS,
    nodeCount: v.ISOBAR_NODE_COUNT,
    nodeSecret: v.ISOBAR_NODE_SECRET,
    adminToken: v.ISOBAR_ADMIN_TOKEN,
    demoKey: v.ISOBAR_DEMO_KEY,
    demoShards: v.ISOBAR_DEMO_SHARDS,
    publicUrl: v.ISOBAR_PUBLIC_URL,
    s3: v.ISOBAR_S3_ENDPOINT
      ? { endpoint: v.ISOBAR_S3_ENDPOINT, bucket: v.ISOBAR_S3_BUCKET ?? '', accessKeyId: v.ISOBAR_S3_ACCESS_KEY_ID ?? '', secretAccessKey: v.ISOBAR_S3_SECRET_ACCESS_KEY ?? '' }
      : undefined,
    maxDecompressedBytes: v.ISOBAR_MAX_DECOMPRESSED_BYTES,
    keyCacheTtlSeconds: v.ISOBAR_KEY_CACHE_TTL_SECONDS,
    logLevel: v.ISOBAR_LOG_LEVEL,
    limits,
  };
  parsed.set(env, config);
  return config;
}
