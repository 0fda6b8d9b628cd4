/** PromQL's typed syntax tree (what the evaluator walks), built from Prometheus's own grammar. */
import type { Matcher } from '../model/matcher.js';

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** `@` modifier: a fixed time (ms) or the query's start/end. */
export type At = number | 'start' | 'end';

export interface VectorSelector {
  kind: 'vector';
  /** The metric name as written before the braces ('' when there is none). */
  name: string;
  matchers: Matcher[];
  /** ms, positive looks back. */
  offset: number;
  at?: At;
}

export interface MatrixSelector {
  kind: 'matrix';
  vector: VectorSelector;
  range: number;
}

export interface Subquery {
  kind: 'subquery';
  expr: Expr;
  range: number;
  /** 0: the query's default step. */
  step: number;
  offset: number;
  at?: At;
}

/** `</` and `>/` trim a native histogram's observations above or below a value (Prometheus 3's TRIM_UPPER, TRIM_LOWER). */
export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '^' | 'atan2' | '==' | '!=' | '>' | '<' | '>=' | '<=' | 'and' | 'or' | 'unless' | '</' | '>/';

export interface VectorMatching {
  card: 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';
  /** `on` (true) or `ignoring` (false); absent clause = ignoring(). */
  on: boolean;
  labels: string[];
  /** group_left/right extra labels. */
  include: string[];
}

export type AggregateOp = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'group' | 'stddev' | 'stdvar' | 'topk' | 'bottomk' | 'quantile' | 'count_values' | 'limitk' | 'limit_ratio';

export type Expr =
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | VectorSelector
  | MatrixSelector
  | Subquery
  | { kind: 'call'; fn: string; args: Expr[] }
  | { kind: 'aggregate'; op: AggregateOp; param?: Expr; expr: Expr; grouping: string[]; without: boolean }
  | { kind: 'binary'; op: BinaryOp; lhs: Expr; rhs: Expr; bool: boolean; matching: VectorMatching }
  | { kind: 'unary'; op: '+' | '-'; expr: Expr }
  | { kind: 'paren'; expr: Expr }
  | { kind: 'stepInvariant'; expr: Expr };

export function typeOf(e: Expr): ValueType {
  switch (e.kind) {
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'vector':
    case 'aggregate':
      return 'vector';
    case 'matrix':
    case 'subquery':
      return 'matrix';
    case 'call':
      return FUNCTIONS[e.fn]?.ret ?? 'vector';
    case 'binary':
      return typeOf(e.lhs) === 'scalar' && typeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'unary':
    case 'paren':
    case 'stepInvariant':
      return typeOf(e.expr);
  }
}

export interface FunctionSig {
  args: ValueType[];
  /** How many trailing args are optional. */
  optional?: number;
  /** Last arg type repeats (label_join). */
  variadic?: boolean;
  ret: ValueType;
}

const v = 'vector' as const;
const m = 'matrix' as const;
const s = 'scalar' as const;
const str = 'string' as const;
const overTime = { args: [m], ret: v };
const math = { args: [v], ret: v };
const dateFn = { args: [v], optional: 1, ret: v };

/** The float-sample functions of Prometheus's documentation. */
export const FUNCTIONS: Record<string, FunctionSig> = {
  abs: math, ceil: math, floor: math, exp: math, ln: math, log2: math, log10: math, sqrt: math, sgn: math,
  sin: math, cos: math, tan: math, asin: math, acos: math, atan: math, sinh: math, cosh: math, tanh: math,
  asinh: math, acosh: math, atanh: math, deg: math, rad: math,
  round: { args: [v, s], optional: 1, ret: v },
  clamp: { args: [v, s, s], ret: v },
  clamp_min: { args: [v, s], ret: v },
  clamp_max: { args: [v, s], ret: v },
  rate: overTime, increase: overTime, delta: overTime, irate: overTime, idelta: overTime,
  deriv: overTime, changes: overTime, resets: overTime,
  predict_linear: { args: [m, s], ret: v },
  first_over_time: overTime, ts_of_first_over_time: overTime, ts_of_last_over_time: overTime,
  ts_of_min_over_time: overTime, ts_of_max_over_time: overTime,
  avg_over_time: overTime, min_over_time: overTime, max_over_time: overTime, sum_over_time: overTime,
  count_over_time: overTime, last_over_time: overTime, present_over_time: overTime,
  stddev_over_time: overTime, stdvar_over_time: overTime, mad_over_time: overTime,
  quantile_over_time: { args: [s, m], ret: v },
  absent_over_time: overTime,
  double_exponential_smoothing: { args: [m, s, s], ret: v },
  absent: { args: [v], ret: v },
  histogram_quantile: { args: [s, v], ret: v },
  /** Several quantiles at once, each a series labelled with its quantile: (buckets, label, q1, q2, ...). */
  histogram_quantiles: { args: [v, str, s], variadic: true, ret: v },
  histogram_fraction: { args: [s, s, v], ret: v },
  label_replace: { args: [v, str, str, str, str], ret: v },
  label_join: { args: [v, str, str, str], variadic: true, ret: v },
  sort: { args: [v], ret: v },
  sort_desc: { args: [v], ret: v },
  sort_by_label: { args: [v, str], variadic: true, ret: v },
  sort_by_label_desc: { args: [v, str], variadic: true, ret: v },
  scalar: { args: [v], ret: s },
  vector: { args: [s], ret: v },
  time: { args: [], ret: s },
  /** The query's step, range, start and end, in seconds (Prometheus 3's query-parameter functions). */
  step: { args: [], ret: s },
  range: { args: [], ret: s },
  start: { args: [], ret: s },
  end: { args: [], ret: s },
  timestamp: { args: [v], ret: v },
  pi: { args: [], ret: s },
  min_of: { args: [s, s], ret: s },
  max_of: { args: [s, s], ret: s },
  // Native-histogram functions: a float sample is no histogram, so over floats they answer nothing, as Prometheus does.
  histogram_count: math, histogram_sum: math, histogram_avg: math, histogram_stddev: math, histogram_stdvar: math,
  minute: dateFn, hour: dateFn, day_of_week: dateFn, day_of_month: dateFn, day_of_year: dateFn,
  days_in_month: dateFn, month: dateFn, year: dateFn,
};

/** Every vector selector in an expression, range selectors' too (Prometheus's ExtractSelectors). */
export function vectorSelectors(e: Expr, out: VectorSelector[] = []): VectorSelector[] {
  switch (e.kind) {
    case 'vector': out.push(e); break;
    case 'matrix': out.push(e.vector); break;
    case 'subquery': case 'paren': case 'unary': case 'stepInvariant': vectorSelectors(e.expr, out); break;
    case 'call': e.args.forEach((a) => vectorSelectors(a, out)); break;
    case 'aggregate': if (e.param) vectorSelectors(e.param, out); vectorSelectors(e.expr, out); break;
    case 'binary': vectorSelectors(e.lhs, out); vectorSelectors(e.rhs, out); break;
    default: break;
  }
  return out;
}
