/**
 * Prometheus HTTP API parameters: times as RFC 3339 or float seconds (rounded
 * to milliseconds as Prometheus rounds them), and `match[]` lists.
 */

import { ErrorIds, IsobarError } from '../../../wire/errors.js';

/** Prometheus's minimum and maximum API times, in ms. */
export const MIN_TIME_MS = -9223372036854; // math.MinInt64 / 1e6, what Prometheus uses
export const MAX_TIME_MS = 9223372036854;

/** A request parameter that cannot be read: 400 bad_data, naming the parameter. */
export class ParamError extends IsobarError {
  constructor(message: string) {
    super(ErrorIds.badParameter, 'bad-data', message);
    this.name = 'ParamError';
  }
}

const MIN_TIME_FORMATTED = '-292273086-05-16T16:47:06Z';
const MAX_TIME_FORMATTED = '292277025-08-18T07:12:54.999999999Z';

/** Parse a time parameter to ms since the epoch; `fallback` when absent or empty. */
export function parseTime(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) {
    const f = Number(raw);
    if (Number.isFinite(f)) {
      // Go's math.Round (half away from zero) on the fraction, to whole ms.
      const secs = Math.trunc(f);
      const frac = f - secs;
      return secs * 1000 + Math.sign(frac) * Math.round(Math.abs(frac) * 1000);
    }
  }
  if (raw === MIN_TIME_FORMATTED) return MIN_TIME_MS;
  if (raw === MAX_TIME_FORMATTED) return MAX_TIME_MS;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) {
    const ms = Date.parse(raw);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new ParamError(`invalid parameter ${JSON.stringify(name)}: cannot parse ${JSON.stringify(raw)} to a valid timestamp`);
}

/** Read a form or query parameter list (`match[]`) from URLSearchParams-like input. */
export function paramList(params: URLSearchParams, name: string): string[] {
  return params.getAll(name);
}
