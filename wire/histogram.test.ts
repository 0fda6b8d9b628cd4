import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyHistogram, histogramProblem, type NativeHistogram } from './histogram.js';
import { validHistogramArb } from '../test/support/histograms.js';
import { encodeWriteRequest, WriteRequestReader } from './remote-write.js';
import { encodeMessage, rw } from '../test/support/protobuf.js';

const readBack = (h: NativeHistogram) => {
  const r = new WriteRequestReader(encodeWriteRequest([{ labels: [['__name__', 'h']], samples: [], histograms: [h] }]));
  expect(r.next()).toBe(true);
  return r;
};

describe('native histograms on the wire', () => {
  it('a valid histogram reads back as written and passes the rules (property)', () => {
    fc.assert(
      fc.property(validHistogramArb, (h) => {
        expect(histogramProblem(h)).toBeUndefined();
        const r = readBack(h);
        expect(r.histogramCount).toBe(1);
        expect(r.histograms[0]).toEqual(h);
        expect(r.problem).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('reads unpacked deltas and counts as well as packed ones', () => {
    const fields = (rw.histogram(5000).value as Parameters<typeof encodeMessage>[0]).filter((f) => f.no !== 12);
    const unpacked = rw.series([rw.label('__name__', 'h'), { no: 4, wire: 2, value: [...fields, { no: 12, wire: 0, value: 4 }, { no: 12, wire: 0, value: 2 }] }]);
    const r = new WriteRequestReader(encodeMessage([unpacked]));
    r.next();
    expect(r.histograms[0]).toMatchObject({ t: 5000, count: 5, sum: 12.5, zeroCount: 1, positiveSpans: [0, 2], positiveBuckets: [2, 1], float: false });
  });

  const broken: Array<[string, (h: NativeHistogram) => void, RegExp]> = [
    ['a negative bucket (integer deltas)', (h) => Object.assign(h, { float: false, schema: 1, positiveSpans: [0, 2], positiveBuckets: [3, -4], count: 2, zeroCount: 0, negativeSpans: [], negativeBuckets: [] }), /positive side: bucket number 2 has observation count of -1/],
    ['a negative bucket (float counts)', (h) => Object.assign(h, { float: true, schema: 1, negativeSpans: [0, 1], negativeBuckets: [-1], positiveSpans: [], positiveBuckets: [] }), /negative side: bucket number 1 has observation count of -1/],
    ['spans that need more buckets than given', (h) => Object.assign(h, { schema: 0, positiveSpans: [0, 3], positiveBuckets: [1, 0] }), /positive side: spans need 3 buckets, have 2 buckets/],
    ['a later span with a negative offset', (h) => Object.assign(h, { schema: 0, positiveSpans: [0, 1, -2, 1], positiveBuckets: [1, 0], count: 2, zeroCount: 0 }), /span number 2 with offset -2/],
    ['schema 53 (9 to 52 are taken and reduced to 8)', (h) => Object.assign(h, { schema: 53 }), /invalid schema.*got schema 53/],
    ['schema -5', (h) => Object.assign(h, { schema: -5 }), /got schema -5/],
    ['custom bounds not increasing', (h) => Object.assign(h, { schema: -53, zeroThreshold: 0, zeroCount: 0, customValues: [1, 1], positiveSpans: [0, 1], positiveBuckets: [1], negativeSpans: [], negativeBuckets: [], count: 1 }), /custom buckets: previous bound is 1.000000 and current is 1.000000: .*strictly increasing/],
    ['a custom +Inf bound', (h) => Object.assign(h, { schema: -53, zeroThreshold: 0, zeroCount: 0, customValues: [1, Infinity], positiveSpans: [], positiveBuckets: [], negativeSpans: [], negativeBuckets: [], count: 0 }), /must be finite/],
    ['custom bounds too few for the spans', (h) => Object.assign(h, { schema: -53, zeroThreshold: 0, zeroCount: 0, customValues: [1], positiveSpans: [1, 2], positiveBuckets: [1, 0], negativeSpans: [], negativeBuckets: [], count: 2 }), /only 1 custom bounds defined which is insufficient to cover total span length of 3/],
    ['custom buckets with a zero threshold', (h) => Object.assign(h, { schema: -53, zeroThreshold: 0.1, zeroCount: 0, customValues: [1], positiveSpans: [], positiveBuckets: [], negativeSpans: [], negativeBuckets: [], count: 0 }), /must have zero threshold of 0/],
    ['an exponential schema with custom bounds', (h) => Object.assign(h, { schema: 2, customValues: [1] }), /must not have custom bounds/],
    ['a count that disagrees with the buckets', (h) => Object.assign(h, { float: false, count: 99 }), /observations found in buckets, but the Count field is 99/],
  ];

  it.each(broken)('refuses %s, naming the series and the rule', (_, mutate, why) => {
    const h = emptyHistogram();
    Object.assign(h, { t: 1000, count: 5, sum: 12.5, schema: 0, zeroThreshold: 1e-128, zeroCount: 1, positiveSpans: [0, 2], positiveBuckets: [2, 0] });
    expect(histogramProblem(h)).toBeUndefined();
    mutate(h);
    expect(histogramProblem(h)).toMatch(why);
    const r = readBack(h);
    expect(r.problem?.id).toBe('err-isobar-invalid-native-histogram');
    expect(r.problem?.message).toContain('{__name__="h"}');
    expect(r.problem?.message).toMatch(why);
  });

  it('a NaN sum lets the count exceed the buckets (NaN observations), never fall short', () => {
    const h = emptyHistogram();
    Object.assign(h, { count: 5, sum: NaN, schema: 0, positiveSpans: [0, 1], positiveBuckets: [3] });
    expect(histogramProblem(h)).toBeUndefined();
    h.count = 2;
    expect(histogramProblem(h)).toMatch(/should be at least the number of observations/);
  });
});
