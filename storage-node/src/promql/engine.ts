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
 *
 * The parts: loading, selection and the tree's walk here; functions in
 * functions.ts (one table), aggregations in aggregate.ts, binary operators and
 * vector matching in binary-ops.ts, label-set work in label-sets.ts, the float
 * numerics in float-stats.ts, classic histograms in classic-histograms.ts.
 */
import { compareLabelsUtf8 } from '../block/utf8-order.js';
import { ColumnsBuffer, columnsSize, isStale, mergeChunks, mergeMany, type SampleColumns } from '../chunkenc/merge.js';
import type { TenantDB } from '../db/tenant-db.js';
import type { Labels } from '../model/labels.js';
import { typeOf, type At, type Expr, type MatrixSelector, type Subquery, type VectorSelector } from './ast.js';
import { positionOf } from './parse.js';
import { packSeries, unpackLazily, unpackSeries, type ChunkSeries, type Gathered, type LocalRead, type PackedSeries } from './packed.js';
import { borrowedReader, type BlockReader } from '../block/reader.js';
import { asAfter, selectChunksFrom, sortedByLabels } from '../db/select.js';
import { deletionRanges, deletionSpecs } from '../model/deletions.js';
import { ErrorIds } from '../../../wire/errors.js';
import { QUERY_LIMIT_DEFAULTS } from '../../../wire/query-limits.js';
import { RES_RAW } from '../block/meta.js';
import { fittingResolution, planTiers, RAW_PLAN, rangeView, readHistograms, readTierChunks, selectTiered, tierInfo, tierServesHistograms, type TieredChunks, type View } from './tiers.js';
import { aggregate, IGNORES_HISTOGRAMS, type GroupCache } from './aggregate.js';
import { dropsName, incompatible, isComparison, scalarOp, vectorOp } from './binary-ops.js';
import { callFunction, FLOAT_RANGE_FUNCTIONS, RANGE_READS_HISTOGRAMS } from './functions.js';
import { fuseAggregations, fusedSelectors, fuseRows, MAX_ROW_CELLS, MIN_SPLIT_SERIES, SplitDeclined, type FusedAggregate, type FuseHost, type FuseSplit, type SeriesSource } from './fused.js';
import { atOrBefore, hasStale, loadedSeries, windowOf, type LoadedSeries } from './windows.js';
import { nextTurn } from './turns.js';
import { dropName, finishVector, key, uniqueLabelSets } from './label-sets.js';
import { QueryError, queryCanceled, queryTimedOut, type EvalContext, type HistogramSeries, type RangeSeries, type Sample, type Value } from './values.js';
import type { NativeHistogram } from '../../../wire/histogram.js';
import { detectReset, isStaleHistogram, scaleHistogram, trimHistogram } from './histograms.js';
import { exprString } from './printer.js';

export { QueryError, queryCanceled, queryTimedOut, type QueryErrorId, type RangeSeries, type Sample, type Value } from './values.js';

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
  /** Range queries compute aggregations of range functions series by series (fused.ts); false: step by step (tests compare). */
  fuse?: boolean;
  /** The query's deadline (ms since the epoch), when the thread that started it set one; else now + timeoutMs. */
  deadline?: number;
  /** The query's series, gathered by another thread's Engine (gatherFor): nothing is read here. */
  gathered?: Gathered[];
  /**
   * A range query's fused pass split over threads (fused.ts FuseSplit): part
   * 0 answers the query; a part above 0 only computes its rows of the fused
   * aggregations (rangeAsync then answers nothing).
   */
  split?: FuseSplit;
}

export type { ChunkSeries, Gathered } from './packed.js';

