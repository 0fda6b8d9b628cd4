/**
 * The Prometheus HTTP API under the Grafana datasource URL (`/prometheus`).
 * The edge authenticates (`read` scope) and asks the storage nodes, which
 * answer for the key's tenant only; with several nodes the answers are merged.
 */
import { Hono, type Context } from 'hono';
import { ErrorIds, IsobarError } from '../../wire/errors.js';
import { PEERS_HEADER, promApiPrefix, QUERY_LIMITS_HEADER, type TenantQueryLimits } from '../../wire/internal-api.js';
import { createLogger, errorFields } from '../../wire/log.js';
import { goString, labelsObject, stringArray, successJson } from '../../wire/prom-json.js';
import { transportFrom, type NodeClient } from '../../durable/transport.js';
import { authenticate } from './auth.js';
import type { AppEnv } from './context.js';
import { promError, promJson } from './respond.js';

const log = createLogger('edge');

/** What /status/buildinfo reports: the Prometheus API version we follow, and our own build. */
export const BUILD_INFO = {
  version: '3.0.0',
  revision: 'isobar-0.1.0',
  branch: 'main',
  buildUser: 'isobar',
  buildDate: '',
  goVersion: '',
} as const;

type Merge = 'series' | 'strings' | 'single' | 'exemplars' | 'metadata';

/** How long the edge waits for a PromQL answer: past any node query timeout (the node answers 503 `timeout` first). */
const QUERY_WAIT_MS = 600_000;

