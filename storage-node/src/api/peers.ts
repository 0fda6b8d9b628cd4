/**
 * The tenant's series held by other storage nodes, fetched as compressed
 * chunks for a query this node evaluates. The edge names the peers
 * (`x-isobar-peers`); every peer is asked, and a peer that does not answer
 * fails the query (503 `unavailable`) rather than leaving a silent gap.
 */
import { decodeChunkedSeries } from '../../../wire/chunked-series.js';
import { chunksPath } from '../../../wire/internal-api.js';
import { QueryError, type PeerSeries } from '../promql/engine.js';
import { exprString } from '../promql/printer.js';

/** How long one peer may take to send its chunks. */
const PEER_TIMEOUT_MS = 60_000;

export function peerSeries(peers: readonly string[], tenant: string, secret: string, signal?: AbortSignal): PeerSeries {
  return {
    async fetch(sel, mint, maxt) {
      const params = new URLSearchParams({
        'match[]': exprString({ ...sel, offset: 0, at: undefined }),
        start: String(mint / 1000),
        end: String(maxt / 1000),
      });
      const parts = await Promise.all(
        peers.map(async (base) => {
          let r: Response;
          const timeout = AbortSignal.timeout(PEER_TIMEOUT_MS);
          try {
            r = await fetch(`${base}${chunksPath(tenant)}?${params}`, {
              headers: { authorization: `Bearer ${secret}` },
              signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
            });
          } catch (e) {
            throw new QueryError(`storage node ${base} holding part of this tenant's series is unreachable (${(e as Error).message}); retry`, 'unavailable');
          }
          if (r.status !== 200) throw new QueryError(`storage node ${base} holding part of this tenant's series answered ${r.status}: ${(await r.text()).slice(0, 200)}`, 'unavailable');
          return decodeChunkedSeries(new Uint8Array(await r.arrayBuffer()));
        }),
      );
      return parts.flat();
    },
  };
}
