/**
 * Internal routes storage nodes call on the edge, guarded by ISOBAR_NODE_SECRET.
 *   POST /internal/v1/nodes/resync   a node (re)started: have the coordinators
 *                                    of the listed tenant×shards replay to it.
 *   GET  /internal/v1/nodes/:i/*     relay a node's read of a peer's internal API
 *                                    (containers cannot reach each other directly).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { INTERNAL_PREFIX, RESYNC_PATH } from '../../wire/internal-api.js';
import { createLogger } from '../../wire/log.js';
import { RELAY_PREFIX, transportFrom } from '../../durable/transport.js';
import { TENANT_ID_RE } from '../../wire/tenant-id.js';
import { edgeConfig } from '../../durable/env.js';
import type { AppEnv } from './context.js';
import { bearer, secretMatches } from './secrets.js';

const log = createLogger('edge');
const Resync = z.object({
  bootId: z.string().max(100),
  shards: z.array(z.object({ tenant: z.string().regex(TENANT_ID_RE), shard: z.number().int().min(0).max(1_000_000), applied: z.number().int().min(0) })).max(100_000),
});

export function internalApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', async function requireNodeSecret(c, next) {
    if (!(await secretMatches(bearer(c.req.header('authorization')), edgeConfig(c.env).nodeSecret))) return c.text('internal API: missing or wrong node secret\n', 401);
    await next();
  });
  app.post(RESYNC_PATH.slice(INTERNAL_PREFIX.length), async (c) => {
    const parsed = Resync.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.text(`bad resync request: ${z.prettifyError(parsed.error)}\n`, 400);
    const { bootId, shards } = parsed.data;
    await Promise.all(shards.map(({ tenant, shard }) => c.env.SHARD_COORDINATOR.get(c.env.SHARD_COORDINATOR.idFromName(`${tenant}/${shard}`)).resync()));
    log.info('storage node restarted; coordinators resyncing', { bootId, shards: shards.length });
    return c.json({ resynced: shards.length });
  });
  app.get(`${RELAY_PREFIX.slice(INTERNAL_PREFIX.length)}:index{[0-9]+}/*`, async (c) => {
    const nodes = transportFrom(c.env).all();
    const node = nodes[Number(c.req.param('index'))];
    if (!node) return c.text(`no storage node ${c.req.param('index')} (there are ${nodes.length})\n`, 404);
    const url = new URL(c.req.url);
    const rest = url.pathname.slice(`${RELAY_PREFIX}${c.req.param('index')}`.length);
    if (!rest.startsWith(INTERNAL_PREFIX + '/tenants/')) return c.text('only tenant reads are relayed\n', 404);
    return node.fetch(rest + url.search, { signal: c.req.raw.signal });
  });
  return app;
}
