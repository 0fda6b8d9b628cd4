import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { hasPromtool } from '../../../test/support/peers.js';
import { createLogger } from '../../../wire/log.js';
import { encodeBatch } from '../../../wire/node-batch.js';
import { encodeWriteRequest } from '../../../wire/remote-write.js';
import { NodeMetrics } from './metrics.js';
import { NodeStore } from './store.js';
import { Matcher } from '../model/matcher.js';
import fc from 'fast-check';
import type { NativeHistogram } from '../../../wire/histogram.js';
import { histogramSeriesArb } from '../../../test/support/histograms.js';
import { decodeHistogramChunk } from '../chunkenc/histogram.js';

const payload = (name: string, t: number, v: number) =>
  new Uint8Array(compressSync(Buffer.from(encodeWriteRequest([{ labels: [['__name__', name]], samples: [[t, v]] }]))));

function setup() {
  const metrics = new NodeMetrics();
  return { store: new NodeStore(metrics, createLogger('test', 'error')), metrics };
}

const count = (store: NodeStore, tenant: string) =>
  (store.tenantDb(tenant)?.select([new Matcher('=~', '__name__', '.+')], -Infinity, Infinity) ?? []).reduce((n, s) => n + s.samples.length, 0);

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
    expect(store.tenantDb('t1')!.labelValues('__name__', [], -Infinity, Infinity)).toEqual(['a']);
  });

  it('skips a corrupt record, counts it, and goes on', () => {
    const { store, metrics } = setup();
    const b = encodeBatch([{ seq: 1, payload: new Uint8Array([0x0a, 0x01]) }, { seq: 2, payload: payload('a', 1, 1) }]);
    expect(store.apply('t', 0, b, 1)).toMatchObject({ ok: true, state: { applied: 2 } });
    expect(metrics.corruptRecords).toBe(1);
    expect(count(store, 't')).toBe(1);
  });
});

describe('NodeStore on disk', () => {
  const open = (nodeDir: string) => {
    const metrics = new NodeMetrics();
    const store = new NodeStore(metrics, createLogger('test', 'error'), { nodeDir });
    store.open();
    return store;
  };
  const batch = (from: number, to: number, name = 'm') =>
    encodeBatch(Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i, payload: payload(name, (from + i) * 1000, from + i) })));

  it('restarts from its WAL with the same data and positions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-node-'));
    const a = open(dir);
    a.apply('acme', 0, batch(1, 50), 1);
    a.apply('acme', 1, batch(1, 5, 'other'), 1);
    a.close();
    const b = open(dir);
    expect(b.shardState('acme', 0)).toMatchObject({ applied: 50, durable: 0 });
    expect(b.shardState('acme', 1)).toMatchObject({ applied: 5 });
    expect(count(b, 'acme')).toBe(55);
    // The coordinator resends 45..55: 45..50 are skipped, 51..55 applied.
    expect(b.apply('acme', 0, batch(45, 55), 1)).toMatchObject({ ok: true, state: { applied: 55 } });
    expect(count(b, 'acme')).toBe(60);
    b.close();
  });

  it('flushes to Prometheus blocks, records what is persisted, and empties the WAL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-node-'));
    const a = open(dir);
    a.apply('acme', 0, batch(1, 30), 1);
    const [res] = a.flush();
    expect(res!.blocks.reduce((n, b) => n + b.numSamples, 0)).toBe(30);
    expect(a.shardState('acme', 0)).toMatchObject({ applied: 30, durable: 30 });
    expect(readdirSync(join(dir, 'wal', 'acme'))).toEqual([]);
    expect(readdirSync(join(dir, 'blocks', 'acme')).every((n) => /^[0-9A-Z]{26}$/.test(n))).toBe(true);
    // Head and blocks read together.
    a.apply('acme', 0, batch(31, 40), 1);
    expect(count(a, 'acme')).toBe(40);
    expect(a.tenantDb('acme')!.labelValues('__name__', [], -Infinity, Infinity)).toEqual(['m']);
    a.close();
    const b = open(dir);
    expect(b.shardState('acme', 0)).toMatchObject({ applied: 40, durable: 30 });
    expect(count(b, 'acme')).toBe(40);
    b.close();
  });

  it.runIf(hasPromtool())('leaves blocks/<tenant> readable by promtool tsdb analyze', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-node-'));
    const a = open(dir);
    a.apply('acme', 0, batch(1, 20), 1);
    a.flush();
    a.close();
    const out = execFileSync('promtool', ['tsdb', 'analyze', join(dir, 'blocks', 'acme')], { encoding: 'utf8' });
    expect(out).toMatch(/^Series: 1$/m);
  });
});

