/**
 * Bit streams for the XOR chunk codec: most-significant bit first, as
 * Prometheus's `bstream` writes them, so our chunks are byte-identical to its.
 *
 * Ownership: a BitWriter owns its buffer and may replace it when it grows;
 * `bytes()` returns a view that is valid until the next write.
 */

export class BitWriter {
  buf: Uint8Array;
  /** Bytes fully or partly written. */
  len = 0;
  /** Free bits left in buf[len-1] (0..7); 0 means the last byte is full. */
  free = 0;

  constructor(initialBytes = 32) {
    this.buf = new Uint8Array(initialBytes);
  }

  private grow(extra: number): void {
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  writeBit(bit: number): void {
    if (this.free === 0) {
      if (this.len === this.buf.length) this.grow(1);
      this.buf[this.len++] = 0;
      this.free = 8;
    }
    this.free--;
    if (bit) this.buf[this.len - 1]! |= 1 << this.free;
  }

  /** Write the low `n` bits of `value` (0 <= n <= 32), most significant first. */
  writeBits(value: number, n: number): void {
    if (this.len + 5 > this.buf.length) this.grow(5);
    const buf = this.buf;
    while (n > 0) {
      if (this.free === 0) {
        buf[this.len++] = 0;
        this.free = 8;
      }
      const take = n < this.free ? n : this.free;
      const shift = n - take;
      const bits = (value >>> shift) & ((1 << take) - 1);
      this.free -= take;
      buf[this.len - 1]! |= bits << this.free;
      n -= take;
    }
  }

  /** Write 64 bits given as two uint32 halves. */
  write64(hi: number, lo: number): void {
    this.writeBits(hi, 32);
    this.writeBits(lo, 32);
  }

  writeByte(b: number): void {
    this.writeBits(b & 0xff, 8);
  }

  /** The written bytes (a view; valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** Reads what a BitWriter wrote. Reusable: `reset()` onto another buffer. */
export class BitReader {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0; // next byte
  private bitsLeft = 0; // unread bits in buf[pos-1]

  reset(buf: Uint8Array, byteOffset = 0): void {
    this.buf = buf;
    this.pos = byteOffset;
    this.bitsLeft = 0;
  }

  /** True when at least `n` more bits exist. */
  has(n: number): boolean {
    return (this.buf.length - this.pos) * 8 + this.bitsLeft >= n;
  }

  readBit(): number {
    if (this.bitsLeft === 0) {
      if (this.pos >= this.buf.length) throw new RangeError('bit stream exhausted');
      this.pos++;
      this.bitsLeft = 8;
    }
    this.bitsLeft--;
    return (this.buf[this.pos - 1]! >>> this.bitsLeft) & 1;
  }

  /** Read `n` bits (0 <= n <= 32) as an unsigned number. */
  readBits(n: number): number {
    let out = 0;
    while (n > 0) {
      if (this.bitsLeft === 0) {
        if (this.pos >= this.buf.length) throw new RangeError('bit stream exhausted');
        this.pos++;
        this.bitsLeft = 8;
      }
      const take = n < this.bitsLeft ? n : this.bitsLeft;
      this.bitsLeft -= take;
      const bits = (this.buf[this.pos - 1]! >>> this.bitsLeft) & ((1 << take) - 1);
      out = out * (1 << take) + bits; // multiplication keeps 32-bit results unsigned
      n -= take;
    }
    return out;
  }

  readByte(): number {
    return this.readBits(8);
  }
}
