import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readAt, WindowedFile } from './durable-files.js';

describe('windowed reads', () => {
  it('answer every read as a plain positioned read does, near or far, inside or past the end', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-window-'));
    const data = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 7919) & 0xff);
    writeFileSync(join(dir, 'f'), data);
    const fd = openSync(join(dir, 'f'), 'r');
    try {
      fc.assert(
        fc.property(fc.integer({ min: 16, max: 4096 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 21_000 }), fc.integer({ min: 0, max: 5000 })), { maxLength: 50 }), (window, reads) => {
          const f = new WindowedFile(fd, window);
          const views = reads.map(([pos, len]) => ({ pos, len, got: f.read(pos, len), want: readAt(fd, pos, len) }));
          // Views handed out earlier still hold their bytes after later reads moved the window.
          // (Buffer.compare: a deep equal of thousands of bytes per read would take most of the test's time.)
          for (const { pos, len, got, want } of views) expect(Buffer.compare(got, want), `read(${pos}, ${len}) in windows of ${window}`).toBe(0);
        }),
        { numRuns: 200 },
      );
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
