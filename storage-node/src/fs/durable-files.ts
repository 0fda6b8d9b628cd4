/**
 * The node's durable-file helpers, in one place: fsynced writes, atomic
 * replacement (a crash leaves the old or the new file), folder fsyncs, and
 * positioned reads. Blocks, the WAL's neighbours (state files), the bucket's
 * caches, import staging and the CLI all use these.
 */
import { closeSync, fsyncSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Write bytes to a new file (`flags` 'w'), or append them ('a'), and fsync it. */
export function writeFileSynced(path: string, data: Uint8Array, flags: 'w' | 'a' = 'w'): void {
  const fd = openSync(path, flags);
  try {
    let w = 0;
    while (w < data.length) w += writeSync(fd, data, w, data.length - w);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsync a folder, so a rename or a new file in it survives a crash. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replace a file so that a crash leaves the old or the new one: temporary file, fsync, rename, fsync the folder. */
export function writeFileAtomic(path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp`;
  writeFileSynced(tmp, data);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** `len` bytes at `pos` of an open file (fewer at its end). */
export function readAt(fd: number, pos: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got === len ? b : b.subarray(0, got);
}

/**
 * Positioned reads of one file through a window: a read inside the window
 * costs no system call, one outside reads `windowBytes` (or more) from there.
 * Queries walk a block's series and chunks in file order, so most reads are
 * near the last one. Returned views stay valid (a new window is a new buffer).
 */
export class WindowedFile {
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;

  constructor(
    private readonly fd: number,
    private readonly windowBytes = 64 * 1024,
  ) {}

  /** Up to `len` bytes at `pos` (fewer only at the end of the file). */
  read(pos: number, len: number): Uint8Array {
    const at = pos - this.start;
    if (at >= 0 && at + len <= this.buf.length) return this.buf.subarray(at, at + len);
    this.buf = readAt(this.fd, pos, Math.max(len, this.windowBytes));
    this.start = pos;
    return this.buf.subarray(0, Math.min(len, this.buf.length));
  }
}
