/**
 * A protobuf message as a tree of fields, for tests that need requests the
 * product's encoders never write: every remote-write message (exemplars,
 * native histograms, metadata), fields in any order, and unknown fields.
 *
 * Field values: a number or bigint is a varint (wire 0) unless `wire` says
 * fixed64 (1) or fixed32 (5); a string or bytes or a nested message is
 * length-delimited (wire 2).
 */
export type ProtoValue = number | bigint | string | Uint8Array | ProtoMessage;
export interface ProtoField {
  no: number;
  wire: 0 | 1 | 2 | 5;
  value: ProtoValue;
}
export type ProtoMessage = ProtoField[];

const enc = new TextEncoder();

function varint(out: number[], v: bigint): void {
  let x = BigInt.asUintN(64, v);
  while (x > 0x7fn) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}

export function encodeMessage(msg: ProtoMessage): Uint8Array {
  const out: number[] = [];
  for (const f of msg) {
    varint(out, BigInt(f.no * 8 + f.wire));
    const v = f.value;
    if (f.wire === 0) varint(out, typeof v === 'bigint' ? v : BigInt(v as number));
    else if (f.wire === 1 || f.wire === 5) {
      const b = new Uint8Array(f.wire === 1 ? 8 : 4);
      const dv = new DataView(b.buffer);
      if (f.wire === 1) {
        if (typeof v === 'bigint') dv.setBigUint64(0, BigInt.asUintN(64, v), true);
        else dv.setFloat64(0, v as number, true);
      } else if (typeof v === 'bigint') dv.setUint32(0, Number(BigInt.asUintN(32, v)), true);
      else dv.setFloat32(0, v as number, true);
      out.push(...b);
    } else {
      const bytes = typeof v === 'string' ? enc.encode(v) : v instanceof Uint8Array ? v : encodeMessage(v as ProtoMessage);
      varint(out, BigInt(bytes.length));
      for (const x of bytes) out.push(x);
    }
  }
  return Uint8Array.from(out);
}

/** Helpers that spell remote write 1.0's messages (prometheus/prompb/types.proto). */
export const rw = {
  label: (name: string, value: string): ProtoField => ({ no: 1, wire: 2, value: [{ no: 1, wire: 2, value: name }, { no: 2, wire: 2, value: value }] }),
  sample: (t: number, v: number): ProtoField => ({ no: 2, wire: 2, value: [{ no: 1, wire: 1, value: v }, { no: 2, wire: 0, value: BigInt(t) }] }),
  exemplar: (labels: Array<[string, string]>, v: number, t: number): ProtoField => ({
    no: 3,
    wire: 2,
    value: [...labels.map(([n, x]) => rw.label(n, x)), { no: 2, wire: 1, value: v }, { no: 3, wire: 0, value: BigInt(t) }],
  }),
  /** An integer native histogram: schema 0, two positive buckets. */
  histogram: (t: number): ProtoField => ({
    no: 4,
    wire: 2,
    value: [
      { no: 1, wire: 0, value: 5 }, // count_int
      { no: 3, wire: 1, value: 12.5 }, // sum
      { no: 4, wire: 0, value: 0 }, // schema (sint32)
      { no: 5, wire: 1, value: 1e-128 }, // zero_threshold
      { no: 6, wire: 0, value: 1 }, // zero_count_int
      { no: 11, wire: 2, value: [{ no: 1, wire: 0, value: 0 }, { no: 2, wire: 0, value: 2 }] }, // positive span
      { no: 12, wire: 2, value: Uint8Array.of(4, 2) }, // positive deltas, packed sint64 (2, then +1)
      { no: 15, wire: 0, value: BigInt(t) },
    ],
  }),
  series: (fields: ProtoMessage): ProtoField => ({ no: 1, wire: 2, value: fields }),
  /** MetricMetadata: type is the enum (1 counter, 2 gauge, ...). */
  metadata: (family: string, type: number, help: string, unit = ''): ProtoField => ({
    no: 3,
    wire: 2,
    value: [{ no: 1, wire: 0, value: type }, { no: 2, wire: 2, value: family }, { no: 4, wire: 2, value: help }, ...(unit ? [{ no: 5, wire: 2, value: unit } as ProtoField] : [])],
  }),
};
