/**
 * Snappy block format (the one remote write uses: no framing), with the
 * uncompressed size checked *before* any memory is reserved for it.
 *
 * A snappy block starts with its uncompressed length as a uvarint; a 20-byte
 * body can declare 4 GiB. Decoders that trust it are a decompression bomb
 * waiting to happen, so every decode here takes a cap and refuses early.
 */
import { compress as snappyCompress } from 'snappyjs';
import { ErrorIds, IsobarError } from './errors.js';

/**
 * The uncompressed length a snappy block declares, or undefined when the
 * preamble is not a valid uvarint of at most 32 bits (snappy's own bound).
 */
export function snappyDeclaredLength(block: Uint8Array): number | undefined {
  let result = 0;
  for (let i = 0, shift = 0; i < 5 && i < block.length; i++, shift += 7) {
    const b = block[i]!;
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return result <= 0xffffffff ? result : undefined;
  }
  return undefined;
}

/** Decompress a snappy block, refusing one that declares more than `maxBytes`. */
export function snappyDecode(block: Uint8Array, maxBytes: number): Uint8Array {
  const declared = snappyDeclaredLength(block);
  if (declared === undefined) {
    throw new IsobarError(ErrorIds.invalidSnappy, 'bad-data', 'body is not a valid snappy block: bad length preamble');
  }
  if (declared > maxBytes) {
    throw new IsobarError(
      ErrorIds.decompressedTooLarge,
      'bad-data',
      `snappy body declares ${declared} uncompressed bytes, over the limit of ${maxBytes} (max_decompressed_bytes); send smaller batches (Prometheus: queue_config.max_samples_per_send)`,
    );
  }
  const out = new Uint8Array(declared);
  const problem = decodeInto(block, preambleLength(block), out);
  if (problem) throw new IsobarError(ErrorIds.invalidSnappy, 'bad-data', `body is not a valid snappy block: ${problem}`);
  return out;
}

function preambleLength(block: Uint8Array): number {
  let i = 0;
  while (block[i]! & 0x80) i++;
  return i + 1;
}

/**
 * Strict snappy block decoder: every tag, length and offset is bounds-checked
 * and the output must come out exactly as long as declared. (snappyjs's
 * decoder leaves a short block's missing tail as zeros, which would store
 * fabricated samples; this one refuses.) Returns a problem, or undefined.
 */
function decodeInto(src: Uint8Array, pos: number, out: Uint8Array): string | undefined {
  let o = 0;
  const n = src.length;
  while (pos < n) {
    const tag = src[pos++]!;
    const kind = tag & 3;
    if (kind === 0) {
      // literal; lengths over 60 follow in 1-4 little-endian bytes
      let len = tag >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (pos + extra > n) return `truncated literal length at offset ${pos}`;
        len = 0;
        for (let k = 0; k < extra; k++) len += src[pos + k]! * 2 ** (8 * k);
        pos += extra;
      }
      len += 1;
      if (pos + len > n) return `literal runs past the end of the block at offset ${pos}`;
      if (o + len > out.length) return 'output longer than the declared length';
      out.set(src.subarray(pos, pos + len), o);
      pos += len;
      o += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (pos + 1 > n) return `truncated copy at offset ${pos}`;
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | src[pos++]!;
    } else if (kind === 2) {
      if (pos + 2 > n) return `truncated copy at offset ${pos}`;
      len = (tag >>> 2) + 1;
      offset = src[pos]! | (src[pos + 1]! << 8);
      pos += 2;
    } else {
      if (pos + 4 > n) return `truncated copy at offset ${pos}`;
      len = (tag >>> 2) + 1;
      offset = (src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16) | (src[pos + 3]! << 24)) >>> 0;
      pos += 4;
    }
    if (offset === 0 || offset > o) return `copy offset ${offset} out of range at output byte ${o}`;
    if (o + len > out.length) return 'output longer than the declared length';
    if (offset >= len) out.copyWithin(o, o - offset, o - offset + len);
    else for (let k = 0; k < len; k++) out[o + k] = out[o + k - offset]!;
    o += len;
  }
  return o === out.length ? undefined : `block ends after ${o} of ${out.length} declared bytes`;
}

/** Compress into a snappy block (pure JS; runs in workerd and Node alike). */
export function snappyEncode(data: Uint8Array): Uint8Array {
  return snappyCompress(data) as Uint8Array;
}
