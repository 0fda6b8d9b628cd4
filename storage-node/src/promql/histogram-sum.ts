/**
 * Adding native histograms, as Prometheus 3 adds them: the one implementation
 * behind `+`/`-` between histograms, sum and avg, sum_over_time and
 * avg_over_time, rate and its kin.
 *
 * A HistogramSum holds a float histogram whose every field (count, sum, zero
 * count, each bucket) carries a compensation term, so long sums keep small
 * terms beside huge ones (Neumaier's variant of Kahan summation, as for
 * floats). Adding reconciles what differs between the two operands:
 * - zero buckets: the narrower one widens to the other's threshold, taking in
 *   the buckets below it (a populated bucket the threshold cuts widens it to
 *   that bucket's edge);
 * - exponential schemas: the finer is reduced to the coarser;
 * - custom bounds that differ: both are mapped onto the bounds they share
 *   (each bucket into the first shared bound at or above its own), and the
 *   caller is told so it can add Prometheus's info.
 * An exponential histogram and one of custom buckets do not add.
 */
import type { NativeHistogram } from '../../../wire/histogram.js';
import { bucketsOf, CUSTOM_BUCKETS_SCHEMA, exponentialBound, toFloatHistogram } from '../../../wire/histogram.js';
import { compensatedAdd } from './float-stats.js';

/** A compensated value: the running sum and its compensation. */
interface Term {
  s: number;
  c: number;
}

/** What an addition had to do, for Prometheus's annotations. */
export interface SumNotes {
  /** Custom bounds that differed were mapped onto the ones both have. */
  reconciled?: boolean;
  /** One side said "counter reset", the other "no counter reset". */
  collision?: boolean;
}

/** An exponential histogram added to one of custom buckets (Prometheus's ErrHistogramsIncompatibleSchema). */
export class IncompatibleSchemas extends Error {
  constructor() {
    super('cannot add a histogram of custom buckets and an exponential one');
  }
}

const HINT_UNKNOWN = 0;
const HINT_GAUGE = 3;

function inc(t: Term, x: number): void {
  [t.s, t.c] = compensatedAdd(x, t.s, t.c);
}

function sorted(m: Map<number, Term>): Array<[number, Term]> {
  return [...m].sort((a, b) => a[0] - b[0]);
}

export class HistogramSum {
  private constructor(
    private schema: number,
    private zeroThreshold: number,
    private customValues: readonly number[],
    private hint: number,
    private readonly count: Term,
    private readonly sum: Term,
    private zero: Term,
    private pos: Map<number, Term>,
    private neg: Map<number, Term>,
  ) {}

  /** A histogram to add to, its values times `k` (−1 to subtract it). */
  static of(h: NativeHistogram, k = 1): HistogramSum {
    const f = toFloatHistogram(h);
    const side = (spans: readonly number[], buckets: readonly number[]) => new Map(bucketsOf(spans, buckets, false).map(([i, c]): [number, Term] => [i, { s: c * k, c: 0 }]));
    return new HistogramSum(f.schema, f.zeroThreshold, f.customValues, f.resetHint, { s: f.count * k, c: 0 }, { s: f.sum * k, c: 0 }, { s: f.zeroCount * k, c: 0 }, side(f.positiveSpans, f.positiveBuckets), side(f.negativeSpans, f.negativeBuckets));
  }

  copy(): HistogramSum {
    const side = (m: Map<number, Term>) => new Map([...m].map(([i, t]): [number, Term] => [i, { ...t }]));
    return new HistogramSum(this.schema, this.zeroThreshold, this.customValues, this.hint, { ...this.count }, { ...this.sum }, { ...this.zero }, side(this.pos), side(this.neg));
  }

  /** Add `h` (sign −1: subtract it). Throws IncompatibleSchemas for exponential and custom buckets together. */
  add(h: NativeHistogram, sign: 1 | -1 = 1, notes?: SumNotes): this {
    const o = HistogramSum.of(h, sign);
    const custom = this.schema === CUSTOM_BUCKETS_SCHEMA;
    if (custom !== (o.schema === CUSTOM_BUCKETS_SCHEMA)) throw new IncompatibleSchemas();
    if (this.adjustHint(o.hint) && notes) notes.collision = true;
    if (custom) {
      if (o.customValues.length === this.customValues.length && o.customValues.every((v, i) => v === this.customValues[i])) {
        addSide(this.pos, o.pos);
      } else {
        this.reconcileBounds(o);
        if (notes) notes.reconciled = true;
      }
    } else {
      // Zero buckets: whichever threshold is lower rises to the other's, until they agree.
      let oz: Term = { ...o.zero };
      let ot = o.zeroThreshold;
      while (ot !== this.zeroThreshold) {
        if (this.zeroThreshold > ot) ({ zero: oz, threshold: ot } = o.zeroAt(this.zeroThreshold));
        if (ot > this.zeroThreshold) this.widenZero(ot);
      }
      inc(this.zero, oz.s);
      if (oz.c) inc(this.zero, oz.c);
      if (o.schema < this.schema) this.reduceTo(o.schema);
      else if (o.schema > this.schema) o.reduceTo(this.schema);
      addSide(this.pos, o.pos, this.schema, this.zeroThreshold);
      addSide(this.neg, o.neg, this.schema, this.zeroThreshold);
    }
    inc(this.count, o.count.s);
    inc(this.sum, o.sum.s);
    return this;
  }

