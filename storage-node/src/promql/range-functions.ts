/** The arithmetic of functions over a series' window or value: rate's extrapolation, regression, smoothing, dates. */
import type { RangeSeries } from './values.js';

/** Prometheus's extrapolatedRate, for rate/increase/delta. */
export function extrapolatedRate(s: RangeSeries, rangeStart: number, rangeEnd: number, isCounter: boolean, isRate: boolean): number | undefined {
  return extrapolatedRateOf(s.t, s.v, s.lo, s.hi, s.monotonic === true, rangeStart, rangeEnd, isCounter, isRate);
}

/**
 * extrapolatedRate over the samples [lo, hi) of columns `t`, `v` (`monotonic`:
 * no value below the one before it, so no reset pass). The fused pass calls it
 * on a series' columns directly, without a window object.
 */
export function extrapolatedRateOf(t: Float64Array, v: Float64Array, lo: number, hi: number, monotonic: boolean, rangeStart: number, rangeEnd: number, isCounter: boolean, isRate: boolean): number | undefined {
  const n = hi - lo;
  if (n < 2) return undefined;
  const first = v[lo]!;
  let result = v[hi - 1]! - first;
  if (isCounter && !monotonic) {
    let last = first;
    for (let i = lo + 1; i < hi; i++) {
      const x = v[i]!;
      if (x < last) result += last;
      last = x;
    }
  }
  let durationToStart = (t[lo]! - rangeStart) / 1000;
  let durationToEnd = (rangeEnd - t[hi - 1]!) / 1000;
  const sampled = (t[hi - 1]! - t[lo]!) / 1000;
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

export function instantValue(s: RangeSeries, isRate: boolean): number | undefined {
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
export function linearRegression(s: RangeSeries, at: number): [number, number] {
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

export function holtWinters(v: Float64Array, sf: number, tf: number): number | undefined {
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

/** The time (s) of a window's extreme value: `better(candidate, best)` picks it, the latest among ties. NaN only when all are. */
export function tsOfExtreme(s: RangeSeries, better: (a: number, b: number) => boolean): number {
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

export function dateParts(fn: string, sec: number): number {
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
