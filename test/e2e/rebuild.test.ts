/**
 * A storage node that loses its disk rebuilds from the bucket: write through
 * the stack, flush (blocks upload), stop the node, delete its disk, write
 * more while it is down, start it. Every acknowledged sample is answered by
 * PromQL, counted against what was sent. The stack runs on its defaults, so
 * the bucket is the embedded filesystem one (`ISOBAR_DATA_DIR/bucket`).
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script
import { startNode, stop } from '../../scripts/stack.mjs';
import { eventually, useStack } from '../support/stack.js';

describe('node rebuild from the bucket', () => {
  const st = useStack();

  it('answers every acknowledged sample after its disk is deleted', async () => {
    const key = await st.client.tenantWithKey('rebuild', 4);
    const t0 = Date.now() - 30 * 60_000;
    let sent = 0;
    const round = async (name: string, r: number) => {
      const series = Array.from({ length: 60 }, (_, i) => ({ labels: [['__name__', name], ['i', String(i)]] as [string, string][], samples: [[t0 + r * 10_000, r * 100 + i]] as [number, number][] }));
      const res = await st.client.write(series, key);
      expect(res.status).toBe(204);
      sent += 60;
    };
    for (let r = 0; r < 30; r++) await round('rb_before', r);

    const flush = await fetch(`${st.client.base}/admin/v1/flush?tenant=rebuild`, { method: 'POST', headers: { authorization: `Bearer ${st.s.ISOBAR_ADMIN_TOKEN}` } });
    expect(flush.status).toBe(200);
    const flushed = (await flush.json()) as { nodes: Array<{ upload: { uploaded: number; pending: number } }> };
    expect(flushed.nodes[0]!.upload.uploaded).toBeGreaterThan(0);
    expect(flushed.nodes[0]!.upload.pending).toBe(0);
    const bucketDir = join(st.s.ISOBAR_DATA_DIR, 'bucket', 'rebuild');
    expect(readdirSync(bucketDir).length).toBeGreaterThan(0);
    for (let r = 30; r < 40; r++) await round('rb_before', r); // in the head and the WAL only: lost with the disk

    await stop(st.node, 'SIGKILL');
    rmSync(join(st.s.ISOBAR_DATA_DIR, 'node'), { recursive: true, force: true });
    for (let r = 40; r < 50; r++) await round('rb_while_down', r); // acknowledged from the commit logs alone

    st.node = await startNode(st.s);
    expect(existsSync(join(st.s.ISOBAR_DATA_DIR, 'node', 'remote', 'rebuild'))).toBe(true);
    // One name per count_over_time: across names the label sets repeat once __name__ is dropped, which PromQL refuses.
    const q = encodeURIComponent('sum(count_over_time(rb_before[1h])) + sum(count_over_time(rb_while_down[1h]))');
    const count = await eventually(
      async () => {
        const r = await st.client.read(`query?query=${q}&time=${(t0 + 60 * 60_000) / 1000 - 1}`, key);
        return Number(r.data?.result?.[0]?.value?.[1] ?? 0);
      },
      (n) => n === sent,
      90_000,
    );
    expect(count).toBe(sent);
    const log = readFileSync(join(st.s.ISOBAR_DATA_DIR, 'logs', 'storage-node.log'), 'utf8');
    expect(log).toMatch(/"msg":"tenant rebuilt from the bucket","tenant":"rebuild","blocks":[1-9]/);
    // Series and label reads see the bucket's blocks too.
    const series = await st.client.read(`series?match[]=rb_before`, key);
    expect(series.data).toHaveLength(60);
  });
});
