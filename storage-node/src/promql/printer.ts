/**
 * PromQL back to text and to JSON, as Prometheus writes them: the canonical
 * one-line form (`exprString`), the indented form of `/api/v1/format_query`
 * (`prettify`: a node longer than 100 characters is split, its children one
 * level deeper), and the syntax tree of `/api/v1/parse_query` (`astJson`).
 */
import { goString } from '../../../wire/prom-json.js';
import type { Matcher } from '../model/matcher.js';
import { FUNCTIONS, typeOf, type At, type Expr, type VectorMatching, type VectorSelector } from './ast.js';
import { formatFloat } from './format.js';

const MAX_LINE = 100;
const LEGACY_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Go's strconv.Quote: printable characters as they are, the rest escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c === 0x20 || !/[\p{C}\p{Z}]/u.test(ch)) out += ch;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c >= 0xdc80 && c <= 0xdcff) out += '\\x' + (c - 0xdc00).toString(16).padStart(2, '0'); // a byte that is no UTF-8 (strings.ts)
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd'; // a lone surrogate: Go sees invalid UTF-8
    else if (c < 0x80) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c < 0x10000) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += '\\U' + c.toString(16).padStart(8, '0');
  }
  return out + '"';
}

/** Prometheus's model.Duration text: "1h30m", "90d", "1w", "500ms"; years and weeks only when exact. */
export function durationString(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  const unit = (name: string, size: number, exact: boolean) => {
    if (exact && rest % size !== 0) return;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${name}`;
      rest -= n * size;
    }
  };
  unit('y', 31_536_000_000, true);
  unit('w', 604_800_000, true);
  unit('d', 86_400_000, false);
  unit('h', 3_600_000, false);
  unit('m', 60_000, false);
  unit('s', 1000, false);
  unit('ms', 1, false);
  return out;
}

const labelName = (n: string) => (LEGACY_NAME.test(n) ? n : goQuote(n));
const labelList = (ns: readonly string[]) => ns.map(labelName).join(', ');
const matcherString = (m: Matcher) => `${labelName(m.name)}${m.type}${goQuote(m.value)}`;

function atString(at: At | undefined): string {
  if (at === undefined) return '';
  if (at === 'start') return ' @ start()';
  if (at === 'end') return ' @ end()';
  return ` @ ${(at / 1000).toFixed(3)}`;
}

function offsetString(ms: number): string {
  if (ms > 0) return ` offset ${durationString(ms)}`;
  if (ms < 0) return ` offset -${durationString(-ms)}`;
  return '';
}

/** The selector without its modifiers: name, then the other matchers sorted as strings. */
function selectorBody(v: VectorSelector): string {
  const parts = v.matchers
    .filter((m) => !(m.name === '__name__' && m.type === '=' && m.value === v.name && v.name !== ''))
    .map(matcherString)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return v.name + (parts.length ? `{${parts.join(',')}}` : '');
}

function matchingString(m: VectorMatching): string {
  let s = '';
  const grouped = m.card === 'many-to-one' || m.card === 'one-to-many';
  if (m.labels.length > 0 || m.on || grouped) s += ` ${m.on ? 'on' : 'ignoring'} (${labelList(m.labels)})`;
  if (grouped) s += ` group_${m.card === 'many-to-one' ? 'left' : 'right'} (${labelList(m.include)})`;
  return s;
}

function aggregatePrefix(e: Extract<Expr, { kind: 'aggregate' }>): string {
  if (e.without) return `${e.op} without (${labelList(e.grouping)}) `;
  if (e.grouping.length > 0) return `${e.op} by (${labelList(e.grouping)}) `;
  return e.op;
}

function subquerySuffix(e: Extract<Expr, { kind: 'subquery' }>): string {
  return `[${durationString(e.range)}:${e.step ? durationString(e.step) : ''}]${atString(e.at)}${offsetString(e.offset)}`;
}

/** The canonical one-line text of an expression (Prometheus's String()). */
export function exprString(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return formatFloat(e.value);
    case 'string':
      return goQuote(e.value);
    case 'vector':
      return selectorBody(e) + atString(e.at) + offsetString(e.offset);
    case 'matrix':
      return `${selectorBody(e.vector)}[${durationString(e.range)}]${atString(e.vector.at)}${offsetString(e.vector.offset)}`;
    case 'subquery':
      return exprString(e.expr) + subquerySuffix(e);
    case 'call':
      return `${e.fn}(${e.args.map(exprString).join(', ')})`;
    case 'aggregate':
      return `${aggregatePrefix(e)}(${e.param ? exprString(e.param) + ', ' : ''}${exprString(e.expr)})`;
    case 'binary':
      return `${exprString(e.lhs)} ${e.op}${e.bool ? ' bool' : ''}${matchingString(e.matching)} ${exprString(e.rhs)}`;
    case 'unary':
      return e.op + exprString(e.expr);
    case 'paren':
      return `(${exprString(e.expr)})`;
    case 'stepInvariant':
      return exprString(e.expr);
  }
}

const indent = (level: number) => '  '.repeat(level);

/** `/api/v1/format_query`: Prometheus's prettier (split a node only when its one-line form is over 100 characters). */
export function prettify(e: Expr, level = 0): string {
  const flat = exprString(e);
  const pad = indent(level);
  if (flat.length <= MAX_LINE) return e.kind === 'subquery' ? flat : pad + flat;
  switch (e.kind) {
    case 'aggregate':
      return `${pad}${aggregatePrefix(e)}(\n${e.param ? prettify(e.param, level + 1) + ',\n' : ''}${prettify(e.expr, level + 1)}\n${pad})`;
    case 'binary':
      return `${prettify(e.lhs, level + 1)}\n${pad}${e.op}${e.bool ? ' bool' : ''}${matchingString(e.matching)}\n${prettify(e.rhs, level + 1)}`;
    case 'call':
      return `${pad}${e.fn}(\n${e.args.map((a) => prettify(a, level + 1)).join(',\n')}\n${pad})`;
    case 'paren':
      return `${pad}(\n${prettify(e.expr, level + 1)}\n${pad})`;
    case 'subquery':
      return prettify(e.expr, level) + subquerySuffix(e);
    case 'unary':
      return pad + e.op + prettify(e.expr, level).trim();
    case 'stepInvariant':
      return prettify(e.expr, level);
    default:
      return pad + flat; // selectors and literals are never split
  }
}

// ---- parse_query ------------------------------------------------------------

/** A JSON object with its keys sorted, as Go's encoding/json writes a map. */
function object(fields: Record<string, string>): string {
  return '{' + Object.keys(fields).sort().map((k) => `${goString(k)}:${fields[k]}`).join(',') + '}';
}
const str = (s: string) => goString(s);
const list = (xs: readonly string[]) => '[' + xs.map(goString).join(',') + ']';
const matchersJson = (ms: readonly Matcher[]) => '[' + ms.map((m) => object({ name: str(m.name), type: str(m.type), value: str(m.value) })).join(',') + ']';
const timestampJson = (at: At | undefined) => (typeof at === 'number' ? String(at) : 'null');
const startOrEndJson = (at: At | undefined) => (at === 'start' ? '"start"' : at === 'end' ? '"end"' : 'null');

/** `/api/v1/parse_query`: the syntax tree as Prometheus's UI reads it. */
export function astJson(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return object({ type: str('numberLiteral'), val: str(formatFloat(e.value)) });
    case 'string':
      return object({ type: str('stringLiteral'), val: str(e.value) });
    case 'vector':
      return object({ type: str('vectorSelector'), name: str(e.name), offset: String(e.offset), matchers: matchersJson(e.matchers), timestamp: timestampJson(e.at), startOrEnd: startOrEndJson(e.at) });
    case 'matrix':
      return object({ type: str('matrixSelector'), name: str(e.vector.name), range: String(e.range), offset: String(e.vector.offset), matchers: matchersJson(e.vector.matchers), timestamp: timestampJson(e.vector.at), startOrEnd: startOrEndJson(e.vector.at) });
    case 'subquery':
      return object({ type: str('subquery'), expr: astJson(e.expr), range: String(e.range), offset: String(e.offset), step: String(e.step), timestamp: timestampJson(e.at), startOrEnd: startOrEndJson(e.at) });
    case 'call': {
      const sig = FUNCTIONS[e.fn]!;
      return object({
        type: str('call'),
        func: object({ name: str(e.fn), argTypes: list(sig.args), variadic: String(sig.variadic ? -1 : sig.optional ?? 0), returnType: str(sig.ret) }),
        args: '[' + e.args.map(astJson).join(',') + ']',
      });
    }
    case 'aggregate':
      return object({ type: str('aggregation'), op: str(e.op), expr: astJson(e.expr), param: e.param ? astJson(e.param) : 'null', grouping: list(e.grouping), without: String(e.without) });
    case 'binary': {
      const vectors = typeOf(e.lhs) === 'vector' && typeOf(e.rhs) === 'vector';
      const m = e.matching;
      return object({
        type: str('binaryExpr'),
        op: str(e.op),
        lhs: astJson(e.lhs),
        rhs: astJson(e.rhs),
        matching: vectors ? object({ card: str(m.card), labels: list(m.labels), on: String(m.on), include: list(m.include) }) : 'null',
        bool: String(e.bool),
      });
    }
    case 'unary':
      return object({ type: str('unaryExpr'), op: str(e.op), expr: astJson(e.expr) });
    case 'paren':
      return object({ type: str('parenExpr'), expr: astJson(e.expr) });
    case 'stepInvariant':
      return astJson(e.expr);
  }
}
