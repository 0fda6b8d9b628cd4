import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ShardRegistry } from './shard-registry.js';

describe('ShardRegistry', () => {
  it('remembers new pairs on disk, once each, and loads them back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-shards-'));
    const a = new ShardRegistry(dir);
    expect(a.load()).toEqual({ loaded: 0 });
    expect(a.remember('acme', 0)).toBe(true);
    expect(a.remember('acme', 0)).toBe(false);
    expect(a.remember('demo', 3)).toBe(true);
    const b = new ShardRegistry(dir);
    expect(b.load()).toEqual({ loaded: 2 });
    expect(b.pairs).toEqual([{ tenant: 'acme', shard: 0 }, { tenant: 'demo', shard: 3 }]);
    expect(JSON.parse(readFileSync(join(dir, 'shards.json'), 'utf8'))).toHaveLength(2);
  });

  it('reports a damaged file instead of trusting it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-shards-'));
    writeFileSync(join(dir, 'shards.json'), '[{"tenant":"../etc","shard":-1}]');
    const r = new ShardRegistry(dir).load();
    expect(r.loaded).toBe(0);
    expect(r.problem).toMatch(/not a valid shard list/);
    writeFileSync(join(dir, 'shards.json'), '{not json');
    expect(new ShardRegistry(dir).load().problem).toMatch(/not a valid shard list/);
  });
});
