/**
 * OpenMetrics text with timestamps (what `promtool tsdb create-blocks-from
 * openmetrics` reads) into Prometheus blocks, for `isobar import`. Samples are
 * grouped per series and cut into blocks of one block range (2 h), as
 * promtool does. Block ULIDs come from the file's content and each block's
 * start, so converting the same file again gives the same blocks (an
 * interrupted import reruns into one copy of the data).
 *
 * Spec: https://github.com/OpenMetrics/OpenMetrics/blob/main/specification/OpenMetrics.md
 * (text format; timestamps are seconds; `# EOF` ends the exposition).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encodeColumns } from '../storage-node/src/chunkenc/merge.js';
import { writeBlock, type BlockSeriesInput } from '../storage-node/src/block/writer.js';
import { ulid } from '../storage-node/src/block/ulid.js';
import { isValidLabelName, isValidMetricName } from '../wire/remote-write.js';

export class OpenMetricsError extends Error {}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(s: string, line: number): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  const v = Number(s);
  if (s === '' || Number.isNaN(v)) throw new OpenMetricsError(`line ${line}: ${JSON.stringify(s)} is not a number`);
  return v;
}

/** One sample line: labels (sorted, flat), value, timestamp in ms. */
export function parseSampleLine(text: string, line: number): { labels: string[]; v: number; t: number } {
  const m = NAME.exec(text);
  if (!m) throw new OpenMetricsError(`line ${line}: expected a metric name`);
  const name = m[0];
  if (!isValidMetricName(name)) throw new OpenMetricsError(`line ${line}: invalid metric name ${JSON.stringify(name)}`);
  const pairs: Array<[string, string]> = [['__name__', name]];
  let i = name.length;
  if (text[i] === '{') {
    i++;
    while (text[i] !== '}') {
      const ln = NAME.exec(text.slice(i));
      if (!ln || !isValidLabelName(ln[0])) throw new OpenMetricsError(`line ${line}: expected a label name at column ${i + 1}`);
      i += ln[0].length;
      if (text[i] !== '=' || text[i + 1] !== '"') throw new OpenMetricsError(`line ${line}: expected ="…" after label ${ln[0]}`);
      i += 2;
      let value = '';
      for (;;) {
        const ch = text[i];
        if (ch === undefined) throw new OpenMetricsError(`line ${line}: unterminated label value`);
        i++;
        if (ch === '"') break;
        if (ch === '\\') {
          const e = text[i++];
          value += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : `\\${e ?? ''}`;
        } else value += ch;
      }
      if (pairs.some(([n]) => n === ln[0])) throw new OpenMetricsError(`line ${line}: label ${ln[0]} repeated`);
      if (value !== '') pairs.push([ln[0], value]);
      if (text[i] === ',') i++;
      else if (text[i] !== '}') throw new OpenMetricsError(`line ${line}: expected , or } at column ${i + 1}`);
    }
    i++;
  }
  // Exemplars (` # {…} v t`) are not kept.
  const rest = text.slice(i).split(' # ')[0]!.trim().split(/\s+/);
  if (rest.length !== 2) throw new OpenMetricsError(`line ${line}: expected a value and a timestamp (backfill needs timestamps)`);
  const v = parseValue(rest[0]!, line);
  const ts = Number(rest[1]);
  if (!Number.isFinite(ts)) throw new OpenMetricsError(`line ${line}: ${JSON.stringify(rest[1])} is not a timestamp`);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { labels: pairs.flat(), v, t: Math.round(ts * 1000) };
}

export interface Converted {
  dirs: string[];
  series: number;
  samples: number;
}

/** Convert an OpenMetrics file into blocks under `outDir`. */
export function openMetricsToBlocks(path: string, outDir: string, blockRangeMs = 2 * 3_600_000): Converted {
  const raw = readFileSync(path);
  const digest = createHash('sha256').update(raw).digest();
  const text = raw.toString('utf8');
  const series = new Map<string, { labels: string[]; t: number[]; v: number[] }>();
  let samples = 0;
  let ended = false;
  text.split('\n').forEach((l, k) => {
    const line = l.trimEnd();
    if (ended || line === '') return;
    if (line === '# EOF') {
      ended = true;
      return;
    }
    if (line.startsWith('#')) return;
    const s = parseSampleLine(line, k + 1);
    const key = s.labels.join('\xff');
    let e = series.get(key);
    if (!e) series.set(key, (e = { labels: s.labels, t: [], v: [] }));
    e.t.push(s.t);
    e.v.push(s.v);
    samples++;
  });
  const byRange = new Map<number, BlockSeriesInput[]>();
  for (const e of series.values()) {
    const order = e.t.map((_, i) => i).sort((a, b) => e.t[a]! - e.t[b]!);
    const t = new Float64Array(order.length);
    const v = new Float64Array(order.length);
    let n = 0;
    for (const i of order) {
      if (n > 0 && t[n - 1] === e.t[i]) continue; // one sample per timestamp (the first given)
      t[n] = e.t[i]!;
      v[n] = e.v[i]!;
      n++;
    }
    let i = 0;
    while (i < n) {
      const start = Math.floor(t[i]! / blockRangeMs) * blockRangeMs;
      let j = i;
      while (j < n && t[j]! < start + blockRangeMs) j++;
      let list = byRange.get(start);
      if (!list) byRange.set(start, (list = []));
      list.push({ labels: e.labels, chunks: encodeColumns({ t, v, n }, i, j) });
      i = j;
    }
  }
  const dirs: string[] = [];
  for (const start of [...byRange.keys()].sort((a, b) => a - b)) {
    const entropy = createHash('sha256').update(digest).update(String(start)).digest();
    dirs.push(writeBlock(outDir, byRange.get(start)!, { ulid: ulid(start, entropy) }).dir);
  }
  return { dirs, series: series.size, samples };
}
