/**
 * Native histograms as PromQL reads them: float counts, buckets with their
 * boundaries (wire/histogram.ts exponentialBound), and Prometheus's JSON for
 * a histogram value.
 */
import type { NativeHistogram } from '../../../wire/histogram.js';
import { bucketsOf, CUSTOM_BUCKETS_SCHEMA, exponentialBound, reduceResolution, toFloatHistogram } from '../../../wire/histogram.js';
import { compensatedAdd } from './float-stats.js';
import { countsOnBounds, HistogramSum, IncompatibleSchemas, sharedBounds, type SumNotes } from './histogram-sum.js';
import { goFloat, jsonFloat } from './format.js';
import { goQuote } from './printer.js';

function bound(idx: number, h: NativeHistogram): number {
  if (h.schema !== CUSTOM_BUCKETS_SCHEMA) return exponentialBound(idx, h.schema);
  if (idx === h.customValues.length) return Infinity;
  if (idx === -1) return -Infinity;
  return h.customValues[idx]!;
}

export interface Bucket {
  lower: number;
  upper: number;
  lowerInclusive: boolean;
  upperInclusive: boolean;
  count: number;
}

/**
 * Every bucket from the lowest boundary up: the negative buckets, the zero
 * bucket (when it has a count), the positive buckets, as Prometheus's
 * AllBucketIterator gives them (boundaries clipped to the zero bucket).
 */
export function allBuckets(h: NativeHistogram): Bucket[] {
  const deltas = !h.float;
  const z = h.zeroThreshold;
  const out: Bucket[] = [];
  const custom = h.schema === CUSTOM_BUCKETS_SCHEMA;
  for (const [idx, count] of bucketsOf(h.negativeSpans, h.negativeBuckets, deltas).reverse()) {
    const b = { lower: -bound(idx, h), upper: -bound(idx - 1, h), count, lowerInclusive: false, upperInclusive: false };
    b.lowerInclusive = custom ? idx === 0 : b.lower < 0;
    b.upperInclusive = custom ? true : b.upper > 0;
    if (b.upper < 0 && b.upper > -z) b.upper = -z;
    else if (b.lower > 0 && b.lower < z) b.lower = z;
    out.push(b);
  }
  if (!custom && h.zeroCount > 0) out.push({ lower: -z, upper: z, lowerInclusive: true, upperInclusive: true, count: h.zeroCount });
  for (const [idx, count] of bucketsOf(h.positiveSpans, h.positiveBuckets, deltas)) {
    const b = { lower: bound(idx - 1, h), upper: bound(idx, h), count, lowerInclusive: false, upperInclusive: false };
    b.lowerInclusive = custom ? idx === 0 : b.lower < 0;
    b.upperInclusive = custom ? true : b.upper > 0;
    if (b.lower > 0 && b.lower < z) b.lower = z;
    else if (b.upper < 0 && b.upper > -z) b.upper = -z;
    out.push(b);
  }
  return out;
}

/** `{"count":..,"sum":..,"buckets":[[boundaries, lower, upper, count], ...]}`, empty buckets left out, as Prometheus writes it. */
export function histogramJson(h: NativeHistogram): string {
  let out = `{"count":"${jsonFloat(h.count)}","sum":"${jsonFloat(h.sum)}"`;
  const buckets = allBuckets(h).filter((b) => b.count !== 0);
  if (buckets.length) {
    const rule = (b: Bucket) => (b.lowerInclusive ? (b.upperInclusive ? 3 : 1) : b.upperInclusive ? 0 : 2);
    out += `,"buckets":[${buckets.map((b) => `[${rule(b)},"${jsonFloat(b.lower)}","${jsonFloat(b.upper)}","${jsonFloat(b.count)}"]`).join(',')}]`;
  }
  return out + '}';
}

/** A histogram as Prometheus's FloatHistogram.String writes it (count_values labels): `{count:20, sum:10, [-2,-1):2, (0.5,1]:1}`. */
export function histogramString(h: NativeHistogram): string {
  const f = toFloatHistogram(h);
  const buckets = allBuckets(f)
    .filter((b) => b.count !== 0)
    .map((b) => `, ${b.lowerInclusive ? '[' : '('}${goFloat(b.lower)},${goFloat(b.upper)}${b.upperInclusive ? ']' : ')'}:${goFloat(b.count)}`);
  return `{count:${goFloat(f.count)}, sum:${goFloat(f.sum)}${buckets.join('')}}`;
}

