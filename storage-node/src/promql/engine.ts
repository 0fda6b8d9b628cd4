/**
 * The PromQL evaluator over one tenant's data (head and blocks).
 *
 * Each query first loads, once, every series its selectors can touch over the
 * whole query range (typed columns, so staleness markers keep their bits), then
 * evaluates the tree at each step. Semantics follow Prometheus 3: a 5-minute
 * lookback (configurable) that skips staleness markers, range windows
 * (t - range, t], Prometheus's extrapolation for rate/increase/delta, and
 * delayed __name__ removal: an operation that drops the metric name marks
 * its samples (`drop`) and the name goes only from the query's result, so
 * label_replace can still read it and `sum by (__name__)` still groups by it.
 * Annotations (warnings, infos) travel beside the result, never thrown.
 */
import { compareLabelsUtf8, compareUtf8 } from '../block/utf8-order.js';
import { isStale, mergeChunks, type ChunkRange } from '../chunkenc/merge.js';
import type { SeriesColumns, TenantDB } from '../db/tenant-db.js';
import { labelsKey, labelValue, type Labels } from '../model/labels.js';
import { compileAnchored } from '../model/re2.js';
import type { AggregateOp, At, BinaryOp, Expr, MatrixSelector, Subquery, VectorMatching, VectorSelector } from './ast.js';
import { typeOf } from './ast.js';
import { formatFloat } from './format.js';
import { compensatedSum, floatMean, floatQuantile, floatVariance, nanFirstAsc, RunningVariance } from './float-stats.js';
import { positionOf } from './parse.js';
import { goQuote } from './printer.js';
import { isValidUtf8 } from './strings.js';
import { seriesHash } from '../../../wire/hash.js';
import { ErrorIds, IsobarError, type Cause, type ErrorId } from '../../../wire/errors.js';
import { QUERY_LIMIT_DEFAULTS } from '../../../wire/query-limits.js';
import { RES_RAW } from '../downsample/downsample.js';
import { fittingResolution, planTiers, RAW_PLAN, rangeView, readTierChunks, selectTiered, tierInfo, type TieredChunks, type View } from './tiers.js';

/** How a query failed, in Prometheus's errorType words. */
export type QueryErrorType = 'execution' | 'timeout' | 'canceled' | 'unavailable' | 'bad_data';

const QUERY_ERROR_KINDS: Record<QueryErrorType, [ErrorId, Cause]> = {
  execution: [ErrorIds.queryExecution, 'unprocessable'],
  timeout: [ErrorIds.queryTimeout, 'timeout'],
  canceled: [ErrorIds.queryCanceled, 'canceled'],
  unavailable: [ErrorIds.storageUnavailable, 'unavailable'],
  bad_data: [ErrorIds.badQuery, 'bad-data'],
};

/** A query that cannot be answered: its id says which rule or limit, its cause the status. */
export class QueryError extends IsobarError {
  constructor(
    message: string,
    readonly type: QueryErrorType = 'execution',
    id: ErrorId = QUERY_ERROR_KINDS[type][0],
  ) {
    super(id, QUERY_ERROR_KINDS[type][1], message);
    this.name = 'QueryError';
  }
}

export interface EngineOptions {
  lookbackMs?: number;
  /** Most samples a query may load. */
  maxSamples?: number;
  timeoutMs?: number;
  /** Most points (samples over all series and steps) a result may hold. */
  maxPoints?: number;
  /** Most series a query may load (over all its selectors). */
  maxSeries?: number;
  /** Longest stretch of time any selector may read (ms), the lookback aside. */
  maxRangeMs?: number;
  /** Aborted when the client goes away: the query stops at its next pause. */
  signal?: AbortSignal;
  /** The tenant's series held by other nodes (async evaluation only). */
  peers?: PeerSeries;
  /** Filled in as the query loads samples (usage accounting). */
  stats?: { samples: number };
  /** The coarsest downsampled tier the query may read (ms; 0: raw samples only). Default: any that fits. */
  maxResolutionMs?: number;
}

/** Series other nodes hold, as compressed chunks. */
export interface PeerSeries {
  /**
   * Each peer's part of the selector over [mint, maxt]. With `res` > 0, read
   * through that peer's own tiers up to that resolution (aggregate chunks for
   * the time its tiers serve, raw chunks after); with 0, raw chunks only.
   */
  fetch(sel: VectorSelector, mint: number, maxt: number, res: number): Promise<TieredChunks[]>;
}

/** One selector's load: the whole time range the query needs of it, and in which view of downsampled data. */
interface Fetch {
  sel: VectorSelector;
  mint: number;
  maxt: number;
  view: View;
  /** A range selector's range (tiers must fit it). */
  range?: number;
}

export interface Sample {
  labels: Labels;
  v: number;
  /** Its __name__ goes when the query's result is made (delayed name removal). */
  drop?: boolean;
}
/**
 * A range-vector element: the window [lo, hi) of time and value columns.
 * The columns are usually the loaded data itself (read-only, shared): no copy
 * per step.
 */
export interface RangeSeries {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  lo: number;
  hi: number;
  /** Downsampled `avg_over_time` reads: each point's sample count (its value is their sum). */
  w?: Float64Array;
  /** Its __name__ goes when the query's result is made (a subquery over a name-dropping expression). */
  drop?: boolean;
}

/** Values of a window as their own array (for the less common functions). */
function windowValues(s: RangeSeries): number[] {
  return Array.from(s.v.subarray(s.lo, s.hi));
}
export type Value =
  | { type: 'scalar'; v: number }
  | { type: 'string'; s: string }
  | { type: 'vector'; samples: Sample[] }
  | { type: 'matrix'; series: RangeSeries[] };

/** How long the async evaluation works before giving the event loop back. */
const YIELD_MS = 10;
const EMPTY = new Float64Array(0);
const NAME = '__name__';

/** Each label set without __name__, and the name it had ('' for none): cached per (immutable, shared) input set, as series keep theirs across steps. */
const nameless = new WeakMap<Labels, { labels: Labels; name: string }>();
const withoutName = (ls: Labels): { labels: Labels; name: string } => {
  let out = nameless.get(ls);
  if (!out) {
    const i = ls.indexOf(NAME);
    out = i >= 0 && i % 2 === 0 ? { labels: [...ls.slice(0, i), ...ls.slice(i + 2)], name: ls[i + 1]! } : { labels: ls, name: '' };
    nameless.set(ls, out);
  }
  return out;
};
const dropName = (ls: Labels): Labels => withoutName(ls).labels;

/**
 * The result's label sets: __name__ removed where an operation marked it, and
 * refused if that leaves one label set twice, as Prometheus refuses it
 * ("vector cannot contain metrics with the same labelset").
 */
function finishVector(samples: Sample[]): Sample[] {
  if (!samples.some((x) => x.drop)) return samples;
  const out = samples.map((x) => (x.drop ? { labels: dropName(x.labels), v: x.v } : x));
  uniqueLabelSets(out);
  return out;
}

const keys = new WeakMap<Labels, string>();
const key = (ls: Labels): string => {
  let k = keys.get(ls);
  if (k === undefined) keys.set(ls, (k = labelsKey(ls)));
  return k;
};

type RangeAcc = Map<string, { labels: Labels; t: number[]; v: number[] }>;

function finishRange(acc: RangeAcc): RangeSeries[] {
  return [...acc.values()].map((e) => ({ labels: e.labels, t: Float64Array.from(e.t), v: Float64Array.from(e.v), lo: 0, hi: e.t.length })).sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
}

interface Ctx {
  start: number;
  end: number;
  step: number;
  deadline: number;
}

export class Engine {
  private readonly lookback: number;
  private readonly maxSamples: number;
  private readonly timeoutMs: number;
  private readonly maxPoints: number;
  private readonly maxSeries: number;
  private readonly maxRangeMs: number;
  private seriesLoaded = 0;
  private readonly signal: AbortSignal | undefined;
  private readonly peers: PeerSeries | undefined;
  private readonly stats: { samples: number } | undefined;
  private readonly maxResolutionMs: number;
  private points = 0;
  private loaded = new Map<VectorSelector, Array<SeriesColumns & { hasStale: boolean; w?: Float64Array }>>();
  /** Selectors read through downsampled tiers, with the lookback their points need. */
  private readonly tiered = new Map<VectorSelector, { lookback: number }>();
  /** PromQL warnings for the response's `warnings` (Prometheus's annotations). */
  readonly warnings: string[] = [];
  /** Notes for the response's `infos`: PromQL infos, and which tiers the query read. */
  readonly infos: string[] = [];
  /** A range query (sort is ineffective there). */
  private rangeQuery = false;

  /** Add a PromQL warning about `node` once (steps repeat them). */
  private warn(text: string, node: object): void {
    const msg = `PromQL warning: ${text} (${positionOf(node)})`;
    if (!this.warnings.includes(msg)) this.warnings.push(msg);
  }

