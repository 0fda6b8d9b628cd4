/**
 * The storage node's HTTP surface (Hono):
 *   GET  /-/healthy, /-/ready, /metrics                       (open)
 *   POST /internal/v1/tenants/:tenant/shards/:shard/apply      (secret)
 *   GET  /internal/v1/tenants/:tenant/shards/:shard            (secret)
 *   GET|POST /internal/v1/tenants/:tenant/prom/api/v1/{series,labels,label/:name/values,
 *            query,query_range,format_query,parse_query}       (secret)
 *   GET  /internal/v1/tenants/:tenant/chunks                   (secret; peers' series as chunks)
 *   DELETE /internal/v1/tenants/:tenant                        (secret; a deleted tenant's data)
 *   GET  /internal/v1/tenants/:tenant/usage                    (secret; series, bytes, queries)
 *   POST /internal/v1/flush                                    (secret)
 *   GET|PUT|POST /internal/v1/tenants/:tenant/import/:ulid[/file|/commit]  (secret; backfill)
 * The internal routes are never exposed publicly; the edge reaches them with
 * the shared secret after authenticating the tenant.
 *
 * Errors: every route throws what goes wrong as an IsobarError (an id and a
 * cause) and one handler, `app.onError`, answers it: the status from the
 * cause (wire/errors.ts), in Prometheus's JSON on the Prometheus API routes
 * and the peers' chunks route, `{"error", "id", ...details}` elsewhere.
 * Anything else is a fault of ours: 500, logged with its stack.
 */
import { Hono, type Context } from 'hono';
import { ErrorIds, httpStatusOf, IsobarError, promErrorTypeOf } from '../../wire/errors.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { INTERNAL_PREFIX, LOG_ID_HEADER, LOG_START_HEADER, MAX_EXEMPLARS_HEADER, PEERS_HEADER, parseRetentionHeaders, QUERY_LIMITS_HEADER, type NodeUsage, type TenantQueryLimits } from '../../wire/internal-api.js';
import { errorFields, type Logger } from '../../wire/log.js';
import { errorJson } from '../../wire/prom-json.js';
import { formatQueryApi, parseQueryApi, queryApi, queryRangeApi, type QueryOptions, type QueryRunner, type QueryStats } from './api/query.js';
import type { EngineOptions } from './promql/engine.js';
import { peerSeries } from './api/peers.js';
import { QueryUsage } from './usage.js';
import { chunksApi, deleteSeriesParams, exemplarsApi, histogramsApi, labelName, labelsApi, labelValuesApi, metadataApi, metadataQuery, metadataRead, seriesApi } from './api/read.js';
import type { NodeMetrics, QueryPoolGauges } from './node/metrics.js';
import { nodeGauges } from './node/node-gauges.js';
import type { NodeStore } from './node/store.js';
import { Retentions } from './node/retention.js';
import type { ImportStaging } from './import/staging.js';
import { ParamError } from './api/params.js';
import { isTenantId, TENANT_ID_RULE } from '../../wire/tenant-id.js';

/** Largest apply body accepted: a coordinator sends at most a few MB of log rows at a time. */
const MAX_APPLY_BODY = 64 * 1024 * 1024;

export interface ServerDeps {
  store: NodeStore;
  /** PromQL lookback and limits. */
  queryLimits?: EngineOptions;
  /** Where queries are evaluated once their series are gathered (default: this thread). */
  queryRunner?: QueryRunner;
  /** The query threads' state, for the metrics page. */
  queryPoolStats?: () => QueryPoolGauges;
  /** Queries that take at least this long (ms) are logged, with where their time went. */
  slowQueryMs?: number;
  /** Called after a tenant's data was deleted (the node forgets its shards). */
  onTenantDeleted?: (tenant: string) => void;
  /** Called after a flush wrote blocks (the node schedules a compaction). */
  onFlushed?: () => void;
  metrics: NodeMetrics;
  log: Logger;
  secret: string;
  /** Where imported blocks are staged (needs a data directory). */
  staging?: ImportStaging;
}

