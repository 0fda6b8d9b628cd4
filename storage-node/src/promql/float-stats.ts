/**
 * The float arithmetic PromQL's aggregations and `_over_time` functions share,
 * with Prometheus 3's numerics: compensated (Neumaier) sums that survive ±Inf,
 * a mean that falls back to incremental averaging when the sum would
 * overflow, Welford's variance, and quantiles that order NaN first (as Go's
 * sort does), so results agree with Prometheus to the last bit where its
 * tests demand it.
 */

/**
 * One step of a compensated sum: the new sum and compensation. An infinite sum
 * resets the compensation, so Inf + finite stays Inf instead of turning NaN.
 */
export function compensatedAdd(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (t === Infinity || t === -Infinity) return [t, 0];
  if (Math.abs(sum) >= Math.abs(inc)) return [t, c + (sum - t + inc)];
  return [t, c + (inc - t + sum)];
}

/** The compensated sum of values [lo, hi) of `vs`. */
export function compensatedSum(vs: ArrayLike<number>, lo = 0, hi = vs.length): number {
  let sum = 0;
  let c = 0;
  for (let i = lo; i < hi; i++) [sum, c] = compensatedAdd(vs[i]!, sum, c);
  // A compensation can itself overflow where the sum did not: keep the sum then.
  return Number.isFinite(sum + c) || !Number.isFinite(sum) ? sum + c : sum;
}

/**
 * A running mean, one value at a time (floatMean; fused aggregations keep
 * one per group and step): a compensated sum divided by the count while the
 * sum stays finite; from the first value that would overflow it, an
 * incremental mean (so two values near the largest float average to
 * themselves, and an infinite mean is kept rather than turned into NaN).
 */
export class RunningMean {
  private sum = 0;
  private c = 0;
  private mean = 0;
  private incremental = false;
  private count = 0;

  add(f: number): void {
    const count = ++this.count;
    if (!this.incremental) {
      const [s2, c2] = compensatedAdd(f, this.sum, this.c);
      if (count === 1 || Number.isFinite(s2) || Number.isNaN(s2)) {
        this.sum = s2;
        this.c = c2;
        return;
      }
      this.incremental = true;
      this.mean = this.sum / (count - 1);
      this.c /= count - 1;
    }
    const mean = this.mean;
    if (mean === Infinity || mean === -Infinity) {
      // Inf of the same sign, or any finite value, leaves an infinite mean as it is (Inf - Inf would be NaN).
      if ((f === Infinity || f === -Infinity) && mean > 0 === f > 0) return;
      if (Number.isFinite(f)) return;
    }
    const corrected = mean + this.c;
    [this.mean, this.c] = compensatedAdd(f / count - corrected / count, mean, this.c);
  }

  /** The mean of what was added (NaN for nothing). */
  get value(): number {
    if (this.count === 0) return NaN;
    return this.incremental ? this.mean + this.c : (this.sum + this.c) / this.count;
  }
}

/** The mean of values [lo, hi) (RunningMean). */
export function floatMean(vs: ArrayLike<number>, lo = 0, hi = vs.length): number {
  const m = new RunningMean();
  for (let i = lo; i < hi; i++) m.add(vs[i]!);
  return m.value;
}

/**
 * Population variance of values [lo, hi) by Welford's method with
 * compensated running sums (`stdvar_over_time`): identical values give exactly 0.
 */
export function floatVariance(vs: ArrayLike<number>, lo = 0, hi = vs.length): number {
  if (hi <= lo) return NaN;
  let count = 0;
  let mean = 0;
  let cMean = 0;
  let aux = 0;
  let cAux = 0;
  for (let i = lo; i < hi; i++) {
    const f = vs[i]!;
    count++;
    const delta = f - (mean + cMean);
    [mean, cMean] = compensatedAdd(delta / count, mean, cMean);
    [aux, cAux] = compensatedAdd(delta * (f - (mean + cMean)), aux, cAux);
  }
  return (aux + cAux) / count;
}

/** Welford's running variance, as the `stddev`/`stdvar` aggregations keep it per group. */
export class RunningVariance {
  private count = 0;
  private mean = 0;
  private m2 = 0;

  add(f: number): void {
    this.count++;
    if (this.count === 1) {
      // One NaN or ±Inf makes the variance NaN, as in Prometheus (Inf - Inf would hide it for a single value).
      this.mean = f;
      this.m2 = Number.isFinite(f) ? 0 : NaN;
      return;
    }
    const delta = f - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (f - this.mean);
  }

  get variance(): number {
    return this.count === 0 ? NaN : this.m2 / this.count;
  }
}

/** Go's sort order for floats: NaN first, then ascending. */
export function nanFirstAsc(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
  if (Number.isNaN(b)) return 1;
  return a - b;
}

/**
 * Prometheus's quantile: linear interpolation between the closest ranks of the
 * values sorted NaN first; -Inf below 0, +Inf above 1, NaN for a NaN `q`.
 */
export function floatQuantile(q: number, vs: ArrayLike<number>, lo = 0, hi = vs.length): number {
  if (hi <= lo || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const s = Array.prototype.slice.call(vs, lo, hi) as number[];
  s.sort(nanFirstAsc);
  const rank = q * (s.length - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(s.length - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return s[lower]! * (1 - weight) + s[upper]! * weight;
}

/** Sort helper: NaN last, smaller first. */
export function cmpAsc(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a - b;
}

/** Sort helper: NaN last, larger first. */
export function cmpDesc(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return b - a;
}