export function readApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const readScope = authenticate({ scope: 'read', format: 'prom' });
  const adminScope = authenticate({ scope: 'admin', format: 'prom' });
  app.use('/api/v1/*', (c, next) => (c.req.path.endsWith('/admin/tsdb/delete_series') ? adminScope(c, next) : readScope(c, next)));

  // delete_series (admin scope): every node deletes its part; 204 once all have.
  app.on(['POST', 'PUT'], '/api/v1/admin/tsdb/delete_series', async (c) => {
    const tenant = c.get('principal').tenant;
    const url = new URL(c.req.url);
    const body = c.req.method === 'GET' ? undefined : await c.req.text();
    const init: RequestInit = { method: 'POST', ...(body !== undefined ? { body, headers: { 'content-type': c.req.header('content-type') ?? 'application/x-www-form-urlencoded' } } : {}) };
    try {
      const answers = await Promise.all(
        transportFrom(c.env).all().map((n) => n.fetch(`${promApiPrefix(tenant)}/api/v1/admin/tsdb/delete_series${url.search}`, { ...init, signal: AbortSignal.timeout(60_000) })),
      );
      const bad = answers.find((a) => a.status !== 204);
      if (!bad) return c.body(null, 204);
      if (bad.status < 500) return new Response(bad.body, { status: bad.status, headers: { 'content-type': 'application/json' } });
      throw new Error(`storage node answered ${bad.status}`);
    } catch (e) {
      log.error('delete_series on storage nodes failed', { tenant, ...errorFields(e) });
      return promError(new IsobarError(ErrorIds.storageUnavailable, 'unavailable', 'not every storage node could delete the series; retry (deleting twice is harmless)'));
    }
  });

  const forward = (path: (c: Context<AppEnv>) => string, merge: Merge) =>
    async function proxyToNodes(c: Context<AppEnv>): Promise<Response> {
      const tenant = c.get('principal').tenant;
      const url = new URL(c.req.url);
      const target = promApiPrefix(tenant) + path(c) + url.search;
      const init: RequestInit = { method: c.req.method };
      if (c.req.method === 'POST') {
        // One node evaluates PromQL: the body streams through. Several nodes answer the others: each gets a copy.
        init.body = merge === 'single' ? c.req.raw.body : await c.req.arrayBuffer();
        init.headers = { 'content-type': c.req.header('content-type') ?? 'application/x-www-form-urlencoded' };
      }
      let nodes: NodeClient[];
      try {
        const transport = transportFrom(c.env);
        nodes = transport.all();
        if (merge === 'single') {
          // One node evaluates (the one holding the tenant's shard 0) and asks the others for their series.
          const evaluator = transport.nodeFor(tenant, 0);
          const peers = nodes.filter((n) => n !== evaluator).map((n) => transport.peerBase(n, url.origin));
          nodes = [evaluator];
          const l = c.get('principal').limits;
          const limits: TenantQueryLimits = {
            timeoutSeconds: l.queryTimeoutSeconds,
            maxSamples: l.queryMaxSamples,
            maxPoints: l.queryMaxPoints,
            maxSeries: l.queryMaxSeries,
            maxRangeSeconds: l.queryMaxRangeSeconds,
          };
          init.headers = {
            ...(init.headers as Record<string, string> | undefined),
            [QUERY_LIMITS_HEADER]: JSON.stringify(limits),
            ...(peers.length ? { [PEERS_HEADER]: peers.join(',') } : {}),
          };
        }
        // PromQL runs as long as the node's query timeout allows; it is cancelled when the user goes away.
        const signal = merge === 'single' ? AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(QUERY_WAIT_MS)]) : AbortSignal.timeout(30_000);
        const answers = await Promise.all(nodes.map((n) => n.fetch(target, { ...init, signal })));
        if (answers.length === 1) {
          const a = answers[0]!;
          if (a.status >= 500 && a.status !== 503) throw new Error(`storage node answered ${a.status}`);
          const timing = a.headers.get('server-timing'); // the node's phases of a query (gather, wait, eval)
          return new Response(a.body, { status: a.status, headers: { 'content-type': 'application/json', ...(timing ? { 'server-timing': timing } : {}) } });
        }
        return await mergeAnswers(answers, merge, url.searchParams);
      } catch (e) {
        log.error('read from storage nodes failed', { tenant, path: url.pathname, ...errorFields(e) });
        return promError(new IsobarError(ErrorIds.storageUnavailable, 'unavailable', 'storage is unavailable; retry'));
      }
    };

  for (const method of ['get', 'post'] as const) {
    app[method]('/api/v1/series', forward(() => '/api/v1/series', 'series'));
    app[method]('/api/v1/labels', forward(() => '/api/v1/labels', 'strings'));
    app[method]('/api/v1/label/:name/values', forward((c) => `/api/v1/label/${encodeURIComponent(c.req.param('name')!)}/values`, 'strings'));
    // PromQL is evaluated by one storage node, which fetches the series its peers hold.
    app[method]('/api/v1/query', forward(() => '/api/v1/query', 'single'));
    app[method]('/api/v1/query_range', forward(() => '/api/v1/query_range', 'single'));
    app[method]('/api/v1/format_query', forward(() => '/api/v1/format_query', 'single'));
    app[method]('/api/v1/parse_query', forward(() => '/api/v1/parse_query', 'single'));
    // Each node answers from the exemplars and metadata of the shards it applies.
    app[method]('/api/v1/query_exemplars', forward(() => '/api/v1/query_exemplars', 'exemplars'));
    app[method]('/api/v1/metadata', forward(() => '/api/v1/metadata', 'metadata'));
    app[method]('/api/v1/status/buildinfo', () =>
      promJson(successJson('{' + Object.entries(BUILD_INFO).map(([k, v]) => `${goString(k)}:${goString(v)}`).join(',') + '}')),
    );
  }
  app.all('/api/v1/*', (c) =>
    promJson(`{"status":"error","errorType":"not_found","error":${goString(`${new URL(c.req.url).pathname} is not served yet`)}}`, 404),
  );
  return app;
}

