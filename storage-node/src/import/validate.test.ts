/** The checks an imported block must pass, each refusal naming what is wrong. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toBlockInput } from '../block/test-helpers.js';
import { writeBlock } from '../block/writer.js';
import { crc32c } from '../encoding/crc32c.js';
import { ImportError, validateBlock } from './validate.js';

const H = 3_600_000;
const T0 = 1_700_000_000_000;
const wide = { oldestMs: 0, newestMs: Number.MAX_SAFE_INTEGER };

function block(labels: string[] = ['__name__', 'm', 'job', 'a'], other = ['__name__', 'n']) {
  const samples = Array.from({ length: 300 }, (_, i) => [T0 + i * 15_000, i] as [number, number]);
  return writeBlock(mkdtempSync(join(tmpdir(), 'isobar-val-')), toBlockInput([{ labels, samples }, { labels: other, samples }]));
}

describe('validateBlock', () => {
  it('passes a sound block and counts it', () => {
    const { dir, meta } = block();
    expect(validateBlock(dir, wide)).toEqual({ ulid: meta.ulid, minTime: T0, maxTime: T0 + 299 * 15_000 + 1, series: 2, samples: 600, histogramSamples: 0, chunks: 6 });
  });

  it('refuses samples outside the retention or in the future', () => {
    const { dir } = block();
    expect(() => validateBlock(dir, { oldestMs: T0 + H, newestMs: Infinity })).toThrow(/before the tenant's retention .*retention_seconds/);
    expect(() => validateBlock(dir, { oldestMs: 0, newestMs: T0 + 60_000 })).toThrow(/in the future/);
  });

  it('refuses a damaged chunk, naming the series', () => {
    const { dir } = block();
    const path = join(dir, 'chunks', '000001');
    const bytes = readFileSync(path);
    bytes[bytes.length - 10]! ^= 0xff;
    writeFileSync(path, bytes);
    expect(() => validateBlock(dir, wide)).toThrow(ImportError);
    expect(() => validateBlock(dir, wide)).toThrow(/series \{__name__="n"\}: .*checksum mismatch/);
  });

  it('refuses a damaged index and a series without a metric name', () => {
    const { dir } = block();
    const path = join(dir, 'index');
    const bytes = readFileSync(path);
    bytes[20]! ^= 0xff;
    writeFileSync(path, bytes);
    expect(() => validateBlock(dir, wide)).toThrow(/checksum mismatch/);
    const nameless = block(['job', 'a']);
    expect(() => validateBlock(nameless.dir, wide)).toThrow(/series \{job="a"\}: no valid metric name/);
  });

  it('refuses an index whose series are not sorted by labels', () => {
    // Two series named a and b; swapping the two symbols in the symbol table (and fixing its checksum) lists b before a.
    const { dir } = block(['__name__', 'a'], ['__name__', 'b']);
    const path = join(dir, 'index');
    const bytes = readFileSync(path);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const symbolsAt = Number(view.getBigUint64(bytes.length - 52));
    const len = view.getUint32(symbolsAt);
    const body = bytes.subarray(symbolsAt + 4, symbolsAt + 4 + len);
    const a = body.indexOf(Buffer.from([1, 0x61])); // the symbol "a": its length, then its byte
    const b = body.indexOf(Buffer.from([1, 0x62]));
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    [body[a + 1], body[b + 1]] = [0x62, 0x61];
    view.setUint32(symbolsAt + 4 + len, crc32c(body));
    writeFileSync(path, bytes);
    expect(() => validateBlock(dir, wide)).toThrow(/series \{__name__="a"\}: series not sorted by labels in the index, or repeated \(it follows \{__name__="b"\}\)/);
  });

  it('refuses a downsampled block', () => {
    const { dir } = block();
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    meta.thanos = { labels: {}, downsample: { resolution: 300_000 }, source: 'compactor' };
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
    expect(() => validateBlock(dir, wide)).toThrow(/downsampled block/);
  });
});
