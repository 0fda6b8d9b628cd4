/**
 * Remote write 2.0 (`io.prometheus.write.v2.Request`), taken by translating
 * it into a remote write 1.0 request: the edge then checks, routes and commits
 * it as it does 1.0, with the same limits and error ids, and the commit log,
 * the WAL and the storage node see 1.0 only.
 *
 * The translation resolves the symbols table and copies bytes where the two
 * versions agree:
 * - a Sample is 1.0's Sample (2.0's `start_timestamp`, field 3, is left out:
 *   created timestamps are ignored, as the spec allows);
 * - a Histogram is 1.0's Histogram (its `start_timestamp`, field 17, too);
 * - labels and exemplar labels are written out as strings from their refs,
 *   a series' labels sorted by name (Prometheus 3 takes them in any order);
 * - per-series metadata (type, help, unit) becomes a 1.0 MetricMetadata of the
 *   series' metric family (familyOf), once per family and content in a request.
 * A request that breaks the format (a ref past the symbols, an odd number of
 * label refs, a field running past its message) is malformed: a 400 for all of
 * it. Everything else is judged by the 1.0 reader, series by series.
 */
import { ErrorIds, IsobarError } from './errors.js';
import { ProtoWriter } from './remote-write.js';

/** The 2.0 content type's `proto` parameter. */
export const V2_PROTO = 'io.prometheus.write.v2.Request';
/** The 1.0 one (senders may name it, or send no parameter). */
export const V1_PROTO = 'prometheus.WriteRequest';

/** Which remote-write message a Content-Type announces, or why it is not one we take (answered with 415). */
export function remoteWriteVersion(contentType: string | undefined): 1 | 2 | { unsupported: string } {
  if (contentType === undefined || contentType.trim() === '') return 1; // old senders send none
  const [type, ...params] = contentType.split(';').map((p) => p.trim());
  if (type!.toLowerCase() !== 'application/x-protobuf') return { unsupported: `Content-Type ${JSON.stringify(contentType)} is not application/x-protobuf` };
  const proto = params.map((p) => /^proto\s*=\s*"?([^"]*)"?$/i.exec(p)?.[1]).find((p) => p !== undefined);
  if (proto === undefined || proto === V1_PROTO) return 1;
  if (proto === V2_PROTO) return 2;
  return { unsupported: `proto=${proto} is not a remote-write message this receiver takes (${V1_PROTO} or ${V2_PROTO})` };
}

class Cursor {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  malformed(what: string): never {
    throw new IsobarError(ErrorIds.malformedProtobuf, 'bad-data', `body is not a valid ${V2_PROTO}: ${what} at byte ${this.pos}`);
  }

  varint(): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.malformed('a varint runs past the end');
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
    return this.malformed('a varint longer than 10 bytes');
  }

  /** A length-delimited field's [start, end). */
  span(end: number): [number, number] {
    const len = this.varint();
    const s = this.pos;
    if (s + len > end) this.malformed('a field runs past the end of its message');
    this.pos = s + len;
    return [s, s + len];
  }

  /** Label refs (a field 1), packed or one varint, appended to `into`. */
  refs(wire: number, end: number, into: number[]): void {
    if (wire === 0) {
      into.push(this.varint());
      return;
    }
    const [s, e] = this.span(end);
    const after = this.pos;
    this.pos = s;
    while (this.pos < e) into.push(this.varint());
    this.pos = after;
  }

  skip(wire: number, end: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.span(end);
    else if (wire === 5) this.pos += 4;
    else this.malformed(`an unknown wire type ${wire}`);
    if (this.pos > end) this.malformed('a field runs past the end of its message');
  }
}

