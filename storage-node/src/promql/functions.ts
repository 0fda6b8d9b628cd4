/**
 * PromQL's functions, as one table (Prometheus's FunctionCalls): each call is
 * evaluated at one step through the Evaluator, which loads and selects series.
 */
import type { NativeHistogram } from '../../../wire/histogram.js';
import { detectReset, equalHistograms, scaleHistogram, histogramFraction, histogramQuantile, histogramRate, histogramVariance } from './histograms.js';
import { toFloatHistogram } from '../../../wire/histogram.js';
import { addHistograms, IncompatibleSchemas, meanHistogram, sumHistograms, type SumNotes } from './histogram-sum.js';
import { labelValue, type Labels } from '../model/labels.js';
import { compileAnchored } from '../model/re2.js';
import type { At, Expr, MatrixSelector, Subquery, VectorSelector } from './ast.js';
import { typeOf } from './ast.js';
import type { SeriesColumns } from '../db/tenant-db.js';
import { bucketFraction, bucketQuantile, parseBucketBound } from './classic-histograms.js';
import { cmpAsc, cmpDesc, compensatedSum, floatMean, floatQuantile, floatVariance } from './float-stats.js';
import { goFloat, openMetricsFloat } from './format.js';
import { goQuote } from './printer.js';
import { absentLabels, compareByLabels, expandTemplate, key, NAME, setLabel, uniqueLabelSets, unwrapParens } from './label-sets.js';
import { dateParts, extrapolatedRate, holtWinters, instantValue, linearRegression, tsOfExtreme } from './range-functions.js';
import { isValidUtf8 } from './strings.js';
import { QueryError, windowValues, type Annotator, type EvalContext, type RangeSeries, type Sample, type Value } from './values.js';

/** Range functions that read native histograms beside floats (functions.ts evaluates both). */
export const RANGE_READS_HISTOGRAMS = new Set([
  'rate', 'increase', 'delta', 'irate', 'idelta', 'resets', 'changes', 'sum_over_time', 'avg_over_time', 'count_over_time', 'present_over_time',
  'last_over_time', 'first_over_time', 'ts_of_last_over_time', 'ts_of_first_over_time',
]);

/** Range functions of floats that leave native histograms out, with an info where a window holds both. */
export const FLOAT_RANGE_FUNCTIONS = new Set([
  'deriv', 'predict_linear', 'double_exponential_smoothing', 'stddev_over_time', 'stdvar_over_time', 'mad_over_time', 'quantile_over_time',
  'min_over_time', 'max_over_time', 'ts_of_min_over_time', 'ts_of_max_over_time',
]);

type Point = { t: number; v: number; h: NativeHistogram | undefined };

/** A window's floats and histograms together, in time order. */
function mergedPoints(floats: ReadonlyArray<readonly [number, number]>, hs: readonly NativeHistogram[]): Point[] {
  return [...floats.map(([pt, v]): Point => ({ t: pt, v, h: undefined })), ...hs.map((h): Point => ({ t: h.t, v: NaN, h }))].sort((x, y) => x.t - y.t);
}

/** How many neighbouring points of a window `differ` says are a change (a float next to a histogram always is). */
function countChanges(points: readonly Point[], differ: (p: Point, c: Point) => boolean): number {
  let n = 0;
  for (let i = 1; i < points.length; i++) {
    const [p, c] = [points[i - 1]!, points[i]!];
    if (!p.h !== !c.h || differ(p, c)) n++;
  }
  return n;
}

/** changes() over a window's floats and histograms together (Prometheus's funcChanges). */
function changesOf(floats: ReadonlyArray<readonly [number, number]>, hs: readonly NativeHistogram[]): number {
  return countChanges(mergedPoints(floats, hs), (p, c) => (p.h && c.h ? !equalHistograms(p.h, c.h) : c.v !== p.v && !(Number.isNaN(c.v) && Number.isNaN(p.v))));
}

/** resets() over a window's floats and histograms together (Prometheus's funcResets). */
function resetsOf(floats: ReadonlyArray<readonly [number, number]>, hs: readonly NativeHistogram[]): number {
  return countChanges(mergedPoints(floats, hs), (p, c) => (p.h && c.h ? detectReset(c.h, p.h) : c.v < p.v));
}

