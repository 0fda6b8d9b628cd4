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
 *
 * A splittable range query (Engine.splittable) that finds other threads
 * idle, with nothing else waiting, takes them too: each reads and computes
 * its own range of the series (fused.ts FuseSplit), and the job's own thread
 * adds up their rows and answers. The job is finished only once its helpers
 * are done, since they read the blocks the job was lent.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../../wire/log.js';
import { errorAnswer, type JobAnswer, type QueryJob, type QueryRunner } from '../api/query.js';
import { transferList } from '../promql/packed.js';
import type { FusedRows } from '../promql/fused.js';
import { queryCanceled, queryTimedOut } from '../promql/values.js';
import { QUERY_LIMIT_DEFAULTS } from '../../../wire/query-limits.js';

/**
 * Main thread to worker: a job (with `split`, one part of it), a running
 * job's cancellation; for part 0 of a split job, another part's rows, or
 * word that a part has finished.
 */
export type ToWorker =
  | { id: number; job: QueryJob; split?: { part: number; parts: number } }
  | { cancel: number }
  | { rows: FusedRows; for: number; part: number }
  | { partDone: number; part: number };
/**
 * Worker to main thread: a job's answer, or what it threw (`declined`: a
 * helping part that could not compute its rows, fused.ts SplitDeclined); a
 * helping part's rows; from part 0, word that it answers the job alone.
 */
export type FromWorker =
  | { id: number; answer: JobAnswer }
  | { id: number; error: string; declined?: true }
  | { id: number; rows: FusedRows }
  | { id: number; solo: true };

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
  /** Its thread's answer, kept until the threads helping it are done (QueryPool.settle). */
  settled?: { answer: JobAnswer | undefined; error: Error | undefined };
}

interface Slot {
  worker: Worker;
  job: Pending | undefined;
  /** Computing part `part` of another slot's split job. */
  help?: { primary: Pending; part: number };
}

export interface PoolStats {
  threads: number;
  busy: number;
  queued: number;
  /** Threads replaced (died, or held a job far past its deadline). */
  replaced: number;
  /** Jobs split over several threads. */
  split: number;
}

export class QueryPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private replaced = 0;
  private split = 0;
  private closed = false;

  constructor(
    private readonly file: URL,
    size: number,
    private readonly log: Logger,
    /** How much lower the threads' scheduling priority is than the main thread's (nice increment, 0..19). */
    private readonly nice = 0,
    /** Most threads one splittable job is split over (1: none is). */
    private readonly maxParts = 4,
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
    return { threads: this.slots.length, busy: this.slots.filter((s) => s.job || s.help).length, queued: this.queue.length, replaced: this.replaced, split: this.split };
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
      if (slot.help) return this.fromHelper(slot, m);
      const p = slot.job;
      if (!p || p.id !== m.id || 'rows' in m) return; // an answer after the job was given up
      if ('solo' in m) return this.releaseHelpers(p); // it answers alone: the helpers stop
      slot.job = undefined;
      this.settle(p, 'answer' in m ? m.answer : undefined, 'error' in m ? new Error(m.error) : undefined);
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
    if (slot.help) this.helperDone(slot);
    const p = slot.job;
    slot.job = undefined;
    this.log.warn('query thread replaced', { why, query: p?.job.query });
    slot.worker.removeAllListeners();
    void slot.worker.terminate();
    this.slots[i] = this.spawn();
    if (p) this.finish(p, undefined, new Error(why));
    this.dispatch();
  }

  /**
   * Give waiting jobs to idle threads. A splittable job alone in the queue
   * takes the other idle threads too, as helpers of its fused pass: they get
   * a copy of its data first, then its own thread gets the data itself.
   */
  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job || slot.help) continue;
      const p = this.queue.shift();
      if (!p) return;
      slot.job = p;
      const idle = p.job.splittable && this.queue.length === 0 ? this.slots.filter((s) => s !== slot && !s.job && !s.help).slice(0, this.maxParts - 1) : [];
      const parts = idle.length + 1;
      if (parts > 1) this.split++;
      idle.forEach((helper, i) => {
        helper.help = { primary: p, part: i + 1 };
        helper.worker.postMessage({ id: p.id, job: p.job, split: { part: i + 1, parts } } satisfies ToWorker);
      });
      const msg: ToWorker = parts > 1 ? { id: p.id, job: p.job, split: { part: 0, parts } } : { id: p.id, job: p.job };
      slot.worker.postMessage(msg, transferList(p.job.gathered));
    }
  }

  /** A helping thread's rows go to its job's thread; its answer means it is done. */
  private fromHelper(slot: Slot, m: FromWorker): void {
    const { primary, part } = slot.help!;
    if (m.id !== primary.id) return;
    if ('rows' in m) {
      const to = this.slots.find((s) => s.job === primary);
      to?.worker.postMessage({ rows: m.rows, for: primary.id, part } satisfies ToWorker, [m.rows.values.buffer as ArrayBuffer, m.rows.present.buffer as ArrayBuffer]);
      return;
    }
    if ('error' in m && !m.declined) this.log.warn('query thread helping a split query failed', { why: m.error, query: primary.job.query });
    this.helperDone(slot);
    this.dispatch();
  }

  /** A helping thread is free again: its job's thread stops waiting for rows it did not send, or the job, answered, is finished once its last helper is done. */
  private helperDone(slot: Slot): void {
    const { primary, part } = slot.help!;
    slot.help = undefined;
    const running = this.slots.find((s) => s.job === primary);
    if (running) return running.worker.postMessage({ partDone: primary.id, part } satisfies ToWorker);
    const settled = primary.settled;
    if (settled && !this.slots.some((s) => s.help?.primary === primary)) this.finish(primary, settled.answer, settled.error);
  }

  /**
   * A job's thread answered: the job is finished, or, while threads helping it
   * still run (they read the blocks it was lent), once they are done.
   */
  private settle(p: Pending, answer: JobAnswer | undefined, error: Error | undefined): void {
    if (!this.slots.some((s) => s.help?.primary === p)) return this.finish(p, answer, error);
    p.settled = { answer, error };
    this.releaseHelpers(p);
  }

  /** Tell the threads helping `p` to stop (it is answered, cancelled or gone). */
  private releaseHelpers(p: Pending): void {
    for (const s of this.slots) if (s.help?.primary === p) s.worker.postMessage({ cancel: p.id } satisfies ToWorker);
  }

  private cancel(p: Pending): void {
    const q = this.queue.indexOf(p);
    if (q >= 0) {
      this.queue.splice(q, 1);
      return this.finish(p, errorAnswer(queryCanceled()));
    }
    const slot = this.slots.find((s) => s.job === p);
    if (!slot) return;
    slot.worker.postMessage({ cancel: p.id } satisfies ToWorker); // the engine stops at its next pause and answers
    this.releaseHelpers(p); // and does not wait for their rows
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
    this.releaseHelpers(p);
    p.signal?.removeEventListener('abort', p.onAbort);
    if (answer) p.resolve(answer);
    else p.reject(error ?? new Error('query failed'));
  }
}
