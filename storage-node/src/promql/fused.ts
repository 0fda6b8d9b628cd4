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

/** Every aggregation of `root` that can be fused (eachFusible), computed series by series. */
export async function fuseAggregations(host: FuseHost, root: Expr, start: number, end: number, step: number, ctx: EvalContext): Promise<Map<Expr, FusedAggregate>> {
  const out = new Map<Expr, FusedAggregate>();
  await eachFusible(root, async (f) => {
    const fused = await fuseOne(host, f, start, end, step, ctx);
    if (fused) out.set(f.agg, fused);
    return fused !== undefined;
  });
  return out;
}

/** topk/bottomk's k when it is a number literal in [1, 2^63), else undefined. */
function topK(e: Extract<Expr, { kind: 'aggregate' }>): number | undefined {
  const p = e.param && unwrapParens(e.param);
  if (p?.kind !== 'number' || !(Math.abs(p.value) < 2 ** 63)) return undefined;
  const k = Math.floor(p.value);
  return k >= 1 ? k : undefined;
}

async function fuseOne(host: FuseHost, f: Fusible, start: number, end: number, step: number, ctx: EvalContext): Promise<FusedAggregate | undefined> {
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
  const K = op === 'topk' || op === 'bottomk' ? Math.min(topK(agg)!, Math.max(series.length, 1)) : 1;
  const cmp = op === 'topk' ? cmpDesc : cmpAsc;
  // Each series' group, from its labels alone: nothing is decoded for an aggregation left to the step evaluation.
  const index = new Map<string, number>();
  const groups: Group[] = [];
  const groupOf = new Int32Array(series.length);
  for (let k = 0; k < series.length; k++) {
    const labels = groupLabels(series.labels(k), agg.grouping, agg.without);
    const gk = key(labels);
    let gi = index.get(gk);
    if (gi === undefined) {
      if ((groups.length + 1) * steps * K > MAX_CELLS) return undefined;
      gi = groups.length;
      index.set(gk, gi);
      groups.push({ labels, v: new Float64Array(steps).fill(op === 'min' || op === 'max' ? NaN : 0), c: new Float64Array(op === 'sum' ? steps : 0), n: new Float64Array(steps), first: new Int32Array(steps), means: [], best: [] });
    }
    groupOf[k] = gi;
  }
  const stepTimes = Float64Array.from({ length: steps }, (_, j) => host.atTime(sel.at, start + j * step, ctx) - sel.offset);
  const lookback = host.lookbackOf(sel);
  const pos = new Int32Array(2);
  const w: RangeSeries = { labels: [], t: new Float64Array(0), v: new Float64Array(0), lo: 0, hi: 0 };
  for (let k = 0; k < series.length; k++) {
    if (k % YIELD_EVERY === YIELD_EVERY - 1) await host.yieldIfDue(ctx);
    const s = series.at(k);
    if (!s) continue;
    const g = groups[groupOf[k]!]!;
    pos[0] = pos[1] = -1;
    for (let j = 0; j < steps; j++) {
      let x: number | undefined;
      const ts = stepTimes[j]!;
      if ('call' in f) {
        if (!windowOf(s, ts, f.m.range, pos, w)) continue;
        x = kernels[j]!(w);
        if (x === undefined) continue;
      } else {
        // As a plain selector picks: the newest sample within the lookback, unless a staleness marker.
        const i = (pos[0] = atOrBefore(s, ts, pos[0]!));
        if (i < 0 || s.t[i]! <= ts - lookback || isStale(s.v, i)) continue;
        x = s.v[i]!;
      }
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
  const fused = new FusedAggregate(op, start, step, groups);
  if (op === 'topk' || op === 'bottomk') fused.chosen = { labels: (k) => series.labels(k), drop: 'call' in f && !keepName };
  return fused;
}
