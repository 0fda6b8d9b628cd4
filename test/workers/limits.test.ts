/**
 * Per-tenant limits: set at creation or by PATCH, enforced at the edge (labels,
 * body size) and in the shard coordinators (ingestion rate). Just under a limit
 * is accepted; just over gets the documented status, id and message, and the
 * request's other series are kept.
 */
import { describe, expect, it } from 'vitest';
import { SELF } from 'cloudflare:test';
import { admin, newTenant, now, read, write } from './helpers.js';
import type { NativeHistogram } from '../../wire/histogram.js';

const series = (name: string, labels: Array<[string, string]>, t = now(), n = 1) => ({
  labels: [['__name__', name], ...labels] as Array<[string, string]>,
  samples: Array.from({ length: n }, (_, i) => [t - (n - 1 - i) * 1000, i] as [number, number]),
});

describe('tenant limits', () => {
  it('are the global defaults until set; PATCH changes some and answers with all', async () => {
    await newTenant('lim-admin', 1);
    const t = (await (await admin('GET', '/tenants/lim-admin')).json()) as any;
    expect(t.limits).toMatchObject({ ingestionRate: 500_000, maxLabelNamesPerSeries: 40, shards: 1, maxExemplars: 100_000 });
    expect(t.overrides).toEqual({});

    const r = await admin('PATCH', '/tenants/lim-admin/limits', { maxLabelNamesPerSeries: 12, shards: 3 });
    expect(r.status).toBe(200);
    const all = (await r.json()) as any;
    expect(all).toMatchObject({ maxLabelNamesPerSeries: 12, shards: 3, ingestionRate: 500_000, retentionSeconds: 30 * 86_400 });
    expect(Object.keys(all)).toHaveLength(22);
    expect(((await (await admin('GET', '/tenants/lim-admin')).json()) as any).overrides).toEqual({ maxLabelNamesPerSeries: 12, shards: 3 });

    const withRetention = await admin('POST', '/tenants', { id: 'lim-retention', retention: { raw: '1w' } });
    expect(((await withRetention.json()) as any).limits.retentionSeconds).toBe(604_800);
    const tiers = await admin('POST', '/tenants', { id: 'lim-tiers', retention: { raw: '30d', '5m': '1y', '1h': 157_680_000 } });
    expect(((await tiers.json()) as any).limits).toMatchObject({ retentionSeconds: 2_592_000, retention5mSeconds: 31_536_000, retention1hSeconds: 157_680_000 });
    const badTier = await admin('POST', '/tenants', { id: 'lim-tiers-2', retention: { raw: '30d', '5m': -1 } });
    expect(badTier.status).toBe(400);
    expect(((await badTier.json()) as any).error).toMatch(/expected number to be >=0\s+→ at retention.5m/);
    const badRetention = await admin('POST', '/tenants', { id: 'lim-retention-2', retention: { raw: 'forever' } });
    expect(badRetention.status).toBe(400);
    expect(((await badRetention.json()) as any).error).toMatch(/retention.raw must be seconds, or a duration such as "30d"/);

    const bad = await admin('PATCH', '/tenants/lim-admin/limits', { maxLabelNamesPerSeries: 0, nonsense: 1 });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/maxLabelNamesPerSeries[\s\S]*nonsense|nonsense[\s\S]*maxLabelNamesPerSeries/);
    expect((await admin('PATCH', '/tenants/no-such-tenant/limits', { shards: 2 })).status).toBe(404);
  });

  it('max native histogram buckets: over it, reduced to fit where allowed, refused by name where not', async () => {
    // 8 consecutive buckets at schema 3: (2^(0/8), 2^(1/8)] ... one observation each.
    const h = (t: number, extra: Partial<NativeHistogram> = {}): NativeHistogram => ({
      t, float: false, schema: 3, count: 8, sum: 12, zeroThreshold: 0, zeroCount: 0,
      positiveSpans: [1, 8], positiveBuckets: [1, 0, 0, 0, 0, 0, 0, 0], negativeSpans: [], negativeBuckets: [], customValues: [], resetHint: 0, ...extra,
    });
    const hs = (name: string, histogram: NativeHistogram) => ({ labels: [['__name__', name]] as Array<[string, string]>, samples: [], histograms: [histogram] });
    const t = now();

    const reducing = `Bearer ${await newTenant('lim-buckets', 1, { maxNativeHistogramBuckets: 4 })}`;
    expect((await write([hs('fits', { ...h(t), schema: 0, positiveSpans: [1, 4], positiveBuckets: [1, 0, 0, 0], count: 4 })], {}, reducing)).status).toBe(204);
    // Its series is written anew at the edge: its exemplar goes with it.
    const exemplars = [{ labels: [['trace_id', 'abc123']] as Array<[string, string]>, value: 1.5, timestampMs: t }];
    expect((await write([{ ...hs('reduced', h(t)), exemplars }], {}, reducing)).status).toBe(204);
    // Stored at schema 2, the first that fits: 8 buckets of schema 3 fall pairwise into 4, every observation kept.
    const q = await read(`query?query=reduced&time=${t / 1000}`, reducing);
    const [, value] = q.body.data.result[0].histogram as [number, { count: string; buckets: Array<[number, string, string, string]> }];
    expect(value.count).toBe('8');
    expect(value.buckets.map((b) => b[3])).toEqual(['2', '2', '2', '2']);
    value.buckets.forEach((b, i) => expect(Number(b[2])).toBeCloseTo(2 ** ((i + 1) / 4), 12));
    const ex = await read(`query_exemplars?query=reduced&start=${t / 1000 - 60}&end=${t / 1000 + 60}`, reducing);
    expect(ex.body.data[0].exemplars).toEqual([{ labels: { trace_id: 'abc123' }, value: '1.5', timestamp: t / 1000 }]);

    // Custom buckets cannot be reduced; nor anything where reducing is off.
    const custom = { ...h(t), schema: -53, positiveSpans: [0, 5], positiveBuckets: [1, 0, 0, 0, 0], count: 5, customValues: [1, 2, 3, 4] };
    const r = await write([hs('kept', h(t, { schema: 0, positiveSpans: [0, 1], positiveBuckets: [8] })), hs('nhcb', custom)], {}, reducing);
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/series \{__name__="nhcb"\} has a native histogram at .* with 5 buckets, over the limit of 4 \(max_native_histogram_buckets\); ask the operator to raise it \(isobar limits set lim-buckets --max-native-histogram-buckets N\).*1 of 2 series rejected.*err-isobar-max-native-histogram-buckets/s);
    const refusing = `Bearer ${await newTenant('lim-buckets-refuse', 1, { maxNativeHistogramBuckets: 4, reduceNativeHistogramOverMaxBuckets: 0 })}`;
    const off = await write([hs('refused', h(t))], {}, refusing);
    expect(off.status).toBe(400);
    expect(await off.text()).toMatch(/with 8 buckets, over the limit of 4 \(max_native_histogram_buckets\);.*err-isobar-max-native-histogram-buckets/s);
    expect((await read('series?match[]=refused', refusing)).body.data).toHaveLength(0);
    expect((await read('series?match[]=nhcb', reducing)).body.data).toHaveLength(0);
    expect((await read('series?match[]=kept', reducing)).body.data).toHaveLength(1);
  });

  it('max label names per series: 3 labels pass, 4 are refused by name, the other series kept', async () => {
    const key = await newTenant('lim-labels', 1, { maxLabelNamesPerSeries: 3 });
    const auth = `Bearer ${key}`;
    expect((await write([series('ok3', [['a', '1'], ['b', '2']])], {}, auth)).status).toBe(204);
    const r = await write([series('kept', [['a', '1']]), series('over', [['a', '1'], ['b', '2'], ['c', '3']])], {}, auth);
    expect(r.status).toBe(400);
    const msg = await r.text();
    expect(msg).toMatch(/has 4 labels, over the limit of 3 \(max_label_names_per_series\); ask the operator to raise it \(isobar limits set lim-labels --max-label-names-per-series N\)/);
    expect(msg).toMatch(/err-isobar-max-label-names-per-series/);
    expect(msg).toMatch(/1 of 2 series rejected/);
    expect((await read('series?match[]=kept', auth)).body.data).toHaveLength(1);
    expect((await read('series?match[]=over', auth)).body.data).toHaveLength(0);
  });

  it('label name and value lengths: at the limit pass, one byte over is refused', async () => {
    const auth = `Bearer ${await newTenant('lim-lengths', 1, { maxLabelNameLength: 8, maxLabelValueLength: 10 })}`;
    expect((await write([series('len', [['abcdefgh', '0123456789']])], {}, auth)).status).toBe(204);
    const name = await write([series('len', [['abcdefghi', 'x']])], {}, auth);
    expect([name.status, await name.text()]).toEqual([400, expect.stringMatching(/9 bytes, over the limit of 8 \(max_label_name_length\).*err-isobar-label-name-too-long/s)]);
    const value = await write([series('len', [['a', '0123456789X']])], {}, auth);
    expect([value.status, await value.text()]).toEqual([400, expect.stringMatching(/11 bytes, over the limit of 10 \(max_label_value_length\).*err-isobar-label-value-too-long/s)]);
  });

  it('body size: the tenant\u2019s max_body_bytes, 413 naming it', async () => {
    const auth = `Bearer ${await newTenant('lim-body', 1, { maxBodyBytes: 200 })}`;
    expect((await write([series('small', [])], {}, auth)).status).toBe(204);
    let x = 12345;
    const noise = Array.from({ length: 400 }, () => String.fromCharCode(97 + ((x = (x * 1103515245 + 12345) % 2 ** 31) % 26))).join(''); // snappy cannot shrink it
    const big = await write([series('big', [['pad', noise]])], {}, auth);
    expect(big.status).toBe(413);
    expect(await big.text()).toMatch(/over the limit of 200 bytes \(max_body_bytes\).*isobar limits set lim-body --max-body-bytes.*err-isobar-body-too-large/s);
  });

  it('ingestion rate: a burst up to the bucket passes, the next batch gets 429 with Retry-After, nothing of it stored', async () => {
    const auth = `Bearer ${await newTenant('lim-rate', 1, { ingestionRate: 10, ingestionBurst: 100 })}`;
    const t = now();
    expect((await write([series('rate_a', [], t, 100)], {}, auth)).status).toBe(204);
    const r = await write([series('rate_b', [], t, 50)], {}, auth);
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await r.text()).toMatch(/over its ingestion rate of 10 samples\/s \(ingestion_rate; bursts up to 100, ingestion_burst\); retry after \d+s.*err-isobar-ingestion-rate-limited/s);
    expect((await read('series?match[]=rate_b', auth)).body.data).toHaveLength(0);
    // Other tenants are not affected.
    expect((await write([series('rate_other', [], t, 150)])).status).toBe(204);
  });
});