  /** Add a PromQL info about `node` once. */
  private info(text: string, node: object): void {
    const msg = `PromQL info: ${text} (${positionOf(node)})`;
    if (!this.infos.includes(msg)) this.infos.push(msg);
  }
  private samplesLoaded = 0;

  constructor(
    private readonly db: TenantDB | undefined,
    opts: EngineOptions = {},
  ) {
    this.lookback = opts.lookbackMs ?? QUERY_LIMIT_DEFAULTS.lookbackSeconds * 1000;
    this.maxSamples = opts.maxSamples ?? QUERY_LIMIT_DEFAULTS.maxSamples;
    this.timeoutMs = opts.timeoutMs ?? QUERY_LIMIT_DEFAULTS.timeoutSeconds * 1000;
    this.maxPoints = opts.maxPoints ?? QUERY_LIMIT_DEFAULTS.maxPoints;
    this.maxSeries = opts.maxSeries ?? QUERY_LIMIT_DEFAULTS.maxSeries;
    this.maxRangeMs = opts.maxRangeMs ?? Infinity;
    this.signal = opts.signal;
    this.peers = opts.peers;
    this.stats = opts.stats;
    this.maxResolutionMs = opts.maxResolutionMs ?? Infinity;
  }

  /**
   * Evaluate at one time. Evaluation gives the event loop back between pieces
   * of work (about every YIELD_MS), so writes and other tenants' requests on
   * this node go on while a heavy query runs. The query works on data it
   * copied while loading, so nothing it reads changes under it.
   */
  async instantAsync(expr: Expr, t: number): Promise<Value> {
    const ctx: Ctx = { start: t, end: t, step: 0, deadline: Date.now() + this.timeoutMs };
    await this.loadAsync(expr, t, t, ctx);
    const v = this.eval(expr, t, ctx);
    if (v.type === 'vector') {
      this.countPoints(v.samples.length);
      return { type: 'vector', samples: finishVector(v.samples) };
    }
    if (v.type === 'matrix' && v.series.some((x) => x.drop)) {
      const series = v.series.map((x) => (x.drop ? { ...x, labels: dropName(x.labels), drop: false } : x));
      uniqueLabelSets(series.map((x) => ({ labels: x.labels, v: 0 })));
      return { type: 'matrix', series };
    }
    return v;
  }

  /** A range query: one matrix (scalars become a series without labels). */
  async rangeAsync(expr: Expr, start: number, end: number, step: number): Promise<RangeSeries[]> {
    const ctx: Ctx = { start, end, step, deadline: Date.now() + this.timeoutMs };
    this.rangeQuery = true;
    await this.loadAsync(expr, start, end, ctx);
    const acc: RangeAcc = new Map();
    for (let t = start; t <= end; t += step) {
      await this.yieldIfDue(ctx);
      this.step(expr, t, ctx, acc);
    }
    return finishRange(acc);
  }

  private lastYield = performance.now();
  private async yieldIfDue(ctx: Ctx): Promise<void> {
    if (performance.now() - this.lastYield < YIELD_MS) return;
    await new Promise<void>((r) => setImmediate(r));
    this.lastYield = performance.now();
    if (this.signal?.aborted) throw new QueryError('query was canceled: the client went away', 'canceled');
    this.checkDeadline(ctx);
  }

  private checkDeadline(ctx: Ctx): void {
    if (Date.now() > ctx.deadline) throw new QueryError(`query timed out after ${this.timeoutMs / 1000}s (limit query_timeout_seconds / ISOBAR_QUERY_TIMEOUT_SECONDS, or the request's timeout parameter)`, 'timeout');
  }

  private countPoints(n: number): void {
    this.points += n;
    if (this.points > this.maxPoints) {
      throw new QueryError(`query result would hold more than ${this.maxPoints} points (limit query_max_points / ISOBAR_QUERY_MAX_POINTS); use a longer step, a shorter range or fewer series`, 'execution', ErrorIds.queryMaxPoints);
    }
  }

  /**
   * load(), with the peers' series fetched (all selectors at once), yielding
   * between selectors. Selectors a downsampled tier can serve (tiers.ts) are
   * read through each node's own tiers: the coarsest resolution the query's
   * step and ranges allow, where a node holds it; raw samples otherwise.
   */
  private async loadAsync(expr: Expr, lo: number, hi: number, ctx: Ctx): Promise<void> {
    const pending: Fetch[] = [];
    this.plan(expr, lo, hi, ctx, pending);
    this.checkRanges(pending);
    const res = this.tierResolution(pending, ctx);
    const tiered = (f: Fetch) => res > 0 && f.view !== 'raw';
    // Plain selectors look back at least one window through tiers (a window's point is its last sample's time).
    const mintOf = (f: Fetch) => (tiered(f) && f.range === undefined ? f.mint - Math.max(0, res - this.lookback) : f.mint);
    const remote = this.peers ? await Promise.all(pending.map((f) => this.peers!.fetch(f.sel, mintOf(f), f.maxt, tiered(f) ? res : 0))) : [];
    for (let i = 0; i < pending.length; i++) {
      const f = pending[i]!;
      const peers = remote[i] ?? [];
      // Bucket blocks: indexes and chunks fetched (through tiers: only the blocks read), then read at once.
      const plan = tiered(f) && this.db ? planTiers(this.db, res, mintOf(f)) : undefined;
      if (plan || peers.some((p) => p.plan.segments.length > 0)) {
        const mint = mintOf(f);
        const own = this.db ? [await readTierChunks(this.db, f.sel.matchers, mint, f.maxt, plan ?? RAW_PLAN)] : [];
        this.fetchTiered(f, [...own, ...peers], mint);
      } else {
        await this.db?.prepare(f.mint, f.maxt, [f.sel.matchers], [{ res: RES_RAW, mint: f.mint, maxt: f.maxt }]);
        this.fetch(f.sel, f.mint, f.maxt, peers.flatMap((p) => p.series));
      }
      await this.yieldIfDue(ctx);
    }
  }

  /** The coarsest downsampled resolution this query's step and ranges allow (0: raw samples only). */
  private tierResolution(pending: Fetch[], ctx: Ctx): number {
    const tiered = pending.filter((f) => f.view !== 'raw');
    if ((!this.db && !this.peers) || tiered.length === 0) return 0;
    return fittingResolution({ step: ctx.step, ranges: tiered.flatMap((f) => (f.range !== undefined ? [f.range] : [])), subquerySteps: this.subquerySteps }, this.maxResolutionMs);
  }

  /** fetch(), through the tiers each node's plan names, in the selector's view. */
  private fetchTiered(f: Fetch, sources: TieredChunks[], mint: number): void {
    if (this.loaded.has(f.sel)) return;
    const plans = sources.map((s) => s.plan);
    const coarsest = Math.max(0, ...plans.map((p) => p.segments[0]?.res ?? 0));
    this.tiered.set(f.sel, { lookback: f.range === undefined ? Math.max(this.lookback, coarsest) : this.lookback });
    const info = tierInfo(plans);
    if (!this.infos.includes(info)) this.infos.push(info);
    const series = selectTiered(sources, mint, f.maxt, f.view).map((s) => {
      let hasStale = false;
      if (f.view === 'avg') for (let i = 0; i < s.n && !hasStale; i++) hasStale = isStale(s.v, i);
      return { ...s, hasStale };
    });
    this.account(f.sel, series);
  }

  /** Evaluate at `t` and add the result to the range being built. */
  private step(expr: Expr, t: number, ctx: Ctx, acc: RangeAcc): void {
    const val = this.eval(expr, t, ctx);
    const samples = val.type === 'scalar' ? [{ labels: [] as Labels, v: val.v }] : val.type === 'vector' ? finishVector(val.samples) : [];
    this.countPoints(samples.length);
    for (const s of samples) {
      const k = key(s.labels);
      let e = acc.get(k);
      if (!e) acc.set(k, (e = { labels: s.labels, t: [], v: [] }));
      e.t.push(t);
      e.v.push(s.v);
    }
  }

  // ---- loading -------------------------------------------------------------

  private atTime(at: At | undefined, t: number, ctx: Ctx): number {
    if (at === undefined) return t;
    if (at === 'start') return ctx.start;
    if (at === 'end') return ctx.end;
    return at;
  }

  /** Refuse, before loading anything, a query that would read a longer stretch of time than allowed. */
  private checkRanges(pending: Fetch[]): void {
    for (const f of pending) {
      const span = f.maxt - f.mint - this.lookback;
      if (span > this.maxRangeMs) {
        throw new QueryError(
          `query would read ${formatDuration(span)} of data, over the limit of ${formatDuration(this.maxRangeMs)} (limit query_max_range_seconds / ISOBAR_QUERY_MAX_RANGE_SECONDS); query a shorter range`,
          'execution',
          ErrorIds.queryMaxRange,
        );
      }
    }
  }

