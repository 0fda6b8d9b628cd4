import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IsobarError } from './errors.js';
import { encodeWriteRequest, EXEMPLAR_MAX_LABEL_CHARS, isMetadataProblem, WriteRequestReader, type SeriesInput } from './remote-write.js';
import { seriesHash } from './hash.js';
import { encodeMessage, rw, type ProtoField, type ProtoMessage } from '../test/support/protobuf.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function readAll(buf: Uint8Array) {
  const r = new WriteRequestReader(buf);
  const out: Array<{ labels: [string, string][]; samples: [number, number][]; problem?: string; range: [number, number]; hash: [number, number] }> = [];
  while (r.next()) {
    out.push({
      labels: r.names.map((n, i) => [n, r.values[i]!]),
      samples: Array.from({ length: r.sampleCount }, (_, i) => [r.timestamps[i]!, r.sampleValues[i]!] as [number, number]),
      problem: r.problem?.id,
      range: [r.seriesStart, r.seriesEnd],
      hash: [r.hashHi, r.hashLo],
    });
  }
  return out;
}

describe('WriteRequest encoding', () => {
  it('matches hand-derived golden bytes', () => {
    // WriteRequest{timeseries: [{labels: [{__name__, up}], samples: [{value: 1, timestamp: 1000}]}]}
    const golden =
      '0a1e' + // field 1 (timeseries), 30 bytes
      '0a0e' + '0a085f5f6e616d655f5f' + '12027570' + // label {name: "__name__", value: "up"}
      '120c' + '09000000000000f03f' + '10e807'; // sample {value: 1.0 (LE double), timestamp: 1000}
    const enc = encodeWriteRequest([{ labels: [['__name__', 'up']], samples: [[1000, 1]] }]);
    expect(hex(enc)).toBe(golden);
    expect(readAll(enc)).toMatchObject([{ labels: [['__name__', 'up']], samples: [[1000, 1]], problem: undefined, range: [0, 32] }]);
  });

  it('decodes negative int64 timestamps (10-byte varints)', () => {
    const enc = encodeWriteRequest([{ labels: [['__name__', 'x']], samples: [[-1, 2], [-86_400_000, 3]] }]);
    expect(readAll(enc)[0]!.samples).toEqual([[-1, 2], [-86_400_000, 3]]);
  });
});

const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/).filter((n) => n !== '__name__');
const seriesArb: fc.Arbitrary<SeriesInput> = fc
  .record({
    name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,10}$/),
    labels: fc.uniqueArray(fc.tuple(labelName, fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' })), { maxLength: 5, selector: (l) => l[0] }),
    samples: fc.array(fc.tuple(fc.integer({ min: -(2 ** 50), max: 2 ** 50 }), fc.double()), { maxLength: 20 }),
  })
  .map(({ name, labels, samples }) => ({
    labels: ([['__name__', name], ...labels] as [string, string][]).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    samples,
  }));

describe('WriteRequestReader properties', () => {
  it('round-trips any valid request, with byte ranges that re-form the request', () => {
    fc.assert(
      fc.property(fc.array(seriesArb, { maxLength: 8 }), (series) => {
        const enc = encodeWriteRequest(series);
        const got = readAll(enc);
        expect(got.length).toBe(series.length);
        const pieces: Uint8Array[] = [];
        got.forEach((g, i) => {
          expect(g.problem).toBeUndefined();
          expect(g.labels).toEqual(series[i]!.labels);
          expect(g.samples.map(([t]) => t)).toEqual(series[i]!.samples.map(([t]) => t));
          g.samples.forEach(([, v], j) => expect(Object.is(v, series[i]!.samples[j]![1]) || (Number.isNaN(v) && Number.isNaN(series[i]!.samples[j]![1]))).toBe(true));
          expect(g.hash).toEqual(Object.values(seriesHash(series[i]!.labels)));
          pieces.push(enc.subarray(...g.range));
        });
        // The concatenated ranges are a valid request equal to the original.
        expect(hex(Buffer.concat(pieces))).toBe(hex(enc));
      }),
    );
  });

  it('never throws anything but a bad-data IsobarError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          readAll(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(IsobarError);
          expect((e as IsobarError).cause_).toBe('bad-data');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on truncations of a valid request, or says where it broke', () => {
    fc.assert(
      fc.property(fc.array(seriesArb, { minLength: 1, maxLength: 4 }), fc.nat(), (series, cut) => {
        const enc = encodeWriteRequest(series);
        const at = cut % enc.length;
        try {
          readAll(enc.subarray(0, at));
        } catch (e) {
          expect((e as IsobarError).message).toMatch(/at byte \d+/);
        }
      }),
    );
  });
});

