/**
 * A growable byte buffer for the on-disk formats: big-endian fixed-width
 * integers and (u)varints of up to 53 bits (timestamps, offsets).
 * Ownership: `bytes()` is a view valid until the next write.
 */
export class EncBuf {
  private buf: Uint8Array;
  private view: DataView;
  len = 0;

  constructor(initial = 4096) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  reset(): void {
    this.len = 0;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  be16(x: number): void {
    this.ensure(2);
    this.view.setUint16(this.len, x);
    this.len += 2;
  }

  /** A float64, big-endian, bits as they are (NaN payloads kept). */
  f64(x: number): void {
    this.ensure(8);
    this.view.setFloat64(this.len, x);
    this.len += 8;
  }

  be32(x: number): void {
    this.ensure(4);
    this.view.setUint32(this.len, x >>> 0);
    this.len += 4;
  }

  /** Set a big-endian uint32 at an earlier position (length fields written after their body). */
  be32At(pos: number, x: number): void {
    this.view.setUint32(pos, x >>> 0);
  }

  be64(x: number): void {
    this.ensure(8);
    this.view.setUint32(this.len, Math.floor(x / 0x100000000));
    this.view.setUint32(this.len + 4, x >>> 0);
    this.len += 8;
  }

  uvarint(x: number): void {
    if (x < 0 || !Number.isSafeInteger(x)) throw new RangeError(`uvarint of ${x}`);
    this.ensure(10);
    while (x >= 0x80) {
      this.buf[this.len++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.len++] = x;
  }

  /** Zig-zag signed varint (Go's PutVarint). */
  varint(x: number): void {
    this.uvarint(x >= 0 ? x * 2 : -x * 2 - 1);
  }

  bytesField(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  /** uvarint length, then the UTF-8 bytes. */
  uvarintStr(s: string): void {
    const b = utf8.encode(s);
    this.uvarint(b.length);
    this.bytesField(b);
  }

  /** Zero bytes up to a multiple of `align` (relative to `base`, the buffer's file offset). */
  pad(align: number, base = 0): void {
    const rem = (base + this.len) % align;
    if (rem === 0) return;
    const n = align - rem;
    this.ensure(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

const utf8 = new TextEncoder();

/** Reads what EncBuf writes, with bounds checks; errors say where. */
export class DecBuf {
  pos: number;
  private readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
    /** Describes the source in errors, e.g. "index" or "chunks/000001". */
    readonly where = 'buffer',
    /** File offset of buf[0], for error messages. */
    readonly base = 0,
  ) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(what: string): never {
    throw new CorruptionError(this.where, this.base + this.pos, what);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) this.fail(`${n} bytes wanted, ${this.end - this.pos} left`);
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  be16(): number {
    this.need(2);
    const x = this.view.getUint16(this.pos);
    this.pos += 2;
    return x;
  }

  f64(): number {
    this.need(8);
    const x = this.view.getFloat64(this.pos);
    this.pos += 8;
    return x;
  }

  be32(): number {
    this.need(4);
    const x = this.view.getUint32(this.pos);
    this.pos += 4;
    return x;
  }

  be64(): number {
    this.need(8);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    if (hi >= 0x200000) this.fail('64-bit value beyond 2^53');
    this.pos += 8;
    return hi * 0x100000000 + lo;
  }

  uvarint(): number {
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      x += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(x)) this.fail('varint beyond 2^53');
        return x;
      }
      mul *= 128;
    }
    this.fail('varint longer than 10 bytes');
  }

  varint(): number {
    const z = this.uvarint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  uvarintStr(): string {
    const n = this.uvarint();
    this.need(n);
    const s = utf8d.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  bytesN(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

const utf8d = new TextDecoder('utf-8');

/** Bytes read back from disk are not what the format says: file, offset and what. */
export class CorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    what: string,
  ) {
    super(`corrupt ${file} at offset ${offset}: ${what}`);
    this.name = 'CorruptionError';
  }
}
