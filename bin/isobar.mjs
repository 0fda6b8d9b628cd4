#!/usr/bin/env node
// The `isobar` command (cli/isobar.ts), bundled on first use and whenever the
// sources are newer than the bundle.
import { build } from 'esbuild';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'node_modules/.cache/isobar-cli/isobar.mjs');
/** Newest .ts file under `dir` (the CLI bundles code from several folders). */
const newest = (dir) => Math.max(0, ...readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => statSync(join(dir, f)).mtimeMs));
if (!existsSync(out) || statSync(out).mtimeMs < Math.max(...['cli', 'durable', 'wire', 'storage-node/src'].map((d) => newest(join(root, d))))) {
  await build({ entryPoints: [join(root, 'cli/isobar.ts')], outfile: out, bundle: true, platform: 'node', target: 'node20', format: 'esm', packages: 'external', logLevel: 'warning' });
}
const { main } = await import(pathToFileURL(out).href);
await main();
