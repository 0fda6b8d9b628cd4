/**
 * Downsampled tiers, measured (run by `npm run bench`, bundled by esbuild):
 *   downsample <series> <days>
 * Writes <series> counters sampled every 60 s over <days> as daily blocks on
 * a node with the filesystem bucket, then:
 *  - downsampling: compaction runs (and uploads) until the 5 m and 1 h tiers
 *    exist; time and bytes per tier;
 *  - the cold query of a <days>-day Grafana rate panel,
 *    `sum by (job) (rate(m[1h]))` at a 1 h step (read from the 5 m tier), and
 *    `sum by (job) (rate(m[6h]))` at a 6 h step (the 1 h tier), each on a node
 *    rebuilt from the bucket (nothing cached), against the same query with
 *    `max_source_resolution=raw` on another rebuilt node;
 *  - the same panels over two nodes: a rebuilt node holding the data answers
 *    over HTTP (`chunks?resolution=`) a node with none that evaluates.
 * Prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../wire/log.js';
import { queryRangeApi } from '../src/api/query.js';
import { resolutionOf } from '../src/block/meta.js';
import { writeBlock, type BlockSeriesInput } from '../src/block/writer.js';
import { FsBucket } from '../src/bucket/fs-bucket.js';
import { BlockCache } from '../src/bucket/remote-block.js';
import { Shipper } from '../src/bucket/shipper.js';
import { encodeColumns } from '../src/chunkenc/merge.js';
import { RES_1H, RES_5M } from '../src/downsample/downsample.js';
import { NodeMetrics } from '../src/node/metrics.js';
import { NodeStore } from '../src/node/store.js';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createServer } from '../src/server.js';
import { peerSeries } from '../src/api/peers.js';
import type { EngineOptions } from '../src/promql/engine.js';

const [seriesArg = '500', daysArg = '30'] = process.argv.slice(2);
const SERIES = Number(seriesArg);
const DAYS = Number(daysArg);
const H = 3_600_000;
const D = 24 * H;
const STEP = 60_000;
const T0 = Math.floor(Date.now() / D) * D - (DAYS + 1) * D;
const END = T0 + DAYS * D;
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

async function main() {
  const bucket = new FsBucket(tmp('isobar-bench-ds-bucket-'));
  const log = createLogger('bench', 'error');
  const dirs: string[] = [];
  const open = (dir = tmp('isobar-bench-ds-node-')) => {
    dirs.push(dir);
    const store = new NodeStore(new NodeMetrics(), log, {
      nodeDir: dir,
      bucket: { shipper: new Shipper(bucket, 'bench'), cache: new BlockCache(bucket, { dir: join(dir, 'remote'), maxIndexBytes: 8 * 1024 ** 3, maxChunkBytes: 1024 ** 3 }), deleteDelayMs: 0 },
    });
    store.open();
    return { store, dir };
  };

  const nodeA = tmp('isobar-bench-ds-node-');
  const blocksDir = join(nodeA, 'blocks', 'bench');
  let samples = 0;
  for (let day = 0; day < DAYS + 1; day++) {
    const start = T0 + day * D;
    const n = D / STEP;
    const input: BlockSeriesInput[] = [];
    for (let i = 0; i < SERIES; i++) {
      const t = new Float64Array(n);
      const v = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        t[k] = start + k * STEP + 7_000;
        v[k] = (day * n + k) * (1 + (i % 7)) + (k % 13 === 0 ? 0.5 : 0); // counters
      }
      input.push({ labels: ['__name__', 'bench_requests_total', 'instance', `host-${i >> 4}`, 'job', `svc-${i % 20}`], chunks: encodeColumns({ t, v, n }) });
      samples += n;
    }
    writeBlock(blocksDir, input, { sections: { thanos: { labels: { tenant: 'bench' }, downsample: { resolution: 0 }, source: 'isobar' }, isobar: { node: 'bench', shards: {} } } });
  }
  const a = open(nodeA);
  a.store.setRetention('bench', 400 * D, { [RES_5M]: 365 * D, [RES_1H]: 5 * 365 * D });

  const t0 = performance.now();
  await a.store.ship();
  for (let pass = 0; pass < 4; pass++) {
    await a.store.compact(Date.now());
    await a.store.ship();
  }
  const downsampleS = (performance.now() - t0) / 1000;
  const db = a.store.tenantDb('bench')!;
  const bytes = (res: number) => db.blocks.filter((b) => resolutionOf(b.meta) === res).reduce((n, b) => n + b.bytes(), 0);
  const tiers = { rawMB: bytes(0) / 1024 ** 2, m5MB: bytes(RES_5M) / 1024 ** 2, h1MB: bytes(RES_1H) / 1024 ** 2 };

  // Bytes peers sent (the evaluating node's fetches).
  let wireBytes = 0;
  const plainFetch = globalThis.fetch;
  globalThis.fetch = async (...args: Parameters<typeof fetch>) => {
    const r = await plainFetch(...args);
    const body = new Uint8Array(await r.arrayBuffer());
    wireBytes += body.length;
    return new Response(body, { status: r.status, headers: r.headers });
  };
  /** The query on a node rebuilt from the bucket (nothing cached); with `viaPeer`, evaluated by an empty node that asks it over HTTP. */
  const cold = async (q: string, step: number, maxRes?: string, viaPeer = false) => {
    const b = open();
    await b.store.rebuild();
    const params = new URLSearchParams({ query: q, start: String((T0 + 6 * H) / 1000), end: String(END / 1000), step: String(step / 1000) });
    if (maxRes) params.set('max_source_resolution', maxRes);
    let opts: EngineOptions = {};
    const server = viaPeer ? serve({ fetch: createServer({ store: b.store, metrics: new NodeMetrics(), log, secret: 'bench' }).fetch, hostname: '127.0.0.1', port: 0 }) : undefined;
    if (server) {
      await new Promise((r) => server.once('listening', r));
      opts = { peers: peerSeries([`http://127.0.0.1:${(server.address() as AddressInfo).port}`], 'bench', 'bench') };
    }
    wireBytes = 0;
    const s = performance.now();
    const r = await queryRangeApi(viaPeer ? undefined : b.store.tenantDb('bench'), params, opts);
    const ms = Math.round(performance.now() - s);
    const stats = b.store.bucket!.cache.stats;
    const infos = (JSON.parse(r) as { infos?: string[] }).infos ?? [];
    server?.close();
    b.store.close();
    const mb = (n: number) => Number((n / 1024 ** 2).toFixed(1));
    return {
      ms,
      fetchedMB: mb(stats.indexBytesFetched + stats.chunkBytesFetched),
      ...(viaPeer ? { peerSentMB: mb(wireBytes) } : {}),
      tier: infos.length ? infos[0]!.replace(/.*allow (\S+) resolution.*/, '$1') : 'raw',
    };
  };
  const q1 = 'sum by (job) (rate(bench_requests_total[1h]))';
  const q6 = 'sum by (job) (rate(bench_requests_total[6h]))';
  const panel5m = { tiered: await cold(q1, H), raw: await cold(q1, H, 'raw') };
  const panel1h = { tiered: await cold(q6, 6 * H), raw: await cold(q6, 6 * H, 'raw') };
  const peer5m = { tiered: await cold(q1, H, undefined, true), raw: await cold(q1, H, 'raw', true) };
  const peer1h = { tiered: await cold(q6, 6 * H, undefined, true), raw: await cold(q6, 6 * H, 'raw', true) };
  globalThis.fetch = plainFetch;
  const ratio = (p: { tiered: { ms: number }; raw: { ms: number } }) => ({ ...p, ratio: Number((p.raw.ms / p.tiered.ms).toFixed(1)) });
  console.log(
    JSON.stringify({
      bench: 'downsample',
      series: SERIES,
      days: DAYS,
      samples,
      downsampleS: Number(downsampleS.toFixed(1)),
      tiersMB: Object.fromEntries(Object.entries(tiers).map(([k, v]) => [k, Number(v.toFixed(1))])),
      panel1hStep: ratio(panel5m),
      panel6hStep: ratio(panel1h),
      viaPeer1hStep: ratio(peer5m),
      viaPeer6hStep: ratio(peer1h),
    }),
  );
  a.store.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

await main();
