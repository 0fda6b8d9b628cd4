import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { encodeWriteRequest } from '../../wire/remote-write.js';
import { snappyEncode } from '../../wire/snappy.js';
import type { AppendAck, ShardCoordinator } from '../../durable/shard-coordinator.js';
import { UsageLedger } from '../../durable/usage-ledger.js';
import { eventually, newTenant, nodeControl, now, read, write } from './helpers.js';

const payload = (name: string, t: number) => snappyEncode(encodeWriteRequest([{ labels: [['__name__', name]], samples: [[t, 1]] }]));

function coordinator(tenant: string, shard: number) {
  return env.SHARD_COORDINATOR.get(env.SHARD_COORDINATOR.idFromName(`${tenant}/${shard}`));
}

describe('ShardCoordinator commit log', () => {
  it('assigns increasing sequence numbers and group-commits concurrent appends', async () => {
    await newTenant('order', 1);
    const stub = coordinator('order', 0);
    const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => stub.append('order', 0, [payload(`ordered_${i}`, 1000 + i)]) as Promise<AppendAck>));
    const seqs = acks.map((a) => a.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs.slice().sort((a, b) => a - b));
    const logged = await stub.logSeqs();
    expect(logged).toEqual([...new Set(logged)].sort((a, b) => a - b)); // strictly increasing
    expect(logged.length).toBeLessThan(20); // concurrent appends shared rows
    expect(new Set(seqs).size).toBe(logged.length);
    expect(acks.every((a) => a.applied)).toBe(true);
    const st = await stub.state();
    expect(st.applied).toBe(logged.at(-1));
  });

  it('refuses a payload over the record limit', async () => {
    await runInDurableObject(coordinator('order', 0), async (obj: ShardCoordinator) => {
      await expect(obj.append('order', 0, [new Uint8Array(2_000_001)])).rejects.toThrow(/record limit/);
    });
  });

  it('acknowledges while the node is down and replays in order once it is back', async () => {
    const key = await newTenant('replay', 2);
    const name = `while_down_${Date.now()}`;
    await nodeControl('stop');
    try {
      const t = now();
      for (let i = 0; i < 5; i++) {
        const r = await write([{ labels: [['__name__', name], ['i', String(i)]], samples: [[t + i, i]] }], {}, `Bearer ${key}`);
        expect(r.status).toBe(204);
      }
      const states = await Promise.all([0, 1].map((s) => coordinator('replay', s).state()));
      const pending = states.reduce((n, s) => n + (s.nextSeq - 1 - s.applied), 0);
      expect(pending).toBeGreaterThan(0);
    } finally {
      await nodeControl('start');
    }
    // The restarted node is empty; the alarm finds it and replays every log from the start.
    for (const s of [0, 1]) await runDurableObjectAlarm(coordinator('replay', s));
    const got = await eventually(() => read(`series?match[]=${name}`, `Bearer ${key}`), (r) => r.body?.data?.length === 5);
    expect(got.body.data.map((x: { i: string }) => x.i)).toEqual(['0', '1', '2', '3', '4']);
    // ...and so is everything written before the restart (the demo tenant's earlier data too).
    for (const s of [0, 1]) {
      const st = await coordinator('replay', s).state();
      expect(st.applied).toBe(st.nextSeq - 1);
    }
  });

  it('keeps sequence numbers across object restarts (state in SQLite)', async () => {
    await newTenant('durable', 1);
    const stub = coordinator('durable', 0);
    const a = (await stub.append('durable', 0, [payload('d', 1)])) as AppendAck;
    await runInDurableObject(stub, async (_obj: ShardCoordinator, state) => {
      const rows = state.storage.sql.exec<{ seq: number }>('SELECT seq FROM log').toArray();
      expect(rows.map((r) => r.seq)).toContain(a.seq);
    });
    const b = (await stub.append('durable', 0, [payload('d', 2)])) as AppendAck;
    expect(b.seq).toBe(a.seq + 1);
  });

  it('renames the usage table\u2019s old `bucket` column to `slot`, keeping its counts', async () => {
    await newTenant('usage-old', 1);
    const stub = coordinator('usage-old', 0);
    await stub.append('usage-old', 0, [payload('u', 1)]);
    await runInDurableObject(stub, async (_obj: ShardCoordinator, state) => {
      const sql = state.storage.sql;
      sql.exec('DROP TABLE usage');
      sql.exec('CREATE TABLE usage (bucket INTEGER NOT NULL, reason TEXT NOT NULL, samples INTEGER NOT NULL, PRIMARY KEY (bucket, reason))');
      sql.exec(`INSERT INTO usage (bucket, reason, samples) VALUES (?, '', 7), (?, 'err-isobar-sample-too-old', 2)`, Math.floor(Date.now() / 300_000), Math.floor(Date.now() / 300_000));
      const ledger = new UsageLedger(sql);
      ledger.init();
      expect(ledger.window(3_600_000)).toEqual({ accepted: 7, rejected: { 'err-isobar-sample-too-old': 2 } });
      ledger.count({ '': 1 });
      expect(ledger.window(3_600_000).accepted).toBe(8);
      ledger.init(); // a second start finds the new name
      expect(sql.exec<{ sql: string }>(`SELECT sql FROM sqlite_master WHERE name = 'usage'`).one().sql).toMatch(/slot INTEGER/);
    });
  });
});

