/**
 * Where a tenant's blocks live in the bucket, and what their meta.json says
 * besides Prometheus's fields (docs/format/bucket.md):
 *
 *   <tenant>/<ULID>/meta.json            written last: a block without it is not there
 *   <tenant>/<ULID>/index
 *   <tenant>/<ULID>/chunks/000001 ...
 *   <tenant>/<ULID>/deletion-mark.json   the block is going (Thanos's marker)
 *   <tenant>/isobar/<node>/deletions.json   delete_series requests in force
 *
 * The Thanos layout, so Thanos tools and promtool read a tenant's data.
 */
import { z } from 'zod';
import { CHUNKS_DIR, INDEX_FILE, META_FILE } from '../block/filenames.js';
import type { BlockMeta } from '../block/meta.js';

export const DELETION_MARK_FILE = 'deletion-mark.json';

export function blockPrefix(tenant: string, ulid: string): string {
  return `${tenant}/${ulid}/`;
}

export const metaKey = (tenant: string, ulid: string) => `${blockPrefix(tenant, ulid)}${META_FILE}`;
export const indexKey = (tenant: string, ulid: string) => `${blockPrefix(tenant, ulid)}${INDEX_FILE}`;
export const chunksKey = (tenant: string, ulid: string, segment: string) => `${blockPrefix(tenant, ulid)}${CHUNKS_DIR}/${segment}`;
export const deletionMarkKey = (tenant: string, ulid: string) => `${blockPrefix(tenant, ulid)}${DELETION_MARK_FILE}`;
export const deletionsKey = (tenant: string, node: string) => `${tenant}/isobar/${node}/deletions.json`;

/** The commit-log records of one shard a block holds: sequence numbers in (from, to] of log `logId`. */
export const ShardSpanSchema = z.object({ from: z.number().int().min(0), to: z.number().int().min(0), logId: z.string().max(100).optional() });
export type ShardSpan = z.infer<typeof ShardSpanSchema>;

/** Isobar's section of meta.json: which node wrote the block and which log records it holds. */
export const IsobarMetaSchema = z.object({
  node: z.string().min(1).max(100),
  shards: z.record(z.string().regex(/^\d+$/), ShardSpanSchema),
});
export type IsobarMeta = z.infer<typeof IsobarMetaSchema>;

/** Thanos's section: external labels, downsampling resolution (ms; 0 = raw) and who made the block. */
export const ThanosMetaSchema = z.object({
  labels: z.record(z.string(), z.string()),
  downsample: z.object({ resolution: z.number().int().min(0) }),
  source: z.string(),
});

export function thanosSection(tenant: string, source: 'sidecar' | 'compactor' | 'isobar-import' | 'isobar'): z.infer<typeof ThanosMetaSchema> {
  return { labels: { tenant }, downsample: { resolution: 0 }, source };
}

export function isobarOf(meta: BlockMeta): IsobarMeta | undefined {
  const parsed = IsobarMetaSchema.safeParse((meta as Record<string, unknown>).isobar);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The sections of a block merged from `sources`: each shard's span covers all
 * of theirs. Blocks of different nodes are never merged, so `node` is shared.
 */
export function mergedSections(sources: readonly BlockMeta[]): Record<string, unknown> {
  const first = sources[0] as Record<string, unknown> | undefined;
  const out: Record<string, unknown> = {};
  const thanos = ThanosMetaSchema.safeParse(first?.thanos);
  if (thanos.success) out.thanos = { ...thanos.data, source: 'compactor' };
  const parts = sources.map(isobarOf).filter((x): x is IsobarMeta => x !== undefined);
  if (parts.length > 0) {
    const shards: Record<string, ShardSpan> = {};
    for (const p of parts) {
      for (const [s, span] of Object.entries(p.shards)) {
        const cur = shards[s];
        if (!cur) shards[s] = { ...span };
        else if (cur.logId === span.logId) shards[s] = { ...cur, from: Math.min(cur.from, span.from), to: Math.max(cur.to, span.to) };
        else shards[s] = { ...span }; // the shard's log changed (sources are in time order): the later log counts
      }
    }
    out.isobar = { node: parts[0]!.node, shards };
  }
  return out;
}
