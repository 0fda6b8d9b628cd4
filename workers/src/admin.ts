/**
 * Operator API under /admin/v1, guarded by ISOBAR_ADMIN_TOKEN (Bearer); its
 * OpenAPI document is /admin/v1/openapi.json (workers/src/openapi.ts).
 * This is the first slice (create tenants and keys, inspect a shard's commit
 * log); bodies are validated with zod and every rejection says what was wrong.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { ErrorIds, IsobarError } from '../../wire/errors.js';
import { LimitsPatchSchema, retentionLimits, retentionSpec } from '../../durable/limits.js';
import { importPath, INTERNAL_PREFIX, retentionHeaders, type NodeUsage } from '../../wire/internal-api.js';
import { transportFrom } from '../../durable/transport.js';
import { edgeConfig } from '../../durable/env.js';
import type { AppEnv } from './context.js';
import { CreateKey, CreateTenant } from './admin-schemas.js';
import { TENANT_ID_RE, TENANT_ID_RULE } from '../../wire/tenant-id.js';
import { openApiDocument } from './openapi.js';
import { bearer, secretMatches } from './secrets.js';

export interface TenantUsageWindow {
  samplesAccepted: number;
  /** Samples refused, by error id (docs/errors.md). */
  samplesRejected: Record<string, number>;
  queries: number;
  samplesRead: number;
}

export interface TenantUsage {
  tenant: string;
  /** Series in the storage nodes' heads (written to in the last block range or so). */
  activeSeries: number;
  /** Blocks and WAL on the storage nodes' disks. */
  bytesStored: number;
  lastHour: TenantUsageWindow;
  lastDay: TenantUsageWindow;
}

function jsonError(status: 400 | 401 | 404 | 409, id: string, message: string): Response {
  return Response.json({ error: message, id }, { status });
}

