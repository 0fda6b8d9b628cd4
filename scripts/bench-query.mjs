#!/usr/bin/env node
// `npm run bench:query`: typical dashboard queries over 50,000 series x 2 h,
// against Isobar, Prometheus and VictoriaMetrics loaded with the same data in
// the same run (../shared/bench: rwload.mjs for the data, peers.sh for the
// peers). Prints each query's median latency and its ratio to the peers; then
// the peak RSS growth of each system during the heaviest query, and
// BENCH_CLIENTS (16) clients sending the same queries at once (queries per
// second) beside a small steady remote write, the same for every system, whose
// p99 is compared with its p99 alone. Each system is measured once the
// background work of all (merges, compaction, uploads after the load) is done.
// Then a 7-day panel: BENCH_PANEL_SERIES (10,000) more series, a sample every
// 5 minutes for 7 days, flushed to blocks; one query_range over the 7 days at
// a 10 m step, cold (each system restarted, the page cache dropped where this
// user may) and warm (median of BENCH_RUNS).
// Options (environment): BENCH_SERIES (50000; 0 skips the dashboard queries),
// BENCH_HOURS (2), BENCH_RUNS (5), BENCH_CLIENTS (16), BENCH_PANEL_SERIES
// (10000; 0 skips the panel), BENCH_DIR.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { ROOT, settings, startEdge, startNode, stop } from './stack.mjs';

const SERIES = Number(process.env.BENCH_SERIES ?? 50000);
const ROUNDS = Math.round(Number(process.env.BENCH_HOURS ?? 2) * 240); // 15 s scrapes
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const BENCH_DIR = resolve(ROOT, process.env.BENCH_DIR ?? '../shared/bench');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The dashboard queries, shared with the in-process engine bench (storage-node/bench/query-engine.ts). */
const QUERIES = JSON.parse(readFileSync(join(ROOT, 'storage-node/bench/dashboard-queries.json'), 'utf8'));

