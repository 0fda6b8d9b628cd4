/**
 * Per-tenant limits: global defaults (environment), overridden per tenant in
 * the TenantRegistry. The registry hands the effective limits to the edge with
 * the key's principal, so a change reaches every edge isolate within the key
 * cache time (ISOBAR_KEY_CACHE_TTL_SECONDS).
 *
 * Names are camelCase in the admin API; each limit's error message names it
 * with its snake_case form (`ingestion_rate`), its value, and how to raise it.
 */
import { z } from 'zod';
import { durationMs } from '../wire/duration.js';
import { QUERY_LIMIT_DEFAULTS } from '../wire/query-limits.js';
import { DEFAULT_MAX_EXEMPLARS, type RetentionSpec } from '../wire/internal-api.js';

const positive = z.number().int().min(1);

/** Every limit, with its bounds. */
export const LimitsSchema = z.object({
  /** Samples per second the tenant may write, across all shards (token bucket). */
  ingestionRate: positive.max(1e9),
  /** Samples the token bucket holds: how far a burst may go above the rate. */
  ingestionBurst: positive.max(1e10),
  /** Most active series (written to in the last hour) the tenant may have. */
  maxSeries: positive.max(1e9),
  /** Most active series of one metric name. */
  maxSeriesPerMetric: positive.max(1e9),
  /** Most labels (name included) one series may have. */
  maxLabelNamesPerSeries: positive.max(1000),
  /** Longest label name, in bytes. */
  maxLabelNameLength: positive.max(65_536),
  /** Longest label value, in bytes. */
  maxLabelValueLength: positive.max(1_048_576),
  /** Largest compressed remote-write body, in bytes. */
  maxBodyBytes: positive.max(256 * 1024 * 1024),
  /** How far ahead of now a sample may be, in seconds. */
  maxFutureSeconds: positive.max(7 * 86_400),
  /** Samples older than this are refused, and raw blocks older are deleted (seconds). */
  retentionSeconds: positive.max(100 * 365 * 86_400),
  /** How long the 5 m downsampled tier is kept (seconds; 0: no 5 m tier). */
  retention5mSeconds: z.number().int().min(0).max(100 * 365 * 86_400),
  /** How long the 1 h downsampled tier is kept (seconds; 0: no 1 h tier). */
  retention1hSeconds: z.number().int().min(0).max(100 * 365 * 86_400),
  /** PromQL: longest a query may run (seconds). */
  queryTimeoutSeconds: positive.max(3600),
  /** PromQL: most samples one query may load. */
  queryMaxSamples: positive.max(1e10),
  /** PromQL: most points (samples over all series and steps) a result may hold. */
  queryMaxPoints: positive.max(1e9),
  /** PromQL: most series one query may load. */
  queryMaxSeries: positive.max(1e8),
  /** PromQL: longest stretch of time one query may read, its range and its selectors' ranges together (seconds). */
  queryMaxRangeSeconds: positive.max(100 * 365 * 86_400),
  /** Shard coordinators the tenant's writes are spread over. */
  shards: positive.max(1024),
  /**
   * Bytes of writes one shard's commit log may hold before the bucket has them
   * (it grows while the bucket or the storage node is down); over it, writes get 429.
   */
  commitLogMaxBytes: positive.min(65_536).max(10 * 1024 ** 3),
  /** Most exemplars kept for the tenant (the newest; older ones make room). 0: exemplars are not kept. */
  maxExemplars: z.number().int().min(0).max(10_000_000),
  /** Most buckets one native histogram may have (0: no limit), as Mimir's max_native_histogram_buckets. */
  maxNativeHistogramBuckets: z.number().int().min(0).max(1_000_000),
  /** 1: a histogram over that limit has its resolution halved until it fits (exponential schemas); 0: it is refused. */
  reduceNativeHistogramOverMaxBuckets: z.number().int().min(0).max(1),
});
export type Limits = z.infer<typeof LimitsSchema>;

/** A change to some limits (PATCH, or at tenant creation). */
export const LimitsPatchSchema = LimitsSchema.partial().strict();
export type LimitsPatch = z.infer<typeof LimitsPatchSchema>;

/** Built-in defaults: roomy for a team's Prometheus, small enough to stop a runaway sender. */
export const BUILTIN_LIMITS: Limits = {
  ingestionRate: 500_000,
  ingestionBurst: 5_000_000,
  maxSeries: 2_000_000,
  maxSeriesPerMetric: 200_000,
  maxLabelNamesPerSeries: 40,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 4096,
  maxBodyBytes: 8 * 1024 * 1024,
  maxFutureSeconds: 600,
  retentionSeconds: 30 * 86_400,
  // Downsampled tiers are opt-in: a tenant's data is kept no longer than asked.
  retention5mSeconds: 0,
  retention1hSeconds: 0,
  queryTimeoutSeconds: QUERY_LIMIT_DEFAULTS.timeoutSeconds,
  queryMaxSamples: QUERY_LIMIT_DEFAULTS.maxSamples,
  queryMaxPoints: QUERY_LIMIT_DEFAULTS.maxPoints,
  queryMaxSeries: QUERY_LIMIT_DEFAULTS.maxSeries,
  queryMaxRangeSeconds: QUERY_LIMIT_DEFAULTS.maxRangeSeconds,
  shards: 1,
  commitLogMaxBytes: 2 * 1024 ** 3,
  maxExemplars: DEFAULT_MAX_EXEMPLARS,
  // Mimir's defaults: no bucket limit; where one is set, reduce rather than refuse.
  maxNativeHistogramBuckets: 0,
  reduceNativeHistogramOverMaxBuckets: 1,
};

