import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import { packSeries, transferList, unpackLazily, unpackSeries, type ChunkSeries, type Gathered } from './packed.js';

const seriesArb = fc.array(
  fc.record({
    labels: fc.array(fc.string(), { maxLength: 6 }),
    chunks: fc.array(
      fc.record({ minT: fc.integer(), maxT: fc.integer(), data: fc.uint8Array({ maxLength: 40 }), resolution: fc.option(fc.constantFrom(300_000, 3_600_000), { nil: undefined }), where: fc.option(fc.string(), { nil: undefined }) }),
      { maxLength: 4 },
    ),
  }),
  { maxLength: 20 },
);

/** The fields a reader sees (absent optional fields stay absent). */
const plain = (list: ChunkSeries[]) =>
  list.map((s) => ({ labels: [...s.labels], chunks: s.chunks.map((c) => ({ minT: c.minT, maxT: c.maxT, data: Array.from(c.data), ...(c.resolution ? { resolution: c.resolution } : {}), ...(c.where !== undefined ? { where: c.where } : {}) })) }));

describe('packed series', () => {
  it('unpack(pack(x)) is x (property)', () => {
    fc.assert(
      fc.property(seriesArb, (list) => {
        expect(plain(unpackSeries(packSeries(list)))).toEqual(plain(list));
      }),
    );
  });

  it('packed lists one after the other (the head slices) unpack as one list, at once or lazily (property)', () => {
    fc.assert(
      fc.property(fc.array(seriesArb, { maxLength: 4 }), (lists) => {
        const parts = lists.map(packSeries);
        expect(plain(unpackSeries(parts))).toEqual(plain(lists.flat()));
        expect(plain(unpackLazily(parts).map((s) => ({ labels: s.labels, chunks: s.chunks() })))).toEqual(plain(lists.flat()));
      }),
    );
  });

  it('packed chunks keep the bytes they had when read, whatever happens to the source after', () => {
    const source = new Uint8Array([1, 2, 3, 4]);
    const packed = packSeries([{ labels: ['a', 'b'], chunks: [{ minT: 0, maxT: 1, data: source.subarray(0, 3) }] }]);
    source.fill(9);
    expect(Array.from(unpackSeries(packed)[0]!.chunks[0]!.data)).toEqual([1, 2, 3]);
  });

  it('moves a buffer that two uses of one selector share once', () => {
    const series = [packSeries([{ labels: ['a', 'b'], chunks: [{ minT: 0, maxT: 1, data: new Uint8Array([1, 2, 3]) }] }])];
    const peers = packSeries([{ labels: ['a', 'c'], chunks: [{ minT: 0, maxT: 1, data: new Uint8Array([4]) }] }]);
    const gs: Gathered[] = [{ kind: 'raw', series }, { kind: 'raw', series, peers }];
    const list = transferList(gs);
    expect(new Set(list).size).toBe(list.length);
    expect(list).toHaveLength(12); // six arrays each: the shared series once, the peers' once
    const { port1, port2 } = new MessageChannel();
    try {
      expect(() => port1.postMessage(gs, list)).not.toThrow();
    } finally {
      port1.close();
      port2.close();
    }
  });
});
