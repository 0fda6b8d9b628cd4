import { describe, expect, it } from 'vitest';
import { parsePromQL } from './parse.js';
import { exprString } from './printer.js';

describe('PromQL parse: what the grammar does not read by itself', () => {
  it('numbers with a trailing dot, as Prometheus\u2019s lexer reads them; not inside strings or names', () => {
    expect(exprString(parsePromQL('2.'))).toBe('2');
    expect(exprString(parsePromQL('1./6.'))).toBe('1 / 6');
    expect(exprString(parsePromQL('1.e3'))).toBe('1000');
    expect(exprString(parsePromQL('label_replace(up, "a", "2.", "b", "x.")'))).toBe('label_replace(up, "a", "2.", "b", "x.")');
    expect(exprString(parsePromQL('foo1 offset 1m'))).toBe('foo1 offset 1m');
    expect(() => parsePromQL('foo1.')).toThrow(/parse error/);
    expect(() => parsePromQL('1.5.')).toThrow(/parse error/);
  });

  it('functions newer than the grammar: named from the query, positions kept; a string naming one is a string', () => {
    expect(exprString(parsePromQL('min_of(1, 2) + max_of(3, 4)'))).toBe('min_of(1, 2) + max_of(3, 4)');
    expect(exprString(parsePromQL('label_replace(up, "a", "min_of(", "b", "")'))).toBe('label_replace(up, "a", "min_of(", "b", "")');
    expect(() => parsePromQL('min_of(1, 2) + "unterminated min_of(')).toThrow(/unterminated/);
  });
});
