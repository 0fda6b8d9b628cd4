import { compressSync } from 'snappy';
import { bench, describe } from 'vitest';
import { createLogger } from '../../../wire/log.js';
import { encodeBatch } from '../../../wire/node-batch.js';
import { encodeWriteRequest, type SeriesInput } from '../../../wire/remote-write.js';
import { NodeMetrics } from './metrics.js';
import { NodeStore } from './store.js';

// Head apply throughput in the steady state: every series already exists and
// each request carries one new sample for each of 2000 series (Prometheus's
// default batch). One iteration = one scrape round over all active series.
const ROUNDS = 6;
for (const active of [10_000, 100_000]) {
  describe(`apply, ${active} active series`, () => {
    const rounds: Uint8Array[][] = [];
    for (let r = 0; r <= ROUNDS; r++) {
      const round: Uint8Array[] = [];
      for (let s = 0; s < active; s += 2000) {
        const inputs: SeriesInput[] = [];
        for (let i = s; i < s + 2000; i++) inputs.push({ labels: [['__name__', `m_${i % 8}`], ['instance', `host-${i >> 3}:9100`], ['job', `svc-${i % 20}`]], samples: [[1_700_000_000_000 + r * 15000, i + r]] });
        round.push(new Uint8Array(compressSync(Buffer.from(encodeWriteRequest(inputs)))));
      }
      rounds.push(round);
    }
    const store = new NodeStore(new NodeMetrics(), createLogger('bench', 'error'));
    let seq = 0;
    for (const p of rounds[0]!) store.apply('t', 0, encodeBatch([{ seq: ++seq, payload: p }]), 1);
    let next = 1;
    bench(
      `one scrape round (${active} samples)`,
      () => {
        const round = rounds[Math.min(next++, ROUNDS)]!;
        for (const p of round) store.apply('t', 0, encodeBatch([{ seq: ++seq, payload: p }]), 1);
      },
      { iterations: ROUNDS - 1, warmupIterations: 0, time: 0, warmupTime: 0 },
    );
  });
}
