/** Binary operators: scalar arithmetic and comparisons, and vector matching (on/ignoring, group_left/right, set operators). */
import type { NativeHistogram } from '../../../wire/histogram.js';
import { equalHistograms, scaleHistogram, trimHistogram, type Annotate } from './histograms.js';
import { addHistograms, IncompatibleSchemas, type SumNotes } from './histogram-sum.js';
import { labelValue, type Labels } from '../model/labels.js';
import type { BinaryOp, VectorMatching } from './ast.js';
import { labelsText } from '../../../wire/prom-json.js';
import { key, NAME, removeLabel, setLabel } from './label-sets.js';
import { QueryError, type Sample } from './values.js';

/** Operators whose result loses the metric name (Prometheus 3's shouldDropMetricName). */
export function dropsName(op: BinaryOp): boolean {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '%' || op === '^' || op === 'atan2';
}

export function isComparison(op: BinaryOp): boolean {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
}

/** [value, keep]: arithmetic gives its result; comparisons give the lhs and whether it holds. */
export function scalarOp(op: BinaryOp, a: number, b: number): [number, boolean] {
  switch (op) {
    case '+': return [a + b, true];
    case '-': return [a - b, true];
    case '*': return [a * b, true];
    case '/': return [a / b, true];
    case '%': return [a % b, true];
    case '^': return [Math.pow(a, b), true];
    case 'atan2': return [Math.atan2(a, b), true];
    case '==': return [a, a === b];
    case '!=': return [a, a !== b];
    case '>': return [a, a > b];
    case '<': return [a, a < b];
    case '>=': return [a, a >= b];
    case '<=': return [a, a <= b];
    default: throw new QueryError(`operator ${op} not allowed between scalars`);
  }
}

export function signature(ls: Labels, m: VectorMatching): string {
  const out: string[] = [];
  for (let i = 0; i < ls.length; i += 2) {
    const n = ls[i]!;
    const inList = m.labels.includes(n);
    if (m.on ? inList : !inList && n !== NAME) out.push(n, ls[i + 1]!);
  }
  return key(out);
}

export function vectorOp(op: BinaryOp, lhs: Sample[], rhs: Sample[], m: VectorMatching, bool: boolean, annotate: Annotate = () => {}): Sample[] {
  const info = (text: string) => annotate('info', text);
  if (op === 'and' || op === 'or' || op === 'unless') {
    const rs = new Set(rhs.map((s) => signature(s.labels, m)));
    if (op === 'and') return lhs.filter((s) => rs.has(signature(s.labels, m)));
    if (op === 'unless') return lhs.filter((s) => !rs.has(signature(s.labels, m)));
    const ls = new Set(lhs.map((s) => signature(s.labels, m)));
    return [...lhs, ...rhs.filter((s) => !ls.has(signature(s.labels, m)))];
  }
  const oneSide = m.card === 'one-to-many' ? lhs : rhs;
  const manySide = m.card === 'one-to-many' ? rhs : lhs;
  const bySig = new Map<string, Sample>();
  for (const s of oneSide) {
    const sig = signature(s.labels, m);
    if (bySig.has(sig)) {
      const side = m.card === 'one-to-many' ? 'left' : 'right';
      throw new QueryError(`found duplicate series for the match group ${sigString(s.labels, m)} on the ${side} hand-side of the operation: [${labelsText(bySig.get(sig)!.labels)}, ${labelsText(s.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`);
    }
    bySig.set(sig, s);
  }
  // One-to-one: a matching signature may be used once; otherwise each result label set once per signature.
  const matchedOnce = new Set<string>();
  const matched = new Map<string, Set<string>>();
  const out: Sample[] = [];
  for (const s of manySide) {
    const sig = signature(s.labels, m);
    const other = bySig.get(sig);
    if (!other) continue;
    const [l, r] = m.card === 'one-to-many' ? [other, s] : [s, other];
    // Native histograms: added or subtracted to each other, scaled by a float, compared for (in)equality.
    let h: NativeHistogram | undefined;
    let keepHistogram: boolean | undefined;
    if (l.h || r.h) {
      if (isComparison(op)) {
        if (!(l.h && r.h && (op === '==' || op === '!='))) {
          info(incompatible(op, l, r));
          continue;
        }
        keepHistogram = equalHistograms(l.h, r.h) === (op === '==');
      } else {
        h = histogramArithmetic(op, l, r, annotate);
        if (!h) {
          if (!(l.h && r.h && (op === '+' || op === '-'))) info(incompatible(op, l, r));
          continue;
        }
      }
    }
    const [v, keep] = keepHistogram !== undefined ? [NaN, keepHistogram] : h ? [NaN, true] : scalarOp(op, l.v, r.v);
    // One-to-one: a signature matches once, checked before a comparison filters (Prometheus 3).
    if (m.card === 'one-to-one') {
      if (matchedOnce.has(sig)) throw new QueryError(`multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)`);
      matchedOnce.add(sig);
    }
    if (isComparison(op) && !bool && !keep) continue;
    let labels: Labels;
    if (m.card === 'one-to-one') {
      labels = [];
      for (let i = 0; i < l.labels.length; i += 2) if (m.labels.includes(l.labels[i]!) === m.on) labels = [...labels, l.labels[i]!, l.labels[i + 1]!];
    } else {
      labels = s.labels;
      for (const inc of m.include) {
        const val = labelValue(other.labels, inc);
        labels = val === '' ? removeLabel(labels, inc) : setLabel(labels, inc, val);
      }
    }
    // Between vectors, trimming drops the name too (it keeps it against a scalar).
    const drop = (isComparison(op) ? bool : dropsName(op) || op === '</' || op === '>/') || !!s.drop;
    if (m.card !== 'one-to-one') {
      let inserted = matched.get(sig);
      const rk = key(labels);
      if (!inserted) matched.set(sig, (inserted = new Set()));
      else if (inserted.has(rk)) throw new QueryError(`multiple matches for labels: grouping labels must ensure unique matches`);
      inserted.add(rk);
    }
    const kept = m.card === 'one-to-many' ? r : l;
    if (keepHistogram !== undefined && !bool) h = kept.h;
    out.push({ labels, v: isComparison(op) ? (bool ? (keep ? 1 : 0) : kept.v) : v, ...(h ? { h } : {}), ...(drop ? { drop } : {}) });
  }
  return out;
}

