/**
 * `query` and `query_range` of the Prometheus HTTP API, over one tenant's data.
 * Output is Prometheus's JSON: resultType and result, times in seconds,
 * values as strings formatted like Go's strconv.FormatFloat(v, 'f', -1, 64).
 * Each function answers the success body; what goes wrong is thrown as an
 * IsobarError (a bad parameter, a query over a limit, ...) and the server's
 * one error handler answers it.
 *
 * A query runs in two halves. This thread, which holds the data, parses it
 * and gathers each selector's chunks (Engine.gatherFor); a QueryJob then
 * decodes, evaluates and writes the body, on this thread (answerJob) or in a
 * worker thread (jobs/query-pool.ts), so that queries use every core and
 * appends are not queued behind them.
 */
import type { TenantDB } from '../db/tenant-db.js';
import { Engine, QueryError, type EngineOptions, type Gathered, type QueryErrorId, type RangeSeries, type Value } from '../promql/engine.js';
import { formatTime, jsonFloat } from '../promql/format.js';
import { histogramJson } from '../promql/histograms.js';
import { parseDuration, parsePromQL, PromQLParseError } from '../promql/parse.js';
import type { Expr } from '../promql/ast.js';
import type { FuseSplit } from '../promql/fused.js';
import { astJson, prettify } from '../promql/printer.js';
import { goString, labelsObject, successJson } from '../../../wire/prom-json.js';
import { ParamError, parseTime } from './params.js';
import { QUERY_LIMIT_DEFAULTS } from '../../../wire/query-limits.js';

/** Prometheus's cap on points per series in a range query. */
const MAX_POINTS = 11_000;


function valueJson(v: Value, t: number): string {
  switch (v.type) {
    case 'scalar':
      return `{"resultType":"scalar","result":[${formatTime(t)},"${jsonFloat(v.v)}"]}`;
    case 'string':
      return `{"resultType":"string","result":[${formatTime(t)},${JSON.stringify(v.s)}]}`;
    case 'vector':
      return `{"resultType":"vector","result":[${v.samples.map((s) => `{"metric":${labelsObject(s.labels)},${s.h ? `"histogram":[${formatTime(t)},${histogramJson(s.h)}]` : `"value":[${formatTime(t)},"${jsonFloat(s.v)}"]`}}`).join(',')}]}`;
    case 'matrix':
      return `{"resultType":"matrix","result":[${v.series.map(seriesJson).join(',')}]}`;
  }
}

