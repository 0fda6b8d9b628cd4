/**
 * The storage node's write-ahead log, one per tenant, in `<node dir>/wal/<tenant>/`.
 * Format (ours; spec in docs/format/wal.md):
 *
 *   segment file `00000001`, `00000002`, ... (8 digits), each a sequence of records:
 *     length <u32 BE>   bytes of body
 *     crc    <u32 BE>   CRC-32C of body
 *     body:  type <u8> = 1 (applied batch)
 *              shard <uvarint>, seq <uvarint>, payload (rest: a snappy WriteRequest, as the coordinator sent it)
 *            type <u8> = 2 (log switch)
 *              shard <uvarint>, log id <uvarint length, UTF-8>: the shard now follows that coordinator log
 *
 * Positions and the tenant's retention and tiers are not in the WAL but in
 * `state/<tenant>.json` (docs/format/node-state.md).
 *
 * A record is written before its batch is applied to the head. Replay feeds the
 * payloads through the same apply path, so what the head holds after a restart
 * is exactly what it held before. A torn or corrupt tail is cut at the last good
 * record with a warning naming segment and offset; later segments are dropped.
 * Writes are buffered by the OS and fsynced at most every `syncIntervalMs` and
 * on close (the coordinators' logs are the source of truth; the WAL only saves
 * replaying them over the network).
 */
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../encoding/crc32c.js';
import { DecBuf, EncBuf } from '../encoding/encbuf.js';

export const WAL_RECORD_BATCH = 1;
/** A tenant×shard now follows a different coordinator log (its sequence restarts). */
export const WAL_RECORD_LOG_ID = 2;
const HEADER = 8;
/** A segment is closed once it passes this size (Prometheus uses the same). */
export const WAL_SEGMENT_BYTES = 128 * 1024 * 1024;

export function walSegmentName(n: number): string {
  return String(n).padStart(8, '0');
}

export interface WalRecord {
  shard: number;
  seq: number;
  payload: Uint8Array;
}

export interface WalLogIdRecord {
  shard: number;
  logId: string;
}

export interface ReplayProblem {
  segment: string;
  offset: number;
  what: string;
}

export class Wal {
  private fd = -1;
  private segment = 0;
  private size = 0;
  private dirty = false;
  private readonly enc = new EncBuf(1024);
  /** Durations of fsyncs, in seconds, since the last read (for /metrics). */
  readonly fsyncSeconds: number[] = [];

  constructor(
    readonly dir: string,
    private readonly segmentBytes = WAL_SEGMENT_BYTES,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  segments(): number[] {
    return readdirSync(this.dir)
      .filter((n) => /^\d{8}$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  /**
   * Read every record in order, repairing a damaged tail: the segment is cut at
   * the last good record and later segments are removed. Call before append().
   */
  replay(onRecord: (r: WalRecord) => void, onLogId: (r: WalLogIdRecord) => void = () => {}): { records: number; bytes: number; problem?: ReplayProblem } {
    const segs = this.segments();
    let records = 0;
    let bytes = 0;
    for (let i = 0; i < segs.length; i++) {
      const name = walSegmentName(segs[i]!);
      const path = join(this.dir, name);
      const buf = readFileSync(path);
      let pos = 0;
      let problem: string | undefined;
      while (pos < buf.length) {
        if (pos + HEADER > buf.length) {
          problem = 'torn record header';
          break;
        }
        const len = buf.readUInt32BE(pos);
        const crc = buf.readUInt32BE(pos + 4);
        if (pos + HEADER + len > buf.length) {
          problem = `record of ${len} bytes runs past the end of the segment`;
          break;
        }
        if (crc32c(buf, pos + HEADER, pos + HEADER + len) !== crc) {
          problem = 'checksum mismatch';
          break;
        }
        try {
          const d = new DecBuf(buf, pos + HEADER, pos + HEADER + len, name, 0);
          const type = d.byte();
          if (type === WAL_RECORD_BATCH) {
            const shard = d.uvarint();
            const seq = d.uvarint();
            onRecord({ shard, seq, payload: buf.subarray(d.pos, pos + HEADER + len) });
          } else if (type === WAL_RECORD_LOG_ID) {
            onLogId({ shard: d.uvarint(), logId: d.uvarintStr() });
          } else d.fail(`unknown record type ${type}`);
        } catch (e) {
          problem = (e as Error).message;
          break;
        }
        records++;
        pos += HEADER + len;
        bytes += HEADER + len;
      }
      if (problem !== undefined) {
        // Keep what is good; drop the damaged tail and everything after it.
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, pos);
        fsyncSync(fd);
        closeSync(fd);
        for (const later of segs.slice(i + 1)) rmSync(join(this.dir, walSegmentName(later)));
        this.segment = segs[i]!;
        return { records, bytes, problem: { segment: name, offset: pos, what: problem } };
      }
    }
    this.segment = segs.at(-1) ?? 0;
    return { records, bytes };
  }

  /** Make sure a segment is open for appending; start the next one when the current is full. */
  private open(): void {
    if (this.fd >= 0 && this.size < this.segmentBytes) return;
    if (this.fd >= 0) {
      this.closeSegment();
      this.segment++;
    } else if (this.segment === 0 || safeSize(join(this.dir, walSegmentName(this.segment))) >= this.segmentBytes) {
      this.segment++;
    }
    const path = join(this.dir, walSegmentName(this.segment));
    this.fd = openSync(path, 'a');
    this.size = safeSize(path);
  }

  /** Append one batch record (buffered by the OS until the next sync). */
  append(r: WalRecord): void {
    const e = this.begin(WAL_RECORD_BATCH);
    e.uvarint(r.shard);
    e.uvarint(r.seq);
    e.bytesField(r.payload);
    this.finish();
  }

  /** Record that a tenant×shard now follows another coordinator log. */
  appendLogId(r: WalLogIdRecord): void {
    const e = this.begin(WAL_RECORD_LOG_ID);
    e.uvarint(r.shard);
    e.uvarintStr(r.logId);
    this.finish();
  }

  private begin(type: number): EncBuf {
    this.open();
    const e = this.enc;
    e.reset();
    e.be32(0);
    e.be32(0);
    e.byte(type);
    return e;
  }

  private finish(): void {
    const e = this.enc;
    const b = e.bytes();
    const bodyLen = b.length - HEADER;
    e.be32At(0, bodyLen);
    e.be32At(4, crc32c(b, HEADER, b.length));
    let w = 0;
    while (w < b.length) w += writeSync(this.fd, b, w, b.length - w);
    this.size += b.length;
    this.dirty = true;
  }

  /** fsync the open segment if anything was written since the last sync. */
  sync(): void {
    if (!this.dirty || this.fd < 0) return;
    const t = performance.now();
    fsyncSync(this.fd);
    this.fsyncSeconds.push((performance.now() - t) / 1000);
    if (this.fsyncSeconds.length > 10_000) this.fsyncSeconds.splice(0, this.fsyncSeconds.length - 10_000);
    this.dirty = false;
  }

  private closeSegment(): void {
    if (this.fd < 0) return;
    this.sync();
    closeSync(this.fd);
    this.fd = -1;
  }

  /** Remove every segment (all of it is in blocks now); the next append starts a fresh one. */
  truncateAll(): void {
    this.closeSegment();
    for (const s of this.segments()) rmSync(join(this.dir, walSegmentName(s)));
    this.size = 0;
  }

  /** Bytes on disk. */
  bytes(): number {
    return this.segments().reduce((n, s) => n + safeSize(join(this.dir, walSegmentName(s))), 0);
  }

  close(): void {
    this.closeSegment();
  }
}

function safeSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
