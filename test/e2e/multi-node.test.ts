/**
 * A tenant whose shards live on two storage nodes: every query path answers
 * over all of its series. The node that evaluates PromQL fetches the series it
 * lacks from its peer as compressed chunks; a peer that is down fails the query
 * (503) instead of returning part of the answer.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script
import { startEdge, startNode, stop } from '../../scripts/stack.mjs';
import { freePort } from '../support/node-process.js';
import { Client, eventually, testSettings, type StackSettings } from '../support/stack.js';
import { encodeWriteRequest } from '../../wire/remote-write.js';
import { emptyHistogram } from '../../wire/histogram.js';
import { snappyEncode } from '../../wire/snappy.js';

const SERIES = 240;
const FAST_COMPACTION = { ISOBAR_COMPACTION_INTERVAL_SECONDS: '1' };
const H = 3_600_000;
const D = 24 * H;

describe('a tenant spread over two storage nodes', () => {
  let s: StackSettings;
  let s2: StackSettings;
  let nodes: ChildProcess[] = [];
  let edge: ChildProcess;
  let client: Client;
  const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 20 * 60_000;

  beforeAll(async () => {
    s = await testSettings();
    s2 = { ...s, ISOBAR_NODE_PORT: String(await freePort()), ISOBAR_DATA_DIR: mkdtempSync(join(tmpdir(), 'isobar-e2e-node2-')) };
    // Compaction (and downsampling) every second, for the tiers test.
    nodes = [await startNode(s, { env: FAST_COMPACTION }), await startNode(s2, { env: FAST_COMPACTION })];
    edge = await startEdge(s, {
      extraVars: { ISOBAR_NODE_URLS: `http://127.0.0.1:${s.ISOBAR_NODE_PORT},http://127.0.0.1:${s2.ISOBAR_NODE_PORT}`, ISOBAR_DEMO_SHARDS: '8' },
    });
    client = new Client(s);
    // Counters rising by i per 15 s, for 20 minutes.
    const series = Array.from({ length: SERIES }, (_, i) => ({
      labels: [['__name__', 'spread_total'], ['i', String(i).padStart(3, '0')], ['job', i % 2 ? 'odd' : 'even']] as [string, string][],
      samples: Array.from({ length: 80 }, (_, k) => [t0 + k * 15_000, k * i] as [number, number]),
    }));
    expect((await client.write(series)).status).toBe(204);
  });

  afterAll(async () => {
    await stop(edge);
    for (const n of nodes) await stop(n);
  });

  const nodeSeries = async (st: StackSettings) => {
    const r = await fetch(`http://127.0.0.1:${st.ISOBAR_NODE_PORT}/internal/v1/tenants/demo/prom/api/v1/series?match[]=spread_total`, {
      headers: { authorization: `Bearer ${st.ISOBAR_NODE_SECRET}` },
    });
    return ((await r.json()) as { data: unknown[] }).data.length;
  };
  const query = async (q: string, extra = '') => client.read(`query?query=${encodeURIComponent(q)}&time=${(t0 + 79 * 15_000) / 1000}${extra}`);

  it('places the shards on both nodes, and the series API sees all of them', async () => {
    const [a, b] = [await nodeSeries(s), await nodeSeries(s2)];
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(a + b).toBe(SERIES);
    expect((await client.read('series?match[]=spread_total')).data).toHaveLength(SERIES);
  });

  it('merges both nodes\u2019 exemplars and metadata into one answer, sorted as Prometheus sorts it', async () => {
    const t = Date.now();
    const series = Array.from({ length: 40 }, (_, i) => ({
      labels: [['__name__', 'traced_total'], ['i', String(i).padStart(2, '0')]] as [string, string][],
      samples: [[t, i]] as [number, number][],
      exemplars: [{ labels: [['trace_id', `trace-${i}`]] as [string, string][], value: i, timestampMs: t }],
    }));
    const families = Array.from({ length: 20 }, (_, i) => ({ family: `family_${String(i).padStart(2, '0')}`, type: 1 + (i % 2), help: `Help ${i}.` }));
    const r = await fetch(`${client.base}/api/v1/write`, {
      method: 'POST',
      body: Buffer.from(snappyEncode(encodeWriteRequest(series, families))),
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', authorization: `Bearer ${s.ISOBAR_DEMO_KEY}` },
    });
    expect(r.status, await r.text()).toBe(204);
    const fromNode = async (st: StackSettings, path: string) =>
      (await (await fetch(`http://127.0.0.1:${st.ISOBAR_NODE_PORT}/internal/v1/tenants/demo/prom/api/v1/${path}`, { headers: { authorization: `Bearer ${st.ISOBAR_NODE_SECRET}` } })).json()) as { data: any };
    // Each node holds a part.
    const parts = await Promise.all([s, s2].map((st) => fromNode(st, 'query_exemplars?query=traced_total')));
    expect(parts.map((p) => p.data.length).every((n) => n > 0 && n < 40)).toBe(true);
    const metaParts = await Promise.all([s, s2].map((st) => fromNode(st, 'metadata')));
    expect(metaParts.map((p) => Object.keys(p.data).length).every((n) => n > 0 && n < 20)).toBe(true);
    // The edge answers the whole.
    const ex = await client.read('query_exemplars?query=traced_total');
    expect(ex.data.map((x: any) => x.seriesLabels.i)).toEqual(series.map((x) => x.labels[1]![1]));
    expect(ex.data.map((x: any) => x.exemplars)).toEqual(series.map((x, i) => [{ labels: { trace_id: `trace-${i}` }, value: String(i), timestamp: t / 1000 }]));
    const meta = await client.read('metadata');
    expect(Object.keys(meta.data).filter((k) => k.startsWith('family_'))).toEqual(families.map((f) => f.family));
    expect(meta.data.family_03).toEqual([{ type: 'gauge', unit: '', help: 'Help 3.' }]);
    expect(Object.keys((await client.read('metadata?limit=3')).data)).toEqual(['family_00', 'family_01', 'family_02']);
  });

  it('reads native histograms of both nodes: selectors and histogram functions', async () => {
    const t = Math.floor(Date.now() / 1000) * 1000 - 5_000;
    const series = Array.from({ length: 24 }, (_, i) => ({
      labels: [['__name__', 'spread_hist'], ['i', String(i).padStart(2, '0')]] as [string, string][],
      samples: [] as [number, number][],
      histograms: [{ ...emptyHistogram(), t, count: i + 4, sum: 2 * i, schema: 0, zeroThreshold: 1e-128, zeroCount: 1, positiveSpans: [0, 2], positiveBuckets: [i + 1, 1 - i] }],
    }));
    const r = await fetch(`${client.base}/api/v1/write`, {
      method: 'POST',
      body: Buffer.from(snappyEncode(encodeWriteRequest(series))),
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', authorization: `Bearer ${s.ISOBAR_DEMO_KEY}` },
    });
    expect(r.status, await r.text()).toBe(204);
    // Each node holds a part (the evaluating node reads the other's through the histograms route).
    const held = await Promise.all([s, s2].map(async (st) => {
      const res = await fetch(`http://127.0.0.1:${st.ISOBAR_NODE_PORT}/internal/v1/tenants/demo/prom/api/v1/series?match[]=spread_hist`, { headers: { authorization: `Bearer ${st.ISOBAR_NODE_SECRET}` } });
      return ((await res.json()) as { data: unknown[] }).data.length;
    }));
    expect(held.every((n) => n > 0) && held[0]! + held[1]! === 24).toBe(true);
    const counts = await client.read(`query?query=${encodeURIComponent('histogram_count(spread_hist)')}&time=${t / 1000}`);
    expect(counts.data.result.map((x: any) => [x.metric.i, x.value[1]])).toEqual(series.map((_, i) => [String(i).padStart(2, '0'), String(i + 4)]));
    const raw = await client.read(`query?query=spread_hist&time=${t / 1000}`);
    expect(raw.data.result).toHaveLength(24);
    expect(raw.data.result[5].histogram[1]).toEqual({ count: '9', sum: '10', buckets: [[3, '-1e-128', '1e-128', '1'], [0, '0.5', '1', '6'], [0, '1', '2', '2']] });
  });

  it('evaluates PromQL over the series of both nodes', async () => {
    expect((await query('count(spread_total)')).data.result[0].value[1]).toBe(String(SERIES));
    const sum = (SERIES * (SERIES - 1)) / 2; // sum of i over all series, times k = 79
    expect((await query('sum(spread_total)')).data.result[0].value[1]).toBe(String(79 * sum));
    const byJob = (await query('sum by (job) (rate(spread_total[5m]))')).data.result;
    expect(byJob.map((r: any) => r.metric.job)).toEqual(['even', 'odd']);
    const rate = byJob.reduce((acc: number, r: any) => acc + Number(r.value[1]), 0);
    expect(rate).toBeCloseTo(sum / 15, 6);
    expect((await query('topk(1, spread_total)')).data.result[0].metric.i).toBe(String(SERIES - 1).padStart(3, '0'));
    const range = await client.read(
      `query_range?query=${encodeURIComponent('count(spread_total offset 1m)')}&start=${(t0 + 10 * 60_000) / 1000}&end=${(t0 + 19 * 60_000) / 1000}&step=60`,
    );
    expect(range.data.result[0].values.map((v: [number, string]) => v[1])).toEqual(Array(10).fill(String(SERIES)));
  });

  it('deleting a tenant removes its data from every node', async () => {
    const key = await client.tenantWithKey('spread-gone', 8);
    const t = Date.now();
    const series = Array.from({ length: 60 }, (_, i) => ({ labels: [['__name__', 'gone_soon'], ['i', String(i)]] as [string, string][], samples: [[t, i]] as [number, number][] }));
    expect((await client.write(series, key)).status).toBe(204);
    const onNode = async (st: StackSettings) => {
      const r = await fetch(`http://127.0.0.1:${st.ISOBAR_NODE_PORT}/internal/v1/tenants/spread-gone/prom/api/v1/series?match[]=gone_soon`, {
        headers: { authorization: `Bearer ${st.ISOBAR_NODE_SECRET}` },
      });
      return ((await r.json()) as { data: unknown[] }).data.length;
    };
    const before = [await onNode(s), await onNode(s2)];
    expect(before.every((n) => n > 0)).toBe(true); // on both nodes
    expect(before[0]! + before[1]!).toBe(60);
    const del = await fetch(`${client.base}/admin/v1/tenants/spread-gone`, { method: 'DELETE', headers: { authorization: `Bearer ${s.ISOBAR_ADMIN_TOKEN}` } });
    expect(await del.json()).toEqual({ deleted: 'spread-gone', dataRemoved: true, pending: [] });
    expect([await onNode(s), await onNode(s2)]).toEqual([0, 0]);
    expect(existsSync(join(s.ISOBAR_DATA_DIR, 'node', 'wal', 'spread-gone'))).toBe(false);
    expect(existsSync(join(s2.ISOBAR_DATA_DIR, 'node', 'wal', 'spread-gone'))).toBe(false);
  });

  it("answers coarse queries from both nodes' downsampled tiers, agreeing with raw data", async () => {
    const h = { authorization: `Bearer ${s.ISOBAR_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const t = await fetch(`${client.base}/admin/v1/tenants`, { method: 'POST', headers: h, body: JSON.stringify({ id: 'spread-ds', shards: 8, retention: { raw: '30d', '5m': '1y' } }) });
    expect(t.status).toBe(201);
    const k = await fetch(`${client.base}/admin/v1/tenants/spread-ds/keys`, { method: 'POST', headers: h, body: JSON.stringify({ scopes: ['write', 'read'] }) });
    const key = ((await k.json()) as { key: string }).key;
    // The three whole days before today, a sample a minute for 16 counters (7 s past the minute).
    const day0 = Math.floor(Date.now() / D) * D - 3 * D;
    for (let hour = 0; hour < 3 * 24; hour++) {
      const series = Array.from({ length: 16 }, (_, i) => ({
        labels: [['__name__', 'tiered_total'], ['i', String(i)], ['job', i % 2 ? 'odd' : 'even']] as [string, string][],
        samples: Array.from({ length: 60 }, (_, m) => [day0 + (hour * 60 + m) * 60_000 + 7_000, (hour * 60 + m) * (i + 1)] as [number, number]),
      }));
      const r = await client.write(series, key);
      expect(r.status, await r.text()).toBe(204);
    }
    expect((await fetch(`${client.base}/admin/v1/flush?tenant=spread-ds`, { method: 'POST', headers: h })).status).toBe(200);
    // Each node compacts and downsamples its own blocks: days 0 and 1 settle, day 2 is the newest.
    const m5Blocks = (st: StackSettings) => {
      const dir = join(st.ISOBAR_DATA_DIR, 'bucket', 'spread-ds');
      if (!existsSync(dir)) return 0;
      return readdirSync(dir).filter((u) => {
        const meta = join(dir, u, 'meta.json');
        return existsSync(meta) && !existsSync(join(dir, u, 'deletion-mark.json')) && JSON.parse(readFileSync(meta, 'utf8')).thanos.downsample.resolution === 300_000;
      }).length;
    };
    const counts = await eventually(async () => [m5Blocks(s), m5Blocks(s2)], (c) => c.every((n) => n >= 2), 90_000);
    expect(counts.every((n) => n >= 2)).toBe(true);

    const range = (q: string, extra = '') => client.read(`query_range?query=${encodeURIComponent(q)}&start=${(day0 + 2 * H) / 1000}&end=${(day0 + 2 * D) / 1000}&step=3600${extra}`, key);
    for (const q of ['sum by (job) (count_over_time(tiered_total[1h]))', 'sum by (job) (rate(tiered_total[1h]))', 'max by (job) (max_over_time(tiered_total[2h]))']) {
      const tiered = await range(q);
      const raw = await range(q, '&max_source_resolution=raw');
      expect(tiered.status).toBe('success');
      expect(tiered.infos?.join(), q).toMatch(/from the 5m downsampled tier/);
      expect(raw.infos).toBeUndefined();
      expect(tiered.data.result.map((r: any) => r.metric.job)).toEqual(['even', 'odd']);
      for (let j = 0; j < 2; j++) {
        const want = raw.data.result[j].values as Array<[number, string]>;
        const got = new Map((tiered.data.result[j].values as Array<[number, string]>).map(([ts, v]) => [ts, Number(v)]));
        expect(got.size).toBe(want.length);
        for (const [ts, v] of want) expect(Math.abs(got.get(ts)! - Number(v)), `${q} at ${ts}`).toBeLessThanOrEqual(Number(v) * (q.includes('rate') ? 0.01 : 0));
      }
    }
    // Both nodes' series are in the answer: 16 counters, each one sample a minute.
    const n = await range('sum(count_over_time(tiered_total[1h]))');
    expect(n.data.result[0].values.every(([, v]: [number, string]) => v === String(16 * 60))).toBe(true);
  });

  it('fails the query, rather than answering with half the series, while a peer is down', async () => {
    await stop(nodes[1]);
    const r = await fetch(`${client.base}/prometheus/api/v1/query?query=count(spread_total)`, { headers: { authorization: `Bearer ${s.ISOBAR_DEMO_KEY}` } });
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ status: 'error', errorType: 'unavailable', error: expect.stringMatching(/retry/) });
    nodes[1] = await startNode(s2, { env: FAST_COMPACTION });
    expect((await query('count(spread_total)')).data.result[0].value[1]).toBe(String(SERIES));
  });
});