/** Series other nodes hold, as compressed chunks. */
export interface PeerSeries {
  /**
   * Each peer's part of the selector over [mint, maxt]. With `res` > 0, read
   * through that peer's own tiers up to that resolution (aggregate chunks for
   * the time its tiers serve, raw chunks after); with 0, raw chunks only.
   */
  fetch(sel: VectorSelector, mint: number, maxt: number, res: number): Promise<TieredChunks[]>;
  /** Each peer's native histograms of the selector over [mint, maxt]; `res` > 0: through its tiers up to that resolution. */
  histograms(sel: VectorSelector, mint: number, maxt: number, res: number): Promise<HistogramSeries[]>;
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

/** How long the async evaluation works before giving the event loop back. */
const YIELD_MS = 10;
const EMPTY = new Float64Array(0);
type RangeAcc = Map<string, { labels: Labels; t: number[]; v: number[]; hs?: NativeHistogram[] }>;

function finishRange(acc: RangeAcc): RangeSeries[] {
  return [...acc.values()]
    .map((e) => ({ labels: e.labels, t: Float64Array.from(e.t), v: Float64Array.from(e.v), lo: 0, hi: e.t.length, ...(e.hs ? { hs: e.hs } : {}) }))
    .sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
}

/**
 * Functions of a sample's float value that leave native histograms out, as
 * Prometheus's do (`simpleFloatFunc`, clamp, the date functions): a selector
 * of histograms may be their argument.
 */
export const IGNORE_HISTOGRAMS = new Set([
  'abs', 'ceil', 'floor', 'exp', 'ln', 'log2', 'log10', 'sqrt', 'sgn', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'asinh', 'acosh', 'atanh',
  'deg', 'rad', 'round', 'clamp', 'clamp_min', 'clamp_max', 'minute', 'hour', 'day_of_week', 'day_of_month', 'day_of_year', 'days_in_month', 'month', 'year',
]);

/** The histogram functions that read native histograms, and the position of their vector argument. */
const READS_HISTOGRAMS: Record<string, number> = {
  histogram_count: 0,
  histogram_sum: 0,
  histogram_avg: 0,
  histogram_stddev: 0,
  histogram_stdvar: 0,
  histogram_quantile: 1,
  histogram_quantiles: 0,
  histogram_fraction: 2,
};

const inner = (e: Expr): Expr => (e.kind === 'paren' || e.kind === 'stepInvariant' ? inner(e.expr) : e);

/**
 * The selectors of a histogram-valued expression this engine evaluates: a
 * vector selector; rate, increase or delta of a range selector; sum or avg of
 * one of these. Undefined for any other expression.
 */
function histogramValued(expr: Expr, has: (s: VectorSelector) => boolean): VectorSelector[] | undefined {
  const e = inner(expr);
  if (e.kind === 'vector') return [e];
  if (e.kind === 'call' && ['rate', 'increase', 'delta', 'irate', 'idelta', 'last_over_time', 'first_over_time', 'sum_over_time', 'avg_over_time'].includes(e.fn)) {
    const m = inner(e.args[0]!);
    if (m.kind === 'matrix') return [m.vector];
    // The same over a subquery of histograms.
    if (m.kind === 'subquery') return histogramValued(m.expr, has);
    return undefined;
  }
  // Functions that pass samples through with other labels, or in another order.
  if (e.kind === 'call' && ['label_replace', 'label_join', 'sort_by_label', 'sort_by_label_desc'].includes(e.fn)) return histogramValued(e.args[0]!, has);
  if (e.kind === 'aggregate' && (e.op === 'sum' || e.op === 'avg' || e.op === 'limitk' || e.op === 'limit_ratio')) return histogramValued(e.expr, has);
  // Set operators pass samples through: `and`/`unless` the left side's, `or` both sides'.
  if (e.kind === 'binary' && (e.op === 'and' || e.op === 'unless')) return histogramValued(e.lhs, has);
  if (e.kind === 'binary' && e.op === 'or') {
    const [l, r] = [histogramValued(e.lhs, has), histogramValued(e.rhs, has)];
    return l && r ? [...l, ...r] : undefined;
  }
  // Histograms added to or taken from each other.
  if (e.kind === 'binary' && (e.op === '+' || e.op === '-') && !e.bool) {
    const [l, r] = [histogramValued(e.lhs, has), histogramValued(e.rhs, has)];
    if (l && r) return [...l, ...r];
  }
  // A histogram trimmed at a float (scalar or vector).
  if (e.kind === 'binary' && (e.op === '</' || e.op === '>/')) return histogramValued(e.lhs, has);
  // A histogram times a float (scalar or vector), or divided by one; negated.
  if (e.kind === 'binary' && (e.op === '*' || e.op === '/')) {
    // The float side: not histogram-valued, or selecting no histograms.
    const floats = (x: Expr) => (histogramValued(x, has) ?? []).every((s) => !has(s));
    if (!floats(e.lhs) && floats(e.rhs)) return histogramValued(e.lhs, has);
    if (e.op === '*' && floats(e.lhs) && !floats(e.rhs)) return histogramValued(e.rhs, has);
  }
  if (e.kind === 'unary') return histogramValued(e.expr, has);
  return undefined;
}

/**
 * The selectors of `expr` whose native histograms this engine can evaluate:
 * those of the query itself when it is histogram-valued (or a range selector
 * of an instant query), and those of a histogram_* function's argument.
 */
function histogramReaders(expr: Expr, has: (s: VectorSelector) => boolean, out = new Set<VectorSelector>(), root = true): Set<VectorSelector> {
  const e = inner(expr);
  if (root) for (const s of histogramValued(e, has) ?? []) out.add(s);
  if (root && e.kind === 'matrix') out.add(e.vector);
  if (e.kind === 'call' && READS_HISTOGRAMS[e.fn] !== undefined) for (const s of histogramValued(e.args[READS_HISTOGRAMS[e.fn]!]!, has) ?? []) out.add(s);
  if (e.kind === 'call' && IGNORE_HISTOGRAMS.has(e.fn) && e.args[0]) for (const s of histogramValued(e.args[0], has) ?? []) out.add(s);
  // Range functions that read histograms beside floats, or leave them out (functions.ts).
  if (e.kind === 'call' && (RANGE_READS_HISTOGRAMS.has(e.fn) || FLOAT_RANGE_FUNCTIONS.has(e.fn) || e.fn === 'absent_over_time')) {
    const m = e.args.map(inner).find((a) => a.kind === 'matrix' || a.kind === 'subquery');
    if (m?.kind === 'matrix') out.add(m.vector);
    if (m?.kind === 'subquery') for (const s of histogramValued(m.expr, has) ?? []) out.add(s);
  }
  // Functions of a vector that take histograms as samples (timestamp, presence) or leave them out (sort, scalar).
  if (e.kind === 'call' && ['timestamp', 'sort', 'sort_desc', 'scalar', 'absent'].includes(e.fn)) for (const s of histogramValued(e.args[0]!, has) ?? []) out.add(s);
  // Every operator reads histograms: it computes with them (+, -, *, /, trims, == and !=) or leaves them out with Prometheus's info.
  if (e.kind === 'binary' && !['and', 'or', 'unless'].includes(e.op)) for (const side of [e.lhs, e.rhs]) for (const s of histogramValued(side, has) ?? []) out.add(s);
  // The right side of `and`/`unless` is only matched by labels.
  if (e.kind === 'binary' && (e.op === 'and' || e.op === 'unless')) for (const s of histogramValued(e.rhs, has) ?? []) out.add(s);
  // count and group count histograms as they count floats; min, max, stddev, stdvar and quantile leave them out.
  if (e.kind === 'aggregate' && (e.op === 'count' || e.op === 'group' || e.op === 'count_values' || IGNORES_HISTOGRAMS.has(e.op))) for (const s of histogramValued(e.expr, has) ?? []) out.add(s);
  for (const child of childrenOf(e)) histogramReaders(child, has, out, false);
  return out;
}

/**
 * The selectors Prometheus reads through its HistogramStatsIterator: under
 * histogram_count, histogram_sum or histogram_avg, with no subquery, trim or
 * bucket-reading histogram function between (Prometheus's
 * detectHistogramStatsDecoding). That iterator tells counter resets on the
 * fly, so its histograms say "reset" or "no reset" where stored ones say
 * "unknown", and aggregations over them can warn of conflicting resets.
 */
function statsDecoded(expr: Expr, path: Expr[] = [], out = new Set<VectorSelector>()): Set<VectorSelector> {
  if (expr.kind === 'vector') {
    let skip = false;
    for (let i = path.length - 1; i >= 0; i--) {
      const p = path[i]!;
      if (p.kind === 'subquery') return out;
      if (p.kind === 'binary' && (p.op === '</' || p.op === '>/')) return out;
      if (p.kind === 'call' && ['histogram_quantile', 'histogram_quantiles', 'histogram_fraction', 'histogram_stddev', 'histogram_stdvar'].includes(p.fn)) return out;
      if (p.kind === 'call' && ['histogram_count', 'histogram_sum', 'histogram_avg'].includes(p.fn)) skip = true;
    }
    if (skip) out.add(expr);
    return out;
  }
  for (const child of childrenOf(expr)) statsDecoded(child, [...path, expr], out);
  return out;
}

/** A series' histograms as Prometheus's HistogramStatsIterator hands them on: each "unknown" after the first told "reset" or "no reset". */
function detectedHints(hs: readonly NativeHistogram[]): NativeHistogram[] {
  return hs.map((h, i) => (i === 0 || h.resetHint !== 0 ? h : { ...h, resetHint: detectReset(h, hs[i - 1]!) ? 1 : 2 }));
}

function childrenOf(e: Expr): Expr[] {
  switch (e.kind) {
    case 'matrix': return [e.vector];
    case 'subquery': case 'paren': case 'unary': case 'stepInvariant': return [e.expr];
    case 'call': return e.args;
    case 'aggregate': return e.param ? [e.param, e.expr] : [e.expr];
    case 'binary': return [e.lhs, e.rhs];
    default: return [];
  }
}

/** The newest histogram at or before `ts` and after `ts - lookback`, by binary search. */
function histogramAt(hs: readonly NativeHistogram[], ts: number, lookback: number): NativeHistogram | undefined {
  let lo = 0;
  let hi = hs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hs[mid]!.t <= ts) lo = mid + 1;
    else hi = mid;
  }
  const h = hs[lo - 1];
  return h && h.t > ts - lookback ? h : undefined;
}

