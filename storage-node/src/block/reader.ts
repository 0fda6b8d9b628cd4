/**
 * Reads a Prometheus TSDB block (ours, or one Prometheus or promtool wrote).
 *
 * Memory: the TOC, the symbol table and the postings offset table are read at
 * open; series entries, postings lists and chunks are read on demand with
 * positioned reads, never whole files. Every section's CRC-32C is checked
 * before use; damage raises CorruptionError naming file and offset.
 */
import { closeSync, fstatSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { readAt, WindowedFile } from '../fs/durable-files.js';
import { join } from 'node:path';
import { ENCODING_XOR } from '../chunkenc/xor.js';
import { crc32c } from '../encoding/crc32c.js';
import { CorruptionError, DecBuf } from '../encoding/encbuf.js';
import { intersect, subtract, unionAll } from '../head/postings.js';
import type { Matcher } from '../model/matcher.js';
import { CHUNKS_DIR, CHUNKS_HEADER_BYTES, CHUNKS_MAGIC, INDEX_FILE, INDEX_MAGIC, META_FILE, SERIES_ALIGN, TOC_BYTES, TOMBSTONES_FILE, segmentName } from './filenames.js';
import type { ChunkMeta } from './index-writer.js';
import { BlockMetaSchema, resolutionOf, type BlockMeta } from './meta.js';
import { ENCODING_AGGR } from '../chunkenc/aggr-chunk.js';
import { ENCODING_FLOAT_HISTOGRAM, ENCODING_HISTOGRAM } from '../chunkenc/histogram.js';
import { decodeTombstones, type Tombstone } from './tombstones.js';

/**
 * Every chunk of a raw block is XOR or a native-histogram chunk (encodings 2
 * and 3), every chunk of a downsampled block an aggregate chunk or a
 * native-histogram chunk (docs/format/downsampled.md): anything else is
 * corruption.
 */
export function checkChunkEncoding(meta: BlockMeta, encoding: number, where: string | (() => string), offset: number): void {
  const raw = resolutionOf(meta) === 0;
  if (isHistogramEncoding(encoding) || encoding === (raw ? ENCODING_XOR : ENCODING_AGGR)) return;
  throw new CorruptionError(typeof where === 'string' ? where : where(), offset, `chunk encoding ${encoding} is not ${raw ? 'XOR (1)' : `an aggregate chunk (${ENCODING_AGGR})`} or a native-histogram chunk (2, 3)${raw ? '' : ' in a downsampled block'}`);
}

export function isHistogramEncoding(encoding: number): boolean {
  return encoding === ENCODING_HISTOGRAM || encoding === ENCODING_FLOAT_HISTOGRAM;
}

/**
 * What float reads get for a native-histogram chunk: an XOR chunk of no
 * samples (histograms are read with `encodedChunk`).
 */
export const NO_FLOATS = new Uint8Array(2);

export interface BlockSeries {
  ref: number;
  labels: string[];
  chunks: ChunkMeta[];
}

/**
 * Where a block's chunks come from when they are not in local files: a block
 * kept in the bucket, whose chunks a query fetched beforehand with ranged
 * reads (storage-node/src/bucket/remote-block.ts). Answers checked XOR data.
 */
export interface ChunkSource {
  chunk(ref: number): Uint8Array | undefined;
  /** The chunk with its encoding (native histograms read through it). */
  encodedChunk(ref: number): { encoding: number; data: Uint8Array } | undefined;
}

/**
 * A local block's open files, lent to another thread of this process (file
 * descriptors are the process's): a query thread reads the block through them
 * (BlockReader.borrow) while the main thread holds a lease on the block, so
 * they stay open and the files stay in place until the query is done.
 */
export interface BlockHandles {
  dir: string;
  meta: BlockMeta;
  indexFd: number;
  indexSize: number;
  /** The chunk files, by sequence number (000001 is 0). */
  segments: Array<{ fd: number; size: number }>;
}

export class BlockReader {
  readonly symbols: string[] = [];
  /** name -> value -> postings list offset. */
  private readonly postingsTable = new Map<string, Map<string, number>>();
  private readonly segments = new Map<number, { fd: number; size: number; file: WindowedFile }>();
  /** Series entries are read through a window: a query walks them in file order. */
  private readonly indexFile: WindowedFile;
  readonly tombstones: Tombstone[];

  private constructor(
    readonly dir: string,
    readonly meta: BlockMeta,
    private readonly indexFd: number,
    private readonly indexSize: number,
    private readonly chunkSource?: ChunkSource,
    /** Another thread's open files (borrow): this reader closes none of them. */
    private readonly lent?: BlockHandles,
  ) {
    this.indexFile = new WindowedFile(indexFd);
    const where = INDEX_FILE;
    const head = readAt(indexFd, 0, 5);
    const hd = new DecBuf(head, 0, head.length, where);
    if (hd.be32() !== INDEX_MAGIC) hd.fail('bad magic');
    const version = hd.byte();
    if (version !== 2) hd.fail(`index format version ${version} is not supported (want 2)`);
    if (indexSize < 5 + TOC_BYTES) hd.fail('file too short for a table of contents');
    const tocBuf = readAt(indexFd, indexSize - TOC_BYTES, TOC_BYTES);
    const toc = new DecBuf(tocBuf, 0, TOC_BYTES, where, indexSize - TOC_BYTES);
    if (crc32c(tocBuf, 0, 48) !== new DataView(tocBuf.buffer).getUint32(48)) toc.fail('table of contents checksum mismatch');
    const symbolsAt = toc.be64();
    toc.be64(); // series
    toc.be64(); // label indices
    toc.be64(); // label offset table
    toc.be64(); // postings
    const postingsTableAt = toc.be64();

    const sym = this.section(symbolsAt);
    const count = sym.be32();
    for (let i = 0; i < count; i++) this.symbols.push(sym.uvarintStr());

    const pt = this.section(postingsTableAt);
    const n = pt.be32();
    for (let i = 0; i < n; i++) {
      if (pt.byte() !== 2) pt.fail('postings offset entry without 2 keys');
      const name = pt.uvarintStr();
      const value = pt.uvarintStr();
      const off = pt.uvarint();
      let byValue = this.postingsTable.get(name);
      if (!byValue) this.postingsTable.set(name, (byValue = new Map()));
      byValue.set(value, off);
    }

    let stones: Tombstone[] = [];
    if (lent) {
      // A query thread reads no tombstones: reads apply the tenant's deletions in force (TenantDB).
      this.tombstones = stones;
      lent.segments.forEach((seg, seq) => this.segments.set(seq, { ...seg, file: new WindowedFile(seg.fd) }));
      return;
    }
    try {
      stones = decodeTombstones(readFileSync(join(dir, TOMBSTONES_FILE)), join(dir, TOMBSTONES_FILE));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.tombstones = stones;
  }

  /** Open a block folder; with `chunkSource`, only meta.json and index need be local. */
  static open(dir: string, chunkSource?: ChunkSource): BlockReader {
    let meta: BlockMeta;
    try {
      meta = BlockMetaSchema.parse(JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')));
    } catch (e) {
      throw new CorruptionError(join(dir, META_FILE), 0, `unreadable meta.json: ${(e as Error).message}`);
    }
    const fd = openSync(join(dir, INDEX_FILE), 'r');
    try {
      return new BlockReader(dir, meta, fd, fstatSync(fd).size, chunkSource);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /**
   * A reader over another thread's open files of a block (handles()). It
   * checks the index as open() does, and closes nothing.
   */
  static borrow(h: BlockHandles): BlockReader {
    return new BlockReader(h.dir, h.meta, h.indexFd, h.indexSize, undefined, h);
  }

  private handlesMade: BlockHandles | undefined;

  /** This local block's open files, every chunk file opened, to lend to a query thread (lease() it first). */
  handles(): BlockHandles {
    if (this.chunkSource || this.lent) throw new Error(`block ${this.meta.ulid} has no local files of its own to lend`);
    if (!this.handlesMade) {
      const files = readdirSync(join(this.dir, CHUNKS_DIR)).filter((f) => /^[0-9]{6}$/.test(f)).length;
      const segments = Array.from({ length: files }, (_, seq) => this.segment(seq)).map(({ fd, size }) => ({ fd, size }));
      this.handlesMade = { dir: this.dir, meta: this.meta, indexFd: this.indexFd, indexSize: this.indexSize, segments };
    }
    return this.handlesMade;
  }

  private leases = 0;
  private whenUnleased: (() => void) | undefined;

  /** Keep the block's files open and in place until the returned function is called (a query reading it elsewhere). */
  lease(): () => void {
    this.leases++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.leases > 0 || !this.whenUnleased) return;
      const fn = this.whenUnleased;
      this.whenUnleased = undefined;
      fn();
    };
  }

  /** Run `fn` (closing, deleting) now, or when the last lease ends. */
  whenFree(fn: () => void): void {
    if (this.leases === 0) return fn();
    const before = this.whenUnleased;
    this.whenUnleased = before ? () => (before(), fn()) : fn;
  }

  /** A `len <4> body CRC <4>` section at `at`, checked; the DecBuf spans the body. */
  private section(at: number): DecBuf {
    const lenBuf = readAt(this.indexFd, at, 4);
    if (lenBuf.length < 4) throw new CorruptionError(INDEX_FILE, at, 'section length beyond end of file');
    const len = new DataView(lenBuf.buffer).getUint32(0);
    if (at + 8 + len > this.indexSize) throw new CorruptionError(INDEX_FILE, at, `section of ${len} bytes runs past the end of the file`);
    const b = readAt(this.indexFd, at + 4, len + 4);
    if (crc32c(b, 0, len) !== new DataView(b.buffer).getUint32(len)) throw new CorruptionError(INDEX_FILE, at, 'section checksum mismatch');
    return new DecBuf(b, 0, len, INDEX_FILE, at + 4);
  }

  private symbol(d: DecBuf): string {
    const i = d.uvarint();
    const s = this.symbols[i];
    if (s === undefined) d.fail(`symbol reference ${i} out of range`);
    return s;
  }

  labelNames(): string[] {
    return [...this.postingsTable.keys()].filter((n) => n !== '');
  }

  labelValues(name: string): string[] {
    return [...(this.postingsTable.get(name)?.keys() ?? [])];
  }

  /** Series refs with name=value, ascending. */
  postings(name: string, value: string): number[] {
    const off = this.postingsTable.get(name)?.get(value);
    if (off === undefined) return [];
    const d = this.section(off);
    const n = d.be32();
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = d.be32();
    return out;
  }

  allPostings(): number[] {
    return this.postings('', '');
  }

  /** Prometheus's PostingsForMatchers over this block. */
  postingsFor(matchers: readonly Matcher[]): number[] {
    let result: number[] | undefined;
    const negatives: Matcher[] = [];
    const matching = (m: Matcher, want: boolean) => {
      const byValue = this.postingsTable.get(m.name);
      if (!byValue) return [];
      const lists: number[][] = [];
      for (const v of byValue.keys()) if (m.matches(v) === want) lists.push(this.postings(m.name, v));
      return unionAll(lists);
    };
    for (const m of matchers) {
      if (m.matchesEmpty) {
        negatives.push(m);
        continue;
      }
      const p = matching(m, true);
      result = result ? intersect(result, p) : p;
      if (result.length === 0) return result;
    }
    if (!result) result = this.allPostings();
    for (const m of negatives) result = subtract(result, matching(m, false));
    return result;
  }

  series(ref: number): BlockSeries {
    const at = ref * SERIES_ALIGN;
    let win = this.indexFile.read(at, 512);
    const d0 = new DecBuf(win, 0, win.length, INDEX_FILE, at);
    const len = d0.uvarint();
    const bodyAt = d0.pos;
    if (bodyAt + len + 4 > win.length) {
      win = this.indexFile.read(at, bodyAt + len + 4);
      if (win.length < bodyAt + len + 4) throw new CorruptionError(INDEX_FILE, at, 'series entry runs past the end of the file');
    }
    if (crc32c(win, bodyAt, bodyAt + len) !== new DataView(win.buffer, win.byteOffset).getUint32(bodyAt + len)) {
      throw new CorruptionError(INDEX_FILE, at, 'series checksum mismatch');
    }
    const d = new DecBuf(win, bodyAt, bodyAt + len, INDEX_FILE, at);
    const nl = d.uvarint();
    const labels = new Array<string>(nl * 2);
    for (let i = 0; i < nl; i++) {
      labels[2 * i] = this.symbol(d);
      labels[2 * i + 1] = this.symbol(d);
    }
    const nc = d.uvarint();
    const chunks: ChunkMeta[] = [];
    let prevMaxT = 0;
    let prevRef = 0;
    for (let i = 0; i < nc; i++) {
      let minT: number;
      let ref: number;
      if (i === 0) {
        minT = d.varint();
        const maxT = minT + d.uvarint();
        ref = d.uvarint();
        chunks.push({ minT, maxT, ref });
        prevMaxT = maxT;
      } else {
        minT = prevMaxT + d.uvarint();
        const maxT = minT + d.uvarint();
        ref = prevRef + d.varint();
        chunks.push({ minT, maxT, ref });
        prevMaxT = maxT;
      }
      prevRef = ref;
    }
    return { ref, labels, chunks };
  }

  private segment(seq: number): { fd: number; size: number; file: WindowedFile } {
    let s = this.segments.get(seq);
    if (!s) {
      if (this.lent) throw new CorruptionError(`${CHUNKS_DIR}/${segmentName(seq + 1)}`, 0, 'chunk file beyond the block\'s chunk files');
      const path = join(this.dir, CHUNKS_DIR, segmentName(seq + 1));
      const fd = openSync(path, 'r');
      const size = fstatSync(fd).size;
      const head = readAt(fd, 0, CHUNKS_HEADER_BYTES);
      if (head.length < CHUNKS_HEADER_BYTES || new DataView(head.buffer).getUint32(0) !== CHUNKS_MAGIC) {
        closeSync(fd);
        throw new CorruptionError(`${CHUNKS_DIR}/${segmentName(seq + 1)}`, 0, 'bad chunk file header');
      }
      s = { fd, size, file: new WindowedFile(fd) };
      this.segments.set(seq, s);
    }
    return s;
  }

  /**
   * The data of the chunk at `ref` (XOR, or an aggregate chunk in a
   * downsampled block), checksum verified; a native-histogram chunk reads as
   * no floats (NO_FLOATS).
   */
  chunk(ref: number): Uint8Array {
    if (this.chunkSource) {
      const data = this.chunkSource.chunk(ref);
      if (!data) throw new Error(`chunk ${ref} of bucket block ${this.meta.ulid} was read before it was fetched`);
      return data;
    }
    const data = this.localChunk(ref, true);
    return isHistogramEncoding(this.lastEncoding) ? NO_FLOATS : data;
  }

  /** Are the block's chunks in local files (else read through a chunk source: a bucket block)? */
  get local(): boolean {
    return !this.chunkSource;
  }

  /**
   * A chunk with its encoding byte, whatever the encoding (XOR, native
   * histograms, aggregates), checksum verified; a bucket block's once fetched.
   */
  encodedChunk(ref: number): { encoding: number; data: Uint8Array } {
    if (this.chunkSource) {
      const c = this.chunkSource.encodedChunk(ref);
      if (!c) throw new Error(`chunk ${ref} of bucket block ${this.meta.ulid} was read before it was fetched`);
      return c;
    }
    const data = this.localChunk(ref, false);
    return { encoding: this.lastEncoding, data };
  }

  /** The encoding byte of the chunk localChunk read last (kept out of its answer: no object per chunk on the hot path). */
  private lastEncoding = 0;

  private localChunk(ref: number, check: boolean): Uint8Array {
    const seq = Math.floor(ref / 0x100000000);
    const off = ref % 0x100000000;
    // The hot path of every block read: no DecBuf, no DataView, the file's name made only for an error.
    const where = () => `${CHUNKS_DIR}/${segmentName(seq + 1)}`;
    const seg = this.segment(seq);
    let win = seg.file.read(off, 256);
    let len = 0;
    let start = 0;
    for (let shift = 0; ; shift += 7) {
      if (start >= win.length || shift > 28) throw new CorruptionError(where(), off, 'bad chunk length');
      const b = win[start++]!;
      len += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    const total = start + 1 + len + 4;
    if (off + total > seg.size) throw new CorruptionError(where(), off + start, `chunk of ${len} bytes runs past the end of the file`);
    if (total > win.length) win = seg.file.read(off, total);
    const encoding = win[start]!;
    const c = start + 1 + len;
    const stored = ((win[c]! << 24) | (win[c + 1]! << 16) | (win[c + 2]! << 8) | win[c + 3]!) >>> 0;
    if (crc32c(win, start, c) !== stored) throw new CorruptionError(where(), off, 'chunk checksum mismatch');
    if (check) checkChunkEncoding(this.meta, encoding, where, off);
    this.lastEncoding = encoding;
    return win.subarray(start + 1, c);
  }

  /** Bytes of the block's files on disk (index alone for a bucket block). */
  bytes(): number {
    let n = this.indexSize;
    if (this.chunkSource) return n;
    try {
      for (const f of readdirSync(join(this.dir, CHUNKS_DIR))) n += statSync(join(this.dir, CHUNKS_DIR, f)).size;
    } catch {
      // a block without chunks folder reads as its index alone
    }
    return n;
  }

  close(): void {
    if (this.lent) return;
    closeSync(this.indexFd);
    for (const s of this.segments.values()) closeSync(s.fd);
    this.segments.clear();
  }
}

/** Borrowed readers by block folder and file descriptors (numbers the process reuses once a block's files are closed). */
const borrowed = new Map<string, { reader: BlockReader; used: number }>();
/** A borrowed reader unused this long is dropped (its block was compacted or deleted, most likely). */
const BORROWED_IDLE_MS = 10 * 60_000;
let lastSweep = 0;

/**
 * A reader over lent block files (BlockReader.borrow), kept for the next
 * query: opening one parses the block's symbols and postings table.
 */
export function borrowedReader(h: BlockHandles): BlockReader {
  const now = Date.now();
  if (now - lastSweep > 60_000) {
    lastSweep = now;
    for (const [k, e] of borrowed) if (now - e.used > BORROWED_IDLE_MS) borrowed.delete(k);
  }
  const key = `${h.dir}\0${h.indexFd}\0${h.segments.map((x) => x.fd).join(',')}`;
  let e = borrowed.get(key);
  if (!e) borrowed.set(key, (e = { reader: BlockReader.borrow(h), used: now }));
  e.used = now;
  return e.reader;
}

/** Block folders (ULID names) under a tenant's blocks directory. */
export function listBlocks(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(n)).sort();
  } catch {
    return [];
  }
}