  /** Subqueries' steps (downsampled tiers must fit them). */
  private subquerySteps: number[] = [];

  /**
   * Collect one fetch per selector, each with the whole time range it needs
   * and the view of downsampled data its use allows (`fn`: the function a
   * range selector is the argument of).
   */
  private plan(e: Expr, lo: number, hi: number, ctx: Ctx, out: Fetch[], fn?: string): void {
    switch (e.kind) {
      case 'vector': {
        const a = e.at === undefined ? [lo, hi] : [this.atTime(e.at, lo, ctx), this.atTime(e.at, hi, ctx)];
        out.push({ sel: e, mint: Math.min(a[0]!, a[1]!) - e.offset - this.lookback, maxt: Math.max(a[0]!, a[1]!) - e.offset, view: 'avg' });
        return;
      }
      case 'matrix': {
        const v = e.vector;
        const a = v.at === undefined ? [lo, hi] : [this.atTime(v.at, lo, ctx), this.atTime(v.at, hi, ctx)];
        out.push({ sel: v, mint: Math.min(a[0]!, a[1]!) - v.offset - e.range, maxt: Math.max(a[0]!, a[1]!) - v.offset, view: rangeView(fn), range: e.range });
        return;
      }
      case 'subquery': {
        const a = e.at === undefined ? [lo, hi] : [this.atTime(e.at, lo, ctx), this.atTime(e.at, hi, ctx)];
        this.subquerySteps.push(e.step || ctx.step || 60_000);
        this.plan(e.expr, Math.min(a[0]!, a[1]!) - e.offset - e.range, Math.max(a[0]!, a[1]!) - e.offset, ctx, out);
        return;
      }
      case 'call':
        for (const x of e.args) this.plan(x, lo, hi, ctx, out, e.fn);
        return;
      case 'aggregate':
        if (e.param) this.plan(e.param, lo, hi, ctx, out);
        this.plan(e.expr, lo, hi, ctx, out);
        return;
      case 'binary':
        this.plan(e.lhs, lo, hi, ctx, out);
        this.plan(e.rhs, lo, hi, ctx, out);
        return;
      case 'paren':
      case 'stepInvariant':
        this.plan(e.expr, lo, hi, ctx, out, fn);
        return;
      case 'unary':
        this.plan(e.expr, lo, hi, ctx, out);
        return;
      default:
        return;
    }
  }

  private fetch(sel: VectorSelector, mint: number, maxt: number, remote: Array<{ labels: Labels; chunks: ChunkRange[] }> = []): void {
    const prev = this.loaded.get(sel);
    if (prev) return; // one fetch per selector node: load() gives each its full range at once
    let parts = this.db ? this.db.selectChunks(sel.matchers, mint, maxt) : [];
    if (remote.length > 0) {
      // The same series on several nodes (its shard moved): all chunks, this node's first.
      const byKey = new Map(parts.map((p) => [key(p.labels), { labels: p.labels, chunks: [...p.chunks] }]));
      for (const r of remote) {
        const e = byKey.get(key(r.labels));
        if (e) e.chunks.push(...r.chunks);
        else byKey.set(key(r.labels), { labels: r.labels, chunks: [...r.chunks] });
      }
      parts = [...byKey.values()].sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
    }
    const series: Array<SeriesColumns & { hasStale: boolean }> = [];
    for (const p of parts) {
      const cols = mergeChunks(p.chunks, mint, maxt);
      if (cols.n === 0) continue;
      let hasStale = false;
      for (let i = 0; i < cols.n && !hasStale; i++) hasStale = isStale(cols.v, i);
      series.push({ labels: p.labels, ...cols, hasStale });
    }
    this.account(sel, series);
  }

  /** Count a selector's loaded series and samples against the limits, and keep them. */
  private account(sel: VectorSelector, series: Array<SeriesColumns & { hasStale: boolean; w?: Float64Array }>): void {
    for (const s of series) this.samplesLoaded += s.n;
    this.seriesLoaded += series.length;
    if (this.seriesLoaded > this.maxSeries) {
      throw new QueryError(`query would load more than ${this.maxSeries} series (limit query_max_series / ISOBAR_QUERY_MAX_SERIES); narrow the selectors`, 'execution', ErrorIds.queryMaxSeries);
    }
    if (this.stats) this.stats.samples = this.samplesLoaded;
    if (this.samplesLoaded > this.maxSamples) {
      throw new QueryError(`query processing would load too many samples into memory: more than ${this.maxSamples} (limit query_max_samples / ISOBAR_QUERY_MAX_SAMPLES); narrow the selectors or the time range`, 'execution', ErrorIds.queryMaxSamples);
    }
    this.loaded.set(sel, series);
  }

  // ---- evaluation ----------------------------------------------------------

  private eval(e: Expr, t: number, ctx: Ctx): Value {
    this.checkDeadline(ctx);
    switch (e.kind) {
      case 'number':
        return { type: 'scalar', v: e.value };
      case 'string':
        return { type: 'string', s: e.value };
      case 'paren':
      case 'stepInvariant':
        return this.eval(e.expr, t, ctx);
      case 'vector':
        return { type: 'vector', samples: this.instantSelect(e, t, ctx) };
      case 'matrix':
        return { type: 'matrix', series: this.rangeSelect(e, t, ctx) };
      case 'subquery':
        return { type: 'matrix', series: this.subquery(e, t, ctx) };
      case 'unary': {
        const x = this.eval(e.expr, t, ctx);
        if (e.op === '+') return x;
        if (x.type === 'scalar') return { type: 'scalar', v: -x.v };
        if (x.type === 'vector') return { type: 'vector', samples: x.samples.map((s) => ({ labels: s.labels, v: -s.v, drop: true })) };
        throw new QueryError('unary minus on a non-numeric value');
      }
      case 'binary':
        return this.binary(e, t, ctx);
      case 'aggregate':
        return { type: 'vector', samples: this.aggregate(e, e.param ? this.eval(e.param, t, ctx) : undefined, this.vec(e.expr, t, ctx)) };
      case 'call':
        return this.call(e, t, ctx);
    }
  }

  private vec(e: Expr, t: number, ctx: Ctx): Sample[] {
    const x = this.eval(e, t, ctx);
    if (x.type !== 'vector') throw new QueryError(`expected instant vector, got ${x.type}`);
    return x.samples;
  }

  /** For each series, the sample a vector selector picks at `t` (newest within the lookback, not a staleness marker). */
  private picked(sel: VectorSelector, t: number, ctx: Ctx, each: (s: SeriesColumns, i: number) => void): void {
    const ts = this.atTime(sel.at, t, ctx) - sel.offset;
    const series = this.loaded.get(sel) ?? [];
    const at = this.cursor(sel, series.length, ts);
    const lookback = this.tiered.get(sel)?.lookback ?? this.lookback;
    for (let k = 0; k < series.length; k++) {
      const s = series[k]!;
      const i = (at[k] = atOrBefore(s, ts, at[k]!));
      if (i < 0 || s.t[i]! <= ts - lookback || isStale(s.v, i)) continue;
      each(s, i);
    }
  }

  /**
   * Per selector node, each series' index of its last sample at or before the
   * previous evaluation time. Steps move forward, so the next position is found
   * by stepping on from there (binary search when time goes back: subqueries).
   */
  private cursors = [new Map<object, { ts: number; at: Int32Array }>(), new Map<object, { ts: number; at: Int32Array }>()];
  /** `slot` 1 holds a range selector's second cursor (its window's start). */
  private cursor(node: object, n: number, ts: number, slot: 0 | 1 = 0): Int32Array {
    const map = this.cursors[slot]!;
    let c = map.get(node);
    if (!c || c.at.length !== n || ts < c.ts) map.set(node, (c = { ts, at: new Int32Array(n).fill(-1) }));
    c.ts = ts;
    return c.at;
  }

  private instantSelect(sel: VectorSelector, t: number, ctx: Ctx): Sample[] {
    const out: Sample[] = [];
    this.picked(sel, t, ctx, (s, i) => out.push({ labels: s.labels, v: s.v[i]! }));
    return out;
  }

  private rangeSelect(m: MatrixSelector, t: number, ctx: Ctx): RangeSeries[] {
    const out: RangeSeries[] = [];
    this.windows(m, t, ctx, (w) => out.push({ ...w }));
    return out;
  }

