/**
 * Storage-node crash and restart: writes acknowledged while the node is down
 * are in the coordinators' logs, and appear once the coordinators replay.
 * The stack is started by the same functions as `npm start`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script
import { startNode, stop } from '../../scripts/stack.mjs';
import { eventually, useStack, type StackSettings } from '../support/stack.js';

describe('storage node restart', () => {
  const st = useStack();

  it('replays everything acknowledged, including writes made while it was down', async () => {
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const batch = (name: string, n: number, t: number) =>
      Array.from({ length: n }, (_, i) => ({ labels: [['__name__', name], ['i', String(i).padStart(3, '0')]] as [string, string][], samples: [[t, i]] as [number, number][] }));

    expect((await st.client.write(batch('before_crash', 200, t0))).status).toBe(204);
    expect((await st.client.read('series?match[]=before_crash')).data).toHaveLength(200);

    await stop(st.node, 'SIGKILL');
    // Acknowledged from the commit logs alone.
    for (let r = 1; r <= 5; r++) expect((await st.client.write(batch('while_down', 100, t0 + r * 15_000))).status).toBe(204);
    expect((await fetch(`${st.client.base}/-/ready`)).status).toBe(503);

    st.node = await startNode(st.s);
    const after = await eventually(
      async () => [(await st.client.read('series?match[]=while_down')).data.length, (await st.client.read('series?match[]=before_crash')).data.length],
      ([a, b]) => a === 100 && b === 200,
      90_000,
    );
    expect(after).toEqual([100, 200]);
    expect((await fetch(`${st.client.base}/-/ready`)).status).toBe(200);
  });

  it('refills a restarted node with no new writes: the node asks its coordinators to replay', async () => {
    const before = (await st.client.read('series?match[]=before_crash')).data.length;
    expect(before).toBe(200);
    await stop(st.node, 'SIGKILL');
    st.node = await startNode(st.s);
    const back = await eventually(async () => (await st.client.read('series?match[]=before_crash')).data.length, (n) => n === 200, 90_000);
    expect(back).toBe(200);
    const log = readFileSync(join(st.s.ISOBAR_DATA_DIR, 'logs', 'storage-node.log'), 'utf8');
    expect(log).toMatch(/"msg":"asked coordinators to replay","shards":\d+/);
  });
});
