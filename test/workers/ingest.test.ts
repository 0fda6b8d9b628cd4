import { describe, expect, it } from 'vitest';
import { encodeHistogram, encodeWriteRequest } from '../../wire/remote-write.js';
import { encodeWriteRequestV2, type SeriesInputV2 } from '../../wire/remote-write-v2.js';
import { snappyEncode } from '../../wire/snappy.js';
import { DEMO_KEY, eventually, newTenant, now, read, write } from './helpers.js';
import { encodeMessage, rw } from '../support/protobuf.js';

type L = [string, string][];
const s = (labels: L, v = 1) => ({ labels, samples: [[now(), v]] as [number, number][] });

describe('remote write validation', () => {
  it.each([
    ['missing __name__', [['job', 'x']], /no metric name.*err-isobar-missing-metric-name/s],
    ['empty __name__', [['__name__', '']], /empty value.*err-isobar-empty-label-value/s],
    ['empty label name', [['__name__', 'v1'], ['', 'x']], /a label with an empty name.*err-isobar-invalid-label-name/s],
    ['duplicate labels', [['__name__', 'v2'], ['a', '1'], ['a', '2']], /label a more than once.*err-isobar-duplicate-label-names/s],
  ] as Array<[string, L, RegExp]>)('%s -> 400 naming the problem', async (_, labels, msg) => {
    const r = await write([s(labels)]);
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(msg);
  });

  it('non-UTF-8 label value -> 400', async () => {
    const raw = encodeWriteRequest([s([['__name__', 'v4'], ['a', 'ÿÿ']])]);
    const hex = [...raw].map((b) => b.toString(16).padStart(2, '0')).join('').replace('c3bfc3bf', 'ffffffff');
    const bytes = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
    const r = await write(snappyEncode(bytes));
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/not valid UTF-8.*err-isobar-invalid-utf8/s);
  });

  it('timestamp that is not a valid int64 millisecond -> 400', async () => {
    const sample = '09000000000000f03f' + '10' + '808080808080808040';
    const series = '0a0e0a085f5f6e616d655f5f12027570' + '1213' + sample;
    const bytes = new Uint8Array(('0a25' + series).match(/../g)!.map((h) => parseInt(h, 16)));
    const r = await write(snappyEncode(bytes));
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/err-isobar-invalid-timestamp/);
  });

  it('keeps the valid series of a partly bad request', async () => {
    const name = `partial_ok_${Date.now()}`;
    const r = await write([s([['__name__', name]]), s([['job', 'no-name']]), s([['__name__', name], ['x', 'y']])]);
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/1 of 3 series rejected, the other 2 \(2 samples\) were accepted/);
    const got = await eventually(() => read(`series?match[]=${name}`), (x) => x.body?.data?.length === 2);
    expect(got.body.data).toEqual([{ __name__: name }, { __name__: name, x: 'y' }]);
  });

  it('oversized body -> 413 naming the limit', async () => {
    const big = new Uint8Array(1024 * 1024 + 1);
    const r = await write(big);
    expect(r.status).toBe(413);
    expect(await r.text()).toMatch(/over the limit of 1048576 bytes \(max_body_bytes\).*err-isobar-body-too-large/s);
  });

  it('snappy bomb -> 400 before decompressing', async () => {
    // Declares 4 GiB - 1 of output in a 5-byte preamble.
    const r = await write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]));
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/declares 4294967295 uncompressed bytes, over the limit of 4194304.*err-isobar-decompressed-too-large/s);
  });

  it('corrupt snappy and corrupt protobuf -> 400', async () => {
    expect((await write(new Uint8Array([0x0a, 0x00]))).status).toBe(400);
    const r = await write(snappyEncode(new Uint8Array([0x0a, 0x7f, 0x01])));
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/not a valid prometheus.WriteRequest/);
  });

  it('a content encoding, content type or proto that is no remote write -> 415 naming it', async () => {
    const gzip = await write([s([['__name__', 'x']])], { 'content-encoding': 'gzip' });
    expect(gzip.status).toBe(415);
    expect(await gzip.text()).toMatch(/Content-Encoding must be "snappy" for remote write, got "gzip".*err-isobar-unsupported-content-encoding/s);
    for (const [ctype, said] of [['application/json', /"application\/json" is not application\/x-protobuf/], ['image/png', /is not application\/x-protobuf/], ['application/x-protobuf;proto=io.prometheus.write.v3.Request', /proto=io\.prometheus\.write\.v3\.Request is not a remote-write message/]] as const) {
      const r = await write([s([['__name__', 'x']])], { 'content-type': ctype });
      expect(r.status, ctype).toBe(415);
      expect(await r.text()).toMatch(said);
    }
  });

  it('remote write 2.0: stored as 1.0 would be, with the written counts, also on partial failure', async () => {
    const name = `rw2_${Date.now()}`;
    const t = now();
    const h = encodeHistogram({ t, float: false, schema: 0, count: 3, sum: 4.5, zeroThreshold: 0, zeroCount: 0, positiveSpans: [0, 2], positiveBuckets: [1, 1], negativeSpans: [], negativeBuckets: [], customValues: [], resetHint: 0 });
    const body = (extra: SeriesInputV2[] = []) =>
      snappyEncode(
        encodeWriteRequestV2([
          { labels: [['__name__', name], ['job', 'a']], samples: [[t - 1000, 1], [t, 2]], exemplars: [{ labels: [['trace_id', 'abc']], value: 2, timestampMs: t }], metadata: { type: 1, help: 'Things done.', unit: 'things' } },
          { labels: [['__name__', `${name}_h`], ['job', 'a']], histograms: [h] },
          ...extra,
        ]),
      );
    const v2 = { 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request', 'x-prometheus-remote-write-version': '2.0.0' };
    const ok = await write(body(), v2);
    expect(ok.status).toBe(204);
    expect([ok.headers.get('x-prometheus-remote-write-samples-written'), ok.headers.get('x-prometheus-remote-write-histograms-written'), ok.headers.get('x-prometheus-remote-write-exemplars-written')]).toEqual(['2', '1', '1']);
    expect((await read(`query?query=${name}&time=${t / 1000}`)).body.data.result).toEqual([{ metric: { __name__: name, job: 'a' }, value: [t / 1000, '2'] }]);
    expect((await read(`query?query=histogram_count(${name}_h)&time=${t / 1000}`)).body.data.result[0].value[1]).toBe('3');
    expect((await read(`query_exemplars?query=${name}&start=${t / 1000 - 10}&end=${t / 1000 + 10}`)).body.data[0].exemplars).toEqual([{ labels: { trace_id: 'abc' }, value: '2', timestamp: t / 1000 }]);
    expect((await read(`metadata?metric=${name}`)).body.data).toEqual({ [name]: [{ type: 'counter', unit: 'things', help: 'Things done.' }] });
    // A bad series (no metric name) is refused by name; the others are written and counted.
    const partial = await write(body([{ labels: [['job', 'nameless']], samples: [[t, 1]] }]), v2);
    expect(partial.status).toBe(400);
    expect(await partial.text()).toMatch(/no metric name.*1 of 3 series rejected.*err-isobar-missing-metric-name/s);
    expect(partial.headers.get('x-prometheus-remote-write-samples-written')).toBe('2');
    expect(partial.headers.get('x-prometheus-remote-write-histograms-written')).toBe('1');
    // An entry of exemplars alone is taken, as Prometheus 3 sends them (its own receiver refuses them, and would lose them).
    const alone = await write(body([{ labels: [['__name__', name], ['job', 'a']], exemplars: [{ labels: [['trace_id', 'def']], value: 3, timestampMs: t + 1 }] }]), v2);
    expect(alone.status).toBe(204);
    expect(alone.headers.get('x-prometheus-remote-write-exemplars-written')).toBe('2');
    // 1.0 answers carry no written counts.
    expect((await write([s([['__name__', name]])])).headers.get('x-prometheus-remote-write-samples-written')).toBeNull();
  });

  it('an accepted write is readable through every metadata endpoint', async () => {
    const name = `roundtrip_${Date.now()}`;
    expect((await write([s([['__name__', name], ['env', 'prod'], ['job', 'api']]), s([['__name__', name], ['job', 'db']])])).status).toBe(204);
    const series = await read(`series?match[]=${name}`);
    expect(series.text).toBe(`{"status":"success","data":[{"__name__":"${name}","env":"prod","job":"api"},{"__name__":"${name}","job":"db"}]}`);
    expect((await read(`series?match[]=${name}{env=""}`)).body.data).toEqual([{ __name__: name, job: 'db' }]);
    const q = (sel: string) => read(`series?match[]=${encodeURIComponent(sel)}`);
    expect((await q(`{__name__="${name}",job=~"a.+"}`)).body.data).toEqual([{ __name__: name, env: 'prod', job: 'api' }]);
    expect((await q(`{__name__="${name}",job!~"api|db"}`)).body.data).toHaveLength(0);
    expect((await q(`{__name__=~"${name}|nothing",env!="prod"}`)).body.data).toEqual([{ __name__: name, job: 'db' }]);
    expect((await read(`labels?match[]=${name}`)).body.data).toEqual(['__name__', 'env', 'job']);
    expect((await read(`label/job/values?match[]=${name}`)).body.data).toEqual(['api', 'db']);
  });

  it('bad selectors and regexes are 400 bad_data', async () => {
    const r = await read('series?match[]=up{job="a"');
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ status: 'error', errorType: 'bad_data' });
    const re = await read(`series?match[]=${encodeURIComponent('{job=~"(a)\\\\1"}')}`);
    expect(re.status).toBe(400);
    expect(re.body.error).toMatch(/backreference/);
    expect((await read('series')).body.error).toBe('no match[] parameter provided');
    expect((await read('series?match[]={job=~".*"}')).body.error).toMatch(/at least one non-empty matcher/);
  });

  it('buildinfo answers like Prometheus', async () => {
    const r = await read('status/buildinfo');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('success');
    expect(r.body.data.version).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('read API details', () => {
  it('takes form-encoded POST like GET, with start/end', async () => {
    const { SELF } = await import('cloudflare:test');
    const name = `post_form_${Date.now()}`;
    const t = now();
    expect((await write([{ labels: [['__name__', name]], samples: [[t, 1]] }])).status).toBe(204);
    const post = (body: string) =>
      SELF.fetch('http://isobar.test/prometheus/api/v1/series', {
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
      }).then((r) => r.json() as Promise<{ data: unknown[] }>);
    const sel = `match%5B%5D=${encodeURIComponent(name)}`;
    expect((await post(`${sel}&start=${t / 1000 - 60}&end=${t / 1000 + 60}`)).data).toEqual([{ __name__: name }]);
    // Outside the time range: nothing.
    expect((await post(`${sel}&start=${t / 1000 - 7200}&end=${t / 1000 - 3600}`)).data).toEqual([]);
    // RFC 3339 times work too.
    expect((await post(`${sel}&start=${new Date(t - 60_000).toISOString()}`)).data).toEqual([{ __name__: name }]);
    const bad = await read(`series?match[]=${name}&start=yesterday`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/invalid parameter "start"/);
  });

  it("carries PromQL's warnings and infos beside the result, as Prometheus does", async () => {
    const name = `gauge_like_${Date.now()}`;
    const t = now();
    expect((await write([{ labels: [['__name__', name]], samples: [[t - 60_000, 1], [t, 2]] }])).status).toBe(204);
    const q = (expr: string) => read(`query?query=${encodeURIComponent(expr)}&time=${t / 1000}`);
    const rate = await eventually(() => q(`rate(${name}[5m])`), (r) => r.body?.data?.result?.length === 1);
    expect(rate.body.infos).toEqual([`PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "${name}" (1:6)`]);
    expect(rate.body.warnings).toBeUndefined();
    const quantile = await q(`quantile(1.5, ${name})`);
    expect(quantile.body).toMatchObject({ status: 'success', warnings: ['PromQL warning: quantile value should be between 0 and 1, got 1.5 (1:10)'] });
  });

  it('answers metadata and exemplars as Prometheus does when it has none', async () => {
    const key = `Bearer ${await newTenant('empty-side-stores', 1)}`;
    expect((await read('metadata', key)).text).toBe('{"status":"success","data":{}}');
    expect((await read('query_exemplars?query=up', key)).text).toBe('{"status":"success","data":[]}');
  });
});

describe('time window', () => {
  it('refuses samples over 10 minutes in the future, keeping the rest', async () => {
    const name = `future_${Date.now()}`;
    const r = await write([
      { labels: [['__name__', name], ['ok', 'yes']], samples: [[now() + 9 * 60_000, 1]] },
      { labels: [['__name__', name], ['ok', 'no']], samples: [[now() + 11 * 60_000, 1]] },
    ]);
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/more than 600s in the future \(max_future_seconds\); check the sender.s clock; ask the operator to raise it \(isobar limits set demo --max-future-seconds N\).*1 of 2 series rejected.*err-isobar-sample-too-far-in-future/s);
    expect((await eventually(() => read(`series?match[]=${name}`), (x) => x.body?.data?.length === 1)).body.data).toEqual([{ __name__: name, ok: 'yes' }]);
  });

  it('accepts backfill within retention and refuses what is older', async () => {
    const name = `backfill_${Date.now()}`;
    const day = 86_400_000;
    const ok = await write([{ labels: [['__name__', name]], samples: [[now() - 3 * day, 1], [now() - 29 * day, 2]] }]);
    expect(ok.status).toBe(204);
    // Both are stored (the older one arrived out of order): each is found in its own time range.
    for (const ago of [3, 29]) {
      const at = (now() - ago * day) / 1000;
      const r = await eventually(() => read(`series?match[]=${name}&start=${at - 60}&end=${at + 60}`), (x) => x.body?.data?.length === 1);
      expect(r.body.data, `${ago} days ago`).toEqual([{ __name__: name }]);
    }
    const old = await write([{ labels: [['__name__', name], ['x', 'y']], samples: [[now() - 31 * day, 1]] }]);
    expect(old.status).toBe(400);
    expect(await old.text()).toMatch(/older than the retention of 30d.*err-isobar-sample-too-old/s);
  });
});

describe('duplicate samples', () => {
  it('ignores an exact repeat, and refuses a different value at a stored timestamp with a 400 naming the series', async () => {
    const name = `dup_${Date.now()}`;
    const t = now() - 60_000;
    const one = (v: number) => [{ labels: [['__name__', name], ['job', 'x']] as [string, string][], samples: [[t, v]] as [number, number][] }];
    expect((await write(one(1))).status).toBe(204);
    expect((await write(one(1))).status).toBe(204); // a retry: harmless
    const r = await write(one(2));
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(new RegExp(`duplicate sample for timestamp .* with a different value in series \\{"__name__":"${name}","job":"x"\\}.*1 of 1 samples refused.*err-isobar-duplicate-sample`, 's'));
    // Out-of-order (older) timestamps follow the same rule.
    expect((await write([{ labels: [['__name__', name], ['job', 'x']], samples: [[t - 30_000, 5]] }])).status).toBe(204);
    expect((await write([{ labels: [['__name__', name], ['job', 'x']], samples: [[t - 30_000, 6]] }])).status).toBe(400);
  });
});

describe('requests that carry more than samples', () => {
  // Bodies shaped as Prometheus writes them: metadata (WriteRequest field 3)
  // in requests of its own every minute, and exemplars beside samples.
  const body = (...fields: Parameters<typeof encodeMessage>[0]) => snappyEncode(encodeMessage(fields));
  const help = 'Total number of HTTP requests by handler and status code, as a long help text that needs a two-byte length.';

  it("Prometheus's metadata-only request -> 204", async () => {
    const r = await write(body(rw.metadata('http_requests_total', 1, help), rw.metadata('process_start_time_seconds', 2, 'Start time.', 'seconds')));
    expect(r.status, await r.text()).toBe(204);
  });

  it.each([
    ['samples + exemplars + metadata', 'after'],
    ['metadata first', 'first'],
    ['metadata on both sides', 'both'],
  ])('%s -> 204, and the samples are read back', async (_, where) => {
    const name = `mixed_body_${where}_${Date.now()}`;
    const t = now();
    const series = [
      rw.series([rw.label('__name__', name), rw.label('code', '200'), rw.sample(t - 1000, 1), rw.exemplar([['trace_id', 'f00d']], 0.25, t - 1000), rw.sample(t, 2)]),
      rw.series([rw.label('__name__', name), rw.label('code', '500'), rw.exemplar([['trace_id', 'beef']], 3, t), rw.sample(t, 7)]),
    ];
    const md = rw.metadata(name, 1, help);
    const fields = where === 'first' ? [md, ...series] : where === 'both' ? [md, series[0]!, md, series[1]!] : [...series, md];
    const r = await write(body(...fields));
    expect(r.status, await r.text()).toBe(204);
    const q = `query?query=${encodeURIComponent(`sum by (code) (sum_over_time(${name}[1m]))`)}&time=${t / 1000}`;
    const got = await eventually(() => read(q), (x) => x.body?.data?.result?.length === 2);
    expect(got.body.data.result.map((x: { metric: { code: string }; value: [number, string] }) => [x.metric.code, x.value[1]]).sort()).toEqual([
      ['200', '3'],
      ['500', '7'],
    ]);
    // The exemplars and the metadata are kept and served as Prometheus serves them.
    const ex = await read(`query_exemplars?query=${encodeURIComponent(`sum(rate(${name}[5m]))`)}&start=${t / 1000 - 60}&end=${t / 1000}`);
    expect(ex.text).toBe(
      `{"status":"success","data":[` +
        `{"seriesLabels":{"__name__":"${name}","code":"200"},"exemplars":[{"labels":{"trace_id":"f00d"},"value":"0.25","timestamp":${(t - 1000) / 1000}}]},` +
        `{"seriesLabels":{"__name__":"${name}","code":"500"},"exemplars":[{"labels":{"trace_id":"beef"},"value":"3","timestamp":${t / 1000}}]}]}`,
    );
    const meta = await read(`metadata?metric=${name}`);
    expect(meta.body).toEqual({ status: 'success', data: { [name]: [{ type: 'counter', help, unit: '' }] } });
  });

  it('an exemplar over 128 characters of labels -> 400 naming it; the samples and the good exemplars are kept', async () => {
    const name = `bad_exemplar_${Date.now()}`;
    const t = now();
    const r = await write(
      body(
        rw.series([rw.label('__name__', name), rw.sample(t, 5), rw.exemplar([['trace_id', 'x'.repeat(121)]], 1, t)]),
        rw.series([rw.label('__name__', name), rw.label('pod', 'b'), rw.sample(t, 6), rw.exemplar([['trace_id', 'ok']], 2, t)]),
      ),
    );
    const text = await r.text();
    expect(r.status).toBe(400);
    expect(text).toContain('err-isobar-exemplar-labels-too-long');
    expect(text).toContain(`__name__="${name}"`);
    expect(text).toContain('129 UTF-8 characters');
    expect(text).toContain('1 exemplars dropped');
    const got = await eventually(() => read(`query?query=${name}&time=${t / 1000}`), (x) => x.body?.data?.result?.length === 2);
    expect(got.body.data.result.map((x: { value: [number, string] }) => x.value[1]).sort()).toEqual(['5', '6']);
    const ex = await read(`query_exemplars?query=${name}`);
    expect(ex.body.data).toEqual([{ seriesLabels: { __name__: name, pod: 'b' }, exemplars: [{ labels: { trace_id: 'ok' }, value: '2', timestamp: t / 1000 }] }]);
  });

  it('a bad metadata entry -> 400 naming it; the other entries are kept', async () => {
    const name = `bad_metadata_${Date.now()}`;
    const r = await write(body(rw.metadata(name, 42, 'A help.'), rw.metadata(`${name}_ok`, 2, 'Fine.')));
    const text = await r.text();
    expect(r.status).toBe(400);
    expect(text).toContain('err-isobar-invalid-metadata');
    expect(text).toContain(`metadata for "${name}" has the unknown metric type 42`);
    const md = await eventually(() => read(`metadata?metric=${name}_ok`), (x) => Object.keys(x.body?.data ?? {}).length === 1);
    expect(md.body.data).toEqual({ [`${name}_ok`]: [{ type: 'gauge', help: 'Fine.', unit: '' }] });
    expect((await read(`metadata?metric=${name}`)).body.data).toEqual({});
  });

  it('keeps only the tenant\u2019s max_exemplars, the newest, over all its shards', async () => {
    const key = `Bearer ${await newTenant('few-exemplars', 2, { maxExemplars: 4 })}`;
    const t = now();
    for (let i = 0; i < 10; i++) {
      const r = await write(body(rw.series([rw.label('__name__', 'traced'), rw.label('i', String(i)), rw.sample(t, i), rw.exemplar([['trace_id', `t${i}`]], i, t - 10_000 + i)])), {}, key);
      expect(r.status, await r.text()).toBe(204);
    }
    const ex = await read('query_exemplars?query=traced', key);
    const kept = ex.body.data.flatMap((x: { exemplars: Array<{ labels: { trace_id: string } }> }) => x.exemplars.map((e) => e.labels.trace_id));
    // Two shards, a share of 2 each: each keeps its own newest two.
    expect(kept.length).toBe(4);
    expect(kept.every((id: string) => Number(id.slice(1)) >= 2)).toBe(true);
  });

  it('a tenant with several shards has each family\u2019s metadata once, and sees none of another tenant\u2019s', async () => {
    const key = `Bearer ${await newTenant('side-stores-sharded', 4)}`;
    const t = now();
    const families = Array.from({ length: 12 }, (_, i) => `family_${i}`);
    const r = await write(
      body(...families.map((f) => rw.metadata(f, 2, `Help of ${f}.`, 'bytes')), ...families.map((f) => rw.series([rw.label('__name__', f), rw.sample(t, 1), rw.exemplar([['trace_id', f]], 1, t)]))),
      {},
      key,
    );
    expect(r.status, await r.text()).toBe(204);
    const md = await read('metadata', key);
    expect(Object.keys(md.body.data)).toEqual([...families].sort());
    expect(md.body.data.family_3).toEqual([{ type: 'gauge', help: 'Help of family_3.', unit: 'bytes' }]);
    expect(Object.keys((await read('metadata?limit=5', key)).body.data)).toHaveLength(5);
    const ex = await read(`query_exemplars?query=${encodeURIComponent('{__name__=~"family_.*"}')}`, key);
    expect(ex.body.data.map((x: { exemplars: Array<{ labels: { trace_id: string } }> }) => x.exemplars[0]!.labels.trace_id)).toEqual([...families].sort());
    // The demo tenant sees none of it.
    expect((await read('metadata?metric=family_3')).body.data).toEqual({});
    expect((await read(`query_exemplars?query=${encodeURIComponent('{__name__=~"family_.*"}')}`)).body.data).toEqual([]);
  });
});
