/**
 * Tenant authentication: `Authorization: Bearer <key>`, or Basic auth with
 * user = tenant id and password = key (what Grafana and Prometheus configs
 * send). Verified keys are cached per isolate for a short time; a revoked key
 * stops working within that time (ISOBAR_KEY_CACHE_TTL_SECONDS, default 30 s,
 * never more than MAX_KEY_CACHE_SECONDS whatever it is set to).
 */
import type { MiddlewareHandler } from 'hono';
import { ErrorIds, IsobarError } from '../../wire/errors.js';
import { edgeConfig } from '../../durable/env.js';
import { TokenBucket } from '../../durable/token-bucket.js';
import { parseApiKey, sha256, type Principal, type Scope } from '../../durable/tenant-registry.js';
import type { AppEnv } from './context.js';
import { promError, textError } from './respond.js';

export interface Credentials {
  key: string;
  /** Basic-auth user, which must equal the key's tenant. */
  user?: string;
}

/** Credentials from an Authorization header, or an error saying what is wrong with it. */
export function parseAuthorization(header: string | undefined): Credentials | IsobarError {
  if (!header) return new IsobarError(ErrorIds.missingCredentials, 'unauthenticated', 'missing Authorization header: send "Bearer <api key>" or Basic auth with user = tenant id and password = api key');
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const rest = sp < 0 ? '' : header.slice(sp + 1).trim();
  if (scheme === 'bearer' && rest) return { key: rest };
  if (scheme === 'basic' && rest) {
    let decoded: string;
    try {
      decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(atob(rest), (ch) => ch.charCodeAt(0)));
    } catch {
      return new IsobarError(ErrorIds.invalidCredentials, 'unauthenticated', 'Basic auth credentials are not valid base64 of UTF-8 text');
    }
    const colon = decoded.indexOf(':');
    if (colon < 0) return new IsobarError(ErrorIds.invalidCredentials, 'unauthenticated', 'Basic auth credentials must be "tenant:api key"');
    return { user: decoded.slice(0, colon), key: decoded.slice(colon + 1) };
  }
  return new IsobarError(ErrorIds.invalidCredentials, 'unauthenticated', `unsupported Authorization scheme ${JSON.stringify(scheme.slice(0, 20))}: use Bearer or Basic`);
}

const CACHE_MAX = 10_000;
/** The promise made to operators: a revoked key stops working within a minute. */
const MAX_KEY_CACHE_SECONDS = 60;
const cache = new Map<string, { p: Principal; until: number }>();

/**
 * Failed key lookups per client address (per isolate): a token bucket of
 * FAILURE_BURST failures refilled at one per FAILURE_REFILL_MS. An empty token bucket
 * answers 429 instead of looking keys up, so guessing keys is slow. Keys this
 * isolate verified lately (cached) pass without touching the budget.
 */
const FAILURE_BURST = 30;
const FAILURE_REFILL_MS = 2000;
const failures = new Map<string, TokenBucket>();

function failureBudget(client: string): TokenBucket {
  let b = failures.get(client);
  if (!b) {
    if (failures.size >= CACHE_MAX) failures.delete(failures.keys().next().value!);
    failures.set(client, (b = new TokenBucket()));
  }
  return b;
}

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export interface AuthOptions {
  scope: Scope;
  /** Error body shape: text for the write path, Prometheus JSON for reads. */
  format: 'text' | 'prom';
}

/** Middleware: authenticate, check the scope, and set `principal`. */
export function authenticate({ scope, format }: AuthOptions): MiddlewareHandler<AppEnv> {
  const fail = format === 'text' ? textError : promError;
  return async function authenticateTenant(c, next) {
    const creds = parseAuthorization(c.req.header('authorization'));
    if (creds instanceof IsobarError) return fail(creds);
    const now = Date.now();
    const invalid = new IsobarError(ErrorIds.invalidCredentials, 'unauthenticated', 'invalid API key');
    const parsed = parseApiKey(creds.key);
    const digest = parsed ? await sha256(parsed.secret) : undefined;
    const cacheKey = parsed ? `${parsed.keyId}:${hex(digest!)}` : '';
    let principal = cache.get(cacheKey);
    if (!principal || principal.until <= now) {
      // Not a key verified lately: the address's failure budget decides whether we even look it up.
      const budget = failureBudget(c.req.header('cf-connecting-ip') ?? c.req.header('x-real-ip') ?? 'unknown');
      const waitSeconds = budget.wait(1, now, 1000 / FAILURE_REFILL_MS, FAILURE_BURST);
      if (waitSeconds > 0) {
        const wait = Math.ceil(waitSeconds);
        return fail(
          new IsobarError(ErrorIds.tooManyFailedLogins, 'limited', `too many requests with invalid API keys from this address (more than ${FAILURE_BURST}, then one per ${FAILURE_REFILL_MS / 1000}s); retry after ${wait}s with a valid key`),
          { 'retry-after': String(wait) },
        );
      }
      const p = parsed ? await c.env.TENANT_REGISTRY.get(c.env.TENANT_REGISTRY.idFromName('global')).verify(parsed.keyId, digest!) : undefined;
      if (!p) {
        cache.delete(cacheKey);
        budget.spend(1);
        return fail(invalid);
      }
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
      principal = { p, until: now + Math.min(MAX_KEY_CACHE_SECONDS, edgeConfig(c.env).keyCacheTtlSeconds) * 1000 };
      cache.set(cacheKey, principal);
    }
    const p = principal.p;
    if (creds.user !== undefined && creds.user !== p.tenant) {
      return fail(new IsobarError(ErrorIds.invalidCredentials, 'unauthenticated', 'Basic auth user does not match the API key\u2019s tenant'));
    }
    if (!p.scopes.includes(scope)) {
      return fail(new IsobarError(ErrorIds.insufficientScope, 'forbidden', `this API key lacks the "${scope}" scope`));
    }
    c.set('principal', p);
    await next();
  };
}
