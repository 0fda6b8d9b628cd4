/**
 * There is no Cloudflare account here, so `wrangler deploy` cannot run; its
 * dry run still bundles the Worker and resolves every binding of the
 * production environment. This keeps wrangler.toml deployable.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

describe('wrangler.toml, production environment', () => {
  it('bundles, and binds the coordinators, the registry and the storage-node containers', async () => {
    // @ts-expect-error plain ESM script
    const { toolCommand } = await import('../../scripts/tool-node.mjs');
    const [bin, args] = toolCommand('wrangler', ['deploy', '--dry-run', '--env', 'production', '--containers-rollout=none', '--outdir', mkdtempSync(join(tmpdir(), 'isobar-dry-'))]);
    const r = spawnSync(bin, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
    const out = r.stdout + r.stderr;
    expect(r.status, out).toBe(0);
    expect(out).toMatch(/env\.SHARD_COORDINATOR \(ShardCoordinator\)\s+Durable Object/);
    expect(out).toMatch(/env\.TENANT_REGISTRY \(TenantRegistry\)\s+Durable Object/);
    expect(out).toMatch(/env\.STORAGE_NODE \(StorageNodeContainer\)\s+Durable Object/);
    expect(out).toMatch(/isobar-storagenodecontainer-production \(.*infra\/storage-node\.Dockerfile\)/);
    expect(out).toContain('env.ISOBAR_ENV ("production")');
    expect(out).toContain('env.ISOBAR_S3_BUCKET ("isobar-blocks")'); // where containers upload blocks
    expect(out).not.toMatch(/ISOBAR_DEMO_KEY|ISOBAR_ADMIN_TOKEN|ISOBAR_NODE_SECRET|ISOBAR_S3_SECRET_ACCESS_KEY/); // secrets never in config
  }, 60_000);
});
