import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Matcher } from '../model/matcher.js';
import { ExemplarStore, type Exemplar } from './exemplars.js';

const SERIES = [
  ['__name__', 'req_bucket', 'le', '0.1'],
  ['__name__', 'req_bucket', 'le', '1'],
  ['__name__', 'other', 'job', 'x'],
] as const;

type Op = { kind: 'add'; series: number; t: number; value: number; trace: string } | { kind: 'resize'; cap: number };

/** The rules, written as plainly as possible: every exemplar kept in one list, in arrival order. */
class Model {
  entries: Array<{ series: number; e: Exemplar }> = [];
  constructor(public cap: number) {}
  add(series: number, e: Exemplar): string {
    if (this.cap === 0) return 'disabled';
    const mine = this.entries.filter((x) => x.series === series);
    const newest = mine.at(-1)?.e;
    if (newest && newest.t === e.t && Object.is(newest.value, e.value) && newest.labels.join() === e.labels.join()) return 'duplicate';
    if (newest && e.t <= newest.t) return 'out-of-order';
    this.entries.push({ series, e });
    if (this.entries.length > this.cap) this.entries.shift();
    return 'added';
  }
  resize(cap: number): void {
    this.cap = cap;
    this.entries = this.entries.slice(Math.max(0, this.entries.length - cap));
  }
  of(series: number): Exemplar[] {
    return this.entries.filter((x) => x.series === series).map((x) => x.e);
  }
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('add' as const), series: fc.integer({ min: 0, max: 2 }), t: fc.integer({ min: 0, max: 60 }), value: fc.constantFrom(1, 2, 0.5), trace: fc.constantFrom('a', 'b') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resize' as const), cap: fc.integer({ min: 0, max: 12 }) }) },
);

const all = [[new Matcher('=~', '__name__', '.+')]];

describe('ExemplarStore', () => {
  it('keeps exactly the newest exemplars within capacity, with duplicate and out-of-order rules per series (model)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.array(opArb, { maxLength: 80 }), (cap, ops) => {
        const store = new ExemplarStore(cap);
        const model = new Model(cap);
        for (const op of ops) {
          if (op.kind === 'resize') {
            store.resize(op.cap);
            model.resize(op.cap);
            continue;
          }
          const e = { labels: ['trace_id', op.trace], value: op.value, t: op.t };
          expect(store.add(SERIES[op.series]!, e)).toBe(model.add(op.series, e));
        }
        expect(store.size).toBe(model.entries.length);
        const got = new Map(store.select(all, -Infinity, Infinity).map((s) => [s.labels.join(), s.exemplars]));
        SERIES.forEach((ls, i) => expect(got.get(ls.join()) ?? []).toEqual(model.of(i)));
      }),
      { numRuns: 400 },
    );
  });

  it('selects by matchers and time range, series sorted by labels, exemplars oldest first', () => {
    const store = new ExemplarStore(100);
    for (let t = 1; t <= 5; t++) for (const s of SERIES) store.add(s, { labels: ['trace_id', `t${t}`], value: t, t: t * 1000 });
    const got = store.select([[new Matcher('=', '__name__', 'req_bucket')]], 2000, 4000);
    expect(got.map((s) => s.labels)).toEqual([SERIES[0], SERIES[1]]);
    expect(got[0]!.exemplars.map((e) => e.t)).toEqual([2000, 3000, 4000]);
    // Two selectors: their union.
    expect(store.select([[new Matcher('=', 'le', '1')], [new Matcher('=', 'job', 'x')]], 0, 10_000).map((s) => s.labels)).toEqual([SERIES[2], SERIES[1]]);
    expect(store.select([[new Matcher('=', '__name__', 'nothing')]], 0, 10_000)).toEqual([]);
  });

  it('a snapshot restores the same exemplars, also into a smaller store (the newest kept)', () => {
    const store = new ExemplarStore(50);
    for (let t = 1; t <= 10; t++) store.add(SERIES[t % 3]!, { labels: ['trace_id', `x${t}`, 'zone', 'é'], value: t / 3, t });
    const same = new ExemplarStore(50);
    expect(same.restore(store.snapshot())).toBe(10);
    expect(same.select(all, -Infinity, Infinity)).toEqual(store.select(all, -Infinity, Infinity));
    const small = new ExemplarStore(4);
    small.restore(store.snapshot());
    expect(small.select(all, -Infinity, Infinity).flatMap((s) => s.exemplars.map((e) => e.t)).sort((a, b) => a - b)).toEqual([7, 8, 9, 10]);
  });

  it('a store of capacity 0 keeps nothing', () => {
    const store = new ExemplarStore(0);
    expect(store.add(SERIES[0]!, { labels: [], value: 1, t: 1 })).toBe('disabled');
    expect(store.size).toBe(0);
  });
});