describe('exemplars and metadata on a node', () => {
  const open = (nodeDir: string) => {
    const store = new NodeStore(new NodeMetrics(), createLogger('test', 'error'), { nodeDir });
    store.open();
    return store;
  };
  const all = [[new Matcher('=~', '__name__', '.+')]];
  /** Record `seq`: a sample and an exemplar of series `le` at t, and a metadata entry whose help says `help`. */
  const record = (seq: number, t: number, help = 'Request latency.') => ({
    seq,
    payload: new Uint8Array(
      compressSync(
        Buffer.from(
          encodeWriteRequest(
            [{ labels: [['__name__', 'req_bucket'], ['le', '1']], samples: [[t, seq]], exemplars: [{ labels: [['trace_id', `t${seq}`]], value: 0.3, timestampMs: t }] }],
            [{ family: 'req', type: 3, help, unit: 'seconds' }],
          ),
        ),
      ),
    ),
  });
  const traces = (store: NodeStore) => store.tenantDb('acme')!.exemplars.select(all, -Infinity, Infinity).flatMap((s) => s.exemplars.map((e) => e.labels[1]));

  it('come back after a restart: from the WAL, and from the snapshot a flush writes before it empties the WAL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-node-'));
    const a = open(dir);
    a.apply('acme', 0, encodeBatch([record(1, 1000), record(2, 2000)]), 1);
    a.close();
    const b = open(dir); // WAL replay
    expect(traces(b)).toEqual(['t1', 't2']);
    b.flush();
    expect(readdirSync(join(dir, 'wal', 'acme'))).toEqual([]);
    b.apply('acme', 0, encodeBatch([record(3, 3000, 'Request latency, new help.')]), 1);
    b.close();
    const c = open(dir); // snapshot, then WAL replay
    expect(traces(c)).toEqual(['t1', 't2', 't3']);
    const meta = c.tenantDb('acme')!.metadata.query(undefined, -1, -1);
    expect(Object.fromEntries(meta)).toEqual({
      req: [
        { type: 'histogram', help: 'Request latency, new help.', unit: 'seconds' },
        { type: 'histogram', help: 'Request latency.', unit: 'seconds' },
      ],
    });
    c.close();
  });

  it('keeps the sum of its shards\u2019 shares, the newest first, and remembers the shares across a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-node-'));
    const a = open(dir);
    a.setExemplarShare('acme', 0, 2);
    a.setExemplarShare('acme', 1, 1);
    a.apply('acme', 0, encodeBatch([1, 2, 3, 4, 5].map((i) => record(i, i * 1000))), 1);
    expect(traces(a)).toEqual(['t3', 't4', 't5']);
    a.close();
    const b = open(dir);
    expect(b.tenantDb('acme')!.exemplars.capacity).toBe(3);
    expect(traces(b)).toEqual(['t3', 't4', 't5']);
    b.close();
  });
});

describe('native histograms on a node', () => {
  const open = (nodeDir: string) => {
    const store = new NodeStore(new NodeMetrics(), createLogger('test', 'error'), { nodeDir });
    store.open();
    return store;
  };
  const histogramsIn = (store: NodeStore) => {
    const db = store.tenantDb('acme')!;
    const head = db.head.select([new Matcher('=', '__name__', 'lat')], -Infinity, Infinity).flatMap((s) => s.hist?.all() ?? []);
    const blocks = db.blocks.flatMap((b) =>
      b.postingsFor([new Matcher('=', '__name__', 'lat')]).flatMap((ref) => b.series(ref).chunks.flatMap((c) => {
        const { encoding, data } = b.encodedChunk(c.ref);
        return encoding === 1 ? [] : decodeHistogramChunk(data, encoding);
      })),
    );
    return [...blocks, ...head].map((h) => ({ ...h, resetHint: 0 })).sort((a, b) => a.t - b.t);
  };
  const record = (seq: number, hs: NativeHistogram[], floats: Array<[number, number]> = []) => ({
    seq,
    payload: new Uint8Array(compressSync(Buffer.from(encodeWriteRequest([{ labels: [['__name__', 'lat'], ['job', 'api']], samples: floats, histograms: hs }])))),
  });

  /** Inside one 2 h block range, and within retention (which compaction applies). */
  const WINDOW = Math.floor(Date.now() / 7_200_000) * 7_200_000 - 7_200_000;

  it('keeps them through WAL replay, a flush into blocks, late ones and duplicates, and compaction', () => {
    const series = fc.sample(histogramSeriesArb, { numRuns: 20, seed: 7 }).find((hs) => hs.length >= 20)!.map((h, k) => ({ ...h, t: WINDOW + k * 15_000 }));
    const [early, late] = [series.filter((_, k) => k % 5 !== 3), series.filter((_, k) => k % 5 === 3)];
    const dir = mkdtempSync(join(tmpdir(), 'isobar-node-'));
    const metrics = new NodeMetrics();
    const a = new NodeStore(metrics, createLogger('test', 'error'), { nodeDir: dir });
    a.open();
    a.apply('acme', 0, encodeBatch([record(1, early.slice(0, 10)), record(2, early.slice(10), [[WINDOW + 5_000, 1]])]), 1);
    // The newest again (a duplicate), and another histogram at its time (a conflict, refused), and an older one again (merged away on reads).
    const newest = early.at(-1)!;
    const out = a.apply('acme', 0, encodeBatch([record(3, [newest, early[4]!]), record(4, [{ ...newest, sum: newest.sum + 1 }])]), 1);
    expect(out.ok && out.state.rejections).toMatchObject([{ seq: 4, count: 1, message: expect.stringContaining('duplicate sample') }]);
    expect(metrics.duplicateSamples).toBe(1);
    a.close();
    const b = open(dir); // WAL replay
    expect(histogramsIn(b)).toEqual(early.map((h) => ({ ...h, resetHint: 0 })));
    b.flush();
    b.apply('acme', 0, encodeBatch([record(5, late)]), 1); // late ones, older than the newest: the head's out-of-order list
    b.flush(); // a second block over the same range
    expect(b.tenantDb('acme')!.blocks.length).toBeGreaterThanOrEqual(2);
    const want = series.map((h) => ({ ...h, resetHint: 0 }));
    expect(histogramsIn(b)).toEqual(want);
    // Compaction merges the overlapping blocks, the floats beside the histograms.
    return b.compact().then((r) => {
      expect(r.compactions).toBeGreaterThan(0);
      expect(b.tenantDb('acme')!.blocks).toHaveLength(1);
      expect(histogramsIn(b)).toEqual(want);
      expect(count(b, 'acme')).toBe(1);
      b.close();
    });
  });
});

