/**
 * Prometheus remote write 1.0 (`prometheus.WriteRequest`), hand-written because
 * it is the hottest path in the system.
 *
 *   WriteRequest   { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2;
 *                    repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
 *   Label          { string name = 1; string value = 2; }
 *   Sample         { double value = 1; int64 timestamp = 2; }
 *   Exemplar       { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
 *   MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
 *
 * The reader walks a request one TimeSeries at a time and keeps, for each, the
 * byte range of its field in the request: the edge forwards those original
 * bytes to the shard that owns the series (a concatenation of TimeSeries fields
 * is itself a valid WriteRequest), so nothing is re-encoded.
 *
 * Structural damage (truncated fields, bad wire types) throws, since nothing
 * after it can be trusted. Semantic problems (label rules, timestamps) are
 * recorded per series in `problem`, so the caller can keep the valid series of
 * a request and reject only the bad ones.
 */
import { ErrorIds, IsobarError, type ErrorId } from './errors.js';
import { SeriesHasher, seriesHash } from './hash.js';
import { CUSTOM_BUCKETS_SCHEMA, emptyHistogram, histogramProblem, reduceResolution, SCHEMA_MAX, SCHEMA_MIN, type NativeHistogram } from './histogram.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Lossy = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
/** "__name__" as bytes. */
const METRIC_NAME_BYTES = [0x5f, 0x5f, 0x6e, 0x61, 0x6d, 0x65, 0x5f, 0x5f];

/**
 * Most UTF-8 characters an exemplar's label names and values may hold together:
 * OpenMetrics' rule, which Prometheus enforces on every exemplar it stores.
 */
export const EXEMPLAR_MAX_LABEL_CHARS = 128;
/** Longest metric-family name, help text or unit a metadata entry may carry, in bytes (as Mimir's max_metadata_length). */
export const METADATA_MAX_BYTES = 1024;

export interface SeriesProblem {
  id: ErrorId;
  message: string;
}

/** Limits checked while reading (lengths in bytes); each breach is a per-series problem. */
export interface SeriesLimits {
  maxLabelNamesPerSeries: number;
  maxLabelNameLength: number;
  maxLabelValueLength: number;
  /** Most buckets one native histogram may have (0: no limit), as Mimir's max_native_histogram_buckets. */
  maxNativeHistogramBuckets?: number;
  /** 1: over that limit, halve an exponential histogram's resolution until it fits, rather than refuse it (Mimir's reduce_native_histogram_over_max_buckets). */
  reduceNativeHistogramOverMaxBuckets?: number;
}

/** A label set readable one label at a time, and comparable without allocating. */
export interface LabelSource {
  readonly labelCount: number;
  readonly hashHi: number;
  readonly hashLo: number;
  name(i: number): string;
  value(i: number): string;
  /** Does this label set equal the flat, sorted [name, value, ...] list? */
  equalsLabels(flat: readonly string[]): boolean;
}

/**
 * A reusable cursor over one WriteRequest.
 *
 * Validation works on bytes; label strings are decoded only when asked for
 * (`name(i)`, `value(i)`), so the edge, which only validates, hashes and
 * forwards, never builds a string, and the storage node builds them only for
 * series it has not seen.
 *
 * Ownership: the reader never copies `buf`; offsets, `timestamps` and
 * `sampleValues` are reused between series and valid only until the next
 * `next()`. Strings returned are fresh (callers may keep them).
 */
export class WriteRequestReader implements LabelSource {
  /** Byte range [seriesStart, seriesEnd) of the current TimeSeries *field* (tag included). */
  seriesStart = 0;
  seriesEnd = 0;
  labelCount = 0;
  sampleCount = 0;
  timestamps = new Float64Array(64);
  sampleValues = new Float64Array(64);
  histogramCount = 0;
  /** The current series' native histograms, the first `histogramCount` (fresh objects per series). */
  readonly histograms: NativeHistogram[] = [];
  /** Valid exemplars of the current series; invalid ones are counted in `exemplarsDropped` and named in `exemplarProblem`. */
  exemplarCount = 0;
  exemplarTimestamps = new Float64Array(8);
  exemplarValues = new Float64Array(8);
  exemplarsDropped = 0;
  /** First problem of the current series' exemplars; its samples are not affected. */
  exemplarProblem: SeriesProblem | undefined;
  /**
   * Byte ranges [start, end) of the request's MetricMetadata fields (tag
   * included), in order, as `next()` passed them; read one with `readMetadata`.
   */
  readonly metadataRanges: number[] = [];
  /** FNV-1a-64 of the canonical label bytes (see hash.ts), as two uint32 halves. */
  hashHi = 0;
  hashLo = 0;
  /** First semantic problem of the current series, if any. */
  problem: SeriesProblem | undefined;
  /** The current series' labels came out of name order. */
  private unsorted = false;
  /**
   * The current series is not forwarded as sent, the edge writes it anew
   * (`rewrittenSeries`): its labels came unsorted (they are read sorted), or a
   * histogram was reduced to fit the bucket limit.
   */
  needsRewrite = false;

