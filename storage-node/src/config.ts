/**
 * Storage-node settings, from the environment (zod-validated at start, so a
 * bad value stops the process with a message instead of misbehaving later).
 */
import { z } from 'zod';

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
  /** Blocks wholly older than this are deleted (seconds; default 30 days). */
  ISOBAR_RETENTION_SECONDS: z.coerce.number().int().min(3600).default(30 * 86400),
  /** PromQL: how far back a vector selector looks for a sample (seconds). */
  ISOBAR_QUERY_LOOKBACK_SECONDS: z.coerce.number().int().min(1).default(300),
  /** PromQL: the most samples one query may load. */
  ISOBAR_QUERY_MAX_SAMPLES: z.coerce.number().int().min(1).default(50_000_000),
  /** PromQL: the most points (samples over all series and steps) one result may hold. */
  ISOBAR_QUERY_MAX_POINTS: z.coerce.number().int().min(1).default(10_000_000),
  /** PromQL: the most series one query may load. */
  ISOBAR_QUERY_MAX_SERIES: z.coerce.number().int().min(1).default(1_000_000),
  /** PromQL: the longest stretch of time one query may read (seconds; 0: no limit at the node). */
  ISOBAR_QUERY_MAX_RANGE_SECONDS: z.coerce.number().int().min(0).default(0),
  /** PromQL: how long one query may run (seconds). */
  ISOBAR_QUERY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).default(120),
  /** The edge, which a restarted node asks to have its coordinators replay (unset: coordinators find out on their own). */
  ISOBAR_EDGE_URL: z.string().url().optional(),
});

export type NodeConfig = z.infer<typeof Env> & { nodeDir: string };

export function loadConfig(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid storage-node configuration: ${issues}`);
  }
  const c = parsed.data;
  if (c.ISOBAR_ENV === 'production' && c.ISOBAR_NODE_SECRET === DEV_NODE_SECRET) {
    throw new Error('ISOBAR_NODE_SECRET must be set to a real secret in production');
  }
  return { ...c, nodeDir: `${c.ISOBAR_DATA_DIR.replace(/\/$/, '')}/node` };
}