/** Largest part of an imported file per request (the edge relays it; Workers bodies stay far below their limits). */
export const MAX_IMPORT_PART = 32 * 1024 * 1024;

export function createServer({ store, metrics, log, secret, staging, onFlushed = () => {}, onTenantDeleted = () => {}, queryLimits = {}, queryRunner, queryPoolStats, slowQueryMs = Infinity }: ServerDeps): Hono {
  const usage = new QueryUsage();
  const app = new Hono();
  const secretDigest = createHash('sha256').update(secret).digest();

  app.get('/-/healthy', (c) => c.text('Isobar storage node is Healthy.\n'));
  app.get('/-/ready', (c) => c.text('Isobar storage node is Ready.\n'));
  app.get('/metrics', (c) => c.text(metrics.render({ ...nodeGauges(store), ...(queryPoolStats ? { queryPool: queryPoolStats() } : {}) }), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }));

  app.use(`${INTERNAL_PREFIX}/*`, async function requireSecret(c, next) {
    const auth = c.req.header('authorization') ?? '';
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const ok = timingSafeEqual(createHash('sha256').update(given).digest(), secretDigest);
    if (!ok) throw new IsobarError(ErrorIds.nodeSecretRequired, 'unauthenticated', 'internal API: missing or wrong node secret');
    await next();
  });

  app.use(`${INTERNAL_PREFIX}/tenants/:tenant/*`, async function checkTenant(c, next) {
    tenantParam(c.req.param('tenant'));
    await next();
  });

  app.post(`${INTERNAL_PREFIX}/tenants/:tenant/shards/:shard/apply`, async (c) => {
    const tenant = c.req.param('tenant');
    const shard = shardParam(c.req.param('shard'));
    const len = Number(c.req.header('content-length') ?? '0');
    if (len > MAX_APPLY_BODY) throw new IsobarError(ErrorIds.bodyTooLarge, 'too-large', `apply body of ${len} bytes over ${MAX_APPLY_BODY}`);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const logStart = Number(c.req.header(LOG_START_HEADER) ?? '1') || 1;
    const logId = c.req.header(LOG_ID_HEADER);
    const retention = Retentions.fromSpec(parseRetentionHeaders((n) => c.req.header(n)));
    if (retention) store.setRetention(tenant, retention.ms, retention.tiers);
    const exemplars = Number(c.req.header(MAX_EXEMPLARS_HEADER) ?? NaN);
    if (Number.isInteger(exemplars) && exemplars >= 0 && exemplars <= 10_000_000) store.setExemplarShare(tenant, shard, exemplars);
    metrics.applyRequests++;
    const out = store.apply(tenant, shard, body, logStart, logId);
    if (!out.ok) {
      // Not an error: the answer is the state the coordinator replays from.
      metrics.applyGaps++;
      log.info('sequence gap: asking coordinator to replay', { tenant, shard, applied: out.state.applied });
      return c.json(out.state, 409);
    }
    return c.json(out.state);
  });

  app.get(`${INTERNAL_PREFIX}/tenants/:tenant/shards/:shard`, (c) => {
    const shard = shardParam(c.req.param('shard'));
    return c.json(store.shardStateFor(c.req.param('tenant'), shard, c.req.header(LOG_ID_HEADER)));
  });

  const read = (fn: (tenant: string, params: URLSearchParams, c: Context) => string | Promise<string>) =>
    async function promRead(c: Context) {
      const params = await requestParams(c);
      return c.body(await fn(c.req.param('tenant')!, params, c), 200, { 'Content-Type': 'application/json' });
    };
  const prom = `${INTERNAL_PREFIX}/tenants/:tenant/prom/api/v1`;
  /**
   * A query stops when its client goes away (the edge's fetch is cancelled with
   * the user's request), and reads the series other nodes hold from them.
   */
  const counted = async (tenant: string, c: Context, query: string, run: (o: QueryOptions) => Promise<string>): Promise<string> => {
    const signal = c.req.raw.signal;
    const peers = (c.req.header(PEERS_HEADER) ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    const stats: QueryStats = { samples: 0 };
    const t0 = performance.now();
    try {
      return await run({ ...tenantLimits(queryLimits, c.req.header(QUERY_LIMITS_HEADER)), signal, stats, ...(queryRunner ? { runner: queryRunner } : {}), ...(peers.length ? { peers: peerSeries(peers, tenant, secret, signal) } : {}) });
    } finally {
      usage.record(tenant, stats.samples); // usage: queries and the samples they read
      const ms = performance.now() - t0;
      const phases = { gatherMs: stats.gatherMs ?? 0, waitMs: stats.waitMs ?? 0, evalMs: stats.evalMs ?? 0 };
      c.header('Server-Timing', `gather;dur=${phases.gatherMs.toFixed(1)}, wait;dur=${phases.waitMs.toFixed(1)}, eval;dur=${phases.evalMs.toFixed(1)}`);
      if (ms >= slowQueryMs) {
        const round = (x: number) => Math.round(x * 10) / 10;
        log.info('slow query', { tenant, query, ms: round(ms), gatherMs: round(phases.gatherMs), waitMs: round(phases.waitMs), evalMs: round(phases.evalMs), samples: stats.samples });
      }
    }
  };
  for (const method of ['get', 'post'] as const) {
    app[method](`${prom}/series`, read((t, p) => metadataRead(store.tenantDb(t), metadataQuery(p), seriesApi)));
    app[method](`${prom}/labels`, read((t, p) => metadataRead(store.tenantDb(t), metadataQuery(p), labelsApi)));
    app[method](`${prom}/label/:name/values`, read((t, p, c) => {
      const name = labelName(c.req.param('name')!);
      return metadataRead(store.tenantDb(t), metadataQuery(p), (db, q) => labelValuesApi(db, name, q));
    }));
    app[method](`${prom}/query`, read((t, p, c) => counted(t, c, p.get('query') ?? '', (o) => queryApi(store.tenantDb(t), p, o))));
    app[method](`${prom}/query_range`, read((t, p, c) => counted(t, c, p.get('query') ?? '', (o) => queryRangeApi(store.tenantDb(t), p, o))));
    app[method](`${prom}/query_exemplars`, read((t, p) => exemplarsApi(store.tenantDb(t), p)));
    app[method](`${prom}/metadata`, read((t, p) => metadataApi(store.tenantDb(t), p)));
    app[method](`${prom}/format_query`, read((_t, p) => formatQueryApi(p)));
    app[method](`${prom}/parse_query`, read((_t, p) => parseQueryApi(p)));
  }

  // A peer evaluating a query asks for this node's part of the tenant's series.
  // delete_series (the edge checked the key's admin scope); answers once the deletion is on disk.
  for (const method of ['post', 'put'] as const) {
    app[method](`${prom}/admin/tsdb/delete_series`, async (c) => {
      const p = deleteSeriesParams(await requestParams(c));
      store.deleteSeries(c.req.param('tenant')!, p.selectors, p.mint, p.maxt);
      return c.body(null, 204);
    });
  }

  app.get(`${INTERNAL_PREFIX}/tenants/:tenant/histograms`, async (c) => {
    const bytes = await histogramsApi(store.tenantDb(c.req.param('tenant')), new URL(c.req.url).searchParams);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/x-protobuf' });
  });

  app.get(`${INTERNAL_PREFIX}/tenants/:tenant/chunks`, async (c) => {
    const bytes = await chunksApi(store.tenantDb(c.req.param('tenant')), new URL(c.req.url).searchParams);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/x-protobuf' });
  });

  // A deleted tenant: remove its data from this node (idempotent).
  app.delete(`${INTERNAL_PREFIX}/tenants/:tenant`, async (c) => {
    const tenant = tenantParam(c.req.param('tenant'));
    const r = store.deleteTenant(tenant);
    staging?.remove(tenant);
    await store.deleteTenantFromBucket(tenant).catch((e: unknown) => {
      log.warn('deleting a tenant from the bucket failed; the registry will ask again', { tenant, ...errorFields(e) });
      throw new IsobarError(ErrorIds.storageUnavailable, 'unavailable', `the bucket did not answer: ${(e as Error).message}`);
    });
    usage.forget(tenant);
    onTenantDeleted(tenant);
    return c.json(r);
  });

  // This node's part of a tenant's usage: active series, bytes stored, queries and samples read.
  app.get(`${INTERNAL_PREFIX}/tenants/:tenant/usage`, (c) => {
    const tenant = c.req.param('tenant');
    const db = store.tenantDb(tenant);
    const body: NodeUsage = {
      activeSeries: db?.head.numSeries ?? 0,
      bytesStored: (db?.blocks.reduce((n, b) => n + b.bytes(), 0) ?? 0) + (db?.wal?.bytes() ?? 0),
      lastHour: usage.window(tenant, 3_600_000),
      lastDay: usage.window(tenant, 86_400_000),
    };
    return c.json(body);
  });

  // Cut every head into blocks now; answers once they are on disk and (bucket permitting) uploaded.
  app.post(`${INTERNAL_PREFIX}/flush`, async (c) => {
    const tenant = c.req.query('tenant');
    if (tenant !== undefined) tenantParam(tenant);
    const t0 = performance.now();
    const flushed = store.flush(tenant);
    let upload: { uploaded: number; pending: number; error?: string } = { uploaded: 0, pending: 0 };
    try {
      const r = await store.ship();
      upload = { uploaded: r.uploaded, pending: r.pending };
    } catch (e) {
      upload = { uploaded: 0, pending: store.pendingUploads(), error: (e as Error).message };
    }
    onFlushed();
    return c.json({ tookMs: Math.round(performance.now() - t0), tenants: flushed, upload });
  });

  // Backfill: a block's files arrive in parts (resumable), then commit checks it and takes it in.
  const importState = (tenant: string, ulid: string) => {
    if (store.hasBlock(tenant, ulid)) return { state: 'imported', files: {} };
    const files = staging!.files(tenant, ulid);
    return { state: Object.keys(files).length ? 'staged' : 'absent', files };
  };
  const needStaging = (): ImportStaging => {
    if (!staging) throw new IsobarError(ErrorIds.storageUnavailable, 'unavailable', 'import needs a data directory');
    return staging;
  };
  app.get(`${INTERNAL_PREFIX}/tenants/:tenant/import/:ulid`, (c) => {
    needStaging();
    return c.json(importState(c.req.param('tenant'), c.req.param('ulid')));
  });
  app.put(`${INTERNAL_PREFIX}/tenants/:tenant/import/:ulid/file`, async (c) => {
    const st = needStaging();
    const len = Number(c.req.header('content-length') ?? '0');
    if (len > MAX_IMPORT_PART) throw new IsobarError(ErrorIds.bodyTooLarge, 'too-large', `a part of ${len} bytes is over ${MAX_IMPORT_PART}; send smaller parts`);
    const tenant = c.req.param('tenant');
    const ulid = c.req.param('ulid');
    const offset = Number(c.req.query('offset') ?? 'NaN');
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ParamError('offset must be a non-negative integer');
    if (store.hasBlock(tenant, ulid)) return c.json({ state: 'imported' });
    const size = st.write(tenant, ulid, c.req.query('path') ?? '', offset, new Uint8Array(await c.req.arrayBuffer()));
    return c.json({ state: 'staged', size });
  });
  app.post(`${INTERNAL_PREFIX}/tenants/:tenant/import/:ulid/commit`, (c) => {
    const st = needStaging();
    const tenant = c.req.param('tenant');
    const ulid = c.req.param('ulid');
    const retention = Retentions.fromSpec(parseRetentionHeaders((n) => c.req.header(n)));
    if (retention) store.setRetention(tenant, retention.ms, retention.tiers);
    if (store.hasBlock(tenant, ulid)) return c.json({ state: 'imported', already: true });
    const dir = st.dir(tenant, ulid);
    if (Object.keys(st.files(tenant, ulid)).length === 0) throw new ParamError(`nothing staged for block ${ulid}`);
    const r = store.importBlock(tenant, dir); // a refused block throws ImportError, answered (and logged) by answerError
    return c.json({ state: 'imported', already: r.already, ...r.summary });
  });

  // The one place errors become answers.
  app.onError(function answerError(e, c) {
    const err = e instanceof IsobarError ? e : new IsobarError(ErrorIds.internal, 'internal', `internal error: ${e.message}`);
    if (err.cause_ === 'internal') log.error('request failed', { path: c.req.path, ...errorFields(e) });
    else if (httpStatusOf(err.cause_) >= 500) log.warn('request failed', { path: c.req.path, id: err.id, error: err.message });
    else if (!c.req.path.includes('/prom/api/v1/')) log.info('request refused', { path: c.req.path, id: err.id, error: err.message });
    return errorResponse(err, c.req.path);
  });
  app.notFound((c) => errorResponse(new IsobarError(ErrorIds.notFound, 'not-found', `${c.req.method} ${c.req.path} is not a storage-node route`), c.req.path));
  return app;
}

