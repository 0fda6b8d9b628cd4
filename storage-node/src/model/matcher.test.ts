import { describe, expect, it } from 'vitest';
import { Matcher } from './matcher.js';
import { compileAnchored, RegexError } from './re2.js';

describe('RE2 translation', () => {
  it.each([
    ['a.c', ['abc', 'a\nc', 'a😀c'], ['ac', 'abbc']],
    ['foo|bar', ['foo', 'bar'], ['foobar', 'xfoo', '']],
    ['.*', ['', 'anything\nat all'], []],
    ['\\d+', ['123'], ['12a']],
    ['\\s', [' ', '\t'], ['\u00a0', '\u2003']], // RE2's \s is ASCII only
    ['[[:alpha:]]+', ['abcXYZ'], ['abc1']],
    ['\\pL+', ['héllo', 'ΔΣ'], ['a1']],
    ['\\p{Greek}+', ['αβγ'], ['abc']],
    ['\\Qa.b\\E', ['a.b'], ['axb']],
    ['(?i)abc', ['ABC', 'aBc'], ['abd']],
    ['(?P<x>a)b', ['ab'], ['a']],
    ['a{2}', ['aa'], ['a', 'aaa']],
    ['a{', ['a{'], ['a']],
    ['x}', ['x}'], []],
    ['\\_\\-\\#', ['_-#'], []],
    ['[]a]', [']', 'a'], ['b']],
    ['\\x41\\x{1F600}', ['A😀'], []],
    ['^abc$', ['abc'], []],
    ['\\Aab\\z', ['ab'], []],
    // Inline flags in the middle: the flagged part alone folds case.
    ['a(?i)b', ['ab', 'aB'], ['Ab', 'AB']],
    ['(?i:PRO).*', ['production', 'PROD', 'pRo'], ['xpro']],
    ['x((?i)ab)c', ['xabc', 'xABc'], ['xabC', 'XAbc']],
    ['(?i:[a-c]x)y', ['Bxy', 'cXy'], ['dxy', 'bxY']],
    ['(?i:é)', ['é', 'É'], ['e']],
    ['(?i:a(?-i:b))', ['ab', 'Ab'], ['aB']],
  ])('%s', (re, yes, no) => {
    const r = compileAnchored(re);
    for (const s of yes) expect(r.test(s), `${re} ~ ${JSON.stringify(s)}`).toBe(true);
    for (const s of no) expect(r.test(s), `${re} !~ ${JSON.stringify(s)}`).toBe(false);
  });

  it.each([
    ['(a)\\1', false],
    ['a(?=b)', false],
    ['(?<!a)b', false],
    ['a{1001}', false],
    ['[a', false],
    ['\\y', false],
    ['(?U)a+', true],
    ['(?i)a(?-i)b', true],
    ['a)', false],
  ])('refuses %s (unsupported=%s)', (re, unsupported) => {
    try {
      compileAnchored(re);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RegexError);
      expect((e as RegexError).unsupported).toBe(unsupported);
    }
  });
});

describe('Matcher', () => {
  it('follows Prometheus semantics, including absent = ""', () => {
    expect(new Matcher('=', 'a', '').matches('')).toBe(true);
    expect(new Matcher('!=', 'a', 'x').matchesEmpty).toBe(true);
    expect(new Matcher('=~', 'a', 'x|').matchesEmpty).toBe(true);
    expect(new Matcher('=~', 'a', '.+').matchesEmpty).toBe(false);
    expect(new Matcher('!~', 'a', '.+').matchesEmpty).toBe(true);
    expect(new Matcher('=~', 'a', 'x|y').matches('xy')).toBe(false);
    expect(new Matcher('=~', 'a', 'GET|POST').matches('POST')).toBe(true);
    expect(new Matcher('!~', 'a', 'GET|POST').matches('PUT')).toBe(true);
  });
});