const work = join(ROOT, 'node_modules/.cache/isobar-bench');
mkdirSync(work, { recursive: true });
copyFileSync(join(BENCH_DIR, 'rwload.mjs'), join(work, 'rwload.mjs'));
const peersDir = join(work, 'peers-query');
execFileSync('bash', [join(BENCH_DIR, 'peers.sh'), 'start', peersDir], { stdio: 'inherit' });
const s = settings({ ...process.env, ISOBAR_DATA_DIR: join(work, 'isobar-query'), ISOBAR_PORT: '18797', ISOBAR_NODE_PORT: '18791' });
execFileSync('rm', ['-rf', s.ISOBAR_DATA_DIR]);
let node = await startNode(s);
const edge = await startEdge(s);
const end = Math.floor(Date.now() / 15000) * 15000 - 60_000;
try {
  const targets = {
    isobar: { write: `http://127.0.0.1:${s.ISOBAR_PORT}/api/v1/write`, read: `http://127.0.0.1:${s.ISOBAR_PORT}/prometheus`, auth: `Bearer ${s.ISOBAR_DEMO_KEY}` },
    prometheus: { write: 'http://127.0.0.1:19090/api/v1/write', read: 'http://127.0.0.1:19090' },
    'victoria-metrics': { write: 'http://127.0.0.1:18428/api/v1/write', read: 'http://127.0.0.1:18428' },
  };
  const pids = { isobar: node.pid, prometheus: Number(readFileSync(join(peersDir, 'prom.pid'), 'utf8')), 'victoria-metrics': Number(readFileSync(join(peersDir, 'vm.pid'), 'utf8')) };
  if (SERIES > 0) {
    console.log(`== loading ${SERIES} series x ${ROUNDS} samples into each`);
    for (const [name, t] of Object.entries(targets)) {
      const args = [join(work, 'rwload.mjs'), '--url', t.write, '--series', String(SERIES), '--rounds', String(ROUNDS), '--end-ms', String(end)];
      if (t.auth) args.push('--header', `Authorization: ${t.auth}`);
      const out = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n').at(-1));
      if (out.ok_requests !== out.requests) throw new Error(`${name}: ${out.first_error}`);
      console.log(`${name.padEnd(17)} loaded ${out.samples} samples in ${out.wall_s}s`);
    }
    execFileSync('curl', ['-s', '-XPOST', 'http://127.0.0.1:18428/internal/force_flush']);
    await new Promise((r) => setTimeout(r, 5000));
    // Background work after a load (VictoriaMetrics' merges, Prometheus's head compaction, Isobar's
    // flush and upload) would slow whichever system is measured first: wait until all are idle.
    await quiet(pids);

    console.log(`\n== query_range over the last hour, step 60s; median of ${RUNS} runs`);
    const qs = (q) => `query=${encodeURIComponent(q)}&start=${(end - 3_600_000) / 1000}&end=${end / 1000}&step=60`;
    const ask = async (t, name, q) => {
      const r = await fetch(`${t.read}/api/v1/query_range?${qs(q)}`, { headers: t.auth ? { authorization: t.auth } : {} });
      const body = await r.json();
      if (body.status !== 'success') throw new Error(`${name} ${q}: ${JSON.stringify(body).slice(0, 200)}`);
    };
    const medians = {};
    for (const q of QUERIES) {
      const ms = {};
      for (const [name, t] of Object.entries(targets)) {
        const times = [];
        for (let i = 0; i < RUNS; i++) {
          const t0 = performance.now();
          await ask(t, name, q);
          times.push(performance.now() - t0);
        }
        ms[name] = median(times);
      }
      medians[q] = ms;
      console.log(`${q}\n    isobar ${ms.isobar.toFixed(0)} ms   prometheus ${ms.prometheus.toFixed(0)} ms (${(ms.isobar / ms.prometheus).toFixed(1)}x)   victoria-metrics ${ms['victoria-metrics'].toFixed(0)} ms (${(ms.isobar / ms['victoria-metrics']).toFixed(1)}x)`);
    }

    // Peak memory: each process's high-water mark reset (clear_refs 5), the heaviest query, the mark read.
    const status = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
    const heaviest = QUERIES.reduce((a, b) => (medians[a].prometheus >= medians[b].prometheus ? a : b));
    console.log(`\n== peak RSS growth during the heaviest query (${heaviest})`);
    for (const [name, t] of Object.entries(targets)) {
      writeFileSync(`/proc/${pids[name]}/clear_refs`, '5');
      const before = status(pids[name], 'VmRSS');
      await ask(t, name, heaviest);
      console.log(`${name.padEnd(17)} +${((status(pids[name], 'VmHWM') - before) / 1e6).toFixed(0)} MB (from ${(before / 1e6).toFixed(0)} MB)`);
    }

    // Remote write while dashboards load: a small steady writer, alone and then beside the clients,
    // the same for every system (the clients of each share the machine with the same writes).
    // 240 requests of 500 samples each (p99 is the third slowest, not the slowest), on series
    // created beforehand (creation is not what is measured), in time order (no out-of-order path).
    const base = Math.floor(Date.now() / 15000) * 15000;
    const writer = (t, label, rounds, endMs) =>
      promisify(execFile)(process.execPath, [join(work, 'rwload.mjs'), '--url', t.write, ...(t.auth ? ['--header', `Authorization: ${t.auth}`] : []), '--series', '2000', '--rounds', String(rounds), '--samples-per-request', '500', '--concurrency', '2', '--extra-label', `bench=${label}`, '--end-ms', String(endMs)], { encoding: 'utf8' }).then(({ stdout }) => JSON.parse(stdout.trim().split('\n').at(-1)));
    const idle = {};
    for (const [name, t] of Object.entries(targets)) {
      for (const label of ['rw-idle', 'rw-busy']) await writer(t, label, 1, base - 61 * 15000);
      idle[name] = await writer(t, 'rw-idle', 60, base);
    }
    console.log(`\n== ${CLIENTS} concurrent clients, each running the ${QUERIES.length} queries twice, beside the same remote write`);
    const qps = {};
    const busy = {};
    for (const [name, t] of Object.entries(targets)) {
      await quiet(pids);
      const w = writer(t, 'rw-busy', 60, base);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; i < 2 * QUERIES.length; i++) await ask(t, name, QUERIES[(c + i) % QUERIES.length]);
      }));
      qps[name] = (CLIENTS * 2 * QUERIES.length) / ((performance.now() - t0) / 1000);
      busy[name] = await w;
      console.log(`${name.padEnd(17)} ${qps[name].toFixed(2)} queries/s`);
    }
    console.log(`isobar vs prometheus ${(qps.isobar / qps.prometheus).toFixed(2)}x, vs victoria-metrics ${(qps.isobar / qps['victoria-metrics']).toFixed(2)}x`);
    console.log(`\n== remote write (2,000 series x 60 rounds, 240 requests of 500 samples), alone and beside the clients`);
    for (const name of Object.keys(targets)) {
      const [a, b] = [idle[name], busy[name]];
      console.log(`${name.padEnd(17)} p99 ${a.p99_ms} ms idle, ${b.p99_ms} ms beside the clients (${(b.p99_ms / a.p99_ms).toFixed(1)}x); p50 ${a.p50_ms} -> ${b.p50_ms} ms; statuses ${JSON.stringify(b.statuses)}`);
    }
  }

  const PANEL_SERIES = Number(process.env.BENCH_PANEL_SERIES ?? 10000);
  if (PANEL_SERIES > 0) {
    const STEP = 300_000;
    const panelEnd = Math.floor((end - 3 * 3_600_000) / STEP) * STEP;
    const panelStart = panelEnd - 7 * 86_400_000;
    const panelQuery = 'sum by (job) (rate(http_requests_total{panel="7d"}[1h]))';
    console.log(`\n== 7-day panel: ${PANEL_SERIES} series, a sample every 5 min for 7 days; ${panelQuery}, step 10m`);
    for (const [name, t] of Object.entries(targets)) {
      const args = [join(work, 'rwload.mjs'), '--url', t.write, '--series', String(PANEL_SERIES), '--rounds', String(7 * 288), '--step-ms', String(STEP), '--end-ms', String(panelEnd), '--extra-label', 'panel=7d'];
      if (t.auth) args.push('--header', `Authorization: ${t.auth}`);
      const out = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n').at(-1));
      if (out.ok_requests !== out.requests) throw new Error(`${name}: ${out.first_error}`);
      console.log(`${name.padEnd(17)} loaded ${out.samples} samples in ${out.wall_s}s`);
    }
    // Isobar's heads cut into blocks; VictoriaMetrics' buffers flushed.
    await retry(async () => {
      const flushed = await fetch(`http://127.0.0.1:${s.ISOBAR_NODE_PORT}/internal/v1/flush`, { method: 'POST', headers: { authorization: `Bearer ${s.ISOBAR_NODE_SECRET}` } });
      if (!flushed.ok) throw new Error(`isobar flush: ${flushed.status} ${await flushed.text()}`);
    });
    execFileSync('curl', ['-s', '-XPOST', 'http://127.0.0.1:18428/internal/force_flush']);
    await new Promise((r) => setTimeout(r, 5000));
    // Background work after a load (VictoriaMetrics' merges, Prometheus's head compaction, Isobar's
    // flush and upload) would slow whichever system is measured first: wait until all are idle.
    await quiet(pids);
    const panel = async (t, name) => {
      const t0 = performance.now();
      const r = await fetch(`${t.read}/api/v1/query_range?query=${encodeURIComponent(panelQuery)}&start=${panelStart / 1000}&end=${panelEnd / 1000}&step=600`, { headers: t.auth ? { authorization: t.auth } : {} });
      const body = await r.json();
      if (body.status !== 'success' || body.data.result.length === 0) throw new Error(`${name} panel: ${JSON.stringify(body).slice(0, 300)}`);
      return performance.now() - t0;
    };
    // Cold: every system restarted on its data, the page cache dropped (when this user may).
    const ready = {};
    let t0 = performance.now();
    await stop(node);
    node = await startNode(s);
    ready.isobar = performance.now() - t0;
    for (const [peer, name, url] of [['prom', 'prometheus', 'http://127.0.0.1:19090/-/ready'], ['vm', 'victoria-metrics', 'http://127.0.0.1:18428/health']]) {
      t0 = performance.now();
      pids[name] = await restartPeer(join(peersDir, `${peer}.pid`), join(peersDir, `${peer}.log`), url);
      ready[name] = performance.now() - t0;
    }
    console.log(`restart until ready: isobar ${(ready.isobar / 1000).toFixed(1)} s   prometheus ${(ready.prometheus / 1000).toFixed(1)} s   victoria-metrics ${(ready['victoria-metrics'] / 1000).toFixed(1)} s`);
    let dropped = true;
    try {
      execFileSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' });
    } catch {
      dropped = false;
    }
    const cold = {};
    for (const [name, t] of Object.entries(targets)) cold[name] = await retry(() => panel(t, name));
    const warm = {};
    for (const [name, t] of Object.entries(targets)) {
      const times = [];
      for (let i = 0; i < RUNS; i++) times.push(await panel(t, name));
      warm[name] = median(times);
    }
    console.log(`cold (restarted${dropped ? ', page cache dropped' : '; the page cache could not be dropped'}): isobar ${cold.isobar.toFixed(0)} ms   prometheus ${cold.prometheus.toFixed(0)} ms (${(cold.isobar / cold.prometheus).toFixed(1)}x)   victoria-metrics ${cold['victoria-metrics'].toFixed(0)} ms (${(cold.isobar / cold['victoria-metrics']).toFixed(1)}x)`);
    console.log(`warm (median of ${RUNS}):    isobar ${warm.isobar.toFixed(0)} ms   prometheus ${warm.prometheus.toFixed(0)} ms (${(warm.isobar / warm.prometheus).toFixed(1)}x)   victoria-metrics ${warm['victoria-metrics'].toFixed(0)} ms (${(warm.isobar / warm['victoria-metrics']).toFixed(1)}x)`);
  }
} finally {
  await stop(edge);
  await stop(node);
  execFileSync('bash', [join(BENCH_DIR, 'peers.sh'), 'stop', peersDir]);
}

