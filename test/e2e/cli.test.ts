/**
 * The `isobar` command against the running stack: create a tenant and a key,
 * write with that key, set limits (and see them enforced), list and revoke keys;
 * tables by default, the API's JSON with --json, clear failures.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { eventually, useStack } from '../support/stack.js';

// A short key cache, so changed limits reach the edge quickly (the default is 30 s).
process.env.ISOBAR_KEY_CACHE_TTL_SECONDS = '2';

const exec = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/isobar.mjs');

describe('isobar CLI', () => {
  const st = useStack();
  const cli = async (...args: string[]) => {
    try {
      const r = await exec(process.execPath, [BIN, '--url', st.client.base, ...args], { env: { ...process.env, ISOBAR_ADMIN_TOKEN: st.s.ISOBAR_ADMIN_TOKEN } });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, out: x.stdout, err: x.stderr };
    }
  };

  it('manages tenants, keys and limits', async () => {
    expect(await cli('tenant', 'create', 'cli-acme', '--name', 'Acme', '--shards', '2')).toMatchObject({ code: 0, out: 'created tenant cli-acme (2 shards)\n' });
    const list = await cli('tenant', 'list');
    expect(list.out).toMatch(/^id\s+name\s+shards\s+createdAt\n/);
    expect(list.out).toMatch(/\ncli-acme\s+Acme\s+2\s+20\d\d-/);

    const created = JSON.parse((await cli('--json', 'key', 'create', 'cli-acme', '--scopes', 'write,read', '--name', 'ci')).out);
    expect(created).toMatchObject({ scopes: ['write', 'read'], key: expect.stringMatching(/^isb_/) });
    expect((await st.client.write([{ labels: [['__name__', 'cli_written']], samples: [[Date.now(), 1]] }], created.key)).status).toBe(204);

    const set = await cli('limits', 'set', 'cli-acme', '--max-label-names-per-series', '2', '--ingestion-rate', '1000', '--retention-seconds', '864000');
    expect(set.code).toBe(0);
    expect(set.out).toMatch(/max_label_names_per_series\s+2\s+tenant/);
    expect(set.out).toMatch(/ingestion_rate\s+1000\s+tenant/);
    expect(set.out).toMatch(/retention_seconds\s+864000\s+tenant/);
    expect(set.out).toMatch(/max_future_seconds\s+600\s+default/);
    // In force once the edge's key cache lets the new limits through.
    const refused = await eventually(
      async () => (await st.client.write([{ labels: [['__name__', 'cli_wide'], ['a', '1'], ['b', '2']], samples: [[Date.now(), 1]] }], created.key)).status,
      (s) => s === 400,
      15_000,
    );
    expect(refused).toBe(400);
    // The tenant's retention reaches the storage node with its next write, which keeps it for its block deletion.
    expect((await st.client.write([{ labels: [['__name__', 'cli_written']], samples: [[Date.now(), 2]] }], created.key)).status).toBe(204);
    const state = JSON.parse(readFileSync(join(st.s.ISOBAR_DATA_DIR, 'node', 'state', 'cli-acme.json'), 'utf8'));
    expect(state.retentionMs).toBe(864_000_000);

    const keys = await cli('key', 'list', 'cli-acme');
    expect(keys.out).toMatch(new RegExp(`\\n${created.id}\\s+ci\\s+write,read\\s+active`));
    expect(keys.out).not.toContain(created.key.slice(`isb_${created.id}_`.length)); // no secret (which may itself hold '_')
    expect((await cli('key', 'revoke', 'cli-acme', created.id)).code).toBe(0);
    expect((await cli('key', 'list', 'cli-acme')).out).toMatch(new RegExp(`\\n${created.id}\\s+ci\\s+write,read\\s+revoked`));

    const usage = await cli('usage', 'cli-acme');
    // cli_written, and cli_wide as often as it was written before the new limit reached the edge.
    const accepted = Number(/\nsamples accepted\s+(\d+)\s+\1\n/.exec(usage.out)?.[1]);
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(usage.out).toMatch(new RegExp(`^cli-acme: ${accepted === 1 ? 1 : 2} active series, \\d+ bytes stored\\n`));
    expect(usage.out).toMatch(/\nsamples refused: err-isobar-max-label-names-per-series\s+1\s+1\n/);

    expect(await cli('tenant', 'delete', 'cli-acme')).toMatchObject({ code: 0, out: 'deleted tenant cli-acme and its data\n' });
    expect((await cli('tenant', 'list')).out).not.toContain('cli-acme');
  });

  it('fails clearly: usage errors exit 2, refused requests exit 1 with the API\u2019s message', async () => {
    expect(await cli('limits', 'set', 'cli-acme', '--ingestion-rate', 'fast')).toMatchObject({ code: 2, err: expect.stringMatching(/--ingestion-rate needs a positive whole number, got "fast"/) });
    expect(await cli('limits', 'set', 'cli-acme', '--no-such-limit', '3')).toMatchObject({ code: 2, err: expect.stringMatching(/Unknown option '--no-such-limit'/) });
    expect(await cli('tenant', 'get', 'nobody-here')).toMatchObject({ code: 1, err: expect.stringMatching(/404 no tenant nobody-here \(err-isobar-bad-parameter\)/) });
    expect(await cli('--token', 'wrong', 'tenant', 'list')).toMatchObject({ code: 1, err: expect.stringMatching(/401 .*operator token/) });
  });
});
