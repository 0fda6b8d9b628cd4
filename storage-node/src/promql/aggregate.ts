/**
 * PromQL's aggregation operators (sum, avg, count, min, max, group, stddev,
 * stdvar, quantile, topk, bottomk, limitk, limit_ratio, count_values) over one
 * step's samples, grouped by/without labels, with Prometheus 3's numerics.
 */
import type { NativeHistogram } from '../../../wire/histogram.js';
import { IncompatibleSchemas, meanHistogram, sumHistograms, type SumNotes } from './histogram-sum.js';
import { histogramString } from './histograms.js';
import { seriesHash } from '../../../wire/hash.js';
import { labelValue, type Labels } from '../model/labels.js';
import type { Expr } from './ast.js';
import { cmpAsc, cmpDesc, compensatedSum, floatMean, floatQuantile, RunningVariance } from './float-stats.js';
import { formatFloat, goFloat } from './format.js';
import { key, NAME, pairs, setLabel } from './label-sets.js';
import { goQuote } from './printer.js';
import { isValidUtf8 } from './strings.js';
import { QueryError, type Annotator, type Sample, type Value } from './values.js';

/** Per aggregation node (its grouping list): each input label set's group (labels and key), worked out once for all steps. */
export type GroupCache = WeakMap<string[], WeakMap<Labels, { labels: Labels; key: string }>>;

/** The labels of a series' group: those named by `by`, or all but those named by `without` (and the name). */
export function groupLabels(ls: Labels, grouping: readonly string[], without: boolean): Labels {
  const out: string[] = [];
  for (let i = 0; i < ls.length; i += 2) {
    const n = ls[i]!;
    if (without ? !grouping.includes(n) && n !== NAME : grouping.includes(n)) out.push(n, ls[i + 1]!);
  }
  return out;
}

/** Aggregations of floats that leave native histograms out (with an info), as Prometheus's do. */
export const IGNORES_HISTOGRAMS = new Set(['min', 'max', 'stddev', 'stdvar', 'quantile', 'topk', 'bottomk']);