/** CPU seconds used so far by each process (and, for Isobar, the edge's workerd). */
function cpuSeconds(pids) {
  const ticks = (pid) => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
    } catch {
      return 0;
    }
  };
  const workerd = execFileSync('sh', ['-c', 'pgrep -f "workerd serve" || true'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  const out = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, ticks(pid)]));
  out.isobar += workerd.reduce((a, pid) => a + ticks(pid), 0);
  return out;
}

/** Wait (up to 3 minutes) until every system uses under a tenth of a core over 2 s; says how long it took. */
async function quiet(pids) {
  const t0 = Date.now();
  let last = cpuSeconds(pids);
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    const now = cpuSeconds(pids);
    const busy = Object.entries(now).map(([name, s]) => [name, (s - last[name]) / 2]).sort((a, b) => b[1] - a[1]);
    last = now;
    if (busy[0][1] < 0.1 || Date.now() - t0 > 180_000) {
      console.log(`(waited ${((Date.now() - t0) / 1000).toFixed(0)} s for background work to end; busiest now: ${busy[0][0]} at ${(100 * busy[0][1]).toFixed(0)}% of a core)`);
      return;
    }
  }
}

/** Restart a peer on its data: the same command line, a new pid written where peers.sh keeps it; resolves to the new pid once ready. */
async function restartPeer(pidFile, logFile, readyUrl) {
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 600; i++) {
    try {
      process.kill(pid, 0);
      await new Promise((r) => setTimeout(r, 100));
    } catch {
      break; // gone
    }
  }
  const out = openSync(logFile, 'a');
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  writeFileSync(pidFile, `${child.pid}\n`);
  await retry(async () => {
    const r = await fetch(readyUrl);
    if (!r.ok) throw new Error(`${readyUrl}: ${r.status}`);
  });
  return child.pid;
}

/** `fn` until it resolves (a restarted system may take a while to answer: Prometheus replays its WAL), up to ten minutes. */
async function retry(fn) {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= 1200) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
