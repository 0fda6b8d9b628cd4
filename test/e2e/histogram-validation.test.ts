/**
 * Which native histograms are bad, judged by Prometheus 3's own remote-write
 * receiver: the same random histograms (valid ones, and valid ones broken one
 * rule at a time) go to both, one series per request. Every one Prometheus
 * refuses, Isobar refuses with `err-isobar-invalid-native-histogram` and the
 * rule in Prometheus's words; every one Prometheus takes, Isobar takes too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyHistogram, type NativeHistogram } from '../../wire/histogram.js';
import { validHistogramArb } from '../support/histograms.js';
import { encodeWriteRequest } from '../../wire/remote-write.js';
import { snappyEncode } from '../../wire/snappy.js';
import { freePort } from '../support/node-process.js';
import { prometheus3Dir } from '../support/peers.js';
import { eventually, stopChild, useStack } from '../support/stack.js';

const PROM3 = prometheus3Dir();

/** One rule broken (or none), on a copy. */
const mutations: Array<(h: NativeHistogram, k: number) => void> = [
  () => {},
  (h, k) => (h.positiveBuckets.length ? (h.positiveBuckets[k % h.positiveBuckets.length] = -7) : (h.count += 1)),
  (h) => h.positiveBuckets.pop(),
  (h) => h.negativeSpans.push(-1, 1),
  (h, k) => (h.schema = [-53, -10, -5, -4, 8, 9, 52, 53, 100][k % 9]!),
  (h) => (h.count += h.float ? -1e9 : 1),
  (h) => (h.sum = NaN),
  (h) => h.customValues.reverse(),
  (h) => h.customValues.push(Infinity),
  (h) => (h.zeroCount = h.float ? -1 : h.zeroCount + 1),
  (h) => (h.zeroThreshold = 0.5),
  (h) => (h.positiveSpans.length >= 4 ? (h.positiveSpans[2] = -1) : h.positiveSpans.push(-1, 0)),
  (h) => (h.customValues = h.customValues.slice(0, 1)),
];

describe.runIf(PROM3)('native histogram validation, judged by Prometheus 3', () => {
  const h = useStack();
  let prom: ChildProcess;
  let promUrl = '';

  beforeAll(async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'isobar-prom3-'));
    writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\n');
    prom = spawn(join(PROM3!, 'prometheus'), [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver'], { stdio: 'ignore' });
    promUrl = `http://127.0.0.1:${port}`;
    await eventually(async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok ?? false, (ok) => ok, 30_000);
  });

  afterAll(() => stopChild(prom));

  const send = async (url: string, body: Uint8Array, auth?: string) => {
    const r = await fetch(url, {
      method: 'POST',
      body: Buffer.from(body),
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0', ...(auth ? { authorization: auth } : {}) },
    });
    return { status: r.status, text: await r.text() };
  };

  it('refuses exactly the histograms Prometheus 3 refuses, with its reason', async () => {
    const samples = fc.sample(fc.tuple(validHistogramArb, fc.nat(mutations.length - 1), fc.nat(100)), { numRuns: 150, seed: 20261129 });
    const verdicts = { refused: 0, taken: 0 };
    let n = 0;
    for (const [valid, m, k] of samples) {
      const hist: NativeHistogram = structuredClone(valid);
      mutations[m]!(hist, k);
      hist.t = Date.now() - 60_000;
      const name = `h_${n++}`;
      const body = snappyEncode(encodeWriteRequest([{ labels: [['__name__', name]], samples: [], histograms: [hist] }]));
      const [p, i] = await Promise.all([send(`${promUrl}/api/v1/write`, body), send(`${h.client.base}/api/v1/write`, body, `Bearer ${h.s.ISOBAR_DEMO_KEY}`)]);
      const what = `${JSON.stringify({ ...hist, sum: String(hist.sum) })}\nPrometheus: ${p.status} ${p.text}\nIsobar: ${i.status} ${i.text}`;
      if (p.status === 400) {
        expect(i.status, what).toBe(400);
        verdicts.refused++;
        expect(i.text, what).toContain('err-isobar-invalid-native-histogram');
        expect(i.text, what).toContain(`{__name__="${name}"}`);
        // Prometheus's reason, from its rule on ("positive side: ...", "custom buckets: ..."), is in ours.
        const reason = /(?:positive side|negative side|custom buckets|zero bucket|observation count|histogram|\d+ observations)[^\n]*/.exec(p.text)?.[0].replace(/ for series .*$/, '').trim();
        expect(reason, what).toBeDefined();
        expect(i.text.replace(/%/g, ''), what).toContain(reason!.replace(/%/g, ''));
      } else {
        expect(p.status, what).toBe(204);
        verdicts.taken++;
        expect(i.status, what).toBe(204);
      }
    }
    // Both kinds were judged.
    expect(verdicts.refused).toBeGreaterThan(30);
    expect(verdicts.taken).toBeGreaterThan(20);
  });

  it('a histogram of schema 9..52 is taken (Prometheus reduces it to 8), one of 53 is not', async () => {
    for (const [schema, ok] of [[12, true], [52, true], [53, false]] as const) {
      const hist = Object.assign(emptyHistogram(), { t: Date.now() - 1000, schema, count: 3, sum: 1, positiveSpans: [0, 2], positiveBuckets: [1, 1] });
      const body = snappyEncode(encodeWriteRequest([{ labels: [['__name__', `hs_${schema}`]], samples: [], histograms: [hist] }]));
      expect((await send(`${promUrl}/api/v1/write`, body)).status).toBe(ok ? 204 : 400);
      const i = await send(`${h.client.base}/api/v1/write`, body, `Bearer ${h.s.ISOBAR_DEMO_KEY}`);
      if (ok) expect(i.status, i.text).toBe(204);
      else expect(i.text).toContain('invalid-native-histogram');
    }
  });
});
