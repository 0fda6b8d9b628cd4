/**
 * Native histograms as remote write 1.0 carries them (`prometheus.Histogram`),
 * and Prometheus's rules for a valid one (what its TSDB checks before it
 * appends), so the edge refuses a bad histogram with the rule it broke.
 *
 * Model: integer histograms keep their buckets as deltas, as on the wire (each
 * bucket's count minus the previous one's); float histograms keep absolute
 * counts. Spans are [offset, length] pairs: the first offset is the index of
 * the first bucket, every later one the gap after the previous span.
 */

/** Exponential schemas Prometheus stores; 9..52 it takes and reduces to 8; -53 is custom buckets. */
export const SCHEMA_MIN = -4;
export const SCHEMA_MAX = 8;
export const SCHEMA_MAX_RESERVED = 52;
export const CUSTOM_BUCKETS_SCHEMA = -53;

/** `Histogram.ResetHint`. */
export const RESET_HINTS = ['unknown', 'yes', 'no', 'gauge'] as const;

export interface NativeHistogram {
  /** ms */
  t: number;
  /** Float histogram (`count_float` set): counts are floats and buckets absolute; else integers and bucket deltas. */
  float: boolean;
  count: number;
  sum: number;
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  /** [offset, length] pairs. */
  negativeSpans: number[];
  negativeBuckets: number[];
  positiveSpans: number[];
  positiveBuckets: number[];
  /** Index into RESET_HINTS. */
  resetHint: number;
  /** Upper bounds of the custom buckets (schema -53), the +Inf bucket left implicit. */
  customValues: number[];
}

export function emptyHistogram(): NativeHistogram {
  return {
    t: 0,
    float: false,
    count: 0,
    sum: 0,
    schema: 0,
    zeroThreshold: 0,
    zeroCount: 0,
    negativeSpans: [],
    negativeBuckets: [],
    positiveSpans: [],
    positiveBuckets: [],
    resetHint: 0,
    customValues: [],
  };
}

/**
 * What is wrong with a histogram, in Prometheus's words, or undefined when it
 * is valid. The rules are those of Prometheus's `Validate` (and its remote
 * write receiver's schema check), checked in the same order.
 */
export function histogramProblem(h: NativeHistogram): string | undefined {
  // -9..-5 are reserved, but nothing reduces them to a schema Prometheus stores.
  if (h.schema !== CUSTOM_BUCKETS_SCHEMA && !(h.schema >= SCHEMA_MIN && h.schema <= SCHEMA_MAX_RESERVED)) {
    return `histogram has an invalid schema, which must be between ${SCHEMA_MIN} and ${SCHEMA_MAX} for exponential buckets, or ${CUSTOM_BUCKETS_SCHEMA} for custom buckets, got schema ${h.schema}`;
  }
  let counted = 0;
  if (h.schema === CUSTOM_BUCKETS_SCHEMA) {
    const bounds = customBoundsProblem(h.customValues, h.positiveSpans, h.positiveBuckets.length);
    if (bounds) return `custom buckets: ${bounds}`;
    if (h.zeroCount !== 0) return 'custom buckets: must have zero count of 0';
    if (h.zeroThreshold !== 0) return 'custom buckets: must have zero threshold of 0';
    if (h.negativeSpans.length > 0) return 'custom buckets: must not have negative spans';
    if (h.negativeBuckets.length > 0) return 'custom buckets: must not have negative buckets';
  } else {
    const pos = spansProblem(h.positiveSpans, h.positiveBuckets.length);
    if (pos) return `positive side: ${pos}`;
    const neg = spansProblem(h.negativeSpans, h.negativeBuckets.length);
    if (neg) return `negative side: ${neg}`;
    const negCount = bucketsTotal(h.negativeBuckets, !h.float);
    if (typeof negCount === 'string') return `negative side: ${negCount}`;
    counted += negCount;
    if (h.float && h.zeroCount < 0) return `zero bucket has observation count of ${goValue(h.zeroCount)}: histogram has a bucket whose observation count is negative`;
    if (h.customValues.length > 0) return 'histogram with exponential schema must not have custom bounds';
  }
  if (h.float && h.count < 0) return `observation count is  ${goValue(h.count)}: histogram's observation count is negative`; // two spaces, as Prometheus says it
  const posCount = bucketsTotal(h.positiveBuckets, !h.float);
  if (typeof posCount === 'string') return `positive side: ${posCount}`;
  counted += posCount;
  if (h.float) return undefined; // float histograms: NaN observations may be in the count and in no bucket
  const inBuckets = counted + h.zeroCount;
  if (Number.isNaN(h.sum)) {
    if (inBuckets > h.count) return `${inBuckets} observations found in buckets, but the Count field is ${h.count}: histogram's observation count should be at least the number of observations found in the buckets`;
  } else if (inBuckets !== h.count) {
    return `${inBuckets} observations found in buckets, but the Count field is ${h.count}: histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)`;
  }
  return undefined;
}

