/**
 * On-disk names and magic numbers of Prometheus TSDB blocks, in one place.
 * Spec: prometheus/prometheus tsdb/docs/format/{index,chunks,tombstones}.md.
 */
export const INDEX_FILE = 'index';
export const META_FILE = 'meta.json';
export const TOMBSTONES_FILE = 'tombstones';
export const CHUNKS_DIR = 'chunks';

export const INDEX_MAGIC = 0xbaaad700;
/** Index format v2: series referenced by offset/16, symbols by position. */
export const INDEX_VERSION = 2;
export const CHUNKS_MAGIC = 0x85bd40dd;
export const CHUNKS_VERSION = 1;
export const CHUNKS_HEADER_BYTES = 8;
/** Prometheus's cap on one chunk segment file. */
export const MAX_CHUNK_SEGMENT_BYTES = 512 * 1024 * 1024;
export const TOMBSTONES_MAGIC = 0x0130ba30;
export const TOMBSTONES_VERSION = 1;
export const META_VERSION = 1;
export const TOC_BYTES = 6 * 8 + 4;
/** Series entries in the index start at multiples of 16; their ref is offset / 16. */
export const SERIES_ALIGN = 16;

/** `chunks/000001`: segment files are numbered from 1. */
export function segmentName(n: number): string {
  return String(n).padStart(6, '0');
}

/** Suffix of the folder a block is built in before the rename that publishes it. */
export const TMP_BLOCK_SUFFIX = '.tmp-for-creation';

export function tmpBlockDir(ulid: string): string {
  return ulid + TMP_BLOCK_SUFFIX;
}
