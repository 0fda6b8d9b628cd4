/**
 * Exemplars, metric metadata and native histograms end to end, judged by a
 * real Prometheus 3: it scrapes an OpenMetrics target (histogram and counter
 * with exemplars, and HELP/TYPE/UNIT) and itself with native histograms on,
 * keeps its own copy, and remote-writes to the stack with exemplars, metadata
 * and native histograms on, over remote write 1.0 and (another stack) 2.0. `query_exemplars`, `metadata` and queries of the
 * native histograms must answer what Prometheus itself answers, byte for byte.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prometheus3Dir } from '../support/peers.js';
import { eventually, startPrometheus, stopChild, useStack } from '../support/stack.js';

const PROM3 = prometheus3Dir();

/**
 * The same text, but that numbers (quoted or not) may differ by 1e-12 of
 * their size: Go's and JavaScript's logarithms, and sums taken in another
 * order, can differ in the last bits.
 */
function nearlyEqual(a: string, b: string): boolean {
  const number = /-?\d+(?:\.\d+)?(?:e[-+]\d+)?/g;
  if (a.replace(number, '#') !== b.replace(number, '#')) return false;
  const [xs, ys] = [a.match(number) ?? [], b.match(number) ?? []];
  return xs.every((x, i) => x === ys[i] || Math.abs(Number(x) - Number(ys[i])) <= 1e-12 * Math.max(Math.abs(Number(x)), Math.abs(Number(ys[i]))));
}

