import { describe, expect, it } from 'vitest';
import { parsePromQL } from './parse.js';
import { astJson, durationString, exprString, goQuote, prettify } from './printer.js';

describe('PromQL printer', () => {
  it('writes durations as Prometheus does: years and weeks only when exact', () => {
    expect(durationString(0)).toBe('0s');
    expect(durationString(5_400_000)).toBe('1h30m');
    expect(durationString(14 * 86_400_000)).toBe('2w');
    expect(durationString(8 * 86_400_000)).toBe('8d');
    expect(durationString(90 * 86_400_000)).toBe('90d');
    expect(durationString(365 * 86_400_000)).toBe('1y');
    expect(durationString(1500)).toBe('1s500ms');
  });

  it('quotes strings as Go does', () => {
    expect(goQuote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(goQuote('tab\there\u0007\u007f')).toBe('"tab\\there\\a\\x7f"');
    expect(goQuote('héllo ✓')).toBe('"héllo ✓"');
    expect(goQuote('\u00a0\u200b')).toBe('"\\u00a0\\u200b"');
  });

  it('writes numbers without exponents, as Prometheus 3 does (2.x wrote 1e+300)', () => {
    expect(exprString(parsePromQL('1e300'))).toBe('1' + '0'.repeat(300));
    expect(exprString(parsePromQL('-Inf'))).toBe('-Inf');
    expect(exprString(parsePromQL('NaN'))).toBe('NaN');
    expect(exprString(parsePromQL('0x10'))).toBe('16');
  });

  it('round-trips: the printed form parses to the same tree', () => {
    for (const q of [
      'sum(rate(x{a="b",c=~"d|e"}[5m] offset -1m)) by (job) > bool on(job) group_left(v) info',
      'max_over_time(x[1h:5m] @ start() offset 1w)', 'topk(3, x @ 1700000000.5)', 'label_join(x, "d", ",", "a", "b")',
      '-(x + 1) ^ 2', 'x and on() y', 'count_values("v", x) without (a)',
    ]) {
      const once = exprString(parsePromQL(q));
      expect(exprString(parsePromQL(once)), q).toBe(once);
      expect(astJson(parsePromQL(once))).toBe(astJson(parsePromQL(q)));
    }
  });

  it('splits only nodes longer than 100 characters', () => {
    const long = `sum by (job) (rate(${'a'.repeat(60)}{job="api"}[5m])) / sum by (job) (rate(${'b'.repeat(60)}[5m]))`;
    expect(prettify(parsePromQL('sum(x) by (job)'))).toBe('sum by (job) (x)');
    expect(prettify(parsePromQL(long))).toBe(
      `  sum by (job) (rate(${'a'.repeat(60)}{job="api"}[5m]))\n/\n  sum by (job) (rate(${'b'.repeat(60)}[5m]))`,
    );
  });

  it('gives parse_query the tree Prometheus\u2019s UI reads, keys sorted as Go writes a map', () => {
    const tree = JSON.parse(astJson(parsePromQL('sum by (job) (rate(x{a="b"}[5m] offset 1m)) / on(job) group_left(v) info')));
    expect(tree).toEqual({
      type: 'binaryExpr',
      op: '/',
      bool: false,
      matching: { card: 'many-to-one', labels: ['job'], on: true, include: ['v'] },
      lhs: {
        type: 'aggregation', op: 'sum', grouping: ['job'], without: false, param: null,
        expr: {
          type: 'call',
          func: { name: 'rate', argTypes: ['matrix'], variadic: 0, returnType: 'vector' },
          args: [{
            type: 'matrixSelector', name: 'x', range: 300000, offset: 60000, timestamp: null, startOrEnd: null,
            matchers: [{ name: 'a', type: '=', value: 'b' }, { name: '__name__', type: '=', value: 'x' }],
          }],
        },
      },
      rhs: { type: 'vectorSelector', name: 'info', offset: 0, timestamp: null, startOrEnd: null, matchers: [{ name: '__name__', type: '=', value: 'info' }] },
    });
    const keys = Object.keys(JSON.parse(astJson(parsePromQL('1 + 2'))));
    expect(keys).toEqual([...keys].sort());
    expect(JSON.parse(astJson(parsePromQL('1 + 2'))).matching).toBeNull();
    expect(JSON.parse(astJson(parsePromQL('"a"')))).toEqual({ type: 'stringLiteral', val: 'a' });
  });
});