/** Translate a 2.0 request (decompressed) into the 1.0 request the edge takes. */
export function transcodeV2(buf: Uint8Array): Uint8Array {
  const c = new Cursor(buf);
  const symbols: Array<[number, number]> = [];
  const series: Array<[number, number]> = [];
  while (c.pos < buf.length) {
    const tag = c.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 4 && wire === 2) symbols.push(c.span(buf.length));
    else if (field === 5 && wire === 2) series.push(c.span(buf.length));
    else c.skip(wire, buf.length);
  }
  const symbol = (ref: number): Uint8Array => {
    const s = symbols[ref];
    if (s === undefined) return c.malformed(`symbol ref ${ref} past the table of ${symbols.length} symbols`);
    return buf.subarray(s[0], s[1]);
  };
  const out = new ProtoWriter();
  const metadata = new Map<string, Uint8Array>();
  const labelRefs: number[] = [];
  const pairs: Array<[Uint8Array, Uint8Array]> = [];
  const body: Array<[number, Uint8Array]> = [];
  for (const [start, end] of series) {
    c.pos = start;
    labelRefs.length = 0;
    pairs.length = 0;
    body.length = 0;
    let meta: Uint8Array | undefined;
    while (c.pos < end) {
      const tag = c.varint();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && (wire === 2 || wire === 0)) c.refs(wire, end, labelRefs);
      else if (field === 2 && wire === 2) body.push([2, buf.subarray(...c.span(end))]); // Sample: as 1.0's
      else if (field === 3 && wire === 2) body.push([4, buf.subarray(...c.span(end))]); // Histogram: as 1.0's
      else if (field === 4 && wire === 2) body.push([3, exemplarV1(c, c.span(end), symbol)]);
      else if (field === 5 && wire === 2) meta = buf.subarray(...c.span(end));
      else c.skip(wire, end);
    }
    if (labelRefs.length % 2 !== 0) c.malformed(`a timeseries with ${labelRefs.length} label refs (they come in name, value pairs)`);
    // Labels in name order, as Prometheus 3's receiver takes them whatever order they came in (1.0's reader wants them sorted).
    let sorted = true;
    for (let i = 0; i < labelRefs.length; i += 2) {
      pairs.push([symbol(labelRefs[i]!), symbol(labelRefs[i + 1]!)]);
      if (pairs.length > 1 && compareBytes(pairs[pairs.length - 2]![0], pairs[pairs.length - 1]![0]) > 0) sorted = false;
    }
    if (!sorted) pairs.sort((a, b) => compareBytes(a[0], b[0]));
    // The TimeSeries written straight into the request: its length first, from its parts' lengths.
    let size = 0;
    for (const [n, v] of pairs) size += fieldSize(labelSize(n.length, v.length));
    for (const [, bytes] of body) size += fieldSize(bytes.length);
    out.varint(0x0a);
    out.varint(size);
    let name: Uint8Array | undefined;
    for (const [n, v] of pairs) {
      if (compareBytes(n, METRIC_NAME) === 0) name = v;
      out.varint(0x0a);
      out.varint(labelSize(n.length, v.length));
      out.bytes(1, n);
      out.bytes(2, v);
    }
    for (const [field, bytes] of body) out.bytes(field, bytes);
    if (meta && name) {
      const md = metadataV1(meta, name, symbol);
      if (md) metadata.set(md.join(','), md); // the same entry once per request
    }
  }
  for (const md of metadata.values()) out.bytes(3, md);
  return out.finish();
}

const METRIC_NAME = new TextEncoder().encode('__name__');

const varintSize = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
/** A length-delimited field of `len` bytes with a one-byte tag. */
const fieldSize = (len: number) => 1 + varintSize(len) + len;
/** A Label message of a name and a value. */
const labelSize = (n: number, v: number) => fieldSize(n) + fieldSize(v);

/** Byte order (UTF-8 strings compare so as Go compares them). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function label(name: Uint8Array, value: Uint8Array): Uint8Array {
  const l = new ProtoWriter();
  l.bytes(1, name);
  l.bytes(2, value);
  return l.finish();
}

/** A 2.0 Exemplar (labels as refs) as 1.0's (labels as strings); value and timestamp copied. */
function exemplarV1(c: Cursor, [start, end]: [number, number], symbol: (ref: number) => Uint8Array): Uint8Array {
  const saved = c.pos;
  c.pos = start;
  const refs: number[] = [];
  const ex = new ProtoWriter();
  const rest = new ProtoWriter();
  while (c.pos < end) {
    const tag = c.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && (wire === 2 || wire === 0)) c.refs(wire, end, refs);
    else if ((field === 2 && wire === 1) || (field === 3 && wire === 0)) {
      const at = c.pos;
      c.skip(wire, end);
      rest.varint(tag);
      rest.raw(c.buf.subarray(at, c.pos));
    } else c.skip(wire, end);
  }
  if (refs.length % 2 !== 0) c.malformed(`an exemplar with ${refs.length} label refs`);
  for (let i = 0; i < refs.length; i += 2) ex.bytes(1, label(symbol(refs[i]!), symbol(refs[i + 1]!)));
  ex.raw(rest.finish());
  c.pos = saved;
  return ex.finish();
}

