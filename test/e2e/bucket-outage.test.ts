/**
 * The bucket goes down (a real S3-compatible server, s3rver, stopped): writes
 * go on being acknowledged from the coordinators' logs; when it is back, the
 * blocks upload and the logs truncate. Down again, a log that reaches its
 * bound (the tenant's commit_log_max_bytes) turns writes into 429 with
 * Retry-After, and nothing acknowledged is lost. Last, the node loses its
 * disk and rebuilds from the S3 bucket.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script
import { startEdge, startNode, stop } from '../../scripts/stack.mjs';
import { freePort } from '../support/node-process.js';
import { Client, eventually, testSettings, type StackSettings } from '../support/stack.js';
import type { ChildProcess } from 'node:child_process';

const BUCKET = 'isobar-outage';

describe('bucket outage', () => {
  const s3dir = mkdtempSync(join(tmpdir(), 'isobar-s3rver-'));
  let s3port = 0;
  let s3: S3rver | undefined;
  let s: StackSettings;
  let node: ChildProcess;
  let edge: ChildProcess;
  let client: Client;
  const startS3 = async () => {
    s3 = new S3rver({ port: s3port, address: '127.0.0.1', directory: s3dir, silent: true, configureBuckets: [{ name: BUCKET, configs: [] }] });
    await s3.run();
  };
  const s3env = () => ({
    ISOBAR_S3_ENDPOINT: `http://127.0.0.1:${s3port}`,
    ISOBAR_S3_BUCKET: BUCKET,
    ISOBAR_S3_ACCESS_KEY_ID: 'S3RVER',
    ISOBAR_S3_SECRET_ACCESS_KEY: 'S3RVER',
    ISOBAR_S3_PATH_STYLE: 'true',
  });
  const stopS3 = async () => {
    await s3?.close();
    s3 = undefined;
  };

  beforeAll(async () => {
    s3port = await freePort();
    await startS3();
    s = await testSettings();
    node = await startNode(s, { env: s3env() });
    edge = await startEdge(s);
    client = new Client(s);
  });
  afterAll(async () => {
    await stop(edge);
    await stop(node);
    await stopS3();
  });

  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${client.base}/admin/v1${path}`, { ...init, headers: { authorization: `Bearer ${s.ISOBAR_ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers } });
  const logState = async () => (await (await admin('/tenants/outage/shards/0/log')).json()) as { rows: number; bytes: number; applied: number; durable: number };

  it('acknowledges writes while the bucket is down, uploads and truncates when it is back, refuses with 429 at the log bound', async () => {
    const key = await client.tenantWithKey('outage', 1);
    expect((await admin('/tenants/outage/limits', { method: 'PATCH', body: JSON.stringify({ commitLogMaxBytes: 65_536 }) })).status).toBe(200);
    const t0 = Date.now() - 20 * 60_000;
    let sent = 0;
    let r = 0;
    const write = async () => {
      const series = Array.from({ length: 100 }, (_, i) => ({ labels: [['__name__', 'outage_m'], ['i', String(i)]] as [string, string][], samples: [[t0 + r * 1000, Math.random()]] as [number, number][] }));
      r++;
      const res = await client.write(series, key);
      if (res.status === 204) sent += 100;
      return res;
    };

    await stopS3();
    for (let i = 0; i < 5; i++) expect((await write()).status).toBe(204);
    const flush = await admin('/flush?tenant=outage', { method: 'POST' });
    const upload = ((await flush.json()) as { nodes: Array<{ upload: { uploaded: number; pending: number; error?: string } }> }).nodes[0]!.upload;
    expect(upload.uploaded).toBe(0);
    expect(upload.pending).toBeGreaterThan(0);
    expect(upload.error).toBeTruthy();
    const held = await logState();
    expect(held.rows).toBeGreaterThan(0); // nothing is in the bucket, so nothing may be dropped
    expect(held.durable).toBe(0);

    await startS3();
    const drained = await eventually(logState, (st) => st.rows === 0 && st.durable === st.applied, 100_000);
    expect(drained.bytes).toBe(0);
    const probe = new S3BucketProbe(`http://127.0.0.1:${s3port}`);
    expect((await probe.keys()).some((k) => k.startsWith('outage/') && k.endsWith('/meta.json'))).toBe(true);

    // Down again: the log grows to its bound, then writes are refused (not lost).
    await stopS3();
    await admin('/flush?tenant=outage', { method: 'POST' });
    let refused: Response | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const res = await write();
      if (res.status === 429) refused = res;
      else expect(res.status).toBe(204);
    }
    expect(refused, 'the log never reached its bound').toBeDefined();
    expect(refused!.headers.get('retry-after')).toBe('30');
    const text = await refused!.text();
    expect(text).toContain('err-isobar-storage-backlogged');
    expect(text).toContain('commit_log_max_bytes');
    expect((await logState()).bytes).toBeGreaterThanOrEqual(65_536);

    // Back: everything acknowledged is there, and writes are taken again.
    await startS3();
    await admin('/flush?tenant=outage', { method: 'POST' });
    await eventually(logState, (st) => st.rows === 0, 100_000);
    expect((await write()).status).toBe(204);
    const q = encodeURIComponent('sum(count_over_time(outage_m[1h]))');
    const count = await eventually(
      async () => Number((await client.read(`query?query=${q}&time=${(t0 + 30 * 60_000) / 1000}`, key)).data?.result?.[0]?.value?.[1] ?? 0),
      (n) => n === sent,
      60_000,
    );
    expect(count).toBe(sent);

    // And the node's disk lost: it rebuilds from the S3 bucket.
    await admin('/flush?tenant=outage', { method: 'POST' });
    await stop(node, 'SIGKILL');
    rmSync(join(s.ISOBAR_DATA_DIR, 'node'), { recursive: true, force: true });
    node = await startNode(s, { env: s3env() });
    const rebuilt = await eventually(
      async () => Number((await client.read(`query?query=${q}&time=${(t0 + 30 * 60_000) / 1000}`, key)).data?.result?.[0]?.value?.[1] ?? 0),
      (n) => n === sent,
      60_000,
    );
    expect(rebuilt).toBe(sent);
    expect(readFileSync(join(s.ISOBAR_DATA_DIR, 'logs', 'storage-node.log'), 'utf8')).toMatch(/"msg":"tenant rebuilt from the bucket","tenant":"outage","blocks":[1-9]/);
  });
});

/** Lists the s3rver bucket's keys (to see what was uploaded). */
class S3BucketProbe {
  constructor(private readonly endpoint: string) {}
  async keys(): Promise<string[]> {
    const { S3Bucket } = await import('../../storage-node/src/bucket/s3-bucket.js');
    const b = new S3Bucket({ endpoint: this.endpoint, bucket: BUCKET, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', pathStyle: true });
    return (await b.list('outage/')).map((o) => o.key);
  }
}
