/**
 * Tenant authentication: `Authorization: Bearer <key>`, or Basic auth with
 * user = tenant id and password = key (what Grafana and Prometheus configs
 * send). Verified keys are cached per isolate for a short time; a revoked key
 * stops working within that time (ISOBAR_KEY_CACHE_TTL_SECONDS, default 30 s).
 */
import type { MiddlewareHandler } from 'hono';
import { ErrorIds, IsobarError } from '../../wire/errors.js';
import { intVar } from '../../durable/env.js';
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
const cache = new Map<string, { p: Principal; until: number }>();

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
    const parsed = parseApiKey(creds.key);
    const invalid = new IsobarError(ErrorIds.invalidCredentials, 'unauthenticated', 'invalid API key');
    if (!parsed) return fail(invalid);
    const digest = await sha256(parsed.secret);
    const cacheKey = `${parsed.keyId}:${hex(digest)}`;
    const now = Date.now();
    let principal = cache.get(cacheKey);
    if (!principal || principal.until <= now) {
      const registry = c.env.TENANT_REGISTRY.get(c.env.TENANT_REGISTRY.idFromName('global'));
      const p = await registry.verify(parsed.keyId, digest);
      if (!p) {
        cache.delete(cacheKey);
        return fail(invalid);
      }
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
      principal = { p, until: now + intVar(c.env.ISOBAR_KEY_CACHE_TTL_SECONDS, 30) * 1000 };
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