  private pos = 0;
  /** The last 64-bit varint read (varint64). */
  private lo = 0;
  private hi = 0;
  private readonly view: DataView;
  private readonly hasher = new SeriesHasher();
  /** Per label: nameStart, nameEnd, valueStart, valueEnd. */
  private offs = new Int32Array(128);
  /** Per valid exemplar: its first label's index in `exemplarOffs` and its label count. */
  private exemplarLabelAt = new Int32Array(16);
  /** Per exemplar label: nameStart, nameEnd, valueStart, valueEnd. */
  private exemplarOffs = new Int32Array(32);
  private exemplarLabelCount = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly limits?: SeriesLimits,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Advance to the next TimeSeries; false at the end of the request. */
  next(): boolean {
    const buf = this.buf;
    while (this.pos < buf.length) {
      const fieldStart = this.pos;
      const tag = this.varint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === 2) {
        const len = this.varint32();
        const end = this.pos + len;
        if (end > buf.length) this.malformed(fieldStart, 'timeseries runs past the end of the body');
        this.seriesStart = fieldStart;
        this.seriesEnd = end;
        this.readSeries(end);
        this.pos = end;
        return true;
      }
      if (field === 3 && wire === 2) {
        const len = this.varint32();
        if (this.pos + len > buf.length) this.malformed(fieldStart, 'metadata runs past the end of the body');
        this.pos += len;
        this.metadataRanges.push(fieldStart, this.pos);
        continue;
      }
      this.skip(wire, fieldStart, buf.length); // unknown fields
    }
    return false;
  }

  /**
   * The labels of valid exemplar `j` of the current series, as a flat list
   * [name, value, ...] sorted by name (allocates).
   */
  exemplarLabels(j: number): string[] {
    const at = this.exemplarLabelAt[2 * j]!;
    const n = this.exemplarLabelAt[2 * j + 1]!;
    const o = this.exemplarOffs;
    const pairs: Array<[string, string]> = [];
    for (let k = at; k < at + n; k++) {
      pairs.push([utf8Lossy.decode(this.buf.subarray(o[4 * k]!, o[4 * k + 1]!)), utf8Lossy.decode(this.buf.subarray(o[4 * k + 2]!, o[4 * k + 3]!))]);
    }
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return pairs.flat();
  }

  name(i: number): string {
    return utf8Lossy.decode(this.buf.subarray(this.offs[4 * i]!, this.offs[4 * i + 1]!));
  }

  value(i: number): string {
    return utf8Lossy.decode(this.buf.subarray(this.offs[4 * i + 2]!, this.offs[4 * i + 3]!));
  }

  /**
   * The current series as a TimeSeries field written anew from what was read:
   * its samples, valid exemplars and histograms as they stand (reduced to fit
   * the bucket limit, say). Allocates; for the rare series whose bytes cannot
   * be forwarded as sent.
   */
  rewrittenSeries(): Uint8Array {
    const labels = Array.from({ length: this.labelCount }, (_, i): [string, string] => [this.name(i), this.value(i)]);
    const samples = Array.from({ length: this.sampleCount }, (_, i): [number, number] => [this.timestamps[i]!, this.sampleValues[i]!]);
    const exemplars = Array.from({ length: this.exemplarCount }, (_, j) => {
      const flat = this.exemplarLabels(j);
      return { labels: Array.from({ length: flat.length / 2 }, (_, i): [string, string] => [flat[2 * i]!, flat[2 * i + 1]!]), value: this.exemplarValues[j]!, timestampMs: this.exemplarTimestamps[j]! };
    });
    return encodeWriteRequest([{ labels, samples, exemplars, histograms: this.histograms.slice(0, this.histogramCount) }]);
  }

  /** All label names of the current series (allocates). */
  get names(): string[] {
    return Array.from({ length: this.labelCount }, (_, i) => this.name(i));
  }

  /** All label values of the current series (allocates). */
  get values(): string[] {
    return Array.from({ length: this.labelCount }, (_, i) => this.value(i));
  }

  equalsLabels(flat: readonly string[]): boolean {
    if (flat.length !== this.labelCount * 2) return false;
    const o = this.offs;
    for (let i = 0; i < this.labelCount; i++) {
      if (!bytesEqualString(this.buf, o[4 * i]!, o[4 * i + 1]!, flat[2 * i]!)) return false;
      if (!bytesEqualString(this.buf, o[4 * i + 2]!, o[4 * i + 3]!, flat[2 * i + 1]!)) return false;
    }
    return true;
  }

  private readSeries(end: number): void {
    this.labelCount = 0;
    this.unsorted = false;
    this.sampleCount = 0;
    this.histogramCount = 0;
    this.exemplarCount = 0;
    this.exemplarsDropped = 0;
    this.exemplarLabelCount = 0;
    this.exemplarProblem = undefined;
    this.problem = undefined;
    this.needsRewrite = false;
    this.hasher.reset();
    let hasName = false;
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.varint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (wire !== 2) {
        this.skip(wire, at, end);
        continue;
      }
      const len = this.varint32();
      const fend = this.pos + len;
      if (fend > end) this.malformed(at, 'field runs past the end of its timeseries');
      if (field === 1) {
        if (this.readLabel(fend)) hasName = true;
      } else if (field === 2) {
        this.readSample(fend);
      } else if (field === 3) {
        this.readExemplar(fend);
      } else if (field === 4) {
        this.readHistogram(fend);
      }
      this.pos = fend;
    }
    if (this.unsorted && !this.problem) this.sortLabels();
    this.hashHi = this.hasher.hi;
    this.hashLo = this.hasher.lo;
    if (this.problem) return;
    if (!hasName) {
      this.fail(ErrorIds.missingMetricName, `series ${this.describeSeries()} has no metric name (__name__ label)`);
    } else if (this.histogramCount > 0 && this.histogramProblem()) {
      // named by histogramProblem()
    } else if (this.limits && this.labelCount > this.limits.maxLabelNamesPerSeries) {
      this.fail(
        ErrorIds.maxLabelNamesPerSeries,
        `series ${this.describeSeries()} has ${this.labelCount} labels, over the limit of ${this.limits.maxLabelNamesPerSeries} (max_label_names_per_series)`,
      );
    }
  }

  /**
   * Put the current series' labels in name order (they came unsorted), check
   * that no name repeats, and hash them in that order: the series is the one
   * its sorted labels name, and is written anew so (needsRewrite).
   */
  private sortLabels(): void {
    const buf = this.buf;
    const o = this.offs;
    const order = Array.from({ length: this.labelCount }, (_, i) => i).sort((a, b) => compareBytes(buf, o[4 * a]!, o[4 * a + 1]!, o[4 * b]!, o[4 * b + 1]!));
    const sorted = order.flatMap((i) => [o[4 * i]!, o[4 * i + 1]!, o[4 * i + 2]!, o[4 * i + 3]!]);
    o.set(sorted);
    this.hasher.reset();
    for (let i = 0; i < this.labelCount; i++) {
      if (i > 0 && compareBytes(buf, o[4 * i - 4]!, o[4 * i - 3]!, o[4 * i]!, o[4 * i + 1]!) === 0) {
        this.fail(ErrorIds.duplicateLabelNames, `series ${this.describeSeries()} has label ${this.name(i)} more than once`);
        return;
      }
      this.hasher.update(buf, o[4 * i]!, o[4 * i + 1]!);
      this.hasher.updateByte(0xff);
      this.hasher.update(buf, o[4 * i + 2]!, o[4 * i + 3]!);
      this.hasher.updateByte(0xff);
    }
    this.needsRewrite = true;
  }

  /** Read one Label; validates it against the previous one. True when it is __name__. */
  private readLabel(end: number): boolean {
    const buf = this.buf;
    let ns = end;
    let ne = end;
    let vs = end;
    let ve = end;
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.varint32();
      const wire = tag & 7;
      if (wire !== 2) {
        this.skip(wire, at, end);
        continue;
      }
      const len = this.varint32();
      const s = this.pos;
      const e = s + len;
      if (e > end) this.malformed(at, 'label string runs past the end of its label');
      if (tag >>> 3 === 1) {
        ns = s;
        ne = e;
      } else if (tag >>> 3 === 2) {
        vs = s;
        ve = e;
      }
      this.pos = e;
    }
    const i = this.labelCount++;
    if (4 * i + 4 > this.offs.length) {
      const next = new Int32Array(this.offs.length * 2);
      next.set(this.offs);
      this.offs = next;
    }
    const o = this.offs;
    o[4 * i] = ns;
    o[4 * i + 1] = ne;
    o[4 * i + 2] = vs;
    o[4 * i + 3] = ve;

    this.hasher.update(buf, ns, ne);
    this.hasher.updateByte(0xff);
    this.hasher.update(buf, vs, ve);
    this.hasher.updateByte(0xff);

    const isName = bytesEqual(buf, ns, ne, METRIC_NAME_BYTES);
    if (this.problem) return isName;
    const limits = this.limits;
    // Names are Prometheus 3's: any non-empty UTF-8 (its default, utf8 name validation).
    if (ns === ne) {
      this.fail(ErrorIds.invalidLabelName, `series ${this.describeSeries()} has a label with an empty name`);
    } else if (!validUtf8(buf, ns, ne)) {
      this.fail(ErrorIds.invalidUtf8, `a label name of series ${this.describeSeries()} is not valid UTF-8`);
    } else if (!validUtf8(buf, vs, ve)) {
      this.fail(ErrorIds.invalidUtf8, `the value of label ${this.name(i)} of series ${this.describeSeries()} is not valid UTF-8`);
    } else if (vs === ve) {
      this.fail(ErrorIds.emptyLabelValue, `label ${this.name(i)} of series ${this.describeSeries()} has an empty value; omit the label instead`);
    } else if (i > 0) {
      // Unsorted labels are taken, as Prometheus takes them: sorted once the series is read.
      const c = compareBytes(buf, o[4 * i - 4]!, o[4 * i - 3]!, ns, ne);
      if (c === 0) this.fail(ErrorIds.duplicateLabelNames, `series ${this.describeSeries()} has label ${this.name(i)} more than once`);
      else if (c > 0) this.unsorted = true;
    }
    if (!this.problem && limits) {
      if (ne - ns > limits.maxLabelNameLength) {
        this.fail(ErrorIds.labelNameTooLong, `label name ${this.name(i).slice(0, 64)}... is ${ne - ns} bytes, over the limit of ${limits.maxLabelNameLength} (max_label_name_length)`);
      } else if (ve - vs > limits.maxLabelValueLength) {
        this.fail(ErrorIds.labelValueTooLong, `value of label ${this.name(i)} is ${ve - vs} bytes, over the limit of ${limits.maxLabelValueLength} (max_label_value_length)`);
      }
    }
    return isName;
  }

  private readSample(end: number): void {
    let value = 0;
    let ts = 0;
    let tsOk = true;
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.varint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === 1) {
        if (this.pos + 8 > end) this.malformed(at, 'sample value runs past the end of its sample');
        value = this.view.getFloat64(this.pos, true);
        this.pos += 8;
      } else if (field === 2 && wire === 0) {
        const t = this.varint64Signed();
        if (t === undefined) tsOk = false;
        else ts = t;
      } else {
        this.skip(wire, at, end);
      }
    }
    if (this.pos > end) this.malformed(end, 'a varint runs past the end of its sample');
    if (!tsOk && !this.problem) {
      this.fail(ErrorIds.invalidTimestamp, `series ${this.describeSeries()} has a sample timestamp outside ±2^53 ms; timestamps are milliseconds since the Unix epoch`);
    }
    const i = this.sampleCount++;
    if (i === this.timestamps.length) {
      const t2 = new Float64Array(i * 2);
      t2.set(this.timestamps);
      this.timestamps = t2;
      const v2 = new Float64Array(i * 2);
      v2.set(this.sampleValues);
      this.sampleValues = v2;
    }
    this.timestamps[i] = ts;
    this.sampleValues[i] = value;
  }

  /** Read one Histogram into the next reused slot of `histograms`. */
  private readHistogram(end: number): void {
    const h = emptyHistogram();
    this.histograms[this.histogramCount++] = h;
    let tsOk = true;
    let zigzagOk = true;
    const doubles = (into: number[], wire: number, at: number) => {
      if (wire === 1) {
        if (this.pos + 8 > end) this.malformed(at, 'histogram value runs past the end of its histogram');
        into.push(this.view.getFloat64(this.pos, true));
        this.pos += 8;
        return;
      }
      const len = this.varint32();
      const stop = this.pos + len;
      if (stop > end || len % 8 !== 0) this.malformed(at, 'packed doubles of a histogram are cut short');
      for (; this.pos < stop; this.pos += 8) into.push(this.view.getFloat64(this.pos, true));
    };
    const zigzags = (into: number[], wire: number, at: number) => {
      const one = () => {
        const v = this.varintZigzag();
        if (v === undefined) zigzagOk = false;
        into.push(v ?? 0);
      };
      if (wire === 0) return one();
      const len = this.varint32(); // first: `this.pos + this.varint32()` would add the length to the position before it
      const stop = this.pos + len;
      if (stop > end) this.malformed(at, 'packed deltas of a histogram run past its end');
      while (this.pos < stop) one();
      if (this.pos !== stop) this.malformed(at, 'packed deltas of a histogram run past their length');
    };
    const span = (into: number[], at: number) => {
      const len = this.varint32();
      const stop = this.pos + len;
      if (stop > end) this.malformed(at, 'a histogram span runs past its histogram');
      let offset = 0;
      let length = 0;
      while (this.pos < stop) {
        const sat = this.pos;
        const tag = this.varint32();
        if (tag === 0x08) {
          const o = this.varintZigzag();
          if (o === undefined) zigzagOk = false;
          offset = o ?? 0;
        }
        else if (tag === 0x10) length = this.varintUnsigned();
        else this.skip(tag & 7, sat, stop);
      }
      into.push(offset, length);
    };
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.varint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      const double = () => {
        if (this.pos + 8 > end) this.malformed(at, 'histogram value runs past the end of its histogram');
        const v = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return v;
      };
      if (field === 1 && wire === 0) [h.count, h.float] = [this.varintUnsigned(), false];
      else if (field === 2 && wire === 1) [h.count, h.float] = [double(), true];
      else if (field === 3 && wire === 1) h.sum = double();
      else if (field === 4 && wire === 0) h.schema = this.varintZigzag() ?? NaN; // NaN: an invalid schema
      else if (field === 5 && wire === 1) h.zeroThreshold = double();
      else if (field === 6 && wire === 0) h.zeroCount = this.varintUnsigned();
      else if (field === 7 && wire === 1) h.zeroCount = double();
      else if (field === 8 && wire === 2) span(h.negativeSpans, at);
      else if (field === 9 && (wire === 0 || wire === 2)) zigzags(h.negativeBuckets, wire, at);
      else if (field === 10 && (wire === 1 || wire === 2)) doubles(h.negativeBuckets, wire, at);
      else if (field === 11 && wire === 2) span(h.positiveSpans, at);
      else if (field === 12 && (wire === 0 || wire === 2)) zigzags(h.positiveBuckets, wire, at);
      else if (field === 13 && (wire === 1 || wire === 2)) doubles(h.positiveBuckets, wire, at);
      else if (field === 14 && wire === 0) h.resetHint = this.varintUnsigned();
      else if (field === 15 && wire === 0) {
        const t = this.varint64Signed();
        if (t === undefined) tsOk = false;
        else h.t = t;
      } else if (field === 16 && (wire === 1 || wire === 2)) doubles(h.customValues, wire, at);
      else this.skip(wire, at, end);
    }
    if (this.pos > end) this.malformed(end, 'a varint runs past the end of its histogram');
    if (!tsOk) this.fail(ErrorIds.invalidTimestamp, `series ${this.describeSeries()} has a histogram timestamp outside ±2^53 ms; timestamps are milliseconds since the Unix epoch`);
    if (!zigzagOk) this.fail(ErrorIds.invalidNativeHistogram, `series ${this.describeSeries()} has a histogram bucket delta or span offset outside ±2^53`);
  }

  /**
   * The first invalid histogram of the current series, named as a series
   * problem; false when all are valid. Valid ones of schema 9..52 are reduced
   * to schema 8 here, as Prometheus's receiver does.
   */
  private histogramProblem(): boolean {
    for (let k = 0; k < this.histogramCount; k++) {
      const h = this.histograms[k]!;
      const why = histogramProblem(h);
      if (why) {
        this.fail(ErrorIds.invalidNativeHistogram, `series ${this.describeSeries()} has an invalid native histogram at ${new Date(h.t).toISOString()}: ${why}`);
        return true;
      }
      if (h.schema > SCHEMA_MAX) this.histograms[k] = reduceResolution(h, SCHEMA_MAX);
      if (this.bucketLimitProblem(k)) return true;
    }
    return false;
  }

  /**
   * Histogram `k` against the tenant's bucket limit: over it, reduced (when
   * allowed: exponential schemas, one halving of resolution at a time, down to
   * the coarsest schema) or named as a series problem.
   */
  private bucketLimitProblem(k: number): boolean {
    const max = this.limits?.maxNativeHistogramBuckets ?? 0;
    if (max <= 0) return false;
    let h = this.histograms[k]!;
    const buckets = (x: NativeHistogram) => x.positiveBuckets.length + x.negativeBuckets.length;
    const sent = buckets(h);
    if (sent <= max) return false;
    const reduce = this.limits!.reduceNativeHistogramOverMaxBuckets === 1;
    if (reduce && h.schema !== CUSTOM_BUCKETS_SCHEMA) {
      while (buckets(h) > max && h.schema > SCHEMA_MIN) h = reduceResolution(h, h.schema - 1);
      if (buckets(h) <= max) {
        this.histograms[k] = h;
        this.needsRewrite = true;
        return false;
      }
    }
    const why = h.schema === CUSTOM_BUCKETS_SCHEMA || !reduce ? '' : `, and still ${buckets(h)} at the coarsest schema (${SCHEMA_MIN})`;
    this.fail(
      ErrorIds.maxNativeHistogramBuckets,
      `series ${this.describeSeries()} has a native histogram at ${new Date(h.t).toISOString()} with ${sent} buckets, over the limit of ${max} (max_native_histogram_buckets)${why}`,
    );
    return true;
  }

  /**
   * Read one Exemplar. A valid one is kept (its labels as offsets); an invalid
   * one is dropped and named in `exemplarProblem`, and the series stays valid.
   */
  private readExemplar(end: number): void {
    const buf = this.buf;
    let value = 0;
    let ts = 0;
    let tsOk = true;
    const first = this.exemplarLabelCount;
    let bad: SeriesProblem | undefined;
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.varint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === 2) {
        const len = this.varint32();
        const lend = this.pos + len;
        if (lend > end) this.malformed(at, 'exemplar label runs past the end of its exemplar');
        let ns = lend;
        let ne = lend;
        let vs = lend;
        let ve = lend;
        while (this.pos < lend) {
          const lat = this.pos;
          const ltag = this.varint32();
          if ((ltag & 7) !== 2) {
            this.skip(ltag & 7, lat, lend);
            continue;
          }
          const l = this.varint32();
          const e = this.pos + l;
          if (e > lend) this.malformed(lat, 'label string runs past the end of its label');
          if (ltag >>> 3 === 1) [ns, ne] = [this.pos, e];
          else if (ltag >>> 3 === 2) [vs, ve] = [this.pos, e];
          this.pos = e;
        }
        const k = this.exemplarLabelCount++;
        if (4 * k + 4 > this.exemplarOffs.length) this.exemplarOffs = grown(this.exemplarOffs);
        const o = this.exemplarOffs;
        o[4 * k] = ns;
        o[4 * k + 1] = ne;
        o[4 * k + 2] = vs;
        o[4 * k + 3] = ve;
      } else if (field === 2 && wire === 1) {
        if (this.pos + 8 > end) this.malformed(at, 'exemplar value runs past the end of its exemplar');
        value = this.view.getFloat64(this.pos, true);
        this.pos += 8;
      } else if (field === 3 && wire === 0) {
        const t = this.varint64Signed();
        if (t === undefined) tsOk = false;
        else ts = t;
      } else {
        this.skip(wire, at, end);
      }
    }
    if (this.pos > end) this.malformed(end, 'a varint runs past the end of its exemplar');

    // The checks Prometheus makes before it stores an exemplar, and ours on names.
    const o = this.exemplarOffs;
    let chars = 0;
    for (let k = first; k < this.exemplarLabelCount && !bad; k++) {
      const [ns, ne, vs, ve] = [o[4 * k]!, o[4 * k + 1]!, o[4 * k + 2]!, o[4 * k + 3]!];
      if (ns === ne || !validUtf8(buf, ns, ne)) {
        bad = { id: ErrorIds.invalidExemplar, message: `an exemplar of series ${this.describeSeries()} has a label name that is empty or not valid UTF-8` };
      } else if (!validUtf8(buf, vs, ve)) {
        bad = { id: ErrorIds.invalidExemplar, message: `an exemplar of series ${this.describeSeries()} has a label value that is not valid UTF-8` };
      } else {
        chars += ne - ns + utf8Chars(buf, vs, ve);
      }
    }
    if (!bad && chars > EXEMPLAR_MAX_LABEL_CHARS) {
      bad = {
        id: ErrorIds.exemplarLabelsTooLong,
        message: `an exemplar of series ${this.describeSeries()} has labels of ${chars} UTF-8 characters together, over the limit of ${EXEMPLAR_MAX_LABEL_CHARS} (OpenMetrics' and Prometheus's exemplar rule)`,
      };
    }
    if (!bad && !tsOk) bad = { id: ErrorIds.invalidExemplar, message: `an exemplar of series ${this.describeSeries()} has a timestamp outside ±2^53 ms` };
    if (bad) {
      this.exemplarLabelCount = first;
      this.exemplarsDropped++;
      this.exemplarProblem ??= bad;
      return;
    }
    const j = this.exemplarCount++;
    if (j === this.exemplarTimestamps.length) {
      this.exemplarTimestamps = grownF(this.exemplarTimestamps);
      this.exemplarValues = grownF(this.exemplarValues);
    }
    if (2 * j + 2 > this.exemplarLabelAt.length) this.exemplarLabelAt = grown(this.exemplarLabelAt);
    this.exemplarTimestamps[j] = ts;
    this.exemplarValues[j] = value;
    this.exemplarLabelAt[2 * j] = first;
    this.exemplarLabelAt[2 * j + 1] = this.exemplarLabelCount - first;
  }

  /**
   * One MetricMetadata of the request (a range from `metadataRanges`), checked:
   * a problem names the entry and the rule it broke.
   */
  readMetadata(start: number, end: number): MetricMetadata | SeriesProblem {
    const saved = this.pos;
    try {
      return this.metadataAt(start, end);
    } finally {
      this.pos = saved;
    }
  }

  private metadataAt(start: number, end: number): MetricMetadata | SeriesProblem {
    const buf = this.buf;
    this.pos = start;
    this.varint32(); // tag
    const len = this.varint32();
    const stop = this.pos + len;
    if (stop !== end) this.malformed(start, 'metadata length disagrees with its range');
    let type = 0;
    const str: Array<[number, number]> = [[stop, stop], [stop, stop], [stop, stop], [stop, stop], [stop, stop], [stop, stop]];
    while (this.pos < stop) {
      const at = this.pos;
      const tag = this.varint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === 0) {
        type = this.varint64Signed() ?? -1;
      } else if ((field === 2 || field === 4 || field === 5) && wire === 2) {
        const l = this.varint32();
        if (this.pos + l > stop) this.malformed(at, 'metadata string runs past the end of its entry');
        str[field] = [this.pos, this.pos + l];
        this.pos += l;
      } else {
        this.skip(wire, at, stop);
      }
    }
    const text = (f: number) => utf8Lossy.decode(buf.subarray(str[f]![0], str[f]![1]));
    const family = text(2);
    const name = JSON.stringify(family.length > 80 ? family.slice(0, 80) + '...' : family);
    for (const [f, what] of [[2, 'metric family name'], [4, 'help'], [5, 'unit']] as const) {
      const [s, e] = str[f]!;
      if (!validUtf8(buf, s, e)) return { id: ErrorIds.invalidMetadata, message: `the ${what} of metadata for ${name} is not valid UTF-8` };
      if (e - s > METADATA_MAX_BYTES) return { id: ErrorIds.invalidMetadata, message: `the ${what} of metadata for ${name} is ${e - s} bytes, over the limit of ${METADATA_MAX_BYTES}` };
    }
    if (family === '') return { id: ErrorIds.invalidMetadata, message: 'a metadata entry has no metric family name' };
    const typeName = METRIC_TYPES[type];
    if (typeName === undefined) return { id: ErrorIds.invalidMetadata, message: `metadata for ${name} has the unknown metric type ${type}` };
    return { family, type: typeName, help: text(4), unit: text(5) };
  }

  private fail(id: ErrorId, message: string): void {
    if (!this.problem) this.problem = { id, message };
  }

  /** `{__name__="up", job="x"}` of the labels read so far, capped so a hostile series cannot bloat an error. */
  describeSeries(): string {
    const parts: string[] = [];
    for (let i = 0; i < this.labelCount && i < 12; i++) {
      const v = this.value(i);
      parts.push(`${this.name(i)}=${JSON.stringify(v.length > 80 ? v.slice(0, 80) + '...' : v)}`);
    }
    if (this.labelCount > 12) parts.push('...');
    return `{${parts.join(', ')}}`;
  }

  private varint32(): number {
    const buf = this.buf;
    let result = 0;
    let shift = 0;
    const start = this.pos;
    while (true) {
      if (this.pos >= buf.length) this.malformed(start, 'truncated varint');
      const b = buf[this.pos++]!;
      if (shift < 28) result |= (b & 0x7f) << shift;
      else if (shift === 28) result += (b & 0x7f) * 2 ** 28;
      else if ((b & 0x7f) !== 0) this.malformed(start, 'length or tag beyond 2^32');
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 63) this.malformed(start, 'varint longer than 10 bytes');
    }
    // Tags reach 2^32 - 1 (field numbers up to 2^29 - 1); a length that large runs past any body.
    if (result > 0xffffffff) this.malformed(start, 'length or tag beyond 2^32');
    return result >>> 0;
  }

  /** An int64 varint as a number; undefined when outside the safe integer range. */
  private varint64Signed(): number | undefined {
    this.varint64();
    const shi = this.hi | 0;
    if (shi >= 0x200000 || shi < -0x200000) return undefined;
    return shi * 0x100000000 + (this.lo >>> 0);
  }

  /** A uint64 varint as a number (exact below 2^53). */
  private varintUnsigned(): number {
    this.varint64();
    return (this.hi >>> 0) * 0x100000000 + (this.lo >>> 0);
  }

  /** A zigzag (sint32/sint64) varint as a number; undefined when outside ±2^53. */
  private varintZigzag(): number | undefined {
    this.varint64();
    const hi = this.hi >>> 1;
    if (hi >= 0x200000) return undefined;
    const magnitude = hi * 0x100000000 + (((this.lo >>> 1) | ((this.hi & 1) << 31)) >>> 0);
    return this.lo & 1 ? -magnitude - 1 : magnitude;
  }

  /** Read a varint's 64 bits into `lo` and `hi`. */
  private varint64(): void {
    const buf = this.buf;
    const start = this.pos;
    let lo = 0;
    let hi = 0;
    let i = 0;
    let b = 0;
    do {
      if (this.pos >= buf.length) this.malformed(start, 'truncated varint');
      b = buf[this.pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi = (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      i++;
      if (i > 10) this.malformed(start, 'varint longer than 10 bytes');
    } while (b & 0x80);
    this.lo = lo;
    this.hi = hi;
  }

  /** Step over one field whose tag was read at `at`; it must end by `end` (its message's end). */
  private skip(wire: number, at: number, end: number): void {
    switch (wire) {
      case 0:
        this.varint64Signed();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        // The length is read first: `this.pos += this.varint32()` would add it
        // to the position from before the length's own bytes.
        const len = this.varint32();
        this.pos += len;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        this.malformed(at, `unsupported protobuf wire type ${wire}`);
    }
    if (this.pos > end) this.malformed(at, 'field runs past the end of its message');
  }

  private malformed(offset: number, what: string): never {
    throw new IsobarError(ErrorIds.malformedProtobuf, 'bad-data', `body is not a valid prometheus.WriteRequest: ${what} at byte ${offset}`);
  }
}

/** What a MetricMetadata entry says of one metric family. */
export interface MetricMetadata {
  family: string;
  /** Prometheus's name of the type, as `/api/v1/metadata` prints it. */
  type: MetricTypeName;
  help: string;
  unit: string;
}

/** `MetricMetadata.MetricType`, by its number. */
export const METRIC_TYPES = ['unknown', 'counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset'] as const;
export type MetricTypeName = (typeof METRIC_TYPES)[number];

export function isMetadataProblem(m: MetricMetadata | SeriesProblem): m is SeriesProblem {
  return 'id' in m;
}

function grown(a: Int32Array): Int32Array<ArrayBuffer> {
  const next = new Int32Array(a.length * 2);
  next.set(a);
  return next;
}

function grownF(a: Float64Array): Float64Array<ArrayBuffer> {
  const next = new Float64Array(a.length * 2);
  next.set(a);
  return next;
}

/** UTF-8 characters (code points) in b[s,e), which is valid UTF-8. */
function utf8Chars(b: Uint8Array, s: number, e: number): number {
  let n = 0;
  for (let i = s; i < e; i++) if ((b[i]! & 0xc0) !== 0x80) n++;
  return n;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Prometheus's legacy label-name rule, which every PromQL client can quote. */
export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name);
}

