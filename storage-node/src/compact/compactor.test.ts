import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { hasPromtool } from '../../../test/support/peers.js';
import { createLogger } from '../../../wire/log.js';
import { encodeBatch } from '../../../wire/node-batch.js';
import { encodeWriteRequest } from '../../../wire/remote-write.js';
import { BlockReader, listBlocks } from '../block/reader.js';
import { readAllSeries, toBlockInput } from '../block/test-helpers.js';
import { writeBlock } from '../block/writer.js';
import { NodeMetrics } from '../node/metrics.js';
import { Matcher } from '../model/matcher.js';
import { NodeStore } from '../node/store.js';
import { compactBlocks, planCompaction } from './compactor.js';

const H = 3_600_000;
const tmp = () => mkdtempSync(join(tmpdir(), 'isobar-compact-'));
const open = (dir: string) => listBlocks(dir).map((u) => BlockReader.open(join(dir, u)));

describe('planCompaction', () => {
  it('merges overlapping blocks first, then closed windows of the next level', () => {
    const dir = tmp();
    const mk = (from: number, to: number) => writeBlock(dir, toBlockInput([{ labels: ['__name__', 'm'], samples: [[from, 1], [to - 1, 2]] }]));
    mk(0, 2 * H);
    mk(2 * H, 4 * H);
    mk(4 * H, 6 * H);
    mk(6 * H, 8 * H);
    let blocks = open(dir);
    const levels = [2 * H, 6 * H, 24 * H];
    expect(planCompaction(blocks, levels)!.map((b) => b.meta.minTime)).toEqual([0, 2 * H, 4 * H]);
    mk(H, 3 * H); // overlaps two blocks
    blocks.forEach((b) => b.close());
    blocks = open(dir);
    expect(planCompaction(blocks, levels)!.map((b) => [b.meta.minTime, b.meta.maxTime])).toEqual([[0, 2 * H], [H, 3 * H], [2 * H, 4 * H]]);
    blocks.forEach((b) => b.close());
  });

  it('leaves the newest window open', () => {
    const dir = tmp();
    writeBlock(dir, toBlockInput([{ labels: ['__name__', 'm'], samples: [[0, 1]] }]));
    writeBlock(dir, toBlockInput([{ labels: ['__name__', 'm'], samples: [[2 * H, 1]] }]));
    const blocks = open(dir);
    expect(planCompaction(blocks, [2 * H, 6 * H])).toBeUndefined();
    blocks.forEach((b) => b.close());
  });
});