/** A matrix series as Prometheus writes it: `values` when it has float points, `histograms` when it has histogram points. */
export function seriesJson(s: RangeSeries): string {
  const parts = [`"metric":${labelsObject(s.labels)}`];
  if (s.hi > s.lo || !s.hs?.length) parts.push(`"values":[${Array.from(s.t.subarray(s.lo, s.hi), (ts, i) => `[${formatTime(ts)},"${jsonFloat(s.v[s.lo + i]!)}"]`).join(',')}]`);
  if (s.hs?.length) parts.push(`"histograms":[${s.hs.map((h) => `[${formatTime(h.t)},${histogramJson(h)}]`).join(',')}]`);
  return `{${parts.join(',')}}`;
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
export function queryParam(params: URLSearchParams): Expr {
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
function withResolutionParam(params: URLSearchParams, opts: QueryOptions): QueryOptions {
  const raw = params.get('max_source_resolution');
  if (raw === null || raw === '' || raw === 'auto') return opts;
  const ms = raw === 'raw' ? 0 : durationParam('max_source_resolution', raw);
  if (!(ms >= 0)) throw new ParamError(`invalid parameter "max_source_resolution": ${JSON.stringify(raw)} is not raw, 5m, 1h, auto or a duration`);
  return { ...opts, maxResolutionMs: ms };
}

/** Prometheus's `timeout` parameter: it can shorten the configured timeout, never lengthen it. */
function withTimeoutParam(params: URLSearchParams, opts: QueryOptions): QueryOptions {
  const raw = params.get('timeout');
  if (raw === null || raw === '') return opts;
  const ms = durationParam('timeout', raw);
  if (!(ms > 0)) throw new ParamError(`invalid parameter "timeout": cannot parse ${JSON.stringify(raw)} to a valid duration`);
  return { ...opts, timeoutMs: Math.min(ms, opts.timeoutMs ?? Infinity) };
}

/** A query's second half: the series it gathered, and what to answer. */
export interface QueryJob {
  query: string;
  /** A range query over [start, end] at `step`; else an instant query at `start`. */
  range: boolean;
  start: number;
  end: number;
  step: number;
  opts: JobOptions;
  gathered: Gathered[];
  /** A range query whose threads may split it (Engine.splittable): a pool may give it to every idle thread. */
  splittable?: boolean;
}

/** The engine's options that travel to another thread (the deadline among them). */
export type JobOptions = Omit<EngineOptions, 'signal' | 'peers' | 'stats' | 'gathered'>;

/** A job's answer: the body, or the query's error; with the samples it loaded (usage) and how long it took (ms). */
export type JobAnswer = ({ ok: true; body: string } | { ok: false; message: string; id: QueryErrorId }) & { samples: number; evalMs: number };

/** What a query cost, filled in as it runs: samples loaded; ms gathering on this thread, waiting for a query thread (and moving there), evaluating. */
export interface QueryStats {
  samples: number;
  gatherMs?: number;
  waitMs?: number;
  evalMs?: number;
}

/** Runs jobs: answerJob on this thread, or a pool of worker threads. */
export type QueryRunner = (job: QueryJob, signal?: AbortSignal) => Promise<JobAnswer>;

/** Options of a query request: the engine's, and where its job runs (default: this thread). */
export type QueryOptions = Omit<EngineOptions, 'stats'> & { runner?: QueryRunner; stats?: QueryStats };

/** A query error as a job's answer. */
export function errorAnswer(e: QueryError, samples = 0, evalMs = 0): JobAnswer {
  return { ok: false, message: e.message, id: e.id as QueryErrorId, samples, evalMs };
}

/** Evaluate a job and write its body. A query error is an answer; anything else is thrown. */
export async function answerJob(job: QueryJob, signal?: AbortSignal, split?: FuseSplit): Promise<JobAnswer> {
  const t0 = performance.now();
  const stats = { samples: 0 };
  const engine = new Engine(undefined, { ...job.opts, gathered: job.gathered, stats, ...(signal ? { signal } : {}), ...(split ? { split } : {}) });
  try {
    const expr = parsePromQL(job.query);
    const json = job.range ? valueJson({ type: 'matrix', series: await engine.rangeAsync(expr, job.start, job.end, job.step) }, job.end) : valueJson(await engine.instantAsync(expr, job.start), job.start);
    return { ok: true, body: successJson(json, engine.warnings, engine.infos), samples: stats.samples, evalMs: performance.now() - t0 };
  } catch (e) {
    if (e instanceof QueryError) return errorAnswer(e, stats.samples, performance.now() - t0);
    throw e;
  }
}

/** Gather here, answer where the runner says. */
async function runQuery(db: TenantDB | undefined, params: URLSearchParams, expr: Expr, range: Pick<QueryJob, 'range' | 'start' | 'end' | 'step'>, opts: QueryOptions): Promise<string> {
  const { signal, peers: _peers, stats, runner = answerJob, gathered: _gathered, ...rest } = opts;
  const deadline = Date.now() + (opts.timeoutMs ?? QUERY_LIMIT_DEFAULTS.timeoutSeconds * 1000);
  const jobOpts: JobOptions = { ...rest, deadline };
  const t0 = performance.now();
  const { gathered, release, splittable } = await new Engine(db, { ...opts, deadline }).gatherFor(expr, range.start, range.end, range.step, range.range);
  const t1 = performance.now();
  let answer: JobAnswer;
  try {
    answer = await runner({ query: params.get('query') ?? '', ...range, opts: jobOpts, gathered, ...(splittable ? { splittable } : {}) }, signal);
  } finally {
    release(); // the local blocks the job read
  }
  if (stats) Object.assign(stats, { samples: answer.samples, gatherMs: t1 - t0, waitMs: Math.max(0, performance.now() - t1 - answer.evalMs), evalMs: answer.evalMs });
  if (!answer.ok) throw new QueryError(answer.message, answer.id);
  return answer.body;
}

/** `query`: the success body. */
export async function queryApi(db: TenantDB | undefined, params: URLSearchParams, opts: QueryOptions = {}): Promise<string> {
  opts = withResolutionParam(params, withTimeoutParam(params, opts));
  const t = parseTime('time', params.get('time') ?? undefined, Date.now());
  const expr = queryParam(params);
  return runQuery(db, params, expr, { range: false, start: t, end: t, step: 0 }, opts);
}

/** `query_range`: the success body. */
export async function queryRangeApi(db: TenantDB | undefined, params: URLSearchParams, opts: QueryOptions = {}): Promise<string> {
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
  return runQuery(db, params, expr, { range: true, start, end, step }, opts);
}

/** `format_query`: the expression as Prometheus's prettier writes it. */
export function formatQueryApi(params: URLSearchParams): string {
  return successJson(goString(prettify(queryParam(params))));
}

/** `parse_query`: the syntax tree, for Prometheus's tree view. */
export function parseQueryApi(params: URLSearchParams): string {
  return successJson(astJson(queryParam(params)));
}