/** One aggregation at one step: the groups' results, or (topk, bottomk, limitk, limit_ratio) the chosen samples. */
export function aggregate(ev: Annotator & { groupCache: GroupCache }, e: Extract<Expr, { kind: 'aggregate' }>, param: Value | undefined, samples: Sample[]): Sample[] {
  const { op, grouping, without } = e;
  let cache = ev.groupCache.get(grouping);
  if (!cache) ev.groupCache.set(grouping, (cache = new WeakMap()));
  const groupOf = (ls: Labels): { labels: Labels; key: string } => {
    let g = cache!.get(ls);
    if (g) return g;
    const out = groupLabels(ls, grouping, without);
    cache!.set(ls, (g = { labels: out, key: key(out) }));
    return g;
  };
  const p = param?.type === 'scalar' ? param.v : NaN;
  if (op === 'topk' || op === 'bottomk' || op === 'limitk') {
    if (Number.isNaN(p)) throw new QueryError('Parameter value is NaN');
    if (Math.abs(p) >= 2 ** 63) throw new QueryError(`Scalar value ${formatFloat(p)} overflows int64`);
  }
  if (op === 'limit_ratio') {
    if (Number.isNaN(p)) throw new QueryError('Ratio value is NaN');
    if (p < -1 || p > 1) ev.warn(`ratio value should be between -1 and 1, got ${goFloat(p)}, capping to ${p < -1 ? -1 : 1}`, e.param!);
  }
  if (op === 'quantile' && !(p >= 0 && p <= 1)) ev.warn(`quantile value should be between 0 and 1, got ${goFloat(p)}`, e.param!);
  if (IGNORES_HISTOGRAMS.has(op) && samples.some((s) => s.h)) {
    // These aggregate floats only: histograms are left out with Prometheus's info.
    ev.info(`ignored histogram in ${op} aggregation`, e.expr);
    samples = samples.filter((s) => !s.h);
  }
  // A group keeps its members' name-drop mark where it groups by __name__ (delayed name removal).
  const groups = new Map<string, { labels: Labels; items: Sample[]; drop: boolean }>();
  for (const s of samples) {
    const gk = groupOf(s.labels);
    let g = groups.get(gk.key);
    if (!g) groups.set(gk.key, (g = { labels: gk.labels, items: [], drop: false }));
    g.items.push(s);
    if (s.drop) g.drop = true;
  }
  const out: Sample[] = [];
  const push = (g: { labels: Labels; drop: boolean }, v: number) => out.push(g.drop && !without && grouping.includes(NAME) ? { labels: g.labels, v, drop: true } : { labels: g.labels, v });
  if (op === 'count_values') {
    const label = param?.type === 'string' ? param.s : '';
    // Prometheus 3's label names: any non-empty UTF-8.
    if (label === '' || !isValidUtf8(label)) throw new QueryError(`invalid label name ${goQuote(label)}`);
    // Counted by the output's label set: groups that meet there once the label is set (it may overwrite a grouping label) count together.
    const counts = new Map<string, { labels: Labels; drop: boolean; n: number }>();
    for (const g of groups.values()) {
      for (const s of g.items) {
        // A histogram's value is its text, as Prometheus writes it.
        const labels = setLabel(g.labels, label, s.h ? histogramString(s.h) : formatFloat(s.v));
        const k = key(labels);
        const c = counts.get(k);
        if (c) c.n++;
        else counts.set(k, { labels, drop: g.drop, n: 1 });
      }
    }
    for (const c of counts.values()) push(c, c.n);
    return out;
  }
  for (const g of groups.values()) {
    if ((op === 'sum' || op === 'avg') && g.items.some((s) => s.h)) {
      // Native histograms: added (sum) or averaged; a group mixing them with floats has no result, as in Prometheus.
      if (g.items.some((s) => !s.h)) {
        ev.warn('encountered a mix of histograms and floats for aggregation', e.expr);
        continue;
      }
      const hs = g.items.map((s) => s.h!);
      const notes: SumNotes = {};
      let h: NativeHistogram;
      try {
        h = op === 'sum' ? sumHistograms(hs, notes) : meanHistogram(hs, notes);
      } catch (err) {
        if (!(err instanceof IncompatibleSchemas)) throw err;
        const name = g.items.find((s) => s.h && (s.h.schema === -53) !== (hs[0]!.schema === -53));
        ev.warn(`vector contains a mix of histograms with exponential and custom buckets schemas for metric name ${goQuote(labelValue(name?.labels ?? [], NAME))}`, e.expr);
        continue;
      }
      if (notes.reconciled) ev.info('mismatched custom buckets were reconciled during aggregation', e.expr);
      if (notes.collision) ev.warn('conflicting counter resets during histogram aggregation', e.expr);
      out.push({ ...(g.drop && !without && grouping.includes(NAME) ? { drop: true } : {}), labels: g.labels, v: NaN, h });
      continue;
    }
    const vs = g.items.map((s) => s.v);
    switch (op) {
      case 'sum': push(g, compensatedSum(vs)); break;
      case 'avg': push(g, floatMean(vs)); break;
      case 'count': push(g, vs.length); break;
      case 'group': push(g, 1); break;
      case 'min': push(g, vs.reduce((a, b) => (Number.isNaN(a) || b < a ? b : a), NaN)); break;
      case 'max': push(g, vs.reduce((a, b) => (Number.isNaN(a) || b > a ? b : a), NaN)); break;
      case 'stddev':
      case 'stdvar': {
        const rv = new RunningVariance();
        for (const v of vs) rv.add(v);
        push(g, op === 'stddev' ? Math.sqrt(rv.variance) : rv.variance);
        break;
      }
      case 'quantile': push(g, floatQuantile(p, vs)); break;
      case 'topk':
      case 'bottomk': {
        const k = Math.floor(p);
        if (!(k >= 1)) break;
        // NaN is never among the top or the bottom while other values remain.
        out.push(...firstK(g.items, k, op === 'topk' ? (a, b) => cmpDesc(a.v, b.v) : (a, b) => cmpAsc(a.v, b.v)));
        break;
      }
      case 'limitk': {
        const k = Math.floor(p);
        if (k >= 1) out.push(...g.items.slice(0, k));
        break;
      }
      case 'limit_ratio': {
        // A deterministic sample: each series by where its label hash falls in [0, 1).
        const r = Math.max(-1, Math.min(1, p));
        for (const s of g.items) {
          const h = seriesHash(pairs(s.labels));
          const at = h.hi / 2 ** 32 + h.lo / 2 ** 64;
          if (r >= 0 ? at < r : at >= 1 + r) out.push(s);
        }
        break;
      }
    }
  }
  return out;
}

/**
 * The first `k` items in `cmp` order, ties in input order: what a stable sort
 * then slice(0, k) gives, without sorting all of them (a dashboard's topk(5)
 * over thousands of series, at every step).
 */
export function firstK<T>(items: readonly T[], k: number, cmp: (a: T, b: T) => number): T[] {
  if (k >= items.length || k > 64) return [...items].sort(cmp).slice(0, k);
  const best: T[] = [];
  for (const x of items) {
    if (best.length === k && cmp(x, best[k - 1]!) >= 0) continue;
    let i = best.length;
    while (i > 0 && cmp(x, best[i - 1]!) < 0) i--;
    best.splice(i, 0, x);
    if (best.length > k) best.pop();
  }
  return best;
}
