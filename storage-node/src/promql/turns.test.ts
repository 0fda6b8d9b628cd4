import { describe, expect, it, vi } from 'vitest';
import { TenantDB } from '../db/tenant-db.js';
import { Engine } from './engine.js';
import { parsePromQL } from './parse.js';
import { nextTurn } from './turns.js';

describe('query turns', () => {
  it('resumes one waiting query per event-loop turn, first come first served', async () => {
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const resumed: Array<[string, number]> = [];
    await Promise.all(['a', 'b', 'c'].map((q) => nextTurn().then(() => resumed.push([q, turn]))));
    ticking = false;
    expect(resumed.map(([q]) => q)).toEqual(['a', 'b', 'c']);
    // Each on a turn of its own: whatever else waits for the loop runs between them.
    expect(resumed[1]![1]).toBeGreaterThan(resumed[0]![1]);
    expect(resumed[2]![1]).toBeGreaterThan(resumed[1]![1]);
  });

  it('reads each selector of a query on a turn of its own, never in the callback that received the query', async () => {
    const db = new TenantDB('t');
    const reads: number[] = [];
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const select = db.selectChunks.bind(db);
    vi.spyOn(db, 'selectChunks').mockImplementation((...args) => {
      reads.push(turn);
      return select(...args);
    });
    const gathering = new Engine(db).gatherFor(parsePromQL('a + b + c'), 0, 60_000, 15_000);
    expect(reads).toEqual([]); // nothing read before the caller gave the loop back
    await gathering;
    ticking = false;
    expect(reads).toHaveLength(3);
    expect(reads[1]!).toBeGreaterThan(reads[0]!);
    expect(reads[2]!).toBeGreaterThan(reads[1]!);
  });
});
