/**
 * CRC-32C (Castagnoli), the checksum of Prometheus's index, chunk and
 * tombstone files. Table-driven, slicing by 1 byte.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of bytes[start, end), optionally continuing from a previous value. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, prev = 0): number {
  let c = ~prev >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
