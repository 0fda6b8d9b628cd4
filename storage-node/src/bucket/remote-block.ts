/**
 * Blocks served from the bucket: a node that rebuilt from the bucket (or gave
 * a block's local copy up) reads them through two caches.
 *
 *  - Index cache, on disk (`<node dir>/remote/<tenant>/<ULID>/{meta.json,index}`):
 *    the index is fetched whole the first time a query touches the block, and
 *    opened like a local one. Bounded by bytes: the least recently used
 *    indexes are dropped (the meta stays, so the block stays known).
 *  - Chunk cache, in memory: before a selector is evaluated, the chunks it
 *    needs are fetched with ranged GETs, neighbouring chunks coalesced into one
 *    request. Bounded by bytes, least recently used dropped first.
 *
 * Reads stay synchronous (the query engine's selectors read blocks directly):
 * callers `prepare` asynchronously, then read at once, with no await between.
 * Eviction happens only at the start of a `prepare`, and never takes what a
 * prepare still in flight has touched, so what one prepared is there for the
 * read that follows.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../encoding/crc32c.js';
import { CorruptionError, DecBuf } from '../encoding/encbuf.js';
import { INDEX_FILE, META_FILE, segmentName } from '../block/filenames.js';
import { BlockMetaSchema, type BlockMeta } from '../block/meta.js';
import { BlockReader, checkChunkEncoding, isHistogramEncoding, NO_FLOATS, type ChunkSource } from '../block/reader.js';
import { ENCODING_XOR } from '../chunkenc/xor.js';
import { writeFileAtomic } from '../fs/durable-files.js';
import type { Matcher } from '../model/matcher.js';
import type { Bucket } from './bucket.js';
import { chunksKey, indexKey } from './layout.js';

/** Chunks closer than this in one segment are fetched in one ranged GET. */
const COALESCE_GAP = 64 * 1024;
/** Bytes read past a range's last chunk start (most chunks are far smaller; longer ones get a second read). */
const CHUNK_GUESS = 2048;
/** Ranged GETs in flight per prepare. */
const PARALLEL_GETS = 8;

export interface CacheOptions {
  /** `<node dir>/remote` */
  dir: string;
  /** Index bytes kept on disk. */
  maxIndexBytes: number;
  /** Chunk bytes kept in memory. */
  maxChunkBytes: number;
}

export interface CacheStats {
  indexHits: number;
  indexFetches: number;
  indexBytesFetched: number;
  chunkHits: number;
  chunkFetches: number;
  chunkRangeGets: number;
  chunkBytesFetched: number;
}

/** The caches shared by every bucket block of a node. */
export class BlockCache {
  /** Chunk data, least recently used first, with the epoch of its last use. */
  /** Chunk bytes by block and ref; `encoding` set for a native-histogram chunk (XOR otherwise). */
  private readonly chunks = new Map<string, { v: Uint8Array; epoch: number; encoding?: number }>();
  private chunkBytes = 0;
  private readonly open = new Set<RemoteBlock>();
  /** Each prepare starts a new epoch; what prepares in flight touched is not evicted. */
  epoch = 0;
  private readonly inFlight = new Set<number>();
  readonly stats: CacheStats = { indexHits: 0, indexFetches: 0, indexBytesFetched: 0, chunkHits: 0, chunkFetches: 0, chunkRangeGets: 0, chunkBytesFetched: 0 };

  constructor(
    readonly bucket: Bucket,
    readonly opts: CacheOptions,
  ) {}

  blockDir(tenant: string, ulid: string): string {
    return join(this.opts.dir, tenant, ulid);
  }