export function isValidMetricName(name: string): boolean {
  return METRIC_NAME_RE.test(name);
}

/** Strict UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF), fast on ASCII. */
export function validUtf8(b: Uint8Array, s: number, e: number): boolean {
  let i = s;
  while (i < e) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    try {
      utf8.decode(b.subarray(i, e));
      return true;
    } catch {
      return false;
    }
  }
  return true;
}

function bytesEqual(b: Uint8Array, s: number, e: number, want: readonly number[]): boolean {
  if (e - s !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (b[s + i] !== want[i]) return false;
  return true;
}

/** Byte-wise comparison of b[as,ae) and b[bs,be), as Go compares strings. */
function compareBytes(b: Uint8Array, as: number, ae: number, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let i = 0; i < n; i++) {
    const d = b[as + i]! - b[bs + i]!;
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}

/** Do the UTF-8 bytes b[s,e) spell `str`? Allocation-free for ASCII. */
function bytesEqualString(b: Uint8Array, s: number, e: number, str: string): boolean {
  if (str.length > e - s) return false;
  let p = s;
  for (let k = 0; k < str.length; k++) {
    const c = str.charCodeAt(k);
    if (c >= 0x80) return utf8Lossy.decode(b.subarray(s, e)) === str;
    if (p >= e || b[p++] !== c) return false;
  }
  return p === e;
}

// ---------------------------------------------------------------------------
// Encoding: tests, benchmarks and the storage node's peers use it; never the
// edge's hot path (which forwards original bytes).

export interface SeriesInput {
  /** Label pairs in the order to encode them (sorted, for a valid request). */
  labels: ReadonlyArray<readonly [string, string]>;
  samples: ReadonlyArray<readonly [timestampMs: number, value: number]>;
  exemplars?: ReadonlyArray<ExemplarInput>;
  histograms?: ReadonlyArray<NativeHistogram>;
}

export interface ExemplarInput {
  labels: ReadonlyArray<readonly [string, string]>;
  value: number;
  timestampMs: number;
}

export interface MetadataInput {
  family: string;
  /** Index into METRIC_TYPES. */
  type: number;
  help?: string;
  unit?: string;
}

const textEncoder = new TextEncoder();

/** Growable byte sink for protobuf encoding. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  varint(n: number): void {
    this.ensure(10);
    if (n < 0) {
      // int64 two's complement, 10 bytes.
      let lo = n % 0x100000000;
      let hi = Math.floor(n / 0x100000000);
      lo = lo >>> 0;
      hi = hi >>> 0;
      for (let i = 0; i < 9; i++) {
        this.buf[this.length++] = (lo & 0x7f) | 0x80;
        lo = (lo >>> 7) | ((hi & 0x7f) << 25);
        hi >>>= 7;
      }
      this.buf[this.length++] = lo & 0x01;
      return;
    }
    while (n > 0x7f) {
      this.buf[this.length++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.length++] = n;
  }

  /** Bytes as they are (already encoded fields). */
  raw(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  bytes(field: number, data: Uint8Array): void {
    this.varint((field << 3) | 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  double(field: number, v: number): void {
    this.varint((field << 3) | 1);
    this.fixed64(v);
  }

  /** A bare little-endian double (inside a packed field). */
  fixed64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }

  int64(field: number, v: number): void {
    this.varint(field << 3);
    this.varint(v);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** sint32/sint64 as protobuf's zigzag varint value (exact within ±2^52). */
const zigzag = (n: number) => (n >= 0 ? 2 * n : -2 * n - 1);

/** One Histogram message: integer histograms as count_int and bucket deltas, float ones as count_float and counts. */
export function encodeHistogram(h: NativeHistogram): Uint8Array {
  const w = new ProtoWriter();
  if (h.float) w.double(2, h.count);
  else w.int64(1, h.count);
  w.double(3, h.sum);
  w.int64(4, zigzag(h.schema));
  w.double(5, h.zeroThreshold);
  if (h.float) w.double(7, h.zeroCount);
  else w.int64(6, h.zeroCount);
  const spans = (field: number, list: readonly number[]) => {
    for (let i = 0; i < list.length; i += 2) {
      const sp = new ProtoWriter();
      sp.int64(1, zigzag(list[i]!));
      sp.int64(2, list[i + 1]!);
      w.bytes(field, sp.finish());
    }
  };
  const buckets = (field: number, list: readonly number[]) => {
    if (list.length === 0) return;
    const packed = new ProtoWriter();
    for (const v of list) {
      if (h.float) packed.fixed64(v);
      else packed.varint(zigzag(v));
    }
    w.bytes(field, packed.finish());
  };
  spans(8, h.negativeSpans);
  buckets(h.float ? 10 : 9, h.negativeBuckets);
  spans(11, h.positiveSpans);
  buckets(h.float ? 13 : 12, h.positiveBuckets);
  if (h.resetHint) w.int64(14, h.resetHint);
  w.int64(15, h.t);
  if (h.customValues.length) {
    const packed = new ProtoWriter();
    for (const v of h.customValues) packed.fixed64(v);
    w.bytes(16, packed.finish());
  }
  return w.finish();
}

function encodeLabel(name: string, value: string): Uint8Array {
  const l = new ProtoWriter();
  l.bytes(1, textEncoder.encode(name));
  l.bytes(2, textEncoder.encode(value));
  return l.finish();
}

/** Encode a WriteRequest exactly as given (no sorting, no validation). */
export function encodeWriteRequest(series: ReadonlyArray<SeriesInput>, metadata: ReadonlyArray<MetadataInput> = []): Uint8Array {
  const out = new ProtoWriter();
  for (const s of series) {
    const ts = new ProtoWriter();
    for (const [name, value] of s.labels) ts.bytes(1, encodeLabel(name, value));
    for (const [t, v] of s.samples) {
      const sm = new ProtoWriter();
      sm.double(1, v);
      sm.int64(2, t);
      ts.bytes(2, sm.finish());
    }
    for (const h of s.histograms ?? []) ts.bytes(4, encodeHistogram(h));
    for (const e of s.exemplars ?? []) {
      const ex = new ProtoWriter();
      for (const [name, value] of e.labels) ex.bytes(1, encodeLabel(name, value));
      ex.double(2, e.value);
      ex.int64(3, e.timestampMs);
      ts.bytes(3, ex.finish());
    }
    out.bytes(1, ts.finish());
  }
  for (const m of metadata) {
    const md = new ProtoWriter();
    md.int64(1, m.type);
    md.bytes(2, textEncoder.encode(m.family));
    if (m.help !== undefined) md.bytes(4, textEncoder.encode(m.help));
    if (m.unit !== undefined) md.bytes(5, textEncoder.encode(m.unit));
    out.bytes(3, md.finish());
  }
  return out.finish();
}

/** A LabelSource over plain [name, value] pairs (tests, tools, non-wire callers). */
export class PairLabels implements LabelSource {
  readonly hashHi: number;
  readonly hashLo: number;
  constructor(private readonly pairs: ReadonlyArray<readonly [string, string]>) {
    const h = seriesHash(pairs);
    this.hashHi = h.hi;
    this.hashLo = h.lo;
  }
  get labelCount(): number {
    return this.pairs.length;
  }
  name(i: number): string {
    return this.pairs[i]![0];
  }
  value(i: number): string {
    return this.pairs[i]![1];
  }
  equalsLabels(flat: readonly string[]): boolean {
    if (flat.length !== this.pairs.length * 2) return false;
    return this.pairs.every(([n, v], i) => flat[2 * i] === n && flat[2 * i + 1] === v);
  }
}
