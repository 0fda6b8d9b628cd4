/**
 * Storage-node benchmarks that need a process of their own (run by
 * `npm run bench`, bundled by esbuild, started with --expose-gc):
 *   head  N        append throughput into N known series, and RSS per active series
 *   replay MB      write a WAL of MB megabytes, then time the node's replay of it
 *   flush N        cut a head of N series x 2 h of 15 s samples (480 each) into a block
 * Prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { createLogger } from '../../wire/log.js';
import { encodeBatch } from '../../wire/node-batch.js';
import { encodeWriteRequest, type SeriesInput } from '../../wire/remote-write.js';
import { NodeMetrics } from '../src/node/metrics.js';
import { NodeStore } from '../src/node/store.js';
import { TenantDB } from '../src/db/tenant-db.js';
import type { AppendResult } from '../src/head/head.js';
import { PairLabels } from '../../wire/remote-write.js';
import { Wal } from '../src/wal/wal.js';

const PER_REQUEST = 2000; // Prometheus's default max_samples_per_send
const T0 = 1_700_000_000_000;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** A request template for series [from, from+2000): timestamps patched in place per round. */
function template(from: number): { raw: Uint8Array; tsOffsets: number[] } {
  const inputs: SeriesInput[] = [];
  for (let i = from; i < from + PER_REQUEST; i++) {
    inputs.push({ labels: [['__name__', `metric_${i % 8}`], ['instance', `host-${i >> 3}:9100`], ['job', `svc-${i % 20}`]], samples: [[T0, i]] });
  }
  const raw = encodeWriteRequest(inputs);
  // Find each sample's timestamp varint: the reader gives series ranges; the varint of T0 is fixed-width.
  const tsBytes = varint(T0);
  const tsOffsets: number[] = [];
  for (let p = 0; p + tsBytes.length <= raw.length; p++) {
    if (raw[p] === 0x10 && tsBytes.every((b, k) => raw[p + 1 + k] === b)) tsOffsets.push(p + 1);
  }
  if (tsOffsets.length !== PER_REQUEST) throw new Error(`template: found ${tsOffsets.length} timestamps`);
  return { raw, tsOffsets };
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function roundPayloads(templates: ReturnType<typeof template>[], round: number): Uint8Array[] {
  const ts = varint(T0 + round * 15_000);
  return templates.map((t) => {
    for (const off of t.tsOffsets) for (let k = 0; k < ts.length; k++) t.raw[off + k] = ts[k]!;
    return new Uint8Array(compressSync(Buffer.from(t.raw)));
  });
}

function head(n: number) {
  const templates = Array.from({ length: Math.ceil(n / PER_REQUEST) }, (_, i) => template(i * PER_REQUEST));
  const store = new NodeStore(new NodeMetrics(), createLogger('bench', 'error'));
  gc();
  const rss0 = process.memoryUsage().rss;
  let seq = 0;
  const apply = (round: number) => {
    for (const p of roundPayloads(templates, round)) store.apply('t', 0, encodeBatch([{ seq: ++seq, payload: p }]), 1);
  };
  apply(0); // creates the series
  const rounds = 10;
  const payloads = Array.from({ length: rounds }, (_, r) => roundPayloads(templates, r + 1));
  const t = performance.now();
  for (const round of payloads) for (const p of round) store.apply('t', 0, encodeBatch([{ seq: ++seq, payload: p }]), 1);
  const ms = performance.now() - t;
  payloads.length = 0;
  templates.length = 0;
  gc();
  const rss = process.memoryUsage().rss;
  return { bench: 'head', series: n, samplesPerSecond: Math.round((n * rounds) / (ms / 1000)), rssBytesPerSeries: Math.round((rss - rss0) / n), samplesPerSeries: rounds + 1 };
}

function replay(mb: number) {
  const dir = mkdtempSync(join(tmpdir(), 'isobar-replay-'));
  const series = 50_000;
  const templates = Array.from({ length: series / PER_REQUEST }, (_, i) => template(i * PER_REQUEST));
  const wal = new Wal(join(dir, 'wal', 't'));
  wal.replay(() => {});
  let seq = 0;
  let bytes = 0;
  let samples = 0;
  for (let round = 0; bytes < mb * 1024 * 1024; round++) {
    for (const p of roundPayloads(templates, round)) {
      wal.append({ shard: 0, seq: ++seq, payload: p });
      bytes += p.length + 12;
      samples += PER_REQUEST;
    }
  }
  wal.close();
  const store = new NodeStore(new NodeMetrics(), createLogger('bench', 'error'), { nodeDir: dir });
  const t = performance.now();
  const opened = store.open();
  const ms = performance.now() - t;
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return { bench: 'replay', walBytes: bytes, records: opened.walRecords, samples, seconds: +(ms / 1000).toFixed(2), mbPerSecond: +(bytes / 1048576 / (ms / 1000)).toFixed(1), samplesPerSecond: Math.round(samples / (ms / 1000)) };
}

function flush(n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'isobar-flush-'));
  const perSeries = 480;
  const t0 = T0 - (T0 % 7_200_000);
  const db = new TenantDB('t', { blocksDir: join(dir, 'blocks'), walDir: join(dir, 'wal') });
  const ts = Float64Array.from({ length: perSeries }, (_, i) => t0 + i * 15_000);
  const vs = new Float64Array(perSeries);
  const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
  for (let i = 0; i < n; i++) {
    const { s } = db.head.getOrCreate(new PairLabels([['__name__', `metric_${i % 8}`], ['instance', `host-${i >> 3}:9100`], ['job', `svc-${i % 20}`]]));
    for (let k = 0; k < perSeries; k++) vs[k] = i + Math.floor(k / 4) * 1.5; // a counter-like series
    db.head.appendSamples(s, ts, vs, perSeries, res);
  }
  const t = performance.now();
  const metas = db.flushHead();
  const ms = performance.now() - t;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  const samples = n * perSeries;
  return { bench: 'flush', series: n, samples, blocks: metas.length, seconds: +(ms / 1000).toFixed(2), samplesPerSecond: Math.round(samples / (ms / 1000)) };
}

const [what, arg] = process.argv.slice(2);
const run = { head, replay, flush }[what as 'head' | 'replay' | 'flush'];
if (!run) throw new Error(`usage: head N | replay MB | flush N (got ${what})`);
console.log(JSON.stringify(run(Number(arg))));
