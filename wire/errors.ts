/**
 * Stable error ids, and the one mapping from an error's cause to an HTTP status.
 *
 * The registry is append-only: an id, once shipped, keeps its meaning, because
 * users grep logs and runbooks for it and `docs/errors.md` has a section per id.
 * The same id is the `reason` label on the discarded-samples counters.
 */
export const ErrorIds = {
  // auth
  missingCredentials: 'err-isobar-missing-credentials',
  invalidCredentials: 'err-isobar-invalid-credentials',
  insufficientScope: 'err-isobar-insufficient-scope',
  adminTokenRequired: 'err-isobar-admin-token-required',
  tooManyFailedLogins: 'err-isobar-too-many-failed-logins',
  // request framing
  bodyTooLarge: 'err-isobar-body-too-large',
  decompressedTooLarge: 'err-isobar-decompressed-too-large',
  invalidSnappy: 'err-isobar-invalid-snappy',
  unsupportedEncoding: 'err-isobar-unsupported-content-encoding',
  malformedProtobuf: 'err-isobar-malformed-protobuf',
  // series validation
  missingMetricName: 'err-isobar-missing-metric-name',
  invalidMetricName: 'err-isobar-invalid-metric-name',
  invalidLabelName: 'err-isobar-invalid-label-name',
  emptyLabelValue: 'err-isobar-empty-label-value',
  duplicateLabelNames: 'err-isobar-duplicate-label-names',
  unsortedLabels: 'err-isobar-labels-not-sorted',
  invalidUtf8: 'err-isobar-invalid-utf8',
  invalidTimestamp: 'err-isobar-invalid-timestamp',
  nativeHistogramsUnsupported: 'err-isobar-native-histograms-unsupported',
  invalidNativeHistogram: 'err-isobar-invalid-native-histogram',
  maxNativeHistogramBuckets: 'err-isobar-max-native-histogram-buckets',
  invalidExemplar: 'err-isobar-invalid-exemplar',
  exemplarLabelsTooLong: 'err-isobar-exemplar-labels-too-long',
  invalidMetadata: 'err-isobar-invalid-metadata',
  maxLabelNamesPerSeries: 'err-isobar-max-label-names-per-series',
  labelNameTooLong: 'err-isobar-label-name-too-long',
  labelValueTooLong: 'err-isobar-label-value-too-long',
  seriesTooLarge: 'err-isobar-series-too-large',
  sampleTooFarInFuture: 'err-isobar-sample-too-far-in-future',
  sampleTooOld: 'err-isobar-sample-too-old',
  duplicateSample: 'err-isobar-duplicate-sample',
  ingestionRateLimited: 'err-isobar-ingestion-rate-limited',
  maxSeriesPerTenant: 'err-isobar-max-series-per-tenant',
  maxSeriesPerMetric: 'err-isobar-max-series-per-metric',
  remoteWriteV2Unsupported: 'err-isobar-remote-write-2-unsupported',
  unsupportedMediaType: 'err-isobar-unsupported-media-type',
  // query side
  badMatcher: 'err-isobar-bad-matcher',
  unsupportedRegex: 'err-isobar-unsupported-regex',
  badParameter: 'err-isobar-bad-parameter',
  badQuery: 'err-isobar-bad-query',
  queryExecution: 'err-isobar-query-execution',
  queryMaxSamples: 'err-isobar-query-max-samples',
  queryMaxPoints: 'err-isobar-query-max-points',
  queryMaxSeries: 'err-isobar-query-max-series',
  queryMaxRange: 'err-isobar-query-max-range',
  queryTimeout: 'err-isobar-query-timeout',
  queryCanceled: 'err-isobar-query-canceled',
  // service side
  storageUnavailable: 'err-isobar-storage-unavailable',
  storageBacklogged: 'err-isobar-storage-backlogged',
  internal: 'err-isobar-internal',
  // the storage node's internal API
  notFound: 'err-isobar-not-found',
  nodeSecretRequired: 'err-isobar-node-secret-required',
  malformedBatch: 'err-isobar-malformed-batch',
  importRefused: 'err-isobar-import-refused',
  importPartMismatch: 'err-isobar-import-part-mismatch',
} as const;

export type ErrorId = (typeof ErrorIds)[keyof typeof ErrorIds];

/** What kind of failure an error is; decides the HTTP status, in one place. */
export type Cause =
  | 'bad-data'
  | 'unauthenticated'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'too-large'
  | 'unsupported-media'
  /** Well-formed, but it cannot be done (a PromQL evaluation error, a query over its limits). */
  | 'unprocessable'
  | 'limited'
  /** The client went away. */
  | 'canceled'
  /** It ran out of time. */
  | 'timeout'
  | 'unavailable'
  | 'internal';

/** An error a user can act on: a stable id, a cause, and a message saying what and which limit. */
export class IsobarError extends Error {
  constructor(
    readonly id: ErrorId,
    readonly cause_: Cause,
    message: string,
    /** Fields a JSON answer carries beside the message (an import part's size, say). */
    readonly details?: Readonly<Record<string, string | number>>,
  ) {
    super(message);
    this.name = 'IsobarError';
  }
  /** `message (err-isobar-...)`: what a client shows its user. */
  describe(): string {
    return `${this.message} (${this.id})`;
  }
}

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 499 | 500 | 503;

/** The one cause → HTTP status mapping (STYLE: classify once, map once), for the edge and the storage node alike. */
export function httpStatusOf(cause: Cause): ErrorStatus {
  switch (cause) {
    case 'bad-data':
      return 400;
    case 'unauthenticated':
      return 401;
    case 'forbidden':
      return 403;
    case 'not-found':
      return 404;
    case 'conflict':
      return 409;
    case 'too-large':
      return 413;
    case 'unsupported-media':
      return 415;
    case 'unprocessable':
      return 422;
    case 'limited':
      return 429;
    case 'canceled':
      return 499; // nginx's and Prometheus's "client closed request"
    case 'timeout':
    case 'unavailable':
      return 503;
    case 'internal':
      return 500;
    default:
      return unreachable(cause);
  }
}

/** The Prometheus API's `errorType` for a cause (its JSON error answers). */
export type PromErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'internal' | 'unavailable' | 'not_found' | 'unauthorized' | 'forbidden' | 'too_many_requests';

export function promErrorTypeOf(cause: Cause): PromErrorType {
  switch (cause) {
    case 'bad-data':
    case 'too-large':
    case 'unsupported-media':
      return 'bad_data';
    case 'unauthenticated':
      return 'unauthorized';
    case 'forbidden':
      return 'forbidden';
    case 'not-found':
      return 'not_found';
    case 'conflict':
    case 'unprocessable':
      return 'execution';
    case 'limited':
      return 'too_many_requests';
    case 'canceled':
      return 'canceled';
    case 'timeout':
      return 'timeout';
    case 'unavailable':
      return 'unavailable';
    case 'internal':
      return 'internal';
    default:
      return unreachable(cause);
  }
}

/** Closes a switch over a union: a new member becomes a compile error here. */
export function unreachable(x: never): never {
  throw new Error(`unreachable: ${String(x)}`);
}
