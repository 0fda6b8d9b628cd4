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
import { chunksPath, histogramsPath } from '../../../wire/internal-api.js';
import { encodeWriteRequest, WriteRequestReader } from '../../../wire/remote-write.js';
import { snappyDecode, snappyEncode } from '../../../wire/snappy.js';
import type { HistogramSeries } from '../promql/values.js';
import { labelPairs } from '../model/labels.js';
import { QueryError, type PeerSeries } from '../promql/engine.js';
import { exprString } from '../promql/printer.js';
import { planOfTiers, type TieredChunks } from '../promql/tiers.js';

/** How long one peer may take to send its chunks. */
const PEER_TIMEOUT_MS = 60_000;

export function peerSeries(peers: readonly string[], tenant: string, secret: string, signal?: AbortSignal): PeerSeries {
  /** Every peer's answer to `path?params`, or a query error naming the peer that failed. */
  const ask = (path: string, params: URLSearchParams) =>
    Promise.all(
      peers.map(async (base) => {
        let r: Response;
        const timeout = AbortSignal.timeout(PEER_TIMEOUT_MS);
        try {
          r = await fetch(`${base}${path}?${params}`, {
            headers: { authorization: `Bearer ${secret}` },
            signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
          });
        } catch (e) {
          throw new QueryError(`storage node ${base} holding part of this tenant's series is unreachable (${(e as Error).message}); retry`, ErrorIds.storageUnavailable);
        }
        if (r.status !== 200) throw new QueryError(`storage node ${base} holding part of this tenant's series answered ${r.status}: ${(await r.text()).slice(0, 200)}`, ErrorIds.storageUnavailable);
        return { base, body: new Uint8Array(await r.arrayBuffer()) };
      }),
    );
  const paramsOf = (sel: Parameters<PeerSeries['fetch']>[0], mint: number, maxt: number, extra: Record<string, string> = {}) =>
    new URLSearchParams({ 'match[]': exprString({ ...sel, offset: 0, at: undefined }), start: String(mint / 1000), end: String(maxt / 1000), ...extra });
  return {
    async fetch(sel, mint, maxt, res) {
      const answers = await ask(chunksPath(tenant), paramsOf(sel, mint, maxt, res > 0 ? { resolution: String(res / 1000) } : {}));
      return answers.map((a) => peerPart(a.base, a.body, res));
    },
    async histograms(sel, mint, maxt, res) {
      const answers = await ask(histogramsPath(tenant), paramsOf(sel, mint, maxt, res > 0 ? { resolution: String(res / 1000) } : {}));
      return answers.flatMap((a) => {
        try {
          return decodeHistogramSeries(a.body);
        } catch (e) {
          throw new QueryError(`storage node ${a.base} sent malformed histograms: ${(e as Error).message}`, ErrorIds.storageUnavailable);
        }
      });
    },
  };
}

/** A node's native histograms as its peers get them: a snappy remote-write request of series with histograms only. */
export function encodeHistogramSeries(series: readonly HistogramSeries[]): Uint8Array {
  return snappyEncode(encodeWriteRequest(series.map((s) => ({ labels: labelPairs(s.labels), samples: [], histograms: s.histograms }))));
}

export function decodeHistogramSeries(body: Uint8Array): HistogramSeries[] {
  const r = new WriteRequestReader(snappyDecode(body, MAX_HISTOGRAMS_BYTES));
  const out: HistogramSeries[] = [];
  while (r.next()) {
    if (r.problem) throw new Error(r.problem.message);
    out.push({ labels: r.names.flatMap((n, i) => [n, r.values[i]!]), histograms: r.histograms.slice(0, r.histogramCount) });
  }
  return out;
}

/** Largest histogram answer a peer may send, uncompressed. */
const MAX_HISTOGRAMS_BYTES = 1 << 30;
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
