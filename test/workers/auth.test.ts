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

  it('admin API needs the operator token', async () => {
    const noToken = await SELF.fetch('http://isobar.test/admin/v1/tenants/demo');
    expect(noToken.status).toBe(401);
    const wrong = await SELF.fetch('http://isobar.test/admin/v1/tenants/demo', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect((await admin('GET', '/tenants/demo')).status).toBe(200);
  });
});