type Ctx = EvalContext;

/** The evaluator: loads each selector's series once, then evaluates the tree step by step. */
export class Engine implements FuseHost {
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
  private loaded = new Map<VectorSelector, LoadedSeries[]>();
  /** Each selector's native histograms (only selectors that have some). */
  private readonly nativeHistograms = new Map<VectorSelector, HistogramSeries[]>();
  /** Selectors only fused aggregations read, left compressed: decoded one series at a time by the fused pass (seriesOf), or all at once where the step evaluation needs them after all (loadedOf). */
  private readonly deferred = new Map<VectorSelector, { f: Fetch; parts: readonly ChunkSeries[] }>();
  /** Selectors read through downsampled tiers, with the lookback their points need. */
  private readonly tiered = new Map<VectorSelector, { lookback: number }>();
  /** PromQL warnings for the response's `warnings` (Prometheus's annotations). */
  readonly warnings: string[] = [];
  /** Notes for the response's `infos`: PromQL infos, and which tiers the query read. */
  readonly infos: string[] = [];
  /** A range query (sort is ineffective there). */
  rangeQuery = false;
  /** Range queries: aggregations computed series by series before the steps (fused.ts). */
  private readonly fuse: boolean;
  private readonly deadlineAt: number | undefined;
  private readonly gatheredIn: Gathered[] | undefined;
  private readonly split: FuseSplit | undefined;
  private fused = new Map<Expr, FusedAggregate>();

  /** Add a PromQL warning about `node` once (steps repeat them). */
  warn(text: string, node: object): void {
    const msg = `PromQL warning: ${text} (${positionOf(node)})`;
    if (!this.warnings.includes(msg)) this.warnings.push(msg);
  }

  /** A warning or an info about `node`, by level. */
  annotate(level: 'warn' | 'info', text: string, node: object): void {
    if (level === 'warn') this.warn(text, node);
    else this.info(text, node);
  }

  /** Add a PromQL info about `node` once. */
  info(text: string, node: object): void {
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
    this.fuse = opts.fuse ?? true;
    this.deadlineAt = opts.deadline;
    this.gatheredIn = opts.gathered;
    this.split = opts.split;
  }

  private deadline(): number {
    return this.deadlineAt ?? Date.now() + this.timeoutMs;
  }

  /**
   * Evaluate at one time. Evaluation gives the event loop back between pieces
   * of work (about every YIELD_MS), so writes and other tenants' requests on
   * this node go on while a heavy query runs. The query works on data it
   * copied while loading, so nothing it reads changes under it.
   */
  async instantAsync(expr: Expr, t: number): Promise<Value> {
    const ctx: Ctx = { start: t, end: t, step: 0, deadline: this.deadline() };
    await this.loadAsync(expr, t, t, ctx);
    this.checkHistogramReaders(expr);
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
    const ctx: Ctx = { start, end, step, deadline: this.deadline() };
    this.rangeQuery = true;
    const lazy = this.fuse ? await fusedSelectors(expr) : undefined;
    const split = this.fuse ? this.split : undefined;
    await this.loadAsync(expr, start, end, ctx, lazy, split);
    this.checkHistogramReaders(expr);
    if (split && split.part > 0) {
      // A helper of a split pass: its part of every fused aggregation's series, as rows for part 0.
      await fuseRows(this, expr, start, end, step, ctx, split);
      return [];
    }
    // The fused pass computes floats only: with native histograms, every step is evaluated.
    if (this.fuse && this.nativeHistograms.size === 0) this.fused = await fuseAggregations(this, expr, start, end, step, ctx, split);
    const acc: RangeAcc = new Map();
    for (let t = start; t <= end; t += step) {
      await this.yieldIfDue(ctx);
      this.step(expr, t, ctx, acc);
    }
    return finishRange(acc);
  }

