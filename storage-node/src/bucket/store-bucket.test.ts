/**
 * The node with a bucket: uploads (meta.json last, Thanos sections), what the
 * coordinators may truncate, rebuild on an empty disk (queries served from
 * bucket blocks through the caches), compaction and retention marks, and a
 * bucket that fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { hasPromtool } from '../../../test/support/peers.js';
import { createLogger } from '../../../wire/log.js';
import { encodeBatch } from '../../../wire/node-batch.js';
import { encodeWriteRequest } from '../../../wire/remote-write.js';
import { NodeMetrics } from '../node/metrics.js';
import { Matcher } from '../model/matcher.js';
import { NodeStore } from '../node/store.js';
import type { Bucket } from './bucket.js';
import { FsBucket } from './fs-bucket.js';
import { isobarOf } from './layout.js';
import { BlockCache } from './remote-block.js';
import { Shipper } from './shipper.js';
import { toBlockInput } from '../block/test-helpers.js';
import { writeBlock } from '../block/writer.js';
import fc from 'fast-check';
import type { NativeHistogram } from '../../../wire/histogram.js';
import { histogramSeriesArb } from '../../../test/support/histograms.js';
import { encodeHistogramChunks } from '../chunkenc/histogram.js';

const H = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (2 * H));
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

/** `n` series of `metric`, one sample each at `t` (value i + t/1000). */
function payload(metric: string, n: number, t: number): Uint8Array {
  const series = Array.from({ length: n }, (_, i) => ({ labels: [['__name__', metric], ['i', String(i)]] as [string, string][], samples: [[t, i + t / 1000]] as [number, number][] }));
  return new Uint8Array(compressSync(Buffer.from(encodeWriteRequest(series))));
}

function open(nodeDir: string, bucket: Bucket, opts: { deleteDelayMs?: number; retentionMs?: number; chunkCache?: number } = {}) {
  const cache = new BlockCache(bucket, { dir: join(nodeDir, 'remote'), maxIndexBytes: 1 << 30, maxChunkBytes: opts.chunkCache ?? 1 << 30 });
  const store = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), {
    nodeDir,
    blockRangeMs: 2 * H,
    ...(opts.retentionMs ? { retentionMs: opts.retentionMs } : {}),
    bucket: { shipper: new Shipper(bucket, 'node-a'), cache, deleteDelayMs: opts.deleteDelayMs ?? 0 },
  });
  store.open();
  return { store, cache };
}

/** Records 1..rounds for tenant×shard, a sample of 50 series every minute from T0. */
function writeRounds(store: NodeStore, tenant: string, shard: number, from: number, to: number): void {
  for (let seq = from; seq <= to; seq++) {
    const out = store.apply(tenant, shard, encodeBatch([{ seq, payload: payload(`m${shard}`, 50, T0 + seq * 60_000) }]), 1, 'log-' + shard);
    expect(out.ok).toBe(true);
  }
}

async function samples(store: NodeStore, tenant: string, mint = -Infinity, maxt = Infinity): Promise<number> {
  const db = store.tenantDb(tenant)!;
  const ms = [new Matcher('=~', '__name__', 'm.*')];
  return db.read(mint, maxt, () => db.select(ms, mint, maxt).reduce((n, s) => n + s.samples.length, 0), [ms]);
}

/** A bucket whose every call fails while `down` is set. */
class FlakyBucket implements Bucket {
  down = false;
  constructor(private readonly inner: Bucket) {}
  get where() {
    return this.inner.where;
  }
  private check() {
    if (this.down) throw new Error('connect ECONNREFUSED (bucket down)');
  }
  async put(k: string, b: Uint8Array, o?: { ifAbsent?: boolean }) {
    this.check();
    return this.inner.put(k, b, o);
  }
  async putFile(k: string, p: string) {
    this.check();
    return this.inner.putFile(k, p);
  }
  async get(k: string, r?: { offset: number; length: number }) {
    this.check();
    return this.inner.get(k, r);
  }
  async head(k: string) {
    this.check();
    return this.inner.head(k);
  }
  async list(p: string) {
    this.check();
    return this.inner.list(p);
  }
  async listPrefixes(p: string) {
    this.check();
    return this.inner.listPrefixes(p);
  }
  async delete(k: string) {
    this.check();
    return this.inner.delete(k);
  }
}

