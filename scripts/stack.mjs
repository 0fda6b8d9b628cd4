// Starting and stopping Isobar's local stack: the storage node (Node.js 20
// process) and the edge Worker with its Durable Objects (`wrangler dev`, real
// workerd). Used by `npm start` (scripts/start.mjs) and by the end-to-end
// tests, so both run the stack the same way.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildStorageNode } from './build.mjs';
import { toolCommand } from './tool-node.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Development defaults. Documented in the README; refused by production settings. */
export const DEV_DEFAULTS = {
  ISOBAR_PORT: '8787',
  ISOBAR_NODE_PORT: '8790',
  ISOBAR_DATA_DIR: '.isobar',
  ISOBAR_DEMO_KEY: 'isb_demo_development-key-not-a-secret',
  ISOBAR_ADMIN_TOKEN: 'isobar-dev-admin-token',
  ISOBAR_NODE_SECRET: 'isobar-dev-node-secret',
};

export function settings(env = process.env) {
  const s = {};
  for (const [k, v] of Object.entries(DEV_DEFAULTS)) s[k] = env[k] || v;
  s.ISOBAR_DATA_DIR = resolve(ROOT, s.ISOBAR_DATA_DIR);
  return s;
}

async function waitFor(url, { timeoutMs = 60_000, child, what }) {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it was ready (${last})`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (r.ok) return;
      last = `${r.status} ${(await r.text()).trim()}`;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not ready at ${url} after ${timeoutMs} ms: ${last}`);
}

function logSink(path, inherit) {
  if (inherit) return 'inherit';
  mkdirSync(dirname(path), { recursive: true });
  return openSync(path, 'a');
}

/** Start the storage node; resolves once it answers /-/ready. `env`: more settings (a bucket, say). */
export async function startNode(s, { inheritOutput = false, env = {} } = {}) {
  const main = await buildStorageNode();
  const out = logSink(join(s.ISOBAR_DATA_DIR, 'logs', 'storage-node.log'), inheritOutput);
  // The storage node runs on the machine's Node.js (20), not the tool Node.js wrangler needs.
  const nodeBin = process.env.ISOBAR_NODE || process.execPath;
  const child = spawn(nodeBin, ['--enable-source-maps', main], {
    cwd: ROOT,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      ISOBAR_DATA_DIR: s.ISOBAR_DATA_DIR,
      ISOBAR_NODE_PORT: s.ISOBAR_NODE_PORT,
      ISOBAR_NODE_SECRET: s.ISOBAR_NODE_SECRET,
      // A restarted node asks the edge to have its coordinators replay (the edge may start later).
      ISOBAR_EDGE_URL: `http://127.0.0.1:${s.ISOBAR_PORT}`,
      ...env,
    },
  });
  await readyOrStopped(child, `http://127.0.0.1:${s.ISOBAR_NODE_PORT}/-/ready`, { child, what: 'storage node' });
  return child;
}

/** Start the edge (`wrangler dev`); resolves once /-/ready says every part can take writes. */
export async function startEdge(s, { inheritOutput = false, extraVars = {}, readyTimeoutMs = 120_000 } = {}) {
  const vars = {
    ISOBAR_NODE_URLS: `http://127.0.0.1:${s.ISOBAR_NODE_PORT}`,
    ISOBAR_NODE_SECRET: s.ISOBAR_NODE_SECRET,
    ISOBAR_ADMIN_TOKEN: s.ISOBAR_ADMIN_TOKEN,
    ISOBAR_DEMO_KEY: s.ISOBAR_DEMO_KEY,
    // Optional settings the edge shares with the storage node, passed through when set.
    ...Object.fromEntries(
      ['ISOBAR_DEMO_SHARDS', 'ISOBAR_RETENTION_SECONDS', 'ISOBAR_MAX_FUTURE_SECONDS', 'ISOBAR_KEY_CACHE_TTL_SECONDS'].filter((k) => process.env[k]).map((k) => [k, process.env[k]]),
    ),
    ...extraVars,
  };
  const args = [
    'dev',
    '--config', join(ROOT, 'wrangler.toml'),
    '--ip', '127.0.0.1',
    '--port', s.ISOBAR_PORT,
    '--inspector-port', String(Number(s.ISOBAR_PORT) + 10_000),
    '--persist-to', join(s.ISOBAR_DATA_DIR, 'workerd'),
    '--show-interactive-dev-session=false',
    '--log-level', 'warn',
    ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
  ];
  const [bin, argv] = toolCommand('wrangler', args);
  const out = logSink(join(s.ISOBAR_DATA_DIR, 'logs', 'edge.log'), inheritOutput);
  const child = spawn(bin, argv, {
    cwd: ROOT,
    stdio: ['ignore', out, out],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG_PATH: join(s.ISOBAR_DATA_DIR, 'logs', 'wrangler') },
    detached: true, // its own process group, so stopping it also stops workerd
  });
  await readyOrStopped(child, `http://127.0.0.1:${s.ISOBAR_PORT}/-/ready`, { child, what: 'edge (wrangler dev)', timeoutMs: readyTimeoutMs });
  return child;
}

/** Wait until `url` is ready; if it never is, stop what was started (its whole process group) before failing. */
async function readyOrStopped(child, url, opts) {
  try {
    await waitFor(url, opts);
  } catch (e) {
    await stop(child);
    throw e;
  }
}

/**
 * Stop a child started here and, for wrangler, its whole process group
 * (workerd with it, even where wrangler exited first); resolves once the
 * child has exited. What does not stop within 5 s is killed.
 */
export function stop(child, signal = 'SIGTERM') {
  if (!child) return Promise.resolve();
  const group = child.spawnargs.some((a) => a.includes('wrangler'));
  const signalAll = (sig) => {
    try {
      if (group) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };
  const exited = child.exitCode !== null || child.signalCode !== null;
  if (exited) {
    if (group) signalAll('SIGKILL'); // what wrangler left behind in its group
    return Promise.resolve();
  }
  return new Promise((res) => {
    const kill = setTimeout(() => signalAll('SIGKILL'), 5000);
    kill.unref();
    child.once('exit', () => {
      clearTimeout(kill);
      if (group) signalAll('SIGKILL');
      res();
    });
    signalAll(signal);
  });
}

export function banner(s) {
  const base = `http://127.0.0.1:${s.ISOBAR_PORT}`;
  return [
    '',
    'Isobar is up.',
    '',
    `  remote_write URL        ${base}/api/v1/write`,
    `  Grafana datasource URL  ${base}/prometheus`,
    `  tenant                  demo`,
    `  API key (demo)          ${s.ISOBAR_DEMO_KEY}`,
    '',
    `  Prometheus:  remote_write: [{ url: ${base}/api/v1/write, authorization: { credentials: ${s.ISOBAR_DEMO_KEY} } }]`,
    `  Grafana:     Prometheus datasource, URL ${base}/prometheus, Basic auth user "demo", password = the API key`,
    `  Logs:        ${join(s.ISOBAR_DATA_DIR, 'logs')}/   State: ${s.ISOBAR_DATA_DIR}/`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}
