import { describe, expect, it } from 'vitest';
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
});
