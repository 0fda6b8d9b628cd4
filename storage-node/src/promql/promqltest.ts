/**
 * A runner for (a subset of) Prometheus's promqltest script language, so
 * PromQL tests are data:
 *
 *   load 1m
 *     metric{a="b"}  0+10x5  _  stale  1 2 3  NaN  Inf
 *   eval instant at 5m sum(metric)
 *     {} 50
 *   eval range from 0 to 4m step 1m metric
 *     metric{a="b"} 0 10 20 30 40
 *   eval instant at 1m foo(
 *     expect fail
 *   clear
 *
 * Times are durations from 0 (the epoch). `0+10x5` is 0, 10, ..., 50; `_` is
 * no sample; `stale` is a staleness marker; `1x3` repeats 1 four times.
 * Expected series are matched regardless of order, except after
 * `eval_ordered instant at ...`, where the order must match too.
 */
import { PairLabels } from '../../../wire/remote-write.js';
import { TenantDB } from '../db/tenant-db.js';
import type { AppendResult } from '../head/head.js';
import { Engine, type Value } from './engine.js';
import { parseDuration, parsePromQL } from './parse.js';
import { parseSeriesSelector } from './selector.js';

export interface CaseFailure {
  line: number;
  message: string;
}

const STALE = (() => {
  const b = new Float64Array(1);
  const u = new Uint32Array(b.buffer);
  u[1] = 0x7ff00000;
  u[0] = 0x00000002;
  return b;
})();

/** Parse `metric{a="b"}` (or `{}` for no labels) into sorted [name, value] pairs. */
function seriesLabels(src: string): Array<[string, string]> {
  if (src.trim() === '{}') return [];
  const ms = parseSeriesSelector(src);
  return ms.map((m) => [m.name, m.value] as [string, string]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** `0+10x5 _ stale 1 2` -> values, where undefined is a missing sample and 'stale' a marker. */
function expandValues(src: string): Array<number | 'stale' | undefined> {
  const out: Array<number | 'stale' | undefined> = [];
  for (const tok of src.trim().split(/\s+/).filter(Boolean)) {
    if (tok === '_') out.push(undefined);
    else if (tok === 'stale') out.push('stale');
    else {
      const m = /^([-+]?[^x+-][^x]*?)(?:([+-])([^x]+))?x(\d+)$/.exec(tok);
      if (m) {
        const start = num(m[1]!);
        const inc = m[2] ? (m[2] === '-' ? -1 : 1) * num(m[3]!) : 0;
        for (let i = 0; i <= Number(m[4]); i++) out.push(start + inc * i);
      } else out.push(num(tok));
    }
  }
  return out;
}

function num(s: string): number {
  const t = s.toLowerCase();
  if (t === 'nan') return NaN;
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  const v = Number(s);
  if (Number.isNaN(v)) throw new Error(`bad number ${s}`);
  return v;
}

/** Split a line into its series part and its values part. */
function splitSeriesLine(line: string): [string, string] {
  const close = line.lastIndexOf('}');
  if (close >= 0) return [line.slice(0, close + 1), line.slice(close + 1)];
  const sp = line.search(/\s/);
  return [line.slice(0, sp), line.slice(sp)];
}

const close = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b));

