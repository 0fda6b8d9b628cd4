/**
 * Writes a Prometheus TSDB block: `<parent>/<ULID>/{meta.json, index, chunks/, tombstones}`.
 * Built in `<ULID>.tmp-for-creation`, every file fsynced, then renamed into
 * place and the parent fsynced: a crash leaves either no block or a whole one.
 */
import { ENCODING_FLOAT_HISTOGRAM, ENCODING_HISTOGRAM } from '../chunkenc/histogram.js';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ENCODING_XOR } from '../chunkenc/xor.js';
import { ChunksWriter } from './chunks-writer.js';
import { CHUNKS_DIR, INDEX_FILE, META_FILE, META_VERSION, TOMBSTONES_FILE, tmpBlockDir } from './filenames.js';
import { buildIndex, type IndexSeries } from './index-writer.js';
import { fsyncDir, writeFileSynced } from '../fs/durable-files.js';
import type { BlockMeta } from './meta.js';
import { encodeTombstones } from './tombstones.js';
import { ulid as newUlid } from './ulid.js';
import { compareLabelsUtf8 } from './utf8-order.js';

export interface BlockChunk {
  minT: number;
  maxT: number;
  /** Chunk bytes, u16 sample (or window) count first: XOR unless `encoding` says otherwise. */
  data: Uint8Array;
  /** The chunk file's encoding byte (ENCODING_XOR when absent; ENCODING_AGGR in downsampled blocks). */
  encoding?: number;
}

export interface BlockSeriesInput {
  /** Flat, name-sorted [name, value, ...]. */
  labels: readonly string[];
  /** Non-overlapping, sorted by time. */
  chunks: readonly BlockChunk[];
}

export interface WriteBlockOptions {
  level?: number;
  sources?: string[];
  parents?: BlockMeta['compaction']['parents'];
  /** Time for the ULID (defaults to now). */
  ulidTimeMs?: number;
  /** The block's ULID, when the caller needs a reproducible one (imports). */
  ulid?: string;
  /** For tests: the chunk segment size cap. */
  maxSegmentBytes?: number;
  /** meta.json's time range when it is wider than the chunks' (a downsampled block keeps its sources'). */
  span?: { minTime: number; maxTime: number };
  /** More meta.json sections (`thanos`, `isobar`: storage-node/src/bucket/layout.ts). */
  sections?: Record<string, unknown>;
}

/** Write a block from series (any order); returns its meta and folder. Series without chunks are left out. */
export function writeBlock(parentDir: string, input: readonly BlockSeriesInput[], opts: WriteBlockOptions = {}): { meta: BlockMeta; dir: string } {
  const series = input.filter((s) => s.chunks.length > 0).slice().sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  if (series.length === 0) throw new Error('writeBlock: no samples to write');
  const id = opts.ulid ?? newUlid(opts.ulidTimeMs);
  mkdirSync(parentDir, { recursive: true });
  const tmp = join(parentDir, tmpBlockDir(id));
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);

  const chunks = new ChunksWriter(tmp, opts.maxSegmentBytes);
  const indexSeries: IndexSeries[] = [];
  let minT = Infinity;
  let maxT = -Infinity;
  let numSamples = 0;
  let numHistogramSamples = 0;
  let numChunks = 0;
  for (const s of series) {
    const metas = s.chunks.map((c) => {
      const n = (c.data[0]! << 8) | c.data[1]!;
      numSamples += n;
      if (c.encoding === ENCODING_HISTOGRAM || c.encoding === ENCODING_FLOAT_HISTOGRAM) numHistogramSamples += n;
      numChunks++;
      if (c.minT < minT) minT = c.minT;
      if (c.maxT > maxT) maxT = c.maxT;
      return { minT: c.minT, maxT: c.maxT, ref: chunks.write(c.encoding ?? ENCODING_XOR, c.data) };
    });
    indexSeries.push({ labels: s.labels, chunks: metas });
  }
  chunks.close();
  writeFileSynced(join(tmp, INDEX_FILE), buildIndex(indexSeries));
  writeFileSynced(join(tmp, TOMBSTONES_FILE), encodeTombstones([]));
  const meta: BlockMeta = {
    ulid: id,
    minTime: Math.min(minT, opts.span?.minTime ?? Infinity),
    maxTime: Math.max(maxT + 1, opts.span?.maxTime ?? -Infinity),
    stats: { numSamples, numFloatSamples: numSamples - numHistogramSamples, numHistogramSamples, numSeries: series.length, numChunks },
    compaction: { level: opts.level ?? 1, sources: opts.sources ?? [id], ...(opts.parents ? { parents: opts.parents } : {}) },
    version: META_VERSION,
    ...opts.sections,
  };
  writeFileSynced(join(tmp, META_FILE), new TextEncoder().encode(JSON.stringify(meta, null, '\t') + '\n'));
  fsyncDir(join(tmp, CHUNKS_DIR));
  fsyncDir(tmp);
  const dir = join(parentDir, id);
  renameSync(tmp, dir);
  fsyncDir(parentDir);
  return { meta, dir };
}