/** A series' 2.0 Metadata as a 1.0 MetricMetadata of its metric name; undefined when it says nothing. */
function metadataV1(meta: Uint8Array, name: Uint8Array, symbol: (ref: number) => Uint8Array): Uint8Array | undefined {
  const m = new Cursor(meta);
  let type = 0;
  let help: Uint8Array | undefined;
  let unit: Uint8Array | undefined;
  while (m.pos < meta.length) {
    const tag = m.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) type = m.varint();
    else if (field === 3 && wire === 0) help = symbol(m.varint());
    else if (field === 4 && wire === 0) unit = symbol(m.varint());
    else m.skip(wire, meta.length);
  }
  if (type === 0 && !help?.length && !unit?.length) return undefined;
  // The type enums of 1.0 and 2.0 number the same types alike (0 unknown/unspecified .. 7 stateset).
  const md = new ProtoWriter();
  md.int64(1, type);
  md.bytes(2, familyOf(name, type));
  if (help?.length) md.bytes(4, help);
  if (unit?.length) md.bytes(5, unit);
  return md.finish();
}

/** The suffixes a type's series add to their family's name (histogram: `_bucket`, `_count`, `_sum`; ...). */
const SUFFIXES: Record<number, readonly string[]> = {
  3: ['_bucket', '_count', '_sum'],
  4: ['_bucket', '_gcount', '_gsum'],
  5: ['_count', '_sum'],
};

/**
 * The metric family a series of `type` belongs to: 2.0 gives metadata per
 * series, 1.0 and `/api/v1/metadata` per family. Histogram, gauge-histogram
 * and summary series lose their suffix; a counter keeps `_total`, which in
 * Prometheus's text format is part of the family's name (OpenMetrics leaves it
 * out; a series cannot tell which format it was scraped in).
 */
function familyOf(name: Uint8Array, type: number): Uint8Array {
  const text = new TextDecoder().decode(name);
  const suffix = SUFFIXES[type]?.find((x) => text.endsWith(x) && text.length > x.length);
  return suffix ? name.subarray(0, name.length - suffix.length) : name;
}

// ---------------------------------------------------------------------------
// Encoding (tests and benchmarks): a 2.0 request of the same inputs as 1.0's encoder.

export interface SeriesInputV2 {
  labels: ReadonlyArray<readonly [string, string]>;
  samples?: ReadonlyArray<readonly [timestampMs: number, value: number]>;
  /** Histogram messages, as `encodeHistogram` (remote-write.ts) writes them. */
  histograms?: ReadonlyArray<Uint8Array>;
  exemplars?: ReadonlyArray<{ labels: ReadonlyArray<readonly [string, string]>; value: number; timestampMs: number }>;
  metadata?: { type: number; help?: string; unit?: string };
}

/** Encode a 2.0 request, its symbols interned in first-use order after "". */
export function encodeWriteRequestV2(series: ReadonlyArray<SeriesInputV2>): Uint8Array {
  const symbols = new Map<string, number>([['', 0]]);
  const ref = (s: string) => {
    let r = symbols.get(s);
    if (r === undefined) symbols.set(s, (r = symbols.size));
    return r;
  };
  /** Packed label refs of name, value pairs. */
  const labelRefs = (labels: ReadonlyArray<readonly [string, string]>) => {
    const refs = new ProtoWriter();
    for (const [n, v] of labels) {
      refs.varint(ref(n));
      refs.varint(ref(v));
    }
    return refs.finish();
  };
  const bodies: Uint8Array[] = [];
  for (const s of series) {
    const ts = new ProtoWriter();
    ts.bytes(1, labelRefs(s.labels));
    for (const [t, v] of s.samples ?? []) {
      const sm = new ProtoWriter();
      sm.double(1, v);
      sm.int64(2, t);
      ts.bytes(2, sm.finish());
    }
    for (const h of s.histograms ?? []) ts.bytes(3, h);
    for (const e of s.exemplars ?? []) {
      const ex = new ProtoWriter();
      ex.bytes(1, labelRefs(e.labels));
      ex.double(2, e.value);
      ex.int64(3, e.timestampMs);
      ts.bytes(4, ex.finish());
    }
    if (s.metadata) {
      const md = new ProtoWriter();
      md.int64(1, s.metadata.type);
      if (s.metadata.help !== undefined) md.int64(3, ref(s.metadata.help));
      if (s.metadata.unit !== undefined) md.int64(4, ref(s.metadata.unit));
      ts.bytes(5, md.finish());
    }
    bodies.push(ts.finish());
  }
  const out = new ProtoWriter();
  const enc = new TextEncoder();
  for (const s of symbols.keys()) out.bytes(4, enc.encode(s));
  for (const b of bodies) out.bytes(5, b);
  return out.finish();
}