  /** Multiply (or, `divide`, divide) every value and its compensation by `k`. */
  scale(k: number, divide = false): this {
    const f = (t: Term) => {
      t.s = divide ? t.s / k : t.s * k;
      t.c = divide ? t.c / k : t.c * k;
    };
    [this.count, this.sum, this.zero, ...this.pos.values(), ...this.neg.values()].forEach(f);
    return this;
  }

  /** Whether a value has overflowed to ±Inf (an average then switches to the incremental mean). */
  hasOverflow(): boolean {
    return [this.count, this.sum, this.zero, ...this.pos.values(), ...this.neg.values()].some((t) => t.s === Infinity || t.s === -Infinity);
  }

  /** The sum as a float histogram (each value plus its compensation), without empty buckets. */
  value(t = 0): NativeHistogram {
    const side = (m: Map<number, Term>) => {
      const spans: number[] = [];
      const buckets: number[] = [];
      let prev = 0;
      for (const [idx, term] of sorted(m)) {
        const v = term.s + term.c;
        if (v === 0) continue;
        if (spans.length > 0 && idx === prev + 1) spans[spans.length - 1]!++;
        else spans.push(spans.length === 0 ? idx : idx - prev - 1, 1);
        buckets.push(v);
        prev = idx;
      }
      return { spans, buckets };
    };
    const p = side(this.pos);
    const n = side(this.neg);
    return {
      t,
      float: true,
      schema: this.schema,
      count: this.count.s + this.count.c,
      sum: this.sum.s + this.sum.c,
      zeroThreshold: this.zeroThreshold,
      zeroCount: this.zero.s + this.zero.c,
      positiveSpans: p.spans,
      positiveBuckets: p.buckets,
      negativeSpans: n.spans,
      negativeBuckets: n.buckets,
      customValues: [...this.customValues],
      resetHint: this.hint,
    };
  }

  /** The zero count and threshold this histogram would have with a zero threshold of at least `t`. */
  zeroCountAt(t: number): [number, number] {
    const { zero, threshold } = this.zeroAt(t);
    return [zero.s + zero.c, threshold];
  }

  /** Prometheus's adjustCounterReset: the hint of a sum; true on a reset/no-reset collision. */
  private adjustHint(other: number): boolean {
    const h = this.hint;
    if (other === h || h === HINT_GAUGE || h === HINT_UNKNOWN) return false;
    if (other === HINT_GAUGE || other === HINT_UNKNOWN) {
      this.hint = other;
      return false;
    }
    this.hint = HINT_UNKNOWN;
    return true;
  }

  /**
   * The zero count this histogram would have with a threshold of at least
   * `t`, and the threshold it ends at: buckets below join the zero bucket,
   * and a populated bucket the threshold cuts widens it to that bucket's
   * edge (Prometheus's zeroCountForLargerThreshold).
   */
  private zeroAt(t: number): { zero: Term; threshold: number } {
    if (t === this.zeroThreshold) return { zero: { ...this.zero }, threshold: t };
    for (;;) {
      const zero = { ...this.zero };
      let again = false;
      // Positive buckets, then negative ones (by absolute bounds); a widening on the negative side
      // invalidates what the positive side took in, so the pass starts again.
      for (const [side, negative] of [[this.pos, false], [this.neg, true]] as const) {
        for (const [idx, b] of sorted(side)) {
          const [lower, upper] = [exponentialBound(idx - 1, this.schema), exponentialBound(idx, this.schema)];
          if (lower >= t) break;
          inc(zero, b.s);
          if (b.c) inc(zero, b.c);
          if (upper > t) {
            if (b.s !== 0) {
              t = upper;
              again = negative;
            }
            break;
          }
        }
      }
      if (!again) return { zero, threshold: t };
    }
  }

  /** Raise the zero threshold to at least `t`, moving the buckets below it into the zero bucket. */
  private widenZero(t: number): void {
    const { zero, threshold } = this.zeroAt(t);
    this.zero = zero;
    this.zeroThreshold = threshold;
    for (const m of [this.pos, this.neg]) for (const idx of [...m.keys()]) if (exponentialBound(idx - 1, this.schema) < threshold) m.delete(idx);
  }

  /** Merge buckets down to a coarser exponential schema. */
  private reduceTo(target: number): void {
    const shift = this.schema - target;
    const reduce = (m: Map<number, Term>) => {
      const out = new Map<number, Term>();
      for (const [idx, b] of sorted(m)) {
        const to = ((idx - 1) >> shift) + 1;
        const into = out.get(to);
        if (!into) out.set(to, { ...b });
        else {
          inc(into, b.s);
          inc(into, b.c);
        }
      }
      return out;
    };
    this.pos = reduce(this.pos);
    this.neg = reduce(this.neg);
    this.schema = target;
  }

