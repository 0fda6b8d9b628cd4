/**
 * The stack exactly as `npm start` runs it, with real Prometheus (Debian's
 * package) scraping itself and remote-writing into it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, eventually, startPrometheus, stopChild, testSettings, type StackSettings } from '../support/stack.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('real Prometheus writing through npm start', () => {
  let s: StackSettings;
  let stack: ChildProcess;
  let prom: { child: ChildProcess; url: string } | undefined;
  let client: Client;
  let output = '';

  beforeAll(async () => {
    s = await testSettings();
    stack = spawn(process.execPath, [resolve(ROOT, 'scripts/start.mjs')], { cwd: ROOT, env: { ...process.env, ...s }, stdio: ['ignore', 'pipe', 'pipe'] });
    stack.stdout!.on('data', (d) => (output += d));
    stack.stderr!.on('data', (d) => (output += d));
    await eventually(async () => output, (o) => o.includes('Isobar is up') || stack.exitCode !== null, 150_000);
    if (!output.includes('Isobar is up')) throw new Error(`npm start failed:\n${output}`);
    client = new Client(s);
  });

  afterAll(async () => {
    await stopChild(prom?.child);
    await stopChild(stack, 'SIGINT');
  });

  it('prints the remote_write URL, the Grafana datasource URL and the demo key', () => {
    expect(output).toContain(`remote_write URL        http://127.0.0.1:${s.ISOBAR_PORT}/api/v1/write`);
    expect(output).toContain(`Grafana datasource URL  http://127.0.0.1:${s.ISOBAR_PORT}/prometheus`);
    expect(output).toContain(s.ISOBAR_DEMO_KEY);
  });

  it('is ready and healthy', async () => {
    expect((await fetch(`${client.base}/-/ready`)).status).toBe(200);
    expect((await fetch(`${client.base}/-/healthy`)).status).toBe(200);
  });

  it('stores what Prometheus sends, visible to the demo tenant only', async () => {
    prom = await startPrometheus(`${client.base}/api/v1/write`, 'demo', s.ISOBAR_DEMO_KEY);
    const got = await eventually(
      () => client.read('series?match[]=prometheus_build_info'),
      (r) => r.status === 'success' && r.data.length > 0,
      90_000,
    );
    expect(got.data[0]).toMatchObject({ __name__: 'prometheus_build_info', job: 'prometheus', instance: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });

    // Prometheus's own series list equals ours for its metric names (a sample of them).
    const names = await eventually(
      () => client.read('label/__name__/values'),
      (r) => r.data.includes('prometheus_tsdb_head_series') && r.data.includes('up'),
      60_000,
    );
    expect(names.data).toEqual([...names.data].sort());
    const promNames = (await (await fetch(`${prom.url}/api/v1/label/__name__/values`)).json()) as { data: string[] };
    const common = promNames.data.filter((n) => names.data.includes(n));
    expect(common.length / promNames.data.length).toBeGreaterThan(0.9);

    // Its metadata requests (WriteRequest.metadata only) are accepted: sent, none failed or retried.
    const counter = (text: string, name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const promMetrics = await eventually(
      async () => (await fetch(`${prom!.url}/metrics`)).text(),
      (m) => counter(m, 'prometheus_remote_storage_metadata_total') > 0,
      30_000,
    );
    expect(counter(promMetrics, 'prometheus_remote_storage_metadata_bytes_total')).toBeGreaterThan(0);
    expect(counter(promMetrics, 'prometheus_remote_storage_metadata_failed_total')).toBe(0);
    expect(counter(promMetrics, 'prometheus_remote_storage_metadata_retried_total')).toBe(0);
    expect(counter(promMetrics, 'prometheus_remote_storage_samples_failed_total')).toBe(0);

    const up = await client.read('series?match[]=up');
    expect(up.data).toEqual([{ __name__: 'up', instance: up.data[0].instance, job: 'prometheus' }]);

    // Another tenant sees none of it, even with a selector that matches everything.
    const otherKey = await client.tenantWithKey('other');
    for (const path of ['series?match[]=prometheus_build_info', `series?match[]=${encodeURIComponent('{__name__=~".+"}')}`, 'labels', 'label/__name__/values', 'label/job/values']) {
      const r = await client.read(path, otherKey);
      expect(r, path).toEqual({ status: 'success', data: [] });
    }
  });
});
