/**
 * Downsampling on a node with a bucket: which blocks the tiers get, PromQL
 * through the tiers compared with raw data at a coarse step (the seven
 * functions the issue names), deletions, a rebuild from the bucket, and each
 * tier's retention.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../wire/log.js';
import { queryRangeApi } from '../api/query.js';
import { resolutionOf } from '../block/meta.js';
import { toBlockInput, type PlainSeries } from '../block/test-helpers.js';
import { writeBlock } from '../block/writer.js';
import { FsBucket } from '../bucket/fs-bucket.js';
import { thanosSection } from '../bucket/layout.js';
import { BlockCache } from '../bucket/remote-block.js';
import { Shipper } from '../bucket/shipper.js';
import { NodeMetrics } from '../node/metrics.js';
import { NodeStore } from '../node/store.js';
import { BlockReader } from '../block/reader.js';
import { TenantDB } from '../db/tenant-db.js';
import { downsampleBlocks, RES_1H, RES_5M } from './downsample.js';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createServer } from '../server.js';
import { peerSeries } from '../api/peers.js';
import type { EngineOptions } from '../promql/engine.js';
import { Matcher } from '../model/matcher.js';
import { encodeHistogramChunks } from '../chunkenc/histogram.js';
import type { NativeHistogram } from '../../../wire/histogram.js';

const H = 3_600_000;
const D = 24 * H;
const W = 7 * D;
/** A week boundary, so the first week is one 1 h window. */
const T0 = 1_699_833_600_000 - (1_699_833_600_000 % W);
const DAYS = 9;
const END = T0 + DAYS * D;
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Deterministic noise in [0, 1). */
function noise(i: number): number {
  const x = Math.sin(i * 12.9898) * 43758.5453;
  return x - Math.floor(x);
}

/**
 * Three series sampled every 60 s, 7 s past the minute (no sample on a window
 * boundary): a counter with uneven increments and a reset a day, a gauge, and
 * a counter that stops for a while.
 */
function series(): PlainSeries[] {
  const out: PlainSeries[] = [
    { labels: ['__name__', 'req_total', 'job', 'a'], samples: [] },
    { labels: ['__name__', 'temp', 'job', 'c'], samples: [] },
    { labels: ['__name__', 'req_total', 'job', 'b'], samples: [] },
  ];
  let c = 0;
  let c2 = 0;
  for (let t = T0 + 7_000, i = 0; t < END; t += 60_000, i++) {
    c = i % 1440 === 700 ? 3 : c + 10 + Math.floor(noise(i) * 3);
    out[0]!.samples.push([t, c]);
    out[1]!.samples.push([t, 20 + 5 * Math.sin(i / 90) + noise(i + 7)]);
    if (i % 600 < 400) out[2]!.samples.push([t, (c2 += 2)]);
  }
  return out;
}

/** A counter histogram sampled every 60 s, 7 s past the minute, with a reset a day (as `series()`'s counter). */
function histogramCounter(): NativeHistogram[] {
  const out: NativeHistogram[] = [];
  let buckets = [0, 0, 0];
  for (let t = T0 + 7_000, i = 0; t < END; t += 60_000, i++) {
    buckets = i % 1440 === 700 ? [1, 0, 0] : [buckets[0]! + 1, buckets[1]! + Math.floor(noise(i) * 3), buckets[2]! + 3];
    const count = buckets[0]! + buckets[1]! + buckets[2]!;
    out.push({ t, float: false, schema: 0, count, sum: count * 1.5, zeroThreshold: 0, zeroCount: 0, positiveSpans: [0, 3], positiveBuckets: buckets.map((b, k) => b - (k ? buckets[k - 1]! : 0)), negativeSpans: [], negativeBuckets: [], customValues: [], resetHint: 0 });
  }
  return out;
}

