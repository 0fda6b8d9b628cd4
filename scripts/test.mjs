#!/usr/bin/env node
// `npm test`: type checks, then the Node-side tests (unit + end-to-end, on this
// machine's Node.js, which is what the storage node runs on), then the workerd
// tests (Cloudflare's vitest pool, on the tool Node.js wrangler requires).
import { spawnSync } from 'node:child_process';
import { ROOT } from './stack.mjs';
import { toolCommand } from './tool-node.mjs';

function run(label, bin, args, env = {}) {
  console.log(`\n== ${label}`);
  const r = spawnSync(bin, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ISOBAR_NODE: process.execPath, ...env } });
  if (r.status !== 0) {
    console.error(`\n${label} failed`);
    process.exit(r.status ?? 1);
  }
}

const extra = process.argv.slice(2);
run('typecheck', process.execPath, [`${ROOT}/node_modules/typescript/bin/tsc`, '-p', 'tsconfig.node.json']);
run('typecheck (workers)', process.execPath, [`${ROOT}/node_modules/typescript/bin/tsc`, '-p', 'tsconfig.worker.json']);
run('unit and end-to-end tests (Node.js ' + process.version + ')', process.execPath, [`${ROOT}/node_modules/vitest/vitest.mjs`, 'run', ...extra]);
const [bin, args] = toolCommand('vitest', ['run', '-c', 'vitest.workers.config.ts', ...extra]);
run('workerd tests (tool Node.js)', bin, args);
