/**
 * The metadata read API of one tenant, answered from the head:
 * `series`, `labels`, `label/<name>/values`; and from its side stores,
 * `query_exemplars` and `metadata`. Output is Prometheus's JSON.
 * Each function answers the success body; a bad parameter is thrown as an
 * IsobarError for the server's one error handler.
 */
import { isValidLabelName } from '../../../wire/remote-write.js';
import type { TenantDB } from '../db/tenant-db.js';
import { encodeChunkedSeries } from '../../../wire/chunked-series.js';
import type { Matcher } from '../model/matcher.js';
import { parseSeriesSelector, SelectorError } from '../promql/selector.js';
import { goString, labelsObject, stringArray, successJson } from '../../../wire/prom-json.js';
import { vectorSelectors } from '../promql/ast.js';
import { formatTime, jsonFloat } from '../promql/format.js';
import { deletedIntervals } from '../model/deletions.js';
import { queryParam } from './query.js';
import { MAX_TIME_MS, MIN_TIME_MS, ParamError, parseTime } from './params.js';
import { planTiers, RAW_PLAN, readHistograms, readTierChunks } from '../promql/tiers.js';
import { encodeHistogramSeries } from './peers.js';
import { RES_RAW, TIERS } from '../downsample/downsample.js';

function timeRange(params: URLSearchParams): { mint: number; maxt: number } {
  const mint = parseTime('start', params.get('start') ?? undefined, MIN_TIME_MS);
  const maxt = parseTime('end', params.get('end') ?? undefined, MAX_TIME_MS);
  if (maxt < mint) throw new ParamError('invalid parameter "end": end timestamp must not be before start time');
  return { mint, maxt };
}

function parseMatchers(params: URLSearchParams): Matcher[][] {
  try {
    return params.getAll('match[]').map((m) => parseSeriesSelector(m));
  } catch (e) {
    if (e instanceof SelectorError) throw new SelectorError(`invalid parameter "match[]": ${e.message}`, e.unsupported);
    throw e;
  }
}