// ---------------------------------------------------------------------------
// Functions of one histogram, as Prometheus 3 computes them.

/** Every bucket from the highest boundary down (Prometheus's AllReverseBucketIterator). */
function allBucketsDown(h: NativeHistogram): Bucket[] {
  return allBuckets(h).reverse();
}

/** Why a function's answer comes with an info annotation (NaN observations). */
export type HistogramInfo = 'nan-result' | 'nan-skew';

/**
 * histogram_quantile of a native histogram: the rank's bucket, interpolated
 * inside it exponentially for exponential buckets and linearly for the zero
 * bucket and custom buckets; counted from the top for q >= 0.5 unless the
 * sum is NaN.
 */
export function histogramQuantile(q: number, h: NativeHistogram): { value: number; info?: HistogramInfo } {
  if (q < 0) return { value: -Infinity };
  if (q > 1) return { value: Infinity };
  if (h.count === 0 || Number.isNaN(q)) return { value: NaN };
  const custom = h.schema === CUSTOM_BUCKETS_SCHEMA;
  const up = Number.isNaN(h.sum) || q < 0.5;
  const buckets = up ? allBuckets(h) : allBucketsDown(h);
  let rank = up ? q * h.count : (1 - q) * h.count;
  let count = 0;
  let i = 0;
  let bucket: Bucket | undefined;
  for (; i < buckets.length; i++) {
    bucket = buckets[i]!;
    if (bucket.count === 0) continue;
    count += bucket.count;
    if (count >= rank) break;
  }
  // No bucket at all (only NaN observations, say): an empty one at zero, as Go's zero value is.
  const b = bucket ? { ...bucket } : { lower: 0, upper: 0, count: 0, lowerInclusive: false, upperInclusive: false };
  if (!custom && b.lower < 0 && b.upper > 0) {
    // The zero bucket of a histogram with observations on one side only lies on that side.
    if (h.negativeBuckets.length === 0 && h.positiveBuckets.length > 0) b.lower = 0;
    else if (h.positiveBuckets.length === 0 && h.negativeBuckets.length > 0) b.upper = 0;
  } else if (custom) {
    if (b.lower === -Infinity) {
      if (b.upper <= 0) return { value: b.upper };
      b.lower = 0;
    } else if (b.upper === Infinity) {
      return { value: b.lower };
    }
  }
  if (count > h.count) count = h.count;
  if (count < rank) {
    // The rank is past every bucket: NaN observations (with a NaN sum), else the top.
    return Number.isNaN(h.sum) ? { value: NaN, info: 'nan-result' } : { value: b.upper };
  }
  rank = up ? rank - (count - b.count) : count - rank;
  let info: HistogramInfo | undefined;
  if (Number.isNaN(h.sum)) {
    for (i++; i < buckets.length; i++) count += buckets[i]!.count;
    if (count < h.count) info = 'nan-skew';
  }
  const fraction = rank / b.count;
  const done = (value: number) => (info ? { value, info } : { value });
  if (custom || (b.lower <= 0 && b.upper >= 0)) return done(b.lower + (b.upper - b.lower) * fraction);
  const logLower = Math.log2(Math.abs(b.lower));
  const logUpper = Math.log2(Math.abs(b.upper));
  if (b.lower > 0) return done(2 ** (logLower + (logUpper - logLower) * fraction));
  return done(-(2 ** (logUpper + (logLower - logUpper) * (1 - fraction))));
}

/**
 * histogram_fraction: the share of observations between `lower` and `upper`,
 * interpolated inside the buckets that hold a limit (exponentially, linearly
 * in the zero bucket and custom buckets).
 */