describe('routing', () => {
  it('spreads a tenant\u2019s series over its shards by jump hash, and reads see all of them', async () => {
    const key = await newTenant('spread', 4);
    const name = `spread_${Date.now()}`;
    const before = await Promise.all([0, 1, 2, 3].map((s) => coordinator('spread', s).state()));
    const series = Array.from({ length: 200 }, (_, i) => ({ labels: [['__name__', name], ['i', String(i)]] as [string, string][], samples: [[now(), i]] as [number, number][] }));
    expect((await write(series, {}, `Bearer ${key}`)).status).toBe(204);
    const after = await Promise.all([0, 1, 2, 3].map((s) => coordinator('spread', s).state()));
    after.forEach((st, s) => expect(st.nextSeq, `shard ${s} got a row`).toBeGreaterThan(before[s]!.nextSeq));
    const got = await eventually(() => read(`series?match[]=${name}`, `Bearer ${key}`), (r) => r.body?.data?.length === 200);
    expect(got.body.data).toHaveLength(200);
  });

  it('forwards a one-shard tenant\u2019s valid request body unchanged', async () => {
    const key = await newTenant('single', 1);
    const name = `single_${Date.now()}`;
    const series = Array.from({ length: 50 }, (_, i) => ({ labels: [['__name__', name], ['i', String(i)]] as [string, string][], samples: [[now(), i]] as [number, number][] }));
    const body = snappyEncode(encodeWriteRequest(series));
    expect((await write(body, {}, `Bearer ${key}`)).status).toBe(204);
    const seqs = await coordinator('single', 0).logSeqs();
    await runInDurableObject(coordinator('single', 0), async (_o: ShardCoordinator, state) => {
      const row = state.storage.sql.exec<{ payload: ArrayBuffer }>('SELECT payload FROM log WHERE seq = ?', seqs.at(-1)!).one();
      // One record: 12-byte header, then exactly the client's bytes.
      expect(new Uint8Array(row.payload).subarray(12)).toEqual(body);
    });
    expect((await eventually(() => read(`series?match[]=${name}`, `Bearer ${key}`), (r) => r.body?.data?.length === 50)).body.data).toHaveLength(50);
  });
});

describe('resync after a node restart', () => {
  const call = (auth: string, body: unknown) =>
    SELF.fetch('http://isobar.test/internal/v1/nodes/resync', { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('needs the node secret and a valid body', async () => {
    expect((await call('Bearer wrong', { bootId: 'x', shards: [] })).status).toBe(401);
    expect((await call('', { bootId: 'x', shards: [] })).status).toBe(401);
    const bad = await call(`Bearer ${env.ISOBAR_NODE_SECRET}`, { bootId: 'x', shards: [{ tenant: 'Bad Tenant', shard: 0, applied: 0 }] });
    expect(bad.status).toBe(400);
  });

  it('makes the listed coordinators replay to the node', async () => {
    const key = await newTenant('resync', 1);
    const name = `resync_${Date.now()}`;
    expect((await write([{ labels: [['__name__', name]], samples: [[now(), 1]] }], {}, `Bearer ${key}`)).status).toBe(204);
    await nodeControl('stop');
    await nodeControl('start'); // empty again
    const r = await call(`Bearer ${env.ISOBAR_NODE_SECRET}`, { bootId: 'test', shards: [{ tenant: 'resync', shard: 0, applied: 0 }] });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ resynced: 1 });
    const got = await eventually(() => read(`series?match[]=${name}`, `Bearer ${key}`), (x) => x.body?.data?.length === 1);
    expect(got.body.data).toEqual([{ __name__: name }]);
  });
});

describe('flush and log truncation', () => {
  it('cuts heads into blocks; coordinators then truncate their logs; reads still see everything', async () => {
    const key = await newTenant('persist', 2);
    const name = `persisted_${Date.now()}`;
    const series = Array.from({ length: 40 }, (_, i) => ({ labels: [['__name__', name], ['i', String(i)]] as [string, string][], samples: [[now(), i]] as [number, number][] }));
    expect((await write(series, {}, `Bearer ${key}`)).status).toBe(204);
    const before = await Promise.all([0, 1].map((s) => coordinator('persist', s).state()));
    expect(before.reduce((n, s) => n + s.rows, 0)).toBeGreaterThan(0);

    const r = await SELF.fetch('http://isobar.test/admin/v1/flush?tenant=persist', { method: 'POST', headers: { authorization: 'Bearer test-admin-token' } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { nodes: Array<{ tenants: Array<{ tenant: string; blocks: Array<{ numSamples: number }> }> }> };
    const blocks = body.nodes.flatMap((n) => n.tenants).filter((t) => t.tenant === 'persist').flatMap((t) => t.blocks);
    expect(blocks.reduce((n, b) => n + b.numSamples, 0)).toBe(40);

    // The next check-in (the alarm) learns "durable" and deletes the rows.
    for (const s of [0, 1]) await runDurableObjectAlarm(coordinator('persist', s));
    const after = await Promise.all([0, 1].map((s) => coordinator('persist', s).state()));
    for (const st of after) {
      expect(st.durable).toBe(st.applied);
      expect(st.rows).toBe(0);
    }
    expect((await read(`series?match[]=${name}`, `Bearer ${key}`)).body.data).toHaveLength(40);
    // Sequence numbers go on after truncation.
    expect((await write([{ labels: [['__name__', name], ['i', 'late']], samples: [[now(), 1]] }], {}, `Bearer ${key}`)).status).toBe(204);
    expect((await read(`series?match[]=${name}`, `Bearer ${key}`)).body.data).toHaveLength(41);
  });
});
