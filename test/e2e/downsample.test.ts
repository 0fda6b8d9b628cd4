/**
 * Downsampling through the running stack: a tenant created with retention
 * tiers, three days of samples written through the edge, flushed; the node
 * compacts, downsamples and uploads on its own (compaction every second
 * here). Then PromQL through the edge reads the 5m tier at a coarse step,
 * says so in `infos`, and agrees with the raw answer (`max_source_resolution=raw`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script
import { startNode, stop } from '../../scripts/stack.mjs';
import { eventually, useStack } from '../support/stack.js';

const H = 3_600_000;
const D = 24 * H;

describe('downsampled tiers through the stack', () => {
  const st = useStack();

  it('makes 5m blocks, uploads them, and answers coarse queries from them', async () => {
    // Compaction (and downsampling) every second, so the test does not wait a minute per level.
    await stop(st.node);
    st.node = await startNode(st.s, { env: { ISOBAR_COMPACTION_INTERVAL_SECONDS: '1' } });
    // The edge takes writes again once it sees the restarted node.
    await eventually(async () => (await fetch(`${st.client.base}/-/ready`)).status, (status) => status === 200, 30_000);

    const h = { authorization: `Bearer ${st.s.ISOBAR_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const t = await fetch(`${st.client.base}/admin/v1/tenants`, { method: 'POST', headers: h, body: JSON.stringify({ id: 'ds', retention: { raw: '30d', '5m': '1y', '1h': '5y' } }) });
    expect(t.status, await t.clone().text()).toBe(201);
    expect(((await t.json()) as any).limits).toMatchObject({ retention5mSeconds: 31_536_000, retention1hSeconds: 157_680_000 });
    const k = await fetch(`${st.client.base}/admin/v1/tenants/ds/keys`, { method: 'POST', headers: h, body: JSON.stringify({ scopes: ['write', 'read'] }) });
    const key = ((await k.json()) as { key: string }).key;

    // The four whole days before today, a sample a minute for 4 series (7 s past the minute).
    const day0 = Math.floor(Date.now() / D) * D - 4 * D;
    for (let hour = 0; hour < 4 * 24; hour++) {
      const series = Array.from({ length: 4 }, (_, i) => ({
        labels: [['__name__', 'ds_total'], ['i', String(i)]] as [string, string][],
        samples: Array.from({ length: 60 }, (_, m) => {
          const n = hour * 60 + m;
          return [day0 + n * 60_000 + 7_000, n * (10 + i)] as [number, number];
        }),
      }));
      const r = await st.client.write(series, key);
      expect(r.status, await r.text()).toBe(204);
    }
    const flush = await fetch(`${st.client.base}/admin/v1/flush?tenant=ds`, { method: 'POST', headers: h });
    expect(flush.status).toBe(200);

    // The node compacts 2h -> 6h -> 24h, downsamples each settled day (all but the newest), uploads.
    const bucketDir = join(st.s.ISOBAR_DATA_DIR, 'bucket', 'ds');
    const resolutions = () =>
      readdirSync(bucketDir)
        .filter((u) => existsSync(join(bucketDir, u, 'meta.json')) && !existsSync(join(bucketDir, u, 'deletion-mark.json')))
        .map((u) => (JSON.parse(readFileSync(join(bucketDir, u, 'meta.json'), 'utf8')) as { thanos: { downsample: { resolution: number } } }).thanos.downsample.resolution);
    const m5 = await eventually(async () => resolutions().filter((r) => r === 300_000).length, (n) => n >= 3, 60_000);
    expect(m5).toBeGreaterThanOrEqual(3);

    const range = (q: string, extra = '') => st.client.read(`query_range?query=${encodeURIComponent(q)}&start=${(day0 + 2 * H) / 1000}&end=${(day0 + 3 * D) / 1000}&step=3600${extra}`, key);
    for (const q of ['sum(count_over_time(ds_total[1h]))', 'sum(rate(ds_total[1h]))', 'max(max_over_time(ds_total[2h]))']) {
      const tiered = await range(q);
      const raw = await range(q, '&max_source_resolution=raw');
      expect(tiered.status).toBe('success');
      expect(tiered.infos?.join(), q).toMatch(/from the 5m downsampled tier/);
      expect(raw.infos).toBeUndefined();
      const want = raw.data.result[0].values as Array<[number, string]>;
      const got = new Map((tiered.data.result[0].values as Array<[number, string]>).map(([ts, v]) => [ts, Number(v)]));
      expect(got.size).toBe(want.length);
      for (const [ts, v] of want) expect(Math.abs(got.get(ts)! - Number(v)), `${q} at ${ts}`).toBeLessThanOrEqual(Number(v) * (q.includes('rate') ? 0.01 : 0));
    }
    // A bad resolution is refused, naming the parameter.
    const bad = await range('sum(ds_total)', '&max_source_resolution=often');
    expect(bad.error).toMatch(/max_source_resolution/);
  });
});