describe.runIf(hasPromtool())('vertical compaction', () => {
  it('merges overlapping blocks into one whose dump is the union of samples', () => {
    const dir = tmp();
    writeBlock(dir, toBlockInput([
      { labels: ['__name__', 'a'], samples: [[1000, 1], [3000, 3], [5000, 5]] },
      { labels: ['__name__', 'b'], samples: [[1000, 10]] },
    ]));
    writeBlock(dir, toBlockInput([
      { labels: ['__name__', 'a'], samples: [[2000, 2], [3000, 3], [4000, 4]] },
      { labels: ['__name__', 'c'], samples: [[2500, 7]] },
    ]));
    const blocks = open(dir);
    const { dir: merged, meta } = compactBlocks(dir, blocks)!;
    blocks.forEach((b) => b.close());
    expect(meta.compaction.level).toBe(2);
    expect(meta.compaction.sources).toHaveLength(2);
    const db = tmp();
    execFileSync('cp', ['-r', merged, db]);
    mkdirSync(join(db, 'wal'));
    const dump = execFileSync('promtool', ['tsdb', 'dump', db], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(dump).toEqual(
      ['{__name__="a"} 1 1000', '{__name__="a"} 2 2000', '{__name__="a"} 3 3000', '{__name__="a"} 4 4000', '{__name__="a"} 5 5000', '{__name__="b"} 10 1000', '{__name__="c"} 7 2500'].sort(),
    );
  });
});

describe('store: random writes, flushes and compactions (property)', () => {
  it('select returns exactly the sorted, de-duplicated samples written', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), series: fc.integer({ min: 0, max: 5 }), times: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 8 }) }),
      fc.record({ kind: fc.constant('flush' as const) }),
      fc.record({ kind: fc.constant('compact' as const) }),
      fc.record({ kind: fc.constant('restart' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const dir = tmp();
        const mkStore = () => {
          const s = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), { nodeDir: dir, blockRangeMs: 10 * 60_000 });
          s.open();
          return s;
        };
        let store = mkStore();
        let seq = 0;
        const want = new Map<number, Map<number, number>>(); // series -> t -> v
        for (const o of ops) {
          if (o.kind === 'write') {
            // Times in minutes: spans several 10-minute blocks, arrives in any order.
            const samples = o.times.map((m) => [m * 60_000, m + o.series * 100] as [number, number]);
            const payload = new Uint8Array(compressSync(Buffer.from(encodeWriteRequest([{ labels: [['__name__', 'p'], ['s', String(o.series)]], samples }]))));
            store.apply('t', 0, encodeBatch([{ seq: ++seq, payload }]), 1);
            const m = want.get(o.series) ?? new Map<number, number>();
            for (const [t, v] of samples) if (!m.has(t)) m.set(t, v);
            want.set(o.series, m);
          } else if (o.kind === 'flush') store.flush();
          else if (o.kind === 'compact') await store.compact(0);
          else {
            store.close();
            store = mkStore();
          }
        }
        const got = store.tenantDb('t')?.select([new Matcher('=', '__name__', 'p')], -Infinity, Infinity) ?? [];
        store.close();
        expect(got.map((s) => s.labels[3])).toEqual([...want.keys()].sort().map(String));
        for (const s of got) {
          const m = want.get(Number(s.labels[3]))!;
          expect(s.samples).toEqual([...m.entries()].sort((a, b) => a[0] - b[0]));
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('retention', () => {
  it('deletes blocks wholly older than retention', async () => {
    const dir = tmp();
    const store = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), { nodeDir: dir, retentionMs: 10 * H });
    store.open();
    const day = 24 * H;
    const payload = (t: number) => new Uint8Array(compressSync(Buffer.from(encodeWriteRequest([{ labels: [['__name__', 'r']], samples: [[t, 1]] }]))));
    store.apply('t', 0, encodeBatch([{ seq: 1, payload: payload(10 * day) }, { seq: 2, payload: payload(10 * day + 9 * H) }]), 1);
    store.flush();
    expect(readdirSync(join(dir, 'blocks', 't'))).toHaveLength(2);
    expect(await store.compact(10 * day + 15 * H)).toMatchObject({ deleted: 1 });
    expect(readdirSync(join(dir, 'blocks', 't'))).toHaveLength(1);
    expect(readAllSeries(store.tenantDb('t')!.blocks[0]!)[0]!.samples).toEqual([[10 * day + 9 * H, 1]]);
    store.close();
  });
});

describe('merging in a worker thread', () => {
  it('the bundled compact-worker produces the same block content as an in-thread merge', async () => {
    const { buildStorageNode } = await import('../../../scripts/build.mjs');
    const main: string = await buildStorageNode();
    const { workerRunner } = await import('../jobs/runner.js');
    const runner = workerRunner(new URL(`file://${main.replace(/main\.mjs$/, 'compact-worker.mjs')}`));
    try {
      const dir = tmp();
      writeBlock(dir, toBlockInput([{ labels: ['__name__', 'w'], samples: [[1, 1], [3, 3]] }]));
      writeBlock(dir, toBlockInput([{ labels: ['__name__', 'w'], samples: [[2, 2], [3, 3]] }, { labels: ['__name__', 'x'], samples: [[5, 5]] }]));
      const sources = open(dir);
      const merged = BlockReader.open((await runner.run(dir, sources))!);
      sources.forEach((b) => b.close());
      expect(readAllSeries(merged)).toEqual([
        { labels: ['__name__', 'w'], samples: [[1, 1], [2, 2], [3, 3]] },
        { labels: ['__name__', 'x'], samples: [[5, 5]] },
      ]);
      expect(merged.meta.compaction.level).toBe(2);
      merged.close();
    } finally {
      await runner.close();
    }
  });
});

