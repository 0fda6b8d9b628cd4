/**
 * Worker thread entry: merges blocks off the main thread, so appends and
 * queries go on while a compaction runs. Message in: {parentDir, sources: dirs};
 * message out: {ok: true, dir} or {ok: false, error}. Bundled as
 * dist/storage-node/compact-worker.mjs beside main.mjs.
 */
import { parentPort } from 'node:worker_threads';
import { BlockReader } from '../block/reader.js';
import { compactBlocks } from './compactor.js';

parentPort!.on('message', (msg: { parentDir: string; sources: string[] }) => {
  const readers: BlockReader[] = [];
  try {
    for (const dir of msg.sources) readers.push(BlockReader.open(dir));
    parentPort!.postMessage({ ok: true, dir: compactBlocks(msg.parentDir, readers)?.dir });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message });
  } finally {
    for (const r of readers) r.close();
  }
});
