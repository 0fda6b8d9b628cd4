/**
 * selectChunksFrom over blocks and the head: a series found in several
 * sources is one series, listed in label order, and at an equal timestamp the
 * sample of the earlier source (the blocks, in the order given, then the
 * head) is the one read, with or without lazily read chunks. A split
 * query's parts together are the whole, each series in one part.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { PairLabels } from '../../../wire/remote-write.js';
import { mergeChunks } from '../chunkenc/merge.js';
import type { AppendResult } from '../head/head.js';
import { compareLabelsUtf8 } from '../block/utf8-order.js';
import { parseSeriesSelector } from '../promql/selector.js';
import { selectChunksFrom } from './select.js';
import { TenantDB } from './tenant-db.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const HOUR = 3_600_000;
const T0 = 1_700_006_400_000; // a block boundary

function append(db: TenantDB, labels: Array<[string, string]>, ts: number[], v: number): void {
  const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
  const { s } = db.head.getOrCreate(new PairLabels(labels));
  db.head.appendSamples(s, Float64Array.from(ts), Float64Array.from(ts, () => v), ts.length, res);
}

describe('selectChunksFrom', () => {
  it('merges blocks and the head by labels: each series once, in label order, the earlier source winning (property)', () => {
    // Which sources hold series i: bit 0 the first block, bit 1 the second, bit 2 the head.
    const where = fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(where, fc.boolean(), (holders, lazy) => {
        const dir = mkdtempSync(join(tmpdir(), 'isobar-select-'));
        dirs.push(dir);
        const db = new TenantDB('t', { blocksDir: join(dir, 'blocks'), walDir: join(dir, 'wal') });
        db.openBlocks();
        // Labels whose order differs from the order the series are made in.
        const labels = (i: number): Array<[string, string]> => [['__name__', 'm'], ['id', String((i * 7919) % 1000)]];
        // The same timestamps in every source; the value names the source.
        const ts = Array.from({ length: 30 }, (_, k) => T0 + k * 60_000);
        for (const source of [0, 1, 2]) {
          holders.forEach((h, i) => {
            if (h & (1 << source)) append(db, labels(i), ts, source + 1);
          });
          if (source < 2 && db.head.numSeries > 0) db.flushHead();
        }
        const blocks = db.blocks;
        const head = db.head.select(parseSeriesSelector('m'), -Infinity, Infinity);
        const got = selectChunksFrom(blocks, head, parseSeriesSelector('m'), T0, T0 + HOUR, { lazy });
        const want = [...new Map(holders.map((h, i) => [labels(i).flat().join('\xff'), { labels: labels(i).flat(), h }])).values()].sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
        expect(got.map((s) => s.labels)).toEqual(want.map((w) => w.labels));
        got.forEach((s, i) => {
          const cols = mergeChunks(s.chunks);
          expect(cols.n).toBe(ts.length);
          // The first source holding it, in block order then the head (blocks come in time order: the first flush first).
          const first = Math.min(...[0, 1, 2].filter((b) => want[i]!.h & (1 << b)));
          expect(Array.from(cols.v.subarray(0, cols.n))).toEqual(ts.map(() => first + 1));
        });
        // A split query's parts, one after the other, are the whole: each series in one part only, in order.
        for (const parts of [2, 3, 5]) {
          const joined = Array.from({ length: parts }, (_, part) => selectChunksFrom(blocks, head, parseSeriesSelector('m'), T0, T0 + HOUR, { lazy, part: { part, parts } })).flat();
          expect(joined.map((s) => s.labels), `${parts} parts`).toEqual(got.map((s) => s.labels));
          expect(joined.map((s) => Array.from(mergeChunks(s.chunks).v.subarray(0, ts.length)))).toEqual(got.map((s) => Array.from(mergeChunks(s.chunks).v.subarray(0, ts.length))));
        }
        db.close();
      }),
      { numRuns: 25 },
    );
  });
});
