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
import { isStale, mergeChunks, type SampleColumns } from '../chunkenc/merge.js';
import type { SeriesColumns, TenantDB } from '../db/tenant-db.js';
import { CounterStitch, decodeAggrChunk, type AggrColumn, type AggrColumns, type TierChunk } from '../chunkenc/aggr-chunk.js';
import { COARSEST_FIRST, TIERS } from '../block/meta.js';
import { compareLabelsUtf8 } from '../block/utf8-order.js';
import { labelsKey, type Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import type { NativeHistogram } from '../../../wire/histogram.js';

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

/**
 * The `infos` line saying which tiers a selector read, over the plans of the
 * nodes that answered it: per tier the earliest start and latest end.
 */
export function tierInfo(plans: readonly TierPlan[]): string {
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const used = plans.filter((p) => p.segments.length > 0);
  const spans: TierPlan['segments'] = [];
  for (const res of COARSEST_FIRST) {
    const segs = used.flatMap((p) => p.segments.filter((s) => s.res === res));
    if (segs.length) spans.push({ res, from: Math.min(...segs.map((s) => s.from)), to: Math.max(...segs.map((s) => s.to)) });
  }
  const parts = spans.map((s) => `${Number.isFinite(s.from) ? `${iso(s.from)} to ` : 'before '}${iso(s.to)} from the ${tierName(s.res)} downsampled tier`);
  const differ = new Set(used.map((p) => JSON.stringify(p.segments))).size > 1;
  return `isobar: data ${parts.join(', ')}; raw samples after (the query's step and ranges allow ${tierName(spans[0]!.res)} resolution${differ ? "; the storage nodes' tiers end at different times, each node's raw samples follow its own" : ''})`;
}

/** A plan with no tier: raw samples only. */
export const RAW_PLAN: TierPlan = { segments: [], rawFrom: -Infinity };

/** The plan a node sent with its chunks (wire/chunked-series.ts `tiers`). */
export function planOfTiers(tiers: ReadonlyArray<{ resolution: number; until: number }>): TierPlan {
  const segments = tiers.map((t, i) => ({ res: t.resolution, from: i === 0 ? -Infinity : tiers[i - 1]!.until, to: t.until }));
  return { segments, rawFrom: segments.length ? segments[segments.length - 1]!.to : -Infinity };
}

/** One node's part of a selector: its series' chunks read through its own tier plan. */
export interface TieredChunks {
  plan: TierPlan;
  series: Array<{ labels: Labels; chunks: TierChunk[] }>;
}

/**
 * A selector's series over [mint, maxt] through `plan`: each tier's aggregate
 * chunks for the part it serves, raw chunks after (still compressed: what a
 * node sends a peer, or reads itself). Bucket blocks of those parts only are
 * fetched first.
 */
export async function readTierChunks(db: TenantDB, matchers: readonly Matcher[], mint: number, maxt: number, plan: TierPlan): Promise<TieredChunks> {
  return db.read(mint, maxt, () => tierChunksNow(db, matchers, mint, maxt, plan), [matchers], tierParts(plan, mint, maxt));
}

/**
 * Views a tier's native histograms serve: each window keeps its last
 * histogram (docs/format/downsampled.md), which stands for the window where
 * a counter's change or the latest value is asked (rate, increase, irate,
 * delta, last_over_time, plain selectors), not where every sample counts.
 */
export function tierServesHistograms(view: View): boolean {
  return view === 'counter' || view === 'avg';
}

/**
 * A selector's native histograms over [mint, maxt] on this node: through
 * `plan`'s tiers for the part each serves, raw after (raw only without a
 * plan); per series in time order, sorted by labels. Bucket blocks of those
 * parts only are fetched first.
 */
export async function readHistograms(db: TenantDB, matchers: readonly Matcher[], mint: number, maxt: number, plan: TierPlan = RAW_PLAN): Promise<Array<{ labels: Labels; histograms: NativeHistogram[] }>> {
  const parts = tierParts(plan, mint, maxt);
  return db.read(mint, maxt, () => {
    const series = new Map<string, { labels: Labels; histograms: NativeHistogram[] }>();
    for (const p of parts) {
      for (const e of db.selectHistograms(matchers, p.mint, p.maxt, p.res)) {
        const k = labelsKey(e.labels);
        const have = series.get(k);
        if (have) have.histograms.push(...e.histograms);
        else series.set(k, { labels: e.labels, histograms: [...e.histograms] });
      }
    }
    return [...series.values()].sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  }, [matchers], parts);
}

/** readTierChunks' read, once the bucket blocks are prepared. */
function tierChunksNow(db: TenantDB, matchers: readonly Matcher[], mint: number, maxt: number, plan: TierPlan): TieredChunks {
  const series = new Map<string, { labels: Labels; chunks: TierChunk[] }>();
  const add = (labels: Labels, chunks: TierChunk[]) => {
    const k = labelsKey(labels);
    const e = series.get(k);
    if (e) e.chunks.push(...chunks);
    else series.set(k, { labels, chunks: [...chunks] });
  };
  for (const p of tierParts(plan, mint, maxt)) {
    const part = p.res === 0 ? db.selectChunks(matchers, p.mint, p.maxt) : db.aggregateChunks(matchers, p.mint, p.maxt, p.res);
    for (const e of part) add(e.labels, e.chunks);
  }
  return { plan, series: [...series.values()].sort((a, b) => compareLabelsUtf8(a.labels, b.labels)) };
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

  /** Time of the last point (-Infinity before the first). */
  get lastT(): number {
    return this.n ? this.t[this.n - 1]! : -Infinity;
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

/** The aggregate columns each view reads (besides counts and times, always decoded). */
const COLUMNS_OF: Record<View, ReadonlySet<AggrColumn>> = {
  raw: new Set(),
  counter: new Set(['counter']),
  count: new Set(),
  sum: new Set(['sum']),
  min: new Set(['min']),
  max: new Set(['max']),
  avgOverTime: new Set(['sum']),
  avg: new Set(['sum']),
};

/** A run of one series' points from one node: windows [first, last] of an aggregate chunk, or raw samples. */
type Piece = { start: number } & ({ aggr: AggrColumns; first: number; last: number } | { raw: SampleColumns });

/**
 * One selector's series over [mint, maxt] in `view`, from the chunks each node
 * read through its own tier plan (the evaluating node's first). Each series'
 * runs of points are taken in time order, one counter joined across them; where
 * two nodes hold the same time of a series (its shard moved), the run that
 * starts first keeps it.
 */
export function selectTiered(sources: readonly TieredChunks[], mint: number, maxt: number, view: View): Array<SeriesColumns & { w?: Float64Array }> {
  const bySeries = new Map<string, { labels: Labels; pieces: Piece[] }>();
  const need = COLUMNS_OF[view];
  for (const src of sources) {
    for (const s of src.series) {
      const pieces: Piece[] = [];
      const raw: TierChunk[] = [];
      for (const c of s.chunks) {
        if (!c.resolution) {
          raw.push(c);
          continue;
        }
        const seg = src.plan.segments.find((g) => g.res === c.resolution);
        const lo = Math.max(mint, seg?.from ?? Infinity);
        const hi = Math.min(maxt, (seg?.to ?? -Infinity) - 1);
        if (c.maxT < lo || c.minT > hi) continue;
        const a = decodeAggrChunk(c.data, c.where, need);
        let first = -1;
        let last = -1;
        for (let i = 0; i < a.n; i++) {
          if (a.t[i]! < lo || a.t[i]! > hi) continue;
          if (first < 0) first = i;
          last = i;
        }
        if (first >= 0) pieces.push({ start: a.t[first]!, aggr: a, first, last });
      }
      const lo = Math.max(mint, src.plan.rawFrom);
      if (raw.length && lo <= maxt) {
        const cols = mergeChunks(raw, lo, maxt);
        if (cols.n) pieces.push({ start: cols.t[0]!, raw: cols });
      }
      if (pieces.length === 0) continue;
      const k = labelsKey(s.labels);
      const e = bySeries.get(k);
      if (e) e.pieces.push(...pieces);
      else bySeries.set(k, { labels: s.labels, pieces });
    }
  }
  const out: Array<SeriesColumns & { w?: Float64Array }> = [];
  for (const { labels, pieces } of bySeries.values()) {
    const c = new Columns(labels, view === 'avgOverTime');
    for (const p of pieces.sort((a, b) => a.start - b.start)) {
      if ('aggr' in p) pushWindows(c, p.aggr, p.first, p.last, view);
      else pushRaw(c, p.raw, view);
    }
    if (c.n > 0) out.push({ labels, t: c.t, v: c.v, n: c.n, ...(c.w ? { w: c.w } : {}) });
  }
  return out.sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
}

/** Windows [first, last] of one aggregate chunk, after what `out` holds (the counter joined only in its view: the other views leave it undecoded). */
function pushWindows(out: Columns, a: AggrColumns, first: number, last: number, view: View): void {
  const counter = view === 'counter';
  // The counter restarts from the raw value at the end of the window before the first one read.
  const before = !counter || first === 0 ? 0 : a.counter[first - 1]!;
  const base = counter ? out.stitch.begin(a.rawFirst + before) - before : 0;
  const after = out.lastT;
  for (let i = first; i <= last; i++) {
    const t = a.t[i]!;
    if (t <= after) continue;
    switch (view) {
      case 'counter': out.push(t, base + a.counter[i]!); break;
      case 'count': out.push(t, a.count[i]!); break;
      case 'sum': out.push(t, a.sum[i]!); break;
      case 'min': out.push(t, a.min[i]!); break;
      case 'max': out.push(t, a.max[i]!); break;
      case 'avgOverTime': out.push(t, a.sum[i]!, a.count[i]!); break;
      default: out.push(t, a.sum[i]! / a.count[i]!);
    }
  }
  if (counter) out.stitch.end(base + a.counter[last]!, last === a.n - 1 ? a.rawLast : a.rawFirst + a.counter[last]!);
}

/** Raw samples, after what `out` holds. */
function pushRaw(out: Columns, cols: SampleColumns, view: View): void {
  const after = out.lastT;
  for (let i = 0; i < cols.n; i++) {
    if (cols.t[i]! <= after) continue;
    if (view === 'avg') {
      out.pushBits(cols.t[i]!, cols.v, i); // staleness markers kept: plain selectors honour them
      continue;
    }
    if (isStale(cols.v, i)) continue;
    const v = cols.v[i]!;
    out.push(cols.t[i]!, view === 'counter' ? out.stitch.raw(v) : view === 'count' ? 1 : v);
  }
}
