/**
 * Range queries, series by series. An aggregation (sum, avg, count, min,
 * max, group; topk and bottomk with a literal k) of a range function over a selector — `sum by (job) (rate(x[5m]))`,
 * the shape of most dashboard panels — or of a plain selector (`count(up)`)
 * is computed before the steps: one pass
 * per series over every step, its group found once, its windows carried
 * forward, the values added into typed arrays per group and step. The step
 * evaluation then reads each step's vector from there, one sample per group
 * instead of one per series.
 *
 * The answer is the step evaluation's, bit for bit: the same window kernels
 * (functions.ts rangeKernel), additions in the same order (series order) with
 * the same compensation, and each step's groups in the order the step
 * evaluation would meet them (fused.test.ts compares the two).
 */
import type { Labels } from '../model/labels.js';
import { groupLabels } from './aggregate.js';
import type { Expr, MatrixSelector, VectorSelector } from './ast.js';
import { rangeKernel, type Evaluator, type WindowKernel } from './functions.js';
import { key, NAME, unwrapParens } from './label-sets.js';
import type { EvalContext, RangeSeries, Sample } from './values.js';
import { atOrBefore, windowOf, type LoadedSeries } from './windows.js';
import { extrapolatedRateOf } from './range-functions.js';
import { isStale } from '../chunkenc/merge.js';
import { cmpAsc, cmpDesc, RunningMean } from './float-stats.js';

/** A selector's series as a fused pass reads them: labels first, then each series' columns once. */
export interface SeriesSource {
  readonly length: number;
  labels(k: number): Labels;
  /** Series k's columns (valid until the next call), undefined when it has no samples in the query's range. */
  at(k: number): LoadedSeries | undefined;
}

/** What fusing needs of the engine beyond the Evaluator. */
export interface FuseHost extends Evaluator {
  /** A selector's series: decoded one at a time if the engine deferred them (fusedSelectors). */
  seriesOf(sel: VectorSelector): SeriesSource;
  /** How far back a plain selector looks for a sample (longer through downsampled tiers). */
  lookbackOf(sel: VectorSelector): number;
  yieldIfDue(ctx: EvalContext): Promise<void>;
  /** Count series and samples another thread decoded (a split query) against the query's limits. */
  countSeries(series: number, samples: number): void;
  /** The query's PromQL warnings and infos so far (Evaluator.warn, info). */
  readonly warnings: string[];
  readonly infos: string[];
}

type FusedOp = 'sum' | 'avg' | 'count' | 'min' | 'max' | 'group' | 'topk' | 'bottomk';
const FUSED_OPS: ReadonlySet<string> = new Set<FusedOp>(['sum', 'avg', 'count', 'min', 'max', 'group', 'topk', 'bottomk']);
/** Groups x steps above which the step evaluation is kept (its memory is bounded by its output alone). */
const MAX_CELLS = 1_000_000;
/** Series between chances to give the event loop back. */
const YIELD_EVERY = 512;

interface Group {
  labels: Labels;
  /** Per step: the running value (sum, min, max), the compensation (sum), the count, the first contributing series. */
  v: Float64Array;
  c: Float64Array;
  n: Float64Array;
  first: Int32Array;
  /** avg: a running mean per step (made at its first value). */
  means: RunningMean[];
  /** topk, bottomk: per step, the group's chosen series (index, value) in their order. */
  best: Array<Array<{ k: number; v: number }> | undefined>;
}

/** One fused aggregation's answer for every step of the range. */
export class FusedAggregate {
  constructor(
    private readonly op: FusedOp,
    private readonly start: number,
    private readonly step: number,
    private readonly groups: Group[],
  ) {}

  /** topk, bottomk: the chosen series' labels, and whether their samples drop the name (a function's result). */
  chosen?: { labels: (k: number) => Labels; drop: boolean };

