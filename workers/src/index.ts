/**
 * Isobar's edge Worker: remote write in, the Prometheus read API out, the
 * admin API for operators, and the Durable Object classes it binds.
 */
import { Hono, type Context } from 'hono';
import { INTERNAL_PREFIX } from '../../wire/internal-api.js';
import { createLogger, errorFields } from '../../wire/log.js';
import { transportFrom } from '../../durable/transport.js';
import { edgeConfig, EdgeConfigError } from '../../durable/vars.js';
import { adminApp } from './admin.js';
import { authenticate } from './auth.js';
import type { AppEnv } from './context.js';
import { handleWrite } from './ingest.js';
import { internalApp } from './internal.js';
import { readApp } from './read.js';

export { ShardCoordinator } from '../../durable/shard-coordinator.js';
export { TenantRegistry } from '../../durable/tenant-registry.js';
export { StorageNodeContainer } from '../../durable/storage-node-container.js';

const log = createLogger('edge');
const app = new Hono<AppEnv>();

// A bad variable stops every request (EdgeConfigError, below), not just the ones that read it.
app.use(async (c, next) => {
  edgeConfig(c.env);
  await next();
});

/** Liveness: the Worker answers. Prometheus's probe, served unauthenticated as Prometheus serves it. */
async function healthy(c: Context<AppEnv>): Promise<Response> {
  return c.text('Isobar is Healthy.\n');
}

/**
 * Readiness: every part a write needs answers: the registry, a shard
 * coordinator (Durable Object storage), and every storage node.
 */
async function ready(c: Context<AppEnv>): Promise<Response> {
  const problems: string[] = [];
  const check = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      problems.push(`${what}: ${(e as Error).message}`);
    }
  };
  await Promise.all([
    check('tenant registry', () => c.env.TENANT_REGISTRY.get(c.env.TENANT_REGISTRY.idFromName('global')).ping()),
    check('shard coordinator', () => c.env.SHARD_COORDINATOR.get(c.env.SHARD_COORDINATOR.idFromName('readiness-probe')).ping()),
    check('storage nodes', async () => {
      for (const n of transportFrom(c.env).all()) {
        const r = await n.fetch('/-/ready', { signal: AbortSignal.timeout(5000) });
        if (!r.ok) throw new Error(`${n.id} answered ${r.status}`);
      }
    }),
  ]);
  if (problems.length) return c.text(`Isobar is not ready: ${problems.join('; ')}\n`, 503);
  return c.text('Isobar is Ready.\n');
}

// At the root for load balancers, and under the datasource URL, where Grafana's
// "Save & test" (10.0) first calls `<datasource URL>/-/healthy`.
for (const prefix of ['', '/prometheus']) {
  app.get(`${prefix}/-/healthy`, healthy);
  app.get(`${prefix}/-/ready`, ready);
}

const write = authenticate({ scope: 'write', format: 'text' });
app.post('/api/v1/write', write, handleWrite);
app.post('/api/v1/push', write, handleWrite);

app.route('/prometheus', readApp());
app.route('/admin/v1', adminApp());
app.route(INTERNAL_PREFIX, internalApp());

app.notFound((c) => c.text(`404: ${c.req.method} ${new URL(c.req.url).pathname} is not an Isobar endpoint\n`, 404));
app.onError((e, c) => {
  if (e instanceof EdgeConfigError) {
    log.error('edge misconfigured', { error: e.message });
    return c.text('internal error: the edge is misconfigured (its log says which variable)\n', 500);
  }
  log.error('request failed', { path: new URL(c.req.url).pathname, ...errorFields(e) });
  return c.text('internal error\n', 500);
});

export default app;