/** `lat_seconds{job="h"}`'s histograms as one raw block per day. */
function writeHistogramDays(blocksDir: string, node: string, hs: readonly NativeHistogram[]): void {
  for (let d = 0; d < DAYS; d++) {
    const day = hs.filter((h) => h.t >= T0 + d * D && h.t < T0 + (d + 1) * D);
    writeBlock(blocksDir, [{ labels: ['__name__', 'lat_seconds', 'job', 'h'], chunks: encodeHistogramChunks(day) }], { sections: { thanos: thanosSection('acme', 'isobar'), isobar: { node, shards: {} } } });
  }
}

/** The steps of a result whose range (`range` ms before them) holds no reset of `hs` (clean) or holds one. */
function splitByResets(hs: readonly NativeHistogram[], r: Array<{ metric: Record<string, string>; values: Array<[number, string]> }>, range: number, clean: boolean) {
  const resetFree = (t: number) => !hs.some((h, i) => i > 0 && h.count < hs[i - 1]!.count && h.t > t * 1000 - range && h.t <= t * 1000);
  return r.map((s) => ({ metric: s.metric, values: s.values.filter(([t]) => resetFree(t) === clean) }));
}

/** One raw block per day (as flushes and compaction leave them at the 24 h level) of `all`'s samples in days [from, to). */
function writeDays(blocksDir: string, node = 'node-a', all = series(), from = 0, to = DAYS): void {
  for (let d = from; d < to; d++) {
    const lo = T0 + d * D;
    const part = all.map((s) => ({ labels: s.labels, samples: s.samples.filter(([t]) => t >= lo && t < lo + D) })).filter((s) => s.samples.length > 0);
    writeBlock(blocksDir, toBlockInput(part), { sections: { thanos: thanosSection('acme', 'isobar'), isobar: { node, shards: {} } } });
  }
}

function open(nodeDir: string, bucketDir: string, node = 'node-a') {
  const bucket = new FsBucket(bucketDir);
  const cache = new BlockCache(bucket, { dir: join(nodeDir, 'remote'), maxIndexBytes: 1 << 30, maxChunkBytes: 1 << 30 });
  const store = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), { nodeDir, blockRangeMs: 2 * H, bucket: { shipper: new Shipper(bucket, node), cache, deleteDelayMs: 0 } });
  store.open();
  return store;
}

/** Compact, downsample and upload until nothing is left to do at END + 1 h. */
async function settle(store: NodeStore): Promise<void> {
  for (let pass = 0; pass < 10; pass++) {
    await store.ship();
    const r = await store.compact(END + H);
    if (r.compactions + r.downsampled + r.deleted === 0) break;
  }
  await store.ship();
}

async function query(store: NodeStore, q: string, step: number, maxRes?: string, opts: EngineOptions = {}) {
  const params = new URLSearchParams({ query: q, start: String((T0 + 12 * H) / 1000), end: String((END - H) / 1000), step: String(step / 1000) });
  if (maxRes) params.set('max_source_resolution', maxRes);
  const body = JSON.parse(await queryRangeApi(store.tenantDb('acme'), params, opts)) as { data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }; infos?: string[] };
  return { infos: body.infos ?? [], result: body.data.result };
}

/** Every point of `got` within `tol` (relative) of raw's, and the same series and steps. */
function expectClose(got: Awaited<ReturnType<typeof query>>['result'], raw: Awaited<ReturnType<typeof query>>['result'], tol: number, minPoints = 30): void {
  expect(got.map((s) => s.metric)).toEqual(raw.map((s) => s.metric));
  let points = 0;
  for (let i = 0; i < raw.length; i++) {
    const want = new Map(raw[i]!.values.map(([t, v]) => [t, Number(v)]));
    const have = new Map(got[i]!.values.map(([t, v]) => [t, Number(v)]));
    // Steps whose window holds too little data (the series b gap) may differ in presence; the rest must agree.
    for (const [t, v] of want) {
      const h = have.get(t);
      if (h === undefined) continue;
      points++;
      expect(Math.abs(h - v), `${JSON.stringify(raw[i]!.metric)} at ${t}: ${h} vs raw ${v}`).toBeLessThanOrEqual(tol * Math.abs(v) + 1e-9);
    }
    expect(have.size).toBeGreaterThanOrEqual(want.size * 0.9);
  }
  expect(points).toBeGreaterThan(minPoints);
}

