/**
 * Runs promqltest scripts (promqltest-script.ts) against the engine, through
 * the asynchronous entry points `/api/v1/query` and `/api/v1/query_range` use.
 *
 * Results are judged as Prometheus's own runner judges them: floats equal
 * within a relative 1e-6 (NaN equals NaN), the same series (by label set), in
 * the same order where `expect ordered` says so, a range query's points on its
 * grid, and annotations: `expect warn|info` each match at least one annotation
 * of their kind and, where any is given, every annotation of that kind matches
 * one; `expect no_warn|no_info` allow none.
 */
import { labelsText } from '../../../wire/prom-json.js';
import { PairLabels } from '../../../wire/remote-write.js';
import { TenantDB } from '../db/tenant-db.js';
import type { AppendResult } from '../head/head.js';
import { Engine, type EngineOptions, type RangeSeries, type Value } from './engine.js';
import { vectorSelectors, type Expr } from './ast.js';
import { parsePromQL } from './parse.js';
import { parseScript, type EvalCommand, type Expectation, type Point, type SeriesLine } from './promqltest-script.js';
import type { NativeHistogram } from '../../../wire/histogram.js';
import { allBuckets } from './histograms.js';
import { toFloatHistogram } from '../../../wire/histogram.js';

export interface CaseResult {
  /** An eval, or a load this runner could not read (a failure of its own). */
  command: 'eval' | 'load';
  /** The command's line in the script. */
  line: number;
  query: string;
  ok: boolean;
  /** Why it failed. */
  message?: string;
  /** It reads or expects native histograms (which the engine cannot store yet). */
  histograms: boolean;
}

export interface CaseFailure {
  line: number;
  message: string;
}

const STALE = (() => {
  const b = new Float64Array(1);
  new Uint32Array(b.buffer).set([0x00000002, 0x7ff00000]);
  return b[0]!;
})();

/** Prometheus's almost.Equal with its test epsilon. */
function almostEqual(a: number, b: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  const MIN_NORMAL = 2.2250738585072014e-308;
  if (a === 0 || b === 0 || absSum < MIN_NORMAL) return diff < 1e-6 * MIN_NORMAL;
  return diff / Math.min(absSum, Number.MAX_VALUE) < 1e-6;
}

/** An expected series line's labels as the result's are printed (one key for both). */
const pairsText = (pairs: ReadonlyArray<readonly [string, string]>): string => labelsText(pairs.flat());
const pointText = (p: Point): string => (p === undefined ? '_' : p === 'stale' ? 'stale' : typeof p === 'number' ? String(p) : p.text);

/**
 * Two float histograms the same as Prometheus's runner compares them: after
 * dropping empty buckets, the same schema, zero threshold and bucket layout,
 * and counts, sum and buckets equal within its epsilon.
 */
function sameHistogram(a: NativeHistogram, b: NativeHistogram): boolean {
  const [x, y] = [toFloatHistogram(a), toFloatHistogram(b)];
  if (x.schema !== y.schema || !almostEqual(x.zeroThreshold, y.zeroThreshold)) return false;
  if (!almostEqual(x.count, y.count) || !almostEqual(x.sum, y.sum) || !almostEqual(x.zeroCount, y.zeroCount)) return false;
  if (x.customValues.join() !== y.customValues.join()) return false;
  const buckets = (h: NativeHistogram) => allBuckets(h).filter((bk) => bk.count !== 0 && !(bk.lower <= 0 && bk.upper >= 0 && h.schema !== -53 && bk.lower === -h.zeroThreshold));
  const [bx, by] = [buckets(x), buckets(y)];
  return bx.length === by.length && bx.every((bk, i) => bk.lower === by[i]!.lower && bk.upper === by[i]!.upper && almostEqual(bk.count, by[i]!.count));
}

/** A histogram as the script language writes one (for messages). */
function histogramText(h: NativeHistogram): string {
  const f = toFloatHistogram(h);
  return `{{schema:${f.schema} count:${f.count} sum:${f.sum} z_bucket:${f.zeroCount} z_bucket_w:${f.zeroThreshold} spans:[${f.positiveSpans.join(' ')}] buckets:[${f.positiveBuckets.join(' ')}] n_spans:[${f.negativeSpans.join(' ')}] n_buckets:[${f.negativeBuckets.join(' ')}]}}`;
}

/** One script's data: the tenant database the evals read, and what could not be stored in it. */
class Store {
  db = new TenantDB('promqltest');
  /** Label sets of the series with native histograms (stored, or, for load_with_nhcb, not made). */
  readonly histogramSeries: Array<Array<[string, string]>> = [];

