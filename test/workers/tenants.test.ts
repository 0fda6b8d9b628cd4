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