describe('blocks in the bucket', () => {
  it('uploads blocks with meta.json last and Thanos sections; coordinators may truncate only what the bucket holds', async () => {
    const bucketDir = tmp('isobar-bkt-');
    const bucket = new FsBucket(bucketDir);
    const { store } = open(tmp('isobar-node-'), bucket);
    writeRounds(store, 'acme', 0, 1, 150); // 150 minutes: two 2 h blocks
    writeRounds(store, 'acme', 3, 1, 20);
    store.flush();
    expect(store.shardState('acme', 0)).toMatchObject({ applied: 150, durable: 0 });
    const shipped = await store.ship();
    expect(shipped).toMatchObject({ uploaded: 2, pending: 0 });
    expect(store.shardState('acme', 0)).toMatchObject({ applied: 150, durable: 150 });
    expect(store.shardState('acme', 3)).toMatchObject({ durable: 20 });

    const keys = (await bucket.list('acme/')).map((o) => o.key);
    const ulids = [...new Set(keys.map((k) => k.split('/')[1]))];
    expect(ulids).toHaveLength(2);
    for (const u of ulids) {
      expect(keys).toEqual(expect.arrayContaining([`acme/${u}/meta.json`, `acme/${u}/index`, `acme/${u}/chunks/000001`]));
      const meta = JSON.parse(new TextDecoder().decode(await bucket.get(`acme/${u}/meta.json`)));
      expect(meta.thanos).toEqual({ labels: { tenant: 'acme' }, downsample: { resolution: 0 }, source: 'isobar' });
      expect(isobarOf(meta)).toEqual({ node: 'node-a', shards: { '0': { from: 0, to: 150, logId: 'log-0' }, '3': { from: 0, to: 20, logId: 'log-3' } } });
    }
    if (hasPromtool()) {
      // promtool reads the tenant's folder of the bucket as a TSDB.
      const out = execFileSync('promtool', ['tsdb', 'list', join(bucketDir, 'acme')], { encoding: 'utf8' });
      for (const u of ulids) expect(out).toContain(u);
    }

    // A second flush: its records are not in the bucket until its block is.
    writeRounds(store, 'acme', 0, 151, 160);
    store.flush();
    expect(store.shardState('acme', 0).durable).toBe(150);
    await store.ship();
    expect(store.shardState('acme', 0).durable).toBe(160);
    store.close();
  });

  it('rebuilds an empty disk from the bucket: same answers, chunks read by ranged GETs, positions where the bucket ends', async () => {
    const bucket = new FsBucket(tmp('isobar-bkt-'));
    const a = open(tmp('isobar-node-'), bucket);
    writeRounds(a.store, 'acme', 0, 1, 300);
    writeRounds(a.store, 'acme', 1, 1, 40);
    a.store.flush();
    await a.store.ship();
    writeRounds(a.store, 'acme', 0, 301, 310); // in the head only: lost with the disk, replayed by the coordinator
    const want = await samples(a.store, 'acme', T0, T0 + 300 * 60_000);
    const wantWindow = await samples(a.store, 'acme', T0 + 100 * 60_000, T0 + 130 * 60_000);
    a.store.close();

    const b = open(tmp('isobar-node-'), bucket);
    const r = await b.store.rebuild();
    expect(r).toMatchObject({ tenants: 1, blocks: 3 });
    expect(b.store.shardState('acme', 0)).toMatchObject({ applied: 300, durable: 300 });
    expect(b.store.shardState('acme', 1)).toMatchObject({ applied: 40, durable: 40 });
    expect(b.store.tenantDb('acme')!.blocks).toHaveLength(0);
    expect(await samples(b.store, 'acme', T0, T0 + 300 * 60_000)).toBe(want);
    expect(b.cache.stats.indexFetches).toBe(3);
    expect(b.cache.stats.chunkRangeGets).toBeGreaterThan(0);
    // A second read of a window is served from the caches.
    const gets = b.cache.stats.chunkRangeGets;
    expect(await samples(b.store, 'acme', T0 + 100 * 60_000, T0 + 130 * 60_000)).toBe(wantWindow);
    expect(b.cache.stats.chunkRangeGets).toBe(gets);
    // delete_series on bucket blocks: applied when read (no local block to mark), kept for a rebuild.
    b.store.deleteSeries('acme', ['m1'], T0, T0 + 10 * 60_000);
    const m1 = [new Matcher('=', '__name__', 'm1')];
    const got = await b.store.tenantDb('acme')!.read(-Infinity, Infinity, () => b.store.tenantDb('acme')!.select(m1, -Infinity, Infinity), [m1]);
    expect(new Set(got.map((s) => s.labels[1]))).toEqual(new Set(['m1']));
    expect(got.reduce((n, s) => n + s.samples.length, 0)).toBe(50 * 30);
    // Series and label APIs read the cached indexes.
    const db = b.store.tenantDb('acme')!;
    expect(await db.read(-Infinity, Infinity, () => db.labelValues('__name__', [], -Infinity, Infinity))).toEqual(['m0', 'm1']);
    // The coordinator's replay continues from the bucket's end.
    expect(b.store.apply('acme', 0, encodeBatch([{ seq: 301, payload: payload('m0', 50, T0 + 301 * 60_000) }]), 1, 'log-0').ok).toBe(true);
    b.store.close();

    // Restarted with the disk kept: the bucket blocks are known from the cache folder.
    const c = open(join(b.cache.opts.dir, '..'), bucket);
    expect(c.store.tenantDb('acme')!.remote).toHaveLength(3);
    expect(await samples(c.store, 'acme', T0, T0 + 300 * 60_000)).toBe(want - 500); // the deletion holds too
    c.store.close();
  });

  it('a small chunk cache still answers (evicting between reads, never under one)', async () => {
    const bucket = new FsBucket(tmp('isobar-bkt-'));
    const a = open(tmp('isobar-node-'), bucket);
    writeRounds(a.store, 'acme', 0, 1, 200);
    a.store.flush();
    await a.store.ship();
    const want = await samples(a.store, 'acme');
    a.store.close();
    const b = open(tmp('isobar-node-'), bucket, { chunkCache: 1024 });
    await b.store.rebuild();
    expect(await samples(b.store, 'acme')).toBe(want);
    expect(await samples(b.store, 'acme')).toBe(want);
    expect(b.cache.bytes.chunks).toBeLessThan(200_000);
    b.store.close();
  });

  it('keeps native histograms through upload and rebuild: read back from bucket blocks, floats beside them unchanged', async () => {
    const series = fc.sample(histogramSeriesArb, { numRuns: 30, seed: 3 }).filter((hs) => hs.length >= 10).slice(0, 4).map((hs, i) => hs.map((h, k) => ({ ...h, t: T0 + k * 30_000 + i })));
    const bucket = new FsBucket(tmp('isobar-bkt-'));
    const a = open(tmp('isobar-node-'), bucket);
    const records = series.map((hs, i) => ({
      seq: i + 1,
      payload: new Uint8Array(compressSync(Buffer.from(encodeWriteRequest([{ labels: [['__name__', 'lat'], ['i', String(i)]], samples: [], histograms: hs }, { labels: [['__name__', 'm0'], ['i', String(i)]], samples: [[T0 + i, i]] }])))),
    }));
    expect(a.store.apply('acme', 0, encodeBatch(records), 1, 'log-0').ok).toBe(true);
    const lat = [new Matcher('=', '__name__', 'lat')];
    const read = (store: NodeStore) => {
      const db = store.tenantDb('acme')!;
      return db.read(-Infinity, Infinity, () => db.selectHistograms(lat, -Infinity, Infinity), [lat]);
    };
    const noHints = (x: Array<{ labels: readonly string[]; histograms: NativeHistogram[] }>) => x.map((s) => ({ labels: s.labels, histograms: s.histograms.map((h) => ({ ...h, resetHint: 0 })) }));
    const want = series.map((hs, i) => ({ labels: ['__name__', 'lat', 'i', String(i)], histograms: hs.map((h) => ({ ...h, resetHint: 0 })) }));
    expect(noHints(await read(a.store))).toEqual(want); // from the head
    a.store.flush();
    await a.store.ship();
    expect(noHints(await read(a.store))).toEqual(want); // from local blocks
    a.store.close();

    const b = open(tmp('isobar-node-'), bucket);
    await b.store.rebuild();
    expect(b.store.tenantDb('acme')!.blocks).toHaveLength(0);
    expect(noHints(await read(b.store))).toEqual(want); // from bucket blocks, through the chunk cache
    expect(await samples(b.store, 'acme')).toBe(series.length); // the floats beside them
    expect(b.store.tenantDb('acme')!.seriesLabels([lat], -Infinity, Infinity)).toHaveLength(series.length);
  });

  it('compacted blocks replace their sources in the bucket; marked blocks go after the delay; a rebuild sees one copy', async () => {
    const bucket = new FsBucket(tmp('isobar-bkt-'));
    const nodeDir = tmp('isobar-node-');
    const { store } = open(nodeDir, bucket, { deleteDelayMs: 0 });
    writeRounds(store, 'acme', 0, 1, 100);
    store.flush();
    writeRounds(store, 'acme', 0, 101, 200);
    store.flush();
    await store.ship();
    const before = new Set((await bucket.listPrefixes('acme/')).map((p) => p.split('/')[1]));
    expect(before.size).toBeGreaterThanOrEqual(3); // the second flush overlaps the first's last range
    const want = await samples(store, 'acme');
    const { compactions } = await store.compact(T0 + 10 * H);
    expect(compactions).toBeGreaterThan(0);
    await store.ship(); // uploads the merged block, then marks its parents
    const marked = (await bucket.list('acme/')).filter((o) => o.key.endsWith('/deletion-mark.json'));
    expect(marked.length).toBeGreaterThan(0);
    expect(await store.cleanBucket()).toBe(marked.length);
    const left = (await bucket.listPrefixes('acme/')).map((p) => p.split('/')[1]!);
    expect(left).toEqual(store.tenantDb('acme')!.blocks.map((b) => b.meta.ulid).sort());
    store.close();

    const b = open(tmp('isobar-node-'), bucket);
    await b.store.rebuild();
    expect(await samples(b.store, 'acme')).toBe(want);
    expect(b.store.shardState('acme', 0).durable).toBe(200);
    b.store.close();
  });

  it('a rebuilt node compacts blocks it has only in the bucket (downloading them), and the bucket ends with one copy', async () => {
    const bucket = new FsBucket(tmp('isobar-bkt-'));
    const a = open(tmp('isobar-node-'), bucket);
    writeRounds(a.store, 'acme', 0, 1, 600); // 10 h of 2 h blocks: at least one whole 6 h window
    a.store.flush();
    await a.store.ship();
    const want = await samples(a.store, 'acme');
    a.store.close();

    const b = open(tmp('isobar-node-'), bucket, { deleteDelayMs: 0 });
    expect((await b.store.rebuild()).blocks).toBe(6); // 2 h ranges from T0 + 1 min to T0 + 10 h
    const { compactions } = await b.store.compact(T0 + 12 * H);
    expect(compactions).toBeGreaterThan(0);
    const db = b.store.tenantDb('acme')!;
    expect(db.blocks.length).toBeGreaterThan(0); // downloaded, merged, served locally
    expect(db.remote.length + db.blocks.length).toBeLessThan(6);
    expect(await samples(b.store, 'acme')).toBe(want);
    await b.store.ship(); // the merged block goes up, then its parents are marked
    expect(await b.store.cleanBucket()).toBeGreaterThan(0);
    const left = (await bucket.listPrefixes('acme/')).map((p) => p.split('/')[1]!).filter((u) => u !== 'isobar');
    expect(left.sort()).toEqual([...db.blocks, ...db.remote].map((x) => x.meta.ulid).sort());
    b.store.close();

    const c = open(tmp('isobar-node-'), bucket);
    await c.store.rebuild();
    expect(await samples(c.store, 'acme')).toBe(want);
    expect(c.store.shardState('acme', 0).durable).toBe(600);
    c.store.close();
  });

  it('retention marks expired bucket blocks; a rebuilt node no longer serves them', async () => {
    const bucket = new FsBucket(tmp('isobar-bkt-'));
    const a = open(tmp('isobar-node-'), bucket, { retentionMs: 3 * H });
    writeRounds(a.store, 'acme', 0, 1, 300);
    a.store.flush();
    await a.store.ship();
    a.store.close();
    const b = open(tmp('isobar-node-'), bucket, { retentionMs: 3 * H });
    await b.store.rebuild();
    const { deleted } = await b.store.compact(T0 + 5 * H + 1);
    expect(deleted).toBe(1); // the block ending at T0 + 2h
    await b.store.ship();
    expect((await bucket.list('acme/')).filter((o) => o.key.endsWith('/deletion-mark.json'))).toHaveLength(1);
    const c = open(tmp('isobar-node-'), bucket);
    expect((await c.store.rebuild()).blocks).toBe(2);
    for (const s of [b, c]) s.store.close();
  });

  it('while the bucket is down nothing is reported durable; uploads resume when it is back', async () => {
    const flaky = new FlakyBucket(new FsBucket(tmp('isobar-bkt-')));
    const { store } = open(tmp('isobar-node-'), flaky);
    writeRounds(store, 'acme', 0, 1, 50);
    flaky.down = true;
    store.flush();
    await expect(store.ship()).rejects.toThrow(/bucket down/);
    expect(store.shardState('acme', 0)).toMatchObject({ applied: 50, durable: 0 });
    expect(store.pendingUploads()).toBe(1);
    writeRounds(store, 'acme', 0, 51, 60); // writes go on
    store.flush();
    flaky.down = false;
    expect(await store.ship()).toMatchObject({ uploaded: 2, pending: 0 });
    expect(store.shardState('acme', 0).durable).toBe(60);
    store.close();
  });

  it('an imported block is uploaded, then compacts with live data of the same range', async () => {
    const bucket = new FsBucket(tmp('isobar-bkt-'));
    const { store } = open(tmp('isobar-node-'), bucket);
    writeRounds(store, 'acme', 0, 1, 60); // live: m0, T0 .. T0+1h
    store.flush();
    const old = Array.from({ length: 100 }, (_, i) => [T0 + i * 30_000, i] as [number, number]);
    const staged = writeBlock(tmp('isobar-stage-'), toBlockInput([{ labels: ['__name__', 'imported', 'job', 'old'], samples: old }]));
    const r = store.importBlock('acme', staged.dir, T0 + 3 * H);
    expect(r).toMatchObject({ already: false, summary: { series: 1, samples: 100 } });
    expect(store.importBlock('acme', staged.dir, T0 + 3 * H)).toEqual({ already: true });
    await store.ship();
    const metaInBucket = JSON.parse(new TextDecoder().decode(await bucket.get(`acme/${staged.meta.ulid}/meta.json`)));
    expect(metaInBucket.thanos).toMatchObject({ labels: { tenant: 'acme' }, source: 'isobar-import' });
    expect(store.shardState('acme', 0).durable).toBe(60); // an import holds no log records: it holds nothing back
    const { compactions } = await store.compact(T0 + 10 * H);
    expect(compactions).toBe(1);
    const db = store.tenantDb('acme')!;
    expect(db.blocks).toHaveLength(1);
    expect(db.blocks[0]!.meta.compaction.sources).toContain(staged.meta.ulid);
    expect(store.hasBlock('acme', staged.meta.ulid)).toBe(true); // a rerun of the import skips it
    expect(await samples(store, 'acme')).toBe(60 * 50);
    const ms = [new Matcher('=', '__name__', 'imported')];
    expect(db.select(ms, -Infinity, Infinity)[0]!.samples).toHaveLength(100);
    store.close();
  });

  it('an imported block whose meta.json counts no histograms still has its histograms found', () => {
    const bucket = new FsBucket(tmp('isobar-bkt-'));
    const { store } = open(tmp('isobar-node-'), bucket);
    const hs = Array.from({ length: 30 }, (_, i): NativeHistogram => ({ t: T0 + i * 60_000, float: true, schema: 0, count: i, sum: i, zeroThreshold: 0, zeroCount: 0, positiveSpans: [0, 1], positiveBuckets: [i], negativeSpans: [], negativeBuckets: [], customValues: [], resetHint: 0 }));
    const staged = writeBlock(tmp('isobar-stage-'), [{ labels: ['__name__', 'imported_h'], chunks: encodeHistogramChunks(hs) }]);
    // As a Prometheus from before native histograms writes it: samples counted, kinds not.
    const metaFile = join(staged.dir, 'meta.json');
    const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    meta.stats = { numSamples: meta.stats.numSamples, numSeries: meta.stats.numSeries, numChunks: meta.stats.numChunks };
    writeFileSync(metaFile, JSON.stringify(meta));
    expect(store.importBlock('acme', staged.dir, T0 + 3 * H)).toMatchObject({ summary: { samples: 30, histogramSamples: 30 } });
    const db = store.tenantDb('acme')!;
    expect(db.blocks[0]!.meta.stats).toMatchObject({ numSamples: 30, numFloatSamples: 0, numHistogramSamples: 30 });
    const [found] = db.selectHistograms([new Matcher('=', '__name__', 'imported_h')], -Infinity, Infinity);
    expect(found!.histograms.map((h) => h.count)).toEqual(hs.map((h) => h.count));
    store.close();
  });

  it('deleting a tenant removes its objects from the bucket', async () => {
    const bucket = new FsBucket(tmp('isobar-bkt-'));
    const { store } = open(tmp('isobar-node-'), bucket);
    writeRounds(store, 'gone', 0, 1, 10);
    writeRounds(store, 'kept', 0, 1, 10);
    store.flush();
    await store.ship();
    store.deleteTenant('gone');
    expect(await store.deleteTenantFromBucket('gone')).toBeGreaterThan(0);
    expect(await bucket.list('gone/')).toEqual([]);
    expect((await bucket.list('kept/')).length).toBeGreaterThan(0);
    store.close();
    rmSync(store.bucket!.cache.opts.dir, { recursive: true, force: true });
  });
});