export function histogramFraction(lower: number, upper: number, h: NativeHistogram): { value: number; info?: 'nan-result' } {
  if (h.count === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return { value: NaN };
  if (lower >= upper) return { value: 0 };
  const custom = h.schema === CUSTOM_BUCKETS_SCHEMA;
  const buckets = allBuckets(h);
  let count = 0;
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  let i = 0;
  for (; i < buckets.length; i++) {
    const b = { ...buckets[i]! };
    count += b.count;
    let zeroBucket = false;
    const linear = (v: number) => (b.lower === -Infinity ? b.count : rank + (b.count * (v - b.lower)) / (b.upper - b.lower));
    const exponential = (v: number) => {
      const logLower = Math.log2(Math.abs(b.lower));
      const logUpper = Math.log2(Math.abs(b.upper));
      const logV = Math.log2(Math.abs(v));
      const fraction = v > 0 ? (logV - logLower) / (logUpper - logLower) : 1 - (logV - logUpper) / (logLower - logUpper);
      return rank + b.count * fraction;
    };
    if (b.lower <= 0 && b.upper >= 0) {
      zeroBucket = true;
      if (h.negativeBuckets.length === 0 && h.positiveBuckets.length > 0) b.lower = 0;
      else if (h.positiveBuckets.length === 0 && h.negativeBuckets.length > 0) b.upper = 0;
    }
    if (!lowerSet && b.lower >= lower) [lowerRank, lowerSet] = [rank, true];
    if (!upperSet && b.lower >= upper) [upperRank, upperSet] = [rank, true];
    if (lowerSet && upperSet) break;
    const interpolate = custom || zeroBucket ? linear : exponential;
    if (!lowerSet && b.lower < lower && b.upper > lower) [lowerRank, lowerSet] = [interpolate(lower), true];
    if (!upperSet && b.lower < upper && b.upper > upper) [upperRank, upperSet] = [interpolate(upper), true];
    if (lowerSet && upperSet) break;
    rank += b.count;
  }
  let info: 'nan-result' | undefined;
  if (Number.isNaN(h.sum)) {
    for (i++; i < buckets.length; i++) count += buckets[i]!.count;
    if (count < h.count) info = 'nan-result';
  } else {
    count = h.count;
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  const value = (upperRank - lowerRank) / h.count;
  return info ? { value, info } : { value };
}

/**
 * histogram_stdvar: the observations' variance, each bucket's observations
 * taken at its middle (arithmetic for custom buckets, geometric for
 * exponential ones, 0 in the zero bucket); histogram_stddev is its root.
 */
export function histogramVariance(h: NativeHistogram): number {
  const mean = h.sum / h.count;
  const custom = h.schema === CUSTOM_BUCKETS_SCHEMA;
  let variance = 0;
  let c = 0;
  for (const b of allBuckets(h)) {
    if (b.count === 0) continue;
    let val: number;
    if (custom) val = (b.upper + b.lower) / 2;
    else if (b.lower <= 0 && b.upper >= 0) val = 0;
    else {
      val = Math.sqrt(b.upper * b.lower);
      if (b.upper < 0) val = -val;
    }
    const delta = val - mean;
    [variance, c] = compensatedAdd(b.count * delta * delta, variance, c);
  }
  return (variance + c) / h.count;
}

// ---------------------------------------------------------------------------
// Arithmetic of histograms.


/** Two histograms the same sample (Prometheus's Equals): schema, zero bucket, counts, sum, custom bounds and every bucket, empty ones included. */
export function equalHistograms(a: NativeHistogram, b: NativeHistogram): boolean {
  const [x, y] = [toFloatHistogram(a), toFloatHistogram(b)];
  const same = (p: readonly number[], q: readonly number[]) => p.length === q.length && p.every((v, i) => Object.is(v, q[i]));
  const sides = (h: NativeHistogram) => [bucketsOf(h.positiveSpans, h.positiveBuckets, false).flat(), bucketsOf(h.negativeSpans, h.negativeBuckets, false).flat()];
  return (
    x.schema === y.schema &&
    x.zeroThreshold === y.zeroThreshold &&
    Object.is(x.zeroCount, y.zeroCount) &&
    Object.is(x.count, y.count) &&
    Object.is(x.sum, y.sum) &&
    same(x.customValues, y.customValues) &&
    sides(x).every((s, i) => same(s, sides(y)[i]!))
  );
}

/** h * k, or (divide) h / k: every count and the sum scaled. */
export function scaleHistogram(h: NativeHistogram, k: number, divide = false): NativeHistogram {
  const f = toFloatHistogram(h);
  const by = (x: number) => (divide ? x / k : x * k);
  // Dividing by zero leaves no buckets, as in Prometheus; a negative factor makes a gauge.
  const none = divide && k === 0;
  return {
    ...f,
    count: by(f.count),
    sum: by(f.sum),
    zeroCount: by(f.zeroCount),
    positiveSpans: none ? [] : f.positiveSpans,
    negativeSpans: none ? [] : f.negativeSpans,
    positiveBuckets: none ? [] : f.positiveBuckets.map(by),
    negativeBuckets: none ? [] : f.negativeBuckets.map(by),
    ...(k < 0 ? { resetHint: 3 } : {}),
  };
}

/**
 * A histogram staleness marker, as Prometheus writes one: a NaN sum and
 * nothing else (JavaScript cannot keep the NaN's payload; the emptiness tells).
 */
export function isStaleHistogram(h: NativeHistogram): boolean {
  return Number.isNaN(h.sum) && h.count === 0 && h.zeroCount === 0 && h.positiveBuckets.length === 0 && h.negativeBuckets.length === 0;
}

// ---------------------------------------------------------------------------
// Counters of histograms: resets and rates.

/**
 * Did the counter reset between `prev` and `curr`: said by curr's hint, or
 * seen (count down, finer schema, other custom bounds, zero bucket narrower or
 * cutting a populated bucket, or any bucket down), as Prometheus's DetectReset.
 */
export function detectReset(curr: NativeHistogram, prev: NativeHistogram): boolean {
  if (curr.resetHint === 1) return true;
  if (curr.resetHint === 2) return false;
  const c = toFloatHistogram(curr);
  const p = toFloatHistogram(prev);
  if (c.count < p.count) return true;
  const custom = c.schema === CUSTOM_BUCKETS_SCHEMA;
  if (custom && p.schema !== CUSTOM_BUCKETS_SCHEMA) return true;
  if (custom && c.customValues.join() !== p.customValues.join()) {
    // Other bounds: a reset if any bucket went down on the bounds both have.
    const shared = sharedBounds(c.customValues, p.customValues);
    const [now, before] = [countsOnBounds(c, shared), countsOnBounds(p, shared)];
    return now.some((n, i) => n < before[i]!);
  }
  if (c.schema > p.schema) return true;
  if (c.zeroThreshold < p.zeroThreshold) return true;
  if (!custom) {
    const [prevZero, threshold] = HistogramSum.of(p).zeroCountAt(c.zeroThreshold);
    if (threshold !== c.zeroThreshold) return true;
    if (c.zeroCount < prevZero) return true;
  }
  const reduced = custom ? p : reduceResolution(p, c.schema);
  for (const [spansC, bucketsC, spansP, bucketsP] of [
    [c.positiveSpans, c.positiveBuckets, reduced.positiveSpans, reduced.positiveBuckets],
    [c.negativeSpans, c.negativeBuckets, reduced.negativeSpans, reduced.negativeBuckets],
  ] as const) {
    const now = new Map(bucketsOf(spansC, bucketsC, false));
    for (const [idx, count] of bucketsOf(spansP, bucketsP, false)) {
      // Buckets inside the zero bucket were compared through it.
      if (!custom && exponentialBound(idx, c.schema) <= c.zeroThreshold) continue;
      if (count > (now.get(idx) ?? 0)) return true;
    }
  }
  return false;
}

/** Where rate and its kin tell the caller what Prometheus would annotate: a warning or an info, its text. */
export type Annotate = (level: 'warn' | 'info', text: string) => void;

/**
 * The change of a counter (or gauge) histogram over its points, corrected for
 * counter resets, at the coarsest schema among them (Prometheus's
 * histogramRate, before extrapolation), with its annotations; undefined when
 * they cannot be combined.
 */
function histogramChange(points: readonly NativeHistogram[], isCounter: boolean, name: string, annotate: Annotate): NativeHistogram | undefined {
  let prev = points[0]!;
  const last = points[points.length - 1]!;
  const mixed = () => annotate('warn', `vector contains a mix of histograms with exponential and custom buckets schemas for metric name ${goQuote(name)}`);
  const notCounter = () => annotate('warn', `this native histogram metric is not a counter: ${goQuote(name)}`);
  if (isCounter && (prev.resetHint === 3 || last.resetHint === 3)) notCounter();
  if (isCounter && points.length > 1 && detectReset(points[1]!, prev)) prev = { ...emptyFloat(), schema: points[1]!.schema, customValues: points[1]!.customValues };
  const custom = prev.schema === CUSTOM_BUCKETS_SCHEMA;
  if ((last.schema === CUSTOM_BUCKETS_SCHEMA) !== custom) return void mixed();
  let minSchema = Math.min(prev.schema, last.schema);
  for (const h of points.slice(1, -1)) {
    if (!isCounter) continue;
    if (h.resetHint === 3) notCounter();
    minSchema = Math.min(minSchema, h.schema);
    if ((h.schema === CUSTOM_BUCKETS_SCHEMA) !== custom) return void mixed();
  }
  const sub: SumNotes = {};
  const sum = HistogramSum.of(custom ? last : reduceResolution(toFloatHistogram(last), minSchema));
  try {
    sum.add(prev, -1, sub);
    if (sub.reconciled) annotate('info', 'mismatched custom buckets were reconciled during subtraction');
    if (isCounter) {
      const add: SumNotes = {};
      for (const curr of points.slice(1)) {
        if (detectReset(curr, prev)) sum.add(prev, 1, add);
        prev = curr;
      }
      if (add.reconciled) annotate('info', 'mismatched custom buckets were reconciled during addition');
    } else if (points[0]!.resetHint !== 3 || last.resetHint !== 3) {
      annotate('warn', `this native histogram metric is not a gauge: ${goQuote(name)}`);
    }
  } catch (e) {
    if (e instanceof IncompatibleSchemas) return void mixed();
    throw e;
  }
  return { ...sum.value(), resetHint: 3 };
}

function emptyFloat(): NativeHistogram {
  return { t: 0, float: true, count: 0, sum: 0, schema: 0, zeroThreshold: 0, zeroCount: 0, negativeSpans: [], negativeBuckets: [], positiveSpans: [], positiveBuckets: [], resetHint: 0, customValues: [] };
}

/**
 * rate / increase / delta of a range of histograms over (rangeStart,
 * rangeEnd], extrapolated as Prometheus extrapolates floats (the count stands
 * in for the value where a counter would reach zero).
 */
export function histogramRate(points: readonly NativeHistogram[], rangeStart: number, rangeEnd: number, isCounter: boolean, isRate: boolean, name = '', annotate: Annotate = () => {}): NativeHistogram | undefined {
  if (points.length < 2) return undefined;
  const change = histogramChange(points, isCounter, name, annotate);
  if (!change) return undefined;
  const firstT = points[0]!.t;
  const lastT = points[points.length - 1]!.t;
  let durationToStart = (firstT - rangeStart) / 1000;
  let durationToEnd = (rangeEnd - lastT) / 1000;
  const sampledInterval = (lastT - firstT) / 1000;
  const averageBetween = sampledInterval / (points.length - 1);
  const threshold = averageBetween * 1.1;
  if (durationToStart >= threshold) durationToStart = averageBetween / 2;
  if (isCounter) {
    let durationToZero = durationToStart;
    const first = points[0]!.count;
    if (change.count > 0 && first >= 0) durationToZero = sampledInterval * (first / change.count);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  if (durationToEnd >= threshold) durationToEnd = averageBetween / 2;
  let factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval;
  if (isRate) factor /= (rangeEnd - rangeStart) / 1000;
  return scaleHistogram(change, factor);
}


// ---------------------------------------------------------------------------
// Trimming (`</`, `>/`).

/** Where the observations left in a part of a bucket sit: geometric middle of exponential buckets, arithmetic of custom ones. */
function midpoint(lower: number, upper: number, positive: boolean, linear: boolean): number {
  if (!Number.isFinite(lower)) {
    if (!Number.isFinite(upper)) return 0;
    return upper > 0 ? upper / 2 : upper;
  }
  if (!Number.isFinite(upper)) return lower;
  if (linear) return (lower + upper) / 2;
  const geo = Math.sqrt(Math.abs(lower * upper));
  return positive ? geo : -geo;
}

/** The share of a bucket's observations below v: linear in custom buckets, exponential in exponential ones. */
function fractionBelow(lower: number, upper: number, v: number, linear: boolean): number {
  if (linear) return (v - lower) / (upper - lower);
  const [logLower, logUpper, logV] = [Math.log2(Math.abs(lower)), Math.log2(Math.abs(upper)), Math.log2(Math.abs(v))];
  return v > 0 ? (logV - logLower) / (logUpper - logLower) : 1 - (logV - logUpper) / (logLower - logUpper);
}

/** A bucket reaching to ±Inf (custom buckets' first or last), trimmed at rhs: what stays, and where. */
function trimInfinite(upperTrim: boolean, lower: number, upper: number, count: number, rhs: number): [number, number] {
  const finiteOr0 = (x: number) => (Number.isFinite(x) ? x : 0);
  if (lower === -Infinity) {
    if (upperTrim) {
      if (rhs >= upper) return [count, 0];
      if (rhs > 0 && upper > 0 && upper !== Infinity) return [(count * rhs) / upper, rhs / 2];
      if (upper <= 0) return [count, rhs];
      return [0, finiteOr0(upper)];
    }
    if (rhs <= lower) return [count, 0];
    if (rhs >= 0 && upper > rhs && upper !== Infinity) return [count * (1 - rhs / upper), (rhs + upper) / 2];
    return [0, finiteOr0(upper)];
  }
  if (upperTrim) return [0, finiteOr0(lower)];
  if (rhs >= lower) return [count, rhs];
  return [0, finiteOr0(lower)];
}

/** One bucket trimmed at rhs: the count it keeps and where those observations sit. */
function trimOne(lower: number, upper: number, count: number, rhs: number, upperTrim: boolean, positive: boolean, custom: boolean): [number, number] {
  const keepAll = upperTrim ? upper <= rhs : lower >= rhs;
  const cut = upperTrim ? lower < rhs : upper > rhs;
  if (keepAll) return [count, midpoint(lower, upper, positive, custom)];
  if (!cut) return [0, 0];
  if (lower === -Infinity || upper === Infinity) return trimInfinite(upperTrim, lower, upper, count, rhs);
  const under = rhs <= lower ? 0 : rhs >= upper ? count : count * fractionBelow(lower, upper, rhs, custom);
  return upperTrim ? [under, midpoint(lower, rhs, positive, custom)] : [count - under, midpoint(rhs, upper, positive, custom)];
}

/**
 * `h </ rhs` (upperTrim) drops the observations above rhs, `h >/ rhs` those
 * below; a bucket the value cuts keeps its share (interpolated as
 * histogram_fraction does), and count and sum are those of what stays, each
 * bucket's part counted at its middle, as Prometheus's TrimBuckets does.
 */
export function trimHistogram(h: NativeHistogram, rhs: number, upperTrim: boolean): NativeHistogram {
  const f = toFloatHistogram(h);
  const custom = f.schema === CUSTOM_BUCKETS_SCHEMA;
  let count = 0;
  let sum = 0;
  let trimmed = false;
  let hasPositive = false;
  let hasNegative = false;
  const side = (spans: readonly number[], buckets: readonly number[], positive: boolean) =>
    bucketsOf(spans, buckets, false).map(([idx, c], i) => {
      if (c === 0) return buckets[i]!;
      if (positive) hasPositive = true;
      else hasNegative = true;
      const [lo, hi] = [bound(idx - 1, f), bound(idx, f)];
      const [keep, mid] = positive ? trimOne(lo, hi, c, rhs, upperTrim, true, custom) : trimOne(-hi, -lo, c, rhs, upperTrim, false, custom);
      count += keep;
      sum += mid * keep;
      if (keep !== c) trimmed = true;
      return keep;
    });
  const positiveBuckets = side(f.positiveSpans, f.positiveBuckets, true);
  const negativeBuckets = side(f.negativeSpans, f.negativeBuckets, false);
  let zeroCount = f.zeroCount;
  if (zeroCount > 0) {
    let [lower, upper] = [-f.zeroThreshold, f.zeroThreshold];
    if (hasNegative && !hasPositive) upper = 0;
    if (hasPositive && !hasNegative) lower = 0;
    let keep: number;
    let mid: number;
    if (upperTrim) {
      if (rhs <= lower) [keep, mid] = [0, 0];
      else if (rhs >= upper) [keep, mid] = [zeroCount, (lower + upper) / 2];
      else [keep, mid] = [(zeroCount * (rhs - lower)) / (upper - lower), (lower + rhs) / 2];
    } else if (rhs <= lower) [keep, mid] = [zeroCount, (lower + upper) / 2];
    else if (rhs >= upper) [keep, mid] = [0, 0];
    else [keep, mid] = [(zeroCount * (upper - rhs)) / (upper - lower), (rhs + upper) / 2];
    if (keep !== zeroCount) trimmed = true;
    zeroCount = keep;
    sum += mid * keep;
    count += keep;
  }
  if (!trimmed) return f;
  return { ...f, count, sum, zeroCount, positiveBuckets, negativeBuckets };
}
