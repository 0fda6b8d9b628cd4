/** Test helpers: samples -> XOR chunks (120 per chunk) -> block input, and back. */
import { SAMPLES_PER_CHUNK, XorAppender, XorIterator } from '../chunkenc/xor.js';
import type { BlockReader } from './reader.js';
import type { BlockSeriesInput } from './writer.js';

export interface PlainSeries {
  labels: string[];
  samples: Array<[number, number]>;
}

export function toBlockInput(series: readonly PlainSeries[]): BlockSeriesInput[] {
  return series.map((s) => {
    const chunks: BlockSeriesInput['chunks'][number][] = [];
    for (let i = 0; i < s.samples.length; i += SAMPLES_PER_CHUNK) {
      const part = s.samples.slice(i, i + SAMPLES_PER_CHUNK);
      const a = new XorAppender();
      for (const [t, v] of part) a.append(t, v);
      chunks.push({ minT: part[0]![0], maxT: part.at(-1)![0], data: a.seal() });
    }
    return { labels: s.labels, chunks };
  });
}

/** Every series of a block with its samples, in the block's order. */
export function readAllSeries(r: BlockReader): PlainSeries[] {
  const it = new XorIterator();
  return r.allPostings().map((ref) => {
    const s = r.series(ref);
    const samples: Array<[number, number]> = [];
    for (const c of s.chunks) {
      it.reset(r.chunk(c.ref));
      while (it.next()) samples.push([it.t, it.v]);
      if (it.err) throw it.err;
    }
    return { labels: s.labels, samples };
  });
}
