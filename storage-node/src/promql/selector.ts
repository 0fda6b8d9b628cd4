/**
 * Series selectors (`up{job="x"}`, `{__name__=~"a|b"}`) parsed with
 * Prometheus's own grammar (@prometheus-io/lezer-promql), for `match[]`.
 */
import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import { Matcher, type MatchType } from '../model/matcher.js';
import { RegexError } from '../model/re2.js';
import { unquoteString } from './strings.js';

export class SelectorError extends Error {
  constructor(
    message: string,
    readonly unsupported = false,
  ) {
    super(message);
    this.name = 'SelectorError';
  }
}

const OPS: Record<string, MatchType> = { EqlSingle: '=', Neq: '!=', EqlRegex: '=~', NeqRegex: '!~' };

/** Position `line:col` (1-based) of a byte offset, as Prometheus reports parse errors. */
function position(src: string, offset: number): string {
  const before = src.slice(0, offset);
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  return `${line}:${col}`;
}

/**
 * Parse a series selector into matchers. Requires at least one matcher that
 * does not match the empty string, as Prometheus does for `match[]`.
 */
export function parseSeriesSelector(src: string): Matcher[] {
  const tree = parser.parse(src);
  let errAt = -1;
  tree.iterate({
    enter(n) {
      if (n.type.isError && errAt < 0) errAt = n.from;
    },
  });
  if (errAt >= 0) throw new SelectorError(`${position(src, errAt)}: parse error: unexpected input in selector ${JSON.stringify(src)}`);
  const top = tree.topNode.firstChild;
  if (!top || top.name !== 'VectorSelector' || top.nextSibling) {
    throw new SelectorError(`parse error: expected a series selector such as up{job="x"}, got ${JSON.stringify(src)}`);
  }
  const matchers: Matcher[] = [];
  const text = (n: SyntaxNode) => src.slice(n.from, n.to);
  try {
    for (let c = top.firstChild; c; c = c.nextSibling) {
      if (c.name === 'Identifier') matchers.push(new Matcher('=', '__name__', text(c)));
      if (c.name !== 'LabelMatchers') continue;
      for (let m = c.firstChild; m; m = m.nextSibling) {
        if (m.name === 'QuotedLabelName') {
          // {"metric.name"}: a quoted metric name on its own.
          matchers.push(new Matcher('=', '__name__', unquoteString(text(m.firstChild ?? m))));
          continue;
        }
        if (m.name !== 'UnquotedLabelMatcher' && m.name !== 'QuotedLabelMatcher') continue;
        const nameNode = m.getChild('LabelName') ?? m.getChild('QuotedLabelName');
        const opNode = m.getChild('MatchOp')?.firstChild;
        const valueNode = m.getChildren('StringLiteral').at(-1);
        if (!nameNode || !opNode || !valueNode) throw new SelectorError(`${position(src, m.from)}: parse error: incomplete label matcher`);
        const name = nameNode.name === 'LabelName' ? text(nameNode) : unquoteString(text(nameNode.firstChild ?? nameNode));
        const op = OPS[opNode.name];
        if (!op) throw new SelectorError(`${position(src, opNode.from)}: parse error: unknown match operator`);
        matchers.push(new Matcher(op, name, unquoteString(text(valueNode))));
      }
    }
  } catch (e) {
    if (e instanceof RegexError) throw new SelectorError(e.message, e.unsupported);
    if (e instanceof SelectorError) throw e;
    throw new SelectorError(`parse error: ${(e as Error).message}`);
  }
  const names = matchers.filter((m) => m.name === '__name__');
  if (names.length > 1 && top.getChild('Identifier')) {
    throw new SelectorError(`parse error: metric name must not be set twice: ${JSON.stringify(src)}`);
  }
  if (!matchers.some((m) => !m.matchesEmpty)) {
    throw new SelectorError(`parse error: vector selector must contain at least one non-empty matcher`);
  }
  return matchers;
}
