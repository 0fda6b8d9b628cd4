/**
 * Prometheus's promqltest script language, parsed into commands (the runner,
 * promqltest.ts, executes them). The language is specified in Prometheus's
 * `promql/promqltest/README.md`; in short:
 *
 *   load 1m                                   (or load_with_nhcb 1m)
 *     metric{a="b"}  0+10x5  _  _x2  stale  NaN  {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x2
 *   clear
 *   eval instant at 5m sum(metric)            (at: a duration, seconds, or negative)
 *     expect fail | warn | info | no_warn | no_info | ordered   (fail/warn/info take `msg: …` or `regex: …`)
 *     expect string "text"
 *     expect range vector from 1m to 3m step 1m
 *     {} 50
 *   eval range from 0 to 4m step 1m metric
 *     metric{a="b"} 0 10 20 30 40
 *
 * and the older `eval_fail`, `eval_warn`, `eval_info`, `eval_ordered`,
 * `expected_fail_message …`, `expected_fail_regexp …`. As in Prometheus, lines
 * are trimmed, a comment line counts as an empty line, and a command's block
 * ends at the first empty line.
 *
 * Native histograms (`{{schema:0 sum:5 count:4 z_bucket:1 z_bucket_w:0.001
 * buckets:[1 2 1] offset:1 n_buckets:[…] n_offset:… custom_values:[…]
 * counter_reset_hint:gauge}}`) become float histograms, as Prometheus's parser
 * builds them: one span per side, at its offset.
 */
import { parseDuration } from './parse.js';
import { parseSeriesSelector } from './selector.js';
import { unquoteString } from './strings.js';
import type { NativeHistogram } from '../../../wire/histogram.js';
import { addHistograms } from './histogram-sum.js';

/** A native histogram as written (`{{schema:1 sum:3 buckets:[1 2]}}`), and as a float histogram. */
export interface HistogramPoint {
  kind: 'histogram';
  text: string;
  fields: Record<string, string>;
  h: NativeHistogram;
}

const RESET_HINTS: Record<string, number> = { unknown: 0, reset: 1, not_reset: 2, gauge: 3 };

/** The float histogram a description's fields say (absent fields: 0 or none). */
function histogramOf(fields: Record<string, string>, text: string): NativeHistogram {
  const num = (k: string) => (fields[k] === undefined ? 0 : parseScriptNumber(fields[k]!));
  const list = (k: string) => (fields[k] === undefined ? [] : fields[k]!.slice(1, -1).trim().split(/\s+/).filter(Boolean).map(parseScriptNumber));
  const side = (bucketsKey: string, offsetKey: string) => {
    const buckets = list(bucketsKey);
    return { buckets, spans: buckets.length ? [num(offsetKey), buckets.length] : [] };
  };
  const pos = side('buckets', 'offset');
  const neg = side('n_buckets', 'n_offset');
  const hint = fields.counter_reset_hint;
  if (hint !== undefined && RESET_HINTS[hint] === undefined) throw new Error(`bad counter_reset_hint in ${text}`);
  return {
    t: 0,
    float: true,
    schema: num('schema'),
    sum: num('sum'),
    count: num('count'),
    zeroCount: num('z_bucket'),
    zeroThreshold: num('z_bucket_w'),
    positiveSpans: pos.spans,
    positiveBuckets: pos.buckets,
    negativeSpans: neg.spans,
    negativeBuckets: neg.buckets,
    customValues: list('custom_values'),
    resetHint: hint === undefined ? 0 : RESET_HINTS[hint]!,
  };
}

/** One point of a series line: a float, a staleness marker, a histogram, or no sample (undefined). */
export type Point = number | 'stale' | HistogramPoint | undefined;

export interface SeriesLine {
  /** Sorted [name, value] pairs. */
  labels: Array<[string, string]>;
  points: Point[];
}

/** An expected annotation or error: any (neither set), an exact message, or a pattern. */
export interface Expectation {
  msg?: string;
  regex?: RegExp;
}