describe('series limits (the cardinality firewall)', () => {
  it('max series per tenant: up to the limit pass, new series over it are refused, known ones still written', async () => {
    const auth = `Bearer ${await newTenant('lim-series', 1, { maxSeries: 5 })}`;
    const t = now();
    expect((await write(Array.from({ length: 5 }, (_, i) => series('s', [['i', String(i)]], t - 1000)), {}, auth)).status).toBe(204);
    const r = await write([series('s', [['i', '0']], t), series('s', [['i', 'new1']], t), series('s', [['i', 'new2']], t)], {}, auth);
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/series \{__name__="s", i="new1"\} would be a new series, and tenant lim-series is at its limit of 5 active series \(max_series.*isobar limits set lim-series --max-series N.*2 of 3 series rejected.*err-isobar-max-series-per-tenant/s);
    expect((await read(`query?query=${encodeURIComponent('count(s)')}&time=${t / 1000}`, auth)).body.data.result[0].value[1]).toBe('5');
    expect((await read(`query?query=${encodeURIComponent('count_over_time(s{i="0"}[1m])')}&time=${t / 1000}`, auth)).body.data.result[0].value[1]).toBe('2');
    const u = (await (await admin('GET', '/tenants/lim-series/usage')).json()) as any;
    expect(u.lastHour.samplesRejected['err-isobar-max-series-per-tenant']).toBe(2);
    expect(u.lastHour.samplesAccepted).toBe(6);
  });

  it('over several shards: each refuses past its share, the rest of the request is stored, every sample counted once', async () => {
    // 2 shards, max_series 4: 2 per shard. New series travel with their append; a
    // shard refusing some writes nothing and gets its other series again.
    const auth = `Bearer ${await newTenant('lim-shards', 2, { maxSeries: 4, maxLabelValueLength: 10 })}`;
    const t = now();
    const many = Array.from({ length: 20 }, (_, i) => series('wide', [['i', String(i)]], t, 2));
    const tooLong = series('wide', [['v', 'x'.repeat(11)]], t, 3);
    const r = await write([tooLong, ...many], {}, auth);
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/max_label_value_length.*17 of 21 series rejected, the other 4 \(8 samples\) were accepted \(err-isobar-label-value-too-long\)/s);
    expect((await read(`query?query=${encodeURIComponent('count(wide)')}&time=${t / 1000}`, auth)).body.data.result[0].value[1]).toBe('4');
    const u = (await (await admin('GET', '/tenants/lim-shards/usage')).json()) as any;
    expect(u.lastHour.samplesRejected).toEqual({ 'err-isobar-label-value-too-long': 3, 'err-isobar-max-series-per-tenant': 32 });
    expect(u.lastHour.samplesAccepted).toBe(8);
  });

  it('max series per metric: names the metric and the label that makes the new series', async () => {
    const auth = `Bearer ${await newTenant('lim-metric', 1, { maxSeriesPerMetric: 6 })}`;
    const t = now();
    const users = (from: number, n: number) => Array.from({ length: n }, (_, i) => series('requests_total', [['path', '/'], ['user', `u${from + i}`]], t));
    expect((await write(users(0, 6), {}, auth)).status).toBe(204);
    const r = await write([...users(100, 8), series('other_metric', [], t)], {}, auth);
    expect(r.status).toBe(400);
    const msg = await r.text();
    expect(msg).toMatch(/would be a new series of metric requests_total, which is at its limit of 6 active series \(max_series_per_metric\)/);
    expect(msg).toMatch(/most of the refused new series of requests_total differ in label "user" \(\d+ values in this request\): drop or aggregate it/);
    expect(msg).toMatch(/err-isobar-max-series-per-metric/);
    expect((await read('series?match[]=other_metric', auth)).body.data).toHaveLength(1);
    expect((await read('series?match[]=requests_total', auth)).body.data).toHaveLength(6);
    expect(msg).toMatch(/8 of 9 series rejected/);
  });
});