  /**
   * Each series' window (t - range, t] of a range selector, handed to `each`.
   * The common case (no staleness marker inside) hands the loaded columns
   * themselves in one reused object: `each` must copy what it keeps.
   */
  private windows(m: MatrixSelector, t: number, ctx: Ctx, each: (w: RangeSeries) => void): void {
    const ts = this.atTime(m.vector.at, t, ctx) - m.vector.offset;
    const w: RangeSeries = { labels: [], t: EMPTY, v: EMPTY, lo: 0, hi: 0 };
    const series = this.loaded.get(m.vector) ?? [];
    const his = this.cursor(m, series.length, ts);
    const los = this.cursor(m, series.length, ts - m.range, 1);
    for (let k = 0; k < series.length; k++) {
      const s = series[k]!;
      const hi = (his[k] = atOrBefore(s, ts, his[k]!));
      los[k] = atOrBefore(s, ts - m.range, los[k]!);
      const lo = los[k]! + 1; // left-open window
      if (hi < lo) continue;
      let stale = 0;
      if (s.hasStale) for (let i = lo; i <= hi; i++) if (isStale(s.v, i)) stale++;
      if (stale === 0) {
        w.labels = s.labels;
        w.t = s.t;
        w.v = s.v;
        w.w = s.w;
        w.lo = lo;
        w.hi = hi + 1;
        each(w);
        continue;
      }
      const n = hi - lo + 1 - stale;
      if (n === 0) continue;
      const tt = new Float64Array(n);
      const vv = new Float64Array(n);
      let j = 0;
      for (let i = lo; i <= hi; i++) {
        if (isStale(s.v, i)) continue;
        tt[j] = s.t[i]!;
        vv[j++] = s.v[i]!;
      }
      each({ labels: s.labels, t: tt, v: vv, lo: 0, hi: n });
    }
  }

  private subquery(sq: Subquery, t: number, ctx: Ctx): RangeSeries[] {
    const ts = this.atTime(sq.at, t, ctx) - sq.offset;
    const step = sq.step || ctx.step || 60_000;
    // Steps are aligned to multiples of `step` in absolute time, inside (ts - range, ts].
    let first = Math.floor((ts - sq.range) / step) * step;
    if (first <= ts - sq.range) first += step;
    const acc = new Map<string, { labels: Labels; t: number[]; v: number[]; drop: boolean }>();
    for (let x = first; x <= ts; x += step) {
      for (const s of this.vec(sq.expr, x, ctx)) {
        const k = key(s.labels);
        let e = acc.get(k);
        if (!e) acc.set(k, (e = { labels: s.labels, t: [], v: [], drop: false }));
        e.t.push(x);
        e.v.push(s.v);
        if (s.drop) e.drop = true;
      }
    }
    return [...acc.values()].map((e) => ({ labels: e.labels, t: Float64Array.from(e.t), v: Float64Array.from(e.v), lo: 0, hi: e.t.length, ...(e.drop ? { drop: true } : {}) }));
  }

  // ---- operators -----------------------------------------------------------

  private binary(e: Extract<Expr, { kind: 'binary' }>, t: number, ctx: Ctx): Value {
    const l = this.eval(e.lhs, t, ctx);
    const r = this.eval(e.rhs, t, ctx);
    const op = e.op;
    if (l.type === 'scalar' && r.type === 'scalar') {
      const [v, holds] = scalarOp(op, l.v, r.v);
      return { type: 'scalar', v: isComparison(op) ? (holds ? 1 : 0) : v };
    }
    if (l.type === 'vector' && r.type === 'vector') return { type: 'vector', samples: vectorOp(op, l.samples, r.samples, e.matching, e.bool) };
    // vector op scalar, or scalar op vector
    const vecSide = l.type === 'vector' ? l.samples : (r as { samples: Sample[] }).samples;
    const scalar = l.type === 'scalar' ? l.v : (r as { v: number }).v;
    const swap = l.type === 'scalar';
    const out: Sample[] = [];
    for (const s of vecSide) {
      const [v, keep] = swap ? scalarOp(op, scalar, s.v) : scalarOp(op, s.v, scalar);
      if (isComparison(op)) {
        if (e.bool) out.push({ labels: s.labels, v: keep ? 1 : 0, drop: true });
        else if (keep) out.push(s);
      } else out.push({ labels: s.labels, v, drop: dropsName(op) || s.drop });
    }
    return { type: 'vector', samples: out };
  }

  /** Per aggregation node: each input label set's group (labels and key), worked out once for all steps. */
  private groupCache = new WeakMap<string[], WeakMap<Labels, { labels: Labels; key: string }>>();

  private aggregate(e: Extract<Expr, { kind: 'aggregate' }>, param: Value | undefined, samples: Sample[]): Sample[] {
    const { op, grouping, without } = e;
    let cache = this.groupCache.get(grouping);
    if (!cache) this.groupCache.set(grouping, (cache = new WeakMap()));
    const groupOf = (ls: Labels): { labels: Labels; key: string } => {
      let g = cache!.get(ls);
      if (g) return g;
      const out: string[] = [];
      for (let i = 0; i < ls.length; i += 2) {
        const n = ls[i]!;
        if (without ? !grouping.includes(n) && n !== NAME : grouping.includes(n)) out.push(n, ls[i + 1]!);
      }
      cache!.set(ls, (g = { labels: out, key: key(out) }));
      return g;
    };
    const p = param?.type === 'scalar' ? param.v : NaN;
    if (op === 'topk' || op === 'bottomk' || op === 'limitk') {
      if (Number.isNaN(p)) throw new QueryError('Parameter value is NaN');
      if (Math.abs(p) >= 2 ** 63) throw new QueryError(`Scalar value ${formatFloat(p)} overflows int64`);
    }
    if (op === 'limit_ratio') {
      if (Number.isNaN(p)) throw new QueryError('Ratio value is NaN');
      if (p < -1 || p > 1) this.warn(`ratio value should be between -1 and 1, got ${goFloat(p)}, capping to ${p < -1 ? -1 : 1}`, e.param!);
    }
    if (op === 'quantile' && !(p >= 0 && p <= 1)) this.warn(`quantile value should be between 0 and 1, got ${goFloat(p)}`, e.param!);
    // A group keeps its members' name-drop mark where it groups by __name__ (delayed name removal).
    const groups = new Map<string, { labels: Labels; items: Sample[]; drop: boolean }>();
    for (const s of samples) {
      const gk = groupOf(s.labels);
      let g = groups.get(gk.key);
      if (!g) groups.set(gk.key, (g = { labels: gk.labels, items: [], drop: false }));
      g.items.push(s);
      if (s.drop) g.drop = true;
    }
    const out: Sample[] = [];
    const push = (g: { labels: Labels; drop: boolean }, v: number) => out.push(g.drop && !without && grouping.includes(NAME) ? { labels: g.labels, v, drop: true } : { labels: g.labels, v });
    if (op === 'count_values') {
      const label = param?.type === 'string' ? param.s : '';
      // Prometheus 3's label names: any non-empty UTF-8.
      if (label === '' || !isValidUtf8(label)) throw new QueryError(`invalid label name ${goQuote(label)}`);
      for (const g of groups.values()) {
        const counts = new Map<string, number>();
        for (const s of g.items) counts.set(formatFloat(s.v), (counts.get(formatFloat(s.v)) ?? 0) + 1);
        for (const [val, n] of counts) push({ labels: setLabel(g.labels, label, val), drop: g.drop }, n);
      }
      return out;
    }
    for (const g of groups.values()) {
      const vs = g.items.map((s) => s.v);
      switch (op) {
        case 'sum': push(g, compensatedSum(vs)); break;
        case 'avg': push(g, floatMean(vs)); break;
        case 'count': push(g, vs.length); break;
        case 'group': push(g, 1); break;
        case 'min': push(g, vs.reduce((a, b) => (Number.isNaN(a) || b < a ? b : a), NaN)); break;
        case 'max': push(g, vs.reduce((a, b) => (Number.isNaN(a) || b > a ? b : a), NaN)); break;
        case 'stddev':
        case 'stdvar': {
          const rv = new RunningVariance();
          for (const v of vs) rv.add(v);
          push(g, op === 'stddev' ? Math.sqrt(rv.variance) : rv.variance);
          break;
        }
        case 'quantile': push(g, floatQuantile(p, vs)); break;
        case 'topk':
        case 'bottomk': {
          const k = Math.floor(p);
          if (!(k >= 1)) break;
          // NaN is never among the top or the bottom while other values remain.
          const sorted = [...g.items].sort((a, b) => (op === 'topk' ? cmpDesc(a.v, b.v) : cmpAsc(a.v, b.v)));
          out.push(...sorted.slice(0, k));
          break;
        }
        case 'limitk': {
          const k = Math.floor(p);
          if (k >= 1) out.push(...g.items.slice(0, k));
          break;
        }
        case 'limit_ratio': {
          // A deterministic sample: each series by where its label hash falls in [0, 1).
          const r = Math.max(-1, Math.min(1, p));
          for (const s of g.items) {
            const h = seriesHash(pairs(s.labels));
            const at = h.hi / 2 ** 32 + h.lo / 2 ** 64;
            if (r >= 0 ? at < r : at >= 1 + r) out.push(s);
          }
          break;
        }
      }
    }
    return out;
  }

  // ---- functions -----------------------------------------------------------

