/**
 * The source tree's import graph: no cycles (type-only imports count too), and
 * the layers point one way: `wire/` imports nothing of ours outside it, and
 * the storage node never imports the edge (`workers/`, `durable/`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function sourceGraph(): Map<string, string[]> {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && !/\.(test|bench)\.ts$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('test/'));
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const src = readFileSync(resolve(ROOT, f), 'utf8');
    const deps: string[] = [];
    for (const m of src.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+['"](\.[^'"]+)['"]/gms)) {
      const p = relative(ROOT, resolve(ROOT, dirname(f), m[1]!.replace(/\.js$/, '.ts')));
      if (existsSync(resolve(ROOT, p))) deps.push(p);
    }
    graph.set(f, deps);
  }
  return graph;
}

/** Strongly connected components of more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('module graph', () => {
  const graph = sourceGraph();

  it('reads the whole tree', () => {
    expect(graph.size).toBeGreaterThan(80);
    expect(graph.get('workers/src/index.ts')).toContain('workers/src/ingest.ts');
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
    // The check sees a cycle when there is one.
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
  });

  it('points one way: wire/ at the bottom, the storage node apart from the edge', () => {
    const wrong: string[] = [];
    for (const [f, deps] of graph) {
      for (const d of deps) {
        if (f.startsWith('wire/') && !d.startsWith('wire/')) wrong.push(`${f} -> ${d}`);
        if (f.startsWith('storage-node/') && (d.startsWith('workers/') || d.startsWith('durable/'))) wrong.push(`${f} -> ${d}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no cycle between folders either: a call from the edge down to a block passes each folder once', () => {
    const folders = new Map<string, string[]>();
    for (const [f, deps] of graph) {
      const from = dirname(f);
      const list = folders.get(from) ?? [];
      for (const d of deps) if (dirname(d) !== from && !list.includes(dirname(d))) list.push(dirname(d));
      folders.set(from, list);
    }
    expect(cycles(folders)).toEqual([]);
  });
});
