/**
 * delete_series: an admin-scoped tenant key deletes samples by selector and
 * time range; every read path leaves them out at once.
 */
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { admin, newTenant, now, read, write } from './helpers.js';

describe('delete_series', () => {
  it('needs the admin scope, deletes by selector and range, and reads leave the samples out at once', async () => {
    const rw = `Bearer ${await newTenant('del-series', 2)}`;
    const adminKey = `Bearer ${((await (await admin('POST', '/tenants/del-series/keys', { scopes: ['admin', 'read'] })).json()) as { key: string }).key}`;
    const t = now();
    const series = ['1', '2', '3'].map((i) => ({ labels: [['__name__', 'del_m'], ['i', i]] as [string, string][], samples: [180, 120, 60, 0].map((ago) => [t - ago * 1000, Number(i)]) as [number, number][] }));
    expect((await write(series, {}, rw)).status).toBe(204);
    const del = (query: string, auth: string) =>
      SELF.fetch(`http://isobar.test/prometheus/api/v1/admin/tsdb/delete_series?${query}`, { method: 'POST', headers: { authorization: auth } });

    const refused = await del(`match[]=del_m`, rw);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toMatch(/lacks the "admin" scope/);

    expect((await del(`match[]=${encodeURIComponent('del_m{i="2"}')}`, adminKey)).status).toBe(204);
    expect((await read('series?match[]=del_m', rw)).body.data.map((s: any) => s.i)).toEqual(['1', '3']);
    expect((await read('label/i/values', rw)).body.data).toEqual(['1', '3']);
    expect((await read(`query?query=${encodeURIComponent('count(del_m)')}&time=${t / 1000}`, rw)).body.data.result[0].value[1]).toBe('2');

    // A range: the samples at -120 s and -60 s of series 1 go, those at -180 s and 0 stay.
    expect((await del(`match[]=${encodeURIComponent('del_m{i="1"}')}&start=${(t - 130_000) / 1000}&end=${(t - 50_000) / 1000}`, adminKey)).status).toBe(204);
    const left = await read(`query?query=${encodeURIComponent('count_over_time(del_m[5m])')}&time=${t / 1000}`, rw);
    expect(left.body.data.result.map((r: any) => [r.metric.i, r.value[1]])).toEqual([['1', '2'], ['3', '4']]);

    const bad = await del('match[]=%7B', adminKey);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ status: 'error', errorType: 'bad_data' });
    expect((await del('', adminKey)).status).toBe(400);
  });
});