export interface EvalCommand {
  kind: 'eval';
  line: number;
  query: string;
  /** Instant query at this time (ms). */
  at?: number;
  /** Range query. */
  range?: { start: number; end: number; step: number };
  fail?: Expectation;
  warn: Expectation[];
  info: Expectation[];
  noWarn: boolean;
  noInfo: boolean;
  ordered: boolean;
  /** `expect string`: the instant query's string result. */
  string?: string;
  /** `expect range vector`: an instant query whose result is a range vector on this grid. */
  rangeVector?: { start: number; end: number; step: number };
  /** A scalar result (a line holding a number only). */
  scalar?: number;
  series: SeriesLine[];
}

export type Command =
  | { kind: 'load'; line: number; intervalMs: number; withNhcb: boolean; series: SeriesLine[] }
  | { kind: 'clear'; line: number }
  | EvalCommand
  /** A command this parser could not read: the runner reports it (an eval counts as a failed case). */
  | { kind: 'broken'; line: number; eval: boolean; message: string };

export class ScriptError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'ScriptError';
  }
}

/** A time in a script: a duration (`1m30s`), seconds (`90`, `1.5`), optionally negative. */
export function parseScriptTime(src: string): number {
  const neg = src.startsWith('-');
  const ms = parseDuration(neg ? src.slice(1) : src);
  return neg ? -ms : ms;
}

const UNSIGNED = String.raw`(?:inf|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)`;
const FLOAT = `[+-]?${UNSIGNED}`;
const FLOAT_RE = new RegExp(`^${FLOAT}$`, 'i');
const EXPAND_RE = new RegExp(`^(${FLOAT})(?:([+-])(${UNSIGNED}))?x([0-9]+)$`, 'i');

/** A number as a script writes one (Inf, NaN, exponents; no hex, so `0x3` is an expansion). */
export function parseScriptNumber(src: string): number {
  if (!FLOAT_RE.test(src)) throw new Error(`bad number ${JSON.stringify(src)}`);
  const t = src.toLowerCase();
  const sign = t.startsWith('-') ? -1 : 1;
  const body = t.replace(/^[+-]/, '');
  if (body === 'inf') return sign * Infinity;
  if (body === 'nan') return NaN;
  return sign * Number(body);
}

/** `{{schema:1 sum:3 buckets:[1 2]}}` -> its fields. */
function parseHistogram(text: string): HistogramPoint {
  const inner = text.slice(2, -2).trim();
  const fields: Record<string, string> = {};
  const re = /([a-z_]+):(\[[^\]]*\]|\S+)/gy;
  let pos = 0;
  while (pos < inner.length) {
    if (/\s/.test(inner[pos]!)) {
      pos++;
      continue;
    }
    re.lastIndex = pos;
    const m = re.exec(inner);
    if (!m) throw new Error(`bad native histogram ${text}`);
    fields[m[1]!] = m[2]!;
    pos = re.lastIndex;
  }
  return { kind: 'histogram', text, fields, h: histogramOf(fields, text) };
}

/** Split the points part of a series line into tokens; `{{…}}` may hold spaces. */
function tokens(src: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < src.length) {
    if (/\s/.test(src[i]!)) {
      i++;
      continue;
    }
    let j = i;
    while (j < src.length && !/\s/.test(src[j]!)) {
      if (src.startsWith('{{', j)) {
        const close = src.indexOf('}}', j);
        if (close < 0) throw new Error(`unterminated native histogram in ${JSON.stringify(src)}`);
        j = close + 2;
      } else j++;
    }
    out.push(src.slice(i, j));
    i = j;
  }
  return out;
}