describe('query limits per tenant', () => {
  it('max series and max range: at the limit answers, over it is 422 naming the limit', async () => {
    const auth = `Bearer ${await newTenant('lim-query', 1, { queryMaxSeries: 3, queryMaxRangeSeconds: 3600 })}`;
    const t = now();
    expect((await write(Array.from({ length: 3 }, (_, i) => series('q', [['i', String(i)]], t)), {}, auth)).status).toBe(204);
    const q = (expr: string, extra = '') => read(`query?query=${encodeURIComponent(expr)}&time=${t / 1000}${extra}`, auth);
    expect((await q('count(q)')).body.data.result[0].value[1]).toBe('3');
    const over = await q('count(q) + count(q{i!="x"})'); // two selectors: 6 series loaded
    expect(over.status).toBe(422);
    expect(over.body).toMatchObject({ status: 'error', errorType: 'execution', error: expect.stringMatching(/more than 3 series \(limit query_max_series/) });

    const range = (hours: number) => read(`query_range?query=q&start=${t / 1000 - hours * 3600}&end=${t / 1000}&step=60`, auth);
    const ok = await range(1);
    expect(ok.status).toBe(200);
    // The node's phases reach the user (browser developer tools show them).
    expect(ok.headers.get('server-timing')).toMatch(/^gather;dur=[\d.]+, wait;dur=[\d.]+, eval;dur=[\d.]+$/);
    const wide = await range(2);
    expect(wide.status).toBe(422);
    expect(wide.body.error).toMatch(/query would read 2h of data, over the limit of 1h \(limit query_max_range_seconds/);
    expect((await q('max_over_time(q[2h])')).status).toBe(422); // a selector's range counts too
  });
});

describe('admin API description', () => {
  it('serves an OpenAPI document whose request schemas are the ones the API enforces', async () => {
    const r = await SELF.fetch('http://isobar.test/admin/v1/openapi.json');
    expect(r.status).toBe(200);
    const doc = (await r.json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/tenants', '/tenants/{id}', '/tenants/{id}/limits', '/tenants/{id}/keys', '/tenants/{id}/keys/{keyId}']));
    const create = doc.paths['/tenants'].post.requestBody.content['application/json'].schema;
    expect(create).toMatchObject({ type: 'object', required: ['id'], additionalProperties: false });
    expect(create.properties.id.pattern).toBe('^[a-z0-9-]{1,63}$');
    const patch = doc.paths['/tenants/{id}/limits'].patch.requestBody.content['application/json'].schema;
    expect(Object.keys(patch.properties)).toHaveLength(22);
    expect(patch.properties.ingestionRate).toMatchObject({ type: 'integer', minimum: 1 });
    // What the document says is refused is refused.
    expect((await admin('POST', '/tenants', { id: 'doc-check', surprise: true })).status).toBe(400);
  });
});