/** An OpenMetrics target whose every scrape adds one request, with a fresh exemplar on its bucket and on the counter. */
function startTarget(): Promise<{ server: Server; address: string }> {
  let n = 0;
  const server = createServer((_req, res) => {
    n++;
    const ts = (Date.now() / 1000 - 0.25).toFixed(3);
    const bounds = ['0.1', '0.5', '+Inf'];
    const latency = [0.05, 0.3, 0.9][n % 3]!;
    const lines = [
      '# TYPE demo_request_duration_seconds histogram',
      '# HELP demo_request_duration_seconds Time spent serving a request, with "quotes" and a \\\\ backslash.',
      '# UNIT demo_request_duration_seconds seconds',
      ...bounds.map((le, i) => {
        const count = Math.ceil(n * (i + 1) / bounds.length);
        const hit = latency <= Number(le) && (i === 0 || latency > Number(bounds[i - 1]));
        return `demo_request_duration_seconds_bucket{le="${le}",path="/api"} ${count}${hit ? ` # {trace_id="t${n}",span_id="s${n}"} ${latency} ${ts}` : ''}`;
      }),
      `demo_request_duration_seconds_sum{path="/api"} ${(n * 0.4).toFixed(2)}`,
      `demo_request_duration_seconds_count{path="/api"} ${n}`,
      '# TYPE demo_jobs counter',
      '# HELP demo_jobs Jobs processed.',
      `demo_jobs_total{queue="mail"} ${n} # {trace_id="j${n}"} 1 ${ts}`,
      '# TYPE demo_queue_depth gauge',
      '# HELP demo_queue_depth Jobs waiting.',
      `demo_queue_depth{queue="mail"} ${n % 7}`,
      '# EOF',
      '',
    ];
    res.writeHead(200, { 'content-type': 'application/openmetrics-text; version=1.0.0; charset=utf-8' });
    res.end(lines.join('\n'));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

/** Both protocols Prometheus 3 speaks: what it writes must read back the same either way. */
const PROTOCOLS = [
  ['1.0', [], 'exemplar-storage'],
  // 2.0 carries metadata per series, which Prometheus sends only with its metadata WAL records on.
  ['2.0', ['    protobuf_message: io.prometheus.write.v2.Request'], 'exemplar-storage,metadata-wal-records'],
] as const;

describe.runIf(PROM3).each(PROTOCOLS)('Prometheus 3 writing exemplars and metadata over remote write %s', (protocol, protocolLines, features) => {
  const h = useStack();
  let target: { server: Server; address: string };
  let prom: Awaited<ReturnType<typeof startPrometheus>>;

  beforeAll(async () => {
    target = await startTarget();
    prom = await startPrometheus(`${h.client.base}/api/v1/write`, 'demo', h.s.ISOBAR_DEMO_KEY, {
      binary: join(PROM3!, 'prometheus'),
      flags: [`--enable-feature=${features}`],
      target: target.address,
      writeLines: ['    send_exemplars: true', '    send_native_histograms: true', ...protocolLines],
      scrapeLines: ['  - job_name: self', '    scrape_native_histograms: true', '    static_configs:', "      - targets: ['$SELF']"],
    });
  });

  afterAll(async () => {
    await stopChild(prom?.child);
    target?.server.close();
  });

  const fromProm = async (path: string) => (await fetch(`${prom.url}/api/v1/${path}`)).text();
  const fromIsobar = async (path: string) =>
    (await fetch(`${h.client.base}/prometheus/api/v1/${path}`, { headers: { authorization: `Bearer ${h.s.ISOBAR_DEMO_KEY}` } })).text();

  it('answers query_exemplars exactly as Prometheus 3 does', async () => {
    // Wait for a few scrapes, then compare a window that ended a few seconds ago (all of it sent).
    await eventually(() => fromIsobar('query_exemplars?query=demo_jobs_total'), (t) => (t.match(/trace_id/g) ?? []).length >= 4, 60_000);
    const end = Date.now() / 1000 - 3;
    const start = end - 600;
    for (const query of [
      'demo_request_duration_seconds_bucket',
      'histogram_quantile(0.9, sum by (le) (rate(demo_request_duration_seconds_bucket[1m])))',
      'demo_jobs_total{queue="mail"} + on() group_left demo_request_duration_seconds_bucket{le="0.5"}',
      '{__name__=~"demo_.*"}',
      'demo_queue_depth',
    ]) {
      const path = `query_exemplars?query=${encodeURIComponent(query)}&start=${start}&end=${end}`;
      const want = await fromProm(path);
      expect(JSON.parse(want).status, want).toBe('success');
      const got = await eventually(() => fromIsobar(path), (g) => g === want, 20_000);
      expect(got, query).toBe(want);
    }
    // Something was compared: both series kinds carry exemplars.
    const all = JSON.parse(await fromIsobar(`query_exemplars?query=${encodeURIComponent('{__name__=~"demo_.*"}')}&start=${start}&end=${end}`)) as { data: Array<{ seriesLabels: { __name__: string } }> };
    expect(new Set(all.data.map((s) => s.seriesLabels.__name__))).toEqual(new Set(['demo_jobs_total', 'demo_request_duration_seconds_bucket']));
  });

  it('answers queries of native histograms exactly as Prometheus 3 does', async () => {
    const h = 'prometheus_http_request_duration_seconds{job="self"}';
    // Wait until the histograms are in (a few scrapes), then compare at a time a few seconds back (all of it sent).
    await eventually(() => fromIsobar(`query?query=${encodeURIComponent(h)}`), (t) => t.includes('"histogram"'), 60_000);
    await new Promise((r) => setTimeout(r, 4000));
    const t = Math.floor(Date.now() / 1000) - 3;
    const queries = [
      `query?query=${encodeURIComponent(h)}&time=${t}`,
      `query?query=${encodeURIComponent(`${h}[20s]`)}&time=${t}`,
      `query_range?query=${encodeURIComponent(h)}&start=${t - 30}&end=${t}&step=5`,
      `query?query=${encodeURIComponent(`histogram_count(${h})`)}&time=${t}`,
      `query?query=${encodeURIComponent(`histogram_sum(${h})`)}&time=${t}`,
      `query?query=${encodeURIComponent(`histogram_avg(${h})`)}&time=${t}`,
      `query?query=${encodeURIComponent(`histogram_quantile(0.9, ${h})`)}&time=${t}`,
      `query?query=${encodeURIComponent(`histogram_fraction(0, 0.01, ${h})`)}&time=${t}`,
      `query_range?query=${encodeURIComponent(`histogram_quantile(0.5, ${h})`)}&start=${t - 30}&end=${t}&step=10`,
      // What Grafana's native-histogram panels ask.
      `query?query=${encodeURIComponent(`rate(${h}[30s])`)}&time=${t}`,
      `query?query=${encodeURIComponent(`increase(${h}[30s])`)}&time=${t}`,
      `query?query=${encodeURIComponent(`sum(rate(${h}[30s]))`)}&time=${t}`,
      `query?query=${encodeURIComponent(`sum by (handler) (rate(${h}[30s]))`)}&time=${t}`,
      `query?query=${encodeURIComponent(`avg(${h})`)}&time=${t}`,
      `query?query=${encodeURIComponent(`histogram_quantile(0.9, sum(rate(${h}[30s])))`)}&time=${t}`,
      `query_range?query=${encodeURIComponent(`histogram_quantile(0.9, sum by (handler) (rate(${h}[30s])))`)}&start=${t - 20}&end=${t}&step=5`,
      `query_range?query=${encodeURIComponent(`sum(rate(${h}[30s]))`)}&start=${t - 20}&end=${t}&step=5`,
    ];
    // An instant vector's order is Prometheus's series creation order (its selector reads unsorted): compared sorted.
    const inOrder = (text: string) => {
      const body = JSON.parse(text) as { data: { resultType: string; result: Array<{ metric: unknown }> } };
      if (body.data.resultType !== 'vector') return text;
      const items = text.slice(text.indexOf('"result":[') + 10, text.lastIndexOf(']}}')).split(/(?<=\]\}),(?=\{"metric")/);
      return JSON.stringify(items.sort());
    };
    let identical = 0;
    for (const q of queries) {
      const want = await fromProm(q);
      expect(JSON.parse(want).status, want).toBe('success');
      expect(JSON.parse(want).data.result.length, `${q}: Prometheus answers something`).toBeGreaterThan(0);
      const got = await eventually(() => fromIsobar(q), (g) => nearlyEqual(inOrder(g), inOrder(want)), 20_000);
      if (inOrder(got) === inOrder(want)) identical++;
      expect(nearlyEqual(inOrder(got), inOrder(want)), `${q}\nours:       ${got}\nPrometheus: ${want}`).toBe(true);
    }
    // Most are the same bytes; log2/exp2 (quantiles) and the order avg adds in may differ in the last bit.
    expect(identical).toBeGreaterThan(queries.length / 2);
    // Something was compared: native histograms, with buckets.
    expect(await fromIsobar(queries[0]!)).toMatch(/"histogram":\[\d+(\.\d+)?,\{"count":"\d+","sum":"[^"]+","buckets":\[\[/);
    // An aggregation that leaves histograms out answers as Prometheus 3 does: nothing, with its info.
    const max = `query?query=${encodeURIComponent(`max(rate(${h}[30s]))`)}&time=${t}`;
    expect(await fromIsobar(max)).toBe(await fromProm(max));
  });

  it('answers metadata as Prometheus 3 does: 1.0 exactly, with its filters and field order; 2.0 family by family', async () => {
    if (protocol === '2.0') {
      // 2.0 sends metadata per series: a histogram's series name their family without suffix, as Prometheus's API does;
      // a counter keeps `_total` (whether it is part of the family's name depends on the format scraped, which 2.0 does not say).
      for (const path of ['metadata?metric=demo_request_duration_seconds', 'metadata?metric=demo_queue_depth', 'metadata?metric=go_gc_duration_seconds', 'metadata?metric=prometheus_http_requests_total']) {
        const want = await fromProm(path);
        expect(Object.keys(JSON.parse(want).data), path).toHaveLength(1);
        expect(await eventually(() => fromIsobar(path), (g) => g === want, 30_000), path).toBe(want);
      }
      const counter = JSON.parse(await fromIsobar('metadata?metric=demo_jobs_total')).data;
      expect(counter).toEqual({ demo_jobs_total: JSON.parse(await fromProm('metadata?metric=demo_jobs')).data.demo_jobs });
      // Every family Prometheus lists is there, the same, but OpenMetrics counters (under their `_total` name); more may be (`up`, `scrape_*`).
      const [ours, theirs] = [JSON.parse(await fromIsobar('metadata')).data, JSON.parse(await fromProm('metadata')).data] as Array<Record<string, unknown>>;
      const missing = Object.keys(theirs!).filter((f) => JSON.stringify(ours![f]) !== JSON.stringify(theirs![f]) && JSON.stringify(ours![`${f}_total`]) !== JSON.stringify(theirs![f]));
      expect(missing).toEqual([]);
      return;
    }
    for (const path of ['metadata', 'metadata?metric=demo_request_duration_seconds', 'metadata?metric=demo_jobs', 'metadata?limit_per_metric=1', 'metadata?limit=0', 'metadata?metric=nothing_here']) {
      const want = await fromProm(path);
      expect(JSON.parse(want).status, want).toBe('success');
      const got = await eventually(() => fromIsobar(path), (g) => g === want, 30_000);
      expect(got, path).toBe(want);
    }
    // Which families `limit` keeps is Prometheus's map order; how many is the contract.
    expect(Object.keys(JSON.parse(await fromProm('metadata?limit=2')).data)).toHaveLength(2);
    expect(Object.keys(JSON.parse(await fromIsobar('metadata?limit=2')).data)).toEqual(['demo_jobs', 'demo_queue_depth']);
    expect(JSON.parse(await fromIsobar('metadata?metric=demo_request_duration_seconds')).data.demo_request_duration_seconds).toEqual([
      { type: 'histogram', help: 'Time spent serving a request, with "quotes" and a \\ backslash.', unit: 'seconds' },
    ]);
  });
});
