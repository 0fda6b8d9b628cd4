/**
 * The node's query routes say where a query's time went: a Server-Timing
 * header on every answer, and a log line for a query slower than the
 * configured threshold (never for a faster one).
 */
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../wire/log.js';
import { INTERNAL_PREFIX } from '../../wire/internal-api.js';
import { NodeMetrics } from './node/metrics.js';
import { NodeStore } from './node/store.js';
import { createServer } from './server.js';

const SECRET = 'a-node-secret-of-some-length';

function capture(): { log: Logger; lines: Array<{ msg: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const log: Logger = {
    debug: () => {},
    info: (msg, fields = {}) => void lines.push({ msg, fields }),
    warn: (msg, fields = {}) => void lines.push({ msg, fields }),
    error: (msg, fields = {}) => void lines.push({ msg, fields }),
    child: () => log,
  };
  return { log, lines };
}

async function query(slowQueryMs: number) {
  const { log, lines } = capture();
  const app = createServer({ store: new NodeStore(new NodeMetrics(), log), metrics: new NodeMetrics(), log, secret: SECRET, slowQueryMs });
  const q = new URLSearchParams({ query: 'sum(rate(x[5m])) or vector(1)', start: '1700000000', end: '1700003600', step: '60' });
  const res = await app.request(`${INTERNAL_PREFIX}/tenants/acme/prom/api/v1/query_range`, { method: 'POST', body: q, headers: { authorization: `Bearer ${SECRET}` } });
  expect(res.status).toBe(200);
  expect((await res.json()).data.result).toHaveLength(1);
  return { timing: res.headers.get('server-timing'), slow: lines.filter((l) => l.msg === 'slow query') };
}

describe('query timings', () => {
  it('answers with Server-Timing, and logs a query over the threshold with its phases', async () => {
    const { timing, slow } = await query(0);
    expect(timing).toMatch(/^gather;dur=\d+\.\d, wait;dur=\d+\.\d, eval;dur=\d+\.\d$/);
    expect(slow).toHaveLength(1);
    expect(slow[0]!.fields).toMatchObject({ tenant: 'acme', query: 'sum(rate(x[5m])) or vector(1)', samples: 0 });
    for (const f of ['ms', 'gatherMs', 'waitMs', 'evalMs']) expect(slow[0]!.fields[f]).toBeGreaterThanOrEqual(0);
    expect(slow[0]!.fields.ms as number).toBeGreaterThanOrEqual(slow[0]!.fields.evalMs as number);
  });

  it('logs nothing for a query under the threshold', async () => {
    const { timing, slow } = await query(60_000);
    expect(timing).toContain('eval;dur=');
    expect(slow).toEqual([]);
  });
});
