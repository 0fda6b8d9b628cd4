/**
 * One conformance suite, two buckets: the filesystem bucket and the S3 bucket
 * against a real S3-compatible server (s3rver, started here).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BucketKeyError, type Bucket } from './bucket.js';
import { FsBucket } from './fs-bucket.js';
import { S3Bucket } from './s3-bucket.js';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function conformance(name: string, make: () => Bucket) {
  describe(`bucket conformance: ${name}`, () => {
    let b: Bucket;
    beforeAll(() => {
      b = make();
    });

    it('stores, reads, sizes and deletes objects; a missing object is undefined, deleting it is fine', async () => {
      expect(await b.put('t1/a/meta.json', bytes('{"v":1}'))).toBe(true);
      expect(text(await b.get('t1/a/meta.json'))).toBe('{"v":1}');
      expect(await b.head('t1/a/meta.json')).toEqual({ key: 't1/a/meta.json', size: 7 });
      expect(await b.put('t1/a/meta.json', bytes('{"v":22}'))).toBe(true); // overwrite
      expect(text(await b.get('t1/a/meta.json'))).toBe('{"v":22}');
      expect(await b.get('t1/nope')).toBeUndefined();
      expect(await b.head('t1/nope')).toBeUndefined();
      await b.delete('t1/a/meta.json');
      expect(await b.get('t1/a/meta.json')).toBeUndefined();
      await b.delete('t1/a/meta.json');
      const odd = 't1/with space+plus/ü%20.bin';
      await b.put(odd, Uint8Array.of(0, 255, 1));
      expect(Array.from((await b.get(odd))!)).toEqual([0, 255, 1]);
    });

    it('reads ranges: inside, to the end, and past the end', async () => {
      await b.put('t2/obj', bytes('0123456789'));
      expect(text(await b.get('t2/obj', { offset: 3, length: 4 }))).toBe('3456');
      expect(text(await b.get('t2/obj', { offset: 7, length: 100 }))).toBe('789');
      expect(text(await b.get('t2/obj', { offset: 10, length: 5 }))).toBe('');
      expect(await b.get('t2/missing', { offset: 0, length: 1 })).toBeUndefined();
    });

    it('lists by prefix in key order across pages, and lists the next path segments', async () => {
      const keys = Array.from({ length: 23 }, (_, i) => `t3/${String.fromCharCode(97 + (i % 3))}/${String(i).padStart(3, '0')}`);
      for (const k of keys) await b.put(k, bytes(k));
      await b.put('t30/x', bytes('not under t3/'));
      const all = await b.list('t3/');
      expect(all.map((o) => o.key)).toEqual([...keys].sort());
      expect(all.every((o) => o.size === o.key.length)).toBe(true);
      expect((await b.list('t3/b/')).map((o) => o.key)).toEqual(keys.filter((k) => k.startsWith('t3/b/')).sort());
      expect(await b.listPrefixes('t3/')).toEqual(['t3/a/', 't3/b/', 't3/c/']);
      expect(await b.list('t9/')).toEqual([]);
      expect(await b.listPrefixes('t9/')).toEqual([]);
      // From the root, with every object two or more levels down (tenants' blocks).
      await b.delete('t30/x');
      expect(await b.listPrefixes('')).toEqual(expect.arrayContaining(['t3/']));
      await b.put('t30/x', bytes('not under t3/'));
      // A prefix exists only while objects are under it.
      for (const k of keys.filter((k) => k.startsWith('t3/c/'))) await b.delete(k);
      expect(await b.listPrefixes('t3/')).toEqual(['t3/a/', 't3/b/']);
    });

    it('creates if absent: the second writer learns it lost, and the first value stays', async () => {
      expect(await b.put('t4/lock', bytes('first'), { ifAbsent: true })).toBe(true);
      expect(await b.put('t4/lock', bytes('second'), { ifAbsent: true })).toBe(false);
      expect(text(await b.get('t4/lock'))).toBe('first');
    });

    it('uploads large files (in parts where the store has them) and reads them back exactly', async () => {
      const file = join(tmp('isobar-bucket-file-'), 'chunks');
      const big = new Uint8Array(11 * 1024 * 1024 + 123);
      for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
      writeFileSync(file, big);
      await b.putFile('t5/01ABC/chunks/000001', file);
      expect((await b.head('t5/01ABC/chunks/000001'))?.size).toBe(big.length);
      const back = (await b.get('t5/01ABC/chunks/000001'))!;
      expect(back.length).toBe(big.length);
      expect(Buffer.compare(Buffer.from(back), Buffer.from(big))).toBe(0);
      const part = (await b.get('t5/01ABC/chunks/000001', { offset: 5 * 1024 * 1024 - 2, length: 4100 }))!;
      expect(Buffer.compare(Buffer.from(part), Buffer.from(big.subarray(5 * 1024 * 1024 - 2, 5 * 1024 * 1024 - 2 + 4100)))).toBe(0);
    });

    it('refuses keys that are not plain relative paths', async () => {
      for (const key of ['', '../x', 't/../x', '/abs', 't//x', 'a\\b']) await expect(b.put(key, bytes('x'))).rejects.toThrow(BucketKeyError);
    });
  });
}

conformance('filesystem', () => new FsBucket(tmp('isobar-bucket-')));

let server: S3rver | undefined;
let s3Endpoint = '';
beforeAll(async () => {
  server = new S3rver({ port: 0, address: '127.0.0.1', directory: tmp('isobar-s3rver-'), silent: true, configureBuckets: [{ name: 'isobar-test', configs: [] }] });
  const { port } = await server.run();
  s3Endpoint = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await server?.close();
});
conformance('S3 API (s3rver)', () => new S3Bucket({ endpoint: s3Endpoint, bucket: 'isobar-test', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', pathStyle: true, multipartThreshold: 5 * 1024 * 1024, partSize: 5 * 1024 * 1024, pageSize: 7 }));