  /**
   * Every operation Prometheus 3 applies to native histograms evaluates them
   * here (histogramReaders lists where they may go). A query that would hand
   * them to anything else is refused, rather than answered as if the
   * histograms were not there. Selectors read as Prometheus's
   * HistogramStatsIterator reads them get its counter-reset hints.
   */
  private checkHistogramReaders(expr: Expr): void {
    if (this.nativeHistograms.size === 0) return;
    for (const sel of statsDecoded(expr)) {
      const series = this.nativeHistograms.get(sel);
      if (series) this.nativeHistograms.set(sel, series.map((s) => ({ ...s, histograms: detectedHints(s.histograms) })));
    }
    const readers = histogramReaders(expr, (sel) => this.nativeHistograms.has(sel));
    for (const sel of this.nativeHistograms.keys()) {
      if (readers.has(sel)) continue;
      throw new QueryError(`${exprString(sel)} selects native histograms, which this query would pass to an operation that does not evaluate them yet`);
    }
  }

  private lastYield = performance.now();
  async yieldIfDue(ctx: Ctx): Promise<void> {
    if (performance.now() - this.lastYield < YIELD_MS) return;
    await this.turn(ctx);
  }

  /** Wait for this query's next turn of the loop (turns.ts), then check that it should go on. */
  private async turn(ctx: Ctx): Promise<void> {
    await nextTurn(this);
    this.lastYield = performance.now();
    if (this.signal?.aborted) throw queryCanceled();
    this.checkDeadline(ctx);
  }

  private checkDeadline(ctx: Ctx): void {
    if (Date.now() > ctx.deadline) throw queryTimedOut(this.timeoutMs);
  }

  private countPoints(n: number): void {
    this.points += n;
    if (this.points > this.maxPoints) {
      throw new QueryError(`query result would hold more than ${this.maxPoints} points (limit query_max_points / ISOBAR_QUERY_MAX_POINTS); use a longer step, a shorter range or fewer series`, ErrorIds.queryMaxPoints);
    }
  }

  /**
   * Read what the query needs, decode it and count it against the limits:
   * gather (on the thread holding the data) unless the series came gathered
   * (EngineOptions.gathered), then decode selector by selector, yielding
   * between them. A part of a split query reads its part of each selector's
   * series (select.ts partRange); it is split only where every selector is
   * fused (splittable).
   */
  private async loadAsync(expr: Expr, lo: number, hi: number, ctx: Ctx, lazy?: ReadonlySet<VectorSelector>, split?: FuseSplit): Promise<void> {
    const pending = this.planned(expr, lo, hi, ctx);
    const gathered = this.gatheredIn ?? (await this.gather(pending, ctx));
    if (gathered.length !== pending.length) throw new Error(`gathered ${gathered.length} selectors for a query of ${pending.length}`);
    const own = new Map<readonly PackedSeries[], ChunkSeries[]>(); // a selector used twice shares its read
    for (let i = 0; i < pending.length; i++) {
      const f = pending[i]!;
      const g = gathered[i]!;
      if (g.histograms?.length) this.loadHistograms(f, g.histograms);
      if (split && (g.kind !== 'raw' || g.peers || !lazy?.has(f.sel))) throw new SplitDeclined('a selector is not fused, or not read from local raw series'); // as splittable() rules out
      if (g.kind === 'tiered') {
        this.fetchTiered(f, g.sources.map((s) => ({ plan: s.plan, series: unpackSeries(s.series) })), g.mint);
        continue;
      }
      let mine = own.get(g.series);
      if (!mine) {
        const local = g.local;
        if (split) {
          // Only this part's series of the head are unpacked.
          const part = { part: split.part, parts: split.parts };
          mine = selectChunksFrom(local ? local.blocks.map(borrowedReader) : [], unpackLazily(g.series), f.sel.matchers, local?.mint ?? -Infinity, local?.maxt ?? Infinity, { deletions: deletionRanges(local?.deletions ?? []), lazy: true, part });
        } else {
          const copied = unpackSeries(g.series);
          mine = local ? selectChunksFrom(local.blocks.map(borrowedReader), asAfter(copied), f.sel.matchers, local.mint, local.maxt, { deletions: deletionRanges(local.deletions), lazy: true }) : sortedByLabels(copied);
        }
        own.set(g.series, mine);
      }
      const series = g.peers ? withPeerSeries(mine, unpackSeries(g.peers)) : mine;
      if (lazy?.has(f.sel)) this.deferred.set(f.sel, { f, parts: series });
      else this.decode(f, series);
      await this.yieldIfDue(ctx);
    }
  }

  /**
   * The first half of a query, for the thread that holds the data: each
   * selector's series and their chunks, still compressed, from this node and
   * its peers (plan order). Another thread's Engine, given them as
   * `gathered`, answers the query. Local blocks are not read here but lent
   * (LocalRead): the blocks stay open and in place until `release`.
   */
  async gatherFor(expr: Expr, start: number, end: number, step: number, range = false): Promise<{ gathered: Gathered[]; release: () => void; splittable: boolean }> {
    const ctx: Ctx = { start, end, step, deadline: this.deadline() };
    const leases: Array<() => void> = [];
    const release = () => {
      for (const r of leases.splice(0)) r();
    };
    try {
      const pending = this.planned(expr, start, end, ctx);
      const gathered = await this.gather(pending, ctx, leases);
      return { gathered, release, splittable: range && this.fuse && (await this.splittable(expr, pending, gathered, Math.floor((end - start) / step) + 1)) };
    } catch (e) {
      release();
      throw e;
    }
  }

