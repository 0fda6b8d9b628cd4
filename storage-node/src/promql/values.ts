/** What PromQL evaluation yields (samples, range series, values) and how it fails. */
import { ErrorIds, IsobarError, type Cause, type ErrorId } from '../../../wire/errors.js';
import type { Labels } from '../model/labels.js';
import type { NativeHistogram } from '../../../wire/histogram.js';

/** Each error a query can end with, and its cause (which gives the HTTP status and Prometheus's errorType). */
const QUERY_CAUSES = {
  [ErrorIds.queryExecution]: 'unprocessable',
  [ErrorIds.queryMaxPoints]: 'unprocessable',
  [ErrorIds.queryMaxRange]: 'unprocessable',
  [ErrorIds.queryMaxSeries]: 'unprocessable',
  [ErrorIds.queryMaxSamples]: 'unprocessable',
  [ErrorIds.queryTimeout]: 'timeout',
  [ErrorIds.queryCanceled]: 'canceled',
  [ErrorIds.storageUnavailable]: 'unavailable',
  [ErrorIds.badQuery]: 'bad-data',
} as const satisfies Partial<Record<ErrorId, Cause>>;
export type QueryErrorId = keyof typeof QUERY_CAUSES;

/** A query that cannot be answered: its id says which rule or limit (and so the status). */
export class QueryError extends IsobarError {
  constructor(message: string, id: QueryErrorId = ErrorIds.queryExecution) {
    super(id, QUERY_CAUSES[id], message);
    this.name = 'QueryError';
  }
}

/** The error of a query past its deadline. */
export function queryTimedOut(timeoutMs: number): QueryError {
  return new QueryError(`query timed out after ${timeoutMs / 1000}s (limit query_timeout_seconds / ISOBAR_QUERY_TIMEOUT_SECONDS, or the request's timeout parameter)`, ErrorIds.queryTimeout);
}

/** The error of a query whose client went away. */
export function queryCanceled(): QueryError {
  return new QueryError('query was canceled: the client went away', ErrorIds.queryCanceled);
}

export interface Sample {
  labels: Labels;
  v: number;
  /** A native-histogram sample (then `v` means nothing). */
  h?: NativeHistogram;
  /** Its __name__ goes when the query's result is made (delayed name removal). */
  drop?: boolean;
}

/**
 * A range-vector element: the window [lo, hi) of time and value columns.
 * The columns are usually the loaded data itself (read-only, shared): no copy
 * per step.
 */
export interface RangeSeries {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  lo: number;
  hi: number;
  /** Downsampled `avg_over_time` reads: each point's sample count (its value is their sum). */
  w?: Float64Array;
  /** Its __name__ goes when the query's result is made (a subquery over a name-dropping expression). */
  drop?: boolean;
  /** True when no value is below the one before it (a counter without resets): rate needs no reset pass. */
  monotonic?: boolean;
  /** Native-histogram points of the series, by time (beside its float points in t/v). */
  hs?: NativeHistogram[];
}

/** A series' native histograms as a query reads them, sorted by time. */
export interface HistogramSeries {
  labels: Labels;
  histograms: NativeHistogram[];
}

/** Values of a window as their own array (for the less common functions). */
export function windowValues(s: RangeSeries): number[] {
  return Array.from(s.v.subarray(s.lo, s.hi));
}

export type Value =
  | { type: 'scalar'; v: number }
  | { type: 'string'; s: string }
  | { type: 'vector'; samples: Sample[] }
  | { type: 'matrix'; series: RangeSeries[] };

/** One evaluation's frame: the query's range and step, and when it must be done. */
export interface EvalContext {
  start: number;
  end: number;
  step: number;
  deadline: number;
}

/** Where evaluation notes Prometheus's annotations: warnings and infos about a node of the query. */
export interface Annotator {
  warn(text: string, node: object): void;
  info(text: string, node: object): void;
}
