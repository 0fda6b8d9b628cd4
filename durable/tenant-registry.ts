/**
 * TenantRegistry: the source of truth for tenants and API keys. One instance
 * (name "global"), SQLite-backed.
 *
 * Keys have the form `isb_<keyId>_<secret>`. Only SHA-256(secret) is stored;
 * `keyId` finds the row without a scan, and the hash comparison is constant
 * time. A key's secret is returned once, when it is created.
 */
import { DurableObject } from 'cloudflare:workers';
import type { ShardCoordinator } from './shard-coordinator.js';
import { edgeConfig, type EdgeVars } from './vars.js';

/** What the registry reads: the variables, and the coordinators it tells to purge a deleted tenant. */
type RegistryEnv = EdgeVars & { SHARD_COORDINATOR: DurableObjectNamespace<ShardCoordinator> };
import type { Limits, LimitsPatch } from './limits.js';
import { transportFrom } from './transport.js';
import { INTERNAL_PREFIX } from '../wire/internal-api.js';

export type Scope = 'write' | 'read' | 'admin';

export interface Principal {
  tenant: string;
  keyId: string;
  scopes: Scope[];
  /** The tenant's effective limits (defaults with its overrides). */
  limits: Limits;
  /** When the tenant was created (ms): tells a re-created tenant from the deleted one of the same id. */
  generation: number;
}

export interface TenantInfo {
  id: string;
  name: string;
  createdAt: string;
  /** Effective limits: the global defaults with this tenant's overrides. */
  limits: Limits;
  /** The limits set for this tenant (the rest follow the global defaults). */
  overrides: LimitsPatch;
}

type TenantRow = {
  id: string;
  name: string;
  shards: number;
  limits: string;
  created_ms: number;
};

export interface KeyInfo {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
  expiresAt: string | null;
  revoked: boolean;
}

export const DEMO_TENANT = 'demo';
/** How soon an unfinished tenant deletion is tried again. */
const PURGE_RETRY_MS = 60_000;

export interface PendingDeletion {
  id: string;
  deletedAt: string;
  attempts: number;
  lastError: string | null;
}
const KEY_RE = /^isb_([a-z0-9]{4,32})_([A-Za-z0-9_-]{16,128})$/;

/** Split a presented key into id and secret; undefined if it is not a key at all. */
export function parseApiKey(key: string): { keyId: string; secret: string } | undefined {
  const m = KEY_RE.exec(key);
  return m ? { keyId: m[1]!, secret: m[2]! } : undefined;
}

export async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
}