  /**
   * Whether a range query's threads may split it (fused.ts FuseSplit): every
   * selector is read by fused aggregations alone, from this node's raw
   * series; one of them has MIN_SPLIT_SERIES series or more (counted in the
   * head, or else in the first local block), and half of none would make
   * rows over MAX_ROW_CELLS values.
   */
  private async splittable(expr: Expr, pending: readonly Fetch[], gathered: readonly Gathered[], steps: number): Promise<boolean> {
    const fusedSels = await fusedSelectors(expr);
    const local = (g: Gathered) => g.kind === 'raw' && !g.peers && !g.histograms; // histograms: refused by the fused pass anyway
    if (pending.length === 0 || !pending.every((f, i) => fusedSels.has(f.sel) && local(gathered[i]!))) return false;
    const sizes = gathered.map((g) => this.gatheredSeries.get(g)?.() ?? 0);
    return sizes.some((n) => n >= MIN_SPLIT_SERIES) && sizes.every((n) => (n / 2) * steps <= MAX_ROW_CELLS);
  }

  /** A raw selector's series as gathered: the head's, or the first local block's if more (read only when asked for). */
  private readonly gatheredSeries = new WeakMap<Gathered, () => number>();

  private planned(expr: Expr, lo: number, hi: number, ctx: Ctx): Fetch[] {
    const pending: Fetch[] = [];
    this.plan(expr, lo, hi, ctx, pending);
    this.checkRanges(pending);
    return pending;
  }

  /**
   * Each selector's chunks, peers' fetched for all selectors at once. Selectors
   * a downsampled tier can serve (tiers.ts) are read through each node's own
   * tiers: the coarsest resolution the query's step and ranges allow, where a
   * node holds it; raw samples otherwise.
   */
  private async gather(pending: Fetch[], ctx: Ctx, leases?: Array<() => void>): Promise<Gathered[]> {
    const res = this.tierResolution(pending, ctx);
    const tiered = (f: Fetch) => res > 0 && f.view !== 'raw';
    // Plain selectors look back at least one window through tiers (a window's point is its last sample's time).
    const mintOf = (f: Fetch) => (tiered(f) && f.range === undefined ? f.mint - Math.max(0, res - this.lookback) : f.mint);
    const remote = this.peers ? await Promise.all(pending.map((f) => this.peers!.fetch(f.sel, mintOf(f), f.maxt, tiered(f) ? res : 0))) : [];
    // Native histograms through tiers where the view lets a window's last histogram stand for it (tierServesHistograms).
    const histogramRes = (f: Fetch) => (tiered(f) && tierServesHistograms(f.view) ? res : 0);
    const remoteHistograms = this.peers ? await Promise.all(pending.map((f) => this.peers!.histograms(f.sel, mintOf(f), f.maxt, histogramRes(f)))) : [];
    // A selector that appears more than once (`x - x offset 1d`) is read once, over all the time its uses need.
    const spans = new Map<string, { mint: number; maxt: number; series?: PackedSeries[]; local?: LocalRead; firstBlock?: BlockReader; histograms?: HistogramSeries[] }>();
    const keys = pending.map((f) => JSON.stringify(f.sel.matchers));
    pending.forEach((f, i) => {
      const k = keys[i]!;
      const span = spans.get(k);
      if (span) spans.set(k, { mint: Math.min(span.mint, f.mint), maxt: Math.max(span.maxt, f.maxt) });
      else spans.set(k, { mint: f.mint, maxt: f.maxt });
    });
    const out: Gathered[] = [];
    for (let i = 0; i < pending.length; i++) {
      // Each selector's read waits for a turn of the loop: a storm of queries reads one selector
      // per turn, and the writes that arrived meanwhile are served between any two reads.
      await this.turn(ctx);
      const f = pending[i]!;
      const peers = remote[i] ?? [];
      // Bucket blocks: indexes and chunks fetched (through tiers: only the blocks read), then read at once.
      const plan = tiered(f) && this.db ? planTiers(this.db, res, mintOf(f)) : undefined;
      if (plan || peers.some((p) => p.plan.segments.length > 0)) {
        const mint = mintOf(f);
        const own = this.db ? [await readTierChunks(this.db, f.sel.matchers, mint, f.maxt, plan ?? RAW_PLAN)] : [];
        const ownPlan = this.db && histogramRes(f) > 0 ? planTiers(this.db, histogramRes(f), mint) : undefined;
        const histograms = [...(this.db ? await readHistograms(this.db, f.sel.matchers, mint, f.maxt, ownPlan) : []), ...(remoteHistograms[i] ?? [])];
        // Packed at once: what was read from the bucket's caches is copied before anything evicts it.
        out.push({ kind: 'tiered', mint, sources: [...own, ...peers].map((t) => ({ plan: t.plan, series: packSeries(t.series) })), ...(histograms.length ? { histograms } : {}) });
      } else {
        const db = this.db;
        const span = spans.get(keys[i]!)!;
        if (!span.series && db) {
          // Packed in the same turn as read: the head's open chunks are written on by appends.
          // With `leases`, local blocks are lent, leased in that turn too, before compaction can delete them;
          // the rest is read a slice of series per turn, so appends wait for one slice at most.
          const parts: PackedSeries[] = [];
          const rest = await db.read(span.mint, span.maxt, () => {
            span.histograms = db.selectHistograms(f.sel.matchers, span.mint, span.maxt);
            if (!leases) return void parts.push(packSeries(db.selectChunks(f.sel.matchers, span.mint, span.maxt)));
            const lent = db.selectChunksLater(f.sel.matchers, span.mint, span.maxt);
            for (const b of lent.local) leases.push(b.lease());
            if (lent.local.length) {
              span.local = { blocks: lent.local.map((b) => b.handles()), mint: span.mint, maxt: span.maxt, deletions: deletionSpecs(db.deletions) };
              span.firstBlock = lent.local[0]; // leased: its series are counted only if splittable asks
            }
            const first = lent.slices.next();
            if (!first.done) parts.push(packSeries(first.value));
            return lent.slices;
          }, [f.sel.matchers], [{ res: RES_RAW, mint: span.mint, maxt: span.maxt }]);
          while (rest) {
            await this.turn(ctx);
            const next = rest.next();
            if (next.done) break;
            parts.push(packSeries(next.value));
          }
          span.series = parts; // moved as they are: one copy into a single buffer here held appends up to 50 ms at 200k series
        }
        span.series ??= [];
        const theirs = peers.flatMap((p) => p.series);
        const histograms = [...(span.histograms ?? []), ...(remoteHistograms[i] ?? [])];
        const g: Gathered = { kind: 'raw', series: span.series, ...(theirs.length ? { peers: packSeries(theirs) } : {}), ...(span.local ? { local: span.local } : {}), ...(histograms.length ? { histograms } : {}) };
        const head = span.series.reduce((n, p) => n + p.firstChunk.length - 1, 0);
        const first = span.firstBlock;
        this.gatheredSeries.set(g, () => Math.max(head, first ? first.postingsFor(f.sel.matchers).length : 0));
        out.push(g);
      }
    }
    return out;
  }


