/**
 * Label matchers with Prometheus semantics: `=`, `!=`, `=~`, `!~`; regexes are
 * fully anchored RE2; a label that is absent has the value "" (so a matcher
 * that matches "" also selects series without the label).
 */
import { compileAnchored } from './re2.js';

export type MatchType = '=' | '!=' | '=~' | '!~';

export class Matcher {
  private readonly re: RegExp | undefined;
  /** Set membership for regexes that are an alternation of plain literals (`a|b|c`). */
  private readonly literals: Set<string> | undefined;

  constructor(
    readonly type: MatchType,
    readonly name: string,
    readonly value: string,
  ) {
    if (type === '=~' || type === '!~') {
      this.re = compileAnchored(value);
      if (/^[A-Za-z0-9_:\-|]*$/.test(value) && !value.startsWith('|') && !value.endsWith('|') && !value.includes('||')) {
        this.literals = new Set(value.split('|'));
      }
    }
  }

  matches(v: string): boolean {
    switch (this.type) {
      case '=':
        return v === this.value;
      case '!=':
        return v !== this.value;
      case '=~':
        return this.literals ? this.literals.has(v) : this.re!.test(v);
      case '!~':
        return !(this.literals ? this.literals.has(v) : this.re!.test(v));
    }
  }

  /** Does this matcher select series that lack the label? */
  get matchesEmpty(): boolean {
    return this.matches('');
  }

  toString(): string {
    return `${this.name}${this.type}${JSON.stringify(this.value)}`;
  }
}
