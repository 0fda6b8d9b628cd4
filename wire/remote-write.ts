/**
 * Prometheus remote write 1.0 (`prometheus.WriteRequest`), hand-written because
 * it is the hottest path in the system.
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
 *                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
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
import { SeriesHasher } from './hash.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const METRIC_NAME = '__name__';

export interface SeriesProblem {
  id: ErrorId;
  message: string;
}

/** Limits checked while reading; each breach is a per-series problem. */
export interface SeriesLimits {
  maxLabelNamesPerSeries: number;
  maxLabelNameLength: number;
  maxLabelValueLength: number;
}

/**
 * A reusable cursor over one WriteRequest.
 *
 * Ownership: the reader never copies `buf`; `timestamps`/`values` are reused
 * between series and valid only until the next `next()`. Label strings are
 * fresh per series (callers may keep them).
 */
export class WriteRequestReader {
  /** Byte range [seriesStart, seriesEnd) of the current TimeSeries *field* (tag included). */
  seriesStart = 0;
  seriesEnd = 0;
  /** Flat label list: names[i] = values[i]; wire order, which valid series have sorted. */
  names: string[] = [];
  values: string[] = [];
  sampleCount = 0;
  timestamps = new Float64Array(64);
  sampleValues = new Float64Array(64);
  histogramCount = 0;
  exemplarCount = 0;
  /** FNV-1a-64 of the canonical label bytes (see hash.ts), as two uint32 halves. */
  hashHi = 0;
  hashLo = 0;
  /** First semantic problem of the current series, if any. */
  problem: SeriesProblem | undefined;