  /** Whether a function's range argument was read through downsampled tiers. */
  private isTiered(args: Expr[]): boolean {
    const a = args.find((x) => x.kind === 'matrix');
    return a?.kind === 'matrix' && this.tiered.has(a.vector);
  }

  /**
   * A vector of classic histogram buckets (`le` series) as histograms: one
   * per label set without `le` and __name__, each with its (upper bound,
   * cumulative count) pairs. A series without a valid `le` is left out with
   * a warning, as Prometheus does.
   */
  private classicHistograms(arg: Expr, node: Expr, t: number, ctx: Ctx): Array<{ labels: Labels; name: string; b: Array<[number, number]> }> {
    const groups = new Map<string, { labels: Labels; name: string; b: Array<[number, number]> }>();
    for (const s of this.vec(arg, t, ctx)) {
      const le = labelValue(s.labels, 'le');
      const upper = parseBucketBound(le);
      if (upper === undefined) {
        this.warn(`bucket label "le" is missing or has a malformed value of ${goQuoteString(le)} for metric name ${goQuoteString(labelValue(s.labels, NAME))}`, node);
        continue;
      }
      // Grouped with the name, which goes from the result (delayed name removal): two histograms that
      // differ only in name then meet there and are refused, as Prometheus refuses them.
      const ls = setLabel(s.labels, 'le', '');
      const k = key(ls);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { labels: ls, name: labelValue(s.labels, NAME), b: [] }));
      g.b.push([upper, s.v]);
    }
    return [...groups.values()];
  }

  private call(e: Extract<Expr, { kind: 'call' }>, t: number, ctx: Ctx): Value {
    const fn = e.fn;
    // `rate((m[5m]))`: a function reads its range argument through parentheses.
    const args = e.args.map((a) => (typeOf(a) === 'matrix' ? unwrapParens(a) : a));
    const scalarArg = (i: number) => {
      const x = this.eval(args[i]!, t, ctx);
      return x.type === 'scalar' ? x.v : NaN;
    };
    const stringArg = (i: number) => (unwrapParens(args[i]!) as { value: string }).value;
    const matrix = () => {
      const x = this.eval(args[args.findIndex((a) => typeOf(a) === 'matrix')]!, t, ctx);
      return x.type === 'matrix' ? x.series : [];
    };
    const overTime = (f: (s: RangeSeries) => number | undefined, keepName = false): Value => {
      const out: Sample[] = [];
      const each = (s: RangeSeries) => {
        const v = f(s);
        if (v !== undefined) out.push({ labels: s.labels, v, drop: !keepName || s.drop });
      };
      const a = args.find((x) => x.kind === 'matrix' || x.kind === 'subquery');
      if (a?.kind === 'matrix') this.windows(a, t, ctx, each); // straight from the loaded columns, no copies
      else for (const s of matrix()) each(s);
      return { type: 'vector', samples: out };
    };
    const mapVec = (f: (v: number, s: Sample) => number): Value => ({ type: 'vector', samples: this.vec(args[0]!, t, ctx).map((s) => ({ labels: s.labels, v: f(s.v, s), drop: true })) });
    /** The name of a range argument's metric, for annotations ('' when it has none or several). */
    const counterCheck = (s: RangeSeries) => {
      const name = labelValue(s.labels, NAME);
      if (name !== '' && !/(_total|_sum|_count|_bucket)$/.test(name)) this.info(`metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${goQuoteString(name)}`, e.args[0]!);
    };
    const rangeOf = () => {
      const a = args.find((x) => typeOf(x) === 'matrix')!;
      return a.kind === 'matrix' ? a.range : (a as Subquery).range;
    };
    const evalTime = () => {
      const a = args.find((x) => typeOf(x) === 'matrix')!;
      const base = a.kind === 'matrix' ? a.vector : (a as Subquery);
      return this.atTime(base.at, t, ctx) - base.offset;
    };

    switch (fn) {
      case 'rate':
      case 'increase':
      case 'delta': {
        const range = rangeOf();
        const end = evalTime();
        return overTime((s) => {
          if (fn !== 'delta') counterCheck(s);
          return extrapolatedRate(s, end - range, end, fn !== 'delta', fn === 'rate');
        });
      }
      case 'irate':
      case 'idelta':
        return overTime((s) => {
          if (fn === 'irate') counterCheck(s);
          return instantValue(s, fn === 'irate');
        });
      // Downsampled reads: points are windows (sums with counts as weights; counts).
      case 'avg_over_time': return overTime((s) => (s.w ? compensatedSum(s.v, s.lo, s.hi) / compensatedSum(s.w, s.lo, s.hi) : floatMean(s.v, s.lo, s.hi)));
      case 'sum_over_time': return overTime((s) => compensatedSum(s.v, s.lo, s.hi));
      case 'count_over_time': return overTime((s) => (this.isTiered(args) ? compensatedSum(s.v, s.lo, s.hi) : s.hi - s.lo));
      case 'min_over_time': return overTime((s) => { let m = NaN; for (let i = s.lo; i < s.hi; i++) { const b = s.v[i]!; if (Number.isNaN(m) || b < m) m = b; } return m; });
      case 'max_over_time': return overTime((s) => { let m = NaN; for (let i = s.lo; i < s.hi; i++) { const b = s.v[i]!; if (Number.isNaN(m) || b > m) m = b; } return m; });
      case 'last_over_time': return overTime((s) => s.v[s.hi - 1], true);
      case 'first_over_time': return overTime((s) => s.v[s.lo], true);
      case 'ts_of_last_over_time': return overTime((s) => s.t[s.hi - 1]! / 1000);
      case 'ts_of_first_over_time': return overTime((s) => s.t[s.lo]! / 1000);
      // The time of the smallest (largest) value; the last such when several tie.
      case 'ts_of_min_over_time': return overTime((s) => tsOfExtreme(s, (a, b) => a <= b));
      case 'ts_of_max_over_time': return overTime((s) => tsOfExtreme(s, (a, b) => a >= b));
      case 'present_over_time': return overTime(() => 1);
      case 'stddev_over_time': return overTime((s) => Math.sqrt(floatVariance(s.v, s.lo, s.hi)));
      case 'stdvar_over_time': return overTime((s) => floatVariance(s.v, s.lo, s.hi));
      case 'mad_over_time': return overTime((s) => {
        const vs = windowValues(s);
        if (vs.some(Number.isNaN)) return NaN; // a NaN sample makes the result NaN, not a silently shifted median
        const med = floatQuantile(0.5, vs);
        return floatQuantile(0.5, vs.map((x) => Math.abs(x - med)));
      });
      case 'quantile_over_time': {
        const q = scalarArg(0);
        if (!(q >= 0 && q <= 1)) this.warn(`quantile value should be between 0 and 1, got ${goFloat(q)}`, e.args[0]!);
        return overTime((s) => floatQuantile(q, s.v, s.lo, s.hi));
      }
      case 'changes': return overTime((s) => { let n = 0; for (let i = s.lo + 1; i < s.hi; i++) if (s.v[i] !== s.v[i - 1] && !(Number.isNaN(s.v[i]!) && Number.isNaN(s.v[i - 1]!))) n++; return n; });
      case 'resets': return overTime((s) => { let n = 0; for (let i = s.lo + 1; i < s.hi; i++) if (s.v[i]! < s.v[i - 1]!) n++; return n; });
      case 'deriv': return overTime((s) => (s.hi - s.lo < 2 ? undefined : linearRegression(s, s.t[s.lo]!)[0]));
      case 'predict_linear': {
        const dur = scalarArg(1);
        // The prediction is for the evaluation time plus `dur`, even where `@` or `offset` moved the window.
        const at = t;
        return overTime((s) => { if (s.hi - s.lo < 2) return undefined; const [slope, icept] = linearRegression(s, at); return slope * dur + icept; });
      }
      case 'double_exponential_smoothing': {
        const sf = scalarArg(1);
        const tf = scalarArg(2);
        if (!(sf > 0 && sf < 1)) throw new QueryError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${sf}`);
        if (!(tf > 0 && tf < 1)) throw new QueryError(`invalid trend factor. Expected: 0 < tf < 1, got: ${tf}`);
        return overTime((s) => holtWinters(s.v.subarray(s.lo, s.hi), sf, tf));
      }
      case 'absent_over_time': {
        if (matrix().length > 0) return { type: 'vector', samples: [] };
        return { type: 'vector', samples: [{ labels: absentLabels(args[0]!), v: 1 }] };
      }
      case 'absent': {
        if (this.vec(args[0]!, t, ctx).length > 0) return { type: 'vector', samples: [] };
        return { type: 'vector', samples: [{ labels: absentLabels(args[0]!), v: 1 }] };
      }
      case 'abs': return mapVec(Math.abs);
      case 'ceil': return mapVec(Math.ceil);
      case 'floor': return mapVec(Math.floor);
      case 'exp': return mapVec(Math.exp);
      case 'ln': return mapVec(Math.log);
      case 'log2': return mapVec(Math.log2);
      case 'log10': return mapVec(Math.log10);
      case 'sqrt': return mapVec(Math.sqrt);
      case 'sgn': return mapVec((v) => (Number.isNaN(v) ? v : Math.sign(v)));
      case 'sin': return mapVec(Math.sin);
      case 'cos': return mapVec(Math.cos);
      case 'tan': return mapVec(Math.tan);
      case 'asin': return mapVec(Math.asin);
      case 'acos': return mapVec(Math.acos);
      case 'atan': return mapVec(Math.atan);
      case 'sinh': return mapVec(Math.sinh);
      case 'cosh': return mapVec(Math.cosh);
      case 'tanh': return mapVec(Math.tanh);
      case 'asinh': return mapVec(Math.asinh);
      case 'acosh': return mapVec(Math.acosh);
      case 'atanh': return mapVec(Math.atanh);
      case 'deg': return mapVec((v) => (v * 180) / Math.PI);
      case 'rad': return mapVec((v) => (v * Math.PI) / 180);
      case 'round': {
        const to = args.length > 1 ? scalarArg(1) : 1;
        const inv = 1 / to;
        return mapVec((v) => Math.floor(v * inv + 0.5) / inv);
      }
      case 'clamp': { const lo = scalarArg(1); const hi = scalarArg(2); if (hi < lo) return { type: 'vector', samples: [] }; return mapVec((v) => Math.max(lo, Math.min(hi, v))); }
      case 'clamp_min': { const lo = scalarArg(1); return mapVec((v) => Math.max(lo, v)); }
      case 'clamp_max': { const hi = scalarArg(1); return mapVec((v) => Math.min(hi, v)); }
      case 'timestamp': {
        // The time of the sample the selector picked, in seconds.
        const a = unwrapParens(args[0]!);
        if (a.kind === 'vector') {
          const out: Sample[] = [];
          this.picked(a, t, ctx, (s, i) => out.push({ labels: s.labels, v: s.t[i]! / 1000, drop: true }));
          return { type: 'vector', samples: out };
        }
        return mapVec(() => t / 1000);
      }
      case 'time': return { type: 'scalar', v: t / 1000 };
      case 'step': return { type: 'scalar', v: ctx.step / 1000 };
      case 'range': return { type: 'scalar', v: (ctx.end - ctx.start) / 1000 };
      case 'start': return { type: 'scalar', v: ctx.start / 1000 };
      case 'end': return { type: 'scalar', v: ctx.end / 1000 };
      case 'pi': return { type: 'scalar', v: Math.PI };
      case 'min_of':
      case 'max_of': {
        const a = scalarArg(0);
        const b = scalarArg(1);
        // Go's math.Min/Max: NaN wins.
        return { type: 'scalar', v: Number.isNaN(a) || Number.isNaN(b) ? NaN : fn === 'min_of' ? Math.min(a, b) : Math.max(a, b) };
      }
      case 'histogram_count':
      case 'histogram_sum':
      case 'histogram_avg':
      case 'histogram_stddev':
      case 'histogram_stdvar':
        this.vec(args[0]!, t, ctx); // evaluated for its errors; its float samples have no histogram to read
        return { type: 'vector', samples: [] };
      case 'vector': return { type: 'vector', samples: [{ labels: [], v: scalarArg(0) }] };
      case 'scalar': { const v = this.vec(args[0]!, t, ctx); return { type: 'scalar', v: v.length === 1 ? v[0]!.v : NaN }; }
      case 'sort':
      case 'sort_desc':
      case 'sort_by_label':
      case 'sort_by_label_desc': {
        if (this.rangeQuery) this.warn('sort is ineffective for range queries since results are always ordered by labels', e);
        const v = [...this.vec(args[0]!, t, ctx)];
        if (fn === 'sort') return { type: 'vector', samples: v.sort((a, b) => cmpAsc(a.v, b.v)) };
        if (fn === 'sort_desc') return { type: 'vector', samples: v.sort((a, b) => cmpDesc(a.v, b.v)) };
        // By the named labels' values in natural order (numbers in them by value), then by the whole label set.
        const names = args.slice(1).map((_, i) => stringArg(i + 1));
        const sign = fn === 'sort_by_label' ? 1 : -1;
        return { type: 'vector', samples: v.sort((a, b) => sign * compareByLabels(a.labels, b.labels, names)) };
      }
      case 'minute': case 'hour': case 'day_of_week': case 'day_of_month': case 'day_of_year': case 'days_in_month': case 'month': case 'year': {
        const parts = (sec: number) => dateParts(fn, sec);
        if (args.length === 0) return { type: 'vector', samples: [{ labels: [], v: parts(t / 1000) }] };
        return mapVec((v) => parts(v));
      }
      case 'label_replace': {
        const [dst, repl, src, regex] = [stringArg(1), stringArg(2), stringArg(3), stringArg(4)];
        let re: RegExp;
        try {
          re = compileAnchored(regex);
        } catch (err) {
          throw new QueryError(`invalid regular expression in label_replace(): ${(err as Error).message}`);
        }
        if (dst === '' || !isValidUtf8(dst)) throw new QueryError(`invalid destination label name in label_replace(): ${dst}`);
        return uniqueLabelSets(this.vec(args[0]!, t, ctx).map((s) => {
          const m = re.exec(labelValue(s.labels, src));
          if (!m) return s;
          // Setting __name__ keeps it, even where an earlier operation marked it to go.
          return { labels: setLabel(s.labels, dst, expandTemplate(repl, m)), v: s.v, drop: dst === NAME ? false : s.drop };
        }));
      }
      case 'label_join': {
        const dst = stringArg(1);
        const sep = stringArg(2);
        const srcs = args.slice(3).map((_, i) => stringArg(i + 3));
        return uniqueLabelSets(this.vec(args[0]!, t, ctx).map((s) => ({ labels: setLabel(s.labels, dst, srcs.map((n) => labelValue(s.labels, n)).join(sep)), v: s.v, drop: dst === NAME ? false : s.drop })));
      }
      case 'histogram_quantile':
      case 'histogram_quantiles': {
        const many = fn === 'histogram_quantiles';
        const qs = many ? args.slice(2).map((_, i) => scalarArg(i + 2)) : [scalarArg(0)];
        const qLabel = many ? stringArg(1) : '';
        qs.forEach((q, i) => {
          if (!(q >= 0 && q <= 1)) this.warn(`quantile value should be between 0 and 1, got ${goFloat(q)}`, e.args[many ? i + 2 : 0]!);
        });
        const out: Sample[] = [];
        for (const g of this.classicHistograms(args[many ? 0 : 1]!, e.args[many ? 0 : 1]!, t, ctx)) {
          for (const q of qs) {
            const { value, fixed } = bucketQuantile(q, g.b);
            if (fixed) this.info(`input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name ${goQuoteString(g.name)}`, e.args[many ? 0 : 1]!);
            out.push({ labels: many ? setLabel(g.labels, qLabel, openMetricsFloat(q)) : g.labels, v: value, drop: true });
          }
        }
        return uniqueLabelSets(out);
      }
      case 'histogram_fraction': {
        const lower = scalarArg(0);
        const upper = scalarArg(1);
        return { type: 'vector', samples: this.classicHistograms(args[2]!, e.args[2]!, t, ctx).map((g) => ({ labels: g.labels, v: bucketFraction(lower, upper, g.b), drop: true })) };
      }
      default:
        throw new QueryError(`function ${fn} is not implemented`);
    }
  }
}

// ---- helpers -----------------------------------------------------------------

/** lastAtOrBefore, starting from a known earlier position `from` (-1: none): a few steps forward, else a binary search. */
function atOrBefore(s: SeriesColumns, ts: number, from: number): number {
  const t = s.t;
  let i = from;
  if (i >= 0 && t[i]! > ts) return lastAtOrBefore(t, s.n, ts);
  for (let hops = 0; hops < 8; hops++) {
    if (i + 1 < s.n && t[i + 1]! <= ts) i++;
    else return i;
  }
  return lastAtOrBefore(t, s.n, ts);
}

/** "3h20m" style, for limit messages. */
function formatDuration(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.round((ms % 3_600_000) / 60_000);
  return h >= 48 ? `${Math.round(ms / 86_400_000)}d` : `${h}h${m ? `${m}m` : ''}`;
}

function lastAtOrBefore(t: Float64Array, n: number, ts: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Operators whose result loses the metric name (Prometheus 3's shouldDropMetricName). */
function dropsName(op: BinaryOp): boolean {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '%' || op === '^' || op === 'atan2';
}

function isComparison(op: BinaryOp): boolean {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
}

/** [value, keep]: arithmetic gives its result; comparisons give the lhs and whether it holds. */
function scalarOp(op: BinaryOp, a: number, b: number): [number, boolean] {
  switch (op) {
    case '+': return [a + b, true];
    case '-': return [a - b, true];
    case '*': return [a * b, true];
    case '/': return [a / b, true];
    case '%': return [a % b, true];
    case '^': return [Math.pow(a, b), true];
    case 'atan2': return [Math.atan2(a, b), true];
    case '==': return [a, a === b];
    case '!=': return [a, a !== b];
    case '>': return [a, a > b];
    case '<': return [a, a < b];
    case '>=': return [a, a >= b];
    case '<=': return [a, a <= b];
    default: throw new QueryError(`operator ${op} not allowed between scalars`);
  }
}

function signature(ls: Labels, m: VectorMatching): string {
  const out: string[] = [];
  for (let i = 0; i < ls.length; i += 2) {
    const n = ls[i]!;
    const inList = m.labels.includes(n);
    if (m.on ? inList : !inList && n !== NAME) out.push(n, ls[i + 1]!);
  }
  return key(out);
}

function vectorOp(op: BinaryOp, lhs: Sample[], rhs: Sample[], m: VectorMatching, bool: boolean): Sample[] {
  if (op === 'and' || op === 'or' || op === 'unless') {
    const rs = new Set(rhs.map((s) => signature(s.labels, m)));
    if (op === 'and') return lhs.filter((s) => rs.has(signature(s.labels, m)));
    if (op === 'unless') return lhs.filter((s) => !rs.has(signature(s.labels, m)));
    const ls = new Set(lhs.map((s) => signature(s.labels, m)));
    return [...lhs, ...rhs.filter((s) => !ls.has(signature(s.labels, m)))];
  }
  const oneSide = m.card === 'one-to-many' ? lhs : rhs;
  const manySide = m.card === 'one-to-many' ? rhs : lhs;
  const bySig = new Map<string, Sample>();
  for (const s of oneSide) {
    const sig = signature(s.labels, m);
    if (bySig.has(sig)) {
      const side = m.card === 'one-to-many' ? 'left' : 'right';
      throw new QueryError(`found duplicate series for the match group ${sigString(s.labels, m)} on the ${side} hand-side of the operation: [${labelString(bySig.get(sig)!.labels)}, ${labelString(s.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`);
    }
    bySig.set(sig, s);
  }
  // One-to-one: a matching signature may be used once; otherwise each result label set once per signature.
  const matched = new Map<string, Set<string>>();
  const out: Sample[] = [];
  for (const s of manySide) {
    const sig = signature(s.labels, m);
    const other = bySig.get(sig);
    if (!other) continue;
    const [l, r] = m.card === 'one-to-many' ? [other, s] : [s, other];
    const [v, keep] = scalarOp(op, l.v, r.v);
    // One-to-one: a signature matches once, checked before a comparison filters (Prometheus 3).
    if (m.card === 'one-to-one') {
      if (matched.has(sig)) throw new QueryError(`multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)`);
      matched.set(sig, new Set());
    }
    if (isComparison(op) && !bool && !keep) continue;
    let labels: Labels;
    if (m.card === 'one-to-one') {
      labels = [];
      for (let i = 0; i < l.labels.length; i += 2) if (m.labels.includes(l.labels[i]!) === m.on) labels = [...labels, l.labels[i]!, l.labels[i + 1]!];
    } else {
      labels = s.labels;
      for (const inc of m.include) {
        const val = labelValue(other.labels, inc);
        labels = val === '' ? removeLabel(labels, inc) : setLabel(labels, inc, val);
      }
    }
    const drop = (isComparison(op) ? bool : dropsName(op)) || !!s.drop;
    if (m.card !== 'one-to-one') {
      let inserted = matched.get(sig);
      const rk = key(labels);
      if (!inserted) matched.set(sig, (inserted = new Set()));
      else if (inserted.has(rk)) throw new QueryError(`multiple matches for labels: grouping labels must ensure unique matches`);
      inserted.add(rk);
    }
    out.push({ labels, v: isComparison(op) ? (bool ? (keep ? 1 : 0) : m.card === 'one-to-many' ? r.v : l.v) : v, ...(drop ? { drop } : {}) });
  }
  return out;
}

/** Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}` (names as long as they run), `$$` for a dollar. */
function expandTemplate(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (all, braced: string | undefined, bare: string | undefined) => {
    if (all === '$$') return '$';
    const name = (braced ?? bare)!;
    if (/^[0-9]+$/.test(name)) return m[Number(name)] ?? '';
    return m.groups?.[name] ?? '';
  });
}

/** A function's result may not hold one label set twice (label_replace/label_join), as Prometheus checks. */
function uniqueLabelSets(samples: Sample[]): Value {
  const seen = new Set<string>();
  for (const s of samples) {
    const k = key(s.labels);
    if (seen.has(k)) throw new QueryError(`vector cannot contain metrics with the same labelset`);
    seen.add(k);
  }
  return { type: 'vector', samples };
}

/** Set (or, with an empty value, remove) a label, keeping names sorted. */
function setLabel(ls: Labels, name: string, value: string): Labels {
  const out: string[] = [];
  let done = false;
  for (let i = 0; i < ls.length; i += 2) {
    const n = ls[i]!;
    if (n === name) continue;
    if (!done && compareUtf8(name, n) < 0) {
      if (value !== '') out.push(name, value);
      done = true;
    }
    out.push(n, ls[i + 1]!);
  }
  if (!done && value !== '') out.push(name, value);
  return out;
}

function removeLabel(ls: Labels, name: string): Labels {
  return setLabel(ls, name, '');
}


function labelString(ls: Labels): string {
  const parts: string[] = [];
  for (let i = 0; i < ls.length; i += 2) parts.push(`${ls[i]}=${JSON.stringify(ls[i + 1])}`);
  return `{${parts.join(', ')}}`;
}

function sigString(ls: Labels, m: VectorMatching): string {
  const parts: string[] = [];
  for (let i = 0; i < ls.length; i += 2) {
    const inList = m.labels.includes(ls[i]!);
    if (m.on ? inList : !inList && ls[i] !== NAME) parts.push(`${ls[i]}=${JSON.stringify(ls[i + 1])}`);
  }
  return `{${parts.join(', ')}}`;
}

/** Absent's labels: the selector's equality matchers (not the name), where the label has no other matcher. */
function absentLabels(e: Expr): Labels {
  const inner = unwrapParens(e);
  const sel = inner.kind === 'matrix' ? inner.vector : inner.kind === 'vector' ? inner : undefined;
  if (!sel) return [];
  let ls: Labels = [];
  const seen = new Map<string, number>();
  for (const m of sel.matchers) if (m.name !== NAME) seen.set(m.name, (seen.get(m.name) ?? 0) + 1);
  for (const m of sel.matchers) if (m.type === '=' && m.name !== NAME && seen.get(m.name) === 1) ls = setLabel(ls, m.name, m.value);
  return ls;
}

/** A range function's argument, or `timestamp`'s, read through parentheses. */
function unwrapParens(e: Expr): Expr {
  return e.kind === 'paren' ? unwrapParens(e.expr) : e;
}

/** [name, value] pairs of a label set. */
function pairs(ls: Labels): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < ls.length; i += 2) out.push([ls[i]!, ls[i + 1]!]);
  return out;
}

/** A float as Go's %g writes it in Prometheus's messages (NaN, +Inf, 1.01, 1e+21). */
function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return String(v);
}

/** A float as OpenMetrics writes label values (`0.0`, `0.25`, `1.0`, `+Inf`): a decimal point always. */
function openMetricsFloat(v: number): string {
  const s = goFloat(v);
  return /^[-+]?[0-9]+$/.test(s) ? `${s}.0` : s;
}

/** Go's %q of a string (as Prometheus's annotations quote names and values). */
function goQuoteString(v: string): string {
  return JSON.stringify(v);
}

/** An `le` label's value as a bucket's upper bound; undefined when missing or not a number. */
function parseBucketBound(le: string): number | undefined {
  if (le === '') return undefined;
  const t = le.trim().toLowerCase();
  if (t === '+inf' || t === 'inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t === 'nan') return NaN;
  const v = Number(le);
  return le.trim() === '' || Number.isNaN(v) ? undefined : v;
}

/** The time (s) of a window's extreme value: `better(candidate, best)` picks it, the latest among ties. NaN only when all are. */
function tsOfExtreme(s: RangeSeries, better: (a: number, b: number) => boolean): number {
  let at = s.hi - 1;
  let best = s.v[at]!;
  for (let i = s.lo; i < s.hi; i++) {
    const v = s.v[i]!;
    if (Number.isNaN(v)) continue;
    if (Number.isNaN(best) || better(v, best)) {
      best = v;
      at = i;
    }
  }
  return s.t[at]! / 1000;
}

/**
 * sort_by_label's order: the named labels' values compared naturally (runs
 * of digits by value, so "2" before "10"), then the whole label sets.
 */
function compareByLabels(a: Labels, b: Labels, names: string[]): number {
  for (const n of names) {
    const c = naturalCompare(labelValue(a, n), labelValue(b, n));
    if (c !== 0) return c;
  }
  return compareLabelsUtf8(a, b);
}

function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i]!;
    const y = rb[i]!;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = x.replace(/^0+(?=\d)/, '');
      const ny = y.replace(/^0+(?=\d)/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return nx < ny ? -1 : 1;
      if (x.length !== y.length) return x.length - y.length;
    } else if (x !== y) return compareUtf8(x, y);
  }
  return ra.length - rb.length;
}

