import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { intersect, subtract, unionAll } from './postings.js';

/** Ascending, distinct refs, as a label value's postings are. */
const postings = fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 80 }).map((a) => a.sort((x, y) => x - y));
const sorted = (s: Set<number>) => [...s].sort((x, y) => x - y);

describe('postings', () => {
  it('unionAll is the sorted, distinct union of any number of lists (property)', () => {
    fc.assert(
      fc.property(fc.array(postings, { maxLength: 12 }), (lists) => {
        const got = unionAll(lists);
        expect(got).toEqual(sorted(new Set(lists.flat())));
        if (lists.length > 0) expect(got).not.toBe(lists[0]); // a copy: callers may change it
      }),
    );
  });

  it('intersect and subtract are the set operations, in order (property)', () => {
    fc.assert(
      fc.property(postings, postings, (a, b) => {
        const inB = new Set(b);
        expect(intersect(a, b)).toEqual(a.filter((x) => inB.has(x)));
        expect(subtract(a, b)).toEqual(a.filter((x) => !inB.has(x)));
      }),
    );
  });
});
