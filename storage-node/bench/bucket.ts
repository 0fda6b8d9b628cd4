/**
 * The bucket path, measured (run by `npm run bench`, bundled by esbuild):
 *   bucket <fs|s3> <series> <hours>
 * Writes <series> series of 15 s samples over <hours> as 2 h blocks, then:
 *  - upload: ship every block to the bucket (MB/s);
 *  - rebuild: a node on an empty disk reads the bucket (s per GB of blocks);
 *  - queries: `sum(rate(m[5m]))` over the whole range at a 5 min step, on local
 *    blocks, then on the rebuilt node cold (indexes and chunks fetched) and warm.
 * `s3` runs s3rver in this process (an S3-API server written in JavaScript on
 * the same machine: it measures our client path, not R2's throughput).
 * Prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { createLogger } from '../../wire/log.js';
import { queryRangeApi } from '../src/api/query.js';
import { writeBlock, type BlockSeriesInput } from '../src/block/writer.js';
import type { Bucket } from '../src/bucket/bucket.js';
import { FsBucket } from '../src/bucket/fs-bucket.js';
import { BlockCache } from '../src/bucket/remote-block.js';
import { S3Bucket } from '../src/bucket/s3-bucket.js';
import { Shipper } from '../src/bucket/shipper.js';
import { encodeColumns } from '../src/chunkenc/merge.js';
import { NodeMetrics } from '../src/node/metrics.js';
import { NodeStore } from '../src/node/store.js';

const [kind = 'fs', seriesArg = '10000', hoursArg = '12'] = process.argv.slice(2);
const SERIES = Number(seriesArg);
const HOURS = Number(hoursArg);
const H = 3_600_000;
const STEP = 15_000;
const T0 = Math.floor((Date.now() - (HOURS + 1) * H) / (2 * H)) * 2 * H;
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

async function main() {
  let server: S3rver | undefined;
  let bucket: Bucket;
  if (kind === 's3') {
    server = new S3rver({ port: 0, address: '127.0.0.1', directory: tmp('isobar-bench-s3-'), silent: true, configureBuckets: [{ name: 'bench', configs: [] }] });
    const { port } = await server.run();
    bucket = new S3Bucket({ endpoint: `http://127.0.0.1:${port}`, bucket: 'bench', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', pathStyle: true });
  } else bucket = new FsBucket(tmp('isobar-bench-bucket-'));
  const log = createLogger('bench', 'error');
  const open = (dir: string) => {
    const store = new NodeStore(new NodeMetrics(), log, {
      nodeDir: dir,
      bucket: { shipper: new Shipper(bucket, 'bench'), cache: new BlockCache(bucket, { dir: join(dir, 'remote'), maxIndexBytes: 8 * 1024 ** 3, maxChunkBytes: 1024 ** 3 }), deleteDelayMs: 0 },
    });
    store.open();
    return store;
  };

  // Blocks, written as a flush would write them (2 h each).
  const nodeA = tmp('isobar-bench-node-');
  const blocksDir = join(nodeA, 'blocks', 'bench');
  let samples = 0;
  for (let start = T0; start < T0 + HOURS * H; start += 2 * H) {
    const n = (2 * H) / STEP;
    const input: BlockSeriesInput[] = [];
    for (let i = 0; i < SERIES; i++) {
      const t = new Float64Array(n);
      const v = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        t[k] = start + k * STEP;
        v[k] = ((start - T0) / STEP + k) * (1 + (i % 7)) + (k % 13 === 0 ? 0.5 : 0); // counters
      }
      input.push({ labels: ['__name__', 'bench_requests_total', 'instance', `host-${i >> 4}`, 'job', `svc-${i % 20}`], chunks: encodeColumns({ t, v, n }) });
      samples += n;
    }
    writeBlock(blocksDir, input, { sections: { thanos: { labels: { tenant: 'bench' }, downsample: { resolution: 0 }, source: 'isobar' }, isobar: { node: 'bench', shards: {} } } });
  }
  const a = open(nodeA);

  const t0 = performance.now();
  const shipped = await a.ship();
  const uploadS = (performance.now() - t0) / 1000;

  const nodeB = tmp('isobar-bench-node-');
  const b = open(nodeB);
  const t1 = performance.now();
  const rebuilt = await b.rebuild();
  const rebuildS = (performance.now() - t1) / 1000;

  const params = new URLSearchParams({ query: 'sum by (job) (rate(bench_requests_total[5m]))', start: String(T0 / 1000), end: String((T0 + HOURS * H) / 1000), step: '300' });
  const timed = async (store: NodeStore) => {
    const s = performance.now();
    await queryRangeApi(store.tenantDb('bench'), params);
    return Math.round(performance.now() - s);
  };
  const localMs = [await timed(a), await timed(a), await timed(a)].sort((x, y) => x - y)[1]!;
  const coldMs = await timed(b);
  const fetched = { ...b.bucket!.cache.stats };
  const warmMs = [await timed(b), await timed(b), await timed(b)].sort((x, y) => x - y)[1]!;

  const gb = shipped.bytes / 1024 ** 3;
  console.log(
    JSON.stringify({
      bench: 'bucket',
      bucket: kind,
      series: SERIES,
      hours: HOURS,
      samples,
      blocks: shipped.uploaded,
      bytes: shipped.bytes,
      uploadMBps: Math.round(shipped.bytes / 1024 ** 2 / uploadS),
      rebuildBlocks: rebuilt.blocks,
      rebuildS: Number(rebuildS.toFixed(2)),
      rebuildSPerGB: Number((rebuildS / gb).toFixed(1)),
      query: { localMs, bucketColdMs: coldMs, bucketWarmMs: warmMs, coldIndexFetches: fetched.indexFetches, coldRangeGets: fetched.chunkRangeGets, coldMB: Number(((fetched.indexBytesFetched + fetched.chunkBytesFetched) / 1024 ** 2).toFixed(1)) },
    }),
  );
  a.close();
  b.close();
  for (const d of [nodeA, nodeB]) rmSync(d, { recursive: true, force: true });
  await server?.close();
}

await main();
