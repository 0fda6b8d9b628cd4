import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstK } from './aggregate.js';
import { cmpAsc, cmpDesc } from './float-stats.js';

describe('topk and bottomk selection', () => {
  it('picks what a stable sort then slice picks: order, ties in input order, NaN last', () => {
    const item = fc.record({ v: fc.oneof(fc.integer({ min: -3, max: 3 }).map((x) => x / 2), fc.constantFrom(NaN, Infinity, -Infinity)), id: fc.nat() });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 200 }), fc.integer({ min: 1, max: 80 }), fc.boolean(), (items, k, top) => {
        const cmp = top ? (a: { v: number }, b: { v: number }) => cmpDesc(a.v, b.v) : (a: { v: number }, b: { v: number }) => cmpAsc(a.v, b.v);
        expect(firstK(items, k, cmp)).toEqual([...items].sort(cmp).slice(0, k));
      }),
      { numRuns: 500 },
    );
  });
});
