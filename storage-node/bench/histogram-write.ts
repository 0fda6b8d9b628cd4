/**
 * Remote-write throughput with native histograms (run by `npm run bench`,
 * bundled by esbuild):
 *   histogram-write <series> <rounds> <runs> <name>=<url>[,<authorization>] ...
 * Every receiver gets the same workload: <series> native-histogram series
 * (integer histograms, schema 3, about 20 populated buckets on both sides of
 * a zero bucket, counters that grow), <rounds> histograms each, 15 s apart, in
 * requests of 2,000 histograms (Prometheus's max_samples_per_send), round after round (a series' histograms in
 * time order), 8 requests of a round in flight. Bodies are encoded and compressed before
 * the clock starts. Receivers take turns, <runs> times, each run a fresh time
 * range. Prints one JSON line per run and receiver, then the medians.
 */
import { encodeWriteRequest, type SeriesInput } from '../../wire/remote-write.js';
import { snappyEncode } from '../../wire/snappy.js';
import type { NativeHistogram } from '../../wire/histogram.js';

const [seriesArg = '10000', roundsArg = '20', runsArg = '3', ...targetArgs] = process.argv.slice(2);
const SERIES = Number(seriesArg);
const ROUNDS = Number(roundsArg);
const RUNS = Number(runsArg);
const PER_REQUEST = 2000; // Prometheus's default max_samples_per_send (a histogram counts as one)
const CONCURRENCY = 8;
const targets = targetArgs.map((a) => {
  const [name, rest] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
  const [url, auth] = rest.split(',');
  return { name: name!, url: url!, auth };
});

let seed = 7;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff);

/** One series' histogram at round `r`: its buckets grow by a series-specific shape. */
function histogramAt(shape: number[], r: number, t: number): NativeHistogram {
  const counts = shape.map((c) => c * (r + 1));
  const half = counts.length / 2;
  const pos = counts.slice(0, half);
  const neg = counts.slice(half);
  const deltas = (xs: number[]) => xs.map((x, i) => x - (i > 0 ? xs[i - 1]! : 0));
  const zero = 3 * (r + 1);
  const count = counts.reduce((a, b) => a + b, 0) + zero;
  return {
    t,
    float: false,
    schema: 3,
    count,
    sum: count * 0.42,
    zeroThreshold: 1e-128,
    zeroCount: zero,
    positiveSpans: [-4, 6, 2, half - 6],
    positiveBuckets: deltas(pos),
    negativeSpans: [0, neg.length],
    negativeBuckets: deltas(neg),
    customValues: [],
    resetHint: 0,
  };
}

const shapes = Array.from({ length: SERIES }, () => Array.from({ length: 20 }, () => 1 + Math.floor(rand() * 9)));
const labelsOf = (i: number): Array<[string, string]> => [
  ['__name__', 'http_request_duration_seconds'],
  ['instance', `host-${i % 200}:9100`],
  ['job', `svc-${i % 13}`],
  ['route', `/api/v${i % 4}/item/${Math.floor(i / 52)}`],
];

/** Each round's request bodies (a round: one histogram of every series). */
function bodies(endMs: number): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = endMs - (ROUNDS - 1 - r) * 15_000;
    const round: Uint8Array[] = [];
    for (let i = 0; i < SERIES; i += PER_REQUEST) {
      const batch: SeriesInput[] = [];
      for (let k = i; k < Math.min(SERIES, i + PER_REQUEST); k++) batch.push({ labels: labelsOf(k), samples: [], histograms: [histogramAt(shapes[k]!, r, t)] });
      round.push(snappyEncode(encodeWriteRequest(batch)));
    }
    out.push(round);
  }
  return out;
}

/** Round after round (a series' histograms in time order, as a sender sends them), each round's requests CONCURRENCY at a time. */
async function send(url: string, auth: string | undefined, rounds: Uint8Array[][]): Promise<{ histograms_per_s: number; p50_ms: number; p99_ms: number; failed: number; first_error?: string }> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const headers: Record<string, string> = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0', ...(auth ? { authorization: auth } : {}) };
  const started = performance.now();
  for (const all of rounds) {
    next = 0;
    await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < all.length) {
        const body = all[next++]!;
        const t0 = performance.now();
        const r = await fetch(url, { method: 'POST', headers, body: body as Uint8Array<ArrayBuffer> });
        latencies.push(performance.now() - t0);
        if (!r.ok) {
          failed++;
          firstError ??= `${r.status} ${(await r.text()).slice(0, 300)}`;
        } else await r.arrayBuffer();
      }
    }),
    );
  }
  const secs = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! * 10) / 10;
  return { histograms_per_s: Math.round((SERIES * ROUNDS) / secs), p50_ms: q(0.5), p99_ms: q(0.99), failed, ...(firstError ? { first_error: firstError } : {}) };
}

const results = new Map<string, Array<{ histograms_per_s: number; p50_ms: number; p99_ms: number }>>();
let end = Math.floor(Date.now() / 15_000) * 15_000 - 2 * 3_600_000;
for (let run = 1; run <= RUNS; run++) {
  for (const tg of targets) {
    end += (ROUNDS + 1) * 15_000; // a fresh time range: no receiver sees duplicates
    const all = bodies(end);
    const r = await send(tg.url, tg.auth, all);
    const requests = all.reduce((n, round) => n + round.length, 0);
    if (r.failed) throw new Error(`${tg.name}: ${r.failed} of ${requests} requests failed: ${r.first_error}`);
    const mb = all.reduce((n, round) => n + round.reduce((m, b) => m + b.byteLength, 0), 0) / 1e6;
    console.log(JSON.stringify({ run, target: tg.name, series: SERIES, rounds: ROUNDS, requests, mb_sent: Math.round(mb * 100) / 100, ...r }));
    results.set(tg.name, [...(results.get(tg.name) ?? []), r]);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = Object.fromEntries([...results].map(([name, rs]) => [name, { histograms_per_s: median(rs.map((r) => r.histograms_per_s)), p50_ms: median(rs.map((r) => r.p50_ms)), p99_ms: median(rs.map((r) => r.p99_ms)) }]));
console.log(JSON.stringify({ medians: summary }));
