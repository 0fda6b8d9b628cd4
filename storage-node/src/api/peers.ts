/**
 * The tenant's series held by other storage nodes, fetched as compressed
 * chunks for a query this node evaluates. The edge names the peers
 * (`x-isobar-peers`); every peer is asked, and a peer that does not answer
 * fails the query (503 `unavailable`) rather than leaving a silent gap.
 * A query a downsampled tier can serve asks with `resolution`: each peer
 * answers through its own tiers and says where each one stops.
 */
import { ErrorIds } from '../../../wire/errors.js';
import { ChunkedSeriesError, decodeChunkedResponse } from '../../../wire/chunked-series.js';
import { chunksPath } from '../../../wire/internal-api.js';
import { QueryError, type PeerSeries } from '../promql/engine.js';
import { exprString } from '../promql/printer.js';
import { planOfTiers, type TieredChunks } from '../promql/tiers.js';

/** How long one peer may take to send its chunks. */
const PEER_TIMEOUT_MS = 60_000;

export function peerSeries(peers: readonly string[], tenant: string, secret: string, signal?: AbortSignal): PeerSeries {
  return {
    async fetch(sel, mint, maxt, res) {
      const params = new URLSearchParams({
        'match[]': exprString({ ...sel, offset: 0, at: undefined }),
        start: String(mint / 1000),
        end: String(maxt / 1000),
        ...(res > 0 ? { resolution: String(res / 1000) } : {}),
      });
      return Promise.all(
        peers.map(async (base) => {
          let r: Response;
          const timeout = AbortSignal.timeout(PEER_TIMEOUT_MS);
          try {
            r = await fetch(`${base}${chunksPath(tenant)}?${params}`, {
              headers: { authorization: `Bearer ${secret}` },
              signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
            });
          } catch (e) {
            throw new QueryError(`storage node ${base} holding part of this tenant's series is unreachable (${(e as Error).message}); retry`, ErrorIds.storageUnavailable);
          }
          if (r.status !== 200) throw new QueryError(`storage node ${base} holding part of this tenant's series answered ${r.status}: ${(await r.text()).slice(0, 200)}`, ErrorIds.storageUnavailable);
          return peerPart(base, new Uint8Array(await r.arrayBuffer()), res);
        }),
      );
    },
  };
}

/** One peer's answer, checked: tiers no coarser than asked, coarsest first, and every aggregate chunk of one of them. */
function peerPart(base: string, body: Uint8Array, res: number): TieredChunks {
  const bad = (why: string) => new QueryError(`storage node ${base} sent malformed chunks: ${why}`, ErrorIds.storageUnavailable);
  try {
    const { series, tiers } = decodeChunkedResponse(body);
    const plan = planOfTiers(tiers);
    for (let i = 0; i < tiers.length; i++) {
      const t = tiers[i]!;
      if (t.resolution > res || (i > 0 && (t.resolution >= tiers[i - 1]!.resolution || t.until <= tiers[i - 1]!.until))) throw bad(`tier ${i} (${t.resolution} ms until ${t.until}) out of order or coarser than ${res} ms`);
    }
    const held = new Set(tiers.map((t) => t.resolution));
    for (const s of series) for (const c of s.chunks) if (c.resolution && !held.has(c.resolution)) throw bad(`aggregate chunk of ${c.resolution} ms outside its tiers`);
    return { plan, series };
  } catch (e) {
    if (e instanceof ChunkedSeriesError) throw bad(e.message);
    throw e;
  }
}