export function adminApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // The API's description: public, it holds no data.
  app.get('/openapi.json', (c) => c.json(openApiDocument()));

  app.use('*', async function requireOperatorToken(c, next) {
    if (!(await secretMatches(bearer(c.req.header('authorization')), edgeConfig(c.env).adminToken))) {
      const e = new IsobarError(ErrorIds.adminTokenRequired, 'unauthenticated', 'the admin API needs the operator token: Authorization: Bearer $ISOBAR_ADMIN_TOKEN');
      return jsonError(401, e.id, e.message);
    }
    await next();
  });

  const registry = (env: AppEnv['Bindings']) => env.TENANT_REGISTRY.get(env.TENANT_REGISTRY.idFromName('global'));

  app.post('/tenants', async (c) => {
    const parsed = CreateTenant.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return jsonError(400, ErrorIds.badParameter, z.prettifyError(parsed.error));
    const { id, name, limits, shards, retention } = parsed.data;
    const t = await registry(c.env).createTenant(id, name ?? id, { ...limits, ...(shards ? { shards } : {}), ...(retention ? retentionLimits(retention) : {}) });
    if (t === 'exists') return jsonError(409, ErrorIds.badParameter, `tenant ${parsed.data.id} already exists`);
    if (t === 'deleting') return jsonError(409, ErrorIds.badParameter, `tenant ${parsed.data.id} was deleted and its data is still being removed; try again in a minute`);
    return c.json(t, 201);
  });

  app.get('/tenants', async (c) => c.json({ tenants: await registry(c.env).listTenants() }));

  app.get('/tenants/:id/keys', async (c) => {
    const keys = await registry(c.env).listKeys(c.req.param('id'));
    return keys === 'no-tenant' ? jsonError(404, ErrorIds.badParameter, `no tenant ${c.req.param('id')}`) : c.json({ keys });
  });

  app.delete('/tenants/:id/keys/:keyId', async (c) => {
    const ok = await registry(c.env).revokeKey(c.req.param('id'), c.req.param('keyId'));
    return ok ? c.body(null, 204) : jsonError(404, ErrorIds.badParameter, `tenant ${c.req.param('id')} has no key ${c.req.param('keyId')}`);
  });

  // Delete a tenant: keys and writes refused at once, data removed from coordinators and nodes (retried until done).
  app.delete('/tenants/:id', async (c) => {
    const r = await registry(c.env).deleteTenant(c.req.param('id'));
    if (!r) return jsonError(404, ErrorIds.badParameter, `no tenant ${c.req.param('id')}`);
    return c.json({ deleted: r.deleted, dataRemoved: !r.pending.some((p) => p.id === r.deleted), pending: r.pending }, 202);
  });

  // What a tenant used: samples accepted and refused (by error id) from its coordinators,
  // active series, bytes stored, queries and samples read from the storage nodes.
  app.get('/tenants/:id/usage', async (c) => {
    const id = c.req.param('id');
    const t = await registry(c.env).getTenant(id);
    if (!t) return jsonError(404, ErrorIds.badParameter, `no tenant ${id}`);
    const [shards, nodes] = await Promise.all([
      Promise.all(Array.from({ length: t.limits.shards }, (_, s) => c.env.SHARD_COORDINATOR.get(c.env.SHARD_COORDINATOR.idFromName(`${id}/${s}`)).usage())),
      Promise.all(
        transportFrom(c.env)
          .all()
          .map(async (n) => {
            const r = await n.fetch(`${INTERNAL_PREFIX}/tenants/${encodeURIComponent(id)}/usage`, { signal: AbortSignal.timeout(10_000) });
            if (!r.ok) throw new Error(`${n.id} answered ${r.status}`);
            return (await r.json()) as NodeUsage;
          }),
      ),
    ]);
    const window = (w: 'lastHour' | 'lastDay'): TenantUsageWindow => {
      const rejected: Record<string, number> = {};
      for (const s of shards) for (const [k, n] of Object.entries(s[w].rejected)) rejected[k] = (rejected[k] ?? 0) + n;
      return {
        samplesAccepted: shards.reduce((n, s) => n + s[w].accepted, 0),
        samplesRejected: rejected,
        queries: nodes.reduce((n, x) => n + x[w].queries, 0),
        samplesRead: nodes.reduce((n, x) => n + x[w].samplesRead, 0),
      };
    };
    const usage: TenantUsage = {
      tenant: id,
      activeSeries: nodes.reduce((n, x) => n + x.activeSeries, 0),
      bytesStored: nodes.reduce((n, x) => n + x.bytesStored, 0),
      lastHour: window('lastHour'),
      lastDay: window('lastDay'),
    };
    return c.json(usage);
  });

  app.patch('/tenants/:id/limits', async (c) => {
    const parsed = LimitsPatchSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return jsonError(400, ErrorIds.badParameter, z.prettifyError(parsed.error));
    const t = await registry(c.env).patchLimits(c.req.param('id'), parsed.data);
    return t ? c.json(t.limits) : jsonError(404, ErrorIds.badParameter, `no tenant ${c.req.param('id')}`);
  });

  app.get('/tenants/:id', async (c) => {
    const t = await registry(c.env).getTenant(c.req.param('id'));
    return t ? c.json(t) : jsonError(404, ErrorIds.badParameter, `no tenant ${c.req.param('id')}`);
  });

  app.post('/tenants/:id/keys', async (c) => {
    const parsed = CreateKey.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return jsonError(400, ErrorIds.badParameter, z.prettifyError(parsed.error));
    const { scopes, name, expiresAt } = parsed.data;
    const k = await registry(c.env).createKey(c.req.param('id'), scopes, name ?? '', expiresAt ? Date.parse(expiresAt) : undefined);
    if (k === 'no-tenant') return jsonError(404, ErrorIds.badParameter, `no tenant ${c.req.param('id')}`);
    return c.json(k, 201);
  });

  /**
   * Backfill (`isobar import`): a Prometheus block's files go, in parts of at
   * most 32 MiB, to the node serving the tenant's queries, which checks the
   * block on commit and takes it. Every step can be repeated: the state says
   * what the node already holds.
   */
  const importNode = (c: { env: AppEnv['Bindings'] }, id: string) => transportFrom(c.env).nodeFor(id, 0);
  const relay = async (r: Response) => new Response(r.body, { status: r.status, headers: { 'content-type': r.headers.get('content-type') ?? 'application/json' } });
  app.get('/tenants/:id/import/:ulid', async (c) => {
    const id = c.req.param('id');
    if (!(await registry(c.env).getTenant(id))) return jsonError(404, ErrorIds.badParameter, `no tenant ${id}`);
    return relay(await importNode(c, id).fetch(importPath(id, c.req.param('ulid')), { signal: AbortSignal.timeout(30_000) }));
  });
  app.put('/tenants/:id/import/:ulid/file', async (c) => {
    const id = c.req.param('id');
    if (!(await registry(c.env).getTenant(id))) return jsonError(404, ErrorIds.badParameter, `no tenant ${id}`);
    const q = new URLSearchParams({ path: c.req.query('path') ?? '', offset: c.req.query('offset') ?? '' });
    const body = await c.req.arrayBuffer();
    return relay(await importNode(c, id).fetch(`${importPath(id, c.req.param('ulid'))}/file?${q}`, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' }, signal: AbortSignal.timeout(5 * 60_000) }));
  });
  app.post('/tenants/:id/import/:ulid/commit', async (c) => {
    const id = c.req.param('id');
    const t = await registry(c.env).getTenant(id);
    if (!t) return jsonError(404, ErrorIds.badParameter, `no tenant ${id}`);
    return relay(
      await importNode(c, id).fetch(`${importPath(id, c.req.param('ulid'))}/commit`, {
        method: 'POST',
        headers: retentionHeaders(retentionSpec(t.limits)),
        signal: AbortSignal.timeout(10 * 60_000),
      }),
    );
  });

  // Cut every storage node's heads (or one tenant's) into blocks; answers once they are on disk.
  app.post('/flush', async (c) => {
    const tenant = c.req.query('tenant');
    if (tenant !== undefined && !TENANT_ID_RE.test(tenant)) return jsonError(400, ErrorIds.badParameter, TENANT_ID_RULE);
    const nodes = transportFrom(c.env).all();
    const path = `${INTERNAL_PREFIX}/flush${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ''}`;
    const answers = await Promise.all(
      nodes.map(async (n) => {
        const r = await n.fetch(path, { method: 'POST', signal: AbortSignal.timeout(10 * 60_000) });
        if (!r.ok) throw new Error(`${n.id} answered ${r.status}: ${await r.text()}`);
        return { node: n.id, ...((await r.json()) as object) };
      }),
    );
    return c.json({ nodes: answers });
  });

  // The commit-log state of one shard coordinator (operators; restart and replay checks).
  app.get('/tenants/:id/shards/:shard/log', async (c) => {
    const shard = Number(c.req.param('shard'));
    if (!Number.isInteger(shard) || shard < 0) return jsonError(400, ErrorIds.badParameter, 'shard must be a non-negative integer');
    const stub = c.env.SHARD_COORDINATOR.get(c.env.SHARD_COORDINATOR.idFromName(`${c.req.param('id')}/${shard}`));
    return c.json(await stub.state());
  });

  return app;
}
