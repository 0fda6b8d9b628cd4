/**
 * Writes a block's chunk segment files (`chunks/000001`, ...):
 *   header: magic 0x85BD40DD <4>, version 1 <1>, padding <3>
 *   chunk:  len(data) <uvarint>, encoding <1>, data, CRC-32C(encoding, data) <4, BE>
 * A chunk's reference is segment index (from 0) << 32 | offset of its len field.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../encoding/crc32c.js';
import { EncBuf } from '../encoding/encbuf.js';
import { CHUNKS_DIR, CHUNKS_HEADER_BYTES, CHUNKS_MAGIC, CHUNKS_VERSION, MAX_CHUNK_SEGMENT_BYTES, segmentName } from './filenames.js';

/** Bytes buffered before a write to the file. */
const FLUSH_BYTES = 4 * 1024 * 1024;

export class ChunksWriter {
  private readonly dir: string;
  private fd = -1;
  private seq = -1; // segment index, 0-based
  private offset = 0; // bytes in the current segment
  private readonly buf = new EncBuf(FLUSH_BYTES + 1024);
  private readonly one = new Uint8Array(1);

  constructor(blockDir: string, private readonly maxSegmentBytes = MAX_CHUNK_SEGMENT_BYTES) {
    this.dir = join(blockDir, CHUNKS_DIR);
    mkdirSync(this.dir, { recursive: true });
  }

  private cut(): void {
    this.finishSegment();
    this.seq++;
    this.fd = openSync(join(this.dir, segmentName(this.seq + 1)), 'w');
    this.buf.be32(CHUNKS_MAGIC);
    this.buf.byte(CHUNKS_VERSION);
    this.buf.byte(0);
    this.buf.byte(0);
    this.buf.byte(0);
    this.offset = CHUNKS_HEADER_BYTES;
  }

  /** Append one chunk; returns its reference. */
  write(encoding: number, data: Uint8Array): number {
    const size = 5 + 1 + data.length + 4;
    if (this.fd < 0 || (this.offset + size > this.maxSegmentBytes && this.offset > CHUNKS_HEADER_BYTES)) this.cut();
    const ref = this.seq * 0x100000000 + this.offset;
    const before = this.buf.len;
    this.buf.uvarint(data.length);
    this.buf.byte(encoding);
    this.buf.bytesField(data);
    this.one[0] = encoding;
    this.buf.be32(crc32c(data, 0, data.length, crc32c(this.one)));
    this.offset += this.buf.len - before;
    if (this.buf.len >= FLUSH_BYTES) this.flush();
    return ref;
  }

  private flush(): void {
    if (this.buf.len === 0 || this.fd < 0) return;
    const b = this.buf.bytes();
    let w = 0;
    while (w < b.length) w += writeSync(this.fd, b, w, b.length - w);
    this.buf.reset();
  }

  private finishSegment(): void {
    if (this.fd < 0) return;
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }

  /** Flush, fsync and close. */
  close(): void {
    this.finishSegment();
  }
}