function spansProblem(spans: readonly number[], buckets: number): string | undefined {
  let need = 0;
  for (let i = 0; i < spans.length; i += 2) {
    if (i > 0 && spans[i]! < 0) return `span number ${i / 2 + 1} with offset ${spans[i]}: histogram has a span whose offset is negative`;
    need += spans[i + 1]!;
  }
  if (need !== buckets) return `spans need ${need} buckets, have ${buckets} buckets: histogram spans specify different number of buckets than provided`;
  return undefined;
}

/** The observations in a side's buckets, or what is wrong with them (a negative bucket). */
function bucketsTotal(buckets: readonly number[], deltas: boolean): number | string {
  let total = 0;
  let last = 0;
  for (let i = 0; i < buckets.length; i++) {
    const c = deltas ? last + buckets[i]! : buckets[i]!;
    if (c < 0) return `bucket number ${i + 1} has observation count of ${deltas ? c : goValue(c)}: histogram has a bucket whose observation count is negative`;
    last = c;
    total += c;
  }
  return total;
}

function customBoundsProblem(bounds: readonly number[], spans: readonly number[], buckets: number): string | undefined {
  let prev = -Infinity;
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i]!;
    if (Number.isNaN(b)) return 'histogram custom bounds must not be NaN';
    if (i > 0 && b <= prev) return `previous bound is ${goFixed(prev)} and current is ${goFixed(b)}: histogram custom bounds must be in strictly increasing order`;
    prev = b;
  }
  if (prev === Infinity) return 'last +Inf bound must not be explicitly defined: histogram custom bounds must be finite';
  let need = 0;
  let reach = 0;
  for (let i = 0; i < spans.length; i += 2) {
    if (spans[i]! < 0) return `span number ${i / 2 + 1} with offset ${spans[i]}: histogram has a span whose offset is negative`;
    need += spans[i + 1]!;
    reach += spans[i + 1]! + spans[i]!;
  }
  if (need !== buckets) return `spans need ${need} buckets, have ${buckets} buckets: histogram spans specify different number of buckets than provided`;
  // The buckets are the bounds and the implicit +Inf one.
  if (bounds.length + 1 < reach) return `only ${bounds.length} custom bounds defined which is insufficient to cover total span length of ${reach}: histogram custom bounds are too few`;
  return undefined;
}

/** A float as Go's `%f` prints it (six decimals; ±Inf spelled as Go does). */
function goFixed(x: number): string {
  return Number.isFinite(x) ? x.toFixed(6) : x > 0 ? '+Inf' : '-Inf';
}

/** A float64 as Go's `%v` prints it: shortest digits, an exponent below 1e-4 and from 1e6 on (`1.5e+06`). */
function goValue(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const [mantissa, exp] = x.toExponential().split('e') as [string, string];
  const e = Number(exp);
  if (e < -4 || e >= 6) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return String(x);
}

/**
 * A side's buckets as [index, absolute count] pairs, lowest index first
 * (`deltas`: the buckets are deltas, as integer histograms keep them).
 */