/** Union of several nodes' answers: series sorted by labels, strings sorted, as Prometheus sorts them. */
async function mergeAnswers(answers: Response[], merge: Merge, params: URLSearchParams): Promise<Response> {
  const bodies = await Promise.all(answers.map(async (a) => ({ status: a.status, json: (await a.json()) as { status: string; data: unknown } })));
  const failed = bodies.find((b) => b.json.status !== 'success');
  if (failed) return promJson(JSON.stringify(failed.json), failed.status);
  if (merge === 'exemplars') return promJson(successJson(mergeExemplars(bodies.map((b) => b.json.data as ExemplarSeries[]))));
  if (merge === 'metadata') return promJson(successJson(mergeMetadata(bodies.map((b) => b.json.data as MetadataAnswer), params)));
  if (merge === 'strings') {
    const set = new Set<string>();
    for (const b of bodies) for (const s of b.json.data as string[]) set.add(s);
    return promJson(successJson(stringArray([...set].sort())));
  }
  const seen = new Map<string, string[]>();
  for (const b of bodies) {
    for (const obj of b.json.data as Array<Record<string, string>>) {
      const flat = flatLabels(obj);
      seen.set(flat.join('\u0000'), flat);
    }
  }
  const all = [...seen.values()].sort(compareFlat);
  return promJson(successJson('[' + all.map(labelsObject).join(',') + ']'));
}

/** A label object as a flat, name-sorted [name, value, ...] list. */
function flatLabels(obj: Record<string, string>): string[] {
  return Object.entries(obj).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).flat();
}

function compareFlat(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length - b.length;
}

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>;
}

/** Nodes' exemplars: one entry per series (sorted by labels), its exemplars by time, each once. */
function mergeExemplars(answers: ExemplarSeries[][]): string {
  const bySeries = new Map<string, { flat: string[]; exemplars: ExemplarSeries['exemplars'] }>();
  for (const list of answers) {
    for (const s of list) {
      const flat = flatLabels(s.seriesLabels);
      const k = flat.join('\u0000');
      const entry = bySeries.get(k);
      if (entry) entry.exemplars.push(...s.exemplars);
      else bySeries.set(k, { flat, exemplars: [...s.exemplars] });
    }
  }
  const out = [...bySeries.values()].sort((a, b) => compareFlat(a.flat, b.flat)).map((s) => {
    const once = new Map<string, ExemplarSeries['exemplars'][number]>();
    for (const e of s.exemplars) once.set(`${e.timestamp}\u0000${e.value}\u0000${flatLabels(e.labels).join('\u0000')}`, e);
    const list = [...once.values()].sort((a, b) => a.timestamp - b.timestamp);
    const ex = list.map((e) => `{"labels":${labelsObject(flatLabels(e.labels))},"value":${goString(e.value)},"timestamp":${e.timestamp}}`);
    return `{"seriesLabels":${labelsObject(s.flat)},"exemplars":[${ex.join(',')}]}`;
  });
  return '[' + out.join(',') + ']';
}

type MetadataAnswer = Record<string, Array<{ type: string; help: string; unit: string }>>;

/** Nodes' metadata: per family the distinct entries, with `limit` and `limit_per_metric` applied again to the union. */
function mergeMetadata(answers: MetadataAnswer[], params: URLSearchParams): string {
  const limit = Number(params.get('limit') || -1);
  const perMetric = Number(params.get('limit_per_metric') || -1);
  const byName = new Map<string, Map<string, { type: string; help: string; unit: string }>>();
  for (const a of answers) {
    for (const [name, list] of Object.entries(a)) {
      let m = byName.get(name);
      if (!m) byName.set(name, (m = new Map()));
      for (const e of list) m.set(`${e.type}\u0000${e.help}\u0000${e.unit}`, e);
    }
  }
  const names = [...byName.keys()].sort();
  const kept = limit >= 0 ? names.slice(0, limit) : names;
  const parts = kept.map((name) => {
    const list = [...byName.get(name)!.values()];
    const cut = perMetric > 0 ? list.slice(0, perMetric) : list;
    return `${goString(name)}:[${cut.map((e) => `{"type":${goString(e.type)},"unit":${goString(e.unit)},"help":${goString(e.help)}}`).join(',')}]`;
  });
  return '{' + parts.join(',') + '}';
}