describe('series validation', () => {
  const problem = (labels: [string, string][], samples: [number, number][] = [[1, 1]]) =>
    readAll(encodeWriteRequest([{ labels, samples }]))[0]!.problem;

  it.each([
    ['missing metric name', [['job', 'x']], 'err-isobar-missing-metric-name'],
    ['empty metric name', [['__name__', '']], 'err-isobar-empty-label-value'],
    ['empty label name', [['__name__', 'up'], ['', 'x']], 'err-isobar-invalid-label-name'],
    ['duplicate labels', [['__name__', 'up'], ['a', '1'], ['a', '2']], 'err-isobar-duplicate-label-names'],
    ['duplicate labels, unsorted', [['__name__', 'up'], ['b', '1'], ['a', '2'], ['b', '3']], 'err-isobar-duplicate-label-names'],
    ['empty value', [['__name__', 'up'], ['a', '']], 'err-isobar-empty-label-value'],
  ] as const)('%s', (_, labels, id) => {
    expect(problem(labels.map((l) => [...l]) as [string, string][])).toBe(id);
  });

  it('takes names as Prometheus 3 does: any non-empty UTF-8', () => {
    for (const labels of [[['__name__', '1up']], [['__name__', 'resource.cpu.usage'], ['job name', 'x']], [['__name__', 'ä'], ['ö', 'ü']]] as Array<Array<[string, string]>>) {
      expect(problem(labels), JSON.stringify(labels)).toBeUndefined();
    }
  });

  it('takes labels in any order: read sorted, hashed as sorted, marked to be written anew', () => {
    fc.assert(
      fc.property(seriesArb, fc.nat(), (series, seed) => {
        const shuffled = [...series.labels].sort((a, b) => ((a[0].length * 31 + seed) % 7) - ((b[0].length * 31 + seed) % 7) || (a[0] < b[0] ? 1 : -1));
        const [want] = readAll(encodeWriteRequest([series]));
        const r = new WriteRequestReader(encodeWriteRequest([{ ...series, labels: shuffled }]));
        expect(r.next()).toBe(true);
        expect(r.problem).toBeUndefined();
        expect(r.names.map((n, i) => [n, r.values[i]])).toEqual(series.labels);
        expect([r.hashHi, r.hashLo]).toEqual(want!.hash);
        expect(r.needsRewrite).toBe(shuffled.some((l, i) => l !== series.labels[i]));
        // Written anew, it reads as the sorted series, needing nothing more.
        const again = new WriteRequestReader(r.rewrittenSeries());
        expect(again.next()).toBe(true);
        expect(again.needsRewrite).toBe(false);
        expect(again.names).toEqual(series.labels.map(([n]) => n));
      }),
    );
  });

  it('flags non-UTF-8 label values', () => {
    const enc = encodeWriteRequest([{ labels: [['__name__', 'up'], ['a', 'ÿÿ']], samples: [[1, 1]] }]);
    // Replace the UTF-8 encoding of "ÿÿ" (c3 bf c3 bf) with invalid bytes (ff ff ff ff).
    const s = hex(enc).replace('c3bfc3bf', 'ffffffff');
    expect(readAll(Buffer.from(s, 'hex'))[0]!.problem).toBe('err-isobar-invalid-utf8');
  });

  it('flags timestamps outside the safe integer range', () => {
    // One series {__name__="up"} whose sample timestamp is the varint 2^62 (80 x8, 40).
    const sample = '09000000000000f03f' + '10' + '808080808080808040'; // 19 bytes
    const series = '0a0e0a085f5f6e616d655f5f12027570' + '1213' + sample; // 16 + 21 = 37 bytes
    expect(readAll(Buffer.from('0a25' + series, 'hex'))[0]!.problem).toBe('err-isobar-invalid-timestamp');
  });
});

describe('equalsLabels', () => {
  it('is true exactly for the same label set, ASCII or not (property)', () => {
    fc.assert(
      fc.property(seriesArb, fc.string({ minLength: 1, maxLength: 6, unit: 'grapheme' }), (series, other) => {
        const r = new WriteRequestReader(encodeWriteRequest([series]));
        r.next();
        const flat = series.labels.flat();
        expect(r.equalsLabels(flat)).toBe(true);
        const changed = flat.slice();
        const k = changed.length - 1;
        changed[k] = changed[k] === other ? other + 'x' : other;
        expect(r.equalsLabels(changed)).toBe(false);
        expect(r.equalsLabels(flat.slice(0, -2))).toBe(false);
        expect(r.equalsLabels([...flat, 'zz', 'v'])).toBe(false);
      }),
    );
  });

  it('decodes names and values on demand', () => {
    const r = new WriteRequestReader(encodeWriteRequest([{ labels: [['__name__', 'up'], ['city', 'Zürich']], samples: [] }]));
    r.next();
    expect(r.names).toEqual(['__name__', 'city']);
    expect(r.values).toEqual(['up', 'Zürich']);
    expect(r.equalsLabels(['__name__', 'up', 'city', 'Zürich'])).toBe(true);
    expect(r.equalsLabels(['__name__', 'up', 'city', 'Zurich'])).toBe(false);
  });
});