describe('automatic head cut', () => {
  it('flushes a tenant once its head spans 1.5 block ranges, not before', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-node-'));
    const store = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), { nodeDir: dir, blockRangeMs: 60_000 });
    store.open();
    store.apply('t', 0, encodeBatch([{ seq: 1, payload: payload('m', 0, 1) }, { seq: 2, payload: payload('m', 80_000, 2) }]), 1);
    expect(store.flushIfDue()).toEqual([]);
    store.apply('t', 0, encodeBatch([{ seq: 3, payload: payload('m', 90_000, 3) }]), 1);
    expect(store.flushIfDue().flatMap((f) => f.blocks)).toHaveLength(2);
    expect(store.tenantDb('t')!.head.numSeries).toBe(0);
    expect(store.shardState('t', 0)).toMatchObject({ applied: 3, durable: 3 });
    store.close();
  });

  it('flushes a tenant whose WAL (the records its coordinators still hold) reached the bound, however short its span', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-node-'));
    const store = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), { nodeDir: dir, flushWalBytes: 2000 });
    store.open();
    let seq = 0;
    while ((store.tenantDb('t')?.wal?.bytes() ?? 0) < 2000) store.apply('t', 0, encodeBatch([{ seq: ++seq, payload: payload('m', seq * 1000, seq) }]), 1);
    store.apply('u', 0, encodeBatch([{ seq: 1, payload: payload('m', 1000, 1) }]), 1);
    const flushed = store.flushIfDue();
    expect(flushed.map((f) => f.tenant)).toEqual(['t']); // u's WAL is small: left alone
    expect(store.tenantDb('t')!.wal!.bytes()).toBeLessThan(2000);
    expect(store.shardState('t', 0)).toMatchObject({ applied: seq, durable: seq });
    store.close();
  });
});

describe('coordinator log identity', () => {
  it('takes a new log\u2019s records as new data, not replays, also after a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isobar-node-'));
    const open = () => {
      const s = new NodeStore(new NodeMetrics(), createLogger('t', 'error'), { nodeDir: dir });
      s.open();
      return s;
    };
    const a = open();
    a.apply('t', 0, encodeBatch([1, 2, 3].map((seq) => ({ seq, payload: payload('old', seq, seq) }))), 1, 'log-A');
    expect(a.shardState('t', 0).applied).toBe(3);
    // The coordinator's log was created anew: its numbers start over under another id.
    expect(a.apply('t', 0, encodeBatch([{ seq: 1, payload: payload('new', 10, 1) }]), 1, 'log-B')).toMatchObject({ ok: true, state: { applied: 1 } });
    expect(count(a, 't')).toBe(4);
    // A late request from the old log does not rewind anything.
    a.apply('t', 0, encodeBatch([{ seq: 4, payload: payload('old', 4, 4) }]), 1, 'log-B');
    a.close();
    const b = open();
    expect(b.shardStateFor('t', 0, 'log-B')).toMatchObject({ applied: 1 });
    expect(count(b, 't')).toBe(4);
    b.close();
  });
});
