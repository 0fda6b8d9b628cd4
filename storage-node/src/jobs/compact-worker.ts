/**
 * Worker thread entry: merges (or downsamples) blocks off the main thread, so
 * appends and queries go on meanwhile. Message in: {parentDir, sources: dirs, downsample?};
 * message out: {ok: true, dir} or {ok: false, error}. Bundled as
 * dist/storage-node/compact-worker.mjs beside main.mjs.
 */
import { parentPort } from 'node:worker_threads';
import { BlockReader } from '../block/reader.js';
import { runMerge, type DownsampleTask } from './runner.js';

parentPort!.on('message', (msg: { parentDir: string; sources: string[]; downsample?: DownsampleTask }) => {
  const readers: BlockReader[] = [];
  try {
    for (const dir of msg.sources) readers.push(BlockReader.open(dir));
    parentPort!.postMessage({ ok: true, dir: runMerge(msg.parentDir, readers, msg.downsample) });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message });
  } finally {
    for (const r of readers) r.close();
  }
});