/** Run a script; returns the failures (empty: it passed). */
export function runPromqlTest(script: string): { failures: CaseFailure[]; evals: number } {
  const lines = script.split('\n');
  let db = new TenantDB('test');
  const failures: CaseFailure[] = [];
  let evals = 0;
  let i = 0;
  const block = (): Array<{ text: string; line: number }> => {
    const out: Array<{ text: string; line: number }> = [];
    while (i + 1 < lines.length && /^\s+\S/.test(lines[i + 1]!) ) {
      i++;
      if (!lines[i]!.trim().startsWith('#')) out.push({ text: lines[i]!.trim(), line: i + 1 });
    }
    return out;
  };
  for (; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = raw.trim();
    const lineNo = i + 1;
    if (line === '' || line.startsWith('#')) continue;
    try {
      if (line === 'clear') {
        db = new TenantDB('test');
        continue;
      }
      let m = /^load\s+(\S+)$/.exec(line);
      if (m) {
        const step = parseDuration(m[1]!);
        for (const { text } of block()) {
          const [sel, vals] = splitSeriesLine(text);
          const labels = seriesLabels(sel);
          const values = expandValues(vals);
          const ts = new Float64Array(values.length);
          const vs = new Float64Array(values.length);
          let n = 0;
          values.forEach((v, k) => {
            if (v === undefined) return;
            ts[n] = k * step;
            if (v === 'stale') vs.set(STALE, n);
            else vs[n] = v;
            n++;
          });
          const { s } = db.head.getOrCreate(new PairLabels(labels));
          const res: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, discarded: {}, newSeries: 0 };
          db.head.appendSamples(s, ts, vs, n, res);
        }
        continue;
      }
      m = /^eval(?:_ordered)?\s+instant\s+at\s+(\S+)\s+(.+)$/.exec(line);
      const ordered = line.startsWith('eval_ordered');
      const r = /^eval\s+range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.+)$/.exec(line);
      if (m || r) {
        evals++;
        const expected = block();
        const expectFail = expected.some((e) => e.text === 'expect fail');
        let got: Value | undefined;
        let error: Error | undefined;
        try {
          const engine = new Engine(db);
          if (m) got = engine.instant(parsePromQL(m[2]!), parseDuration(m[1]!));
          else {
            const [start, end, step] = [parseDuration(r![1]!), parseDuration(r![2]!), parseDuration(r![3]!)];
            got = { type: 'matrix', series: engine.range(parsePromQL(r![4]!), start, end, step) };
          }
        } catch (e) {
          error = e as Error;
        }
        if (expectFail) {
          if (!error) failures.push({ line: lineNo, message: `expected an error, got a result` });
          continue;
        }
        if (error) {
          failures.push({ line: lineNo, message: `unexpected error: ${error.message}` });
          continue;
        }
        const problem = compare(got!, expected.map((e) => e.text), !!r, r ? [parseDuration(r[1]!), parseDuration(r[3]!)] : undefined, ordered);
        if (problem) failures.push({ line: lineNo, message: `${line}: ${problem}` });
        continue;
      }
      throw new Error(`unknown command: ${line}`);
    } catch (e) {
      failures.push({ line: lineNo, message: (e as Error).message });
    }
  }
  return { failures, evals };
}

function compare(got: Value, expected: string[], range: boolean, grid?: [number, number], ordered = false): string | undefined {
  if (got.type === 'scalar') {
    if (expected.length !== 1) return `got scalar ${got.v}, expected ${expected.length} lines`;
    return close(got.v, num(expected[0]!)) ? undefined : `scalar ${got.v} != ${expected[0]}`;
  }
  if (got.type === 'string') return expected[0] === JSON.stringify(got.s) ? undefined : `string ${JSON.stringify(got.s)} != ${expected[0]}`;
  const want = new Map<string, Array<number | 'stale' | undefined>>();
  for (const e of expected) {
    const [sel, vals] = splitSeriesLine(e);
    want.set(JSON.stringify(seriesLabels(sel)), expandValues(vals));
  }
  const have = new Map<string, Array<number | undefined>>();
  if (got.type === 'vector') {
    for (const s of got.samples) have.set(JSON.stringify(pairs(s.labels)), [s.v]);
  } else {
    for (const s of got.series) {
      const [start, step] = grid ?? [0, 1];
      const arr: Array<number | undefined> = [];
      for (let k = s.lo; k < s.hi; k++) arr[(s.t[k]! - start) / step] = s.v[k];
      have.set(JSON.stringify(pairs(s.labels)), arr);
    }
  }
  if (!range && got.type !== 'vector') return `expected an instant vector, got ${got.type}`;
  for (const [k, w] of want) {
    const h = have.get(k);
    if (!h) return `missing series ${k}; got ${[...have.keys()].join(' ')}`;
    const n = Math.max(w.length, h.length);
    for (let j = 0; j < n; j++) {
      const a = h[j];
      const b = w[j];
      if (a === undefined && b === undefined) continue;
      if (a === undefined || b === undefined || b === 'stale' || !close(a, b)) return `series ${k} point ${j}: got ${a}, want ${b}`;
    }
  }
  for (const k of have.keys()) if (!want.has(k)) return `unexpected series ${k}`;
  if (ordered && [...have.keys()].join('\n') !== [...want.keys()].join('\n')) return `order: got ${[...have.keys()].join(' ')}`;
  return undefined;
}

function pairs(ls: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < ls.length; i += 2) out.push([ls[i]!, ls[i + 1]!]);
  return out;
}
