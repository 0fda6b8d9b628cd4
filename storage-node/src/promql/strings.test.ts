import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { goQuote } from './printer.js';
import { isValidUtf8, unquoteString } from './strings.js';

describe('PromQL string literals are Go byte strings', () => {
  it('decodes byte escapes as UTF-8, and keeps a byte that is none', () => {
    expect(unquoteString('"\\xc3\\xa9"')).toBe('é');
    expect(unquoteString("'\\303\\251 \\u00e9 \\U0001F600'")).toBe('é é 😀');
    const bad = unquoteString('"a\\xc5z"');
    expect(isValidUtf8(bad)).toBe(false);
    expect(goQuote(bad)).toBe('"a\\xc5z"');
    expect(isValidUtf8(unquoteString('"a\\xc5\\x80z"'))).toBe(true); // Å as two bytes
  });

  it('round-trips any text through goQuote (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(unquoteString(goQuote(s))).toBe(s);
      }),
    );
  });
});
