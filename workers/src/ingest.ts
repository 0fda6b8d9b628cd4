/**
 * Remote write: `POST /api/v1/write` (and `/api/v1/push`).
 *
 * The pipeline, in order:
 *   1. auth          (middleware; `write` scope)
 *   2. body limit    413 over the tenant's max_body_bytes, checked before and while reading
 *   3. decode        snappy, refusing blocks that declare more than ISOBAR_MAX_DECOMPRESSED_BYTES
 *   4. validate      each series (labels, UTF-8, timestamps, the tenant's label and time
 *                    limits); bad series are dropped and reported. A bad exemplar
 *                    or metadata entry is reported, and dropped by the node, which
 *                    checks them by the same code; its series is kept
 *   5. route         series hash -> jump hash over the tenant's shard count; a
 *                    metadata entry goes where a series of only its name would
 *   6. commit        one RPC per shard coordinator, in parallel, carrying the shard's
 *                    series as their original bytes, snappy-compressed, its share
 *                    of the ingestion rate, and (5b) the series this isolate has not
 *                    had admitted lately; a coordinator refusing some of those over
 *                    the series limits writes nothing, and gets the rest again
 * Answer: 204 when every series is in its coordinator's commit log; 400 naming
 * the first bad series when some were rejected (the valid ones are kept, and
 * clients do not retry 400s); 429 with Retry-After when a coordinator's share
 * of the tenant's ingestion rate is used up; 503 when a coordinator could not
 * take the batch.
 */
import type { Context } from 'hono';
import { ErrorIds, IsobarError, type ErrorId } from '../../wire/errors.js';
import type { AppendAck, AppendOptions, Backlogged, RateLimited, SeriesRefused, TenantGone } from '../../durable/shard-coordinator.js';
import { howToRaise, retentionSpec, type Limits } from '../../durable/limits.js';
import { admitRequest, admittedSeries, knownSeries, metricOf, refusalsOf, settleAdmission, type NewSeries } from './series-limits.js';
import { jumpHash, seriesHash } from '../../wire/hash.js';
import { createLogger, errorFields } from '../../wire/log.js';
import { MAX_RECORD_BYTES } from '../../wire/node-batch.js';
import { isMetadataProblem, WriteRequestReader, type SeriesProblem } from '../../wire/remote-write.js';
import { remoteWriteVersion, transcodeV2, V1_PROTO, V2_PROTO } from '../../wire/remote-write-v2.js';
import { snappyDecode, snappyEncode } from '../../wire/snappy.js';
import { edgeConfig } from '../../durable/env.js';
import type { AppEnv } from './context.js';
import { textError } from './respond.js';

const log = createLogger('edge');

/**
 * Uncompressed bytes per record sent to a coordinator. Snappy's worst case is
 * n + n/6 + 32 bytes, so 1.5 MB stays under the record limit (MAX_RECORD_BYTES).
 */
const MAX_RECORD_UNCOMPRESSED = 1_500_000;

/** Read the body, refusing more than `max` bytes whether or not Content-Length says so. */
async function readCapped(req: Request, max: number, tenant: string): Promise<Uint8Array | IsobarError> {
  const tooLarge = (n: number | string) =>
    new IsobarError(
      ErrorIds.bodyTooLarge,
      'too-large',
      `request body of ${n} bytes is over the limit of ${max} bytes (max_body_bytes); send smaller batches (Prometheus: queue_config.max_samples_per_send) or ${howToRaise(tenant, 'maxBodyBytes')}`,
    );
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (declared > max) return tooLarge(declared);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return tooLarge(`more than ${max}`);
    }
    parts.push(value);
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** What a shard coordinator answers an append. */
type Answer = AppendAck | SeriesRefused | RateLimited | Backlogged | TenantGone;

interface ShardBatch {
  ranges: number[]; // start, end pairs into the decoded request
  bytes: number;
  samples: number;
  /** What each series of the batch writes, by its range's start (remote write 2.0's written counts). */
  written: Map<number, Written>;
  /** Series sent on in other bytes than the client's (labels sorted, histograms reduced to fit the bucket limit), by their range's start. */
  rewritten?: Map<number, Uint8Array>;
}

