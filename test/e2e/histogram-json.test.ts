/**
 * A native histogram as Prometheus's JSON writes it (count, sum, every
 * non-empty bucket with its boundaries), judged by Prometheus 3 itself: random
 * histograms of every schema are written to it and read back with an instant
 * query; our rendering of the same histogram must be the same bytes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reduceResolution, type NativeHistogram } from '../../wire/histogram.js';
import { encodeWriteRequest } from '../../wire/remote-write.js';
import { snappyEncode } from '../../wire/snappy.js';
import { histogramFraction, histogramJson, histogramQuantile, histogramVariance, scaleHistogram } from '../../storage-node/src/promql/histograms.js';
import { addHistograms } from '../../storage-node/src/promql/histogram-sum.js';
import { jsonFloat } from '../../storage-node/src/promql/format.js';
import { validHistogramArb } from '../support/histograms.js';
import { freePort } from '../support/node-process.js';
import { prometheus3Dir } from '../support/peers.js';
import { eventually, stopChild } from '../support/stack.js';

const PROM3 = prometheus3Dir();
const promNumber = (x: number) => (x === Infinity ? 'Inf' : x === -Infinity ? '-Inf' : String(x));


describe.runIf(PROM3)('histogram JSON, judged by Prometheus 3', () => {
  let prom: ChildProcess;
  let url = '';
  const casesWritten: Array<[string, NativeHistogram]> = [];
  const t = Math.floor(Date.now() / 1000) * 1000 - 60_000;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'isobar-prom3-json-'));
    writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\n');
    prom = spawn(join(PROM3!, 'prometheus'), [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver'], { stdio: 'ignore' });
    await eventually(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok ?? false, (ok) => ok, 30_000);
  });
  afterAll(() => stopChild(prom));

  const at = async (query: string) => (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}&time=${t / 1000}`)).text());

  it('renders every schema, custom buckets, zero buckets and float histograms as Prometheus 3 does', async () => {
    // Every schema from -4 to 12 (9..12 reduced to 8), wide bucket ranges (far-out indices), sums and thresholds of every size.
    const arb = fc.tuple(validHistogramArb, fc.integer({ min: -4, max: 12 }), fc.integer({ min: -40, max: 40 }), fc.constantFrom(0, 1e-128, 0.001, 0.25, 3), fc.double({ noNaN: true, noDefaultInfinity: true }));
    const cases = fc.sample(arb, { numRuns: 120, seed: 20261129 }).map(([h, schema, shift, zero, sum], i): [string, NativeHistogram] => {
      const exp = h.schema !== -53;
      const shifted = exp ? { positiveSpans: h.positiveSpans.map((x, k) => (k === 0 ? x * 7 + shift : x)), negativeSpans: h.negativeSpans.map((x, k) => (k === 0 ? x * 5 - shift : x)) } : {};
      return [`hj_${i}`, { ...h, ...shifted, ...(exp ? { schema, zeroThreshold: zero } : {}), sum, t, resetHint: 0 }];
    });
    casesWritten.push(...cases);
    const body = snappyEncode(encodeWriteRequest(cases.map(([name, h]) => ({ labels: [['__name__', name]], samples: [], histograms: [h] }))));
    const r = await fetch(`${url}/api/v1/write`, { method: 'POST', body: Buffer.from(body), headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' } });
    expect(r.status, await r.text()).toBe(204);
    let buckets = 0;
    for (const [name, h] of cases) {
      const got = await at(name);
      const want = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"${name}"},"histogram":[${t / 1000},${histogramJson(h.schema > 8 ? reduceResolution(h, 8) : h)}]}]}}`;
      expect(want, JSON.stringify(h)).toBe(got);
      buckets += (JSON.parse(got).data.result[0].histogram[1].buckets ?? []).length;
    }
    expect(buckets).toBeGreaterThan(300); // the boundaries were compared, not only counts and sums
  });

  it('answers histogram_quantile, _fraction, _stddev, _stdvar, _count, _sum and _avg as Prometheus 3 does', async () => {
    // The histograms the test above wrote (every schema, custom buckets, zero buckets, float and integer).
    expect(casesWritten.length).toBe(120);
    const named = 'label_replace({__name__=~"hj_.*"}, "n", "$1", "__name__", "(.*)")';
    const ours = new Map<string, NativeHistogram>();
    const byName = async (query: string) => {
      const body = JSON.parse(await at(query)) as { status: string; data: { result: Array<{ metric: { n: string }; value: [number, string] }> } };
      expect(body.status, query).toBe('success');
      return new Map(body.data.result.map((r) => [r.metric.n, r.value[1]]));
    };
    // Our copy of each histogram, as Prometheus holds it (schemas above 8 reduced).
    for (const [name, h] of casesWritten) ours.set(name, h.schema > 8 ? reduceResolution(h, 8) : h);
    const checks: Array<[string, (h: NativeHistogram) => number]> = [
      ...[0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 1, -1, 2].map((q): [string, (h: NativeHistogram) => number] => [`histogram_quantile(${q}, ${named})`, (h) => histogramQuantile(q, h).value]),
      ...[[-Infinity, 0], [0, 1], [0.5, 64], [-3, 3], [1e-3, Infinity], [2, 1]].map(([a, b]): [string, (h: NativeHistogram) => number] => [`histogram_fraction(${promNumber(a!)}, ${promNumber(b!)}, ${named})`, (h) => histogramFraction(a!, b!, h).value]),
      [`histogram_stdvar(${named})`, (h) => histogramVariance(h)],
      [`histogram_stddev(${named})`, (h) => Math.sqrt(histogramVariance(h))],
      [`histogram_count(${named})`, (h) => h.count],
      [`histogram_sum(${named})`, (h) => h.sum],
      [`histogram_avg(${named})`, (h) => h.sum / h.count],
    ];
    let exact = 0;
    let compared = 0;
    for (const [query, fn] of checks) {
      const theirs = await byName(query);
      expect(theirs.size, query).toBe(ours.size);
      for (const [name, h] of ours) {
        const want = theirs.get(name)!;
        const got = jsonFloat(fn(h));
        compared++;
        if (got === want) {
          exact++;
          continue;
        }
        // Logarithms and exponentials may differ in the last bits between Go and JavaScript.
        const [x, y] = [Number(got), Number(want)];
        expect(Math.abs(x - y) <= 1e-12 * Math.max(Math.abs(x), Math.abs(y)), `${query} of ${name} ${JSON.stringify(h)}: ours ${got}, Prometheus ${want}`).toBe(true);
      }
    }
    expect(compared).toBeGreaterThan(2000);
    console.log(`histogram functions: ${exact} of ${compared} answers byte-identical to Prometheus 3, the rest within 1e-12`);
  });

  it('adds, subtracts and scales histograms as Prometheus 3 does (sum, -, *)', async () => {
    // Pairs of the histograms written above, both exponential or both of the same custom bounds.
    const names = casesWritten.map(([name]) => name);
    const of = new Map(casesWritten.map(([name, h]) => [name, h.schema > 8 ? reduceResolution(h, 8) : h]));
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i + 1 < names.length && pairs.length < 40; i++) {
      const [a, b] = [of.get(names[i]!)!, of.get(names[i + 1]!)!];
      if ((a.schema === -53) === (b.schema === -53) && (a.schema !== -53 || a.customValues.join() === b.customValues.join())) pairs.push([names[i]!, names[i + 1]!]);
    }
    expect(pairs.length).toBeGreaterThan(15);
    let exact = 0;
    for (const [x, y] of pairs) {
      const [a, b] = [of.get(x)!, of.get(y)!];
      for (const [query, mine] of [
        [`sum({__name__=~"${x}|${y}"})`, addHistograms(a, b)],
        [`${x} - ignoring(__name__) ${y}`, addHistograms(a, b, -1)],
        [`${x} * 2.5`, scaleHistogram(a, 2.5)],
        [`${x} / 4`, scaleHistogram(a, 1 / 4)],
      ] as const) {
        const body = JSON.parse(await at(query)) as { status: string; data: { result: Array<{ histogram: [number, unknown] }> } };
        expect(body.status, query).toBe('success');
        const theirs = JSON.stringify(body.data.result[0]!.histogram[1]);
        const ours = histogramJson(mine);
        if (ours === theirs) exact++;
        else expect(JSON.parse(ours), `${query}\n${JSON.stringify(a)}\n${JSON.stringify(b)}`).toEqual(JSON.parse(theirs));
      }
    }
    expect(exact).toBe(pairs.length * 4);
  });

  it('writes tiny and huge floats in Go\u2019s exponent form, as sample values', async () => {
    for (const v of [1e-7, -2.5e-9, 1.5e21, 123456789, 0.000001, 1e20, 5e-324]) {
      const got = JSON.parse(await at(`vector(${v})`)).data.result[0].value[1];
      expect(jsonFloat(v), String(v)).toBe(got);
    }
  });
});