  /** The coarsest downsampled resolution this query's step and ranges allow (0: raw samples only). */
  private tierResolution(pending: Fetch[], ctx: Ctx): number {
    const tiered = pending.filter((f) => f.view !== 'raw');
    if ((!this.db && !this.peers) || tiered.length === 0) return 0;
    return fittingResolution({ step: ctx.step, ranges: tiered.flatMap((f) => (f.range !== undefined ? [f.range] : [])), subquerySteps: this.subquerySteps }, this.maxResolutionMs);
  }

  /** A selector's series through the tiers each node's plan names, in the selector's view, counted and kept. */
  private fetchTiered(f: Fetch, sources: TieredChunks[], mint: number): void {
    if (this.loaded.has(f.sel)) return;
    const plans = sources.map((s) => s.plan);
    const coarsest = Math.max(0, ...plans.map((p) => p.segments[0]?.res ?? 0));
    this.tiered.set(f.sel, { lookback: f.range === undefined ? Math.max(this.lookback, coarsest) : this.lookback });
    const info = tierInfo(plans);
    if (!this.infos.includes(info)) this.infos.push(info);
    const series = selectTiered(sources, mint, f.maxt, f.view).map((s) => ({ ...s, hasStale: f.view === 'avg' && hasStale(s) }));
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
      if (s.h) (e.hs ??= []).push({ ...s.h, t });
      else {
        e.t.push(t);
        e.v.push(s.v);
      }
    }
  }

  // ---- loading -------------------------------------------------------------

  atTime(at: At | undefined, t: number, ctx: Ctx): number {
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

  /** A selector's raw chunks decoded within its range (one pair of columns for all its series), counted and kept. */
  private decode(f: Fetch, parts: readonly ChunkSeries[]): void {
    const sizes = parts.map((p) => columnsSize(p.chunks, f.mint, f.maxt));
    const bound = sizes.reduce((a, b) => a + b, 0);
    if (bound > this.maxSamples - this.samplesLoaded || parts.length > this.maxSeries - this.seriesLoaded) {
      // The chunks' headers say a limit may be passed: decode series by series,
      // counting exactly, so the query stops at the limit, not after decoding all.
      const series: LoadedSeries[] = [];
      for (const p of parts) {
        const c = mergeChunks(p.chunks, f.mint, f.maxt);
        if (c.n === 0) continue;
        this.count(1, c.n);
        series.push(loadedSeries(p.labels, c));
      }
      this.loaded.set(f.sel, series);
      return;
    }
    const cols = mergeMany(
      parts.map((p) => p.chunks),
      f.mint,
      f.maxt,
      sizes,
    );
    const series: LoadedSeries[] = [];
    for (let k = 0; k < parts.length; k++) {
      const c = cols[k]!;
      if (c.n > 0) series.push(loadedSeries(parts[k]!.labels, c));
    }
    this.account(f.sel, series);
  }

  /** Count a selector's loaded series and samples against the limits, and keep them. */
  private account(sel: VectorSelector, series: LoadedSeries[]): void {
    let samples = 0;
    for (const s of series) samples += s.n;
    this.count(series.length, samples);
    this.loaded.set(sel, series);
  }

  countSeries(series: number, samples: number): void {
    this.count(series, samples);
  }

  /** Count loaded series and samples against the limits. */
  private count(series: number, samples: number): void {
    this.samplesLoaded += samples;
    this.seriesLoaded += series;
    if (this.seriesLoaded > this.maxSeries) {
      throw new QueryError(`query would load more than ${this.maxSeries} series (limit query_max_series / ISOBAR_QUERY_MAX_SERIES); narrow the selectors`, ErrorIds.queryMaxSeries);
    }
    if (this.stats) this.stats.samples = this.samplesLoaded;
    if (this.samplesLoaded > this.maxSamples) {
      throw new QueryError(`query processing would load too many samples into memory: more than ${this.maxSamples} (limit query_max_samples / ISOBAR_QUERY_MAX_SAMPLES); narrow the selectors or the time range`, ErrorIds.queryMaxSamples);
    }
  }

  /**
   * A selector's series for a fused pass. A deferred selector's are decoded
   * one at a time into one reused pair of columns (and counted as they are),
   * so the pass holds one series' samples, not the selector's.
   */
  seriesOf(sel: VectorSelector): SeriesSource {
    const d = this.deferred.get(sel);
    if (!d) {
      const list = this.loadedOf(sel);
      return { length: list.length, labels: (k) => list[k]!.labels, at: (k) => list[k] };
    }
    const buffer = new ColumnsBuffer();
    return {
      length: d.parts.length,
      labels: (k) => d.parts[k]!.labels,
      at: (k) => {
        const c = buffer.decode(d.parts[k]!.chunks, d.f.mint, d.f.maxt);
        if (c.n === 0) return undefined;
        this.count(1, c.n);
        return loadedSeries(d.parts[k]!.labels, c);
      },
    };
  }

  /** A selector's native histograms within its range, counted against the limits like samples. */
  private loadHistograms(f: Fetch, all: readonly HistogramSeries[]): void {
    const kept: HistogramSeries[] = [];
    for (const s of all) {
      const histograms = s.histograms.filter((h) => h.t >= f.mint && h.t <= f.maxt);
      if (histograms.length === 0) continue;
      this.count(1, histograms.length);
      kept.push({ labels: s.labels, histograms });
    }
    const had = this.nativeHistograms.get(f.sel);
    if (kept.length) this.nativeHistograms.set(f.sel, had ? [...had, ...kept] : kept);
  }

  /** A selector's loaded series; a deferred selector's (its aggregation was not fused after all) are decoded now. */
  private loadedOf(sel: VectorSelector): LoadedSeries[] {
    const d = this.deferred.get(sel);
    if (d) {
      this.deferred.delete(sel);
      this.decode(d.f, d.parts);
    }
    return this.loaded.get(sel) ?? [];
  }

  // ---- evaluation ----------------------------------------------------------

  eval(e: Expr, t: number, ctx: Ctx): Value {
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
        if (x.type === 'vector') return { type: 'vector', samples: x.samples.map((s) => ({ labels: s.labels, v: -s.v, drop: true, ...(s.h ? { h: scaleHistogram(s.h, -1) } : {}) })) };
        throw new QueryError('unary minus on a non-numeric value');
      }
      case 'binary':
        return this.binary(e, t, ctx);
      case 'aggregate':
        if (this.fused.has(e)) return { type: 'vector', samples: this.fused.get(e)!.at(t) };
        return { type: 'vector', samples: aggregate(this, e, e.param ? this.eval(e.param, t, ctx) : undefined, this.vec(e.expr, t, ctx)) };
      case 'call':
        return callFunction(this, e, t, ctx);
    }
  }

  vec(e: Expr, t: number, ctx: Ctx): Sample[] {
    const x = this.eval(e, t, ctx);
    if (x.type !== 'vector') throw new QueryError(`expected instant vector, got ${x.type}`);
    return x.samples;
  }

  /** For each series, the sample a vector selector picks at `t` (newest within the lookback, not a staleness marker). */
  picked(sel: VectorSelector, t: number, ctx: Ctx, each: (s: LoadedSeries, i: number) => void): void {
    const ts = this.atTime(sel.at, t, ctx) - sel.offset;
    const series = this.loadedOf(sel);
    const at = this.cursor(sel, series.length, ts);
    const lookback = this.lookbackOf(sel);
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
    const hseries = this.nativeHistograms.get(sel);
    if (!hseries) {
      this.picked(sel, t, ctx, (s, i) => out.push({ labels: s.labels, v: s.v[i]! }));
      return out;
    }
    // A series with floats and histograms gives whichever sample is newer.
    const floatAt = new Map<string, number>();
    this.picked(sel, t, ctx, (s, i) => {
      out.push({ labels: s.labels, v: s.v[i]! });
      floatAt.set(key(s.labels), s.t[i]!);
    });
    const ts = this.atTime(sel.at, t, ctx) - sel.offset;
    const lookback = this.lookbackOf(sel);
    for (const s of hseries) {
      const h = histogramAt(s.histograms, ts, lookback);
      if (!h || isStaleHistogram(h)) continue;
      const k = key(s.labels);
      const ft = floatAt.get(k);
      if (ft !== undefined) {
        if (ft >= h.t) continue;
        out.splice(out.findIndex((x) => key(x.labels) === k), 1);
      }
      out.push({ labels: s.labels, v: NaN, h });
    }
    return out.sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  }

  histogramWindows(m: MatrixSelector, t: number, ctx: Ctx, each: (labels: Labels, hs: readonly NativeHistogram[]) => void): void {
    const hseries = this.nativeHistograms.get(m.vector);
    if (!hseries) return;
    const ts = this.atTime(m.vector.at, t, ctx) - m.vector.offset;
    for (const s of hseries) {
      const hs = s.histograms.filter((h) => h.t > ts - m.range && h.t <= ts && !isStaleHistogram(h));
      if (hs.length) each(s.labels, hs);
    }
  }

  private rangeSelect(m: MatrixSelector, t: number, ctx: Ctx): RangeSeries[] {
    const out: RangeSeries[] = [];
    this.windows(m, t, ctx, (w) => out.push({ ...w }));
    const hseries = this.nativeHistograms.get(m.vector);
    if (!hseries) return out;
    // Histogram points in the window (t - range, t], beside the series' float points.
    const ts = this.atTime(m.vector.at, t, ctx) - m.vector.offset;
    for (const s of hseries) {
      const hs = s.histograms.filter((h) => h.t > ts - m.range && h.t <= ts);
      if (hs.length === 0) continue;
      const k = key(s.labels);
      const w = out.find((x) => key(x.labels) === k);
      if (w) w.hs = hs;
      else out.push({ labels: s.labels, t: EMPTY, v: EMPTY, lo: 0, hi: 0, hs });
    }
    return out.sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  }

  /**
   * Each series' window (t - range, t] of a range selector, handed to `each`.
   * The common case (no staleness marker inside) hands the loaded columns
   * themselves in one reused object: `each` must copy what it keeps.
   */
  windows(m: MatrixSelector, t: number, ctx: Ctx, each: (w: RangeSeries) => void): void {
    const ts = this.atTime(m.vector.at, t, ctx) - m.vector.offset;
    const w: RangeSeries = { labels: [], t: EMPTY, v: EMPTY, lo: 0, hi: 0 };
    const series = this.loadedOf(m.vector);
    const his = this.cursor(m, series.length, ts);
    const los = this.cursor(m, series.length, ts - m.range, 1);
    const pos = new Int32Array(2);
    for (let k = 0; k < series.length; k++) {
      pos[0] = his[k]!;
      pos[1] = los[k]!;
      const some = windowOf(series[k]!, ts, m.range, pos, w);
      his[k] = pos[0];
      los[k] = pos[1];
      if (some) each(w);
    }
  }

  lookbackOf(sel: VectorSelector): number {
    return this.tiered.get(sel)?.lookback ?? this.lookback;
  }

  private subquery(sq: Subquery, t: number, ctx: Ctx): RangeSeries[] {
    const ts = this.atTime(sq.at, t, ctx) - sq.offset;
    const step = sq.step || ctx.step || 60_000;
    // Steps are aligned to multiples of `step` in absolute time, inside (ts - range, ts].
    let first = Math.floor((ts - sq.range) / step) * step;
    if (first <= ts - sq.range) first += step;
    const acc = new Map<string, { labels: Labels; t: number[]; v: number[]; drop: boolean; hs?: NativeHistogram[] }>();
    for (let x = first; x <= ts; x += step) {
      for (const s of this.vec(sq.expr, x, ctx)) {
        const k = key(s.labels);
        let e = acc.get(k);
        if (!e) acc.set(k, (e = { labels: s.labels, t: [], v: [], drop: false }));
        // A subquery's histograms say "unknown" where they said "reset" or "no reset": it may skip or
        // repeat samples, so functions detect resets themselves, as from floats (as Prometheus does).
        if (s.h) (e.hs ??= []).push({ ...s.h, t: x, resetHint: s.h.resetHint === 3 ? 3 : 0 });
        else {
          e.t.push(x);
          e.v.push(s.v);
        }
        if (s.drop) e.drop = true;
      }
    }
    return [...acc.values()].map((e) => ({ labels: e.labels, t: Float64Array.from(e.t), v: Float64Array.from(e.v), lo: 0, hi: e.t.length, ...(e.drop ? { drop: true } : {}), ...(e.hs ? { hs: e.hs } : {}) }));
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
    if (l.type === 'vector' && r.type === 'vector') return { type: 'vector', samples: vectorOp(op, l.samples, r.samples, e.matching, e.bool, (level, text) => this.annotate(level, text, e)) };
    // vector op scalar, or scalar op vector
    const vecSide = l.type === 'vector' ? l.samples : (r as { samples: Sample[] }).samples;
    const scalar = l.type === 'scalar' ? l.v : (r as { v: number }).v;
    const swap = l.type === 'scalar';
    const out: Sample[] = [];
    for (const s of vecSide) {
      if (s.h) {
        // A histogram times a scalar, or divided by one, is scaled; trimmed by `</` and `>/`; anything else is left out with Prometheus's info.
        if (op === '*' || (op === '/' && !swap)) out.push({ labels: s.labels, v: NaN, h: scaleHistogram(s.h, scalar, op === '/'), drop: dropsName(op) || s.drop });
        else if ((op === '</' || op === '>/') && !swap) out.push({ labels: s.labels, v: NaN, h: trimHistogram(s.h, scalar, op === '</'), ...(s.drop ? { drop: true } : {}) });
        else this.info(swap ? incompatible(op, {}, s) : incompatible(op, s, {}), e);
        continue;
      }
      if (op === '</' || op === '>/') {
        // Trimming is for histograms: a float is left out, as Prometheus says.
        this.info(incompatible(op, s, {}), e);
        continue;
      }
      const [v, keep] = swap ? scalarOp(op, scalar, s.v) : scalarOp(op, s.v, scalar);
      if (isComparison(op)) {
        if (e.bool) out.push({ labels: s.labels, v: keep ? 1 : 0, drop: true });
        else if (keep) out.push(s);
      } else out.push({ labels: s.labels, v, drop: dropsName(op) || s.drop });
    }
    return { type: 'vector', samples: out };
  }

  /** Per aggregation node: each input label set's group, worked out once for all steps (aggregate.ts). */
  readonly groupCache: GroupCache = new WeakMap();

  // ---- functions -----------------------------------------------------------

  /** Whether a function's range argument was read through downsampled tiers. */
  isTiered(args: Expr[]): boolean {
    const a = args.find((x) => x.kind === 'matrix');
    return a?.kind === 'matrix' && this.tiered.has(a.vector);
  }
}

// ---- helpers -----------------------------------------------------------------

/** The same series on several nodes (its shard moved): all its chunks, this node's first. */
function withPeerSeries(own: ChunkSeries[], remote: readonly ChunkSeries[]): ChunkSeries[] {
  if (remote.length === 0) return own;
  const byKey = new Map(own.map((p) => [key(p.labels), { labels: p.labels, chunks: [...p.chunks] }]));
  for (const r of remote) {
    const e = byKey.get(key(r.labels));
    if (e) e.chunks.push(...r.chunks);
    else byKey.set(key(r.labels), { labels: r.labels, chunks: [...r.chunks] });
  }
  return [...byKey.values()].sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
}

/** "3h20m" style, for limit messages. */
function formatDuration(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.round((ms % 3_600_000) / 60_000);
  return h >= 48 ? `${Math.round(ms / 86_400_000)}d` : `${h}h${m ? `${m}m` : ''}`;
}
