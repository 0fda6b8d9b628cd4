import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasPromtool } from '../../../test/support/peers.js';
import { crc32c } from '../encoding/crc32c.js';
import { CorruptionError } from '../encoding/encbuf.js';
import { Matcher } from '../model/matcher.js';
import { BlockReader } from './reader.js';
import { readAllSeries, toBlockInput, type PlainSeries } from './test-helpers.js';
import { compareLabelsUtf8 } from './utf8-order.js';
import { writeBlock } from './writer.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const tmp = () => mkdtempSync(join(tmpdir(), 'isobar-block-'));
const be32 = (x: number) => x.toString(16).padStart(8, '0');

describe('CRC-32C', () => {
  it('matches the standard check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });
});

describe('block writer: golden bytes', () => {
  // One series {__name__="up"} with one sample (t=1000, v=1).
  const { dir } = writeBlock(tmp(), toBlockInput([{ labels: ['__name__', 'up'], samples: [[1000, 1]] }]));

  it('chunks/000001', () => {
    const data = '0001' + 'd00f' + '3ff0000000000000'; // 1 sample, t0 zig-zag 2000, v0 raw
    const crc = be32(crc32c(Buffer.from('01' + data, 'hex')));
    expect(hex(readFileSync(join(dir, 'chunks', '000001')))).toBe(
      '85bd40dd' + '01' + '000000' + // magic, version, padding
        '0c' + '01' + data + crc, // len 12, encoding XOR, data, CRC-32C(encoding, data)
    );
  });

  it('index: header, symbols, the series entry and the TOC', () => {
    const idx = readFileSync(join(dir, 'index'));
    const symBody = '00000002' + '085f5f6e616d655f5f' + '027570'; // 2 symbols: "__name__", "up"
    const symbols = be32(symBody.length / 2) + symBody + be32(crc32c(Buffer.from(symBody, 'hex')));
    expect(hex(idx.subarray(0, 5))).toBe('baaad70002'); // magic, version 2
    expect(hex(idx.subarray(5, 5 + symbols.length / 2))).toBe(symbols);
    // Series at offset 32 (aligned to 16): 1 label (sym 0 = sym 1), 1 chunk (mint 1000, maxt-mint 0, ref 8).
    const seriesBody = '01' + '00' + '01' + '01' + 'd00f' + '00' + '08';
    expect(hex(idx.subarray(32, 32 + 1 + 8 + 4))).toBe('08' + seriesBody + be32(crc32c(Buffer.from(seriesBody, 'hex'))));
    const toc = idx.subarray(idx.length - 52);
    expect(Number(Buffer.from(toc).readBigUInt64BE(0))).toBe(5); // symbols right after the header
    expect(Number(Buffer.from(toc).readBigUInt64BE(8))).toBe(32); // series
    expect(Buffer.from(toc).readUInt32BE(48)).toBe(crc32c(toc, 0, 48));
  });

  it('meta.json and tombstones', () => {
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    expect(meta).toMatchObject({ minTime: 1000, maxTime: 1001, stats: { numSamples: 1, numSeries: 1, numChunks: 1 }, compaction: { level: 1 }, version: 1 });
    expect(meta.compaction.sources).toEqual([meta.ulid]);
    expect(hex(readFileSync(join(dir, 'tombstones')))).toBe('0130ba30' + '01' + '00000000');
  });
});

const labelValue = fc.constantFrom('a', 'b', 'zz', 'Zürich', '😀', 'x y', '\uE000');
const seriesArb = fc
  .uniqueArray(
    fc.record({ name: fc.constantFrom('m1', 'm2', 'up'), job: labelValue, extra: fc.option(labelValue, { nil: undefined }) }),
    { minLength: 1, maxLength: 20, selector: (s) => `${s.name}|${s.job}|${s.extra}` },
  )
  .chain((specs) =>
    fc.tuple(
      fc.constant(specs),
      fc.array(fc.tuple(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.array(fc.tuple(fc.integer({ min: 1, max: 100_000 }), fc.double()), { minLength: 1, maxLength: 300 })), {
        minLength: specs.length,
        maxLength: specs.length,
      }),
    ),
  )
  .map(([specs, data]) =>
    specs.map((sp, i): PlainSeries => {
      const labels = ['__name__', sp.name, ...(sp.extra ? ['extra', sp.extra] : []), 'job', sp.job];
      let t = data[i]![0];
      return { labels, samples: data[i]![1].map(([d, v]) => [(t += d), v] as [number, number]) };
    }),
  );

describe('block round trip', () => {
  it('reads back exactly what was written, in label order (property)', () => {
    fc.assert(
      fc.property(seriesArb, (series) => {
        const { dir, meta } = writeBlock(tmp(), toBlockInput(series), { maxSegmentBytes: 2048 });
        const r = BlockReader.open(dir);
        try {
          const got = readAllSeries(r);
          const want = [...series].sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
          expect(got.map((s) => s.labels)).toEqual(want.map((s) => s.labels));
          got.forEach((s, i) => {
            expect(s.samples.map(([t]) => t)).toEqual(want[i]!.samples.map(([t]) => t));
            s.samples.forEach(([, v], j) => expect(Object.is(v, want[i]!.samples[j]![1]) || (Number.isNaN(v) && Number.isNaN(want[i]!.samples[j]![1]))).toBe(true));
          });
          const all = series.flatMap((s) => s.samples.map(([t]) => t));
          expect(meta.minTime).toBe(Math.min(...all));
          expect(meta.maxTime).toBe(Math.max(...all) + 1);
          expect(meta.stats!.numSamples).toBe(all.length);
          // Matchers over the block's postings agree with filtering the input.
          const ms = [new Matcher('=~', '__name__', 'm1|up'), new Matcher('!=', 'extra', 'a')];
          const sel = r.postingsFor(ms).map((ref) => r.series(ref).labels);
          const lv = (ls: string[], n: string) => { const i = ls.indexOf(n); return i >= 0 && i % 2 === 0 ? ls[i + 1]! : ''; };
          expect(sel).toEqual(want.map((s) => s.labels).filter((ls) => ms.every((m) => m.matches(lv(ls, m.name)))));
        } finally {
          r.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('names file and offset when bytes are damaged', () => {
    const { dir } = writeBlock(tmp(), toBlockInput([{ labels: ['__name__', 'up', 'job', 'a'], samples: [[1, 1], [2, 2]] }]));
    const idxPath = join(dir, 'index');
    const idx = readFileSync(idxPath);
    const seriesAt = Number(idx.readBigUInt64BE(idx.length - 52 + 8)); // from the TOC
    idx[seriesAt + 2] = idx[seriesAt + 2]! ^ 0xff; // inside the one series entry
    writeFileSync(idxPath, idx);
    const r = BlockReader.open(dir);
    try {
      expect(() => r.series(seriesAt / 16)).toThrow(CorruptionError);
      expect(() => r.series(seriesAt / 16)).toThrow(new RegExp(`corrupt index at offset ${seriesAt}: series checksum mismatch`));
    } finally {
      r.close();
    }
    const chunkPath = join(dir, 'chunks', '000001');
    const c = readFileSync(chunkPath);
    c[12] = c[12]! ^ 0x01;
    writeFileSync(chunkPath, c);
    idx[seriesAt + 2] = idx[seriesAt + 2]! ^ 0xff; // index intact again
    writeFileSync(idxPath, idx);
    const r2 = BlockReader.open(dir);
    try {
      expect(() => r2.chunk(r2.series(seriesAt / 16).chunks[0]!.ref)).toThrow(/corrupt chunks\/000001 at offset 8: chunk checksum mismatch/);
    } finally {
      r2.close();
    }
  });
});

/** `promtool tsdb dump` lines: `{a="b", c="d"} value timestamp`. */
function parseDump(out: string): Map<string, Array<[number, number]>> {
  const m = new Map<string, Array<[number, number]>>();
  for (const line of out.split('\n')) {
    const x = /^(\{.*\}) (\S+) (-?\d+)$/.exec(line);
    if (!x) continue;
    const key = x[1]!;
    if (!m.has(key)) m.set(key, []);
    m.get(key)!.push([Number(x[3]), Number(x[2])]);
  }
  return m;
}

const promKey = (labels: string[]) => `{${Array.from({ length: labels.length / 2 }, (_, i) => `${labels[2 * i]}=${JSON.stringify(labels[2 * i + 1])}`).join(', ')}}`;

describe.runIf(hasPromtool())('compatibility with Prometheus\u2019s own tools', () => {
  const series: PlainSeries[] = [];
  for (let i = 0; i < 50; i++) {
    const samples: Array<[number, number]> = [];
    for (let k = 0; k < 400; k++) samples.push([1_700_000_000_000 + k * 15_000 + (k % 5), i % 3 === 0 ? k * 10 + i : Math.round(Math.sin(k / 7) * 1e6) / 1e3]);
    series.push({ labels: ['__name__', i % 2 ? 'http_requests_total' : 'node_load1', 'instance', `host-${i}`, 'job', i < 25 ? 'api' : 'db'], samples });
  }

  it('promtool tsdb analyze accepts our block, and dump prints exactly our samples', () => {
    const db = tmp();
    writeBlock(db, toBlockInput(series));
    const analyze = execFileSync('promtool', ['tsdb', 'analyze', db], { encoding: 'utf8' });
    expect(analyze).toMatch(/^Series: 50$/m);
    expect(analyze).toMatch(/^Label names: 3$/m);
    expect(analyze).toMatch(/^Postings \(unique label pairs\): 54$/m); // 2 names + 50 instances + 2 jobs
    mkdirSync(join(db, 'wal')); // promtool 2.42's dump opens the WAL and fails without the folder
    const dump = parseDump(execFileSync('promtool', ['tsdb', 'dump', db], { encoding: 'utf8', maxBuffer: 64 << 20 }));
    expect(dump.size).toBe(50);
    for (const s of series) expect(dump.get(promKey(s.labels)), promKey(s.labels)).toEqual(s.samples);
  });

  it('reads a block that promtool created from OpenMetrics text', () => {
    const work = tmp();
    const lines = ['# TYPE temperature gauge'];
    const want = new Map<string, Array<[number, number]>>();
    for (const room of ['hall', 'kitchen']) {
      const key = promKey(['__name__', 'temperature', 'room', room]);
      want.set(key, []);
      for (let k = 0; k < 300; k++) {
        const t = 1_700_000_000 + k * 30;
        const v = (room === 'hall' ? 20 : 22) + (k % 10) / 4;
        lines.push(`temperature{room="${room}"} ${v} ${t}`);
        want.get(key)!.push([t * 1000, v]);
      }
    }
    lines.sort((a, b) => Number(a.split(' ').at(-1)) - Number(b.split(' ').at(-1)) || a.localeCompare(b));
    writeFileSync(join(work, 'in.om'), ['# TYPE temperature gauge', ...lines.filter((l) => !l.startsWith('#')), '# EOF', ''].join('\n'));
    execFileSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(work, 'in.om'), join(work, 'out')], { stdio: 'pipe' });
    const got = new Map<string, Array<[number, number]>>();
    for (const b of readdirSync(join(work, 'out'))) {
      const r = BlockReader.open(join(work, 'out', b));
      try {
        for (const s of readAllSeries(r)) got.set(promKey(s.labels), [...(got.get(promKey(s.labels)) ?? []), ...s.samples]);
      } finally {
        r.close();
      }
    }
    for (const v of got.values()) v.sort((a, b) => a[0] - b[0]);
    expect(got).toEqual(want);
  });
});
