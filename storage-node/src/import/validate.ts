/**
 * Checks a Prometheus TSDB block before it is imported (backfill): the CLI
 * runs it before uploading, the storage node again before taking the block.
 * Every index section's checksum, every series' labels, every chunk's
 * checksum, range and samples; samples must fall inside the tenant's
 * retention and not in the future. The first problem is an ImportError that
 * names the block, the series and what is wrong.
 */
import { basename } from 'node:path';
import { isValidLabelName, isValidMetricName } from '../../../wire/remote-write.js';
import { XorIterator } from '../chunkenc/xor.js';
import { BlockReader, isHistogramEncoding } from '../block/reader.js';
import { decodeHistogramChunk } from '../chunkenc/histogram.js';
import { histogramProblem } from '../../../wire/histogram.js';
import { compareLabelsUtf8 } from '../block/utf8-order.js';
import { labelsText } from '../../../wire/prom-json.js';
import { ErrorIds, IsobarError } from '../../../wire/errors.js';

/** A block refused for import: 400, naming the block, the series and what is wrong. */
export class ImportError extends IsobarError {
  constructor(message: string) {
    super(ErrorIds.importRefused, 'bad-data', message);
    this.name = 'ImportError';
  }
}

export interface BlockSummary {
  ulid: string;
  minTime: number;
  maxTime: number;
  series: number;
  samples: number;
  /** Of them native histograms (the import writes both counts into meta.json: queries find histograms by it). */
  histogramSamples: number;
  chunks: number;
}

export interface ValidateOptions {
  /** Oldest sample allowed (now − the tenant's retention), ms. */
  oldestMs: number;
  /** Newest sample allowed (now + the future allowance), ms. */
  newestMs: number;
  /** Called every few thousand series (progress). */
  onSeries?: (done: number, total: number) => void;
  /** Collects every series' labels (key form), to count distinct series over several blocks. */
  seriesKeys?: Set<string>;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function validateBlock(dir: string, opts: ValidateOptions): BlockSummary {
  const name = basename(dir);
  let reader: BlockReader;
  try {
    reader = BlockReader.open(dir);
  } catch (e) {
    throw new ImportError(`block ${name}: ${(e as Error).message}`);
  }
  try {
    const { meta } = reader;
    const where = `block ${meta.ulid}`;
    if (meta.ulid !== name) throw new ImportError(`${where}: its folder is named ${name}; a block's folder is its ULID`);
    const resolution = ((meta as Record<string, unknown>).thanos as { downsample?: { resolution?: number } } | undefined)?.downsample?.resolution ?? 0;
    if (resolution !== 0) throw new ImportError(`${where}: a downsampled block (resolution ${resolution} ms); import raw blocks, downsampling happens here`);
    if (meta.minTime >= meta.maxTime) throw new ImportError(`${where}: minTime ${meta.minTime} is not before maxTime ${meta.maxTime}`);
    if (meta.minTime < opts.oldestMs) throw new ImportError(`${where}: starts at ${iso(meta.minTime)}, before the tenant's retention (oldest ${iso(opts.oldestMs)}; limit retention_seconds); cut the data or raise the retention`);
    if (meta.maxTime - 1 > opts.newestMs) throw new ImportError(`${where}: ends at ${iso(meta.maxTime - 1)}, in the future (newest allowed ${iso(opts.newestMs)})`);
    const refs = reader.allPostings();
    const it = new XorIterator();
    let samples = 0;
    let histogramSamples = 0;
    let chunks = 0;
    let prev: readonly string[] | undefined;
    refs.forEach((ref, i) => {
      const s = reader.series(ref);
      const what = () => `${where}, series ${labelsText(s.labels)}`;
      // As the format requires (a query thread finds a part of a selector's series by bisecting them).
      if (prev && compareLabelsUtf8(prev, s.labels) >= 0) throw new ImportError(`${what()}: series not sorted by labels in the index, or repeated (it follows ${labelsText(prev)})`);
      prev = s.labels;
      const metric = s.labels[0] === '__name__' ? s.labels[1] : undefined;
      if (metric === undefined || !isValidMetricName(metric)) throw new ImportError(`${what()}: no valid metric name`);
      for (let k = 0; k < s.labels.length; k += 2) {
        if (!isValidLabelName(s.labels[k]!)) throw new ImportError(`${what()}: invalid label name ${JSON.stringify(s.labels[k])}`);
        if (k > 0 && s.labels[k]! <= s.labels[k - 2]!) throw new ImportError(`${what()}: labels not sorted by name, or repeated`);
        if (s.labels[k + 1] === '') throw new ImportError(`${what()}: empty value of label ${s.labels[k]}`);
      }
      opts.seriesKeys?.add(s.labels.join('\xff'));
      let prevMax = -Infinity;
      for (const c of s.chunks) {
        if (c.minT > c.maxT) throw new ImportError(`${what()}: a chunk with minT ${c.minT} after maxT ${c.maxT}`);
        if (c.minT < meta.minTime || c.maxT >= meta.maxTime) throw new ImportError(`${what()}: a chunk [${iso(c.minT)}, ${iso(c.maxT)}] outside the block's range [${iso(meta.minTime)}, ${iso(meta.maxTime)})`);
        if (c.minT <= prevMax) throw new ImportError(`${what()}: chunks overlap or are out of order at ${iso(c.minT)}`);
        prevMax = c.maxT;
        let data: Uint8Array;
        let times: Iterable<number>;
        let histogram = false;
        try {
          const chunk = reader.encodedChunk(c.ref);
          data = chunk.data;
          // Native histograms are checked as Prometheus's rules say, and read whole.
          histogram = isHistogramEncoding(chunk.encoding);
          if (histogram) times = histogramTimes(chunk.data, chunk.encoding, what);
          else times = xorTimes(it.reset(data));
        } catch (e) {
          throw e instanceof ImportError ? e : new ImportError(`${what()}: ${(e as Error).message}`);
        }
        let n = 0;
        let last = -Infinity;
        for (const t of times) {
          if (t < c.minT || t > c.maxT) throw new ImportError(`${what()}: a sample at ${iso(t)} outside its chunk's range [${iso(c.minT)}, ${iso(c.maxT)}]`);
          if (t <= last) throw new ImportError(`${what()}: samples out of order at ${iso(t)}`);
          last = t;
          n++;
        }
        const declared = (data[0]! << 8) | data[1]!;
        if (n !== declared) throw new ImportError(`${what()}: a chunk declares ${declared} samples and holds ${n}`);
        samples += n;
        if (histogram) histogramSamples += n;
        chunks++;
      }
      if (opts.onSeries && (i + 1) % 2000 === 0) opts.onSeries(i + 1, refs.length);
    });
    opts.onSeries?.(refs.length, refs.length);
    return { ulid: meta.ulid, minTime: meta.minTime, maxTime: meta.maxTime, series: refs.length, samples, histogramSamples, chunks };
  } finally {
    reader.close();
  }
}

function* xorTimes(it: XorIterator): Generator<number> {
  while (it.next()) yield it.t;
  if (it.err) throw it.err;
}

/** The times of a native-histogram chunk's samples, each histogram checked by Prometheus's rules. */
function histogramTimes(data: Uint8Array, encoding: number, what: () => string): number[] {
  return decodeHistogramChunk(data, encoding).map((h) => {
    const why = histogramProblem(h);
    if (why) throw new ImportError(`${what()}: an invalid native histogram at ${iso(h.t)}: ${why}`);
    return h.t;
  });
}