/** What a function needs of the evaluator (engine.ts implements it). */
export interface Evaluator extends Annotator {
  eval(e: Expr, t: number, ctx: EvalContext): Value;
  vec(e: Expr, t: number, ctx: EvalContext): Sample[];
  /** Each series' window of a range selector at `t`; `each` must copy what it keeps. */
  windows(m: MatrixSelector, t: number, ctx: EvalContext, each: (w: RangeSeries) => void): void;
  /** Each series' native histograms in a range selector's window at `t` (series with none left out). */
  histogramWindows(m: MatrixSelector, t: number, ctx: EvalContext, each: (labels: Labels, hs: readonly NativeHistogram[]) => void): void;
  /** Each series' sample a vector selector picks at `t`. */
  picked(sel: VectorSelector, t: number, ctx: EvalContext, each: (s: SeriesColumns, i: number) => void): void;
  atTime(at: At | undefined, t: number, ctx: EvalContext): number;
  /** Whether a function's range argument was read through downsampled tiers. */
  isTiered(args: Expr[]): boolean;
  /** A range query (sort is ineffective there). */
  readonly rangeQuery: boolean;
}

/**
 * A vector of classic histogram buckets (`le` series) as histograms: one
 * per label set without `le`, each with its (upper bound,
 * cumulative count) pairs. A series without a valid `le` is left out with
 * a warning, as Prometheus does.
 */