describe('downsampled tiers', () => {
  const nodeDir = tmp('isobar-ds-node-');
  const bucketDir = tmp('isobar-ds-bucket-');
  dirs.push(nodeDir, bucketDir);
  writeDays(join(nodeDir, 'blocks', 'acme'));
  let store = open(nodeDir, bucketDir);
  store.setRetention('acme', 400 * D, { [RES_5M]: 800 * D, [RES_1H]: 2000 * D });

  it('makes 5m blocks of every settled raw block and 1h blocks of each closed week, uploaded', async () => {
    await settle(store);
    const db = store.tenantDb('acme')!;
    const by = (res: number) => db.blocks.filter((b) => resolutionOf(b.meta) === res);
    // Raw days 0-6 were compacted into a week: one 5m block holds them; days 7 and 8: day 7 settled, day 8 is the newest.
    const m5 = by(RES_5M);
    expect(m5.map((b) => Math.round((b.meta.maxTime - b.meta.minTime) / D)).sort()).toEqual([1, 7]);
    const h1 = by(RES_1H);
    expect(h1).toHaveLength(1);
    expect(h1[0]!.meta.minTime).toBe(T0 + 7_000);
    expect(h1[0]!.meta.compaction.sources).toEqual(by(0).find((b) => b.meta.maxTime - b.meta.minTime > 6 * D)!.meta.compaction.sources);
    expect(store.pendingUploads()).toBe(0);
    // Windows, not samples: a 5 m block holds 12 per hour per series at most.
    expect(m5.every((b) => b.meta.stats!.numSamples! <= ((b.meta.maxTime - b.meta.minTime) / H) * 12 * 3 + 3)).toBe(true);
  });

  const FUNCTIONS = ['rate', 'increase', 'max_over_time', 'min_over_time', 'sum_over_time', 'count_over_time', 'avg_over_time'];
  // rate and increase see a range less its first window (a window's point is its last sample), extrapolated as Prometheus does.
  const tolerance = (fn: string) => (fn === 'rate' || fn === 'increase' ? 0.02 : 1e-12);

  // rate and increase on the continuous counter (resets included): where a series starts or stops inside
  // the range, Prometheus extrapolates by half the sample interval, which is a window in a tier.
  const selector = (fn: string) => (fn === 'rate' || fn === 'increase' ? 'req_total{job="a"}' : '{__name__=~"req_total|temp"}');

  it.each(FUNCTIONS)('%s at a 1h step reads the 5m tier and agrees with raw data', async (fn) => {
    const q = `${fn}(${selector(fn)}[1h])`;
    const tiered = await query(store, q, H);
    const raw = await query(store, q, H, 'raw');
    expect(tiered.infos.join()).toMatch(/from the 5m downsampled tier/);
    expect(raw.infos).toEqual([]);
    expectClose(tiered.result, raw.result, tolerance(fn));
  });

  it.each(FUNCTIONS)('%s at a 6h step reads the 1h tier and agrees with raw data', async (fn) => {
    const q = `${fn}(${selector(fn)}[6h])`;
    const tiered = await query(store, q, 6 * H);
    const raw = await query(store, q, 6 * H, 'raw');
    expect(tiered.infos.join()).toMatch(/from the 1h downsampled tier/);
    expectClose(tiered.result, raw.result, tolerance(fn));
  });

  it('keeps raw data for short ranges and fine steps, and averages windows for plain selectors', async () => {
    expect((await query(store, 'rate(req_total[5m])', H)).infos).toEqual([]);
    expect((await query(store, 'rate(req_total[1h])', 120_000)).infos).toEqual([]);
    const plain = await query(store, 'temp', 30 * 60_000);
    expect(plain.infos.join()).toMatch(/^isobar: data before \S+ from the 5m downsampled tier; raw samples after/);
    const avg = await query(store, 'avg_over_time(temp[5m])', 30 * 60_000, 'raw');
    // Where the tier serves, the point at a step is the average of the window before it (the step is on a window boundary).
    const until = store.tenantDb('acme')!.tierSpan(RES_5M)!.maxTime / 1000;
    const before = (r: typeof plain.result) => r.map((x) => ({ metric: {}, values: x.values.filter(([t]) => t < until) }));
    expectClose(before(plain.result), before(avg.result), 1e-12);
  });

  it('leaves deleted series out of the tiers', async () => {
    store.deleteSeries('acme', ['{job="b"}'], T0, END);
    const after = await query(store, 'max_over_time(req_total[1h])', H);
    expect(after.infos.join()).toMatch(/5m/);
    expect(after.result.map((s) => s.metric.job)).toEqual(['a']);
  });

  it('serves the same answers from the bucket after a rebuild', async () => {
    const before = await query(store, 'increase(req_total[6h])', 6 * H);
    await store.ship(); // the deletion goes to the bucket too
    store.close();
    const fresh = tmp('isobar-ds-rebuilt-');
    dirs.push(fresh);
    store = open(fresh, bucketDir);
    const { blocks } = await store.rebuild();
    expect(blocks).toBeGreaterThan(3);
    const db = store.tenantDb('acme')!;
    expect(db.remote.filter((r) => resolutionOf(r.meta) === RES_1H)).toHaveLength(1);
    const after = await query(store, 'increase(req_total[6h])', 6 * H);
    expect(after.infos.join()).toMatch(/1h downsampled tier/);
    expect(after.result).toEqual(before.result);
  });

  it('deletes each tier at its own retention', async () => {
    store.setRetention('acme', 2 * D, { [RES_5M]: 5 * D, [RES_1H]: 2000 * D });
    await store.compact(END + H);
    const db = store.tenantDb('acme')!;
    const ends = (res: number) => db.remote.filter((r) => resolutionOf(r.meta) === res).map((r) => r.meta.maxTime);
    expect(ends(0).every((t) => t > END + H - 2 * D)).toBe(true);
    expect(ends(RES_5M).every((t) => t > END + H - 5 * D)).toBe(true);
    expect(ends(RES_1H)).toHaveLength(1);
    // The first week is gone raw, still there at 1 h resolution.
    const r = await query(store, 'max_over_time(req_total[6h])', 6 * H, 'raw');
    expect(r.result[0]!.values[0]![0]).toBeGreaterThan((END + H - 3 * D) / 1000);
    const t = await query(store, 'max_over_time(req_total[6h])', 6 * H);
    expect(t.infos.join()).toMatch(/1h downsampled tier/);
    expect(t.result[0]!.values[0]![0]).toBe((T0 + 12 * H) / 1000);
  });
});

