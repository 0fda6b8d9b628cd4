/**
 * Queries on every core: a pool of worker threads (query-worker.mjs), each
 * answering one QueryJob at a time. The main thread keeps what needs the data
 * (parsing, gathering chunks) and the pool decodes, evaluates and writes the
 * body, so a query storm takes the worker threads, not the loop that serves
 * appends.
 *
 * A job waits in a queue while every thread is busy. It leaves the queue with
 * a timeout at its deadline, or cancelled when its client goes away (a running
 * job is told to stop). A thread still busy with a job well past its deadline
 * (a piece of work that never gives its loop back) is terminated and replaced,
 * as is a thread that dies (out of memory, say); the job gets an error.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../../wire/log.js';
import { errorAnswer, type JobAnswer, type QueryJob, type QueryRunner } from '../api/query.js';
import { transferList } from '../promql/packed.js';
import { queryCanceled, queryTimedOut } from '../promql/values.js';
import { QUERY_LIMIT_DEFAULTS } from '../../../wire/query-limits.js';

/** Main thread to worker: a job, or a running job's cancellation. */
export type ToWorker = { id: number; job: QueryJob } | { cancel: number };
/** Worker to main thread: a job's answer, or what it threw. */
export type FromWorker = { id: number; answer: JobAnswer } | { id: number; error: string };

/** How long past its deadline a running job may hold its thread before the thread is replaced. */
const GRACE_MS = 5_000;

interface Pending {
  id: number;
  job: QueryJob;
  deadline: number;
  timeoutMs: number;
  resolve: (a: JobAnswer) => void;
  reject: (e: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
  timer?: ReturnType<typeof setTimeout>;
}

interface Slot {
  worker: Worker;
  job: Pending | undefined;
}

export interface PoolStats {
  threads: number;
  busy: number;
  queued: number;
  /** Threads replaced (died, or held a job far past its deadline). */
  replaced: number;
}

export class QueryPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private replaced = 0;
  private closed = false;

  constructor(
    private readonly file: URL,
    size: number,
    private readonly log: Logger,
    /** How much lower the threads' scheduling priority is than the main thread's (nice increment, 0..19). */
    private readonly nice = 0,
  ) {
    for (let i = 0; i < Math.max(1, size); i++) this.slots.push(this.spawn());
  }

  /** The pool as a QueryRunner. */
  readonly run: QueryRunner = (job, signal) =>
    new Promise<JobAnswer>((resolve, reject) => {
      if (this.closed) return reject(new Error('the query pool is closed'));
      const timeoutMs = job.opts.timeoutMs ?? QUERY_LIMIT_DEFAULTS.timeoutSeconds * 1000;
      const p: Pending = {
        id: this.nextId++,
        job,
        deadline: job.opts.deadline ?? Date.now() + timeoutMs,
        timeoutMs,
        resolve,
        reject,
        signal,
        onAbort: () => this.cancel(p),
      };
      if (signal?.aborted) return this.finish(p, errorAnswer(queryCanceled()));
      signal?.addEventListener('abort', p.onAbort, { once: true });
      // At the deadline a waiting job times out; a running one has GRACE_MS more to stop by itself.
      p.timer = setTimeout(() => this.expire(p), Math.max(0, p.deadline - Date.now()));
      p.timer.unref?.();
      this.queue.push(p);
      this.dispatch();
    });

  stats(): PoolStats {
    return { threads: this.slots.length, busy: this.slots.filter((s) => s.job).length, queued: this.queue.length, replaced: this.replaced };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) this.finish(p, undefined, new Error('the storage node is shutting down'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(this.file, { workerData: { nice: this.nice } }), job: undefined };
    slot.worker.unref();
    slot.worker.on('message', (m: FromWorker) => {
      const p = slot.job;
      if (!p || p.id !== m.id) return; // an answer after the job was given up
      slot.job = undefined;
      if ('answer' in m) this.finish(p, m.answer);
      else this.finish(p, undefined, new Error(m.error));
      this.dispatch();
    });
    slot.worker.on('error', (e) => this.replace(slot, `the query thread failed: ${e.message}`));
    slot.worker.on('exit', (code) => this.replace(slot, `the query thread exited (code ${code})`));
    return slot;
  }

  /** Put a new thread in a dead or stuck one's place; its job, if any, fails with `why`. */
  private replace(slot: Slot, why: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0 || this.closed) return;
    this.replaced++;
    const p = slot.job;
    slot.job = undefined;
    this.log.warn('query thread replaced', { why, query: p?.job.query });
    slot.worker.removeAllListeners();
    void slot.worker.terminate();
    this.slots[i] = this.spawn();
    if (p) this.finish(p, undefined, new Error(why));
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job) continue;
      const p = this.queue.shift();
      if (!p) return;
      slot.job = p;
      const msg: ToWorker = { id: p.id, job: p.job };
      slot.worker.postMessage(msg, transferList(p.job.gathered));
    }
  }

  private cancel(p: Pending): void {
    const q = this.queue.indexOf(p);
    if (q >= 0) {
      this.queue.splice(q, 1);
      return this.finish(p, errorAnswer(queryCanceled()));
    }
    const slot = this.slots.find((s) => s.job === p);
    if (slot) slot.worker.postMessage({ cancel: p.id } satisfies ToWorker); // the engine stops at its next pause and answers
  }

  private expire(p: Pending): void {
    const q = this.queue.indexOf(p);
    if (q >= 0) {
      this.queue.splice(q, 1);
      return this.finish(p, errorAnswer(queryTimedOut(p.timeoutMs)));
    }
    const slot = this.slots.find((s) => s.job === p);
    if (!slot) return;
    p.timer = setTimeout(() => {
      if (slot.job !== p) return;
      slot.job = undefined;
      this.finish(p, errorAnswer(queryTimedOut(p.timeoutMs)));
      this.replace(slot, `a query held its thread ${GRACE_MS / 1000}s past its deadline`);
    }, GRACE_MS);
    p.timer.unref?.();
  }

  private finish(p: Pending, answer: JobAnswer | undefined, error?: Error): void {
    clearTimeout(p.timer);
    p.signal?.removeEventListener('abort', p.onAbort);
    if (answer) p.resolve(answer);
    else p.reject(error ?? new Error('query failed'));
  }
}
