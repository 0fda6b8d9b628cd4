/**
 * `npm start` stops everything it started when start-up fails: here the edge
 * never becomes ready (its storage node does not exist), and neither
 * `wrangler dev` nor the workerd it started may outlive the failure.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script
import { startEdge } from '../../scripts/stack.mjs';
import { freePort } from '../support/node-process.js';
import { testSettings } from '../support/stack.js';

/** Processes whose command line names `text` (the test's own data folder). */
function processesNaming(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', text], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('npm start cleans up after itself', () => {
  it('a start-up that fails leaves no wrangler or workerd behind', async () => {
    const s = await testSettings();
    s.ISOBAR_NODE_PORT = String(await freePort()); // nothing listens there: the edge is never ready
    const starting = startEdge(s, { readyTimeoutMs: 20_000 }).then(
      () => undefined,
      (e: Error) => e,
    );
    // While it waits, wrangler runs with this data folder on its command line, and workerd serves the edge's port.
    const workerd = `entry=127.0.0.1:${s.ISOBAR_PORT}`;
    await new Promise((r) => setTimeout(r, 10_000));
    expect(processesNaming(s.ISOBAR_DATA_DIR).length).toBeGreaterThanOrEqual(1);
    expect(processesNaming(workerd).length).toBeGreaterThanOrEqual(1);
    const failed = await starting;
    expect(failed?.message).toMatch(/edge \(wrangler dev\) not ready/);
    expect(processesNaming(s.ISOBAR_DATA_DIR)).toEqual([]);
    expect(processesNaming(workerd)).toEqual([]);
  }, 60_000);
});
