/**
 * `query` and `query_range` of the Prometheus HTTP API, over one tenant's data.
 * Output is Prometheus's JSON: resultType and result, times in seconds,
 * values as strings formatted like Go's strconv.FormatFloat(v, 'f', -1, 64).
 * Each function answers the success body; what goes wrong is thrown as an
 * IsobarError (a bad parameter, a query over a limit, ...) and the server's
 * one error handler answers it.
 */
import type { TenantDB } from '../db/tenant-db.js';
import { Engine, type EngineOptions, type Value } from '../promql/engine.js';
import { formatFloat, formatTime } from '../promql/format.js';
import { parseDuration, parsePromQL, PromQLParseError } from '../promql/parse.js';
import type { Expr } from '../promql/ast.js';
import { astJson, prettify } from '../promql/printer.js';
import { goString, labelsObject, successJson } from '../../../wire/prom-json.js';
import { ParamError, parseTime } from './params.js';

/** Prometheus's cap on points per series in a range query. */
const MAX_POINTS = 11_000;


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

/** The `query` parameter parsed; a parse error names the parameter, as Prometheus does. */
function queryParam(params: URLSearchParams): Expr {
  try {
    return parsePromQL(params.get('query') ?? '');
  } catch (e) {
    if (e instanceof PromQLParseError) throw new PromQLParseError(`invalid parameter "query": ${e.message}`, e.unsupported);
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

/** `query`: the success body. */
export async function queryApi(db: TenantDB | undefined, params: URLSearchParams, opts: EngineOptions = {}): Promise<string> {
  opts = withResolutionParam(params, withTimeoutParam(params, opts));
  const t = parseTime('time', params.get('time') ?? undefined, Date.now());
  const expr = queryParam(params);
  const engine = new Engine(db, opts);
  const v = await engine.instantAsync(expr, t);
  return successJson(valueJson(v, t), engine.warnings, engine.infos);
}

/** `query_range`: the success body. */
export async function queryRangeApi(db: TenantDB | undefined, params: URLSearchParams, opts: EngineOptions = {}): Promise<string> {
  opts = withResolutionParam(params, withTimeoutParam(params, opts));
  const start = parseTime('start', params.get('start') ?? '', NaN);
  const end = parseTime('end', params.get('end') ?? '', NaN);
  if (Number.isNaN(start)) throw new ParamError('invalid parameter "start": cannot parse "" to a valid timestamp');
  if (Number.isNaN(end)) throw new ParamError('invalid parameter "end": cannot parse "" to a valid timestamp');
  if (end < start) throw new ParamError('invalid parameter "end": end timestamp must not be before start time');
  const step = parseStep(params.get('step'));
  if ((end - start) / step > MAX_POINTS) throw new ParamError('exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
  const expr = queryParam(params);
  if (expr.kind === 'string') throw new ParamError(`invalid parameter "query": invalid expression type "string" for range query, must be Scalar or instant Vector`);
  const engine = new Engine(db, opts);
  const series = await engine.rangeAsync(expr, start, end, step);
  return successJson(valueJson({ type: 'matrix', series }, end), engine.warnings, engine.infos);
}

/** `format_query`: the expression as Prometheus's prettier writes it. */
export function formatQueryApi(params: URLSearchParams): string {
  return successJson(goString(prettify(queryParam(params))));
}

/** `parse_query`: the syntax tree, for Prometheus's tree view. */
export function parseQueryApi(params: URLSearchParams): string {
  return successJson(astJson(queryParam(params)));
}