/**
 * An error's answer: its cause's status, in Prometheus's JSON on the Prometheus
 * API routes and the peers' chunks route, `{"error", "id", ...details}` elsewhere.
 * A status such as 499 (client closed request) is not in Hono's list, so the Response is made here.
 */
function errorResponse(err: IsobarError, path: string): Response {
  const prom = path.includes('/prom/api/v1/') || path.endsWith('/chunks');
  const body = prom ? errorJson(promErrorTypeOf(err.cause_), err.message) : JSON.stringify({ error: err.message, id: err.id, ...err.details });
  return new Response(body, { status: httpStatusOf(err.cause_), headers: { 'Content-Type': 'application/json' } });
}

/** A tenant id from a path or query parameter, checked. */
function tenantParam(raw: string | undefined): string {
  if (raw === undefined || !isTenantId(raw)) throw new ParamError(`bad tenant id ${JSON.stringify(raw ?? '')}: ${TENANT_ID_RULE}`);
  return raw;
}

/** A shard number from the path, checked. */
function shardParam(raw: string | undefined): number {
  const shard = Number(raw);
  if (!Number.isInteger(shard) || shard < 0) throw new ParamError(`bad shard ${JSON.stringify(raw ?? '')}: shards are non-negative integers`);
  return shard;
}