  private pos = 0;
  private readonly view: DataView;
  private readonly hasher = new SeriesHasher();

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
      this.skip(wire, fieldStart); // metadata (3) and unknown fields
    }
    return false;
  }

  private readSeries(end: number): void {
    this.names.length = 0;
    this.values.length = 0;
    this.sampleCount = 0;
    this.histogramCount = 0;
    this.exemplarCount = 0;
    this.problem = undefined;
    this.hasher.reset();
    let prevName = '';
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.varint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (wire !== 2) {
        this.skip(wire, at);
        continue;
      }
      const len = this.varint32();
      const fend = this.pos + len;
      if (fend > end) this.malformed(at, 'field runs past the end of its timeseries');
      if (field === 1) {
        this.readLabel(fend, prevName);
        prevName = this.names[this.names.length - 1]!;
      } else if (field === 2) {
        this.readSample(fend);
      } else if (field === 3) {
        this.exemplarCount++;
      } else if (field === 4) {
        this.histogramCount++;
      }
      this.pos = fend;
    }
    this.hashHi = this.hasher.hi;
    this.hashLo = this.hasher.lo;
    if (this.problem) return;
    const nameIdx = this.names.indexOf(METRIC_NAME);
    if (nameIdx < 0) {
      this.fail(ErrorIds.missingMetricName, `series ${this.describeSeries()} has no metric name (__name__ label)`);
    } else if (this.histogramCount > 0) {
      this.fail(
        ErrorIds.nativeHistogramsUnsupported,
        `series ${this.describeSeries()} carries native histogram samples, which Isobar does not ingest yet; send classic histograms (Prometheus: drop send_native_histograms / scrape_native_histograms)`,
      );
    } else if (this.limits && this.names.length > this.limits.maxLabelNamesPerSeries) {
      this.fail(
        ErrorIds.maxLabelNamesPerSeries,
        `series ${this.describeSeries()} has ${this.names.length} labels, over the limit of ${this.limits.maxLabelNamesPerSeries} (max_label_names_per_series)`,
      );
    }
  }

  private readLabel(end: number, prevName: string): void {
    const buf = this.buf;
    let nameStart = -1;
    let nameEnd = -1;
    let valueStart = -1;
    let valueEnd = -1;
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.varint32();
      const wire = tag & 7;
      if (wire !== 2) {
        this.skip(wire, at);
        continue;
      }
      const len = this.varint32();
      const s = this.pos;
      const e = s + len;
      if (e > end) this.malformed(at, 'label string runs past the end of its label');
      if (tag >>> 3 === 1) {
        nameStart = s;
        nameEnd = e;
      } else if (tag >>> 3 === 2) {
        valueStart = s;
        valueEnd = e;
      }
      this.pos = e;
    }
    if (nameStart < 0) nameStart = nameEnd = end;
    if (valueStart < 0) valueStart = valueEnd = end;

    this.hasher.update(buf, nameStart, nameEnd);
    this.hasher.updateByte(0xff);
    this.hasher.update(buf, valueStart, valueEnd);
    this.hasher.updateByte(0xff);

    let name: string;
    let value: string;
    try {
      name = utf8.decode(buf.subarray(nameStart, nameEnd));
      value = utf8.decode(buf.subarray(valueStart, valueEnd));
    } catch {
      this.names.push('');
      this.values.push('');
      this.fail(ErrorIds.invalidUtf8, `a label name or value of series ${this.describeSeries()} is not valid UTF-8`);
      return;
    }
    this.names.push(name);
    this.values.push(value);
    if (this.problem) return;
    const limits = this.limits;
    if (!isValidLabelName(name)) {
      this.fail(ErrorIds.invalidLabelName, `label name ${JSON.stringify(name)} of series ${this.describeSeries()} is invalid: names match [a-zA-Z_][a-zA-Z0-9_]*`);
    } else if (value === '') {
      this.fail(ErrorIds.emptyLabelValue, `label ${name} of series ${this.describeSeries()} has an empty value; omit the label instead`);
    } else if (name === METRIC_NAME && !isValidMetricName(value)) {
      this.fail(ErrorIds.invalidMetricName, `metric name ${JSON.stringify(value)} is invalid: names match [a-zA-Z_:][a-zA-Z0-9_:]*`);
    } else if (prevName !== '' && name === prevName) {
      this.fail(ErrorIds.duplicateLabelNames, `series ${this.describeSeries()} has label ${name} more than once`);
    } else if (prevName !== '' && name < prevName) {
      this.fail(ErrorIds.unsortedLabels, `labels of series ${this.describeSeries()} are not sorted by name (${name} after ${prevName}); remote write requires sorted labels`);
    } else if (limits && name.length > limits.maxLabelNameLength) {
      this.fail(ErrorIds.labelNameTooLong, `label name ${name.slice(0, 64)}... is ${name.length} characters, over the limit of ${limits.maxLabelNameLength} (max_label_name_length)`);
    } else if (limits && value.length > limits.maxLabelValueLength) {
      this.fail(ErrorIds.labelValueTooLong, `value of label ${name} is ${value.length} characters, over the limit of ${limits.maxLabelValueLength} (max_label_value_length)`);
    }
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
        this.skip(wire, at);
      }
    }
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

  private fail(id: ErrorId, message: string): void {
    if (!this.problem) this.problem = { id, message };
  }

  /** `{__name__="up", job="x"}`, capped so a hostile series cannot bloat an error. */
  describeSeries(): string {
    const parts: string[] = [];
    for (let i = 0; i < this.names.length && i < 12; i++) {
      const v = this.values[i]!;
      parts.push(`${this.names[i]}=${JSON.stringify(v.length > 80 ? v.slice(0, 80) + '...' : v)}`);
    }
    if (this.names.length > 12) parts.push('...');
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
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 63) this.malformed(start, 'varint longer than 10 bytes');
    }
    if (result > 0x7fffffff) this.malformed(start, 'length or tag beyond 2^31');
    return result >>> 0;
  }

  /** An int64 varint as a number; undefined when outside the safe integer range. */
  private varint64Signed(): number | undefined {
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
    const shi = hi | 0;
    if (shi >= 0x200000 || shi < -0x200000) return undefined;
    return shi * 0x100000000 + (lo >>> 0);
  }

  private skip(wire: number, at: number): void {
    switch (wire) {
      case 0:
        this.varint64Signed();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos += this.varint32();
        break;
      case 5:
        this.pos += 4;
        break;
      default:
        this.malformed(at, `unsupported protobuf wire type ${wire}`);
    }
    if (this.pos > this.buf.length) this.malformed(at, 'field runs past the end of the body');
  }

  private malformed(offset: number, what: string): never {
    throw new IsobarError(ErrorIds.malformedProtobuf, 'bad-data', `body is not a valid prometheus.WriteRequest: ${what} at byte ${offset}`);
  }
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

// ---------------------------------------------------------------------------
// Encoding: tests, benchmarks and the storage node's peers use it; never the
// edge's hot path (which forwards original bytes).

export interface SeriesInput {
  /** Label pairs in the order to encode them (sorted, for a valid request). */
  labels: ReadonlyArray<readonly [string, string]>;
  samples: ReadonlyArray<readonly [timestampMs: number, value: number]>;
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

  bytes(field: number, data: Uint8Array): void {
    this.varint((field << 3) | 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  double(field: number, v: number): void {
    this.varint((field << 3) | 1);
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

/** Encode a WriteRequest exactly as given (no sorting, no validation). */
export function encodeWriteRequest(series: ReadonlyArray<SeriesInput>): Uint8Array {
  const out = new ProtoWriter();
  for (const s of series) {
    const ts = new ProtoWriter();
    for (const [name, value] of s.labels) {
      const l = new ProtoWriter();
      l.bytes(1, textEncoder.encode(name));
      l.bytes(2, textEncoder.encode(value));
      ts.bytes(1, l.finish());
    }
    for (const [t, v] of s.samples) {
      const sm = new ProtoWriter();
      sm.double(1, v);
      sm.int64(2, t);
      ts.bytes(2, sm.finish());
    }
    out.bytes(1, ts.finish());
  }
  return out.finish();
}