describe('fields the reader steps over (unknown, metadata, exemplars, histograms)', () => {
  type Level = 'request' | 'series' | 'label' | 'sample' | 'exemplar' | 'histogram' | 'metadata';
  /** One request as a tree, each message tagged with its level so noise can be put anywhere. */
  interface Node {
    level: Level;
    fields: Array<ProtoField | { no: number; wire: 2; node: Node }>;
  }
  const msg = (level: Level, fields: Node['fields']): Node => ({ level, fields });
  const nested = (no: number, node: Node) => ({ no, wire: 2 as const, node });
  const toProto = (n: Node): ProtoMessage => n.fields.map((f) => ('node' in f ? { no: f.no, wire: 2, value: toProto(f.node) } : f));
  const nodes = (n: Node, out: Node[] = []): Node[] => {
    out.push(n);
    for (const f of n.fields) if ('node' in f) nodes(f.node, out);
    return out;
  };
  const labelNode = (name: string, value: string) => msg('label', [{ no: 1, wire: 2, value: name }, { no: 2, wire: 2, value }]);

  const requestArb = fc
    .record({
      series: fc.array(
        fc.record({
          s: seriesArb,
          exemplars: fc.array(fc.tuple(fc.double(), fc.integer({ min: 0, max: 2 ** 45 })), { maxLength: 2 }),
          histogram: fc.boolean(),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      metadata: fc.array(fc.tuple(fc.stringMatching(/^[a-z_]{1,10}$/), fc.integer({ min: 0, max: 7 }), fc.string({ maxLength: 200 })), { maxLength: 3 }),
      metadataFirst: fc.boolean(),
    })
    .map(({ series, metadata, metadataFirst }) => {
      const ts = series.map(({ s, exemplars, histogram }) =>
        nested(
          1,
          msg('series', [
            ...s.labels.map(([n, v]) => nested(1, labelNode(n, v))),
            ...s.samples.map(([t, v]) => nested(2, msg('sample', [{ no: 1, wire: 1, value: v }, { no: 2, wire: 0, value: BigInt(t) }]))),
            ...exemplars.map(([v, t]) =>
              nested(3, msg('exemplar', [nested(1, labelNode('trace_id', 'abc')), { no: 2, wire: 1, value: v }, { no: 3, wire: 0, value: BigInt(t) }])),
            ),
            ...(histogram ? [nested(4, msg('histogram', toHistogramFields()))] : []),
          ]),
        ),
      );
      const md = metadata.map(([fam, type, help]) => nested(3, msg('metadata', [{ no: 1, wire: 0, value: type }, { no: 2, wire: 2, value: fam }, { no: 4, wire: 2, value: help }])));
      return msg('request', metadataFirst ? [...md, ...ts] : [...ts, ...md]);
    });
  function toHistogramFields(): Node['fields'] {
    const h = rw.histogram(5000).value as ProtoMessage;
    return h;
  }

  /** A field no remote-write message has (numbers from 17 up), of any wire type, with lengths past one varint byte. */
  const noiseArb: fc.Arbitrary<ProtoField> = fc.oneof(
    fc.record({ no: fc.integer({ min: 17, max: 2 ** 29 - 1 }), wire: fc.constant(0 as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
    fc.record({ no: fc.integer({ min: 17, max: 2 ** 29 - 1 }), wire: fc.constant(1 as const), value: fc.double() }),
    fc.record({ no: fc.integer({ min: 17, max: 2 ** 29 - 1 }), wire: fc.constant(5 as const), value: fc.float() }),
    fc.record({ no: fc.integer({ min: 17, max: 2 ** 29 - 1 }), wire: fc.constant(2 as const), value: fc.uint8Array({ maxLength: 300 }) }),
  );

  const view = (buf: Uint8Array) => {
    const r = new WriteRequestReader(buf);
    const out: unknown[] = [];
    while (r.next()) {
      out.push({
        labels: r.names.map((n, i) => [n, r.values[i]!]),
        samples: Array.from({ length: r.sampleCount }, (_, i) => [r.timestamps[i]!, r.sampleValues[i]!]),
        problem: r.problem?.id,
        hash: [r.hashHi, r.hashLo],
        exemplars: Array.from({ length: r.exemplarCount }, (_, j) => [r.exemplarLabels(j), r.exemplarTimestamps[j], r.exemplarValues[j]]),
        histograms: r.histogramCount,
      });
    }
    const meta = r.metadataRanges;
    for (let i = 0; i < meta.length; i += 2) out.push(r.readMetadata(meta[i]!, meta[i + 1]!));
    return out;
  };

  it('a request parses to the same series and samples with unknown fields inserted at every level', () => {
    fc.assert(
      fc.property(requestArb, fc.array(fc.tuple(fc.nat(), fc.nat(), noiseArb), { minLength: 1, maxLength: 20 }), (req, noise) => {
        const clean = view(encodeMessage(toProto(req)));
        const all = nodes(req);
        for (const [which, pos, field] of noise) {
          const n = all[which % all.length]!;
          n.fields.splice(pos % (n.fields.length + 1), 0, field);
        }
        const noisy = view(encodeMessage(toProto(req)));
        expect(noisy).toEqual(clean);
      }),
      { numRuns: 500 },
    );
  });

  it('every level is reached by the noise (the property above covers all seven)', () => {
    const levels = new Set<Level>();
    fc.assert(
      fc.property(requestArb, (req) => {
        for (const n of nodes(req)) levels.add(n.level);
      }),
      { numRuns: 300 },
    );
    expect([...levels].sort()).toEqual(['exemplar', 'histogram', 'label', 'metadata', 'request', 'sample', 'series']);
  });

  it('metadata before, between or after the series leaves them whole (the skip() length bug)', () => {
    const series = rw.series([rw.label('__name__', 'up'), rw.label('job', 'x'), rw.sample(1000, 1)]);
    const md = rw.metadata('up', 2, 'Whether the target is up.'.repeat(10)); // a help over 127 bytes: a 2-byte length
    const help = 'Whether the target is up.'.repeat(10);
    for (const order of [[md, series], [series, md], [md, series, md]]) {
      const entries = order.filter((f) => f === md).map(() => ({ family: 'up', type: 'gauge', help, unit: '' }));
      expect(view(encodeMessage(order))).toMatchObject([{ labels: [['__name__', 'up'], ['job', 'x']], samples: [[1000, 1]], problem: undefined }, ...entries]);
    }
    // Prometheus's metadata-only request: no series, no error.
    expect(view(encodeMessage([md, rw.metadata('http_requests_total', 1, 'Requests.')]))).toEqual([
      { family: 'up', type: 'gauge', help, unit: '' },
      { family: 'http_requests_total', type: 'counter', help: 'Requests.', unit: '' },
    ]);
  });
});

describe('exemplars', () => {
  const series = (exemplars: NonNullable<SeriesInput['exemplars']>, samples: SeriesInput['samples'] = [[1000, 1]]): SeriesInput => ({
    labels: [['__name__', 'http_request_duration_seconds_bucket'], ['le', '0.5']],
    samples,
    exemplars,
  });
  const read = (s: SeriesInput) => {
    const r = new WriteRequestReader(encodeWriteRequest([s]));
    expect(r.next()).toBe(true);
    return r;
  };

  it('are read with their labels sorted by name, value and timestamp', () => {
    const r = read(series([{ labels: [['trace_id', 'abc'], ['span_id', 'def']], value: 0.42, timestampMs: 1500 }]));
    expect(r.problem).toBeUndefined();
    expect(r.exemplarCount).toBe(1);
    expect(r.exemplarLabels(0)).toEqual(['span_id', 'def', 'trace_id', 'abc']);
    expect([r.exemplarTimestamps[0], r.exemplarValues[0]]).toEqual([1500, 0.42]);
  });

  it('count label names and values together against 128 UTF-8 characters, not bytes', () => {
    const name = 'trace_id'; // 8 characters
    const ok = 'é'.repeat(EXEMPLAR_MAX_LABEL_CHARS - name.length); // 2 bytes each: 240 bytes, 120 characters
    const r1 = read(series([{ labels: [[name, ok]], value: 1, timestampMs: 1 }]));
    expect([r1.exemplarCount, r1.exemplarProblem]).toEqual([1, undefined]);
    const r2 = read(series([{ labels: [[name, ok + 'x']], value: 1, timestampMs: 1 }]));
    expect(r2.exemplarCount).toBe(0);
    expect(r2.exemplarsDropped).toBe(1);
    expect(r2.exemplarProblem?.id).toBe('err-isobar-exemplar-labels-too-long');
    expect(r2.exemplarProblem?.message).toContain('129 UTF-8 characters');
    expect(r2.exemplarProblem?.message).toContain('http_request_duration_seconds_bucket');
  });

  it('a bad exemplar is dropped alone: the series, its samples and its good exemplars stay', () => {
    const r = read(
      series(
        [
          { labels: [['trace_id', 'a']], value: 1, timestampMs: 10 },
          { labels: [['', 'x']], value: 2, timestampMs: 20 },
          { labels: [['trace_id', 'c']], value: 3, timestampMs: 30 },
        ],
        [[1000, 5], [2000, 6]],
      ),
    );
    expect(r.problem).toBeUndefined();
    expect(r.sampleCount).toBe(2);
    expect(r.exemplarCount).toBe(2);
    expect([r.exemplarLabels(0), r.exemplarLabels(1)]).toEqual([['trace_id', 'a'], ['trace_id', 'c']]);
    expect(Array.from(r.exemplarTimestamps.subarray(0, 2))).toEqual([10, 30]);
    expect(r.exemplarProblem?.id).toBe('err-isobar-invalid-exemplar');
    expect(r.exemplarProblem?.message).toContain('a label name that is empty or not valid UTF-8');
  });

  it('an exemplar with no labels is kept, as Prometheus keeps it', () => {
    const r = read(series([{ labels: [], value: 7, timestampMs: 5 }]));
    expect([r.exemplarCount, r.exemplarLabels(0)]).toEqual([1, []]);
  });

  it('the reader state is per series: a later series starts clean', () => {
    const bad = series([{ labels: [['x'.repeat(200), 'y']], value: 1, timestampMs: 1 }]);
    const good: SeriesInput = { labels: [['__name__', 'b']], samples: [[1, 1]], exemplars: [{ labels: [['t', 'u']], value: 2, timestampMs: 2 }] };
    const r = new WriteRequestReader(encodeWriteRequest([bad, good]));
    r.next();
    expect(r.exemplarProblem).toBeDefined();
    r.next();
    expect([r.exemplarProblem, r.exemplarsDropped, r.exemplarCount, r.exemplarLabels(0)]).toEqual([undefined, 0, 1, ['t', 'u']]);
  });
});

describe('metadata', () => {
  const entries = (metadata: Parameters<typeof encodeWriteRequest>[1]) => {
    const r = new WriteRequestReader(encodeWriteRequest([], metadata));
    while (r.next());
    const out = [];
    for (let i = 0; i < r.metadataRanges.length; i += 2) out.push(r.readMetadata(r.metadataRanges[i]!, r.metadataRanges[i + 1]!));
    return out;
  };

  it('reads family, type, help and unit', () => {
    expect(entries([{ family: 'http_requests', type: 1, help: 'Requests served.', unit: 'requests' }, { family: 'temp', type: 2 }])).toEqual([
      { family: 'http_requests', type: 'counter', help: 'Requests served.', unit: 'requests' },
      { family: 'temp', type: 'gauge', help: '', unit: '' },
    ]);
  });

  it('names what is wrong with an entry, and reading one does not disturb the series walk', () => {
    const [unknownType, noName, longHelp] = entries([{ family: 'a', type: 9 }, { family: '', type: 1 }, { family: 'b', type: 1, help: 'h'.repeat(1025) }]);
    for (const m of [unknownType, noName, longHelp]) expect(isMetadataProblem(m!)).toBe(true);
    expect(JSON.stringify(unknownType)).toContain('unknown metric type 9');
    expect(JSON.stringify(noName)).toContain('no metric family name');
    expect(JSON.stringify(longHelp)).toContain('1025 bytes, over the limit of 1024');

    // Metadata first, then two series (a concatenation of WriteRequests is one).
    const md = encodeWriteRequest([], [{ family: 'x', type: 2 }]);
    const ts = encodeWriteRequest([{ labels: [['__name__', 'x']], samples: [[1, 1]] }, { labels: [['__name__', 'y']], samples: [[1, 1]] }]);
    const r = new WriteRequestReader(new Uint8Array([...md, ...ts]));
    const names: string[] = [];
    while (r.next()) {
      names.push(r.value(0));
      expect(r.readMetadata(r.metadataRanges[0]!, r.metadataRanges[1]!)).toMatchObject({ family: 'x', type: 'gauge' });
    }
    expect(names).toEqual(['x', 'y']);
  });
});