export async function handleWrite(c: Context<AppEnv>): Promise<Response> {
  const env = c.env;
  const principal = c.get('principal');

  // 1.0 or 2.0, by Content-Type (remote write 2.0's negotiation); anything else is a 415.
  const version = remoteWriteVersion(c.req.header('content-type'));
  if (typeof version === 'object') {
    return textError(new IsobarError(ErrorIds.unsupportedMediaType, 'unsupported-media', `${version.unsupported}; send application/x-protobuf with proto=${V1_PROTO} (remote write 1.0, the default) or proto=${V2_PROTO} (2.0)`));
  }
  const encoding = (c.req.header('content-encoding') ?? '').toLowerCase();
  if (encoding !== 'snappy') {
    return textError(new IsobarError(ErrorIds.unsupportedEncoding, 'unsupported-media', `Content-Encoding must be "snappy" for remote write, got ${JSON.stringify(encoding)}`));
  }

  const limits = principal.limits;
  // 2. body limit
  const body = await readCapped(c.req.raw, limits.maxBodyBytes, principal.tenant);
  if (body instanceof IsobarError) return textError(body);

  // 3. decode
  let raw: Uint8Array;
  try {
    raw = snappyDecode(body, edgeConfig(env).maxDecompressedBytes);
    // 2.0 is taken as the 1.0 request of the same data (wire/remote-write-v2.ts).
    if (version === 2) raw = transcodeV2(raw);
  } catch (e) {
    if (e instanceof IsobarError) return textError(e);
    throw e;
  }

  // 4. validate and 5. route
  const shards = limits.shards;
  const byShard = new Map<number, ShardBatch>();
  let total = 0;
  let rejected = 0;
  /** Series whose bytes are not the client's (labels sorted, histograms reduced): the body cannot go on whole. */
  let rewritten = 0;
  let samples = 0;
  let first: SeriesProblem | undefined;
  /** Exemplars and metadata entries dropped (their series are kept), and the first problem. */
  const dropped = { exemplars: 0, metadata: 0, first: undefined as SeriesProblem | undefined };
  /** Samples of refused series, by error id: the tenant's usage counts them. */
  const refusedHere: Record<string, number> = {};
  /** Series this isolate has not had admitted lately, per shard (series limits). */
  const newSeries = new Map<number, NewSeries[]>();
  const known = admittedSeries(principal);
  const reader = new WriteRequestReader(raw, limits);
  const now = Date.now();
  const maxFuture = limits.maxFutureSeconds * 1000;
  const retention = limits.retentionSeconds * 1000;
  try {
    while (reader.next()) {
      total++;
      let problem = reader.problem ?? timeProblem(reader, now + maxFuture, now - retention, maxFuture, retention);
      if (!problem && reader.seriesEnd - reader.seriesStart > MAX_RECORD_UNCOMPRESSED) {
        problem = {
          id: ErrorIds.seriesTooLarge,
          message: `series ${reader.describeSeries()} is ${reader.seriesEnd - reader.seriesStart} bytes in one request, over the limit of ${MAX_RECORD_UNCOMPRESSED}; send fewer samples per series per request`,
        };
      }
      if (problem) {
        rejected++;
        first ??= problem;
        refusedHere[problem.id] = (refusedHere[problem.id] ?? 0) + reader.sampleCount + reader.histogramCount;
        continue;
      }
      if (reader.exemplarProblem) {
        dropped.exemplars += reader.exemplarsDropped;
        dropped.first ??= reader.exemplarProblem;
      }
      // A native histogram counts as one sample (the ingestion rate, usage), as in Prometheus and Mimir.
      const written = reader.sampleCount + reader.histogramCount;
      samples += written;
      const shard = jumpHash(reader.hashHi, reader.hashLo, shards);
      let b = byShard.get(shard);
      if (!b) byShard.set(shard, (b = { ranges: [], bytes: 0, samples: 0, written: new Map() }));
      b.ranges.push(reader.seriesStart, reader.seriesEnd);
      b.bytes += reader.seriesEnd - reader.seriesStart;
      b.samples += written;
      b.written.set(reader.seriesStart, { samples: reader.sampleCount, histograms: reader.histogramCount, exemplars: reader.exemplarCount });
      if (reader.needsRewrite) {
        (b.rewritten ??= new Map()).set(reader.seriesStart, reader.rewrittenSeries());
        rewritten++;
      }
      const hash = `${reader.hashHi}:${reader.hashLo}`;
      // A series carrying only exemplars creates nothing (the node keeps them beside the series).
      if (written > 0 && !knownSeries(known, hash, now)) {
        let list = newSeries.get(shard);
        if (!list) newSeries.set(shard, (list = []));
        list.push({ hash, metric: metricOf(reader), start: reader.seriesStart, end: reader.seriesEnd, samples: written });
      }
    }
    const meta = reader.metadataRanges;
    for (let i = 0; i < meta.length; i += 2) {
      const m = reader.readMetadata(meta[i]!, meta[i + 1]!);
      if (isMetadataProblem(m)) {
        dropped.metadata++;
        dropped.first ??= m;
        continue;
      }
      const h = seriesHash([['__name__', m.family]]);
      const shard = jumpHash(h.hi, h.lo, shards);
      let b = byShard.get(shard);
      if (!b) byShard.set(shard, (b = { ranges: [], bytes: 0, samples: 0, written: new Map() }));
      b.ranges.push(meta[i]!, meta[i + 1]!);
      b.bytes += meta[i + 1]! - meta[i]!;
    }
  } catch (e) {
    if (e instanceof IsobarError) return textError(e);
    throw e;
  }

  // 6. commit, one RPC per shard, in parallel, each carrying its new series to
  // be admitted (5b). When the whole request is valid and belongs to one
  // shard, the client's own snappy body is forwarded as is.
  const wholeBody = version === 1 && byShard.size === 1 && rejected === 0 && rewritten === 0 && body.byteLength <= MAX_RECORD_BYTES && raw.byteLength <= MAX_RECORD_UNCOMPRESSED;
  const coordinator = (shard: number) => env.SHARD_COORDINATOR.get(env.SHARD_COORDINATOR.idFromName(`${principal.tenant}/${shard}`));
  const append = (shard: number, b: ShardBatch, extra: Pick<AppendOptions, 'admit' | 'rejected'>, whole = false) =>
    coordinator(shard).append(principal.tenant, shard, whole ? [body] : recordsOf(raw, b), {
      // Each coordinator holds its share of the tenant's ingestion rate.
      quota: { samples: b.samples, rate: limits.ingestionRate / shards, burst: limits.ingestionBurst / shards },
      generation: principal.generation,
      retention: retentionSpec(limits),
      maxLogBytes: limits.commitLogMaxBytes,
      exemplars: Math.ceil(limits.maxExemplars / shards),
      ...extra,
    });
  const sent = [...byShard];
  let answers: Answer[];
  try {
    answers = await Promise.all(
      sent.map(([shard, b], i) => {
        const fresh = newSeries.get(shard);
        return append(shard, b, {
          ...(fresh ? { admit: admitRequest(limits, fresh) } : {}),
          ...(i === 0 && rejected > 0 ? { rejected: refusedHere } : {}), // counted once, with the first shard's append
        }, wholeBody);
      }),
    );
    if (byShard.size === 0 && rejected > 0) c.executionCtx.waitUntil(coordinator(0).recordRejected(refusedHere, principal.generation));
    if (answers.some((a) => 'gone' in a)) return tenantGone();

    // Series over the series limits: a shard that refused some wrote nothing
    // (and counted them); its other series are appended again without them.
    const over = sent.flatMap(([shard], i) => {
      const fresh = newSeries.get(shard);
      const a = answers[i]!;
      return fresh ? settleAdmission(principal, shard, fresh, 'seriesRefused' in a ? a.seriesRefused : []) : [];
    });
    for (const r of refusalsOf(principal, raw, over)) {
      rejected++;
      first ??= r.problem;
      samples -= r.series.samples;
      dropRange(byShard, r.shard, r.series);
    }
    const again = sent.map(([shard], i) => ('seriesRefused' in answers[i]! && byShard.has(shard) ? append(shard, byShard.get(shard)!, {}) : undefined));
    if (again.some((x) => x)) {
      const second = await Promise.all(again);
      answers = answers.map((a, i) => second[i] ?? a);
    }
  } catch (e) {
    log.error('commit to shard coordinators failed', { tenant: principal.tenant, ...errorFields(e) });
    return textError(new IsobarError(ErrorIds.storageUnavailable, 'unavailable', 'the commit log could not take this batch; retry (nothing from it was acknowledged)'), { 'retry-after': '1' });
  }
  if (answers.some((a) => 'gone' in a)) return tenantGone();
  // Shards all of whose series were refused have nothing stored and nothing to say.
  const settled = sent.map(([, b], i) => ({ b, a: answers[i]! })).filter((x) => !('seriesRefused' in x.a));
  const limited = settled.flatMap((x) => ('rateLimited' in x.a ? [x.a] : []));
  if (limited.length > 0) {
    const wait = Math.max(...limited.map((a) => a.rateLimited.retryAfterSeconds));
    const stored = settled.filter((x) => !('rateLimited' in x.a));
    const kept = stored.reduce((n, x) => n + x.b.samples, 0);
    const e = new IsobarError(
      ErrorIds.ingestionRateLimited,
      'limited',
      `tenant ${principal.tenant} is over its ingestion rate of ${limits.ingestionRate} samples/s (ingestion_rate; bursts up to ${limits.ingestionBurst}, ingestion_burst); retry after ${wait}s. ${kept} samples of this request were stored, and resending them is harmless (repeats are ignored); to write faster, ${howToRaise(principal.tenant, 'ingestionRate')}`,
    );
    return textError(e, { 'retry-after': String(wait), ...writtenHeaders(version, stored.map((x) => x.b)) });
  }
  const backlogged = settled.flatMap((x) => ('backlogged' in x.a ? [x.a] : []));
  if (backlogged.length > 0) {
    const b = backlogged[0]!.backlogged;
    const stored = settled.filter((x) => !('backlogged' in x.a));
    const kept = stored.reduce((n, x) => n + x.b.samples, 0);
    const e = new IsobarError(
      ErrorIds.storageBacklogged,
      'limited',
      `storage is behind for tenant ${principal.tenant}: a shard's commit log holds ${b.logBytes} bytes the object store has not confirmed yet, at its bound of ${b.maxBytes} (commit_log_max_bytes); retry after ${b.retryAfterSeconds}s. Nothing acknowledged is lost; ${kept} samples of this request were stored, and resending them is harmless`,
    );
    return textError(e, { 'retry-after': String(b.retryAfterSeconds), ...writtenHeaders(version, stored.map((x) => x.b)) });
  }
  const acks = settled.map((x) => x.a as AppendAck);
  // Samples the storage node refused (known when it applied the batch in time).
  const refused = acks.flatMap((a) => a.rejected ?? []);
  const refusedSamples = refused.reduce((k, r) => k + r.count, 0);
  const headers = writtenHeaders(version, settled.map((x) => x.b), refusedSamples);

  if (first) {
    const raise = RAISED_BY[first.id];
    if (raise) first = { id: first.id, message: `${first.message}; ${howToRaise(principal.tenant, raise)}` };
    const e = new IsobarError(first.id, 'bad-data', `${first.message}; ${rejected} of ${total} series rejected, the other ${total - rejected} (${samples} samples) were accepted`);
    return textError(e, headers);
  }
  if (dropped.first) {
    const what = [dropped.exemplars ? `${dropped.exemplars} exemplars` : '', dropped.metadata ? `${dropped.metadata} metadata entries` : ''].filter(Boolean).join(' and ');
    return textError(new IsobarError(dropped.first.id as ErrorId, 'bad-data', `${dropped.first.message}; ${what} dropped, every series' samples (${samples}) were accepted`), headers);
  }
  if (refused.length > 0) {
    return textError(new IsobarError(refused[0]!.id as ErrorId, 'bad-data', `${refused[0]!.message}; ${refusedSamples} of ${samples} samples refused, the rest were accepted`), headers);
  }
  return c.body(null, 204, headers);
}

