/**
 * kill -9 of the storage node in the middle of writes, with its WAL tail then
 * truncated at a random offset: after restart the data equals exactly what was
 * acknowledged (WAL replay, then the coordinators replay what the WAL lost).
 */
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeChunks } from '../../storage-node/src/chunkenc/merge.js';
import { decodeChunkedSeries } from '../../wire/chunked-series.js';
// @ts-expect-error plain ESM script
import { startNode, stop } from '../../scripts/stack.mjs';
import { eventually, useStack, type StackSettings } from '../support/stack.js';

describe('storage node crash', () => {
  const st = useStack();

  it('loses nothing acknowledged, whatever the WAL tail looks like', async () => {
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
    const acked = new Map<string, number>(); // series -> samples acknowledged
    let round = 0;
    const writeRound = async () => {
      const r = round++;
      const series = Array.from({ length: 50 }, (_, i) => ({ labels: [['__name__', 'crash_test'], ['i', String(i).padStart(2, '0')]] as [string, string][], samples: [[t0 + r * 1000, r]] as [number, number][] }));
      const res = await st.client.write(series);
      if (res.status === 204) for (const x of series) acked.set(x.labels[1]![1], (acked.get(x.labels[1]![1]) ?? 0) + 1);
      return res.status;
    };
    // Writes keep going while the node is killed.
    const writer = (async () => {
      for (let i = 0; i < 40; i++) expect(await writeRound()).toBe(204);
    })();
    await new Promise((r) => setTimeout(r, 300));
    await stop(st.node, 'SIGKILL');
    await writer;

    // Damage the WAL's last segment at a random offset, as a torn write would.
    const walDir = join(st.s.ISOBAR_DATA_DIR, 'node', 'wal', 'demo');
    const segs = readdirSync(walDir).sort();
    const last = join(walDir, segs.at(-1)!);
    const size = statSync(last).size;
    const cut = Math.floor(Math.random() * size);
    truncateSync(last, cut);

    st.node = await startNode(st.s);
    const want = 40 * 50;
    const got = await eventually(
      async () => {
        const r = await fetch(`${st.client.base}/prometheus/api/v1/series?match[]=crash_test`, { headers: { authorization: `Bearer ${st.s.ISOBAR_DEMO_KEY}` } });
        const series = ((await r.json()) as { data: unknown[] }).data.length;
        return { series, samples: await countSamples(st.s) };
      },
      (x) => x.samples >= want,
      90_000,
    );
    expect([...acked.values()].reduce((a, b) => a + b, 0)).toBe(want);
    expect(got).toEqual({ series: 50, samples: want });
  });
});

/** Samples the node holds for crash_test, through its internal chunks API (head and blocks merged, chunks decoded here). */
async function countSamples(s: StackSettings): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${s.ISOBAR_NODE_PORT}/internal/v1/tenants/demo/chunks?match[]=crash_test`, {
    headers: { authorization: `Bearer ${s.ISOBAR_NODE_SECRET}` },
  });
  if (!r.ok) return -1;
  return decodeChunkedSeries(new Uint8Array(await r.arrayBuffer())).reduce((n, x) => n + mergeChunks(x.chunks).n, 0);
}
