/**
 * The internal HTTP API between shard coordinators / the edge and storage
 * nodes: paths, headers and response shapes, shared by both sides.
 * Every request carries `Authorization: Bearer <ISOBAR_NODE_SECRET>`.
 */

export const INTERNAL_PREFIX = '/internal/v1';

export function applyPath(tenant: string, shard: number): string {
  return `${INTERNAL_PREFIX}/tenants/${encodeURIComponent(tenant)}/shards/${shard}/apply`;
}

export function shardStatePath(tenant: string, shard: number): string {
  return `${INTERNAL_PREFIX}/tenants/${encodeURIComponent(tenant)}/shards/${shard}`;
}

/** Prefix under which a node serves a tenant's Prometheus read API (`.../api/v1/series`, ...). */
export function promApiPrefix(tenant: string): string {
  return `${INTERNAL_PREFIX}/tenants/${encodeURIComponent(tenant)}/prom`;
}

/**
 * A tenant's series as compressed chunks (`wire/chunked-series.ts`):
 * `?match[]=<selector>&start=<ms>&end=<ms>`. A node evaluating PromQL asks its
 * peers for the series it does not hold.
 */
export function chunksPath(tenant: string): string {
  return `${INTERNAL_PREFIX}/tenants/${encodeURIComponent(tenant)}/chunks`;
}

/**
 * A tenant's native histograms: `?match[]=<selector>&start=<ms>&end=<ms>`,
 * answered as a snappy-compressed remote-write request (series, their
 * histograms, no samples): exact values, and one codec on both sides.
 */
export function histogramsPath(tenant: string): string {
  return `${INTERNAL_PREFIX}/tenants/${encodeURIComponent(tenant)}/histograms`;
}

/**
 * Header on a PromQL request from the edge: the base URLs (comma-separated) of
 * the other nodes that may hold the tenant's series. The evaluating node asks
 * each for its chunks, with the same node secret.
 */
export const PEERS_HEADER = 'x-isobar-peers';

/**
 * Header on a PromQL request from the edge: the tenant's query limits, JSON
 * `{"timeoutSeconds":n,"maxSamples":n,"maxPoints":n,"maxSeries":n,"maxRangeSeconds":n}`. The node applies each,
 * or its own setting where that is lower.
 */
export const QUERY_LIMITS_HEADER = 'x-isobar-query-limits';

/**
 * Backfill of one block (`isobar import`): `GET` its state, `PUT …/file?path=<file>&offset=<n>`
 * a part of one of its files, `POST …/commit` to have it checked and taken. The
 * node serving the tenant's shard 0 (its queries) takes imported blocks.
 */
export function importPath(tenant: string, ulid: string): string {
  return `${INTERNAL_PREFIX}/tenants/${encodeURIComponent(tenant)}/import/${encodeURIComponent(ulid)}`;
}

/** What a node says of a block being imported. */
export interface ImportState {
  state: 'absent' | 'staged' | 'imported';
  /** Staged files and their sizes (resume from there). */
  files: Record<string, number>;
}

/** `GET /internal/v1/tenants/<t>/usage`: one node's part of a tenant's usage. */
export interface NodeUsage {
  activeSeries: number;
  bytesStored: number;
  lastHour: { queries: number; samplesRead: number };
  lastDay: { queries: number; samplesRead: number };
}
export interface TenantQueryLimits {
  timeoutSeconds: number;
  maxSamples: number;
  maxPoints: number;
  maxSeries: number;
  maxRangeSeconds: number;
}

/**
 * Header: the identity of the coordinator's log (random, fixed for the log's life).
 * Sequence numbers count within one log; if a coordinator's log is ever created
 * anew (tenant recreated, storage reset), its numbers start over under a new id,
 * and the node must not take the new records for replays of the old.
 */
export const LOG_ID_HEADER = 'x-isobar-log-id';

/** Header on apply: the tenant's retention in seconds (the node deletes its blocks past it). */
export const RETENTION_HEADER = 'x-isobar-retention-seconds';
/** Header on apply, beside RETENTION_HEADER: the downsampled tiers' retention, `5m=<seconds>,1h=<seconds>` (0: no tier). */
export const RETENTION_TIERS_HEADER = 'x-isobar-retention-tiers';

/** A tenant's retention in seconds: raw samples, and the 5 m and 1 h downsampled tiers (0: the tier is off). */
export interface RetentionSpec {
  raw: number;
  '5m': number;
  '1h': number;
}

export function retentionHeaders(r: RetentionSpec): Record<string, string> {
  return { [RETENTION_HEADER]: String(r.raw), [RETENTION_TIERS_HEADER]: `5m=${r['5m']},1h=${r['1h']}` };
}

/** The retention the headers say, or undefined when they are missing or malformed (the node keeps what it knew). */
export function parseRetentionHeaders(header: (name: string) => string | undefined): RetentionSpec | undefined {
  const raw = Number(header(RETENTION_HEADER));
  if (!Number.isInteger(raw) || raw <= 0) return undefined;
  const tiers = /^5m=(\d+),1h=(\d+)$/.exec(header(RETENTION_TIERS_HEADER) ?? '');
  return { raw, '5m': tiers ? Number(tiers[1]) : 0, '1h': tiers ? Number(tiers[2]) : 0 };
}

/**
 * Header on apply: how many exemplars the node keeps for this tenant×shard (the
 * tenant's max_exemplars divided over its shards); a tenant's store on a node
 * holds the sum over the shards it applies.
 */
export const MAX_EXEMPLARS_HEADER = 'x-isobar-max-exemplars';
/** Exemplars a tenant keeps unless told otherwise: Prometheus's default (storage.exemplars.max_exemplars). */
export const DEFAULT_MAX_EXEMPLARS = 100_000;

/** Header: the oldest sequence number still in the coordinator's log (all below are durable). */
export const LOG_START_HEADER = 'x-isobar-log-start';

/** What a node answers to apply and shard-state requests. */
export interface ShardState {
  /** Highest commit-log sequence number the node has applied (0: none). */
  applied: number;
  /**
   * Highest sequence number durable without the coordinator's log, which may
   * drop everything up to it: in the bucket when the node has one, else in
   * the node's blocks (0 until then).
   */
  durable: number;
  /** Changes every time the node process starts. */
  bootId: string;
  /** Samples of this request the node refused, by the record that carried them (first problem per record). */
  rejections?: Rejection[];
}

/** Samples of one commit-log record refused by the node (e.g. a conflicting duplicate). */
export interface Rejection {
  seq: number;
  /** Position of the record among those sharing `seq` (a group-committed row holds several). */
  index: number;
  id: string;
  message: string;
  /** Samples refused in that record. */
  count: number;
}

/** Edge route a restarted node calls (node secret) so coordinators replay what it lacks. */
export const RESYNC_PATH = `${INTERNAL_PREFIX}/nodes/resync`;

/** Body of a resync call: every tenant×shard the node serves, with what it has applied. */
export interface ResyncRequest {
  bootId: string;
  shards: Array<{ tenant: string; shard: number; applied: number }>;
}
