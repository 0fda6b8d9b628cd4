/**
 * The batch a shard coordinator sends to a storage node: commit-log entries in
 * sequence order. Spec: docs/format/node-batch.md.
 *
 *   batch  = record*
 *   record = seq     u64 big-endian  (commit-log sequence number, < 2^53)
 *            length  u32 big-endian  (payload bytes, <= MAX_RECORD_BYTES)
 *            payload                 (snappy block of a remote-write WriteRequest)
 *
 * Several records may share a seq (one log row can hold several appends);
 * seqs never decrease within a batch.
 */

import { ErrorIds, IsobarError } from './errors.js';

export const RECORD_HEADER_BYTES = 12;
/** Payload cap per record: a Durable Object SQLite row holds at most 2 MB. */
export const MAX_RECORD_BYTES = 2_000_000;

export interface BatchRecord {
  seq: number;
  payload: Uint8Array;
}

export function encodeBatch(records: ReadonlyArray<BatchRecord>): Uint8Array {
  let size = 0;
  for (const r of records) size += RECORD_HEADER_BYTES + r.payload.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let p = 0;
  for (const r of records) {
    view.setUint32(p, Math.floor(r.seq / 0x100000000));
    view.setUint32(p + 4, r.seq >>> 0);
    view.setUint32(p + 8, r.payload.length);
    out.set(r.payload, p + RECORD_HEADER_BYTES);
    p += RECORD_HEADER_BYTES + r.payload.length;
  }
  return out;
}

export class BatchFormatError extends IsobarError {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(ErrorIds.malformedBatch, 'bad-data', `malformed batch: ${message} at offset ${offset}`);
    this.name = 'BatchFormatError';
  }
}

/** Parse and check a batch; payloads are views into `buf`. */
export function decodeBatch(buf: Uint8Array): BatchRecord[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: BatchRecord[] = [];
  let p = 0;
  let prev = 0;
  while (p < buf.length) {
    if (p + RECORD_HEADER_BYTES > buf.length) throw new BatchFormatError('truncated record header', p);
    const hi = view.getUint32(p);
    const seq = hi * 0x100000000 + view.getUint32(p + 4);
    const len = view.getUint32(p + 8);
    if (hi >= 0x200000) throw new BatchFormatError('sequence number beyond 2^53', p);
    if (seq < prev) throw new BatchFormatError(`sequence ${seq} after ${prev}`, p);
    if (len > MAX_RECORD_BYTES) throw new BatchFormatError(`record of ${len} bytes over ${MAX_RECORD_BYTES}`, p);
    if (p + RECORD_HEADER_BYTES + len > buf.length) throw new BatchFormatError('truncated record payload', p);
    out.push({ seq, payload: buf.subarray(p + RECORD_HEADER_BYTES, p + RECORD_HEADER_BYTES + len) });
    prev = seq;
    p += RECORD_HEADER_BYTES + len;
  }
  return out;
}