/** The node's query limits, each lowered to the tenant's where the edge sent a lower one. */
function tenantLimits(node: EngineOptions, header: string | undefined): EngineOptions {
  if (!header) return node;
  let t: Partial<TenantQueryLimits>;
  try {
    t = JSON.parse(header) as Partial<TenantQueryLimits>;
  } catch {
    return node;
  }
  const lower = (mine: number | undefined, theirs: number | undefined) => (typeof theirs === 'number' && theirs > 0 ? Math.min(mine ?? Infinity, theirs) : mine);
  return {
    ...node,
    timeoutMs: lower(node.timeoutMs, t.timeoutSeconds === undefined ? undefined : t.timeoutSeconds * 1000),
    maxSamples: lower(node.maxSamples, t.maxSamples),
    maxPoints: lower(node.maxPoints, t.maxPoints),
    maxSeries: lower(node.maxSeries, t.maxSeries),
    maxRangeMs: lower(node.maxRangeMs, t.maxRangeSeconds === undefined ? undefined : t.maxRangeSeconds * 1000),
  };
}

/** Query-string and form-encoded body parameters together, as Prometheus reads them. */
async function requestParams(c: Context): Promise<URLSearchParams> {
  const params = new URL(c.req.url).searchParams;
  if (c.req.method === 'POST' && (c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
    const form = new URLSearchParams(await c.req.text());
    for (const [k, v] of form) params.append(k, v);
  }
  return params;
}