  /** The aggregation's vector at step time `t`. */
  at(t: number): Sample[] {
    const j = Math.round((t - this.start) / this.step);
    const present = this.groups.filter((g) => g.n[j]! > 0).sort((a, b) => a.first[j]! - b.first[j]!);
    const chosen = this.chosen;
    if (chosen) return present.flatMap((g) => g.best[j]!.map((b) => (chosen.drop ? { labels: chosen.labels(b.k), v: b.v, drop: true } : { labels: chosen.labels(b.k), v: b.v })));
    return present.map((g) => ({ labels: g.labels, v: this.value(g, j) }));
  }

  private value(g: Group, j: number): number {
    switch (this.op) {
      case 'sum': {
        const sum = g.v[j]!;
        const c = g.c[j]!;
        return Number.isFinite(sum + c) || !Number.isFinite(sum) ? sum + c : sum;
      }
      case 'avg':
        return g.means[j]!.value;
      case 'count':
        return g.n[j]!;
      case 'group':
        return 1;
      default:
        return g.v[j]!;
    }
  }
}

/** What an aggregation that can be fused aggregates: a range function over a selector, or a plain selector; `sel` is the selector either way. */
type Fusible = { agg: Extract<Expr, { kind: 'aggregate' }>; sel: VectorSelector } & ({ call: Extract<Expr, { kind: 'call' }>; m: MatrixSelector } | object);

function fusible(e: Expr): Fusible | undefined {
  if (e.kind !== 'aggregate' || !FUSED_OPS.has(e.op)) return undefined;
  // topk/bottomk with a literal k of at least 1 (any other k is the step evaluation's to refuse or answer).
  if (e.op === 'topk' || e.op === 'bottomk' ? topK(e) === undefined : e.param) return undefined;
  // by (__name__) keeps a name-drop mark per group: left to the step evaluation.
  if (!e.without && e.grouping.includes(NAME)) return undefined;
  const call = unwrapParens(e.expr);
  if (call.kind === 'vector') return { agg: e, sel: call };
  if (call.kind !== 'call') return undefined;
  const ranges = call.args.map(unwrapParens).filter((a) => a.kind === 'matrix' || a.kind === 'subquery');
  if (ranges.length !== 1 || ranges[0]!.kind !== 'matrix') return undefined;
  const m = ranges[0] as MatrixSelector;
  return { agg: e, sel: m.vector, call, m };
}

/**
 * The aggregations of `root` evaluated at the range's step times (not inside
 * a subquery) that can be fused, outermost first: `each` answers whether it
 * took one (when not, its operands are visited as any other's).
 */
async function eachFusible(root: Expr, each: (f: Fusible) => Promise<boolean>): Promise<void> {
  const visit = async (e: Expr): Promise<void> => {
    switch (e.kind) {
      case 'aggregate': {
        const f = fusible(e);
        if (f && (await each(f))) return;
        if (e.param) await visit(e.param);
        return visit(e.expr);
      }
      case 'binary':
        await visit(e.lhs);
        return visit(e.rhs);
      case 'unary':
      case 'paren':
        return visit(e.expr);
      case 'call':
        for (const a of e.args) await visit(a);
        return;
      default:
        return; // selectors, literals; subqueries and step-invariant parts run at other times
    }
  };
  await visit(root);
}

/**
 * The selectors only fusible aggregations read: a range query's loader may
 * leave them compressed, for the fused pass to decode one series at a time.
 */
export async function fusedSelectors(root: Expr): Promise<Set<VectorSelector>> {
  const out = new Set<VectorSelector>();
  await eachFusible(root, async (f) => {
    out.add(f.sel);
    return true;
  });
  return out;
}

/**
 * A range query split over threads (query-pool.ts gives a splittable query
 * every idle thread). Each part reads its own range of every fused
 * selector's series in label order (select.ts partRange), so no thread reads
 * or decodes another's. Part 0 adds up its own series, then each other
 * part's rows (its series' values at every step) in part order: the
 * additions happen in series order on one thread, so the answer is the
 * unsplit query's, bit for bit. Where part 0 cannot fuse an aggregation it
 * read only part of, or a part's rows do not come, it throws SplitDeclined
 * and the query is answered again, unsplit.
 */
