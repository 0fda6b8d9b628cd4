/**
 * Label-set work of the evaluator: the name and its delayed removal, keys,
 * setting and removing labels, label_replace's template, sort_by_label's order,
 * absent()'s labels. Label sets are flat sorted [name, value, ...] arrays.
 */
import { compareLabelsUtf8, compareUtf8 } from '../block/utf8-order.js';
import { labelsKey, labelValue, type Labels } from '../model/labels.js';
import type { Expr } from './ast.js';
import { QueryError, type Sample, type Value } from './values.js';

export const NAME = '__name__';

/** Each label set without __name__, and the name it had ('' for none): cached per (immutable, shared) input set, as series keep theirs across steps. */
export const nameless = new WeakMap<Labels, { labels: Labels; name: string }>();

export const withoutName = (ls: Labels): { labels: Labels; name: string } => {
  let out = nameless.get(ls);
  if (!out) {
    const i = ls.indexOf(NAME);
    out = i >= 0 && i % 2 === 0 ? { labels: [...ls.slice(0, i), ...ls.slice(i + 2)], name: ls[i + 1]! } : { labels: ls, name: '' };
    nameless.set(ls, out);
  }
  return out;
};

export const dropName = (ls: Labels): Labels => withoutName(ls).labels;

export const keys = new WeakMap<Labels, string>();

export const key = (ls: Labels): string => {
  let k = keys.get(ls);
  if (k === undefined) keys.set(ls, (k = labelsKey(ls)));
  return k;
};

/**
 * The result's label sets: __name__ removed where an operation marked it, and
 * refused if that leaves one label set twice, as Prometheus refuses it
 * ("vector cannot contain metrics with the same labelset").
 */
export function finishVector(samples: Sample[]): Sample[] {
  if (!samples.some((x) => x.drop)) return samples;
  const out = samples.map((x) => (x.drop ? { labels: dropName(x.labels), v: x.v, ...(x.h ? { h: x.h } : {}) } : x));
  uniqueLabelSets(out);
  return out;
}

/** A function's result may not hold one label set twice (label_replace/label_join), as Prometheus checks. */
export function uniqueLabelSets(samples: Sample[]): Value {
  const seen = new Set<string>();
  for (const s of samples) {
    const k = key(s.labels);
    if (seen.has(k)) throw new QueryError(`vector cannot contain metrics with the same labelset`);
    seen.add(k);
  }
  return { type: 'vector', samples };
}

/** Set (or, with an empty value, remove) a label, keeping names sorted. */
export function setLabel(ls: Labels, name: string, value: string): Labels {
  const out: string[] = [];
  let done = false;
  for (let i = 0; i < ls.length; i += 2) {
    const n = ls[i]!;
    if (n === name) continue;
    if (!done && compareUtf8(name, n) < 0) {
      if (value !== '') out.push(name, value);
      done = true;
    }
    out.push(n, ls[i + 1]!);
  }
  if (!done && value !== '') out.push(name, value);
  return out;
}

export function removeLabel(ls: Labels, name: string): Labels {
  return setLabel(ls, name, '');
}


/** [name, value] pairs of a label set. */
export function pairs(ls: Labels): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < ls.length; i += 2) out.push([ls[i]!, ls[i + 1]!]);
  return out;
}

/** Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}` (names as long as they run), `$$` for a dollar. */
export function expandTemplate(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (all, braced: string | undefined, bare: string | undefined) => {
    if (all === '$$') return '$';
    const name = (braced ?? bare)!;
    if (/^[0-9]+$/.test(name)) return m[Number(name)] ?? '';
    return m.groups?.[name] ?? '';
  });
}

/**
 * sort_by_label's order: the named labels' values compared naturally (runs
 * of digits by value, so "2" before "10"), then the whole label sets.
 */
export function compareByLabels(a: Labels, b: Labels, names: string[]): number {
  for (const n of names) {
    const c = naturalCompare(labelValue(a, n), labelValue(b, n));
    if (c !== 0) return c;
  }
  return compareLabelsUtf8(a, b);
}

export function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i]!;
    const y = rb[i]!;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = x.replace(/^0+(?=\d)/, '');
      const ny = y.replace(/^0+(?=\d)/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return nx < ny ? -1 : 1;
      if (x.length !== y.length) return x.length - y.length;
    } else if (x !== y) return compareUtf8(x, y);
  }
  return ra.length - rb.length;
}

/** Absent's labels: the selector's equality matchers (not the name), where the label has no other matcher. */
export function absentLabels(e: Expr): Labels {
  const inner = unwrapParens(e);
  const sel = inner.kind === 'matrix' ? inner.vector : inner.kind === 'vector' ? inner : undefined;
  if (!sel) return [];
  let ls: Labels = [];
  const seen = new Map<string, number>();
  for (const m of sel.matchers) if (m.name !== NAME) seen.set(m.name, (seen.get(m.name) ?? 0) + 1);
  for (const m of sel.matchers) if (m.type === '=' && m.name !== NAME && seen.get(m.name) === 1) ls = setLabel(ls, m.name, m.value);
  return ls;
}

/** A range function's argument, or `timestamp`'s, read through parentheses. */
export function unwrapParens(e: Expr): Expr {
  return e.kind === 'paren' ? unwrapParens(e.expr) : e;
}
