/**
 * How a merge runs: on the calling thread (tests, tools) or in a worker thread
 * (the storage-node process), one merge at a time.
 */
import { Worker } from 'node:worker_threads';
import type { BlockReader } from '../block/reader.js';
import { compactBlocks } from './compactor.js';

/** Merge `sources` into a new block under `parentDir`; resolves to the new block's folder (undefined: nothing was left). */
export type MergeRunner = (parentDir: string, sources: readonly BlockReader[]) => Promise<string | undefined>;

export const mergeInThread: MergeRunner = async (parentDir, sources) => compactBlocks(parentDir, sources)?.dir;

/** A runner backed by one long-lived worker thread running `workerFile` (compact-worker.mjs). */
export function workerRunner(workerFile: URL): { run: MergeRunner; close: () => Promise<number> } {
  const worker = new Worker(workerFile);
  worker.unref();
  let queue: Promise<unknown> = Promise.resolve();
  const run: MergeRunner = (parentDir, sources) => {
    const job = queue.then(
      () =>
        new Promise<string | undefined>((resolve, reject) => {
          const onMessage = (m: { ok: boolean; dir?: string; error?: string }) => {
            worker.off('error', onError);
            if (m.ok) resolve(m.dir);
            else reject(new Error(m.error));
          };
          const onError = (e: Error) => {
            worker.off('message', onMessage);
            reject(e);
          };
          worker.once('message', onMessage);
          worker.once('error', onError);
          worker.postMessage({ parentDir, sources: sources.map((s) => s.dir) });
        }),
    );
    queue = job.catch(() => {});
    return job;
  };
  return { run, close: () => worker.terminate() };
}
