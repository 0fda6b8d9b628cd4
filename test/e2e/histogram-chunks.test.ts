/**
 * Our native-histogram chunks (encodings 2 and 3) against Prometheus 3, both
 * ways, on the same random counter histograms:
 * - a block we write, which Prometheus 3 opens, answers exactly as the same
 *   histograms remote-written into it do (`ours` and `theirs` in one query);
 * - the block Prometheus 3 writes of those (a TSDB snapshot) decodes with our
 *   reader to the histograms that were sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reduceResolution, type NativeHistogram } from '../../wire/histogram.js';
import { encodeWriteRequest } from '../../wire/remote-write.js';
import { snappyEncode } from '../../wire/snappy.js';
import { BlockReader } from '../../storage-node/src/block/reader.js';
import { writeBlock } from '../../storage-node/src/block/writer.js';
import { decodeHistogramChunk, encodeHistogramChunks } from '../../storage-node/src/chunkenc/histogram.js';
import { Matcher } from '../../storage-node/src/model/matcher.js';
import { histogramSeriesArb } from '../support/histograms.js';
import { freePort } from '../support/node-process.js';
import { prometheus3Dir } from '../support/peers.js';
import { eventually, stopChild } from '../support/stack.js';

const PROM3 = prometheus3Dir();
const SERIES = 12;

describe.runIf(PROM3)('native-histogram chunks, read and written by Prometheus 3', () => {
  const now = Math.floor(Date.now() / 1000) * 1000;
  // Random counter series, re-timed every 15 s over the last 50 minutes (inside Prometheus's head window).
  const series: NativeHistogram[][] = fc.sample(histogramSeriesArb, { numRuns: SERIES, seed: 1129 }).map((hs) => hs.map((h, k) => ({ ...h, t: now - 3_000_000 + k * 15_000 })));
  // The exponential ones again at schemas 9..12, finer than Prometheus stores.
  const fineSeries = series.filter((hs) => hs[0]!.schema !== -53 && hs[0]!.positiveBuckets.length > 1).map((hs, i) => hs.map((h) => ({ ...h, schema: 9 + (i % 4) })));
  const dataDir = mkdtempSync(join(tmpdir(), 'isobar-prom3-chunks-'));
  let prom: ChildProcess;
  let url = '';
  const started: ChildProcess[] = [];

  /** A Prometheus 3 on `dir` taking remote writes (and admin calls), with `config`. */
  const startProm = async (dir: string, config: string) => {
    const port = await freePort();
    const child = spawn(join(PROM3!, 'prometheus'), [`--config.file=${config}`, `--storage.tsdb.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver', '--web.enable-admin-api'], {
      stdio: 'ignore',
    });
    started.push(child);
    const base = `http://127.0.0.1:${port}`;
    await eventually(async () => (await fetch(`${base}/-/ready`).catch(() => undefined))?.ok ?? false, (ok) => ok, 30_000);
    return { child, base };
  };
  const sendAll = async (base: string, name = 'theirs', all = series) => {
    for (const [i, hs] of all.entries()) {
      const body = snappyEncode(encodeWriteRequest([{ labels: [['__name__', name], ['i', String(i).padStart(2, '0')]], samples: [], histograms: hs }]));
      const r = await fetch(`${base}/api/v1/write`, { method: 'POST', body: Buffer.from(body), headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' } });
      expect(r.status, await r.text()).toBe(204);
    }
  };
  const configFile = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'isobar-prom3-config-')), 'prometheus.yml');
    writeFileSync(path, text);
    return path;
  };

  beforeAll(async () => {
    writeBlock(
      dataDir,
      series.map((hs, i) => ({ labels: ['__name__', 'ours', 'i', String(i).padStart(2, '0')], chunks: encodeHistogramChunks(hs) })),
    );
    // Our block ends now, so this head takes the same times only as out-of-order samples.
    ({ child: prom, base: url } = await startProm(dataDir, configFile('storage:\n  tsdb:\n    out_of_order_time_window: 3h\n')));
    await sendAll(url);
  });

  afterAll(async () => {
    for (const c of started) await stopChild(c);
  });

  it('Prometheus 3 reads our block as it reads the same histograms written to it', async () => {
    const q = async (name: string) =>
      (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(`${name}[1h]`)}&time=${now / 1000 + 1}`)).json()) as {
        data: { result: Array<{ metric: { i: string }; histograms?: unknown[]; values?: unknown[] }> };
      };
    const [ours, theirs] = [await q('ours'), await q('theirs')];
    expect(ours.data.result).toHaveLength(SERIES);
    expect(ours.data.result.map((r) => [r.metric.i, r.histograms])).toEqual(theirs.data.result.map((r) => [r.metric.i, r.histograms]));
    // Something real was compared: every series' samples, float and integer histograms both.
    expect(ours.data.result.map((r) => r.histograms!.length)).toEqual(series.map((hs) => hs.length));
    expect(new Set(series.map((hs) => hs[0]!.float))).toEqual(new Set([true, false]));
  });

  it('our reader decodes the block Prometheus 3 writes to the histograms it was sent', async () => {
    // A Prometheus of its own (in-order samples: a snapshot leaves the out-of-order head out).
    const own = mkdtempSync(join(tmpdir(), 'isobar-prom3-own-'));
    const { base } = await startProm(own, configFile('global:\n  scrape_interval: 1m\n'));
    await sendAll(base);
    await sendAll(base, 'fine', fineSeries);
    const snap = (await (await fetch(`${base}/api/v1/admin/tsdb/snapshot`, { method: 'POST' })).json()) as { data: { name: string } };
    const dir = join(own, 'snapshots', snap.data.name);
    let theirBytes = 0;
    const read = (name: string) => {
      const got = new Map<string, NativeHistogram[]>();
      for (const ulid of readdirSync(dir)) {
        const block = BlockReader.open(join(dir, ulid));
        for (const ref of block.postingsFor([new Matcher('=', '__name__', name)])) {
          const s = block.series(ref);
          const i = s.labels[s.labels.indexOf('i') + 1]!;
          const hs = got.get(i) ?? [];
          for (const c of s.chunks) {
            const { encoding, data } = block.encodedChunk(c.ref);
            hs.push(...decodeHistogramChunk(data, encoding));
            if (name === 'theirs') theirBytes += data.length;
          }
          got.set(i, hs);
        }
        block.close();
      }
      return got;
    };
    const noHints = (hs: NativeHistogram[]) => hs.map((h) => ({ ...h, resetHint: 0 }));
    const got = read('theirs');
    expect(got.size).toBe(SERIES);
    for (const [i, hs] of series.entries()) expect(noHints(got.get(String(i).padStart(2, '0'))!), `series ${i}`).toEqual(noHints(hs));
    // Bytes per histogram sample in blocks, ours against Prometheus 3's, for the same series (chunk data only).
    const samples = series.reduce((n, hs) => n + hs.length, 0);
    const ourBytes = series.reduce((n, hs) => n + encodeHistogramChunks(hs).reduce((m, c) => m + c.data.length, 0), 0);
    console.log(`native histograms in blocks: ${(ourBytes / samples).toFixed(1)} B/sample here, ${(theirBytes / samples).toFixed(1)} B/sample in Prometheus 3's (ratio ${(ourBytes / theirBytes).toFixed(2)}), ${samples} samples`);
    expect(ourBytes / theirBytes).toBeLessThan(1.1);
    // Schemas 9..12, which Prometheus reduces to 8 as it takes them: as reduceResolution does.
    const fine = read('fine');
    expect(fine.size).toBe(fineSeries.length);
    for (const [i, hs] of fineSeries.entries()) {
      expect(noHints(fine.get(String(i).padStart(2, '0'))!), `fine series ${i}`).toEqual(noHints(hs.map((h) => reduceResolution(h, 8))));
    }
    expect(fine.get('00')!.some((h) => h.positiveBuckets.length > 0)).toBe(true);
  });
});