/** Sort helper: NaN last, smaller first. */
function cmpAsc(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a - b;
}

/** Sort helper: NaN last, larger first. */
function cmpDesc(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return b - a;
}

/** Prometheus's extrapolatedRate, for rate/increase/delta. */
function extrapolatedRate(s: RangeSeries, rangeStart: number, rangeEnd: number, isCounter: boolean, isRate: boolean): number | undefined {
  const { lo, hi } = s;
  const n = hi - lo;
  if (n < 2) return undefined;
  const first = s.v[lo]!;
  let result = s.v[hi - 1]! - first;
  if (isCounter) {
    let last = first;
    for (let i = lo + 1; i < hi; i++) {
      const v = s.v[i]!;
      if (v < last) result += last;
      last = v;
    }
  }
  let durationToStart = (s.t[lo]! - rangeStart) / 1000;
  let durationToEnd = (rangeEnd - s.t[hi - 1]!) / 1000;
  const sampled = (s.t[hi - 1]! - s.t[lo]!) / 1000;
  const avgBetween = sampled / (n - 1);
  // A series that stops short of a window boundary (by more than 10% over the
  // average spacing) is extrapolated half a spacing past its last sample only.
  const threshold = avgBetween * 1.1;
  if (durationToStart >= threshold) durationToStart = avgBetween / 2;
  if (durationToEnd >= threshold) durationToEnd = avgBetween / 2;
  // Then a counter is never extrapolated below zero: at most back to where its slope reaches 0.
  if (isCounter && result > 0 && first >= 0) {
    const toZero = sampled * (first / result);
    if (toZero < durationToStart) durationToStart = toZero;
  }
  let factor = (sampled + durationToStart + durationToEnd) / sampled;
  if (isRate) factor /= (rangeEnd - rangeStart) / 1000;
  return result * factor;
}

