/**
 * The per-tenant state files (spec: docs/format/node-state.md): the zod
 * schemas, and their reads and atomic writes. A damaged file is logged and
 * read as empty; the caller decides what that costs.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { errorFields, type Logger } from '../../../wire/log.js';
import { RES_1H, RES_5M } from '../downsample/downsample.js';
import { writeFileAtomic } from '../fs/durable-files.js';
import { MetadataFile } from '../db/metadata.js';

/** A tenant's downsampled tiers: how long each is kept (ms; 0: not made). */
export type TierRetention = { [RES_5M]: number; [RES_1H]: number };
export const NO_TIERS: TierRetention = { [RES_5M]: 0, [RES_1H]: 0 };

const StateFile = z.object({
  persisted: z.record(z.string().regex(/^\d+$/), z.number().int().min(0)),
  logIds: z.record(z.string().regex(/^\d+$/), z.string().max(100)).optional(),
  /** The tenant's own retention, as its coordinators last said (ms). */
  retentionMs: z.number().int().min(1).optional(),
  /** Its downsampled tiers' retention (ms; 0: the tier is off), by resolution. */
  tiersMs: z.object({ [RES_5M]: z.number().int().min(0), [RES_1H]: z.number().int().min(0) }).optional(),
  /** Per shard, its share of the tenant's max_exemplars, as its coordinator last said. */
  exemplars: z.record(z.string().regex(/^\d+$/), z.number().int().min(0).max(10_000_000)).optional(),
});

/** One delete_series request in force. */
export const DeletionsFile = z.array(z.object({ selector: z.string().max(10_000), mint: z.number(), maxt: z.number() }));
export type DeletionEntry = z.infer<typeof DeletionsFile>[number];

export interface TenantState {
  /** Per shard: the persisted position and the coordinator log it counts in. */
  positions: Array<{ shard: number; persisted: number; logId?: string }>;
  retentionMs?: number;
  tiersMs?: TierRetention;
  /** shard -> exemplars kept for it */
  exemplars?: Record<string, number>;
}

const text = new TextEncoder();

export function readTenantState(path: string, log: Logger, tenant: string): TenantState {
  if (!existsSync(path)) return { positions: [] };
  try {
    const parsed = StateFile.parse(JSON.parse(readFileSync(path, 'utf8')));
    return {
      positions: Object.entries(parsed.persisted).map(([s, persisted]) => ({ shard: Number(s), persisted, ...(parsed.logIds?.[s] ? { logId: parsed.logIds[s] } : {}) })),
      ...(parsed.retentionMs ? { retentionMs: parsed.retentionMs } : {}),
      ...(parsed.tiersMs ? { tiersMs: parsed.tiersMs } : {}),
      ...(parsed.exemplars ? { exemplars: parsed.exemplars } : {}),
    };
  } catch (e) {
    log.error('state file unreadable; positions start from 0 (coordinators will replay)', { tenant, path, ...errorFields(e) });
    return { positions: [] };
  }
}

export function writeTenantState(path: string, st: TenantState): void {
  const persisted: Record<string, number> = {};
  const logIds: Record<string, string> = {};
  for (const p of st.positions) {
    persisted[String(p.shard)] = p.persisted;
    if (p.logId) logIds[String(p.shard)] = p.logId;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, text.encode(JSON.stringify({ persisted, logIds, ...(st.retentionMs ? { retentionMs: st.retentionMs } : {}), ...(st.tiersMs ? { tiersMs: st.tiersMs } : {}), ...(st.exemplars ? { exemplars: st.exemplars } : {}) })));
}

/** A tenant's exemplar snapshot, or undefined when there is none or it is damaged (logged). */
export function readExemplarSnapshot(path: string, log: Logger, tenant: string): Uint8Array | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    log.error('exemplar snapshot unreadable; exemplars from before the last flush are gone', { tenant, path, ...errorFields(e) });
    return undefined;
  }
}

export function readMetadataFile(path: string, log: Logger, tenant: string): z.infer<typeof MetadataFile> {
  if (!existsSync(path)) return {};
  try {
    return MetadataFile.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (e) {
    log.error('metadata file unreadable; metadata from before the last flush is gone until senders say it again', { tenant, path, ...errorFields(e) });
    return {};
  }
}

/** Write a side store (exemplar snapshot, metadata) atomically. */
export function writeStateBytes(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, typeof bytes === 'string' ? text.encode(bytes) : bytes);
}

export function readDeletions(path: string, log: Logger, tenant: string): DeletionEntry[] {
  if (!existsSync(path)) return [];
  try {
    return DeletionsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (e) {
    log.error('deletions file unreadable; deleted series may show again', { tenant, path, ...errorFields(e) });
    return [];
  }
}

export function writeDeletions(path: string, entries: readonly DeletionEntry[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, text.encode(JSON.stringify(entries.map(({ selector, mint, maxt }) => ({ selector, mint, maxt })))));
}