describe('where a tier answers alone', () => {
  it('stops at the first raw block the tier does not hold yet', () => {
    const dir = tmp('isobar-ds-span-');
    dirs.push(dir);
    const all = series();
    const day = (d: number) => {
      const part = all.map((s) => ({ labels: s.labels, samples: s.samples.filter(([t]) => t >= T0 + d * D && t < T0 + (d + 1) * D) }));
      return BlockReader.open(writeBlock(join(dir, 'raw'), toBlockInput(part), { sections: { thanos: thanosSection('acme', 'isobar') } }).dir);
    };
    const raw = [day(0), day(1), day(2)];
    const db = new TenantDB('acme');
    db.localBlocks.add(...raw, ...[raw[0]!, raw[2]!].map((b) => BlockReader.open(downsampleBlocks(join(dir, 'm5'), [b], RES_5M)!.dir)));
    // Day 1 is not downsampled: the tier answers up to its start, not to day 2's end.
    expect(db.tierSpan(RES_5M)).toEqual({ minTime: T0 + 7_000, maxTime: raw[1]!.meta.minTime });
    db.localBlocks.add(BlockReader.open(downsampleBlocks(join(dir, 'm5'), [raw[1]!], RES_5M)!.dir));
    expect(db.tierSpan(RES_5M)!.maxTime).toBe(raw[2]!.meta.maxTime);
    for (const b of db.blocks) b.close();
  });
});