function instantValue(s: RangeSeries, isRate: boolean): number | undefined {
  const n = s.hi;
  if (s.hi - s.lo < 2) return undefined;
  const last = s.v[n - 1]!;
  const prev = s.v[n - 2]!;
  let result = isRate && last < prev ? last : last - prev;
  if (!isRate) return result;
  const dt = (s.t[n - 1]! - s.t[n - 2]!) / 1000;
  if (dt === 0) return undefined;
  return result / dt;
}

/** Least squares slope and intercept at `at` (ms), x in seconds relative to `at`. */
function linearRegression(s: RangeSeries, at: number): [number, number] {
  let n = 0, sumX = 0, sumY = 0, sumXY = 0, sumX2 = 0;
  let constY = true;
  const y0 = s.v[s.lo]!;
  for (let i = s.lo; i < s.hi; i++) {
    const x = (s.t[i]! - at) / 1000;
    const y = s.v[i]!;
    if (y !== y0) constY = false;
    n++;
    sumX += x;
    sumY += y;
    sumXY += x * y;
    sumX2 += x * x;
  }
  if (constY) return [0, y0];
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  return [slope, sumY / n - (slope * sumX) / n];
}

function holtWinters(v: Float64Array, sf: number, tf: number): number | undefined {
  if (v.length < 2) return undefined;
  let s0 = 0;
  let s1 = v[0]!;
  let b = v[1]! - v[0]!;
  for (let i = 1; i < v.length; i++) {
    const x = sf * v[i]!;
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
    s0 = s1;
    s1 = x + (1 - sf) * (s0 + b);
  }
  return s1;
}

