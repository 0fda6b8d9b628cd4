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
import { SplitDeclined, type FusedRows, type FuseSplit } from '../promql/fused.js';
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
/** Split jobs this thread answers (part 0): the other parts' rows, as they come. */
const inboxes = new Map<number, RowsInbox>();
const port = parentPort!;

/** Another part's rows of each fused aggregation, awaited by part 0. */
class RowsInbox {
  private readonly waiting = new Map<string, (rows: FusedRows | undefined) => void>();
  private readonly arrived = new Map<string, FusedRows>();
  private readonly done = new Set<number>();

  rows(agg: number, part: number): Promise<FusedRows | undefined> {
    const k = `${agg}/${part}`;
    const got = this.arrived.get(k);
    if (got) {
      this.arrived.delete(k);
      return Promise.resolve(got);
    }
    if (this.done.has(part)) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiting.set(k, resolve));
  }

  put(part: number, rows: FusedRows): void {
    const k = `${rows.agg}/${part}`;
    const w = this.waiting.get(k);
    if (!w) return void this.arrived.set(k, rows);
    this.waiting.delete(k);
    w(rows);
  }

  /** Part `part` has finished: rows it did not send will not come (the query is then answered here whole). */
  partDone(part: number): void {
    this.done.add(part);
    for (const [k, w] of this.waiting) {
      if (!k.endsWith(`/${part}`)) continue;
      this.waiting.delete(k);
      w(undefined);
    }
  }
}

port.on('message', (m: ToWorker) => {
  if ('cancel' in m) return void running.get(m.cancel)?.abort();
  if ('rows' in m) return void inboxes.get(m.for)?.put(m.part, m.rows);
  if ('partDone' in m) return void inboxes.get(m.partDone)?.partDone(m.part);
  const stop = new AbortController();
  running.set(m.id, stop);
  const reply = (r: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(r, transfer);
  let split: FuseSplit | undefined;
  if (m.split?.part === 0) {
    const inbox = new RowsInbox();
    inboxes.set(m.id, inbox);
    split = { ...m.split, rows: (agg, part) => inbox.rows(agg, part) };
  } else if (m.split) {
    split = { ...m.split, emit: (rows) => reply({ id: m.id, rows }, [rows.values.buffer as ArrayBuffer, rows.present.buffer as ArrayBuffer]) };
  }
  const answer = async () => {
    try {
      return await answerJob(m.job, stop.signal, split);
    } catch (e) {
      if (!(e instanceof SplitDeclined) || m.split?.part !== 0) throw e;
      // Part 0 could not answer from its part: the helpers are let go, and the query is answered here whole.
      inboxes.delete(m.id);
      reply({ id: m.id, solo: true });
      return answerJob(m.job, stop.signal);
    }
  };
  answer()
    .then((a) => reply({ id: m.id, answer: a }))
    .catch((e: unknown) => reply({ id: m.id, error: e instanceof Error ? e.message : String(e), ...(e instanceof SplitDeclined ? { declined: true as const } : {}) }))
    .finally(() => {
      running.delete(m.id);
      inboxes.delete(m.id);
    });
});