describe('tombstones', () => {
  it('compaction rewrites blocks without the deleted ranges', async () => {
    const { writeFileSync } = await import('node:fs');
    const { encodeTombstones } = await import('../block/tombstones.js');
    const dir = tmp();
    const a = writeBlock(dir, toBlockInput([
      { labels: ['__name__', 'keep'], samples: [[1, 1], [2, 2]] },
      { labels: ['__name__', 'trim'], samples: [[1, 1], [2, 2], [3, 3], [4, 4]] },
    ]));
    writeBlock(dir, toBlockInput([{ labels: ['__name__', 'keep'], samples: [[3, 3]] }]));
    // Delete trim's samples in [2, 3]: series ref from the block's own index.
    const ra = BlockReader.open(a.dir);
    const trimRef = ra.postings('__name__', 'trim')[0]!;
    ra.close();
    writeFileSync(join(a.dir, 'tombstones'), encodeTombstones([{ ref: trimRef, minT: 2, maxT: 3 }]));
    const sources = open(dir);
    expect(sources.find((b) => b.dir === a.dir)!.tombstones).toEqual([{ ref: trimRef, minT: 2, maxT: 3 }]);
    const merged = BlockReader.open(compactBlocks(dir, sources)!.dir);
    sources.forEach((b) => b.close());
    expect(readAllSeries(merged)).toEqual([
      { labels: ['__name__', 'keep'], samples: [[1, 1], [2, 2], [3, 3]] },
      { labels: ['__name__', 'trim'], samples: [[1, 1], [4, 4]] },
    ]);
    merged.close();
  });
});

describe('per-tenant retention', () => {
  it('deletes each tenant\u2019s blocks past its own retention, and remembers it across restarts', async () => {
    const dir = tmp();
    const open = () => {
      const s = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), { nodeDir: dir, retentionMs: 10 * H });
      s.open();
      return s;
    };
    const day = 24 * H;
    const payload = (t: number) => new Uint8Array(compressSync(Buffer.from(encodeWriteRequest([{ labels: [['__name__', 'r']], samples: [[t, 1]] }]))));
    let store = open();
    store.setRetention('long', 48 * H);
    for (const tenant of ['short', 'long']) store.apply(tenant, 0, encodeBatch([{ seq: 1, payload: payload(10 * day) }, { seq: 2, payload: payload(10 * day + 9 * H) }]), 1);
    store.flush();
    store.close();
    store = open(); // the tenant's retention survives a restart (its state file)
    expect(store.retentionOf('long')).toBe(48 * H);
    expect(store.retentionOf('short')).toBe(10 * H);
    expect(await store.compact(10 * day + 15 * H)).toMatchObject({ deleted: 1 });
    expect(readdirSync(join(dir, 'blocks', 'short'))).toHaveLength(1);
    expect(readdirSync(join(dir, 'blocks', 'long'))).toHaveLength(2);
    store.close();
  });
});