  /** Remember a bucket block: its meta goes to the cache folder, so a restart knows it without the bucket. */
  adopt(tenant: string, meta: BlockMeta): RemoteBlock {
    const dir = this.blockDir(tenant, meta.ulid);
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, META_FILE), new TextEncoder().encode(JSON.stringify(meta, null, '\t') + '\n'));
    return new RemoteBlock(tenant, meta, this);
  }

  /** The bucket blocks a previous run knew for `tenant` (from the cache folder's metas). */
  known(tenant: string): RemoteBlock[] {
    const dir = join(this.opts.dir, tenant);
    if (!existsSync(dir)) return [];
    const out: RemoteBlock[] = [];
    for (const ulid of readdirSync(dir).sort()) {
      try {
        const meta = BlockMetaSchema.parse(JSON.parse(readFileSync(join(dir, ulid, META_FILE), 'utf8')));
        out.push(new RemoteBlock(tenant, meta, this));
      } catch {
        rmSync(join(dir, ulid), { recursive: true, force: true }); // half-written: the bucket still has it
      }
    }
    return out;
  }

  /** Forget a block (deleted, or the tenant is): its cached files and chunks go. */
  drop(block: RemoteBlock): void {
    block.closeIndex();
    this.open.delete(block);
    rmSync(this.blockDir(block.tenant, block.meta.ulid), { recursive: true, force: true });
  }

  /** A prepare starts: make room (least recently used indexes and chunks over the bounds go); returns its epoch. */
  begin(): number {
    const epoch = ++this.epoch;
    this.evict(Math.min(epoch, ...this.inFlight));
    this.inFlight.add(epoch);
    return epoch;
  }

  end(epoch: number): void {
    this.inFlight.delete(epoch);
  }

  private evict(keepFrom: number): void {
    let indexBytes = 0;
    for (const b of this.open) indexBytes += b.indexBytes;
    if (indexBytes > this.opts.maxIndexBytes) {
      for (const b of [...this.open].sort((x, y) => x.epoch - y.epoch)) {
        if (indexBytes <= this.opts.maxIndexBytes) break;
        if (b.epoch >= keepFrom) continue;
        indexBytes -= b.indexBytes;
        b.closeIndex();
        rmSync(join(this.blockDir(b.tenant, b.meta.ulid), INDEX_FILE), { force: true });
        this.open.delete(b);
      }
    }
    for (const [k, e] of this.chunks) {
      if (this.chunkBytes <= this.opts.maxChunkBytes) break;
      if (e.epoch >= keepFrom) continue;
      this.chunks.delete(k);
      this.chunkBytes -= e.v.byteLength;
    }
  }

  opened(b: RemoteBlock): void {
    this.open.add(b);
  }

  /** A cached chunk for float reads: a native-histogram chunk reads as no floats. */
  chunk(k: string): Uint8Array | undefined {
    const e = this.touch(k);
    return e && (e.encoding === undefined ? e.v : NO_FLOATS);
  }

  /** A cached chunk with its encoding (histogram reads). */
  encodedChunk(k: string): { encoding: number; data: Uint8Array } | undefined {
    const e = this.touch(k);
    return e && { encoding: e.encoding ?? ENCODING_XOR, data: e.v };
  }

  private touch(k: string): { v: Uint8Array; epoch: number; encoding?: number } | undefined {
    const e = this.chunks.get(k);
    if (!e) return undefined;
    this.chunks.delete(k); // most recently used goes last
    e.epoch = this.epoch;
    this.chunks.set(k, e);
    return e;
  }

  putChunk(k: string, v: Uint8Array, encoding?: number): void {
    if (this.chunks.has(k)) return;
    this.chunks.set(k, { v, epoch: this.epoch, ...(encoding !== undefined ? { encoding } : {}) });
    this.chunkBytes += v.byteLength;
  }

  get bytes(): { index: number; chunks: number } {
    let index = 0;
    for (const b of this.open) index += b.indexBytes;
    return { index, chunks: this.chunkBytes };
  }
}

/** One block in the bucket. `reader` is there once `openIndex` ran (and until evicted). */
export class RemoteBlock implements ChunkSource {
  reader: BlockReader | undefined;
  indexBytes = 0;
  /** The cache epoch of the last use (epochs only grow: the least recently used has the smallest). */
  epoch = 0;

  constructor(
    readonly tenant: string,
    readonly meta: BlockMeta,
    private readonly cache: BlockCache,
  ) {}

  private get dir(): string {
    return this.cache.blockDir(this.tenant, this.meta.ulid);
  }

