#!/usr/bin/env node
// Bundles the storage node into dist/storage-node/main.mjs (npm packages stay
// external and resolve from node_modules). The container image runs the same file.
import { build } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildStorageNode() {
  await build({
    entryPoints: {
      main: resolve(root, 'storage-node/src/main.ts'),
      'compact-worker': resolve(root, 'storage-node/src/jobs/compact-worker.ts'),
      'query-worker': resolve(root, 'storage-node/src/jobs/query-worker.ts'),
    },
    outdir: resolve(root, 'dist/storage-node'),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  });
  return resolve(root, 'dist/storage-node/main.mjs');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await buildStorageNode();
  console.log(`built ${out}`);
}