/** A sample (or native histogram) beyond the time window the tenant may write: the first one found, named. */
function timeProblem(r: WriteRequestReader, latest: number, earliest: number, maxFuture: number, retention: number): SeriesProblem | undefined {
  for (let i = 0; i < r.sampleCount + r.histogramCount; i++) {
    const t = i < r.sampleCount ? r.timestamps[i]! : r.histograms[i - r.sampleCount]!.t;
    if (t > latest) {
      return {
        id: ErrorIds.sampleTooFarInFuture,
        message: `series ${r.describeSeries()} has a sample at ${new Date(t).toISOString()}, more than ${maxFuture / 1000}s in the future (max_future_seconds); check the sender's clock`,
      };
    }
    if (t < earliest) {
      return {
        id: ErrorIds.sampleTooOld,
        message: `series ${r.describeSeries()} has a sample at ${new Date(t).toISOString()}, older than the retention of ${Math.round(retention / 86_400_000)}d (retention_seconds); it would be deleted at once`,
      };
    }
  }
  return undefined;
}

/** The tenant was deleted while this edge still had the key cached: its coordinators refuse it at once. */
function tenantGone(): Response {
  return textError(new IsobarError(ErrorIds.invalidCredentials, 'unauthenticated', 'invalid API key: its tenant was deleted'));
}

