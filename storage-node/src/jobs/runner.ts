/**
 * How a merge runs: on the calling thread (tests, tools) or in a worker thread
 * (the storage-node process), one merge at a time.
 */
import { Worker } from 'node:worker_threads';
import type { BlockReader } from '../block/reader.js';
import { compactBlocks } from '../compact/compactor.js';
import { deletionFilter, downsampleBlocks } from '../downsample/downsample.js';
import type { DeletionSpec } from '../model/deletions.js';

/** Instead of merging: downsample the sources to `res`, leaving out the deletions in force. */
export interface DownsampleTask {
  res: number;
  deletions: DeletionSpec[];
}

/**
 * Merge `sources` into a new block under `parentDir` (or downsample them);
 * resolves to the new block's folder (undefined: nothing was left).
 */
export type MergeRunner = (parentDir: string, sources: readonly BlockReader[], downsample?: DownsampleTask) => Promise<string | undefined>;

/** One merge or downsampling, on the calling thread (the worker thread's body too). */
export function runMerge(parentDir: string, sources: readonly BlockReader[], downsample?: DownsampleTask): string | undefined {
  return (downsample ? downsampleBlocks(parentDir, sources, downsample.res, deletionFilter(downsample.deletions)) : compactBlocks(parentDir, sources))?.dir;
}

export const mergeInThread: MergeRunner = async (parentDir, sources, downsample) => runMerge(parentDir, sources, downsample);

/** A runner backed by one long-lived worker thread running `workerFile` (compact-worker.mjs). */
export function workerRunner(workerFile: URL): { run: MergeRunner; close: () => Promise<number> } {
  const worker = new Worker(workerFile);
  worker.unref();
  let queue: Promise<unknown> = Promise.resolve();
  const run: MergeRunner = (parentDir, sources, downsample) => {
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
          worker.postMessage({ parentDir, sources: sources.map((s) => s.dir), downsample });
        }),
    );
    queue = job.catch(() => {});
    return job;
  };
  return { run, close: () => worker.terminate() };
}
