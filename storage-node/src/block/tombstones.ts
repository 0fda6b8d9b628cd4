/**
 * `tombstones` file: magic 0x0130BA30 <4>, version 1 <1>, then per deleted
 * range: series ref <uvarint>, mint <varint>, maxt <varint>; then CRC-32C of
 * the ranges <4, BE>.
 */
import { crc32c } from '../encoding/crc32c.js';
import { DecBuf, EncBuf } from '../encoding/encbuf.js';
import { TOMBSTONES_MAGIC, TOMBSTONES_VERSION } from './filenames.js';

export interface Tombstone {
  ref: number;
  minT: number;
  maxT: number;
}

export function encodeTombstones(stones: readonly Tombstone[]): Uint8Array {
  const out = new EncBuf(64);
  out.be32(TOMBSTONES_MAGIC);
  out.byte(TOMBSTONES_VERSION);
  const start = out.len;
  for (const s of stones) {
    out.uvarint(s.ref);
    out.varint(s.minT);
    out.varint(s.maxT);
  }
  out.be32(crc32c(out.bytes(), start, out.len));
  return out.bytes().slice();
}

export function decodeTombstones(buf: Uint8Array, where = 'tombstones'): Tombstone[] {
  const d = new DecBuf(buf, 0, buf.length, where);
  if (buf.length < 9) d.fail('file shorter than header and checksum');
  if (d.be32() !== TOMBSTONES_MAGIC) d.fail('bad magic');
  if (d.byte() !== TOMBSTONES_VERSION) d.fail('unsupported version');
  const end = buf.length - 4;
  const want = new DataView(buf.buffer, buf.byteOffset + end, 4).getUint32(0);
  if (crc32c(buf, 5, end) !== want) d.fail('checksum mismatch');
  const body = new DecBuf(buf, 5, end, where);
  const out: Tombstone[] = [];
  while (body.pos < end) out.push({ ref: body.uvarint(), minT: body.varint(), maxT: body.varint() });
  return out;
}