/** The tenant limit behind each per-series refusal the reader or the time window makes (the series limits say it themselves). */
const RAISED_BY: Partial<Record<string, keyof Limits>> = {
  [ErrorIds.maxLabelNamesPerSeries]: 'maxLabelNamesPerSeries',
  [ErrorIds.maxNativeHistogramBuckets]: 'maxNativeHistogramBuckets',
  [ErrorIds.labelNameTooLong]: 'maxLabelNameLength',
  [ErrorIds.labelValueTooLong]: 'maxLabelValueLength',
  [ErrorIds.sampleTooFarInFuture]: 'maxFutureSeconds',
  [ErrorIds.sampleTooOld]: 'retentionSeconds',
};

/** Floats, native histograms and exemplars written: remote write 2.0's `X-Prometheus-Remote-Write-*-Written`. */
interface Written {
  samples: number;
  histograms: number;
  exemplars: number;
}

/** The written-count headers of the batches stored (2.0 only; 1.0 has none), less samples the node refused. */
function writtenHeaders(version: 1 | 2, stored: readonly ShardBatch[], refusedSamples = 0): Record<string, string> {
  if (version !== 2) return {};
  const w: Written = { samples: 0, histograms: 0, exemplars: 0 };
  for (const b of stored) for (const x of b.written.values()) (w.samples += x.samples), (w.histograms += x.histograms), (w.exemplars += x.exemplars);
  return {
    'x-prometheus-remote-write-samples-written': String(Math.max(0, w.samples - refusedSamples)),
    'x-prometheus-remote-write-histograms-written': String(w.histograms),
    'x-prometheus-remote-write-exemplars-written': String(w.exemplars),
  };
}

