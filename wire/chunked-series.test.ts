import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtoWriter } from './remote-write.js';
import { CHUNK_AGGR, ChunkedSeriesError, decodeChunkedResponse, decodeChunkedSeries, encodeChunkedSeries, type ChunkedSeries } from './chunked-series.js';

describe('chunked series (remote-read message shape)', () => {
  it('writes the protobuf fields of prompb.ChunkedReadResponse', () => {
    const bytes = encodeChunkedSeries([{ labels: ['a', 'b'], chunks: [{ minT: 1, maxT: 300, data: Uint8Array.of(0, 1, 0xff) }] }]);
    // series(1) { label(1) { name(1) "a", value(2) "b" }, chunk(2) { min(1) 1, max(2) 300, type(3) XOR=1, data(4) 00 01 ff } }
    expect(Array.from(bytes)).toEqual([
      0x0a, 0x16,
      0x0a, 0x06, 0x0a, 0x01, 0x61, 0x12, 0x01, 0x62,
      0x12, 0x0c, 0x08, 0x01, 0x10, 0xac, 0x02, 0x18, 0x01, 0x22, 0x03, 0x00, 0x01, 0xff,
    ]);
  });

  it('round-trips any series, including negative times and empty chunks', () => {
    const series = fc.array(
      fc.record({
        labels: fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 4 }).map((ps) => ps.flat()),
        chunks: fc.array(fc.record({ minT: fc.integer({ min: -(2 ** 50), max: 2 ** 50 }), maxT: fc.oneof(fc.maxSafeInteger(), fc.integer()), data: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 3 }),
      }),
      { maxLength: 5 },
    );
    fc.assert(
      fc.property(series, (ss: ChunkedSeries[]) => {
        const back = decodeChunkedSeries(encodeChunkedSeries(ss));
        expect(back.map((s) => ({ labels: s.labels, chunks: s.chunks.map((c) => ({ ...c, data: Array.from(c.data) })) }))).toEqual(
          ss.map((s) => ({ labels: s.labels, chunks: s.chunks.map((c) => ({ ...c, data: Array.from(c.data) })) })),
        );
      }),
    );
  });

  it('refuses truncated input and chunks of another encoding, with a clear error', () => {
    const bytes = encodeChunkedSeries([{ labels: ['a', 'b'], chunks: [{ minT: 1, maxT: 2, data: Uint8Array.of(1, 2, 3) }] }]);
    expect(() => decodeChunkedSeries(bytes.subarray(0, bytes.length - 2))).toThrow(ChunkedSeriesError);
    const other = Uint8Array.from(bytes);
    other[other.indexOf(0x18) + 1] = 2; // type = 2 (histogram)
    expect(() => decodeChunkedSeries(other)).toThrow(/encoding 2 is not XOR \(1\) or aggregate/);
  });

  it('carries aggregate chunks with their resolution, and the sender\'s tiers', () => {
    const series: ChunkedSeries[] = [
      {
        labels: ['__name__', 'up'],
        chunks: [
          { minT: 0, maxT: 3_599_000, data: Uint8Array.of(9, 8), resolution: 300_000 },
          { minT: 3_600_000, maxT: 3_660_000, data: Uint8Array.of(7) },
        ],
      },
    ];
    const tiers = [
      { resolution: 3_600_000, until: 1_000_000 },
      { resolution: 300_000, until: 3_600_000 },
    ];
    const bytes = encodeChunkedSeries(series, tiers);
    const back = decodeChunkedResponse(bytes);
    expect(back.tiers).toEqual(tiers);
    expect(back.series[0]!.chunks.map((c) => ({ ...c, data: Array.from(c.data) }))).toEqual([
      { minT: 0, maxT: 3_599_000, data: [9, 8], resolution: 300_000 },
      { minT: 3_600_000, maxT: 3_660_000, data: [7] },
    ]);
    // Without tiers the message is Prometheus's, byte for byte as before.
    expect(decodeChunkedResponse(encodeChunkedSeries([series[0]!].map((s) => ({ ...s, chunks: s.chunks.slice(1) })))).tiers).toEqual([]);
    // An aggregate chunk must say its resolution.
    const chunk = new ProtoWriter();
    chunk.int64(3, CHUNK_AGGR);
    chunk.bytes(4, Uint8Array.of(1));
    const one = new ProtoWriter();
    one.bytes(2, chunk.finish());
    const msg = new ProtoWriter();
    msg.bytes(1, one.finish());
    expect(() => decodeChunkedSeries(msg.finish())).toThrow(/aggregate chunk without a resolution/);
  });
});