/** Expand one token: `1`, `1+2x3`, `_`, `_x3`, `stale`, `{{…}}`, `{{…}}x3`, `{{…}}+{{…}}x3`. */
function expandToken(tok: string, out: Point[]): void {
  if (tok === '_') return void out.push(undefined);
  if (tok === 'stale') return void out.push('stale');
  let m = /^_x([0-9]+)$/.exec(tok);
  if (m) {
    for (let i = 0; i < Number(m[1]); i++) out.push(undefined);
    return;
  }
  if (tok.startsWith('{{')) {
    const first = tok.indexOf('}}') + 2;
    const base = parseHistogram(tok.slice(0, first));
    const rest = tok.slice(first);
    if (rest === '') return void out.push(base);
    m = /^(?:([+-])(\{\{.*\}\}))?x([0-9]+)$/.exec(rest);
    if (!m) throw new Error(`bad native histogram expansion ${JSON.stringify(tok)}`);
    const n = Number(m[3]);
    // Each point adds (or takes) the increment to the one before, as Prometheus's parser does.
    const inc = m[2] ? parseHistogram(m[2]) : undefined;
    let cur = base;
    for (let i = 0; i <= n; i++) {
      if (i > 0 && inc) cur = { ...base, text: `${base.text}${m[1]}${i}*${inc.text}`, h: addHistograms(cur.h, inc.h, m[1] === '-' ? -1 : 1) };
      out.push(i === 0 || !inc ? base : cur);
    }
    return;
  }
  m = EXPAND_RE.exec(tok);
  if (m) {
    const start = parseScriptNumber(m[1]!);
    const inc = m[2] ? (m[2] === '-' ? -1 : 1) * parseScriptNumber(m[3]!) : 0;
    for (let i = 0; i <= Number(m[4]); i++) out.push(start + inc * i);
    return;
  }
  out.push(parseScriptNumber(tok));
}

export function expandPoints(src: string): Point[] {
  const out: Point[] = [];
  for (const tok of tokens(src)) expandToken(tok, out);
  return out;
}

/** Where the series part of a line ends: after the metric name and its `{…}` (quotes respected). */
function seriesEnd(line: string): number {
  let i = 0;
  while (i < line.length && /[a-zA-Z0-9_:]/.test(line[i]!)) i++;
  if (line[i] !== '{') return i;
  let quote = '';
  for (i++; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '}') return i + 1;
  }
  throw new Error(`unterminated label set in ${JSON.stringify(line)}`);
}

/** `metric{a="b"} 1 2 3` -> labels and points. */
export function parseSeriesLine(line: string): SeriesLine {
  const end = seriesEnd(line);
  const sel = line.slice(0, end);
  const labels: Array<[string, string]> = /^\{\s*\}$/.test(sel) ? [] : parseSeriesSelector(sel).map((m) => [m.name, m.value]);
  labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { labels, points: expandPoints(line.slice(end)) };
}

const EVAL_INSTANT = /^eval(?:_(fail|warn|info|ordered))?\s+instant\s+(?:at\s+(\S+)\s+)?(.+)$/;
const EVAL_RANGE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.+)$/;
const EXPECT = /^expect\s+(fail|warn|info|no_warn|no_info|ordered)(?:\s+(msg|regex)\s*:\s?(.*))?$/;

function expectation(kind: string | undefined, text: string | undefined): Expectation {
  if (kind === 'msg') return { msg: text!.trim() };
  if (kind === 'regex') return { regex: new RegExp(text!.trim()) };
  return {};
}

