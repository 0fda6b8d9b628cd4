/**
 * Worker thread entry of the query pool (query-pool.ts): answers one job at a
 * time. Bundled as dist/storage-node/query-worker.mjs beside main.mjs.
 *
 * The thread lowers its own scheduling priority (workerData.nice, Linux:
 * setpriority on the thread's id), so that when queries keep every core busy
 * the main thread, which acknowledges writes, still gets a core when it needs
 * one. Queries lose nothing when the machine is otherwise idle.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { answerJob } from '../api/query.js';
import type { FromWorker, ToWorker } from './query-pool.js';

const { nice } = (workerData ?? {}) as { nice?: number };
if (nice) {
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {
    // not Linux: the thread keeps the process's priority
  }
}

const running = new Map<number, AbortController>();
const port = parentPort!;

port.on('message', (m: ToWorker) => {
  if ('cancel' in m) return void running.get(m.cancel)?.abort();
  const stop = new AbortController();
  running.set(m.id, stop);
  const reply = (r: FromWorker) => port.postMessage(r);
  answerJob(m.job, stop.signal)
    .then((answer) => reply({ id: m.id, answer }))
    .catch((e: unknown) => reply({ id: m.id, error: e instanceof Error ? e.message : String(e) }))
    .finally(() => running.delete(m.id));
});
