/**
 * The tenant-id rule, for every part that takes a tenant id: the admin API,
 * the registry, the internal API, the storage node's folders and state files.
 * An id is a DNS label's worth of [a-z0-9-], so it is safe in a path, a bucket
 * key and a Durable Object name alike.
 */
export const TENANT_ID_RE = /^[a-z0-9-]{1,63}$/;

/** What an id must look like, for error messages. */
export const TENANT_ID_RULE = 'tenant ids are 1-63 characters of [a-z0-9-]';

export function isTenantId(id: string): boolean {
  return TENANT_ID_RE.test(id);
}
