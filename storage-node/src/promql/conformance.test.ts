/**
 * Prometheus's own PromQL test suite (`../shared/conformance/promqltest/`,
 * unmodified), run through our engine: every file its README marks stable in
 * Prometheus 3.
 *
 * `conformance-known-failures.txt` lists each eval that cannot pass yet, with
 * a reason. The test fails on a failure not listed and on a listed case that
 * now passes, so the list only shrinks: remove the line of a case you fixed.
 * `ISOBAR_UPDATE_KNOWN_FAILURES=1` rewrites the list from a run (reasons kept,
 * new lines marked TODO), for a developer to edit; CI never sets it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPromqlScript, type CaseResult } from './promqltest.js';

const SUITE = resolve(import.meta.dirname, '../../../../shared/conformance/promqltest');
const KNOWN = resolve(import.meta.dirname, 'conformance-known-failures.txt');
const HISTOGRAM_REASON = 'native histograms: not evaluated this way yet';

/** The files the suite's README marks stable ("| yes |"). */
function stableFiles(): string[] {
  const readme = readFileSync(join(SUITE, 'README.md'), 'utf8');
  return [...readme.matchAll(/^\|\s*([a-z_-]+\.test)\s*\|[^|]*\|\s*yes\s*\|/gm)].map((m) => m[1]!);
}

/** `file.test:LINE  reason  -- query` lines; `#` starts a comment. */
function readKnown(): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(KNOWN)) return out;
  for (const raw of readFileSync(KNOWN, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+\.test:\d+)\s+(.*?)(?:\s+-- .*)?$/.exec(line);
    if (!m) throw new Error(`${KNOWN}: cannot read ${JSON.stringify(line)}`);
    if (out.has(m[1]!)) throw new Error(`${KNOWN}: ${m[1]} is listed twice`);
    out.set(m[1]!, m[2]!);
  }
  return out;
}

function writeKnown(results: Map<string, CaseResult[]>, known: Map<string, string>): void {
  const lines = [
    "# Evals of Prometheus's PromQL test suite (../shared/conformance/promqltest) that Isobar",
    '# does not pass yet, one per line: file:line, the reason, and after "--" the query.',
    '# conformance.test.ts fails on a failure missing here and on a line here that passes.',
  ];
  for (const [file, cases] of results) {
    for (const c of cases.filter((x) => !x.ok)) {
      const key = `${file}:${c.line}`;
      const reason = known.get(key) ?? (c.histograms ? HISTOGRAM_REASON : `TODO: ${c.message?.slice(0, 160)}`);
      lines.push(`${key}  ${reason}${c.query ? `  -- ${c.query.replace(/\s+/g, ' ').slice(0, 120)}` : ''}`);
    }
  }
  writeFileSync(KNOWN, lines.join('\n') + '\n');
}

describe("Prometheus's PromQL test suite", () => {
  it('passes every stable file but for the listed known failures, which only shrink', async () => {
    expect(existsSync(SUITE), `${SUITE} is missing: CI lays ../shared beside the clone`).toBe(true);
    const files = stableFiles();
    expect(files.length).toBeGreaterThanOrEqual(14);
    const known = readKnown();
    const results = new Map<string, CaseResult[]>();
    const newFailures: string[] = [];
    const nowPassing: string[] = [];
    const rows: string[][] = [['file', 'evals', 'passed', 'known failures', 'of them histograms', 'new failures', 'now passing']];
    const total = [0, 0, 0, 0, 0, 0];
    const lines = new Set<string>();
    for (const file of files) {
      const cases = await runPromqlScript(readFileSync(join(SUITE, file), 'utf8'));
      results.set(file, cases);
      const row = [0, 0, 0, 0, 0, 0];
      for (const c of cases) {
        const key = `${file}:${c.line}`;
        lines.add(key);
        if (c.command === 'eval') row[0]!++;
        if (c.ok) row[1]!++;
        if (c.ok && known.has(key)) {
          row[5]!++;
          nowPassing.push(`${key} ${c.query}`);
        } else if (!c.ok && known.has(key)) {
          row[2]!++;
          if (known.get(key) === HISTOGRAM_REASON) row[3]!++;
        } else if (!c.ok) {
          row[4]!++;
          newFailures.push(`${key} ${c.query}: ${c.message}`);
        }
      }
      row.forEach((n, i) => (total[i]! += n));
      rows.push([file, ...row.map(String)]);
    }
    rows.push(['total', ...total.map(String)]);
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log(rows.map((r) => r.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ')).join('\n'));

    if (process.env.ISOBAR_UPDATE_KNOWN_FAILURES === '1') writeKnown(results, known);
    const stale = [...known.keys()].filter((k) => !lines.has(k));
    expect(stale, 'listed cases with no eval at that line').toEqual([]);
    expect(newFailures, 'failures not in conformance-known-failures.txt').toEqual([]);
    expect(nowPassing, 'listed cases that now pass: remove them from conformance-known-failures.txt').toEqual([]);
    expect(total[0]).toBeGreaterThan(1000);
  }, 300_000);
});
