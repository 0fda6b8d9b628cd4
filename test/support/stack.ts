/** The local stack for end-to-end tests, started by the same code as `npm start`. */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
// @ts-expect-error plain ESM script
import { startEdge, startNode, stop } from '../../scripts/stack.mjs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWriteRequest, type SeriesInput } from '../../wire/remote-write.js';
import { snappyEncode } from '../../wire/snappy.js';
import { eventually } from './eventually.js';
import { freePort } from './node-process.js';

export { eventually };

export interface StackSettings {
  ISOBAR_PORT: string;
  ISOBAR_NODE_PORT: string;
  ISOBAR_DATA_DIR: string;
  ISOBAR_DEMO_KEY: string;
  ISOBAR_ADMIN_TOKEN: string;
  ISOBAR_NODE_SECRET: string;
}

export async function testSettings(): Promise<StackSettings> {
  return {
    ISOBAR_PORT: String(await freePort()),
    ISOBAR_NODE_PORT: String(await freePort()),
    ISOBAR_DATA_DIR: mkdtempSync(join(tmpdir(), 'isobar-e2e-')),
    ISOBAR_DEMO_KEY: 'isb_demo_e2e-demo-key-0123456789',
    ISOBAR_ADMIN_TOKEN: 'e2e-admin-token-0123456789',
    ISOBAR_NODE_SECRET: 'e2e-node-secret-0123456789',
  };
}

export class Client {
  constructor(readonly s: StackSettings) {}
  get base(): string {
    return `http://127.0.0.1:${this.s.ISOBAR_PORT}`;
  }
  async write(series: SeriesInput[], key = this.s.ISOBAR_DEMO_KEY): Promise<Response> {
    return fetch(`${this.base}/api/v1/write`, {
      method: 'POST',
      body: Buffer.from(snappyEncode(encodeWriteRequest(series))),
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', authorization: `Bearer ${key}` },
    });
  }
  async read(path: string, key = this.s.ISOBAR_DEMO_KEY): Promise<any> {
    const r = await fetch(`${this.base}/prometheus/api/v1/${path}`, { headers: { authorization: `Bearer ${key}` } });
    return r.json();
  }
  async tenantWithKey(id: string, shards = 1): Promise<string> {
    const h = { authorization: `Bearer ${this.s.ISOBAR_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const t = await fetch(`${this.base}/admin/v1/tenants`, { method: 'POST', headers: h, body: JSON.stringify({ id, shards }) });
    if (t.status !== 201) throw new Error(`tenant: ${t.status} ${await t.text()}`);
    const k = await fetch(`${this.base}/admin/v1/tenants/${id}/keys`, { method: 'POST', headers: h, body: JSON.stringify({ scopes: ['write', 'read'] }) });
    return ((await k.json()) as { key: string }).key;
  }
}


/** How to run Prometheus: which binary, what it scrapes, what else its remote_write says. */
export interface PrometheusOptions {
  /** Default: Debian's `prometheus` on the PATH. */
  binary?: string;
  /** Extra command-line flags (`--enable-feature=...`). */
  flags?: string[];
  /** `host:port` to scrape instead of itself (job `target`). */
  target?: string;
  /** Extra lines under the remote_write entry, indented as its keys (`'    send_exemplars: true'`). */
  writeLines?: string[];
  /** Extra scrape jobs, as lines under scrape_configs (`'  - job_name: x'`, ...); `$SELF` is Prometheus's own address. */
  scrapeLines?: string[];
}

/** A Prometheus scraping itself (or `opts.target`) and remote-writing to `writeUrl` with Basic auth. */
export async function startPrometheus(writeUrl: string, user: string, password: string, opts: PrometheusOptions = {}): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'isobar-prom-'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      `  - job_name: ${opts.target ? 'target' : 'prometheus'}`,
      '    static_configs:',
      `      - targets: ['${opts.target ?? `127.0.0.1:${port}`}']`,
      ...(opts.scrapeLines ?? []).map((l) => l.replace('$SELF', `127.0.0.1:${port}`)),
      'remote_write:',
      `  - url: ${writeUrl}`,
      '    basic_auth:',
      `      username: ${user}`,
      `      password: ${password}`,
      // Metadata in requests of its own, every second instead of every minute.
      '    metadata_config:',
      '      send_interval: 1s',
      '    queue_config:',
      '      batch_send_deadline: 1s',
      '      min_backoff: 100ms',
      '      max_backoff: 1s',
      ...(opts.writeLines ?? []),
      '',
    ].join('\n'),
  );
  const args = [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, ...(opts.flags ?? [])];
  const child = spawn(opts.binary ?? 'prometheus', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok ?? false,
    (ok) => ok || child.exitCode !== null,
    30_000,
  );
  if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
  return { child, url };
}

export function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill(signal);
  });
}

/**
 * A stack (storage node + edge) started before the file's tests and stopped
 * after, by the same functions as `npm start`. Tests may stop and restart
 * `node` (assign the new process back).
 */
export function useStack(): { s: StackSettings; node: ChildProcess; edge: ChildProcess; client: Client } {
  const h = {} as { s: StackSettings; node: ChildProcess; edge: ChildProcess; client: Client };
  beforeAll(async () => {
    h.s = await testSettings();
    h.node = await startNode(h.s);
    h.edge = await startEdge(h.s);
    h.client = new Client(h.s);
  });
  afterAll(async () => {
    await stop(h.edge);
    await stop(h.node);
  });
  return h;
}
