/**
 * Native histograms as PromQL reads them: float counts, buckets with their
 * boundaries, and Prometheus's JSON for a histogram value.
 *
 * Bucket boundaries of exponential schema s are powers of 2^(2^-s): a
 * fraction in [0.5, 1) times a power of two, the fractions built once as
 * Prometheus builds its table, so they are the same doubles.
 */
import type { NativeHistogram } from '../../../wire/histogram.js';
import { bucketsOf, CUSTOM_BUCKETS_SCHEMA } from '../../../wire/histogram.js';
import { jsonFloat } from './format.js';

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
