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