function randomToken(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export class TenantRegistry extends DurableObject<RegistryEnv> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: RegistryEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS tenants (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, shards INTEGER NOT NULL, created_ms INTEGER NOT NULL)`);
      // Added with per-tenant limits: overrides as JSON (shards keep their own column).
      if (!this.sql.exec(`SELECT 1 FROM pragma_table_info('tenants') WHERE name = 'limits'`).toArray().length) {
        this.sql.exec(`ALTER TABLE tenants ADD COLUMN limits TEXT NOT NULL DEFAULT '{}'`);
      }
      this.sql.exec(`CREATE TABLE IF NOT EXISTS keys (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, secret_sha256 BLOB NOT NULL, scopes TEXT NOT NULL,
        name TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER, revoked INTEGER NOT NULL DEFAULT 0)`);
      // Tenants deleted whose data is still to be removed (coordinators' logs, nodes' data).
      this.sql.exec(`CREATE TABLE IF NOT EXISTS deletions (
        id TEXT PRIMARY KEY, generation INTEGER NOT NULL, shards INTEGER NOT NULL, deleted_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)`);
      await this.ensureDevTenant();
    });
  }

  /** Development: tenant `demo` with the key in ISOBAR_DEMO_KEY (never in production). */
  private async ensureDevTenant(): Promise<void> {
    const config = edgeConfig(this.env);
    const key = config.demoKey;
    if (config.env === 'production' || !key) return;
    const parsed = parseApiKey(key);
    if (!parsed) throw new Error('ISOBAR_DEMO_KEY is not of the form isb_<id>_<secret>');
    const shards = config.demoShards;
    this.sql.exec(
      `INSERT INTO tenants (id, name, shards, created_ms) VALUES (?, 'Development tenant', ?, ?)
       ON CONFLICT(id) DO UPDATE SET shards = excluded.shards`,
      DEMO_TENANT, shards, Date.now(),
    );
    const hash = await sha256(parsed.secret);
    this.sql.exec(
      `INSERT INTO keys (id, tenant, secret_sha256, scopes, name, created_ms) VALUES (?, ?, ?, 'write,read,admin', 'demo key', ?)
       ON CONFLICT(id) DO UPDATE SET secret_sha256 = excluded.secret_sha256, tenant = excluded.tenant, revoked = 0`,
      parsed.keyId, DEMO_TENANT, hash, Date.now(),
    );
  }

  /** Readiness probe. */
  async ping(): Promise<boolean> {
    return true;
  }

  /** The principal for a presented key, or undefined (unknown, wrong, revoked or expired). */
  async verify(keyId: string, secretSha256: ArrayBuffer): Promise<Principal | undefined> {
    const row = this.sql
      .exec<{ tenant: string; secret_sha256: ArrayBuffer; scopes: string; expires_ms: number | null; revoked: number; shards: number; limits: string; created_ms: number }>(
        `SELECT k.tenant, k.secret_sha256, k.scopes, k.expires_ms, k.revoked, t.shards, t.limits, t.created_ms
         FROM keys k JOIN tenants t ON t.id = k.tenant WHERE k.id = ?`,
        keyId,
      )
      .toArray()[0];
    // Compare even when there is no row, so timing does not tell which key ids exist.
    const stored = row ? new Uint8Array(row.secret_sha256) : new Uint8Array(32);
    const given = new Uint8Array(secretSha256);
    const same = stored.byteLength === given.byteLength && crypto.subtle.timingSafeEqual(stored, given);
    if (!row || !same || row.revoked || (row.expires_ms !== null && row.expires_ms <= Date.now())) return undefined;
    return { tenant: row.tenant, keyId, scopes: row.scopes.split(',') as Scope[], limits: this.effective(row.shards, row.limits), generation: row.created_ms };
  }

  private effective(shards: number, overrides: string): Limits {
    return { ...edgeConfig(this.env).limits, ...(JSON.parse(overrides) as LimitsPatch), shards };
  }

  private info(r: TenantRow): TenantInfo {
    const overrides = JSON.parse(r.limits) as LimitsPatch;
    if (r.shards !== edgeConfig(this.env).limits.shards) overrides.shards = r.shards;
    return { id: r.id, name: r.name, createdAt: new Date(r.created_ms).toISOString(), limits: this.effective(r.shards, r.limits), overrides };
  }

  async createTenant(id: string, name: string, limits: LimitsPatch = {}): Promise<TenantInfo | 'exists' | 'deleting'> {
    const exists = this.sql.exec(`SELECT 1 FROM tenants WHERE id = ?`, id).toArray().length > 0;
    if (exists) return 'exists';
    // Its data must be gone before the id is used again (the nodes know tenants by id only).
    if (this.sql.exec(`SELECT 1 FROM deletions WHERE id = ?`, id).toArray().length > 0) return 'deleting';
    const { shards = edgeConfig(this.env).limits.shards, ...rest } = limits;
    this.sql.exec(`INSERT INTO tenants (id, name, shards, created_ms, limits) VALUES (?, ?, ?, ?, ?)`, id, name, shards, Date.now(), JSON.stringify(rest));
    return (await this.getTenant(id))!;
  }

  /**
   * Delete a tenant: its keys stop verifying at once, its coordinators refuse
   * its writes (even from edges that still cache a key) once purged, and its
   * data is removed from every node. Removal is retried by alarm until done.
   */
  async deleteTenant(id: string): Promise<{ deleted: string; pending: PendingDeletion[] } | undefined> {
    const r = this.sql.exec<TenantRow>(`SELECT * FROM tenants WHERE id = ?`, id).toArray()[0];
    if (!r) return undefined;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM keys WHERE tenant = ?`, id);
      this.sql.exec(`DELETE FROM tenants WHERE id = ?`, id);
      this.sql.exec(`INSERT OR REPLACE INTO deletions (id, generation, shards, deleted_ms) VALUES (?, ?, ?, ?)`, id, r.created_ms, r.shards, Date.now());
    });
    return { deleted: id, pending: await this.purgePending() };
  }

  /** Remove what deleted tenants left behind; returns the deletions still unfinished. */
  async purgePending(): Promise<PendingDeletion[]> {
    const rows = this.sql.exec<{ id: string; generation: number; shards: number; deleted_ms: number }>(`SELECT id, generation, shards, deleted_ms FROM deletions`).toArray();
    for (const d of rows) {
      try {
        // Coordinators first, so nothing replays the tenant into a node after its data is removed.
        await Promise.all(
          Array.from({ length: d.shards }, (_, shard) => this.env.SHARD_COORDINATOR.get(this.env.SHARD_COORDINATOR.idFromName(`${d.id}/${shard}`)).purge(d.generation)),
        );
        await Promise.all(
          transportFrom(this.env).all().map(async (n) => {
            const res = await n.fetch(`${INTERNAL_PREFIX}/tenants/${encodeURIComponent(d.id)}`, { method: 'DELETE', signal: AbortSignal.timeout(60_000) });
            if (!res.ok) throw new Error(`${n.id} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
          }),
        );
        this.sql.exec(`DELETE FROM deletions WHERE id = ?`, d.id);
      } catch (e) {
        this.sql.exec(`UPDATE deletions SET attempts = attempts + 1, last_error = ? WHERE id = ?`, (e as Error).message.slice(0, 500), d.id);
      }
    }
    const left = this.sql
      .exec<{ id: string; deleted_ms: number; attempts: number; last_error: string | null }>(`SELECT id, deleted_ms, attempts, last_error FROM deletions ORDER BY id`)
      .toArray()
      .map((x) => ({ id: x.id, deletedAt: new Date(x.deleted_ms).toISOString(), attempts: x.attempts, lastError: x.last_error }));
    if (left.length > 0) await this.ctx.storage.setAlarm(Date.now() + PURGE_RETRY_MS);
    return left;
  }

  override async alarm(): Promise<void> {
    await this.purgePending();
  }

  async getTenant(id: string): Promise<TenantInfo | undefined> {
    const r = this.sql.exec<TenantRow>(`SELECT * FROM tenants WHERE id = ?`, id).toArray()[0];
    return r ? this.info(r) : undefined;
  }

  async listTenants(): Promise<TenantInfo[]> {
    return this.sql.exec<TenantRow>(`SELECT * FROM tenants ORDER BY id`).toArray().map((r) => this.info(r));
  }

  /**
   * Change some of a tenant's limits; the rest keep their values. Edges apply
   * the new limits within their key cache time. Raising `shards` sends new
   * writes to more coordinators; data already written stays where it is and
   * stays queryable (queries read every node).
   */
  async patchLimits(id: string, patch: LimitsPatch): Promise<TenantInfo | undefined> {
    const r = this.sql.exec<TenantRow>(`SELECT * FROM tenants WHERE id = ?`, id).toArray()[0];
    if (!r) return undefined;
    const { shards = r.shards, ...rest } = patch;
    const merged = { ...(JSON.parse(r.limits) as LimitsPatch), ...rest };
    this.sql.exec(`UPDATE tenants SET shards = ?, limits = ? WHERE id = ?`, shards, JSON.stringify(merged), id);
    return this.getTenant(id);
  }

  /** A tenant's keys, without secrets (only their hashes exist here anyway, and those are not returned). */
  async listKeys(tenant: string): Promise<KeyInfo[] | 'no-tenant'> {
    if (!(await this.getTenant(tenant))) return 'no-tenant';
    return this.sql
      .exec<{ id: string; scopes: string; name: string; created_ms: number; expires_ms: number | null; revoked: number }>(
        `SELECT id, scopes, name, created_ms, expires_ms, revoked FROM keys WHERE tenant = ? ORDER BY created_ms, id`,
        tenant,
      )
      .toArray()
      .map((r) => ({
        id: r.id,
        name: r.name,
        scopes: r.scopes.split(',') as Scope[],
        createdAt: new Date(r.created_ms).toISOString(),
        expiresAt: r.expires_ms === null ? null : new Date(r.expires_ms).toISOString(),
        revoked: r.revoked === 1,
      }));
  }

  /** Revoke a key; false when the tenant has no such key. Edges stop accepting it within their cache time. */
  async revokeKey(tenant: string, keyId: string): Promise<boolean> {
    const r = this.sql.exec(`UPDATE keys SET revoked = 1 WHERE tenant = ? AND id = ?`, tenant, keyId);
    return r.rowsWritten > 0;
  }

  /** Create a key; the returned `key` is the only time its secret exists outside the client. */
  async createKey(tenant: string, scopes: Scope[], name: string, expiresMs?: number): Promise<{ id: string; key: string; scopes: Scope[] } | 'no-tenant'> {
    if (!(await this.getTenant(tenant))) return 'no-tenant';
    const id = randomToken(9).toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 12).padEnd(12, '0');
    const secret = randomToken(32);
    this.sql.exec(
      `INSERT INTO keys (id, tenant, secret_sha256, scopes, name, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      id, tenant, await sha256(secret), scopes.join(','), name, Date.now(), expiresMs ?? null,
    );
    return { id, key: `isb_${id}_${secret}`, scopes };
  }
}