export interface FuseSplit {
  part: number;
  parts: number;
  /** Part 0: another part's rows of aggregation `agg`; undefined if they will not come. */
  rows?: (agg: number, part: number) => Promise<FusedRows | undefined>;
  /** Parts 1 and up: send this part's rows of an aggregation to part 0. */
  emit?: (rows: FusedRows) => void;
}

/**
 * One part's rows of one fused aggregation: its n series' values at each of
 * `steps` steps (`present`: 1 where a series has a value), each series'
 * group, and, for topk and bottomk, each series' labels.
 */
export interface FusedRows {
  agg: number;
  n: number;
  values: Float64Array;
  present: Uint8Array;
  groups: Labels[];
  groupOf: Int32Array;
  labels?: Labels[];
  /** Series with samples in the part, and their samples (part 0 counts them against the limits). */
  series: number;
  samples: number;
  /** PromQL warnings and infos the part's series raised in this aggregation (that part 0 had not before). */
  warnings: string[];
  infos: string[];
}

/** A split query's part 0 could not answer its part alone: the query is answered again, unsplit. */
export class SplitDeclined extends Error {
  constructor(why: string) {
    super(`split declined: ${why}`);
  }
}

/** Queries whose fused selectors have fewer series are not split: the hand-over would cost more than it saves. */
export const MIN_SPLIT_SERIES = 1024;
/** Most values one part's rows may hold (9 bytes each); a larger part declines the split. */
export const MAX_ROW_CELLS = 4_000_000;

/** Every aggregation of `root` that can be fused (eachFusible), computed series by series. */
export async function fuseAggregations(host: FuseHost, root: Expr, start: number, end: number, step: number, ctx: EvalContext, split?: FuseSplit): Promise<Map<Expr, FusedAggregate>> {
  const out = new Map<Expr, FusedAggregate>();
  let index = 0;
  await eachFusible(root, async (f) => {
    const plan = planFuse(host, f, start, end, step, ctx);
    if (!plan) {
      if (split) throw new SplitDeclined('an aggregation of the query is not fused');
      return false;
    }
    out.set(f.agg, await fuseOne(host, plan, index++, ctx, split));
    return true;
  });
  return out;
}

/**
 * A helper's share of a split query (part 1 and up): its rows of every fused
 * aggregation, the same aggregations in the same order as part 0 meets them.
 */
export async function fuseRows(host: FuseHost, root: Expr, start: number, end: number, step: number, ctx: EvalContext, split: FuseSplit): Promise<void> {
  let index = 0;
  await eachFusible(root, async (f) => {
    const plan = planFuse(host, f, start, end, step, ctx, false);
    if (!plan) throw new SplitDeclined('an aggregation of the query is not fused');
    const { series, steps } = plan;
    const n = series.length;
    if (n * steps > MAX_ROW_CELLS) throw new SplitDeclined(`a part's rows would hold ${n * steps} values`);
    const agg = f.agg;
    const notes = [host.warnings.length, host.infos.length] as const;
    const rows: FusedRows = { agg: index++, n, values: new Float64Array(n * steps), present: new Uint8Array(n * steps), groups: [], groupOf: new Int32Array(n), series: 0, samples: 0, warnings: [], infos: [] };
    if (plan.op === 'topk' || plan.op === 'bottomk') rows.labels = [];
    const groupIndex = new Map<string, number>();
    const scratch = rowScratch();
    for (let k = 0; k < n; k++) {
      if (k % YIELD_EVERY === YIELD_EVERY - 1) await host.yieldIfDue(ctx);
      const labels = series.labels(k);
      rows.labels?.push(labels);
      const gl = groupLabels(labels, agg.grouping, agg.without);
      rows.groupOf[k] = interned(rows.groups, groupIndex, gl, () => gl);
      const s = series.at(k);
      if (!s) continue;
      rows.series++;
      rows.samples += s.n;
      seriesRow(plan, s, rows.values, rows.present, k * steps, scratch);
    }
    rows.warnings = host.warnings.slice(notes[0]);
    rows.infos = host.infos.slice(notes[1]);
    split.emit!(rows);
    return true;
  });
}

