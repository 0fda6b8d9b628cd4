/**
 * After a start, tell the coordinators (through the edge) what this node has
 * applied for every tenant×shard it serves, so each replays exactly what is
 * missing. Retries with backoff until the edge answers: in development the
 * node starts before the edge.
 */
import { RESYNC_PATH, type ResyncRequest } from '../../wire/internal-api.js';
import { errorFields, type Logger } from '../../wire/log.js';
import type { NodeStore } from './node/store.js';

export async function announceRestart(opts: {
  edgeUrl: string;
  secret: string;
  store: NodeStore;
  pairs: ReadonlyArray<{ tenant: string; shard: number }>;
  log: Logger;
  signal?: AbortSignal;
}): Promise<void> {
  const { edgeUrl, secret, store, pairs, log, signal } = opts;
  if (pairs.length === 0) return;
  const body: ResyncRequest = {
    bootId: store.bootId,
    shards: pairs.map((p) => ({ ...p, applied: store.shardState(p.tenant, p.shard).applied })),
  };
  for (let attempt = 0, delay = 250; !signal?.aborted; attempt++, delay = Math.min(delay * 2, 10_000)) {
    try {
      const r = await fetch(edgeUrl.replace(/\/$/, '') + RESYNC_PATH, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      if (r.ok) {
        log.info('asked coordinators to replay', { shards: pairs.length, attempt });
        return;
      }
      if (r.status === 401 || r.status === 400) {
        log.error('edge refused the resync request; coordinators will find this node on their next check', { status: r.status });
        return;
      }
      throw new Error(`edge answered ${r.status}`);
    } catch (e) {
      if (attempt % 10 === 0) log.warn('edge not reachable for resync yet; retrying', { edgeUrl, retryInMs: delay, ...errorFields(e) });
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
