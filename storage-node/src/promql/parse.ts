/**
 * PromQL text -> typed AST, with Prometheus's grammar
 * (@prometheus-io/lezer-promql) and Prometheus-like errors ("1:5: parse error: ...").
 */
import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import { Matcher, type MatchType } from '../model/matcher.js';
import { RegexError } from '../model/re2.js';
import { FUNCTIONS, typeOf, type AggregateOp, type At, type BinaryOp, type Expr, type VectorMatching, type VectorSelector } from './ast.js';
import { unquoteString } from './strings.js';
import { durationMs } from '../../../wire/duration.js';
import { ErrorIds, IsobarError } from '../../../wire/errors.js';

export class PromQLParseError extends IsobarError {
  constructor(
    message: string,
    /** Valid PromQL (RE2) that Isobar cannot evaluate yet, as opposed to invalid input. */
    readonly unsupported = false,
  ) {
    super(unsupported ? ErrorIds.unsupportedRegex : ErrorIds.badQuery, 'bad-data', message);
    this.name = 'PromQLParseError';
  }
}

const MATCH_OPS: Record<string, MatchType> = { EqlSingle: '=', Neq: '!=', EqlRegex: '=~', NeqRegex: '!~' };
const BIN_OPS: Record<string, BinaryOp> = {
  Add: '+', Sub: '-', Mul: '*', Div: '/', Mod: '%', Pow: '^', Atan2: 'atan2', TrimUpper: '</', TrimLower: '>/',
  Eql: '==', Neq: '!=', Gtr: '>', Lss: '<', Gte: '>=', Lte: '<=', And: 'and', Or: 'or', Unless: 'unless',
};
const COMPARISON = new Set<BinaryOp>(['==', '!=', '>', '<', '>=', '<=']);
const SET_OPS = new Set<BinaryOp>(['and', 'or', 'unless']);
/** "1h30m", "5m", "1.5" (seconds) -> ms. */
export function parseDuration(src: string): number {
  if (/^[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?$/.test(src)) return Math.round(Number(src) * 1000);
  if (src === '') throw new PromQLParseError('parse error: empty duration');
  const ms = durationMs(src);
  if (ms === undefined) throw new PromQLParseError(`parse error: bad duration ${JSON.stringify(src)}`);
  return ms;
}

function parseNumber(src: string): number {
  // The grammar reads a sign into the literal where a number follows an operator (`1 - -1`, `+0.2`).
  const signed = /^([+-])\s*(.*)$/s.exec(src.trim());
  if (signed) return signed[1] === '-' ? -parseNumber(signed[2]!) : parseNumber(signed[2]!);
  const t = src.toLowerCase();
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t === 'nan') return NaN;
  if (/^0x[0-9a-f]+$/.test(t)) return parseInt(t, 16);
  if (/^[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?$/.test(t)) return Number(t);
  return parseDuration(src) / 1000; // durations as numbers: seconds
}

function position(src: string, offset: number): string {
  const before = src.slice(0, offset);
  return `${before.split('\n').length}:${offset - before.lastIndexOf('\n')}`;
}

/**
 * Where each node of a parsed expression starts in its query ("line:column",
 * as Prometheus's annotations name it). Kept beside the tree, not in it, so
 * trees stay plain data for the printer and the tests.
 */
const positions = new WeakMap<object, string>();

/** A node's position in its query ("1:5"), or "1:1" for a node made by the engine. */
export function positionOf(e: object): string {
  return positions.get(e) ?? '1:1';
}

/**
 * The query rewritten outside its string literals, each piece to one of the
 * same length so that positions hold. The one scanner of strings before the
 * grammar sees the query: an unterminated string runs to the end.
 */
function outsideStrings(src: string, rewrite: (code: string) => string): string {
  return src.replace(/"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|`[^`]*`?|[^"'`]+/gs, (piece) => (/^["'`]/.test(piece) ? piece : rewrite(piece)));
}

/**
 * Numbers with a trailing dot (`2.`, `1./6.`, `1.e3`), which Prometheus's Go
 * lexer reads and the lezer grammar does not, rewritten to the same value in
 * the same number of characters (`2 `, `1 /6 `, `1e3 `). A run of digits
 * inside a name (`foo1.`) or after another dot (`1.5.`) is not a number's start.
 */
function trailingDots(code: string): string {
  return code.replace(/(?<![0-9a-zA-Z_:.])([0-9]+)\.([eE][+-]?[0-9]+)?(?![0-9a-zA-Z_:])/g, (_all, digits: string, exp: string | undefined) => `${digits}${exp ?? ''} `);
}

/**
 * Functions Prometheus added after the newest lezer-promql release, each with
 * a function of the same length and arity class that the grammar knows: the
 * grammar parses the stand-in, and the call's name is then read from the
 * query itself (same offsets), so nothing else sees the stand-in.
 */
const NEWER_FUNCTIONS: Record<string, string> = { min_of: 'absent', max_of: 'absent' };

function newerFunctions(code: string): string {
  return code.replace(/(?<![a-zA-Z0-9_:])([a-z_]+)(?=\s*\()/g, (name: string) => NEWER_FUNCTIONS[name] ?? name);
}

export function parsePromQL(query: string): Expr {
  const src = outsideStrings(query, (code) => newerFunctions(trailingDots(code)));
  const tree = parser.parse(src);
  let errAt = -1;
  tree.iterate({
    enter(n) {
      if (n.type.isError && errAt < 0) errAt = n.from;
    },
  });
  if (errAt >= 0) {
    // A name the grammar does not know as a function, called: say so, as Prometheus does.
    const called = /([a-zA-Z_][a-zA-Z0-9_]*)\s*$/.exec(src.slice(0, errAt));
    if (called && src[errAt] === '(') {
      const hint = called[1] === 'holt_winters' ? ' (Prometheus 3 renamed it double_exponential_smoothing)' : '';
      throw new PromQLParseError(`${position(src, called.index)}: parse error: unknown function with name ${JSON.stringify(called[1])}${hint}`);
    }
  }
  if (errAt >= 0) throw new PromQLParseError(`${position(src, errAt)}: parse error: unexpected ${errAt >= src.length ? 'end of input' : JSON.stringify(src.slice(errAt, errAt + 10))}`);
  const top = tree.topNode.firstChild;
  if (!top) throw new PromQLParseError('1:1: parse error: no expression found in input');
  const text = (n: SyntaxNode) => src.slice(n.from, n.to);
  const fail = (n: SyntaxNode, msg: string, unsupported = false): never => {
    throw new PromQLParseError(`${position(src, n.from)}: parse error: ${msg}`, unsupported);
  };
  const children = (n: SyntaxNode): SyntaxNode[] => {
    const out: SyntaxNode[] = [];
    for (let c = n.firstChild; c; c = c.nextSibling) out.push(c);
    return out;
  };

  const vectorSelector = (n: SyntaxNode): VectorSelector => {
    const matchers: Matcher[] = [];
    const nameNode = n.getChild('Identifier');
    try {
      for (const c of children(n)) {
        if (c.name !== 'LabelMatchers') continue;
        for (const mnode of children(c)) {
          if (mnode.name === 'QuotedLabelName') {
            matchers.push(new Matcher('=', '__name__', unquoteString(text(mnode.firstChild ?? mnode))));
            continue;
          }
          if (mnode.name !== 'UnquotedLabelMatcher' && mnode.name !== 'QuotedLabelMatcher') continue;
          const nameNode = mnode.getChild('LabelName') ?? mnode.getChild('QuotedLabelName');
          const opNode = mnode.getChild('MatchOp')?.firstChild;
          const valueNode = mnode.getChildren('StringLiteral').at(-1);
          if (!nameNode || !opNode || !valueNode) fail(mnode, 'incomplete label matcher');
          const name = nameNode!.name === 'LabelName' ? text(nameNode!) : unquoteString(text(nameNode!.firstChild ?? nameNode!));
          matchers.push(new Matcher(MATCH_OPS[opNode!.name]!, name, unquoteString(text(valueNode!))));
        }
      }
    } catch (e) {
      if (e instanceof RegexError) fail(n, e.message, e.unsupported);
      if (e instanceof PromQLParseError) throw e;
      fail(n, (e as Error).message); // a bad string literal
    }
    // The name written outside the braces is matched last, as Prometheus orders it.
    if (nameNode) matchers.push(new Matcher('=', '__name__', text(nameNode)));
    if (nameNode && matchers.filter((x) => x.name === '__name__').length > 1) fail(n, 'metric name must not be set twice');
    if (!matchers.some((x) => !x.matchesEmpty)) fail(n, 'vector selector must contain at least one non-empty matcher');
    return { kind: 'vector', name: nameNode ? text(nameNode) : '', matchers, offset: 0 };
  };

  const grouping = (n: SyntaxNode | null): string[] => (n ? n.getChildren('LabelName').map(text) : []);

  const at = (n: SyntaxNode): At => {
    const pre = n.getChild('AtModifierPreprocessors');
    if (pre) return pre.firstChild?.name === 'AtStart' ? 'start' : 'end';
    const num = children(n).at(-1)!;
    const val = num.name === 'UnaryExpr' ? -parseNumber(text(num.lastChild!)) : parseNumber(text(num));
    return Math.round(val * 1000);
  };

  const expr = (n: SyntaxNode): Expr => {
    const e = exprOf(n);
    if (!positions.has(e)) positions.set(e, position(src, n.from));
    return e;
  };

  /**
   * The selector or subquery an `offset` or `@` written after `inner` applies
   * to: the grammar hangs them on the whole unary or binary expression before
   * them (`-m @ 100`, `a offset 5m or b offset 1h`), Prometheus on its last operand.
   */
  const modifierTarget = (inner: Expr): Expr => {
    if (inner.kind === 'unary') return modifierTarget(inner.expr);
    if (inner.kind === 'binary') return modifierTarget(inner.rhs);
    return inner.kind === 'matrix' ? inner.vector : inner;
  };

  const exprOf = (n: SyntaxNode): Expr => {
    switch (n.name) {
      case 'NumberDurationLiteral':
        return { kind: 'number', value: parseNumber(text(n)) };
      case 'StringLiteral':
        return { kind: 'string', value: unquoteString(text(n)) };
      case 'VectorSelector':
        return vectorSelector(n);
      case 'ParenExpr':
        return { kind: 'paren', expr: expr(n.firstChild!) };
      case 'UnaryExpr': {
        const op = text(n.firstChild!) as '+' | '-';
        const inner = expr(n.lastChild!);
        if (typeOf(inner) !== 'scalar' && typeOf(inner) !== 'vector') fail(n, `unary expression only allowed on expressions of type scalar or instant vector, got "${typeOf(inner)}"`);
        if (inner.kind === 'number') return { kind: 'number', value: op === '-' ? -inner.value : inner.value };
        return { kind: 'unary', op, expr: inner };
      }
      case 'MatrixSelector': {
        const vec = expr(n.firstChild!);
        if (vec.kind !== 'vector') fail(n, 'ranges only allowed for vector selectors');
        return { kind: 'matrix', vector: vec as VectorSelector, range: parseDuration(text(n.getChild('DurationExpr')!)) };
      }
      case 'SubqueryExpr': {
        const inner = expr(n.firstChild!);
        if (typeOf(inner) !== 'vector') fail(n, `subquery is only allowed on instant vector, got ${typeOf(inner)}`);
        const durs = n.getChildren('DurationExpr');
        return { kind: 'subquery', expr: inner, range: parseDuration(text(durs[0]!)), step: durs[1] ? parseDuration(text(durs[1])) : 0, offset: 0 };
      }
      case 'OffsetExpr': {
        const inner = expr(n.firstChild!);
        const d = n.getChild('OffsetDurationExpr')!;
        const neg = d.firstChild?.name === 'UnaryOp' && text(d.firstChild) === '-';
        const ms = parseDuration(text(neg ? d.lastChild! : d).replace(/^[+-]/, '')) * (neg ? -1 : 1);
        const target = modifierTarget(inner);
        if (target.kind !== 'vector' && target.kind !== 'subquery') fail(n, 'offset modifier must be preceded by an instant vector selector or range vector selector or a subquery');
        const t = target as VectorSelector;
        if (t.offset !== 0) fail(n, 'offset may not be set multiple times');
        t.offset = ms;
        return inner;
      }
      case 'StepInvariantExpr': {
        const inner = expr(n.firstChild!);
        const target = modifierTarget(inner);
        if (target.kind !== 'vector' && target.kind !== 'subquery') fail(n, '@ modifier must be preceded by an instant vector selector or range vector selector or a subquery');
        const t = target as VectorSelector;
        if (t.at !== undefined) fail(n, '@ <timestamp> may not be set multiple times');
        t.at = at(n);
        return inner;
      }
      case 'FunctionCall': {
        const id = n.getChild('FunctionIdentifier')!;
        const fn = query.slice(id.from, id.to); // the query's own name, not a grammar stand-in (NEWER_FUNCTIONS)
        const sig = FUNCTIONS[fn];
        if (!sig) fail(n, `unknown function with name ${JSON.stringify(fn)}`);
        const body = n.getChild('FunctionCallBody')!;
        const args = children(body).map(expr);
        // Prometheus's arity rules: optional trailing arguments, or a last argument repeated zero or more times.
        const min = sig!.args.length - (sig!.optional ?? 0) - (sig!.variadic ? 1 : 0);
        const max = sig!.variadic ? Infinity : sig!.args.length;
        if (min === max && args.length !== min) fail(n, `expected ${min} argument(s) in call to ${JSON.stringify(fn)}, got ${args.length}`);
        if (args.length < min) fail(n, `expected at least ${min} argument(s) in call to ${JSON.stringify(fn)}, got ${args.length}`);
        if (args.length > max) fail(n, `expected at most ${max} argument(s) in call to ${JSON.stringify(fn)}, got ${args.length}`);
        args.forEach((a, i) => {
          const want = sig!.args[Math.min(i, sig!.args.length - 1)]!;
          const got = typeOf(a);
          if (got !== want) fail(n, `expected type ${typeName(want)} in call to function ${JSON.stringify(fn)}, got ${typeName(got)}`);
        });
        return { kind: 'call', fn, args };
      }
      case 'AggregateExpr': {
        const op = text(n.getChild('AggregateOp')!).toLowerCase() as AggregateOp; // keywords are case-insensitive
        const mod = n.getChild('AggregateModifier');
        const body = children(n.getChild('FunctionCallBody')!).map(expr);
        const hasParam = op === 'topk' || op === 'bottomk' || op === 'quantile' || op === 'count_values' || op === 'limitk' || op === 'limit_ratio';
        if (body.length !== (hasParam ? 2 : 1)) fail(n, `wrong number of arguments for aggregate expression provided, expected ${hasParam ? 2 : 1}, got ${body.length}`);
        const inner = body.at(-1)!;
        if (typeOf(inner) !== 'vector') fail(n, `expected type instant vector in aggregation expression, got ${typeName(typeOf(inner))}`);
        if (hasParam) {
          const want = op === 'count_values' ? 'string' : 'scalar';
          if (typeOf(body[0]!) !== want) fail(n, `expected type ${typeName(want)} in aggregation parameter, got ${typeName(typeOf(body[0]!))}`);
        }
        return {
          kind: 'aggregate',
          op,
          ...(hasParam ? { param: body[0]! } : {}),
          expr: inner,
          grouping: grouping(mod?.getChild('GroupingLabels') ?? null),
          without: !!mod?.getChild('Without'),
        };
      }
      case 'BinaryExpr': {
        const parts = children(n);
        const lhs = expr(parts[0]!);
        const rhs = expr(parts.at(-1)!);
        const opNode = parts[1]!;
        const op = BIN_OPS[opNode.name];
        if (!op) fail(opNode, `unknown operator ${text(opNode)}`);
        const bool = !!n.getChild('BoolModifier');
        const clause = n.getChild('MatchingModifierClause');
        const lt = typeOf(lhs);
        const rt = typeOf(rhs);
        if (lt !== 'scalar' && lt !== 'vector') fail(n, `binary expression must contain only scalar and instant vector types`);
        if (rt !== 'scalar' && rt !== 'vector') fail(n, `binary expression must contain only scalar and instant vector types`);
        if (bool && !COMPARISON.has(op!)) fail(n, 'bool modifier can only be used on comparison operators');
        if (COMPARISON.has(op!) && lt === 'scalar' && rt === 'scalar' && !bool) fail(n, 'comparisons between scalars must use BOOL modifier');
        if (SET_OPS.has(op!) && (lt === 'scalar' || rt === 'scalar')) fail(n, `set operator "${op}" not allowed in binary scalar expression`);
        const matching: VectorMatching = { card: SET_OPS.has(op!) ? 'many-to-many' : 'one-to-one', on: false, labels: [], include: [] };
        if (clause) {
          if (lt !== 'vector' || rt !== 'vector') fail(n, 'vector matching only allowed between instant vectors');
          const groups = clause.getChildren('GroupingLabels');
          matching.on = !!clause.getChild('On');
          matching.labels = grouping(groups[0] ?? null);
          if (clause.getChild('GroupLeft')) matching.card = 'many-to-one';
          if (clause.getChild('GroupRight')) matching.card = 'one-to-many';
          if (matching.card === 'many-to-one' || matching.card === 'one-to-many') {
            if (SET_OPS.has(op!)) fail(n, 'no grouping allowed for "' + op + '" operation');
            matching.include = grouping(groups[1] ?? null);
          }
        }
        return { kind: 'binary', op: op!, lhs, rhs, bool, matching };
      }
      default:
        return fail(n, `unsupported expression ${n.name}`);
    }
  };
  return expr(top);
}

function typeName(t: string): string {
  return t === 'vector' ? 'instant vector' : t === 'matrix' ? 'range vector' : t;
}
