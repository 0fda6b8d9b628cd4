import { appendFileSync, mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Wal, walSegmentName, type WalRecord } from './wal.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'isobar-wal-'));
const rec = (shard: number, seq: number, n: number): WalRecord => ({ shard, seq, payload: new Uint8Array(n).map((_, i) => (i * 7 + seq) & 0xff) });
const replayAll = (dir: string, segBytes?: number) => {
  const w = new Wal(dir, segBytes);
  const got: Array<{ shard: number; seq: number; payload: number[] }> = [];
  const res = w.replay((r) => got.push({ shard: r.shard, seq: r.seq, payload: [...r.payload] }));
  return { w, got, res };
};

describe('WAL', () => {
  it('replays what was appended, across segments', () => {
    const dir = tmp();
    const w = new Wal(dir, 300);
    const recs = Array.from({ length: 20 }, (_, i) => rec(i % 3, i + 1, 40 + i));
    w.replay(() => {});
    for (const r of recs) w.append(r);
    w.close();
    expect(w.segments().length).toBeGreaterThan(2);
    const { got, res } = replayAll(dir, 300);
    expect(res.problem).toBeUndefined();
    expect(got).toEqual(recs.map((r) => ({ shard: r.shard, seq: r.seq, payload: [...r.payload] })));
  });

  it('cuts a torn tail at the last good record, says where, and appends after it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), (cut) => {
        const dir = tmp();
        const w = new Wal(dir);
        w.replay(() => {});
        const recs = Array.from({ length: 8 }, (_, i) => rec(0, i + 1, 50));
        for (const r of recs) w.append(r);
        w.close();
        const seg = join(dir, walSegmentName(1));
        const full = statSync(seg).size;
        truncateSync(seg, Math.max(0, full - cut));
        const { w: w2, got, res } = replayAll(dir);
        const whole = Math.floor((full - cut) / (8 + 3 + 50));
        expect(got.map((g) => g.seq)).toEqual(recs.slice(0, whole).map((r) => r.seq));
        if ((full - cut) % 61 !== 0) expect(res.problem).toMatchObject({ segment: '00000001', offset: whole * 61 });
        // The log goes on cleanly after the repair.
        w2.append(rec(0, 99, 10));
        w2.close();
        expect(replayAll(dir).got.map((g) => g.seq)).toEqual([...recs.slice(0, whole).map((r) => r.seq), 99]);
      }),
      { numRuns: 60 },
    );
  });

  it('stops at a corrupt record and drops later segments', () => {
    const dir = tmp();
    const w = new Wal(dir, 200);
    w.replay(() => {});
    for (let i = 1; i <= 10; i++) w.append(rec(1, i, 60));
    w.close();
    const first = join(dir, walSegmentName(1));
    const b = readFileSync(first);
    b[8 + 3 + 5] = b[8 + 3 + 5]! ^ 0xff; // payload byte of the first record
    writeFileSync(first, b);
    const { got, res } = replayAll(dir, 200);
    expect(got).toEqual([]);
    expect(res.problem).toEqual({ segment: '00000001', offset: 0, what: 'checksum mismatch' });
    expect(new Wal(dir).segments()).toEqual([1]);
  });

  it('ignores garbage appended by a crash mid-write', () => {
    const dir = tmp();
    const w = new Wal(dir);
    w.replay(() => {});
    w.append(rec(2, 1, 5));
    w.close();
    appendFileSync(join(dir, walSegmentName(1)), Buffer.from([0, 0, 0, 200, 1, 2]));
    const { got, res } = replayAll(dir);
    expect(got.map((g) => g.seq)).toEqual([1]);
    expect(res.problem?.what).toMatch(/torn record header|runs past the end/);
  });
});