/** Prometheus's info for an operator between sample types it does not take. */
export function incompatible(op: BinaryOp, l: { h?: unknown }, r: { h?: unknown }): string {
  const type = (x: { h?: unknown }) => (x.h ? 'histogram' : 'float');
  return `incompatible sample types encountered for binary operator ${JSON.stringify(op)}: ${type(l)} ${op} ${type(r)}`;
}


/** l op r where a side is a native histogram: h + h, h - h, h * f, f * h, h / f; undefined for anything else. */
function histogramArithmetic(op: BinaryOp, l: Sample, r: Sample, annotate: Annotate): NativeHistogram | undefined {
  if (l.h && r.h && (op === '+' || op === '-')) {
    const notes: SumNotes = {};
    try {
      const h = addHistograms(l.h, r.h, op === '+' ? 1 : -1, notes);
      const what = op === '+' ? 'addition' : 'subtraction';
      if (notes.reconciled) annotate('info', `mismatched custom buckets were reconciled during ${what}`);
      if (notes.collision) annotate('warn', `conflicting counter resets during histogram ${what}`);
      return h;
    } catch (e) {
      if (!(e instanceof IncompatibleSchemas)) throw e;
      annotate('warn', `incompatible bucket layout encountered for binary operator ${op}`);
      return undefined;
    }
  }
  if (l.h && !r.h && (op === '*' || op === '/')) return scaleHistogram(l.h, r.v, op === '/');
  if (r.h && !l.h && op === '*') return scaleHistogram(r.h, l.v);
  if (l.h && !r.h && (op === '</' || op === '>/')) return trimHistogram(l.h, r.v, op === '</');
  return undefined;
}

export function sigString(ls: Labels, m: VectorMatching): string {
  const parts: string[] = [];
  for (let i = 0; i < ls.length; i += 2) {
    const inList = m.labels.includes(ls[i]!);
    if (m.on ? inList : !inList && ls[i] !== NAME) parts.push(`${ls[i]}=${JSON.stringify(ls[i + 1])}`);
  }
  return `{${parts.join(', ')}}`;
}
