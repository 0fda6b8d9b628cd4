import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { admin, DEMO_KEY, newTenant, now, read, write } from './helpers.js';

const one = () => [{ labels: [['__name__', 'auth_probe']] as [string, string][], samples: [[now(), 1]] as [number, number][] }];

describe('authentication', () => {
  it('missing key -> 401', async () => {
    const r = await write(one(), {}, '');
    expect(r.status).toBe(401);
    expect(await r.text()).toMatch(/missing Authorization header.*err-isobar-missing-credentials/s);
  });

  it('wrong key -> 401', async () => {
    const r = await write(one(), {}, 'Bearer isb_demo_not-the-right-secret-000');
    expect(r.status).toBe(401);
    expect(await r.text()).toMatch(/invalid API key/);
    expect((await write(one(), {}, 'Bearer garbage')).status).toBe(401);
  });

  it('wrong scheme -> 401', async () => {
    const r = await write(one(), {}, `Digest ${DEMO_KEY}`);
    expect(r.status).toBe(401);
    expect(await r.text()).toMatch(/unsupported Authorization scheme/);
  });

  it('Basic auth needs the key\u2019s own tenant as user', async () => {
    expect((await write(one(), {}, `Basic ${btoa(`demo:${DEMO_KEY}`)}`)).status).toBe(204);
    const other = await write(one(), {}, `Basic ${btoa(`someone-else:${DEMO_KEY}`)}`);
    expect(other.status).toBe(401);
    expect((await write(one(), {}, 'Basic !!!notbase64')).status).toBe(401);
    expect((await write(one(), {}, `Basic ${btoa('no-colon')}`)).status).toBe(401);
  });

  it('read API needs credentials and answers in Prometheus JSON', async () => {
    const r = await read('labels', '');
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ status: 'error' });
    expect((await read('labels')).status).toBe(200);
  });

  it('scopes: a read-only key cannot write', async () => {
    await newTenant('scoped');
    const k = await admin('POST', '/tenants/scoped/keys', { scopes: ['read'] });
    const { key } = (await k.json()) as { key: string };
    const r = await write(one(), {}, `Bearer ${key}`);
    expect(r.status).toBe(403);
    expect(await r.text()).toMatch(/lacks the "write" scope/);
  });

  it('scopes: a write-only key cannot read; Grafana\u2019s Basic auth with a read key can', async () => {
    await newTenant('scoped-rw');
    const mk = async (scopes: string[]) => ((await (await admin('POST', '/tenants/scoped-rw/keys', { scopes })).json()) as { key: string }).key;
    const writer = await mk(['write']);
    const reader = await mk(['read']);
    expect((await write(one(), {}, `Bearer ${writer}`)).status).toBe(204);
    const refused = await read('labels', `Bearer ${writer}`);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ status: 'error', errorType: 'forbidden', error: expect.stringMatching(/lacks the "read" scope/) });
    const grafana = await read('labels', `Basic ${btoa(`scoped-rw:${reader}`)}`);
    expect(grafana.status).toBe(200);
    expect(grafana.body.data).toContain('__name__');
  });

  it('admin API needs the operator token', async () => {
    const noToken = await SELF.fetch('http://isobar.test/admin/v1/tenants/demo');
    expect(noToken.status).toBe(401);
    const wrong = await SELF.fetch('http://isobar.test/admin/v1/tenants/demo', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect((await admin('GET', '/tenants/demo')).status).toBe(200);
  });
});

describe('key lifecycle', () => {
  it('lists keys without secrets, and a revoked key stops working within the cache time', async () => {
    await newTenant('lifecycle');
    const created = await admin('POST', '/tenants/lifecycle/keys', { scopes: ['write'], name: 'ci' });
    const { id, key } = (await created.json()) as { id: string; key: string };
    expect((await write(one(), {}, `Bearer ${key}`)).status).toBe(204);

    const listed = await admin('GET', '/tenants/lifecycle/keys');
    const text = await listed.text();
    expect(text).not.toContain(key.split('_').at(-1)!); // the secret never comes back
    const { keys } = JSON.parse(text) as { keys: Array<{ id: string; name: string; scopes: string[]; revoked: boolean }> };
    expect(keys.find((k) => k.id === id)).toMatchObject({ name: 'ci', scopes: ['write'], revoked: false });

    expect((await admin('DELETE', `/tenants/lifecycle/keys/${id}`)).status).toBe(204);
    expect((await admin('DELETE', '/tenants/lifecycle/keys/nope0000')).status).toBe(404);
    await new Promise((r) => setTimeout(r, 1100)); // the edge's key cache (1 s in these tests)
    const r = await write(one(), {}, `Bearer ${key}`);
    expect(r.status).toBe(401);
    expect(((await (await admin('GET', '/tenants/lifecycle/keys')).json()) as { keys: Array<{ id: string; revoked: boolean }> }).keys.find((k) => k.id === id)!.revoked).toBe(true);
  });

  it('refuses an expired key', async () => {
    await newTenant('expiring');
    const created = await admin('POST', '/tenants/expiring/keys', { scopes: ['write'], expiresAt: new Date(Date.now() - 1000).toISOString() });
    const { key } = (await created.json()) as { key: string };
    expect((await write(one(), {}, `Bearer ${key}`)).status).toBe(401);
  });

  it('lists tenants', async () => {
    const { tenants } = (await (await admin('GET', '/tenants')).json()) as { tenants: Array<{ id: string }> };
    expect(tenants.map((t) => t.id)).toEqual(expect.arrayContaining(['demo', 'lifecycle']));
  });
});

describe('key guessing', () => {
  it('slows down: after 30 invalid keys from one address, 429 with Retry-After; a verified key still works', async () => {
    const from = (key: string, ip: string) =>
      SELF.fetch('http://isobar.test/prometheus/api/v1/labels', { headers: { authorization: `Bearer ${key}`, 'cf-connecting-ip': ip } });
    expect((await from(DEMO_KEY, '192.0.2.7')).status).toBe(200); // verified, and cached
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) statuses.push((await from(`isb_guess${i}_abcdefghijklmnopqrstuvwxyz`, '192.0.2.7')).status);
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    const limited = await from('isb_guess99_abcdefghijklmnopqrstuvwxyz', '192.0.2.7');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.text()).toMatch(/too many requests with invalid API keys.*err-isobar-too-many-failed-logins/);
    expect((await from(DEMO_KEY, '192.0.2.7')).status).toBe(200);
    expect((await from('isb_guess98_abcdefghijklmnopqrstuvwxyz', '198.51.100.1')).status).toBe(401); // other addresses unaffected
  });
});