/** topk/bottomk's k when it is a number literal in [1, 2^63), else undefined. */
function topK(e: Extract<Expr, { kind: 'aggregate' }>): number | undefined {
  const p = e.param && unwrapParens(e.param);
  if (p?.kind !== 'number' || !(Math.abs(p.value) < 2 ** 63)) return undefined;
  const k = Math.floor(p.value);
  return k >= 1 ? k : undefined;
}

/** A fused aggregation, decided before any series is decoded (so every thread of a split query decides alike). */
interface FusePlan {
  f: Fusible;
  op: FusedOp;
  steps: number;
  start: number;
  step: number;
  /** topk/bottomk: k, the most kept per group and step; else 1. */
  K: number;
  cmp: (a: number, b: number) => number;
  /** A range function's window kernel per step (none over a plain selector). */
  kernels: WindowKernel[];
  /** rate, increase or delta: what seriesRow computes on a series' columns without the kernels. */
  rate?: { range: number; isCounter: boolean; isRate: boolean };
  keepName: boolean;
  series: SeriesSource;
  groups: Group[];
  /** A group's index in `groups` by its key. */
  groupIndex: Map<string, number>;
  groupOf: Int32Array;
  stepTimes: Float64Array;
  lookback: number;
}

/**
 * The plan of a fused aggregation, undefined where it is left to the step
 * evaluation. Without `grouped`, no groups (a helper's rows carry their
 * series' groups instead).
 */
function planFuse(host: FuseHost, f: Fusible, start: number, end: number, step: number, ctx: EvalContext, grouped = true): FusePlan | undefined {
  const steps = Math.floor((end - start) / step) + 1;
  const kernels: WindowKernel[] = [];
  let keepName = false;
  if ('call' in f) {
    for (let j = 0; j < steps; j++) {
      const k = rangeKernel(host, f.call, start + j * step, ctx);
      if (!k) return undefined; // not a function over windows
      kernels.push(k.f);
      keepName = k.keepName ?? false;
    }
  }
  const { agg, sel } = f;
  const op = agg.op as FusedOp;
  const series = host.seriesOf(sel);
  // A group never keeps more series per step than there are: the cells counted below take the lesser.
  const K = op === 'topk' || op === 'bottomk' ? topK(agg)! : 1;
  // Each series' group, from its labels alone: nothing is decoded for an aggregation left to the step evaluation.
  const groupIndex = new Map<string, number>();
  const groups: Group[] = [];
  const groupOf = new Int32Array(grouped ? series.length : 0);
  for (let k = 0; k < groupOf.length; k++) {
    const labels = groupLabels(series.labels(k), agg.grouping, agg.without);
    const gi = groupFor(groups, groupIndex, labels, op, steps);
    if ((groups.length * steps * Math.min(K, series.length)) > MAX_CELLS) return undefined;
    groupOf[k] = gi;
  }
  const stepTimes = Float64Array.from({ length: steps }, (_, j) => host.atTime(sel.at, start + j * step, ctx) - sel.offset);
  const fn = 'call' in f ? f.call.fn : '';
  const rate = 'call' in f && (fn === 'rate' || fn === 'increase' || fn === 'delta') ? { range: f.m.range, isCounter: fn !== 'delta', isRate: fn === 'rate' } : undefined;
  return { f, op, steps, start, step, K, cmp: op === 'topk' ? cmpDesc : cmpAsc, kernels, ...(rate ? { rate } : {}), keepName, series, groups, groupIndex, groupOf, stepTimes, lookback: host.lookbackOf(sel) };
}

