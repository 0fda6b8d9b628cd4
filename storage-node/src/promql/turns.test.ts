import { describe, expect, it, vi } from 'vitest';
import { HEAD_SLICE_SERIES, TenantDB } from '../db/tenant-db.js';
import { Engine } from './engine.js';
import { parsePromQL } from './parse.js';
import { nextTurn, QUANTUM_MS } from './turns.js';
import { unpackSeries } from './packed.js';
import { PairLabels } from '../../../wire/remote-write.js';

/** Counts turns of the event loop (a callback queued for every check phase) until stopped. */
function countTurns(): { turn: number; stop(): void } {
  let ticking = true;
  const loop = {
    turn: 0,
    stop: () => {
      ticking = false;
    },
  };
  const tick = () => {
    loop.turn++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  return loop;
}

describe('query turns', () => {
  it('resumes one waiting query per event-loop turn, first come first served', async () => {
    const loop = countTurns();
    const resumed: Array<[string, number]> = [];
    await Promise.all(['a', 'b', 'c'].map((q) => nextTurn().then(() => resumed.push([q, loop.turn]))));
    loop.stop();
    expect(resumed.map(([q]) => q)).toEqual(['a', 'b', 'c']);
    // Each on a turn of its own: whatever else waits for the loop runs between them.
    expect(resumed[1]![1]).toBeGreaterThan(resumed[0]![1]);
    expect(resumed[2]![1]).toBeGreaterThan(resumed[1]![1]);
  });

  it('gives the turns to the query that had the last one, for up to a quantum, then to the one waiting longest', async () => {
    let now = 1_000;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const order: string[] = [];
      // Each query wants four turns; each turn costs it 10 ms of the (mocked) clock.
      const query = async (name: string) => {
        const owner = {};
        for (let k = 0; k < 4; k++) {
          await nextTurn(owner);
          order.push(name);
          now += 10;
        }
      };
      await Promise.all([query('a'), query('b'), query('c')]);
      // a keeps the turns for QUANTUM_MS (25 ms: three turns), then b and c get theirs in the same way.
      expect(QUANTUM_MS).toBe(25);
      expect(order.join('')).toBe('aaabbbcccabc');
    } finally {
      clock.mockRestore();
    }
  });

  it('reads each selector of a query on a turn of its own, never in the callback that received the query', async () => {
    const db = new TenantDB('t');
    const reads: number[] = [];
    const loop = countTurns();
    const select = db.selectChunksLater.bind(db);
    vi.spyOn(db, 'selectChunksLater').mockImplementation((...args) => {
      reads.push(loop.turn);
      return select(...args);
    });
    const gathering = new Engine(db).gatherFor(parsePromQL('a + b + c'), 0, 60_000, 15_000);
    expect(reads).toEqual([]); // nothing read before the caller gave the loop back
    await gathering;
    loop.stop();
    expect(reads).toHaveLength(3);
    expect(reads[1]!).toBeGreaterThan(reads[0]!);
    expect(reads[2]!).toBeGreaterThan(reads[1]!);
  });

  it('reads a large selector from the head a slice of series per turn, every series once', async () => {
    const db = new TenantDB('t');
    const res = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
    for (let i = 0; i < 2500; i++) {
      const { s } = db.head.getOrCreate(new PairLabels([['__name__', 'a'], ['i', String(i)]]));
      db.head.appendSamples(s, Float64Array.of(1000, 16_000), Float64Array.of(i, i + 1), 2, res);
    }
    const loop = countTurns();
    const slices: Array<{ turn: number; n: number }> = [];
    const later = db.selectChunksLater.bind(db);
    vi.spyOn(db, 'selectChunksLater').mockImplementation((...args) => {
      const lent = later(...args);
      const inner = lent.slices;
      function* counted() {
        for (const slice of inner) {
          slices.push({ turn: loop.turn, n: slice.length });
          yield slice;
        }
      }
      return { ...lent, slices: counted() };
    });
    const { gathered } = await new Engine(db).gatherFor(parsePromQL('a'), 15_000, 60_000, 15_000);
    loop.stop();
    const full = Math.floor(2500 / HEAD_SLICE_SERIES);
    expect(slices.map((x) => x.n)).toEqual([...Array<number>(full).fill(HEAD_SLICE_SERIES), 2500 - full * HEAD_SLICE_SERIES]);
    for (let i = 1; i < slices.length; i++) expect(slices[i]!.turn).toBeGreaterThan(slices[i - 1]!.turn);
    const g = gathered[0]!;
    const labels = g.kind === 'raw' ? unpackSeries(g.series).map((x) => x.labels[3]) : [];
    expect(new Set(labels).size).toBe(2500);
  });
});