/** Environment variable holding each limit's global default. */
export const LIMIT_ENV: Record<keyof Limits, string> = {
  ingestionRate: 'ISOBAR_INGESTION_RATE',
  ingestionBurst: 'ISOBAR_INGESTION_BURST',
  maxSeries: 'ISOBAR_MAX_SERIES',
  maxSeriesPerMetric: 'ISOBAR_MAX_SERIES_PER_METRIC',
  maxLabelNamesPerSeries: 'ISOBAR_MAX_LABEL_NAMES_PER_SERIES',
  maxLabelNameLength: 'ISOBAR_MAX_LABEL_NAME_LENGTH',
  maxLabelValueLength: 'ISOBAR_MAX_LABEL_VALUE_LENGTH',
  maxBodyBytes: 'ISOBAR_MAX_BODY_BYTES',
  maxFutureSeconds: 'ISOBAR_MAX_FUTURE_SECONDS',
  retentionSeconds: 'ISOBAR_RETENTION_SECONDS',
  retention5mSeconds: 'ISOBAR_RETENTION_5M_SECONDS',
  retention1hSeconds: 'ISOBAR_RETENTION_1H_SECONDS',
  queryTimeoutSeconds: 'ISOBAR_QUERY_TIMEOUT_SECONDS',
  queryMaxSamples: 'ISOBAR_QUERY_MAX_SAMPLES',
  queryMaxPoints: 'ISOBAR_QUERY_MAX_POINTS',
  queryMaxSeries: 'ISOBAR_QUERY_MAX_SERIES',
  queryMaxRangeSeconds: 'ISOBAR_QUERY_MAX_RANGE_SECONDS',
  shards: 'ISOBAR_DEFAULT_SHARDS',
  commitLogMaxBytes: 'ISOBAR_COMMIT_LOG_MAX_BYTES',
  maxExemplars: 'ISOBAR_MAX_EXEMPLARS',
  maxNativeHistogramBuckets: 'ISOBAR_MAX_NATIVE_HISTOGRAM_BUCKETS',
  reduceNativeHistogramOverMaxBuckets: 'ISOBAR_REDUCE_NATIVE_HISTOGRAM_OVER_MAX_BUCKETS',
};

/** The global defaults: built-in values, each replaced by its environment variable when set. */
export function defaultLimits(env: object): Limits {
  const out = { ...BUILTIN_LIMITS };
  for (const k of Object.keys(out) as Array<keyof Limits>) {
    const raw = (env as Record<string, unknown>)[LIMIT_ENV[k]];
    if (typeof raw !== 'string' || raw === '') continue;
    const parsed = LimitsSchema.shape[k].safeParse(Number(raw));
    if (!parsed.success) throw new Error(`${LIMIT_ENV[k]}=${JSON.stringify(raw)} is not a valid ${k}: ${z.prettifyError(parsed.error)}`);
    out[k] = parsed.data;
  }
  return out;
}

/** The snake_case name a limit goes by in error messages. */
export function limitName(k: keyof Limits): string {
  return k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

/** How an operator raises a limit: said in every error that names one. */
export function howToRaise(tenant: string, k: keyof Limits): string {
  return `ask the operator to raise it (isobar limits set ${tenant} --${limitName(k).replace(/_/g, '-')} N)`;
}

/** A retention: seconds, or a duration such as "30d"; `min` 0 lets a tier be turned off. */
const retentionValue = (name: string, min: 0 | 1) =>
  z.union([
    z.number().int().min(min).max(100 * 365 * 86_400),
    z
      .string()
      .regex(/^(\d+[ywdhms])+$/, 'a duration such as "30d", "12w" or "1y"')
      .transform((d) => durationMs(d)! / 1000),
  ], { error: `retention.${name} must be seconds${min === 0 ? ' (0: none)' : ''}, or a duration such as "30d", "12w" or "1y"` });

/**
 * A tenant's retention as given at creation: how long raw samples, the 5 m
 * tier and the 1 h tier are kept (docs/format/downsampled.md), e.g.
 * `{"raw": "30d", "5m": "1y", "1h": "5y"}`. A tier left out (or 0) is not kept.
 */
export const RetentionSchema = z
  .object({
    raw: retentionValue('raw', 1),
    '5m': retentionValue('5m', 0).optional(),
    '1h': retentionValue('1h', 0).optional(),
  })
  .strict();

/** RetentionSchema's answer as limits. */
export function retentionLimits(r: z.infer<typeof RetentionSchema>): Pick<LimitsPatch, 'retentionSeconds' | 'retention5mSeconds' | 'retention1hSeconds'> {
  return { retentionSeconds: r.raw, ...(r['5m'] !== undefined ? { retention5mSeconds: r['5m'] } : {}), ...(r['1h'] !== undefined ? { retention1hSeconds: r['1h'] } : {}) };
}

/** The retention a tenant's limits say, as storage nodes are told it. */
export function retentionSpec(l: Limits): RetentionSpec {
  return { raw: l.retentionSeconds, '5m': l.retention5mSeconds, '1h': l.retention1hSeconds };
}
