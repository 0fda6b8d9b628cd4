import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validHistogramArb } from '../test/support/histograms.js';
import { IsobarError } from './errors.js';
import { encodeHistogram, encodeWriteRequest, isMetadataProblem, WriteRequestReader, type SeriesInput } from './remote-write.js';
import { encodeWriteRequestV2, remoteWriteVersion, transcodeV2, type SeriesInputV2 } from './remote-write-v2.js';

const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/).filter((n) => n !== '__name__');
const seriesArb = fc
  .record({
    name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,10}$/),
    labels: fc.uniqueArray(fc.tuple(labelName, fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' })), { maxLength: 5, selector: (l) => l[0] }),
    samples: fc.array(fc.tuple(fc.integer({ min: -(2 ** 50), max: 2 ** 50 }), fc.double({ noNaN: true })), { maxLength: 6 }),
    histograms: fc.array(validHistogramArb, { maxLength: 2 }),
    exemplars: fc.array(fc.record({ labels: fc.uniqueArray(fc.tuple(labelName, fc.string({ maxLength: 8 })), { maxLength: 2, selector: (l) => l[0] }), value: fc.double({ noNaN: true }), timestampMs: fc.integer({ min: 0, max: 2 ** 45 }) }), { maxLength: 2 }),
  })
  .map((r): SeriesInput => ({
    labels: ([['__name__', r.name], ...r.labels] as Array<[string, string]>).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    samples: r.samples,
    histograms: r.histograms,
    exemplars: r.exemplars.map((e) => ({ ...e, labels: [...e.labels].sort((a, b) => (a[0] < b[0] ? -1 : 1)) })),
  }));

/** What the 1.0 reader makes of a request: per series its labels, samples, histograms and exemplars. */
function readAll(v1: Uint8Array) {
  const r = new WriteRequestReader(v1);
  const out = [];
  while (r.next()) {
    out.push({
      problem: r.problem?.message,
      labels: r.names.map((n, i) => [n, r.values[i]]),
      samples: Array.from({ length: r.sampleCount }, (_, i) => [r.timestamps[i], r.sampleValues[i]]),
      histograms: r.histograms.slice(0, r.histogramCount),
      exemplars: Array.from({ length: r.exemplarCount }, (_, j) => [r.exemplarLabels(j), r.exemplarValues[j], r.exemplarTimestamps[j]]),
    });
  }
  const metadata = [];
  for (let i = 0; i < r.metadataRanges.length; i += 2) metadata.push(r.readMetadata(r.metadataRanges[i]!, r.metadataRanges[i + 1]!));
  return { series: out, metadata };
}

describe('remote write 2.0', () => {
  it('translates any request into the 1.0 request of the same data', () => {
    fc.assert(
      fc.property(fc.array(seriesArb, { maxLength: 6 }), (series) => {
        const v2 = encodeWriteRequestV2(series.map((s) => ({ ...s, histograms: s.histograms!.map(encodeHistogram) })));
        expect(readAll(transcodeV2(v2))).toEqual(readAll(encodeWriteRequest(series)));
      }),
    );
  });

  it('interns strings: the same data in fewer bytes than 1.0', () => {
    const series = Array.from({ length: 200 }, (_, i): SeriesInput => ({ labels: [['__name__', 'http_requests_total'], ['code', '200'], ['instance', `host-${i % 20}:9100`], ['job', 'api']], samples: [[1_700_000_000_000, i]] }));
    const v1 = encodeWriteRequest(series);
    const v2 = encodeWriteRequestV2(series.map((s) => ({ labels: s.labels, samples: s.samples })));
    expect(v2.length).toBeLessThan(v1.length * 0.5);
    expect(readAll(transcodeV2(v2))).toEqual(readAll(v1));
  });

  it('turns per-series metadata into one metadata entry per metric', () => {
    const md = { type: 1, help: 'Requests served.', unit: 'requests' };
    const v2 = encodeWriteRequestV2([
      { labels: [['__name__', 'req_total'], ['a', '1']], samples: [[1, 1]], metadata: md },
      { labels: [['__name__', 'req_total'], ['a', '2']], samples: [[1, 1]], metadata: md },
      { labels: [['__name__', 'temp']], samples: [[1, 1]], metadata: { type: 0 } },
      // A histogram's series name its family without their suffix.
      ...['lat_bucket', 'lat_count', 'lat_sum'].map((n): SeriesInputV2 => ({ labels: [['__name__', n]], samples: [[1, 1]], metadata: { type: 3, help: 'Latency.' } })),
    ]);
    const { metadata } = readAll(transcodeV2(v2));
    expect(metadata.filter((m) => !isMetadataProblem(m))).toEqual([
      { family: 'req_total', type: 'counter', help: 'Requests served.', unit: 'requests' },
      { family: 'lat', type: 'histogram', help: 'Latency.', unit: '' },
    ]);
  });

  it('says a request is malformed where it breaks the format, and nothing else', () => {
    const bad = (bytes: number[]) => () => transcodeV2(new Uint8Array(bytes));
    // A timeseries (field 5) whose label refs (field 1, packed) point past the symbols table.
    expect(bad([0x22, 0x00, 0x2a, 0x04, 0x0a, 0x02, 0x00, 0x07])).toThrow(/symbol ref 7 past the table of 1 symbols/);
    // An odd number of label refs.
    expect(bad([0x22, 0x00, 0x2a, 0x03, 0x0a, 0x01, 0x00])).toThrow(/1 label refs \(they come in name, value pairs\)/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        try {
          transcodeV2(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(IsobarError);
          expect((e as IsobarError).message).toMatch(/^body is not a valid io\.prometheus\.write\.v2\.Request: /);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('negotiates the version on Content-Type, naming what it cannot take', () => {
    expect(remoteWriteVersion(undefined)).toBe(1);
    expect(remoteWriteVersion('application/x-protobuf')).toBe(1);
    expect(remoteWriteVersion('application/x-protobuf;proto=prometheus.WriteRequest')).toBe(1);
    expect(remoteWriteVersion('application/x-protobuf; proto=io.prometheus.write.v2.Request')).toBe(2);
    expect(remoteWriteVersion('application/x-protobuf;proto=io.prometheus.write.v3.Request')).toEqual({ unsupported: expect.stringMatching(/proto=io\.prometheus\.write\.v3\.Request is not a remote-write message/) });
    expect(remoteWriteVersion('application/json')).toEqual({ unsupported: expect.stringMatching(/not application\/x-protobuf/) });
  });
});