  load(intervalMs: number, withNhcb: boolean, series: SeriesLine[]): void {
    // A series written twice in one load is the later line, as Prometheus's loader keys lines by label set.
    const byLabels = new Map(series.map((s) => [pairsText(s.labels), s]));
    for (const s of byLabels.values()) {
      const ts = new Float64Array(s.points.length);
      const vs = new Float64Array(s.points.length);
      const hs: NativeHistogram[] = [];
      let n = 0;
      s.points.forEach((p, k) => {
        if (p === undefined) return;
        if (typeof p === 'object') {
          if (!this.histogramSeries.includes(s.labels)) this.histogramSeries.push(s.labels);
          hs.push({ ...p.h, t: k * intervalMs });
          return;
        }
        ts[n] = k * intervalMs;
        vs[n] = p === 'stale' ? STALE : p;
        n++;
      });
      if (n === 0 && hs.length === 0) continue;
      const { s: series } = this.db.head.getOrCreate(new PairLabels(s.labels));
      const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
      if (n > 0) this.db.head.appendSamples(series, ts, vs, n, res);
      if (hs.length > 0) this.db.head.appendHistograms(series, hs, hs.length, res);
    }
    if (withNhcb) this.loadNhcb(intervalMs, [...byLabels.values()]);
  }

  /**
   * load_with_nhcb: besides each classic histogram (`_bucket`, `_count`,
   * `_sum` series), a native histogram with custom buckets of the same data
   * under the base name, as Prometheus's runner makes one: per timestamp, the
   * finite `le` bounds as custom bounds, each bucket's own count, the count
   * from `_count` (else the +Inf bucket), the sum from `_sum`.
   */
  private loadNhcb(intervalMs: number, series: readonly SeriesLine[]): void {
    type Temp = { buckets: Array<[number, number]>; count?: number; sum: number; bad: boolean };
    const groups = new Map<string, { labels: Array<[string, string]>; byT: Map<number, Temp> }>();
    for (const s of series) {
      const name = s.labels.find(([l]) => l === '__name__')?.[1] ?? '';
      const suffix = ['_bucket', '_count', '_sum'].find((x) => name.endsWith(x));
      if (!suffix) continue;
      let le = NaN;
      if (suffix === '_bucket') {
        le = Number(s.labels.find(([l]) => l === 'le')?.[1]?.replace(/^\+?Inf$/i, 'Infinity') ?? NaN);
        if (Number.isNaN(le)) continue;
      }
      const base = s.labels.filter(([l]) => l !== 'le').map(([l, v]) => [l, l === '__name__' ? name.slice(0, -suffix.length) : v] as [string, string]);
      const k = pairsText(base);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { labels: base, byT: new Map() }));
      s.points.forEach((p, i) => {
        if (typeof p !== 'number') return;
        const t = i * intervalMs;
        let h = g!.byT.get(t);
        if (!h) g!.byT.set(t, (h = { buckets: [], sum: 0, bad: false }));
        if (suffix === '_count') h.count = p;
        else if (suffix === '_sum') h.sum = p;
        else if (p < 0) h.bad = true;
        else if (!h.buckets.some(([b]) => b === le)) h.buckets.push([le, p]);
      });
    }
    for (const g of groups.values()) {
      const hs: NativeHistogram[] = [];
      for (const [t, temp] of [...g.byT].sort((a, b) => a[0] - b[0])) {
        const buckets = temp.buckets.sort((a, b) => a[0] - b[0]);
        if (temp.bad || buckets.some(([, c], i) => i > 0 && c < buckets[i - 1]![1])) continue; // not cumulative: no histogram
        const count = temp.count ?? buckets.at(-1)?.[1] ?? 0;
        if (buckets.length === 0 || buckets.at(-1)![0] !== Infinity) buckets.push([Infinity, count]);
        if (count !== buckets.at(-1)![1]) continue; // count and +Inf bucket disagree
        hs.push({
          t,
          float: true,
          schema: -53,
          count,
          sum: temp.sum,
          zeroThreshold: 0,
          zeroCount: 0,
          positiveSpans: [0, buckets.length],
          positiveBuckets: buckets.map(([, c], i) => c - (i > 0 ? buckets[i - 1]![1] : 0)),
          negativeSpans: [],
          negativeBuckets: [],
          customValues: buckets.slice(0, -1).map(([b]) => b),
          resetHint: 0,
        });
      }
      if (hs.length === 0) continue;
      this.histogramSeries.push(g.labels);
      const { s } = this.db.head.getOrCreate(new PairLabels(g.labels));
      this.db.head.appendHistograms(s, hs, hs.length, { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 });
    }
  }

  /** Does any selector of the query select a series whose histograms were not stored? */
  touchesHistograms(query: string): boolean {
    if (this.histogramSeries.length === 0) return false;
    let expr: Expr;
    if (/\bhistogram_(count|sum|avg|stddev|stdvar)\s*\(|[<>]\//.test(query)) return true; // native-histogram functions and trim operators
    try {
      expr = parsePromQL(query);
    } catch {
      return false;
    }
    const value = (ls: Array<[string, string]>, name: string) => ls.find(([n]) => n === name)?.[1] ?? '';
    return vectorSelectors(expr).some((sel) => this.histogramSeries.some((ls) => sel.matchers.every((m) => m.matches(value(ls, m.name)))));
  }
}

function matches(e: Expectation, text: string): boolean {
  if (e.msg !== undefined) return text === e.msg;
  if (e.regex) return e.regex.test(text);
  return true;
}

/** Prometheus's rules for one kind of annotation; undefined when they hold. */
function checkAnnotations(kind: 'warn' | 'info', expected: Expectation[], none: boolean, got: readonly string[]): string | undefined {
  if (none && got.length > 0) return `expected no ${kind} annotation, got ${JSON.stringify(got)}`;
  for (const e of expected) {
    if (!got.some((g) => matches(e, g))) return `expected a ${kind} annotation${e.msg !== undefined ? ` ${JSON.stringify(e.msg)}` : e.regex ? ` matching ${e.regex}` : ''}, got ${JSON.stringify(got)}`;
  }
  if (expected.length > 0) {
    const stray = got.find((g) => !expected.some((e) => matches(e, g)));
    if (stray !== undefined) return `unexpected ${kind} annotation ${JSON.stringify(stray)}`;
  }
  return undefined;
}

/** Compare a range vector (range query, or instant query with `expect range vector`) with the expected series on its grid. */
function compareMatrix(got: RangeSeries[], want: SeriesLine[], grid: { start: number; step: number }): string | undefined {
  const wantBy = new Map(want.map((w) => [pairsText(w.labels), w]));
  const seen = new Set<string>();
  for (const s of got) {
    const k = labelsText(s.labels);
    const w = wantBy.get(k);
    if (!w) return `unexpected series ${k} in the result`;
    seen.add(k);
    const wantPts: Array<[number, Point]> = [];
    w.points.forEach((p, i) => p !== undefined && wantPts.push([grid.start + i * grid.step, p]));
    // The series' float and histogram points, in time order.
    const pts: Array<[number, number | NativeHistogram]> = [];
    for (let i = s.lo; i < s.hi; i++) pts.push([s.t[i]!, s.v[i]!]);
    for (const h of s.hs ?? []) pts.push([h.t, h]);
    pts.sort((a, b) => a[0] - b[0]);
    const n = pts.length;
    const valueText = (v: number | NativeHistogram) => (typeof v === 'number' ? String(v) : histogramText(v));
    if (n !== wantPts.length) {
      const gotText = pts.map(([t, v]) => `${valueText(v)}@${t / 1000}s`).join(' ');
      return `series ${k}: expected ${wantPts.length} points (${wantPts.map(([t, p]) => `${pointText(p)}@${t / 1000}s`).join(' ')}), got ${n} (${gotText})`;
    }
    for (let i = 0; i < n; i++) {
      const [t, p] = wantPts[i]!;
      const [gt, gv] = pts[i]!;
      if (gt !== t) return `series ${k}: point ${i} at ${gt / 1000}s, expected at ${t / 1000}s`;
      const same = typeof p === 'number' ? typeof gv === 'number' && almostEqual(gv, p) : typeof p === 'object' && typeof gv === 'object' && sameHistogram(gv, p.h);
      if (!same) return `series ${k} at ${t / 1000}s: got ${valueText(gv)}, expected ${pointText(p)}`;
    }
  }
  for (const k of wantBy.keys()) if (!seen.has(k)) return `expected series ${k} not found in the result`;
  return undefined;
}

function compare(cmd: EvalCommand, got: Value): string | undefined {
  if (cmd.string !== undefined) {
    if (got.type !== 'string') return `expected a string, got a ${got.type}`;
    return got.s === cmd.string ? undefined : `got string ${JSON.stringify(got.s)}, expected ${JSON.stringify(cmd.string)}`;
  }
  if (cmd.range) {
    if (got.type !== 'matrix') return `expected a range result, got a ${got.type}`;
    return compareMatrix(got.series, cmd.series, cmd.range);
  }
  if (cmd.rangeVector) {
    if (got.type !== 'matrix') return `expected a range vector, got a ${got.type}`;
    return compareMatrix(got.series, cmd.series, cmd.rangeVector);
  }
  if (got.type === 'matrix') return 'got a range vector from an instant query without "expect range vector"';
  if (got.type === 'string') return `got string ${JSON.stringify(got.s)}, expected no string`;
  if (cmd.scalar !== undefined) {
    if (got.type !== 'scalar') return `expected scalar ${cmd.scalar}, got a ${got.type}`;
    return almostEqual(got.v, cmd.scalar) ? undefined : `got scalar ${got.v}, expected ${cmd.scalar}`;
  }
  if (got.type === 'scalar') return `got scalar ${got.v}, expected ${cmd.series.length ? 'a vector' : 'nothing'}`;
  if (got.samples.length !== cmd.series.length) {
    return `expected ${cmd.series.length} series, got ${got.samples.length}: ${got.samples.map((s) => `${labelsText(s.labels)} ${s.v}`).join(', ')}`;
  }
  const wantBy = new Map(cmd.series.map((w, i) => [pairsText(w.labels), { w, i }]));
  for (let i = 0; i < got.samples.length; i++) {
    const s = got.samples[i]!;
    const k = labelsText(s.labels);
    const e = wantBy.get(k);
    if (!e) return `unexpected series ${k} ${s.v} in the result`;
    if (cmd.ordered && e.i !== i) return `series ${k} at position ${i + 1}, expected at ${e.i + 1}`;
    const p = e.w.points[0];
    if (s.h) {
      if (typeof p !== 'object' || p === null || !sameHistogram(s.h, p.h)) return `series ${k}: got ${histogramText(s.h)}, expected ${pointText(p)}`;
      continue;
    }
    if (typeof p !== 'number' || !almostEqual(s.v, p)) return `series ${k}: got ${s.v}, expected ${pointText(p)}`;
  }
  return undefined;
}

/** Evaluate one eval command through the engine's asynchronous entry points. */
async function runEval(store: Store, cmd: EvalCommand, opts: EngineOptions): Promise<string | undefined> {
  let got: Value | undefined;
  let error: Error | undefined;
  let engine: Engine | undefined;
  try {
    const expr = parsePromQL(cmd.query);
    engine = new Engine(store.db, opts);
    if (cmd.range) got = { type: 'matrix', series: await engine.rangeAsync(expr, cmd.range.start, cmd.range.end, cmd.range.step) };
    else got = await engine.instantAsync(expr, cmd.at!);
  } catch (e) {
    error = e as Error;
  }
  if (cmd.fail) {
    if (!error) return 'expected the query to fail, it succeeded';
    if (!matches(cmd.fail, error.message)) return `error ${JSON.stringify(error.message)}, expected ${cmd.fail.msg !== undefined ? JSON.stringify(cmd.fail.msg) : `to match ${cmd.fail.regex}`}`;
    return undefined;
  }
  if (error) return `unexpected error: ${error.message}`;
  return (
    checkAnnotations('warn', cmd.warn, cmd.noWarn, engine!.warnings) ??
    checkAnnotations('info', cmd.info, cmd.noInfo, engine!.infos) ??
    compare(cmd, got!)
  );
}

/** Run a script: one result per eval command, in script order. */
export async function runPromqlScript(script: string, opts: EngineOptions = {}): Promise<CaseResult[]> {
  let store = new Store();
  const out: CaseResult[] = [];
  for (const cmd of parseScript(script)) {
    switch (cmd.kind) {
      case 'clear':
        store = new Store();
        break;
      case 'load':
        store.load(cmd.intervalMs, cmd.withNhcb, cmd.series);
        break;
      case 'broken':
        out.push({ command: cmd.eval ? 'eval' : 'load', line: cmd.line, query: '', ok: false, message: `cannot read the command: ${cmd.message}`, histograms: false });
        break;
      case 'eval': {
        const message = await runEval(store, cmd, opts);
        const expectsHistograms = cmd.series.some((s) => s.points.some((p) => typeof p === 'object'));
        out.push({ command: 'eval', line: cmd.line, query: cmd.query, ok: message === undefined, ...(message !== undefined ? { message } : {}), histograms: expectsHistograms || store.touchesHistograms(cmd.query) });
        break;
      }
    }
  }
  return out;
}

/** Run a script; the failures (empty: it passed) and how many evals it held. */
export async function runPromqlTest(script: string, opts: EngineOptions = {}): Promise<{ failures: CaseFailure[]; evals: number }> {
  const cases = await runPromqlScript(script, opts);
  return {
    failures: cases.filter((c) => !c.ok).map((c) => ({ line: c.line, message: `${c.query}: ${c.message}` })),
    evals: cases.filter((c) => c.command === 'eval').length,
  };
}