  /** The block's index, fetched into the disk cache if it is not there. */
  async openIndex(): Promise<BlockReader> {
    this.epoch = this.cache.epoch;
    if (this.reader) {
      this.cache.stats.indexHits++;
      return this.reader;
    }
    const path = join(this.dir, INDEX_FILE);
    if (!existsSync(path)) {
      const body = await this.cache.bucket.get(indexKey(this.tenant, this.meta.ulid));
      if (!body) throw new Error(`block ${this.tenant}/${this.meta.ulid} has no index in ${this.cache.bucket.where}`);
      if (this.reader) return this.reader; // a concurrent prepare opened it meanwhile
      mkdirSync(this.dir, { recursive: true });
      writeFileAtomic(path, body);
      this.cache.stats.indexFetches++;
      this.cache.stats.indexBytesFetched += body.byteLength;
    }
    if (this.reader) return this.reader;
    this.reader = BlockReader.open(this.dir, this);
    this.indexBytes = statSync(path).size;
    this.cache.opened(this);
    return this.reader;
  }

  closeIndex(): void {
    this.reader?.close();
    this.reader = undefined;
    this.indexBytes = 0;
  }

  private key(ref: number): string {
    return `${this.meta.ulid}:${ref}`;
  }

  chunk(ref: number): Uint8Array | undefined {
    return this.cache.chunk(this.key(ref));
  }

  encodedChunk(ref: number): { encoding: number; data: Uint8Array } | undefined {
    return this.cache.encodedChunk(this.key(ref));
  }

  /** Fetch the chunks of the series matching `matchers` that overlap [mint, maxt] (not those cached). */
  async prefetch(matchers: readonly Matcher[], mint: number, maxt: number): Promise<void> {
    const reader = await this.openIndex();
    const refs: number[] = [];
    for (const ref of reader.postingsFor(matchers)) {
      for (const c of reader.series(ref).chunks) {
        if (c.maxT < mint || c.minT > maxt) continue;
        if (this.cache.chunk(this.key(c.ref))) this.cache.stats.chunkHits++;
        else refs.push(c.ref);
      }
    }
    if (refs.length === 0) return;
    refs.sort((a, b) => a - b);
    // Coalesce neighbours in one segment into ranges.
    const ranges: Array<{ segment: number; start: number; end: number; refs: number[] }> = [];
    for (const ref of refs) {
      const segment = Math.floor(ref / 0x100000000);
      const off = ref % 0x100000000;
      const last = ranges.at(-1);
      if (last && last.segment === segment && off - last.end < COALESCE_GAP) {
        last.end = off + CHUNK_GUESS;
        last.refs.push(ref);
      } else ranges.push({ segment, start: off, end: off + CHUNK_GUESS, refs: [ref] });
    }
    let next = 0;
    const worker = async () => {
      while (next < ranges.length) {
        const r = ranges[next++]!;
        await this.fetchRange(r.segment, r.start, r.end, r.refs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_GETS, ranges.length) }, worker));
  }

  private async fetchRange(segment: number, start: number, end: number, refs: number[]): Promise<void> {
    const key = chunksKey(this.tenant, this.meta.ulid, segmentName(segment + 1));
    const where = `${key} in ${this.cache.bucket.where}`;
    const buf = await this.cache.bucket.get(key, { offset: start, length: end - start });
    if (!buf) throw new Error(`${where} is missing`);
    this.cache.stats.chunkRangeGets++;
    this.cache.stats.chunkBytesFetched += buf.byteLength;
    for (const ref of refs) {
      const off = ref % 0x100000000;
      let win = buf.subarray(off - start);
      let at = off;
      const d = new DecBuf(win, 0, win.length, where, at);
      const len = d.uvarint();
      const body = d.pos;
      const total = body + 1 + len + 4;
      if (total > win.length) {
        // Longer than the guess: read this one chunk exactly.
        const one = await this.cache.bucket.get(key, { offset: off, length: total });
        if (!one || one.length < total) throw new CorruptionError(where, off, `chunk of ${len} bytes runs past the end of the object`);
        this.cache.stats.chunkRangeGets++;
        this.cache.stats.chunkBytesFetched += one.byteLength;
        win = one;
        at = off;
      }
      checkChunkEncoding(this.meta, win[body]!, where, at);
      if (crc32c(win, body, body + 1 + len) !== new DataView(win.buffer, win.byteOffset).getUint32(body + 1 + len)) throw new CorruptionError(where, at, 'chunk checksum mismatch');
      // A copy: the cache must not pin the whole range buffer.
      const encoding = win[body]!;
      this.cache.putChunk(this.key(ref), win.slice(body + 1, body + 1 + len), isHistogramEncoding(encoding) ? encoding : undefined);
      this.cache.stats.chunkFetches++;
    }
  }
}
