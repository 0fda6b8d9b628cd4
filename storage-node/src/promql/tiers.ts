/**
 * Reading downsampled tiers for PromQL (docs/format/downsampled.md).
 *
 * A query reads the coarsest tier whose resolution fits it: every range
 * selector spans at least MIN_WINDOWS windows, and each step (the query's,
 * and every subquery's) is at least one window. For the time the tier holds,
 * a selector gets one point per window, in the form its function needs (its
 * *view*); finer tiers and then raw samples fill in the time after it.
 *
 *   rate, increase, irate          the counter-aware running total
 *   count_over_time                window counts (summed by the function)
 *   sum_over_time                  window sums
 *   min_over_time, max_over_time   window minima, maxima
 *   avg_over_time                  window sums with their counts as weights
 *   plain selectors, delta, deriv, predict_linear, idelta, last_over_time, present_over_time
 *                                  window averages
 *   anything else                  raw samples only (no tier)
 */
import { isStale, mergeChunks } from '../chunkenc/merge.js';
import type { SeriesColumns, TenantDB } from '../db/tenant-db.js';
import { CounterStitch } from '../downsample/aggr-chunk.js';
import { COARSEST_FIRST, TIERS } from '../downsample/downsample.js';
import { compareLabelsUtf8 } from '../block/utf8-order.js';
import type { Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';

export type View = 'raw' | 'avg' | 'counter' | 'count' | 'sum' | 'min' | 'max' | 'avgOverTime';

/**
 * Windows a range selector must span for a tier to serve it. Measured: at
 * 4 windows, `rate` over a steady counter stays within 1 % of raw (the
 * extrapolation covers at most one window at each end); at 2 it can miss
 * half the range.
 */
export const MIN_WINDOWS = 4;

/** The view a range selector gets as the argument of `fn`. */
export function rangeView(fn: string | undefined): View {
  switch (fn) {
    case 'rate':
    case 'increase':
    case 'irate':
      return 'counter';
    case 'count_over_time':
      return 'count';
    case 'sum_over_time':
      return 'sum';
    case 'min_over_time':
      return 'min';
    case 'max_over_time':
      return 'max';
    case 'avg_over_time':
      return 'avgOverTime';
    case 'last_over_time':
    case 'present_over_time':
    case 'delta':
    case 'idelta':
    case 'deriv':
    case 'predict_linear':
      return 'avg';
    default:
      return 'raw';
  }
}

/** What a query asks of the data: its step (0: instant), range selectors' ranges and subquery steps (tiered selectors only). */
export interface QueryShape {
  step: number;
  ranges: number[];
  subquerySteps: number[];
}

/** The coarsest resolution, at most `max`, that fits the query (0: raw). */
export function fittingResolution(shape: QueryShape, max = Infinity): number {
  for (const res of COARSEST_FIRST) {
    if (res > max) continue;
    if (shape.ranges.some((r) => r < MIN_WINDOWS * res)) continue;
    if (shape.subquerySteps.some((s) => s < res)) continue;
    if (shape.step > 0 ? shape.step < res : shape.ranges.length === 0) continue;
    return res;
  }
  return 0;
}

/** Where each tier is read: [from, to) per resolution, coarsest first; raw samples from `rawFrom` on. */
export interface TierPlan {
  segments: Array<{ res: number; from: number; to: number }>;
  rawFrom: number;
}

/** The tiers at or below `res` that hold data after `from`, in time order. */
export function planTiers(db: TenantDB, res: number, from: number): TierPlan | undefined {
  const segments: TierPlan['segments'] = [];
  let start = -Infinity;
  for (const r of COARSEST_FIRST) {
    if (r > res) continue;
    const span = db.tierSpan(r);
    if (!span || span.maxTime <= Math.max(start, from)) continue;
    segments.push({ res: r, from: start, to: span.maxTime });
    start = span.maxTime;
  }
  return segments.length ? { segments, rawFrom: start } : undefined;
}

export function tierName(res: number): string {
  return TIERS.find((t) => t.res === res)?.name ?? `${res / 1000}s`;
}

/** The `infos` line saying which tiers a query read. */
export function tierInfo(plan: TierPlan): string {
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const parts = plan.segments.map((s) => `${Number.isFinite(s.from) ? `${iso(s.from)} to ` : 'before '}${iso(s.to)} from the ${tierName(s.res)} downsampled tier`);
  return `isobar: data ${parts.join(', ')}; raw samples after (the query's step and ranges allow ${tierName(plan.segments[0]!.res)} resolution)`;
}

/** Growable columns; values written as bits when they come from raw columns (staleness markers stay markers). */
class Columns {
  t = new Float64Array(64);
  v = new Float64Array(64);
  w: Float64Array | undefined;
  n = 0;
  readonly stitch = new CounterStitch();

  constructor(
    readonly labels: Labels,
    weights: boolean,
  ) {
    if (weights) this.w = new Float64Array(64);
  }

  private room(): void {
    if (this.n < this.t.length) return;
    const grow = (a: Float64Array) => {
      const b = new Float64Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.t = grow(this.t);
    this.v = grow(this.v);
    if (this.w) this.w = grow(this.w);
  }

  push(t: number, v: number, w = 1): void {
    this.room();
    this.t[this.n] = t;
    this.v[this.n] = v;
    if (this.w) this.w[this.n] = w;
    this.n++;
  }

  pushBits(t: number, from: Float64Array, i: number): void {
    this.room();
    this.t[this.n] = t;
    this.v.set(from.subarray(i, i + 1), this.n);
    if (this.w) this.w[this.n] = 1;
    this.n++;
  }
}

/** The parts of [mint, maxt] each resolution serves (for TenantDB.prepare). */
export function tierParts(plan: TierPlan, mint: number, maxt: number): Array<{ res: number; mint: number; maxt: number }> {
  const out = plan.segments.map((s) => ({ res: s.res, mint: Math.max(mint, s.from), maxt: Math.min(maxt, s.to - 1) }));
  out.push({ res: 0, mint: Math.max(mint, plan.rawFrom), maxt });
  return out.filter((p) => p.mint <= p.maxt);
}

/** One selector's series over [mint, maxt] in `view`, read through the tiers of `plan`. */
export function selectTiered(db: TenantDB, matchers: readonly Matcher[], mint: number, maxt: number, view: View, plan: TierPlan): Array<SeriesColumns & { w?: Float64Array }> {
  const series = new Map<string, Columns>();
  const get = (labels: Labels) => {
    const k = labels.join('\xff');
    let c = series.get(k);
    if (!c) series.set(k, (c = new Columns(labels, view === 'avgOverTime')));
    return c;
  };
  for (const seg of plan.segments) {
    const lo = Math.max(mint, seg.from);
    const hi = Math.min(maxt, seg.to - 1);
    if (lo > hi) continue;
    for (const e of db.selectAggregates(matchers, lo, hi, seg.res)) {
      const out = get(e.labels);
      for (const c of e.chunks) {
        let first = -1;
        let last = -1;
        for (let i = 0; i < c.n; i++) {
          if (c.t[i]! < lo || c.t[i]! > hi) continue;
          if (first < 0) first = i;
          last = i;
        }
        if (first < 0) continue;
        // The counter restarts from the raw value at the end of the window before the first one read.
        const before = first === 0 ? 0 : c.counter[first - 1]!;
        const base = out.stitch.begin(c.rawFirst + before) - before;
        for (let i = first; i <= last; i++) {
          const t = c.t[i]!;
          switch (view) {
            case 'counter': out.push(t, base + c.counter[i]!); break;
            case 'count': out.push(t, c.count[i]!); break;
            case 'sum': out.push(t, c.sum[i]!); break;
            case 'min': out.push(t, c.min[i]!); break;
            case 'max': out.push(t, c.max[i]!); break;
            case 'avgOverTime': out.push(t, c.sum[i]!, c.count[i]!); break;
            default: out.push(t, c.sum[i]! / c.count[i]!);
          }
        }
        out.stitch.end(base + c.counter[last]!, last === c.n - 1 ? c.rawLast : c.rawFirst + c.counter[last]!);
      }
    }
  }
  const lo = Math.max(mint, plan.rawFrom);
  if (lo <= maxt) {
    for (const e of db.selectChunks(matchers, lo, maxt)) {
      const cols = mergeChunks(e.chunks, lo, maxt);
      if (cols.n === 0) continue;
      const out = get(e.labels);
      for (let i = 0; i < cols.n; i++) {
        if (view === 'avg') {
          out.pushBits(cols.t[i]!, cols.v, i); // staleness markers kept: plain selectors honour them
          continue;
        }
        if (isStale(cols.v, i)) continue;
        const v = cols.v[i]!;
        out.push(cols.t[i]!, view === 'counter' ? out.stitch.raw(v) : view === 'count' ? 1 : v);
      }
    }
  }
  return [...series.values()]
    .filter((c) => c.n > 0)
    .sort((a, b) => compareLabelsUtf8(a.labels, b.labels))
    .map((c) => ({ labels: c.labels, t: c.t, v: c.v, n: c.n, ...(c.w ? { w: c.w } : {}) }));
}
