/**
 * Error responses, in the two shapes clients parse:
 *  - write path: plain text, as Prometheus's remote-write receiver answers
 *    (clients log the body; 4xx are not retried, 5xx and 429 are);
 *  - read path: Prometheus API JSON `{"status":"error","errorType":...,"error":...}`.
 */
import { httpStatusOf, promErrorTypeOf, type IsobarError } from '../../wire/errors.js';
import { errorJson } from '../../wire/prom-json.js';

export function textError(e: IsobarError, headers: Record<string, string> = {}): Response {
  return new Response(e.describe() + '\n', { status: httpStatusOf(e.cause_), headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } });
}

export function promError(e: IsobarError, headers: Record<string, string> = {}): Response {
  return new Response(errorJson(promErrorTypeOf(e.cause_), e.describe()), { status: httpStatusOf(e.cause_), headers: { 'content-type': 'application/json', ...headers } });
}

export function promJson(body: string, status = 200): Response {
  return new Response(body, { status, headers: { 'content-type': 'application/json' } });
}