function classicHistograms(ev: Evaluator, samples: readonly Sample[], node: Expr): Array<{ labels: Labels; name: string; b: Array<[number, number]> }> {
  const groups = new Map<string, { labels: Labels; name: string; b: Array<[number, number]> }>();
  for (const s of samples) {
    if (s.h) continue; // native histograms are read on their own
    const le = labelValue(s.labels, 'le');
    const upper = parseBucketBound(le);
    if (upper === undefined) {
      ev.warn(`bucket label "le" is missing or has a malformed value of ${goQuote(le)} for metric name ${goQuote(labelValue(s.labels, NAME))}`, node);
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

/**
 * A histogram function's input as native histograms and classic ones (`le`
 * series grouped). A label set that is both is left out with Prometheus's
 * warning.
 */
function splitHistograms(ev: Evaluator, input: readonly Sample[], node: Expr): { native: Sample[]; classic: ReturnType<typeof classicHistograms> } {
  const native = input.filter((s) => s.h);
  const classic = classicHistograms(ev, input, node);
  if (native.length === 0 || classic.length === 0) return { native, classic };
  const classicKeys = new Set(classic.map((g) => key(g.labels)));
  const mixed = new Set(native.map((s) => key(s.labels)).filter((k) => classicKeys.has(k)));
  if (mixed.size === 0) return { native, classic };
  for (const k of mixed) {
    const name = labelValue(native.find((s) => key(s.labels) === k)!.labels, NAME);
    ev.warn(`vector contains a mix of classic and native histograms for metric name ${goQuote(name)}`, node);
  }
  return { native: native.filter((s) => !mixed.has(key(s.labels))), classic: classic.filter((g) => !mixed.has(key(g.labels))) };
}

/** Per rate/increase/irate call node: the label sets already checked for a counter-like name, and the last one. */
interface CounterChecks {
  last: Labels | undefined;
  labels: WeakSet<Labels>;
}
const counterChecked = new WeakMap<object, CounterChecks>();

/** A call's arguments, a range argument read through parentheses (`rate((m[5m]))`). */
function argsOf(e: Extract<Expr, { kind: 'call' }>): Expr[] {
  return e.args.map((a) => (typeOf(a) === 'matrix' ? unwrapParens(a) : a));
}

function scalarAt(ev: Evaluator, a: Expr, t: number, ctx: EvalContext): number {
  const x = ev.eval(a, t, ctx);
  return x.type === 'scalar' ? x.v : NaN;
}

/** A range function's value over one window; undefined: no sample for this series. */
export type WindowKernel = (s: RangeSeries) => number | undefined;

/**
 * The per-window computation of a function over a range (rate, irate,
 * *_over_time, deriv, …) at `t`, and whether its result keeps the metric
 * name; undefined for any other function. The step evaluation maps it over
 * each series' window; a range query may also run it series by series (fused.ts).
 */
export function rangeKernel(ev: Evaluator, e: Extract<Expr, { kind: 'call' }>, t: number, ctx: EvalContext, args = argsOf(e)): { f: WindowKernel; keepName?: boolean } | undefined {
  const fn = e.fn;
  const scalarArg = (i: number) => scalarAt(ev, args[i]!, t, ctx);
  /** Prometheus's info for a rate over a metric not named like a counter; each series checked once per call node, not at every step. */
  let seen: CounterChecks | undefined;
  const counterCheck = (s: RangeSeries) => {
    seen ??= counterChecked.get(e) ?? counterChecked.set(e, { last: undefined, labels: new WeakSet() }).get(e)!;
    // Windows of one series come one after another (steps, or a fused pass): most checks end here.
    if (seen.last === s.labels) return;
    seen.last = s.labels;
    if (seen.labels.has(s.labels)) return;
    seen.labels.add(s.labels);
    const name = labelValue(s.labels, NAME);
    if (name !== '' && !/(_total|_sum|_count|_bucket)$/.test(name)) ev.info(`metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${goQuote(name)}`, e.args[0]!);
  };
  const rangeOf = () => {
    const a = args.find((x) => typeOf(x) === 'matrix')!;
    return a.kind === 'matrix' ? a.range : (a as Subquery).range;
  };
  const evalTime = () => {
    const a = args.find((x) => typeOf(x) === 'matrix')!;
    const base = a.kind === 'matrix' ? a.vector : (a as Subquery);
    return ev.atTime(base.at, t, ctx) - base.offset;
  };
  switch (fn) {
    case 'rate':
    case 'increase':
    case 'delta': {
      const range = rangeOf();
      const end = evalTime();
      return { f: (s) => {
        if (fn !== 'delta') counterCheck(s);
        return extrapolatedRate(s, end - range, end, fn !== 'delta', fn === 'rate');
      } };
    }
    case 'irate':
    case 'idelta':
      return { f: (s) => {
        if (fn === 'irate') counterCheck(s);
        return instantValue(s, fn === 'irate');
      } };
    // Downsampled reads: points are windows (sums with counts as weights; counts).
    case 'avg_over_time': return { f: (s) => (s.w ? compensatedSum(s.v, s.lo, s.hi) / compensatedSum(s.w, s.lo, s.hi) : floatMean(s.v, s.lo, s.hi)) };
    case 'sum_over_time': return { f: (s) => compensatedSum(s.v, s.lo, s.hi) };
    case 'count_over_time': return { f: (s) => (ev.isTiered(args) ? compensatedSum(s.v, s.lo, s.hi) : s.hi - s.lo) };
    case 'min_over_time': return { f: (s) => { let m = NaN; for (let i = s.lo; i < s.hi; i++) { const b = s.v[i]!; if (Number.isNaN(m) || b < m) m = b; } return m; } };
    case 'max_over_time': return { f: (s) => { let m = NaN; for (let i = s.lo; i < s.hi; i++) { const b = s.v[i]!; if (Number.isNaN(m) || b > m) m = b; } return m; } };
    case 'last_over_time': return { f: (s) => s.v[s.hi - 1], keepName: true };
    case 'first_over_time': return { f: (s) => s.v[s.lo], keepName: true };
    case 'ts_of_last_over_time': return { f: (s) => s.t[s.hi - 1]! / 1000 };
    case 'ts_of_first_over_time': return { f: (s) => s.t[s.lo]! / 1000 };
    // The time of the smallest (largest) value; the last such when several tie.
    case 'ts_of_min_over_time': return { f: (s) => tsOfExtreme(s, (a, b) => a <= b) };
    case 'ts_of_max_over_time': return { f: (s) => tsOfExtreme(s, (a, b) => a >= b) };
    case 'present_over_time': return { f: () => 1 };
    case 'stddev_over_time': return { f: (s) => Math.sqrt(floatVariance(s.v, s.lo, s.hi)) };
    case 'stdvar_over_time': return { f: (s) => floatVariance(s.v, s.lo, s.hi) };
    case 'mad_over_time': return { f: (s) => {
      const vs = windowValues(s);
      if (vs.some(Number.isNaN)) return NaN; // a NaN sample makes the result NaN, not a silently shifted median
      const med = floatQuantile(0.5, vs);
      return floatQuantile(0.5, vs.map((x) => Math.abs(x - med)));
    } };
    case 'quantile_over_time': {
      const q = scalarArg(0);
      if (!(q >= 0 && q <= 1)) ev.warn(`quantile value should be between 0 and 1, got ${goFloat(q)}`, e.args[0]!);
      return { f: (s) => floatQuantile(q, s.v, s.lo, s.hi) };
    }
    case 'changes': return { f: (s) => { let n = 0; for (let i = s.lo + 1; i < s.hi; i++) if (s.v[i] !== s.v[i - 1] && !(Number.isNaN(s.v[i]!) && Number.isNaN(s.v[i - 1]!))) n++; return n; } };
    case 'resets': return { f: (s) => { let n = 0; for (let i = s.lo + 1; i < s.hi; i++) if (s.v[i]! < s.v[i - 1]!) n++; return n; } };
    case 'deriv': return { f: (s) => (s.hi - s.lo < 2 ? undefined : linearRegression(s, s.t[s.lo]!)[0]) };
    case 'predict_linear': {
      const dur = scalarArg(1);
      // The prediction is for the evaluation time plus `dur`, even where `@` or `offset` moved the window.
      const at = t;
      return { f: (s) => { if (s.hi - s.lo < 2) return undefined; const [slope, icept] = linearRegression(s, at); return slope * dur + icept; } };
    }
    case 'double_exponential_smoothing': {
      const sf = scalarArg(1);
      const tf = scalarArg(2);
      if (!(sf > 0 && sf < 1)) throw new QueryError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${sf}`);
      if (!(tf > 0 && tf < 1)) throw new QueryError(`invalid trend factor. Expected: 0 < tf < 1, got: ${tf}`);
      return { f: (s) => holtWinters(s.v.subarray(s.lo, s.hi), sf, tf) };
    }
    default:
      return undefined;
  }
}

/** Evaluate a function call at `t`; its arguments through `ev`, its annotations to `ev`. */
export function callFunction(ev: Evaluator, e: Extract<Expr, { kind: 'call' }>, t: number, ctx: EvalContext): Value {
  const fn = e.fn;
  const args = argsOf(e);
  const scalarArg = (i: number) => scalarAt(ev, args[i]!, t, ctx);
  const stringArg = (i: number) => (unwrapParens(args[i]!) as { value: string }).value;
  const matrix = () => {
    const x = ev.eval(args[args.findIndex((a) => typeOf(a) === 'matrix')]!, t, ctx);
    return x.type === 'matrix' ? x.series : [];
  };
  const overTime = (f: (s: RangeSeries) => number | undefined, keepName = false): Value => {
    const out: Sample[] = [];
    const each = (s: RangeSeries) => {
      const v = f(s);
      if (v !== undefined) out.push({ labels: s.labels, v, drop: !keepName || s.drop });
    };
    const a = args.find((x) => x.kind === 'matrix' || x.kind === 'subquery');
    if (a?.kind === 'matrix') ev.windows(a, t, ctx, each); // straight from the loaded columns, no copies
    else for (const s of matrix()) each(s);
    return { type: 'vector', samples: out };
  };
  // Float functions of a sample leave native histograms out, as Prometheus's do.
  const mapVec = (f: (v: number, s: Sample) => number): Value => ({ type: 'vector', samples: ev.vec(args[0]!, t, ctx).flatMap((s) => (s.h ? [] : [{ labels: s.labels, v: f(s.v, s), drop: true }])) });
  const kernel = rangeKernel(ev, e, t, ctx, args);
  // Native histograms beside the floats of a range selector (or a subquery): a series with
  // both in its window has no result where Prometheus gives none, with its warning.
  const a = args.find((x) => x.kind === 'matrix' || x.kind === 'subquery');
  if (kernel && a && (RANGE_READS_HISTOGRAMS.has(fn) || FLOAT_RANGE_FUNCTIONS.has(fn))) {
    const floats = new Map<string, { out: Sample | undefined; times: number[]; first: [number, number] }>();
    const out: Sample[] = [];
    const eachFloat = (w: RangeSeries) => {
      const v = kernel.f(w);
      const sample = v === undefined ? undefined : { labels: w.labels, v, drop: !kernel.keepName || w.drop };
      if (sample) out.push(sample);
      floats.set(key(w.labels), { out: sample, times: Array.from(w.t.subarray(Math.max(w.lo, w.hi - 2), w.hi)), first: [w.t[w.lo]!, w.v[w.lo]!] });
    };
    const histogramSeries: Array<{ labels: Labels; hs: readonly NativeHistogram[] }> = [];
    // A series' float points in the window (changes() walks them beside its histograms).
    const subquery = a.kind === 'subquery' ? matrix() : undefined;
    const floatPoints = (labels: Labels): Array<[number, number]> => {
      const pts: Array<[number, number]> = [];
      const take = (w: RangeSeries) => {
        if (key(w.labels) === key(labels)) for (let i = w.lo; i < w.hi; i++) pts.push([w.t[i]!, w.v[i]!]);
      };
      if (a.kind === 'matrix') ev.windows(a, t, ctx, take);
      else subquery!.forEach(take);
      return pts;
    };
    if (a.kind === 'matrix') {
      ev.windows(a, t, ctx, eachFloat);
      ev.histogramWindows(a, t, ctx, (labels, hs) => histogramSeries.push({ labels, hs }));
    } else {
      for (const w of subquery!) {
        if (w.hi > w.lo) eachFloat(w);
        if (w.hs?.length) histogramSeries.push({ labels: w.labels, hs: w.hs });
      }
    }
    const name = (labels: Labels) => goQuote(labelValue(labels, NAME));
    const dropFloat = (f: { out: Sample | undefined } | undefined) => {
      if (f?.out) out.splice(out.indexOf(f.out), 1);
    };
    const annotate = (level: 'warn' | 'info', text: string) => (level === 'warn' ? ev.warn(text, a) : ev.info(text, a));
    for (const { labels, hs } of histogramSeries) {
      const f = floats.get(key(labels));
      const push = (h: NativeHistogram) => out.push({ labels, v: NaN, h: { ...h, t }, drop: true });
      const mixed = () => {
        dropFloat(f);
        ev.warn(`encountered a mix of histograms and floats for metric name ${name(labels)}`, a);
      };
      if (FLOAT_RANGE_FUNCTIONS.has(fn)) {
        // Floats only: histograms are left out, with Prometheus's info where floats are there too.
        if (f?.times.length) ev.info(`ignored histograms in a range containing both floats and histograms for metric name ${name(labels)}`, a);
      } else if (fn === 'ts_of_last_over_time' || fn === 'ts_of_first_over_time') {
        dropFloat(f);
        const last = fn === 'ts_of_last_over_time';
        const th = last ? hs[hs.length - 1]!.t : hs[0]!.t;
        const tf = f?.times.length ? (last ? f.times[f.times.length - 1]! : f.first[0]) : th;
        out.push({ labels, v: (last ? Math.max(th, tf) : Math.min(th, tf)) / 1000, drop: true });
      } else if (fn === 'first_over_time') {
        if (f?.times.length && f.first[0] < hs[0]!.t) continue;
        dropFloat(f);
        out.push({ labels, v: NaN, h: { ...hs[0]!, t } });
      } else if (fn === 'changes') {
        // Floats and histograms in time order: a change is a different value, a different histogram, or a change of kind.
        dropFloat(f);
        out.push({ labels, v: changesOf(floatPoints(labels), hs), drop: true });
      } else if (fn === 'count_over_time' || fn === 'present_over_time') {
        dropFloat(f);
        out.push({ labels, v: fn === 'count_over_time' ? hs.length + (f?.times.length ? (f.out?.v ?? 0) : 0) : 1, drop: true });
      } else if (fn === 'last_over_time') {
        // Whichever sample is newer.
        const last = hs[hs.length - 1]!;
        if (f?.times.length && f.times[f.times.length - 1]! > last.t) continue;
        dropFloat(f);
        out.push({ labels, v: NaN, h: { ...last, t } });
      } else if (fn === 'resets') {
        dropFloat(f);
        out.push({ labels, v: resetsOf(f?.times.length ? floatPoints(labels) : [], hs), drop: true });
      } else if (fn === 'irate' || fn === 'idelta') {
        // The last two samples, floats and histograms together.
        const last = [...(f?.times ?? []).map((x) => ({ t: x, h: undefined as NativeHistogram | undefined })), ...hs.slice(-2).map((h) => ({ t: h.t, h }))].sort((x, y) => x.t - y.t).slice(-2);
        if (last.length < 2 || last.every((x) => !x.h)) continue;
        if (!last.every((x) => x.h)) {
          mixed();
          continue;
        }
        dropFloat(f);
        const [p, c] = [last[0]!.h!, last[1]!.h!];
        const interval = c.t - p.t;
        if (interval === 0) continue;
        if (fn === 'irate' && (c.resetHint === 3 || p.resetHint === 3)) ev.warn(`this native histogram metric is not a counter: ${name(labels)}`, a);
        if (fn === 'idelta' && (c.resetHint !== 3 || p.resetHint !== 3)) ev.warn(`this native histogram metric is not a gauge: ${name(labels)}`, a);
        let h = toFloatHistogram(c);
        if (fn === 'idelta' || !detectReset(c, p)) {
          const notes: SumNotes = {};
          try {
            h = addHistograms(c, p, -1, notes);
          } catch (err) {
            if (!(err instanceof IncompatibleSchemas)) throw err;
            ev.warn(`vector contains a mix of histograms with exponential and custom buckets schemas for metric name ${name(labels)}`, a);
            continue;
          }
          if (notes.reconciled) ev.info('mismatched custom buckets were reconciled during subtraction', a);
        }
        if (fn === 'irate') h = scaleHistogram(h, interval / 1000, true);
        push({ ...h, resetHint: 3 });
      } else if (f?.times.length) {
        mixed();
      } else if (fn === 'sum_over_time' || fn === 'avg_over_time') {
        const notes: SumNotes = {};
        try {
          push(fn === 'sum_over_time' ? sumHistograms(hs, notes) : meanHistogram(hs, notes));
        } catch (err) {
          if (!(err instanceof IncompatibleSchemas)) throw err;
          ev.warn(`vector contains a mix of histograms with exponential and custom buckets schemas for metric name ${name(labels)}`, a);
          continue;
        }
        if (notes.collision) ev.warn('conflicting counter resets during histogram aggregation', a);
        if (notes.reconciled) ev.info('mismatched custom buckets were reconciled during aggregation', a);
      } else {
        // rate, increase, delta, over the window (t - range, t] the selector or subquery reads.
        const [at, offset] = a.kind === 'matrix' ? [a.vector.at, a.vector.offset] : [a.at, a.offset];
        const end = ev.atTime(at, t, ctx) - offset;
        const h = histogramRate(hs, end - a.range, end, fn !== 'delta', fn === 'rate', labelValue(labels, NAME), annotate);
        if (h) push(h);
      }
    }
    return { type: 'vector', samples: out };
  }
  if (kernel) return overTime(kernel.f, kernel.keepName);

  switch (fn) {
    case 'absent_over_time': {
      if (matrix().length > 0) return { type: 'vector', samples: [] };
      return { type: 'vector', samples: [{ labels: absentLabels(args[0]!), v: 1 }] };
    }
    case 'absent': {
      if (ev.vec(args[0]!, t, ctx).length > 0) return { type: 'vector', samples: [] };
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
        // A histogram's time is its own; a float's, that of the point the selector picked.
        const times = new Map<string, number>();
        ev.picked(a, t, ctx, (s, i) => times.set(key(s.labels), s.t[i]!));
        const out = ev.vec(a, t, ctx).map((s) => ({ labels: s.labels, v: (s.h ? s.h.t : times.get(key(s.labels))!) / 1000, drop: true }));
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
    case 'histogram_stdvar': {
      // Float samples have no histogram to read: they are left out.
      const of: (h: NativeHistogram) => number =
        fn === 'histogram_count' ? (h) => h.count
        : fn === 'histogram_sum' ? (h) => h.sum
        : fn === 'histogram_avg' ? (h) => h.sum / h.count
        : fn === 'histogram_stdvar' ? (h) => histogramVariance(h)
        : (h) => Math.sqrt(histogramVariance(h));
      return { type: 'vector', samples: ev.vec(args[0]!, t, ctx).flatMap((s) => (s.h ? [{ labels: s.labels, v: of(s.h), drop: true }] : [])) };
    }
    case 'vector': return { type: 'vector', samples: [{ labels: [], v: scalarArg(0) }] };
    case 'scalar': {
      // The one float of the vector (histograms do not count), else NaN.
      const v = ev.vec(args[0]!, t, ctx).filter((x) => !x.h);
      return { type: 'scalar', v: v.length === 1 ? v[0]!.v : NaN };
    }
    case 'sort':
    case 'sort_desc':
    case 'sort_by_label':
    case 'sort_by_label_desc': {
      if (ev.rangeQuery) ev.warn('sort is ineffective for range queries since results are always ordered by labels', e);
      const v = [...ev.vec(args[0]!, t, ctx)];
      // sort and sort_desc order floats: histograms are left out, as Prometheus leaves them.
      if (fn === 'sort' || fn === 'sort_desc') v.splice(0, v.length, ...v.filter((x) => !x.h));
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
      return uniqueLabelSets(ev.vec(args[0]!, t, ctx).map((s) => {
        const m = re.exec(labelValue(s.labels, src));
        if (!m) return s;
        // Setting __name__ keeps it, even where an earlier operation marked it to go.
        return { ...s, labels: setLabel(s.labels, dst, expandTemplate(repl, m)), drop: dst === NAME ? false : s.drop };
      }));
    }
    case 'label_join': {
      const dst = stringArg(1);
      const sep = stringArg(2);
      const srcs = args.slice(3).map((_, i) => stringArg(i + 3));
      return uniqueLabelSets(ev.vec(args[0]!, t, ctx).map((s) => ({ ...s, labels: setLabel(s.labels, dst, srcs.map((n) => labelValue(s.labels, n)).join(sep)), drop: dst === NAME ? false : s.drop })));
    }
    case 'histogram_quantile':
    case 'histogram_quantiles': {
      const many = fn === 'histogram_quantiles';
      const qs = many ? args.slice(2).map((_, i) => scalarArg(i + 2)) : [scalarArg(0)];
      const qLabel = many ? stringArg(1) : '';
      qs.forEach((q, i) => {
        if (!(q >= 0 && q <= 1)) ev.warn(`quantile value should be between 0 and 1, got ${goFloat(q)}`, e.args[many ? i + 2 : 0]!);
      });
      const out: Sample[] = [];
      const arg = e.args[many ? 0 : 1]!;
      const input = ev.vec(args[many ? 0 : 1]!, t, ctx);
      const nanInfo = (s: Sample, what: string) => {
        const name = labelValue(s.labels, NAME);
        ev.info(`input to histogram_quantile has NaN observations, ${what}${name ? ` for metric name ${goQuote(name)}` : ''}`, arg);
      };
      const { native, classic } = splitHistograms(ev, input, arg);
      for (const s of native) {
        for (const q of qs) {
          const { value, info } = histogramQuantile(q, s.h!);
          if (info) nanInfo(s, info === 'nan-result' ? 'result is NaN' : 'result is skewed higher');
          out.push({ labels: many ? setLabel(s.labels, qLabel, openMetricsFloat(q)) : s.labels, v: value, drop: true });
        }
      }
      for (const g of classic) {
        for (const q of qs) {
          const { value, fixed } = bucketQuantile(q, g.b);
          if (fixed) ev.info(`input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name ${goQuote(g.name)}`, e.args[many ? 0 : 1]!);
          out.push({ labels: many ? setLabel(g.labels, qLabel, openMetricsFloat(q)) : g.labels, v: value, drop: true });
        }
      }
      return uniqueLabelSets(out);
    }
    case 'histogram_fraction': {
      const lower = scalarArg(0);
      const upper = scalarArg(1);
      const input = ev.vec(args[2]!, t, ctx);
      const split = splitHistograms(ev, input, e.args[2]!);
      const native = split.native.flatMap((s) => {
        const { value, info } = histogramFraction(lower, upper, s.h!);
        const name = labelValue(s.labels, NAME);
        if (info) ev.info(`input to histogram_fraction has NaN observations, which are excluded from all fractions${name ? ` for metric name ${goQuote(name)}` : ''}`, e.args[2]!);
        return [{ labels: s.labels, v: value, drop: true }];
      });
      return { type: 'vector', samples: [...native, ...split.classic.map((g) => ({ labels: g.labels, v: bucketFraction(lower, upper, g.b), drop: true }))] };
    }
    default:
      throw new QueryError(`function ${fn} is not implemented`);
  }
}