  /** Custom bounds that differ: both sides mapped onto the bounds they share, then added. */
  private reconcileBounds(o: HistogramSum): void {
    const shared = sharedBounds(this.customValues, o.customValues);
    const target = (idx: number, bounds: readonly number[]) => sharedBucket(idx, bounds, shared);
    const out = new Map<number, Term>();
    const into = (idx: number) => {
      let t = out.get(idx);
      if (!t) out.set(idx, (t = { s: 0, c: 0 }));
      return t;
    };
    for (const [idx, b] of sorted(this.pos)) {
      const t = into(target(idx, this.customValues));
      inc(t, b.s);
      inc(t, b.c);
    }
    for (const [idx, b] of sorted(o.pos)) inc(into(target(idx, o.customValues)), b.s);
    for (const [idx, t] of out) if (t.s === 0 && t.c === 0) out.delete(idx);
    this.pos = out;
    this.customValues = shared;
  }
}

/** The custom bounds two histograms share (the +Inf bucket is always shared). */
export function sharedBounds(a: readonly number[], b: readonly number[]): number[] {
  return a.filter((v) => b.includes(v));
}

/** Where bucket `idx` of custom bounds `bounds` goes among `shared` bounds: the first at or above its upper bound (+Inf: the last). */
function sharedBucket(idx: number, bounds: readonly number[], shared: readonly number[]): number {
  if (idx >= bounds.length) return shared.length;
  const j = shared.findIndex((v) => v >= bounds[idx]!);
  return j < 0 ? shared.length : j;
}

/** A custom-bucket histogram's counts on `shared` bounds (one more for +Inf). */
export function countsOnBounds(h: NativeHistogram, shared: readonly number[]): number[] {
  const out = new Array<number>(shared.length + 1).fill(0);
  for (const [idx, c] of bucketsOf(h.positiveSpans, h.positiveBuckets, !h.float)) out[sharedBucket(idx, h.customValues, shared)]! += c;
  return out;
}

/**
 * Add `theirs` into `mine` bucket by bucket. Exponential buckets: their
 * leading buckets inside the zero bucket are left out (their observations
 * are already in the zero count), as Prometheus leaves them.
 */
function addSide(mine: Map<number, Term>, theirs: Map<number, Term>, schema?: number, zeroThreshold = 0): void {
  let leading = schema !== undefined;
  for (const [idx, b] of sorted(theirs)) {
    if (leading && exponentialBound(idx, schema!) <= zeroThreshold) continue;
    leading = false;
    let t = mine.get(idx);
    if (!t) mine.set(idx, (t = { s: 0, c: 0 }));
    inc(t, b.s);
    if (b.c) inc(t, b.c);
  }
}

/** a + b (sign −1: a − b) as one float histogram. */
export function addHistograms(a: NativeHistogram, b: NativeHistogram, sign: 1 | -1 = 1, notes?: SumNotes): NativeHistogram {
  return HistogramSum.of(a).add(b, sign, notes).value(a.t);
}

/**
 * Notes of a sum or mean over many histograms: bounds reconciled on any
 * addition, and a collision where one input says "counter reset" and another
 * "no counter reset" (Prometheus tracks the inputs' hints, not each addition's).
 */
function noteInputs(hs: readonly NativeHistogram[], adds: SumNotes, notes?: SumNotes): void {
  if (!notes) return;
  if (adds.reconciled) notes.reconciled = true;
  if (hs.some((h) => h.resetHint === 1) && hs.some((h) => h.resetHint === 2)) notes.collision = true;
}

/** The sum of histograms, compensated. */
export function sumHistograms(hs: readonly NativeHistogram[], notes?: SumNotes): NativeHistogram {
  const acc = HistogramSum.of(hs[0]!);
  const adds: SumNotes = {};
  for (let k = 1; k < hs.length; k++) acc.add(hs[k]!, 1, adds);
  noteInputs(hs, adds, notes);
  return acc.value(hs[0]!.t);
}

/**
 * The mean of histograms, as Prometheus 3 takes it (avg and avg_over_time):
 * a compensated sum divided by the count while no value overflows; from the
 * first that would, an incremental mean.
 */
export function meanHistogram(hs: readonly NativeHistogram[], notes?: SumNotes): NativeHistogram {
  let sum = HistogramSum.of(hs[0]!);
  let mean: HistogramSum | undefined;
  const adds: SumNotes = {};
  for (let k = 1; k < hs.length; k++) {
    const count = k + 1;
    if (!mean) {
      const trial = sum.copy().add(hs[k]!, 1, adds);
      if (!trial.hasOverflow()) {
        sum = trial;
        continue;
      }
      mean = sum.copy().scale(count - 1, true);
    }
    mean.scale((count - 1) / count);
    mean.add(HistogramSum.of(hs[k]!).scale(count, true).value(0), 1, adds);
  }
  noteInputs(hs, adds, notes);
  return (mean ?? sum.scale(hs.length, true)).value(hs[0]!.t);
}
