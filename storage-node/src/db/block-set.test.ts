import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockSet } from './block-set.js';

const block = (minTime: number, ulid: string) => ({ meta: { minTime, ulid } });

describe('BlockSet', () => {
  it('keeps blocks in time order (then ULID) whatever the order of adds and removes (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.stringMatching(/^[0-9a-f]{4}$/)), { maxLength: 30 }), fc.integer({ min: 0, max: 50 }), (xs, cut) => {
        const set = new BlockSet<ReturnType<typeof block>>();
        for (const [t, u] of xs) set.add(block(t, u));
        const removed = set.remove((b) => b.meta.minTime < cut);
        expect(removed.every((b) => b.meta.minTime < cut)).toBe(true);
        const all = set.all;
        expect(all.length + removed.length).toBe(xs.length);
        for (let i = 1; i < all.length; i++) {
          const [a, b] = [all[i - 1]!.meta, all[i]!.meta];
          expect(a.minTime < b.minTime || (a.minTime === b.minTime && a.ulid <= b.ulid)).toBe(true);
        }
      }),
    );
  });

  it('hands readers an array that later changes do not touch', () => {
    const set = new BlockSet<ReturnType<typeof block>>();
    set.add(block(2, 'b'), block(1, 'a'));
    const seen = set.all;
    set.remove(() => true);
    set.add(block(0, 'z'));
    expect(seen.map((b) => b.meta.ulid)).toEqual(['a', 'b']);
    expect(set.all.map((b) => b.meta.ulid)).toEqual(['z']);
  });
});