/** The index of the group with these labels, made (empty at every step) if new. */
function groupFor(groups: Group[], groupIndex: Map<string, number>, labels: Labels, op: FusedOp, steps: number): number {
  return interned(groups, groupIndex, labels, () => ({ labels, v: new Float64Array(steps).fill(op === 'min' || op === 'max' ? NaN : 0), c: new Float64Array(op === 'sum' ? steps : 0), n: new Float64Array(steps), first: new Int32Array(steps), means: [], best: [] }));
}

/** The index in `list` of the entry for these labels (`index` by their key), made if new. */
function interned<T>(list: T[], index: Map<string, number>, labels: Labels, make: () => T): number {
  const k = key(labels);
  let i = index.get(k);
  if (i === undefined) {
    index.set(k, (i = list.length));
    list.push(make());
  }
  return i;
}

/** Window cursor and view a series' row reuses. */
function rowScratch(): { pos: Int32Array; w: RangeSeries } {
  return { pos: new Int32Array(2), w: { labels: [], t: new Float64Array(0), v: new Float64Array(0), lo: 0, hi: 0 } };
}

/** A series' value at every step into values[at, at + steps), present[] marking the steps it has one. */
function seriesRow(plan: FusePlan, s: LoadedSeries, values: Float64Array, present: Uint8Array, at: number, { pos, w }: { pos: Int32Array; w: RangeSeries }): void {
  const f = plan.f;
  const lookback = plan.lookback;
  pos[0] = pos[1] = -1;
  // rate, increase, delta over a series without staleness markers: straight on its columns once its
  // first window went through the kernel (which makes the "might not be a counter" check, once per series).
  const rate = plan.rate && !s.hasStale && s.w === undefined ? plan.rate : undefined;
  let kernelled = false;
  for (let j = 0; j < plan.steps; j++) {
    let x: number | undefined;
    const ts = plan.stepTimes[j]!;
    if (rate && kernelled) {
      const hi = (pos[0] = atOrBefore(s, ts, pos[0]!));
      const lo = (pos[1] = atOrBefore(s, ts - rate.range, pos[1]!)) + 1; // left-open window
      if (hi < lo) continue;
      x = extrapolatedRateOf(s.t, s.v, lo, hi + 1, s.monotonic === true, ts - rate.range, ts, rate.isCounter, rate.isRate);
      if (x === undefined) continue;
    } else if ('call' in f) {
      if (!windowOf(s, ts, f.m.range, pos, w)) continue;
      kernelled = true;
      x = plan.kernels[j]!(w);
      if (x === undefined) continue;
    } else {
      // As a plain selector picks: the newest sample within the lookback, unless a staleness marker.
      const i = (pos[0] = atOrBefore(s, ts, pos[0]!));
      if (i < 0 || s.t[i]! <= ts - lookback || isStale(s.v, i)) continue;
      x = s.v[i]!;
    }
    values[at + j] = x;
    present[at + j] = 1;
  }
}

