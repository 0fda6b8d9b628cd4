import { SELF, env } from 'cloudflare:test';
import { encodeWriteRequest, type SeriesInput } from '../../wire/remote-write.js';
import { snappyEncode } from '../../wire/snappy.js';
import { eventually } from '../support/eventually.js';

export { eventually };

export const ADMIN = 'test-admin-token';
export const DEMO_KEY = 'isb_demo_test-demo-key-0123456789';
const BASE = 'http://isobar.test';

export function write(series: SeriesInput[] | Uint8Array, headers: Record<string, string> = {}, auth = `Bearer ${DEMO_KEY}`): Promise<Response> {
  const body = series instanceof Uint8Array ? series : snappyEncode(encodeWriteRequest(series));
  return SELF.fetch(`${BASE}/api/v1/write`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', authorization: auth, ...headers },
  });
}

export async function read(path: string, auth = `Bearer ${DEMO_KEY}`): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const r = await SELF.fetch(`${BASE}/prometheus/api/v1/${path}`, { headers: { authorization: auth } });
  const text = await r.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: r.status, body, text, headers: r.headers };
}

export async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return SELF.fetch(`${BASE}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** A tenant with a write+read key, for tests that need their own. */
export async function newTenant(id: string, shards = 2, limits: Record<string, number> = {}): Promise<string> {
  const t = await admin('POST', '/tenants', { id, shards, limits });
  if (t.status !== 201 && t.status !== 409) throw new Error(`create tenant: ${t.status} ${await t.text()}`);
  const k = await admin('POST', `/tenants/${id}/keys`, { scopes: ['write', 'read'] });
  if (k.status !== 201) throw new Error(`create key: ${k.status} ${await k.text()}`);
  return ((await k.json()) as { key: string }).key;
}

export async function nodeControl(action: 'stop' | 'start'): Promise<void> {
  const r = await fetch(`${env.CONTROL_URL}/${action}`, { method: 'POST' });
  if (!r.ok) throw new Error(`node ${action}: ${r.status} ${await r.text()}`);
}

export const now = () => Math.floor(Date.now() / 1000) * 1000;

