import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../wire/log.js';
import { encodeBatch } from '../../wire/node-batch.js';
import { encodeWriteRequest } from '../../wire/remote-write.js';
import { NodeMetrics } from './metrics.js';
import { NodeStore } from './store.js';
import { Matcher } from './model/matcher.js';

const payload = (name: string, t: number, v: number) =>
  new Uint8Array(compressSync(Buffer.from(encodeWriteRequest([{ labels: [['__name__', name]], samples: [[t, v]] }]))));

function setup() {
  const metrics = new NodeMetrics();
  return { store: new NodeStore(metrics, createLogger('test', 'error')), metrics };
}

const count = (store: NodeStore, tenant: string) => {
  const h = store.head(tenant);
  if (!h) return 0;
  let n = 0;
  for (const s of h.select([new Matcher('=~', '__name__', '.+')], -Infinity, Infinity)) n += h.samples(s, -Infinity, Infinity).length;
  return n;
};

describe('NodeStore.apply', () => {
  it('applies in order and ignores replays of applied sequence numbers', () => {
    const { store, metrics } = setup();
    const b1 = encodeBatch([{ seq: 1, payload: payload('a', 1, 1) }, { seq: 2, payload: payload('a', 2, 2) }]);
    expect(store.apply('t', 0, b1, 1)).toMatchObject({ ok: true, state: { applied: 2 } });
    expect(store.apply('t', 0, b1, 1)).toMatchObject({ ok: true, state: { applied: 2 } });
    const b2 = encodeBatch([{ seq: 2, payload: payload('a', 2, 2) }, { seq: 3, payload: payload('a', 3, 3) }]);
    expect(store.apply('t', 0, b2, 1)).toMatchObject({ ok: true, state: { applied: 3 } });
    expect(count(store, 't')).toBe(3);
    expect(metrics.samplesAppended).toBe(3);
  });

  it('answers a gap so the coordinator replays, unless the log starts there', () => {
    const { store } = setup();
    const b = encodeBatch([{ seq: 5, payload: payload('a', 5, 5) }]);
    expect(store.apply('t', 0, b, 1)).toMatchObject({ ok: false, gap: true, state: { applied: 0 } });
    expect(count(store, 't')).toBe(0);
    expect(store.apply('t', 0, b, 5)).toMatchObject({ ok: true, state: { applied: 5 } });
  });

  it('applies several records sharing one sequence number (a group-committed row)', () => {
    const { store } = setup();
    const b = encodeBatch([{ seq: 1, payload: payload('a', 1, 1) }, { seq: 1, payload: payload('b', 1, 1) }, { seq: 2, payload: payload('c', 1, 1) }]);
    expect(store.apply('t', 0, b, 1)).toMatchObject({ ok: true, state: { applied: 2 } });
    expect(count(store, 't')).toBe(3);
  });

  it('keeps tenants and shards apart', () => {
    const { store } = setup();
    store.apply('t1', 0, encodeBatch([{ seq: 1, payload: payload('a', 1, 1) }]), 1);
    store.apply('t2', 3, encodeBatch([{ seq: 1, payload: payload('b', 1, 1) }]), 1);
    expect(store.shardState('t1', 0).applied).toBe(1);
    expect(store.shardState('t1', 3).applied).toBe(0);
    expect(count(store, 't1')).toBe(1);
    expect(store.head('t1')!.labelValues('__name__', -Infinity, Infinity)).toEqual(['a']);
  });

  it('skips a corrupt record, counts it, and goes on', () => {
    const { store, metrics } = setup();
    const b = encodeBatch([{ seq: 1, payload: new Uint8Array([0x0a, 0x01]) }, { seq: 2, payload: payload('a', 1, 1) }]);
    expect(store.apply('t', 0, b, 1)).toMatchObject({ ok: true, state: { applied: 2 } });
    expect(metrics.corruptRecords).toBe(1);
    expect(count(store, 't')).toBe(1);
  });
});
