/**
 * The edge's cost per request for remote write 1.0 and 2.0 of the same data
 * (2,000 series of rwload.mjs's shape, one sample each): 2.0 is translated into
 * 1.0 before it is read. The sizes on the wire are printed once.
 */
import { bench, describe } from 'vitest';
import { encodeWriteRequest, WriteRequestReader, type SeriesInput } from './remote-write.js';
import { encodeWriteRequestV2, transcodeV2 } from './remote-write-v2.js';
import { snappyDecode, snappyEncode } from './snappy.js';

const names = ['http_requests_total', 'http_request_duration_seconds_bucket', 'process_cpu_seconds_total', 'node_filesystem_avail_bytes', 'queue_depth', 'up'];
const series: Array<SeriesInput & { histograms?: never }> = Array.from({ length: 2000 }, (_, i) => ({
  labels: [['__name__', names[i % names.length]!], ['instance', `host-${i % 250}.example.internal:9100`], ['job', `service-${i % 17}`], ['region', `eu-west-${i % 3}`]],
  samples: [[1_795_000_000_000 + i, i * 1.5]],
}));
const v1 = snappyEncode(encodeWriteRequest(series));
const v2 = snappyEncode(encodeWriteRequestV2(series));
console.log(`remote write bytes per sample (snappy): 1.0 ${(v1.length / series.length).toFixed(1)}, 2.0 ${(v2.length / series.length).toFixed(1)}, ratio ${(v2.length / v1.length).toFixed(2)}`);

const read = (raw: Uint8Array) => {
  const r = new WriteRequestReader(raw);
  while (r.next());
};

describe('edge: decompress and read 2,000 series', () => {
  bench('remote write 1.0', () => read(snappyDecode(v1, 1 << 26)));
  bench('remote write 2.0 (translated to 1.0, then read)', () => read(transcodeV2(snappyDecode(v2, 1 << 26))));
});
