import { bench, describe } from 'vitest';
import { encodeWriteRequest, WriteRequestReader, type SeriesInput } from './remote-write.js';
import { snappyDecode, snappyEncode } from './snappy.js';

function request(series: number): Uint8Array {
  const inputs: SeriesInput[] = [];
  for (let i = 0; i < series; i++) {
    inputs.push({ labels: [['__name__', `metric_${i % 8}`], ['instance', `host-${(i / 8) | 0}:9100`], ['job', `svc-${i % 20}`]], samples: [[1_700_000_000_000, i * 1.5]] });
  }
  return encodeWriteRequest(inputs);
}

for (const n of [100, 2000, 10000]) {
  describe(`edge decode path, ${n} series per request`, () => {
    const raw = request(n);
    const body = snappyEncode(raw);
    bench('snappy decode', () => {
      snappyDecode(body, 1 << 26);
    });
    bench('read + validate + hash', () => {
      const r = new WriteRequestReader(raw);
      while (r.next());
    });
    bench('snappy encode (forwarding)', () => {
      snappyEncode(raw);
    });
  });
}
