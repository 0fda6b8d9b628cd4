import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PairLabels } from '../../../wire/remote-write.js';
import { Matcher, type MatchType } from '../model/matcher.js';
import { parseSeriesSelector } from '../promql/selector.js';
import { TenantHead, type AppendResult } from './head.js';

function add(head: TenantHead, labels: [string, string][], samples: [number, number][]) {
  const { s } = head.getOrCreate(new PairLabels(labels));
  const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
  head.appendSamples(s, Float64Array.from(samples.map((x) => x[0])), Float64Array.from(samples.map((x) => x[1])), samples.length, res);
  return { s, res };
}

function fixture() {
  const head = new TenantHead();
  add(head, [['__name__', 'up'], ['job', 'api'], ['env', 'prod']].sort() as [string, string][], [[1000, 1]]);
  add(head, [['__name__', 'up'], ['job', 'db']], [[1000, 1]]);
  add(head, [['__name__', 'http_requests_total'], ['job', 'api'], ['method', 'GET']], [[2000, 5]]);
  return head;
}

const names = (head: TenantHead, sel: string) =>
  head
    .select(parseSeriesSelector(sel), -Infinity, Infinity)
    .map((s) => s.labels.join(','))
    .sort();

describe('TenantHead', () => {
  it('selects with Prometheus matcher semantics', () => {
    const head = fixture();
    expect(names(head, 'up')).toHaveLength(2);
    expect(names(head, 'up{env=""}')).toEqual(['__name__,up,job,db']);
    expect(names(head, 'up{env!="prod"}')).toEqual(['__name__,up,job,db']);
    expect(names(head, '{job=~"a.*"}')).toHaveLength(2);
    expect(names(head, '{job=~"a"}')).toHaveLength(0);
    expect(names(head, '{__name__=~".+", method!~"GET|PUT"}')).toHaveLength(2);
    expect(names(head, '{__name__=~"up|http_requests_total", env=~"prod|"}')).toHaveLength(3);
  });

  it('refuses selectors with only empty-matching matchers', () => {
    expect(() => parseSeriesSelector('{job=~".*"}')).toThrow(/at least one non-empty matcher/);
    expect(() => parseSeriesSelector('{job=""}')).toThrow(/non-empty matcher/);
    expect(() => parseSeriesSelector('up{job="a"')).toThrow(/parse error/);
  });

  it('stores in-order samples, ignores exact duplicates, counts conflicts', () => {
    const head = new TenantHead();
    const { s, res } = add(head, [['__name__', 'm']], [[10, 1], [20, 2], [20, 2], [20, 3], [30, NaN]]);
    expect(res.appended).toBe(3);
    expect(res.duplicates).toBe(1);
    expect(res.discarded).toEqual({ 'err-isobar-duplicate-sample': 1 });
    const got = head.samples(s, -Infinity, Infinity);
    expect(got.slice(0, 2)).toEqual([[10, 1], [20, 2]]);
    expect(got[2]![0]).toBe(30);
    expect(Number.isNaN(got[2]![1])).toBe(true);
  });

  it('keeps out-of-order samples (backfill) sorted, with the same duplicate rules', () => {
    const head = new TenantHead();
    const day = 86_400_000;
    const { s, res } = add(head, [['__name__', 'm']], [[10 * day, 1], [7 * day, 2], [8 * day, 3], [7 * day, 2], [7 * day, 5], [9 * day, 4]]);
    expect(res).toMatchObject({ appended: 4, outOfOrder: 3, duplicates: 1, discarded: { 'err-isobar-duplicate-sample': 1 } });
    expect(head.samples(s, -Infinity, Infinity)).toEqual([[7 * day, 2], [8 * day, 3], [9 * day, 4], [10 * day, 1]]);
    expect(head.samples(s, 8 * day, 9 * day)).toEqual([[8 * day, 3], [9 * day, 4]]);
    expect(head.select([new Matcher('=', '__name__', 'm')], 7 * day, 7 * day)).toHaveLength(1);
  });

  it('cuts chunks at 120 samples and reads across them', () => {
    const head = new TenantHead();
    const samples = Array.from({ length: 500 }, (_, i) => [i * 15000, i] as [number, number]);
    const { s } = add(head, [['__name__', 'm']], samples);
    expect(s.sealed.length).toBe(4);
    expect(head.samples(s, 0, Infinity)).toEqual(samples);
    expect(head.samples(s, 15000 * 100, 15000 * 130)).toEqual(samples.slice(100, 131));
  });

  it('selects exactly what a brute-force filter selects (property)', () => {
    const value = fc.constantFrom('', 'a', 'b', 'ab', 'x');
    const labelSet = fc.record({ job: value, env: value, zone: value });
    const matcher = fc.record({
      type: fc.constantFrom<MatchType>('=', '!=', '=~', '!~'),
      name: fc.constantFrom('job', 'env', 'zone', 'nope'),
      value: fc.constantFrom('', 'a', 'b', 'a|b', 'a.*', '.*', '.+', 'x|'),
    });
    fc.assert(
      fc.property(fc.array(labelSet, { maxLength: 30 }), fc.array(matcher, { maxLength: 3 }), (sets, ms) => {
        const head = new TenantHead();
        const all: [string, string][][] = [];
        sets.forEach((ls, i) => {
          const labels = ([['__name__', 'm'], ['i', String(i)]] as [string, string][])
            .concat(Object.entries(ls).filter(([, v]) => v !== ''))
            .sort((a, b) => (a[0] < b[0] ? -1 : 1));
          all.push(labels);
          add(head, labels, [[1, 1]]);
        });
        const matchers = [new Matcher('=', '__name__', 'm'), ...ms.map((m) => new Matcher(m.type, m.name, m.value))];
        const got = head.select(matchers, -Infinity, Infinity).map((s) => s.labels.join(',')).sort();
        const want = all
          .filter((ls) => matchers.every((m) => m.matches(ls.find(([n]) => n === m.name)?.[1] ?? '')))
          .map((ls) => ls.flat().join(','))
          .sort();
        expect(got).toEqual(want);
      }),
    );
  });

  it('selects the series with a sample in [mint, maxt], out-of-order samples included, past its arrays\' first growth (property)', () => {
    const times = fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(fc.array(fc.tuple(times, times), { minLength: 1, maxLength: 40 }), fc.integer({ min: -10, max: 1010 }), fc.integer({ min: 0, max: 1100 }), (series, mint, width) => {
        const head = new TenantHead();
        // Series the arrays grow past (1,024 at first), all with one sample at 5000, outside any range asked.
        for (let i = 0; i < 1100; i++) add(head, [['__name__', 'filler'], ['i', String(i)]], [[5000, 1]]);
        const spans: Array<[number, number]> = [];
        series.forEach(([first, later], i) => {
          // A first batch in order, then one that may be older (the out-of-order path).
          const a = [...new Set(first)].sort((x, y) => x - y);
          add(head, [['__name__', 'm'], ['i', String(i)]], a.map((t) => [t, 1]));
          add(head, [['__name__', 'm'], ['i', String(i)]], [...new Set(later)].sort((x, y) => x - y).map((t) => [t, 2]));
          const all = [...a, ...later];
          spans.push([Math.min(...all), Math.max(...all)]);
        });
        const maxt = mint + width;
        const got = head.select([new Matcher('=', '__name__', 'm')], mint, maxt).map((s) => Number(s.labels[3]));
        const want = spans.flatMap(([lo, hi], i) => (hi >= mint && lo <= maxt ? [i] : []));
        expect(got.sort((x, y) => x - y)).toEqual(want);
      }),
      { numRuns: 60 },
    );
  });
});
