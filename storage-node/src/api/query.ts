/**
 * `query` and `query_range` of the Prometheus HTTP API, over one tenant's data.
 * Output is Prometheus's JSON: resultType and result, times in seconds,
 * values as strings formatted like Go's strconv.FormatFloat(v, 'f', -1, 64).
 */
import type { TenantDB } from '../db/tenant-db.js';
import { Engine, QueryError, type EngineOptions, type Value } from '../promql/engine.js';
import { formatFloat, formatTime } from '../promql/format.js';
import { parseDuration, parsePromQL, PromQLParseError } from '../promql/parse.js';
import { astJson, prettify } from '../promql/printer.js';
import { goString, labelsObject, successJson } from '../../../wire/prom-json.js';
import { ParamError, parseTime } from './params.js';

/** Prometheus's cap on points per series in a range query. */
const MAX_POINTS = 11_000;

export type QueryResult = { status: 200; body: string } | { status: 400 | 422 | 499 | 503; errorType: 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'unavailable'; message: string };

function valueJson(v: Value, t: number): string {
  switch (v.type) {
    case 'scalar':
      return `{"resultType":"scalar","result":[${formatTime(t)},"${formatFloat(v.v)}"]}`;
    case 'string':
      return `{"resultType":"string","result":[${formatTime(t)},${JSON.stringify(v.s)}]}`;
    case 'vector':
      return `{"resultType":"vector","result":[${v.samples.map((s) => `{"metric":${labelsObject(s.labels)},"value":[${formatTime(t)},"${formatFloat(s.v)}"]}`).join(',')}]}`;
    case 'matrix':
      return `{"resultType":"matrix","result":[${v.series.map((s) => `{"metric":${labelsObject(s.labels)},"values":[${Array.from(s.t.subarray(s.lo, s.hi), (ts, i) => `[${formatTime(ts)},"${formatFloat(s.v[s.lo + i]!)}"]`).join(',')}]}`).join(',')}]}`;
  }
}

/** A duration parameter: float seconds or a Prometheus duration ("1m30s"), in ms. */
function durationParam(name: string, raw: string): number {
  try {
    const ms = /^[0-9.eE+-]+$/.test(raw) ? Math.round(Number(raw) * 1000) : parseDuration(raw);
    if (!Number.isNaN(ms)) return ms;
  } catch {
    // reported below
  }
  throw new ParamError(`invalid parameter ${JSON.stringify(name)}: cannot parse ${JSON.stringify(raw)} to a valid duration`);
}

function parseStep(raw: string | null): number {
  if (raw === null || raw === '') throw new ParamError('invalid parameter "step": cannot parse "" to a valid duration');
  const ms = durationParam('step', raw);
  if (!(ms > 0)) throw new ParamError('invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer');
  return ms;
}

async function guard(fn: () => Promise<QueryResult>): Promise<QueryResult> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ParamError) return { status: 400, errorType: 'bad_data', message: e.message };
    if (e instanceof PromQLParseError) return { status: 400, errorType: 'bad_data', message: `invalid parameter "query": ${e.message}` };
    if (e instanceof QueryError) {
      if (e.type === 'timeout') return { status: 503, errorType: 'timeout', message: e.message };
      if (e.type === 'canceled') return { status: 499, errorType: 'canceled', message: e.message };
      if (e.type === 'unavailable') return { status: 503, errorType: 'unavailable', message: e.message };
      if (e.type === 'bad_data') return { status: 400, errorType: 'bad_data', message: e.message };
      return { status: 422, errorType: 'execution', message: e.message };
    }
    throw e;
  }
}

/**
 * Thanos's `max_source_resolution`: the coarsest downsampled tier a query may
 * read, `raw` (or 0s), `5m`, `1h`, or `auto` (the default: the coarsest that fits).
 */
function withResolutionParam(params: URLSearchParams, opts: EngineOptions): EngineOptions {
  const raw = params.get('max_source_resolution');
  if (raw === null || raw === '' || raw === 'auto') return opts;
  const ms = raw === 'raw' ? 0 : durationParam('max_source_resolution', raw);
  if (!(ms >= 0)) throw new ParamError(`invalid parameter "max_source_resolution": ${JSON.stringify(raw)} is not raw, 5m, 1h, auto or a duration`);
  return { ...opts, maxResolutionMs: ms };
}

/** Prometheus's `timeout` parameter: it can shorten the configured timeout, never lengthen it. */
function withTimeoutParam(params: URLSearchParams, opts: EngineOptions): EngineOptions {
  const raw = params.get('timeout');
  if (raw === null || raw === '') return opts;
  const ms = durationParam('timeout', raw);
  if (!(ms > 0)) throw new ParamError(`invalid parameter "timeout": cannot parse ${JSON.stringify(raw)} to a valid duration`);
  return { ...opts, timeoutMs: Math.min(ms, opts.timeoutMs ?? Infinity) };
}

export function queryApi(db: TenantDB | undefined, params: URLSearchParams, opts: EngineOptions = {}): Promise<QueryResult> {
  return guard(async () => {
    opts = withResolutionParam(params, withTimeoutParam(params, opts));
    const q = params.get('query') ?? '';
    const t = parseTime('time', params.get('time') ?? undefined, Date.now());
    const expr = parsePromQL(q);
    const engine = new Engine(db, opts);
    const v = await engine.instantAsync(expr, t);
    return { status: 200, body: successJson(valueJson(v, t), engine.warnings, engine.infos) };
  });
}

export function queryRangeApi(db: TenantDB | undefined, params: URLSearchParams, opts: EngineOptions = {}): Promise<QueryResult> {
  return guard(async () => {
    opts = withResolutionParam(params, withTimeoutParam(params, opts));
    const start = parseTime('start', params.get('start') ?? '', NaN);
    const end = parseTime('end', params.get('end') ?? '', NaN);
    if (Number.isNaN(start)) throw new ParamError('invalid parameter "start": cannot parse "" to a valid timestamp');
    if (Number.isNaN(end)) throw new ParamError('invalid parameter "end": cannot parse "" to a valid timestamp');
    if (end < start) throw new ParamError('invalid parameter "end": end timestamp must not be before start time');
    const step = parseStep(params.get('step'));
    if ((end - start) / step > MAX_POINTS) throw new ParamError('exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
    const expr = parsePromQL(params.get('query') ?? '');
    const t = expr.kind === 'string' ? null : expr;
    if (!t) throw new ParamError(`invalid parameter "query": invalid expression type "string" for range query, must be Scalar or instant Vector`);
    const engine = new Engine(db, opts);
    const series = await engine.rangeAsync(expr, start, end, step);
    return { status: 200, body: successJson(valueJson({ type: 'matrix', series }, end), engine.warnings, engine.infos) };
  });
}

/** `format_query`: the expression as Prometheus's prettier writes it. */
export function formatQueryApi(params: URLSearchParams): Promise<QueryResult> {
  return guard(async () => ({ status: 200, body: successJson(goString(prettify(parsePromQL(params.get('query') ?? '')))) }));
}

/** `parse_query`: the syntax tree, for Prometheus's tree view. */
export function parseQueryApi(params: URLSearchParams): Promise<QueryResult> {
  return guard(async () => ({ status: 200, body: successJson(astJson(parsePromQL(params.get('query') ?? ''))) }));
}