describe('delete_series on the node', () => {
  it('hides deleted samples at once, keeps the deletion across a restart, and flushes and compacts without them', async () => {
    const dir = tmp();
    const open = () => {
      const s = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), { nodeDir: dir, blockRangeMs: 2 * H });
      s.open();
      return s;
    };
    const payload = (name: string, ts: number[]) => new Uint8Array(compressSync(Buffer.from(encodeWriteRequest([{ labels: [['__name__', name]], samples: ts.map((t) => [t, t] as [number, number]) }]))));
    let store = open();
    // Block data (flushed) and head data, for two series.
    store.apply('t', 0, encodeBatch([{ seq: 1, payload: payload('keep', [1000, 2000]) }, { seq: 2, payload: payload('gone', [1000, 2000, 3000]) }]), 1);
    store.flush();
    store.apply('t', 0, encodeBatch([{ seq: 3, payload: payload('gone', [3 * H, 3 * H + 1000]) }]), 1);
    store.deleteSeries('t', ['gone'], 1500, 3 * H);
    const samples = (s: NodeStore, name: string) => s.tenantDb('t')!.select([{ name: '__name__', type: '=', value: name, matches: (v: string) => v === name } as never], -Infinity, Infinity)[0]?.samples.map(([t]) => t);
    expect(samples(store, 'gone')).toEqual([1000, 3 * H + 1000]);
    expect(samples(store, 'keep')).toEqual([1000, 2000]);
    store.close();

    store = open(); // WAL replay brings the head back; the deletion still applies
    expect(samples(store, 'gone')).toEqual([1000, 3 * H + 1000]);
    store.flush();
    await store.compact(4 * H);
    const db = store.tenantDb('t')!;
    const onDisk = db.blocks.flatMap((b) => readAllSeries(b)).filter((s) => s.labels.includes('gone')).flatMap((s) => s.samples.map(([t]) => t));
    expect(onDisk.sort((a, b) => a - b)).toEqual([1000, 3 * H + 1000]); // tombstones applied in compaction, head flushed without
    store.close();
  });

  it('a block whose every sample was deleted goes away in compaction', async () => {
    const dir = tmp();
    const store = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), { nodeDir: dir });
    store.open();
    const payload = new Uint8Array(compressSync(Buffer.from(encodeWriteRequest([{ labels: [['__name__', 'only']], samples: [[1000, 1], [2000, 2]] }]))));
    store.apply('t', 0, encodeBatch([{ seq: 1, payload }]), 1);
    store.flush();
    store.deleteSeries('t', ['{__name__=~".+"}'], -Infinity, Infinity);
    await store.compact(10 * H);
    expect(store.tenantDb('t')!.blocks).toHaveLength(0);
    expect(readdirSync(join(dir, 'blocks', 't'))).toEqual([]);
    store.close();
  });
});

describe('compaction levels', () => {
  it('goes 2 h -> 6 h -> 24 h -> 7 d by default, for windows newer data has closed', async () => {
    const dir = tmp();
    const store = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), { nodeDir: dir, blockRangeMs: 2 * H, retentionMs: 365 * 24 * H });
    store.open();
    const D = 24 * H;
    const W = 7 * D;
    const start = Math.ceil(1_700_000_000_000 / W) * W; // a week boundary
    const ts = Array.from({ length: 10 * 24 }, (_, i) => start + i * H + 60_000); // ten days, hourly
    const payload = new Uint8Array(compressSync(Buffer.from(encodeWriteRequest([{ labels: [['__name__', 'weekly']], samples: ts.map((t) => [t, t] as [number, number]) }]))));
    store.apply('t', 0, encodeBatch([{ seq: 1, payload }]), 1);
    store.flush();
    expect(store.tenantDb('t')!.blocks.length).toBe(120); // one per 2 h
    await store.compact(start + 11 * D);
    const ranges = store.tenantDb('t')!.blocks.map((b) => [b.meta.minTime, b.meta.maxTime] as const);
    expect(ranges[0]![0]).toBe(start + 60_000);
    expect(ranges[0]![1]).toBeLessThanOrEqual(start + W);
    expect(ranges[0]![1]).toBeGreaterThan(start + W - H); // the closed first week is one block
    expect(ranges.length).toBeLessThan(10); // the open week: 24 h blocks (and the newest, smaller ones)
    const all = store.tenantDb('t')!.select([{ name: '__name__', type: '=', value: 'weekly', matches: (v: string) => v === 'weekly' } as never], -Infinity, Infinity);
    expect(all[0]!.samples.map(([t]) => t)).toEqual(ts);
    store.close();
  });
});
