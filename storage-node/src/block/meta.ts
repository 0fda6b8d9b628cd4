/**
 * `meta.json` of a block, as Prometheus (and Thanos) read it. `maxTime` is
 * exclusive: one past the newest sample.
 */
import { z } from 'zod';
import { META_VERSION } from './filenames.js';

export const BlockMetaSchema = z.object({
  ulid: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/),
  minTime: z.number().int(),
  maxTime: z.number().int(),
  stats: z
    .object({
      numSamples: z.number().int().min(0).optional(),
      /** Of numSamples, floats and native histograms (as Prometheus 3 writes them; absent: no histograms). */
      numFloatSamples: z.number().int().min(0).optional(),
      numHistogramSamples: z.number().int().min(0).optional(),
      numSeries: z.number().int().min(0).optional(),
      numChunks: z.number().int().min(0).optional(),
      numTombstones: z.number().int().min(0).optional(),
    })
    .optional(),
  compaction: z.object({
    level: z.number().int().min(1),
    sources: z.array(z.string()).optional(),
    parents: z.array(z.object({ ulid: z.string(), minTime: z.number(), maxTime: z.number() })).optional(),
    deletable: z.boolean().optional(),
  }),
  version: z.literal(META_VERSION),
}).loose();

export type BlockMeta = z.infer<typeof BlockMetaSchema>;

/** Block resolutions (ms): raw, and the downsampled tiers (docs/format/downsampled.md). */
export const RES_RAW = 0;
export const RES_5M = 300_000;
export const RES_1H = 3_600_000;
/** The tiers, finest first, with the names the admin API uses. */
export const TIERS = [
  { name: '5m', res: RES_5M },
  { name: '1h', res: RES_1H },
] as const;
/** Their resolutions, coarsest first: the order a query tries them in. */
export const COARSEST_FIRST: readonly number[] = TIERS.map((t) => t.res).reverse();

/** meta.json's downsampling resolution (ms; 0 for raw blocks and blocks without the Thanos section). */
export function resolutionOf(meta: BlockMeta): number {
  const r = (meta as { thanos?: { downsample?: { resolution?: unknown } } }).thanos?.downsample?.resolution;
  return typeof r === 'number' && r > 0 ? r : RES_RAW;
}
