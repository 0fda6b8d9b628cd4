/**
 * The tenant×shard pairs this node serves, kept in `<node dir>/shards.json` so
 * that after a restart the node can name every coordinator that must refill it.
 * Written only when a new pair appears (rare), atomically (temp file, fsync, rename; docs/format/node-state.md).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TENANT_ID_RE } from '../../wire/tenant-id.js';
import { writeFileAtomic } from './fs/durable-files.js';

const FILE = 'shards.json';
const Shape = z.array(z.object({ tenant: z.string().regex(TENANT_ID_RE), shard: z.number().int().min(0) }));

export class ShardRegistry {
  private readonly known = new Set<string>();
  readonly pairs: Array<{ tenant: string; shard: number }> = [];

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Load the file; a missing file is an empty list, a damaged one is reported and ignored. */
  load(): { loaded: number; problem?: string } {
    let raw: string;
    try {
      raw = readFileSync(join(this.dir, FILE), 'utf8');
    } catch {
      return { loaded: 0 };
    }
    const parsed = Shape.safeParse((() => { try { return JSON.parse(raw); } catch { return undefined; } })());
    if (!parsed.success) return { loaded: 0, problem: `${join(this.dir, FILE)} is not a valid shard list; ignoring it` };
    for (const p of parsed.data) this.remember(p.tenant, p.shard, false);
    return { loaded: this.pairs.length };
  }

  /** Record a pair; true when it was new. */
  /** Forget a deleted tenant's shards. */
  forget(tenant: string): void {
    const before = this.pairs.length;
    for (let i = this.pairs.length - 1; i >= 0; i--) {
      if (this.pairs[i]!.tenant !== tenant) continue;
      this.known.delete(`${tenant}/${this.pairs[i]!.shard}`);
      this.pairs.splice(i, 1);
    }
    if (this.pairs.length !== before) this.save();
  }

  remember(tenant: string, shard: number, persist = true): boolean {
    const key = `${tenant}/${shard}`;
    if (this.known.has(key)) return false;
    this.known.add(key);
    this.pairs.push({ tenant, shard });
    if (persist) this.save();
    return true;
  }

  private save(): void {
    writeFileAtomic(join(this.dir, FILE), new TextEncoder().encode(JSON.stringify(this.pairs)));
  }
}
