/**
 * A head flush: in-order chunks reach the block with their bytes untouched;
 * out-of-order samples, deletions and chunks across a block boundary are
 * merged and re-encoded. Either way every sample reads back as written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { PairLabels } from '../../../wire/remote-write.js';
import type { AppendResult } from '../head/head.js';
import { parseSeriesSelector } from '../promql/selector.js';
import { TenantDB } from './tenant-db.js';

const HOUR = 3_600_000;
const RANGE = 2 * HOUR;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newDb(): TenantDB {
  const dir = mkdtempSync(join(tmpdir(), 'isobar-flush-'));
  dirs.push(dir);
  const db = new TenantDB('t', { blocksDir: join(dir, 'blocks'), walDir: join(dir, 'wal') });
  db.openBlocks();
  return db;
}

function append(db: TenantDB, labels: Array<[string, string]>, samples: Array<[number, number]>): void {
  const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
  const { s } = db.head.getOrCreate(new PairLabels(labels));
  db.head.appendSamples(s, Float64Array.from(samples, (x) => x[0]), Float64Array.from(samples, (x) => x[1]), samples.length, res);
}

/** Every chunk's bytes of one series in the local blocks, oldest block first. */
function blockChunks(db: TenantDB, name: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of db.blocks) {
    for (const ref of b.postingsFor(parseSeriesSelector(name))) for (const c of b.series(ref).chunks) out.push(b.chunk(c.ref).slice());
  }
  return out;
}

describe('head flush', () => {
  it('in-order chunks go to the block byte for byte, within one block range', () => {
    const db = newDb();
    const samples = Array.from({ length: 500 }, (_, i) => [i * 10_000, Math.sin(i)] as [number, number]);
    append(db, [['__name__', 'steady']], samples);
    const head = [...db.head.select(parseSeriesSelector('steady'), -Infinity, Infinity)[0]!.chunks()].map((c) => c.data.slice());
    db.flushHead(RANGE);
    expect(blockChunks(db, 'steady')).toEqual(head);
    expect(db.select(parseSeriesSelector('steady'), -Infinity, Infinity)[0]!.samples).toEqual(samples);
  });

  it('every sample reads back as written: across block boundaries, out of order, with deletions', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 7 * HOUR / 15_000 }), fc.double({ noNaN: true })), { minLength: 1, maxLength: 600 }),
        fc.boolean(),
        fc.option(fc.tuple(fc.integer({ min: 0, max: 7 * HOUR }), fc.integer({ min: 0, max: HOUR }))),
        (raw, sorted, deletion) => {
          const db = newDb();
          const pts = raw.map(([k, v]) => [k * 15_000, v] as [number, number]);
          if (sorted) pts.sort((a, b) => a[0] - b[0]);
          append(db, [['__name__', 'x']], pts);
          append(db, [['__name__', 'y']], pts);
          // The first value of each timestamp is kept.
          const want = new Map<number, number>();
          for (const [t, v] of pts) if (!want.has(t)) want.set(t, v);
          let expected = [...want].sort((a, b) => a[0] - b[0]);
          if (deletion) {
            const [from, len] = deletion;
            db.deletions.push({ selector: 'x', matchers: parseSeriesSelector('x'), mint: from, maxt: from + len });
          }
          db.flushHead(RANGE);
          db.deletions.length = 0;
          expect(db.select(parseSeriesSelector('y'), -Infinity, Infinity)[0]!.samples).toEqual(expected);
          if (deletion) expected = expected.filter(([t]) => t < deletion[0] || t > deletion[0] + deletion[1]);
          expect(db.select(parseSeriesSelector('x'), -Infinity, Infinity)[0]?.samples ?? []).toEqual(expected);
          // Each block holds one block range.
          for (const b of db.blocks) expect(Math.floor(b.meta.minTime / RANGE)).toBe(Math.floor((b.meta.maxTime - 1) / RANGE));
          db.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});