export function bucketsOf(spans: readonly number[], buckets: readonly number[], deltas: boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let idx = 0;
  let k = 0;
  let c = 0;
  for (let i = 0; i < spans.length; i += 2) {
    idx += spans[i]!;
    for (let j = 0; j < spans[i + 1]!; j++, idx++, k++) {
      c = deltas ? c + buckets[k]! : buckets[k]!;
      out.push([idx, c]);
    }
  }
  return out;
}

/**
 * The histogram at a lower exponential schema: each bucket added into the one
 * that holds it there (bucket i of schema s lies in bucket ((i - 1) >> (s - t)) + 1
 * of schema t), as Prometheus reduces schemas 9..52 to 8 on ingestion.
 */
export function reduceResolution(h: NativeHistogram, target: number): NativeHistogram {
  if (h.schema <= target || h.schema === CUSTOM_BUCKETS_SCHEMA) return h;
  const shift = h.schema - target;
  const side = (spans: readonly number[], buckets: readonly number[]) => {
    const idx: number[] = [];
    const counts: number[] = [];
    for (const [at, c] of bucketsOf(spans, buckets, !h.float)) {
      const to = ((at - 1) >> shift) + 1;
      if (idx.length && idx[idx.length - 1] === to) counts[counts.length - 1]! += c;
      else {
        idx.push(to);
        counts.push(c);
      }
    }
    const outSpans: number[] = [];
    for (let i = 0; i < idx.length; i++) {
      if (i > 0 && idx[i] === idx[i - 1]! + 1) outSpans[outSpans.length - 1]!++;
      else outSpans.push(i === 0 ? idx[0]! : idx[i]! - idx[i - 1]! - 1, 1);
    }
    const outBuckets = h.float ? counts : counts.map((x, i) => x - (i > 0 ? counts[i - 1]! : 0));
    return { spans: outSpans, buckets: outBuckets };
  };
  const pos = side(h.positiveSpans, h.positiveBuckets);
  const neg = side(h.negativeSpans, h.negativeBuckets);
  return { ...h, schema: target, positiveSpans: pos.spans, positiveBuckets: pos.buckets, negativeSpans: neg.spans, negativeBuckets: neg.buckets };
}

// ---------------------------------------------------------------------------
// Bucket boundaries and float form.

/**
 * 0.5 * 2^(j / 256) for j in [0, 256), built as Prometheus's table is (so the
 * doubles are the same, last bits included): schema s keeps schema s-1's
 * fractions at even positions, and each odd one is its even neighbour times
 * 2^(1/2^s). That ratio is 1.414213562373095 for schema 1 (a bit below
 * Math.SQRT2), and for s >= 2 the square root of the one before, starting
 * from Math.SQRT2. Schema 8's fractions hold every lower schema's.
 */
const FRACTIONS: number[] = (() => {
  let table = [0.5];
  let root = Math.SQRT2;
  for (let s = 1; s <= 8; s++) {
    if (s > 1) root = Math.sqrt(root);
    const ratio = s === 1 ? 1.414213562373095 : root;
    table = table.flatMap((f) => [f, f * ratio]);
  }
  return table;
})();

/** Upper bound of bucket `idx` of an exponential schema (Prometheus's getBound). */
export function exponentialBound(idx: number, schema: number): number {
  if (schema < 0) {
    const exp = idx * 2 ** -schema;
    return exp === 1024 ? Number.MAX_VALUE : 2 ** exp;
  }
  const frac = FRACTIONS[(idx & ((1 << schema) - 1)) << (8 - schema)]!;
  const exp = (idx >> schema) + 1;
  if (frac === 0.5 && exp === 1025) return Number.MAX_VALUE;
  return frac * 2 ** (exp - 1) * 2; // 2 ** 1024 alone would overflow where frac * 2^1024 does not
}

/** A histogram in float form: absolute bucket counts, float flag set (a copy for an integer histogram). */
export function toFloatHistogram(h: NativeHistogram): NativeHistogram {
  if (h.float) return h;
  const abs = (spans: readonly number[], buckets: readonly number[]) => bucketsOf(spans, buckets, true).map(([, c]) => c);
  return { ...h, float: true, positiveBuckets: abs(h.positiveSpans, h.positiveBuckets), negativeBuckets: abs(h.negativeSpans, h.negativeBuckets) };
}