function limitOf(params: URLSearchParams): number {
  const raw = params.get('limit');
  if (raw === null || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ParamError(`invalid parameter "limit": cannot parse ${JSON.stringify(raw)} to a non-negative integer`);
  return n;
}

/** A metadata read's parameters, parsed once: selectors (any number), time range, limit (0: none). */
export interface MetadataQuery {
  sets: Matcher[][];
  mint: number;
  maxt: number;
  limit: number;
}

export function metadataQuery(params: URLSearchParams): MetadataQuery {
  const sets = parseMatchers(params);
  return { sets, ...timeRange(params), limit: limitOf(params) };
}

/**
 * A metadata read (`fn`) through TenantDB.read: the bucket blocks it touches
 * get their indexes (and, when deletions must be applied, the chunks) fetched
 * first.
 */
export async function metadataRead(db: TenantDB | undefined, q: MetadataQuery, fn: (db: TenantDB | undefined, q: MetadataQuery) => string): Promise<string> {
  if (!db || db.remote.length === 0) return fn(db, q);
  return db.read(q.mint, q.maxt, () => fn(db, q), db.deletions.length > 0 ? (q.sets.length ? q.sets : [[]]) : undefined);
}

const limited = <T>(xs: T[], limit: number): T[] => (limit > 0 ? xs.slice(0, limit) : xs);

export function seriesApi(db: TenantDB | undefined, q: MetadataQuery): string {
  if (q.sets.length === 0) throw new ParamError('no match[] parameter provided');
  const series = db ? db.seriesLabels(q.sets, q.mint, q.maxt) : [];
  return successJson('[' + limited(series, q.limit).map(labelsObject).join(',') + ']');
}

export function labelsApi(db: TenantDB | undefined, q: MetadataQuery): string {
  return successJson(stringArray(limited(db ? db.labelNames(q.sets, q.mint, q.maxt) : [], q.limit)));
}

/** A label name checked before anything else is read (as Prometheus does). */
export function labelName(name: string): string {
  if (!isValidLabelName(name)) throw new ParamError(`invalid label name: ${JSON.stringify(name)}`);
  return name;
}

export function labelValuesApi(db: TenantDB | undefined, name: string, q: MetadataQuery): string {
  return successJson(stringArray(limited(db ? db.labelValues(name, q.sets, q.mint, q.maxt) : [], q.limit)));
}

/**
 * Internal: the series matching one selector in [start, end] as compressed
 * chunks (wire/chunked-series.ts), for a peer evaluating a query. With
 * `resolution` (seconds: 300 or 3600), read through this node's downsampled
 * tiers up to that resolution (promql/tiers.ts), and the tiers' ends sent along.
 */
export async function chunksApi(db: TenantDB | undefined, params: URLSearchParams): Promise<Uint8Array> {
  const sets = parseMatchers(params);
  if (sets.length !== 1) throw new ParamError('chunks takes exactly one match[] selector');
  const res = resolutionParam(params);
  const { mint, maxt } = timeRange(params);
  if (!db) return encodeChunkedSeries([]);
  const { plan, series } = await readTierChunks(db, sets[0]!, mint, maxt, planTiers(db, res, mint) ?? RAW_PLAN);
  return encodeChunkedSeries(series, plan.segments.map((s) => ({ resolution: s.res, until: s.to })));
}

/** `resolution` (seconds): a downsampled tier's, or absent (0: raw). */
function resolutionParam(params: URLSearchParams): number {
  const raw = params.get('resolution');
  const res = raw === null ? 0 : Number(raw) * 1000;
  if (res !== 0 && !TIERS.some((t) => t.res === res)) throw new ParamError(`invalid parameter "resolution": ${JSON.stringify(raw)} is not a downsampled tier (${TIERS.map((t) => t.res / 1000).join(' or ')} seconds)`);
  return res;
}

/**
 * Internal: the native histograms of the series matching one selector in
 * [start, end], for a peer evaluating a query (api/peers.ts's codec); with
 * `resolution`, through this node's tiers up to it (promql/tiers.ts readHistograms).
 */
export async function histogramsApi(db: TenantDB | undefined, params: URLSearchParams): Promise<Uint8Array> {
  const sets = parseMatchers(params);
  if (sets.length !== 1) throw new ParamError('histograms takes exactly one match[] selector');
  const res = resolutionParam(params);
  const { mint, maxt } = timeRange(params);
  if (!db) return encodeHistogramSeries([]);
  return encodeHistogramSeries(await readHistograms(db, sets[0]!, mint, maxt, res > 0 ? planTiers(db, res, mint) : undefined));
}

/** `admin/tsdb/delete_series`: the selectors (each checked) and the time range, as Prometheus reads them. */
export function deleteSeriesParams(params: URLSearchParams): { selectors: string[]; mint: number; maxt: number } {
  const selectors = params.getAll('match[]');
  if (selectors.length === 0) throw new ParamError('no match[] parameter provided');
  parseMatchers(params);
  const { mint, maxt } = timeRange(params);
  return { selectors, mint, maxt };
}

/**
 * `query_exemplars`: the exemplars of every series a selector in `query`
 * selects, in [start, end] (default: all time), as Prometheus answers:
 * series sorted by labels, each one's exemplars oldest first. Exemplars in a
 * deleted range (delete_series) are left out, as the samples there are.
 */
export function exemplarsApi(db: TenantDB | undefined, params: URLSearchParams): string {
  const expr = queryParam(params);
  const mint = parseTime('start', params.get('start') ?? undefined, MIN_TIME_MS);
  const maxt = parseTime('end', params.get('end') ?? undefined, MAX_TIME_MS);
  if (maxt < mint) throw new ParamError('invalid parameter "end": end timestamp must not be before start timestamp');
  const sets = vectorSelectors(expr).map((s) => s.matchers);
  if (!db || sets.length === 0) return successJson('[]');
  const parts: string[] = [];
  for (const s of db.exemplars.select(sets, mint, maxt)) {
    const gone = db.deletions.length ? deletedIntervals(db.deletions, s.labels) : [];
    const kept = gone.length ? s.exemplars.filter((e) => !gone.some(([lo, hi]) => e.t >= lo && e.t <= hi)) : s.exemplars;
    if (kept.length === 0) continue;
    const list = kept.map((e) => `{"labels":${labelsObject(e.labels)},"value":"${jsonFloat(e.value)}","timestamp":${formatTime(e.t)}}`);
    parts.push(`{"seriesLabels":${labelsObject(s.labels)},"exemplars":[${list.join(',')}]}`);
  }
  return successJson('[' + parts.join(',') + ']');
}

function intParam(params: URLSearchParams, name: string, fallback: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new ParamError(`invalid parameter "${name}": ${name} must be a number`);
  return n;
}

/**
 * `metadata`: per metric family, the distinct (type, help, unit) its senders
 * said; `metric` picks one, `limit` caps the families (negative: none, 0:
 * nothing, as Prometheus), `limit_per_metric` the entries of each (0 or
 * negative: none).
 */
export function metadataApi(db: TenantDB | undefined, params: URLSearchParams): string {
  const limit = intParam(params, 'limit', -1);
  const perMetric = intParam(params, 'limit_per_metric', -1);
  const metric = params.get('metric') || undefined;
  if (!db) return successJson('{}');
  const parts: string[] = [];
  for (const [name, list] of db.metadata.query(metric, limit, perMetric)) {
    parts.push(`${goString(name)}:[${list.map((m) => `{"type":${goString(m.type)},"unit":${goString(m.unit)},"help":${goString(m.help)}}`).join(',')}]`);
  }
  return successJson('{' + parts.join(',') + '}');
}