/**
 * Classic buckets [(upper bound, cumulative count)] sorted by bound, with
 * buckets of the same bound (`le="1"` and `le="1.0"`) merged; then counts made
 * monotonic as Prometheus makes them: a difference within a relative 1e-12
 * is rounding and ignored, a real decrease is raised to the count before it
 * (`fixed`: the query's info annotation says so).
 */
function normalizeBuckets(buckets: Array<[number, number]>): { b: Array<[number, number]>; fixed: boolean } {
  const sorted = [...buckets].sort((x, y) => x[0] - y[0]);
  const b: Array<[number, number]> = [];
  for (const [ub, c] of sorted) {
    const last = b[b.length - 1];
    if (last && last[0] === ub) last[1] += c;
    else b.push([ub, c]);
  }
  let fixed = false;
  if (b.length === 0) return { b, fixed };
  let prev = b[0]![1];
  for (let i = 1; i < b.length; i++) {
    const cur = b[i]![1];
    if (cur === prev) continue;
    if (Math.abs(cur - prev) <= 1e-12 * Math.max(Math.abs(cur), Math.abs(prev))) {
      b[i]![1] = prev;
      continue;
    }
    if (cur < prev) {
      b[i]![1] = prev;
      fixed = true;
      continue;
    }
    prev = cur;
  }
  return { b, fixed };
}

/** histogram_quantile over classic buckets, as Prometheus computes it; `fixed`: the counts needed the monotonicity fix. */
function bucketQuantile(q: number, buckets: Array<[number, number]>): { value: number; fixed: boolean } {
  if (Number.isNaN(q)) return { value: NaN, fixed: false };
  if (q < 0) return { value: -Infinity, fixed: false };
  if (q > 1) return { value: Infinity, fixed: false };
  const { b, fixed } = normalizeBuckets(buckets);
  if (b.length < 2 || b[b.length - 1]![0] !== Infinity) return { value: NaN, fixed: false };
  const total = b[b.length - 1]![1];
  if (total === 0 || Number.isNaN(total)) return { value: NaN, fixed };
  let rank = q * total;
  let i = 0;
  while (i < b.length - 1 && !(b[i]![1] >= rank)) i++;
  if (i === b.length - 1) return { value: b[b.length - 2]![0], fixed };
  if (i === 0 && b[0]![0] <= 0) return { value: b[0]![0], fixed };
  let start = 0;
  let count = b[i]![1];
  if (i > 0) {
    start = b[i - 1]![0];
    count -= b[i - 1]![1];
    rank -= b[i - 1]![1];
  }
  return { value: start + (b[i]![0] - start) * (rank / count), fixed };
}

/**
 * histogram_fraction over classic buckets: the share of observations in
 * [lower, upper]. A bucket wholly inside counts whole; one cut by a bound
 * counts by linear interpolation, except a bucket of infinite width, which
 * counts nothing. The lowest bucket starts at 0 when its bound is positive,
 * at -Inf otherwise.
 */
function bucketFraction(lower: number, upper: number, buckets: Array<[number, number]>): number {
  const { b } = normalizeBuckets(buckets);
  if (b.length === 0 || b[b.length - 1]![0] !== Infinity) return NaN;
  const total = b[b.length - 1]![1];
  if (total === 0 || Number.isNaN(total) || Number.isNaN(lower) || Number.isNaN(upper)) return NaN;
  if (lower >= upper) return 0;
  let inside = 0;
  for (let i = 0; i < b.length; i++) {
    const ub = b[i]![0];
    const lb = i > 0 ? b[i - 1]![0] : ub > 0 ? 0 : -Infinity;
    const count = b[i]![1] - (i > 0 ? b[i - 1]![1] : 0);
    // An infinite bucket counts whole where the bound on its infinite side is infinite too ((400, +Inf] takes all of (3, +Inf]).
    const wholeInfinite = (ub === Infinity && upper === Infinity && lower < Infinity) || (lb === -Infinity && lower === -Infinity && upper > -Infinity);
    if (wholeInfinite || (lb >= lower && ub <= upper)) inside += count;
    else if (ub > lower && lb < upper && Number.isFinite(lb) && Number.isFinite(ub)) inside += (count * (Math.min(ub, upper) - Math.max(lb, lower))) / (ub - lb);
  }
  return inside / total;
}

function dateParts(fn: string, sec: number): number {
  const d = new Date(sec * 1000);
  switch (fn) {
    case 'minute': return d.getUTCMinutes();
    case 'hour': return d.getUTCHours();
    case 'day_of_week': return d.getUTCDay();
    case 'day_of_month': return d.getUTCDate();
    case 'day_of_year': return Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
    case 'days_in_month': return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
    case 'month': return d.getUTCMonth() + 1;
    case 'year': return d.getUTCFullYear();
    default: return NaN;
  }
}

