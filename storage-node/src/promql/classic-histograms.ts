/** Classic histograms (series of `le` buckets): bounds, the monotonicity fix, quantiles and fractions, as Prometheus computes them. */

/** An `le` label's value as a bucket's upper bound; undefined when missing or not a number. */
export function parseBucketBound(le: string): number | undefined {
  if (le === '') return undefined;
  const t = le.trim().toLowerCase();
  if (t === '+inf' || t === 'inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t === 'nan') return NaN;
  const v = Number(le);
  return le.trim() === '' || Number.isNaN(v) ? undefined : v;
}

/**
 * Classic buckets [(upper bound, cumulative count)] sorted by bound, with
 * buckets of the same bound (`le="1"` and `le="1.0"`) merged; then counts made
 * monotonic as Prometheus makes them: a difference within a relative 1e-12
 * is rounding and ignored, a real decrease is raised to the count before it
 * (`fixed`: the query's info annotation says so).
 */
export function normalizeBuckets(buckets: Array<[number, number]>): { b: Array<[number, number]>; fixed: boolean } {
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
export function bucketQuantile(q: number, buckets: Array<[number, number]>): { value: number; fixed: boolean } {
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
export function bucketFraction(lower: number, upper: number, buckets: Array<[number, number]>): number {
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