/** Take a refused series out of its shard's batch (and the batch out, when it was its last). */
function dropRange(byShard: Map<number, ShardBatch>, shard: number, s: NewSeries): void {
  const b = byShard.get(shard)!;
  for (let i = 0; i < b.ranges.length; i += 2) {
    if (b.ranges[i] !== s.start) continue;
    b.ranges.splice(i, 2);
    b.bytes -= s.end - s.start;
    b.samples -= s.samples;
    b.written.delete(s.start);
    break;
  }
  if (b.ranges.length === 0) byShard.delete(shard);
}

/** The shard's series as original bytes, cut into snappy records under the size limit. */
function recordsOf(raw: Uint8Array, b: ShardBatch): Uint8Array[] {
  const out: Uint8Array[] = [];
  let buf = new Uint8Array(Math.min(b.bytes, MAX_RECORD_UNCOMPRESSED));
  let len = 0;
  const flush = () => {
    if (len === 0) return;
    const rec = snappyEncode(buf.subarray(0, len));
    if (rec.byteLength > MAX_RECORD_BYTES) throw new Error(`record of ${rec.byteLength} bytes after compression`);
    out.push(rec);
    len = 0;
  };
  for (let i = 0; i < b.ranges.length; i += 2) {
    const s = b.ranges[i]!;
    const piece = b.rewritten?.get(s) ?? raw.subarray(s, b.ranges[i + 1]!);
    if (len + piece.byteLength > buf.length) {
      flush();
      if (piece.byteLength > buf.length) buf = new Uint8Array(piece.byteLength);
    }
    buf.set(piece, len);
    len += piece.byteLength;
  }
  flush();
  return out;
}