/** Series k's row (values[at, at + steps)) added into its group g, step by step. */
function addRow(plan: FusePlan, g: Group, k: number, values: Float64Array, present: Uint8Array, at: number): void {
  const { op, K, cmp } = plan;
  for (let j = 0; j < plan.steps; j++) {
    if (!present[at + j]) continue;
    const x = values[at + j]!;
    if (g.n[j] === 0) g.first[j] = k;
    g.n[j]!++;
    switch (op) {
      case 'sum': {
        // Neumaier's compensated addition, as float-stats.ts compensatedAdd.
        const sum = g.v[j]!;
        const t = sum + x;
        if (t === Infinity || t === -Infinity) g.c[j] = 0;
        else if (Math.abs(sum) >= Math.abs(x)) g.c[j]! += sum - t + x;
        else g.c[j]! += x - t + sum;
        g.v[j] = t;
        break;
      }
      case 'avg':
        (g.means[j] ??= new RunningMean()).add(x);
        break;
      case 'min': {
        const cur = g.v[j]!;
        if (Number.isNaN(cur) || x < cur) g.v[j] = x;
        break;
      }
      case 'max': {
        const cur = g.v[j]!;
        if (Number.isNaN(cur) || x > cur) g.v[j] = x;
        break;
      }
      case 'topk':
      case 'bottomk': {
        // As aggregate.ts firstK: the first K in order, ties in series order (NaN last).
        const best = (g.best[j] ??= []);
        if (best.length === K && cmp(x, best[K - 1]!.v) >= 0) break;
        let i = best.length;
        while (i > 0 && cmp(x, best[i - 1]!.v) < 0) i--;
        best.splice(i, 0, { k, v: x });
        if (best.length > K) best.pop();
        break;
      }
      default:
        break;
    }
  }
}

/**
 * A fused aggregation's answer: this thread's series, computed and added in
 * order, then (a split query's part 0) each other part's rows, their series
 * numbered after this part's.
 */
async function fuseOne(host: FuseHost, plan: FusePlan, agg: number, ctx: EvalContext, split: FuseSplit | undefined): Promise<FusedAggregate> {
  const n = plan.series.length;
  // The parts are about as large as this one: where its rows would be too large, theirs are likely to be too (fuseRows).
  if (split && n * plan.steps > MAX_ROW_CELLS) throw new SplitDeclined(`a part's rows would hold ${n * plan.steps} values`);
  const values = new Float64Array(plan.steps);
  const present = new Uint8Array(plan.steps);
  const scratch = rowScratch();
  for (let k = 0; k < n; k++) {
    if (k % YIELD_EVERY === YIELD_EVERY - 1) await host.yieldIfDue(ctx);
    const s = plan.series.at(k);
    if (!s) continue;
    present.fill(0);
    seriesRow(plan, s, values, present, 0, scratch);
    addRow(plan, plan.groups[plan.groupOf[k]!]!, k, values, present, 0);
  }
  // Labels of the series numbered from `from` (other parts' own, for topk and bottomk).
  const theirs: Array<{ from: number; labels: Labels[] }> = [];
  let next = n;
  for (let part = 1; split && part < split.parts; part++) {
    const rows = await split.rows!(agg, part);
    if (!rows) throw new SplitDeclined(`part ${part} did not answer`);
    host.countSeries(rows.series, rows.samples);
    // As the unsplit pass would have raised them: after this part's series' own.
    for (const w of rows.warnings) if (!host.warnings.includes(w)) host.warnings.push(w);
    for (const i of rows.infos) if (!host.infos.includes(i)) host.infos.push(i);
    const groups = rows.groups.map((labels) => plan.groups[groupFor(plan.groups, plan.groupIndex, labels, plan.op, plan.steps)]!);
    for (let k = 0; k < rows.n; k++) {
      if (k % YIELD_EVERY === YIELD_EVERY - 1) await host.yieldIfDue(ctx);
      addRow(plan, groups[rows.groupOf[k]!]!, next + k, rows.values, rows.present, k * plan.steps);
    }
    if (rows.labels) theirs.push({ from: next, labels: rows.labels });
    next += rows.n;
  }
  const fused = new FusedAggregate(plan.op, plan.start, plan.step, plan.groups);
  if (plan.op === 'topk' || plan.op === 'bottomk') {
    const labelsOf = (k: number): Labels => {
      if (k < n) return plan.series.labels(k);
      let i = theirs.length - 1;
      while (theirs[i]!.from > k) i--;
      return theirs[i]!.labels[k - theirs[i]!.from]!;
    };
    fused.chosen = { labels: labelsOf, drop: 'call' in plan.f && !plan.keepName };
  }
  return fused;
}
