/**
 * Deleting a tenant: its keys and writes are refused at once (also at edges
 * that still cache a key: the coordinators refuse its generation), its data
 * is removed from the coordinators and the storage node, and the id can be
 * used again afterwards for a new, empty tenant.
 */
import { describe, expect, it } from 'vitest';
import { admin, newTenant, now, read, write } from './helpers.js';

describe('tenant deletion', () => {
  it('refuses the tenant at once, removes its data, and frees the id', async () => {
    const key = await newTenant('del-me', 2);
    const auth = `Bearer ${key}`;
    const series = (name: string) => [{ labels: [['__name__', name], ['i', '1']] as [string, string][], samples: [[now(), 1]] as [number, number][] }];
    expect((await write(series('before_delete'), {}, auth)).status).toBe(204);
    expect((await read('series?match[]=before_delete', auth)).body.data).toHaveLength(1);

    const del = await admin('DELETE', '/tenants/del-me');
    expect(del.status).toBe(202);
    expect(await del.json()).toEqual({ deleted: 'del-me', dataRemoved: true, pending: [] });

    // The key is probably still cached by this edge: the coordinators refuse the deleted generation anyway.
    const after = await write(series('after_delete'), {}, auth);
    expect(after.status).toBe(401);
    expect(await after.text()).toMatch(/invalid API key.*err-isobar-invalid-credentials/);
    expect((await admin('GET', '/tenants/del-me')).status).toBe(404);
    expect((await admin('DELETE', '/tenants/del-me')).status).toBe(404);
    expect((await (await admin('GET', '/tenants')).json() as any).tenants.map((t: any) => t.id)).not.toContain('del-me');

    // The same id again: a new tenant, with none of the old data, taking writes.
    const key2 = await newTenant('del-me', 2);
    expect((await read('series?match[]=before_delete', `Bearer ${key2}`)).body.data).toHaveLength(0);
    expect((await write(series('reborn'), {}, `Bearer ${key2}`)).status).toBe(204);
    const everything = encodeURIComponent('{__name__=~".+"}');
    expect((await read(`series?match[]=${everything}`, `Bearer ${key2}`)).body.data.map((s: any) => s.__name__)).toEqual(['reborn']);
    expect((await write(series('stale_key'), {}, auth)).status).toBe(401);
  });
});

describe('tenant usage', () => {
  it('counts samples accepted and refused by reason, active series, bytes, queries and samples read', async () => {
    const auth = `Bearer ${await newTenant('usage-t', 2, { maxLabelValueLength: 10, ingestionRate: 1, ingestionBurst: 100 })}`;
    const t = now();
    const good = Array.from({ length: 8 }, (_, i) => ({ labels: [['__name__', 'used'], ['i', String(i)]] as [string, string][], samples: [[t - 2000, 1], [t - 1000, 2], [t, 3]] as [number, number][] }));
    const tooLong = { labels: [['__name__', 'used'], ['v', 'x'.repeat(11)]] as [string, string][], samples: [[t, 1], [t - 1, 2]] as [number, number][] };
    expect((await write([...good, tooLong], {}, auth)).status).toBe(400); // 24 accepted, 2 refused
    expect((await write([tooLong], {}, auth)).status).toBe(400); // only refused: 2 more
    const flood = Array.from({ length: 40 }, (_, i) => ({ labels: [['__name__', 'flood'], ['i', String(i)]] as [string, string][], samples: [[t, 1], [t - 1000, 1], [t - 2000, 1]] as [number, number][] }));
    expect((await write(flood, {}, auth)).status).toBe(429); // some shard's share (50) is used up
    expect((await read(`query?query=${encodeURIComponent('sum(used)')}&time=${t / 1000}`, auth)).body.data.result[0].value[1]).toBe('24');

    const r = await admin('GET', '/tenants/usage-t/usage');
    expect(r.status).toBe(200);
    const u = (await r.json()) as any;
    expect(u.tenant).toBe('usage-t');
    expect(u.lastHour.samplesRejected['err-isobar-label-value-too-long']).toBe(4);
    const limited = u.lastHour.samplesRejected['err-isobar-ingestion-rate-limited'];
    expect(limited).toBeGreaterThan(0);
    // Everything sent is either accepted or refused, and nothing twice.
    expect(u.lastHour.samplesAccepted + limited).toBe(24 + 120);
    expect(u.activeSeries).toBe(8 + 40 - limited / 3);
    expect(u.bytesStored).toBeGreaterThan(0);
    expect(u.lastHour.queries).toBe(1);
    expect(u.lastHour.samplesRead).toBe(24); // the selector loads each series' 5-minute lookback: 3 samples
    expect(u.lastDay.samplesAccepted).toBe(u.lastHour.samplesAccepted);
    expect((await admin('GET', '/tenants/nobody/usage')).status).toBe(404);
  });
});