/**
 * A tenant whose series live on two nodes (one bucket, each node its own
 * blocks): node A evaluates, node B answers over HTTP through its own tiers
 * (`chunks?resolution=`), as in a deployment with several storage nodes.
 */
describe('tiers on a tenant spread over two nodes', () => {
  const bucketDir = tmp('isobar-ds2-bucket-');
  const dirA = tmp('isobar-ds2-a-');
  const dirB = tmp('isobar-ds2-b-');
  dirs.push(bucketDir, dirA, dirB);
  const [a, c, b] = series();
  // Node A: job a; node B: job c and job b. moved_total's shard moved from A to B after day 4.
  const moved: PlainSeries = { labels: ['__name__', 'moved_total', 'job', 'm'], samples: a!.samples.map(([t, v]) => [t, v * 2]) };
  writeDays(join(dirA, 'blocks', 'acme'), 'node-a', [a!]);
  writeDays(join(dirA, 'blocks', 'acme'), 'node-a', [moved], 0, 5);
  writeDays(join(dirB, 'blocks', 'acme'), 'node-b', [c!, b!]);
  writeDays(join(dirB, 'blocks', 'acme'), 'node-b', [moved], 5, DAYS);
  const histograms = histogramCounter(); // node B's only
  writeHistogramDays(join(dirB, 'blocks', 'acme'), 'node-b', histograms);
  const nodeA = open(dirA, bucketDir, 'node-a');
  const nodeB = open(dirB, bucketDir, 'node-b');
  for (const n of [nodeA, nodeB]) n.setRetention('acme', 400 * D, { [RES_5M]: 800 * D, [RES_1H]: 2000 * D });
  const secret = 'peer-secret';
  let server: ServerType;
  let peers: EngineOptions;

  beforeAll(async () => {
    await settle(nodeA);
    await settle(nodeB);
    server = serve({ fetch: createServer({ store: nodeB, metrics: new NodeMetrics(), log: createLogger('t', 'error'), secret }).fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    peers = { peers: peerSeries([`http://127.0.0.1:${(server.address() as AddressInfo).port}`], 'acme', secret) };
  });
  afterAll(() => {
    server?.close();
    nodeA.close();
    nodeB.close();
  });

  const FUNCTIONS = ['rate', 'increase', 'max_over_time', 'min_over_time', 'sum_over_time', 'count_over_time', 'avg_over_time'];
  const tolerance = (fn: string) => (fn === 'rate' || fn === 'increase' ? 0.02 : 1e-12);
  const selector = (fn: string) => (fn === 'rate' || fn === 'increase' ? '{__name__=~"req_total|moved_total",job=~"a|m"}' : '{__name__=~"req_total|temp|moved_total"}');

  it.each([
    [H, '1h', '5m'],
    [6 * H, '6h', '1h'],
  ])('at a %d ms step, reads both nodes through their tiers and agrees with raw data', async (step, range, tier) => {
    for (const fn of FUNCTIONS) {
      const q = `${fn}(${selector(fn)}[${range}])`;
      const tiered = await query(nodeA, q, step, undefined, peers);
      const raw = await query(nodeA, q, step, 'raw', peers);
      expect(tiered.infos.join(), q).toMatch(new RegExp(`from the ${tier} downsampled tier`));
      expect(raw.infos).toEqual([]);
      // Series of both nodes, and the moved one joined into one.
      expect(tiered.result.map((s) => s.metric.job).sort(), q).toEqual(fn === 'rate' || fn === 'increase' ? ['a', 'm'] : ['a', 'b', 'c', 'm']);
      expectClose(tiered.result, raw.result, tolerance(fn));
    }
  });

  it('joins a counter whose shard moved between nodes without a false reset', async () => {
    // moved_total = 2 x req_total{job="a"}: every increase over the move at day 5 must be twice job a's, through the 5m tier.
    const r = await query(nodeA, 'increase({__name__=~"req_total|moved_total",job=~"a|m"}[2h])', H, undefined, peers);
    expect(r.infos.join()).toMatch(/5m downsampled tier/);
    const [ja, jm] = [r.result.find((s) => s.metric.job === 'a')!, r.result.find((s) => s.metric.job === 'm')!];
    const half = new Map(ja.values.map(([t, v]) => [t, Number(v)]));
    const around = jm.values.filter(([t]) => Math.abs(t * 1000 - (T0 + 5 * D)) <= 6 * H);
    expect(around.length).toBeGreaterThan(8);
    for (const [t, v] of around) expect(Number(v), `at ${t}`).toBeCloseTo(2 * half.get(t)!, 6);
  });

  it("reads a peer's native histograms through its tiers", async () => {
    for (const [step, range, tier] of [[H, '1h', '5m'], [6 * H, '6h', '1h']] as const) {
      const q = `histogram_count(increase(lat_seconds[${range}]))`;
      const tiered = await query(nodeA, q, step, undefined, peers);
      const raw = await query(nodeA, q, step, 'raw', peers);
      expect(tiered.infos.join(), q).toMatch(new RegExp(`from the ${tier} downsampled tier`));
      const ms = Number.parseInt(range) * H + (tier === '1h' ? H : 5 * 60_000);
      expectClose(splitByResets(histograms, tiered.result, ms, true), splitByResets(histograms, raw.result, ms, true), 0.02, 15);
    }
  });

  it("reads a peer's downsampled data after its raw data has expired", async () => {
    nodeB.setRetention('acme', 2 * D, { [RES_5M]: 800 * D, [RES_1H]: 2000 * D });
    await nodeB.compact(END + H);
    const q = 'max_over_time(temp[6h])';
    const raw = await query(nodeA, q, 6 * H, 'raw', peers);
    expect(raw.result[0]!.values[0]![0]).toBeGreaterThan((END + H - 3 * D) / 1000); // raw: the last two days only
    const tiered = await query(nodeA, q, 6 * H, undefined, peers);
    expect(tiered.infos.join()).toMatch(/1h downsampled tier/);
    expect(tiered.result[0]!.values[0]![0]).toBe((T0 + 12 * H) / 1000); // the tiers: from the start
    expect(tiered.result[0]!.values.length).toBeGreaterThan(((END - H - T0 - 12 * H) / (6 * H)) * 0.95);
    // Its native histograms too: from the start through its tiers, the last two days only raw.
    const h = 'histogram_count(increase(lat_seconds[6h]))';
    expect((await query(nodeA, h, 6 * H, 'raw', peers)).result[0]!.values[0]![0]).toBeGreaterThan((END + H - 3 * D) / 1000);
    const ht = await query(nodeA, h, 6 * H, undefined, peers);
    expect(ht.result[0]!.values[0]![0]).toBe((T0 + 12 * H) / 1000);
    expect(ht.result[0]!.values.every(([, v]) => Number(v) > 0)).toBe(true);
  });

  it('refuses a resolution that is not a tier, naming the parameter', async () => {
    const port = (server.address() as AddressInfo).port;
    const r = await fetch(`http://127.0.0.1:${port}/internal/v1/tenants/acme/chunks?match[]=temp&start=0&end=1&resolution=60`, { headers: { authorization: `Bearer ${secret}` } });
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/invalid parameter \\"resolution\\"/);
  });
});

/**
 * Native histograms in the tiers: a counter histogram sampled every 60 s with
 * a reset a day, downsampled with the floats; rate, increase and quantiles
 * through the tiers against raw data, and the tiers alone once raw data has
 * expired.
 */
describe('native histograms in the tiers', () => {
  const nodeDir = tmp('isobar-dsh-node-');
  const bucketDir = tmp('isobar-dsh-bucket-');
  dirs.push(nodeDir, bucketDir);
  const histograms = histogramCounter();
  writeHistogramDays(join(nodeDir, 'blocks', 'acme'), 'node-a', histograms);
  const store = open(nodeDir, bucketDir);
  store.setRetention('acme', 400 * D, { [RES_5M]: 800 * D, [RES_1H]: 2000 * D });
  beforeAll(() => settle(store));
  afterAll(() => store.close());

  /** Steps with no reset in their range: there the tier's answer is as exact as the floats'. */
  const split = (r: Awaited<ReturnType<typeof query>>['result'], range: number, clean: boolean) => splitByResets(histograms, r, range, clean);

  it('keeps each window\u2019s last histogram in the 5m and 1h blocks', () => {
    const db = store.tenantDb('acme')!;
    for (const res of [RES_5M, RES_1H]) {
      const blocks = db.blocks.filter((b) => resolutionOf(b.meta) === res);
      expect(blocks.length, `${res}`).toBeGreaterThan(0);
      for (const b of blocks) expect(b.meta.stats!.numHistogramSamples!).toBeLessThanOrEqual((b.meta.maxTime - b.meta.minTime) / res + 1);
    }
    // One histogram per 5 m window with data, the windows with a reset said so (a chunk starts there).
    const [tier] = db.selectHistograms([new Matcher('=', '__name__', 'lat_seconds')], T0, END, RES_5M);
    const until = db.tierSpan(RES_5M)!.maxTime;
    const held = histograms.filter((h) => h.t < until);
    const windows = new Set(held.map((h) => Math.floor(h.t / RES_5M)));
    expect(tier!.histograms.length).toBe(windows.size);
    expect(tier!.histograms.map((h) => h.t)).toEqual([...windows].map((w) => Math.max(...held.filter((h) => Math.floor(h.t / RES_5M) === w).map((h) => h.t))));
    expect(tier!.histograms.filter((h) => h.resetHint === 1)).toHaveLength(held.filter((h, i) => i > 0 && h.count < held[i - 1]!.count).length);
  });

  it.each([
    [H, '1h', '5m'],
    [6 * H, '6h', '1h'],
  ])('increase and quantiles at a %d ms step read the tier and agree with raw data', async (step, range, tier) => {
    for (const q of [`histogram_count(increase(lat_seconds[${range}]))`, `histogram_sum(rate(lat_seconds[${range}]))`, `histogram_quantile(0.9, rate(lat_seconds[${range}]))`]) {
      const tiered = await query(store, q, step);
      const raw = await query(store, q, step, 'raw');
      expect(tiered.infos.join(), q).toMatch(new RegExp(`from the ${tier} downsampled tier`));
      expect(raw.infos, q).toEqual([]);
      // Steps whose range holds a reset window are left out (the window is `step`'s tier: 5 m or 1 h).
      const ms = Number.parseInt(range) * H + (tier === '1h' ? H : 5 * 60_000);
      expectClose(split(tiered.result, ms, true), split(raw.result, ms, true), 0.02, 15);
      // A window with a reset loses the growth before the reset inside it (docs/format/downsampled.md): still counted as a reset, never negative.
      if (!q.startsWith('histogram_quantile')) for (const [t, v] of split(tiered.result, ms, false)[0]!.values) expect(Number(v), `${q} at ${t}`).toBeGreaterThan(0);
    }
  });

  it('answers from the tiers once the raw histograms have expired', async () => {
    store.setRetention('acme', 2 * D, { [RES_5M]: 5 * D, [RES_1H]: 2000 * D });
    await store.compact(END + H);
    const q = 'histogram_count(increase(lat_seconds[6h]))';
    const raw = await query(store, q, 6 * H, 'raw');
    expect(raw.result[0]!.values[0]![0]).toBeGreaterThan((END + H - 3 * D) / 1000);
    const tiered = await query(store, q, 6 * H);
    expect(tiered.infos.join()).toMatch(/1h downsampled tier/);
    expect(tiered.result[0]!.values[0]![0]).toBe((T0 + 12 * H) / 1000);
    // About 6 h of growth at each clean step: 60 observations a minute on average... per bucket: 1 + 1 + 3 a minute.
    const clean = split(tiered.result, 6 * H, true)[0]!.values;
    expect(clean.length).toBeGreaterThan(10);
    for (const [, v] of clean) expect(Number(v)).toBeGreaterThan(6 * 60 * 4 * 0.9);
  });
});
