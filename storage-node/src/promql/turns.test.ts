import { describe, expect, it, vi } from 'vitest';
import { TenantDB } from '../db/tenant-db.js';
import { Engine } from './engine.js';
import { parsePromQL } from './parse.js';
import { nextTurn } from './turns.js';

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

  it('reads each selector of a query on a turn of its own, never in the callback that received the query', async () => {
    const db = new TenantDB('t');
    const reads: number[] = [];
    const loop = countTurns();
    const select = db.selectChunks.bind(db);
    vi.spyOn(db, 'selectChunks').mockImplementation((...args) => {
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
});