/** An `expect fail msg:` text: Prometheus's own scripts write it bare or Go-quoted. */
function failMessage(text: string): string {
  const t = text.trim();
  return /^(["`']).*\1$/s.test(t) ? unquoteString(t) : t;
}

function parseEval(head: string, line: number, body: Array<{ text: string; line: number }>): EvalCommand {
  const cmd: EvalCommand = { kind: 'eval', line, query: '', warn: [], info: [], noWarn: false, noInfo: false, ordered: false, series: [] };
  let old: string | undefined;
  const inst = EVAL_INSTANT.exec(head);
  if (inst) {
    old = inst[1];
    cmd.at = parseScriptTime(inst[2] ?? '0s');
    cmd.query = inst[3]!.trim();
  } else {
    const r = EVAL_RANGE.exec(head);
    if (!r) throw new ScriptError(line, `bad eval command: ${head}`);
    old = r[1];
    cmd.range = { start: parseScriptTime(r[2]!), end: parseScriptTime(r[3]!), step: parseScriptTime(r[4]!) };
    if (!(cmd.range.step > 0)) throw new ScriptError(line, `step must be positive: ${head}`);
    cmd.query = r[5]!.trim();
  }
  if (old === 'fail') cmd.fail = {};
  else if (old === 'warn') cmd.warn.push({});
  else if (old === 'info') cmd.info.push({});
  else if (old === 'ordered') cmd.ordered = true;
  for (const { text, line: at } of body) {
    try {
      let m = EXPECT.exec(text);
      if (m) {
        const e = m[1]!;
        if ((e === 'no_warn' || e === 'no_info' || e === 'ordered') && m[2]) throw new Error(`expect ${e} takes no message`);
        if (e === 'fail') cmd.fail = m[2] === 'msg' ? { msg: failMessage(m[3]!) } : expectation(m[2], m[3]);
        else if (e === 'warn') cmd.warn.push(expectation(m[2], m[3]));
        else if (e === 'info') cmd.info.push(expectation(m[2], m[3]));
        else if (e === 'no_warn') cmd.noWarn = true;
        else if (e === 'no_info') cmd.noInfo = true;
        else cmd.ordered = true;
        continue;
      }
      m = /^expect\s+string\s+(.+)$/.exec(text);
      if (m) {
        cmd.string = unquoteString(m[1]!.trim());
        continue;
      }
      m = /^expect\s+range\s+vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)$/.exec(text);
      if (m) {
        cmd.rangeVector = { start: parseScriptTime(m[1]!), end: parseScriptTime(m[2]!), step: parseScriptTime(m[3]!) };
        continue;
      }
      m = /^expected_fail_(message|regexp)\s+(.*)$/.exec(text);
      if (m) {
        cmd.fail = m[1] === 'message' ? { msg: m[2]!.trim() } : { regex: new RegExp(m[2]!.trim()) };
        continue;
      }
      if (text.startsWith('expect')) throw new Error(`unknown expectation: ${text}`);
      if (FLOAT_RE.test(text)) {
        cmd.scalar = parseScriptNumber(text);
        continue;
      }
      const s = parseSeriesLine(text);
      if (cmd.at !== undefined && !cmd.rangeVector && s.points.length > 1) throw new Error('an instant evaluation expects one value per series');
      cmd.series.push(s);
    } catch (e) {
      throw e instanceof ScriptError ? e : new ScriptError(at, (e as Error).message);
    }
  }
  return cmd;
}

/** Parse a whole script. A command that cannot be read becomes a `broken` one naming its line; the rest still run. */
export function parseScript(src: string): Command[] {
  const lines = src.split('\n').map((l) => {
    const t = l.trim();
    return t.startsWith('#') ? '' : t;
  });
  const out: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const head = lines[i]!;
    if (head === '') continue;
    const line = i + 1;
    const body: Array<{ text: string; line: number }> = [];
    // `clear` has no block: a command may follow on the next line.
    if (head !== 'clear') while (i + 1 < lines.length && lines[i + 1] !== '') body.push({ text: lines[++i]!, line: i + 1 });
    try {
      out.push(parseCommand(head, line, body));
    } catch (e) {
      out.push({ kind: 'broken', line, eval: head.startsWith('eval'), message: (e as Error).message });
    }
  }
  return out;
}

function parseCommand(head: string, line: number, body: Array<{ text: string; line: number }>): Command {
  if (head === 'clear') return { kind: 'clear', line };
  const load = /^load(_with_nhcb)?\s+(\S+)$/.exec(head);
  if (load) {
    const series = body.map(({ text, line: at }) => {
      try {
        return parseSeriesLine(text);
      } catch (e) {
        throw new ScriptError(at, (e as Error).message);
      }
    });
    return { kind: 'load', line, intervalMs: parseScriptTime(load[2]!), withNhcb: !!load[1], series };
  }
  if (head.startsWith('eval')) return parseEval(head, line, body);
  throw new ScriptError(line, `unknown command: ${head}`);
}
