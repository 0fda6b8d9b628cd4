/**
 * Writes a block's `index` file in Prometheus's format v2 (see filenames.ts
 * for the spec's location). Series must be added in label order; the writer
 * builds the symbol table, postings and offset tables from them.
 *
 *   header | symbols | series (16-byte aligned) | label indices | label offset table
 *          | postings (incl. the all-series list under name "" value "") | postings offset table | TOC
 *
 * Every section: len <4, BE> (bytes up to the CRC), body, CRC-32C <4, BE>.
 * Memory: the whole index is built in memory before it is written; fine for
 * head blocks, to be streamed for compaction of very large blocks.
 */
import { crc32c } from '../encoding/crc32c.js';
import { EncBuf } from '../encoding/encbuf.js';
import { INDEX_MAGIC, INDEX_VERSION, SERIES_ALIGN } from './filenames.js';
import { compareLabelsUtf8, compareUtf8 } from './utf8-order.js';

export interface ChunkMeta {
  minT: number;
  maxT: number;
  ref: number;
}

export interface IndexSeries {
  /** Flat, name-sorted [name, value, ...]. */
  labels: readonly string[];
  /** Sorted by minT. */
  chunks: readonly ChunkMeta[];
}

/** Write the section body in `body` (after its len field) framed by len and CRC. */
function section(out: EncBuf, body: EncBuf): void {
  const b = body.bytes();
  out.be32(b.length);
  out.bytesField(b);
  out.be32(crc32c(b));
}

export function buildIndex(series: readonly IndexSeries[]): Uint8Array {
  for (let i = 1; i < series.length; i++) {
    if (compareLabelsUtf8(series[i - 1]!.labels, series[i]!.labels) >= 0) throw new Error('index: series must be added in strictly increasing label order');
  }
  // Symbols: every name and value, sorted in byte order.
  const symSet = new Set<string>();
  for (const s of series) for (const x of s.labels) symSet.add(x);
  const symbols = [...symSet].sort(compareUtf8);
  const symIndex = new Map<string, number>();
  symbols.forEach((s, i) => symIndex.set(s, i));

  const out = new EncBuf(1 << 16);
  out.be32(INDEX_MAGIC);
  out.byte(INDEX_VERSION);

  const toc = { symbols: 0, series: 0, labelIndices: 0, labelOffsets: 0, postings: 0, postingsOffsets: 0 };
  const body = new EncBuf(1 << 12);

  // Symbol table.
  toc.symbols = out.len;
  body.be32(symbols.length);
  for (const s of symbols) body.uvarintStr(s);
  section(out, body);

  // Series, each at a multiple of 16; its ref is offset / 16.
  out.pad(SERIES_ALIGN);
  toc.series = out.len;
  const postings = new Map<string, Map<string, number[]>>();
  const all: number[] = [];
  for (const s of series) {
    out.pad(SERIES_ALIGN);
    const ref = out.len / SERIES_ALIGN;
    all.push(ref);
    body.reset();
    body.uvarint(s.labels.length / 2);
    for (let i = 0; i < s.labels.length; i += 2) {
      body.uvarint(symIndex.get(s.labels[i]!)!);
      body.uvarint(symIndex.get(s.labels[i + 1]!)!);
      let byValue = postings.get(s.labels[i]!);
      if (!byValue) postings.set(s.labels[i]!, (byValue = new Map()));
      const list = byValue.get(s.labels[i + 1]!);
      if (list) list.push(ref);
      else byValue.set(s.labels[i + 1]!, [ref]);
    }
    body.uvarint(s.chunks.length);
    let prevMaxT = 0;
    let prevRef = 0;
    s.chunks.forEach((c, i) => {
      if (c.maxT < c.minT) throw new Error('index: chunk maxT before minT');
      if (i === 0) {
        body.varint(c.minT);
        body.uvarint(c.maxT - c.minT);
        body.uvarint(c.ref);
      } else {
        if (c.minT < prevMaxT) throw new Error('index: chunks of a series must not overlap');
        body.uvarint(c.minT - prevMaxT);
        body.uvarint(c.maxT - c.minT);
        body.varint(c.ref - prevRef);
      }
      prevMaxT = c.maxT;
      prevRef = c.ref;
    });
    const b = body.bytes();
    out.uvarint(b.length);
    out.bytesField(b);
    out.be32(crc32c(b));
  }

  // Label indices (unused by current readers, written for older ones), one per name.
  const names = [...postings.keys()].sort(compareUtf8);
  out.pad(4);
  toc.labelIndices = out.len;
  const labelIndexOffsets: number[] = [];
  for (const name of names) {
    out.pad(4);
    labelIndexOffsets.push(out.len);
    const values = [...postings.get(name)!.keys()].sort(compareUtf8);
    body.reset();
    body.be32(1);
    body.be32(values.length);
    for (const v of values) body.be32(symIndex.get(v)!);
    section(out, body);
  }

  // Label offset table.
  toc.labelOffsets = out.len;
  body.reset();
  body.be32(names.length);
  names.forEach((name, i) => {
    body.byte(1);
    body.uvarintStr(name);
    body.uvarint(labelIndexOffsets[i]!);
  });
  section(out, body);

  // Postings: the all-series list first (name "", value ""), then every pair in order.
  const entries: Array<[string, string, number[]]> = [['', '', all]];
  for (const name of names) {
    const byValue = postings.get(name)!;
    for (const v of [...byValue.keys()].sort(compareUtf8)) entries.push([name, v, byValue.get(v)!]);
  }
  out.pad(4);
  toc.postings = out.len;
  const postingOffsets: number[] = [];
  for (const [, , refs] of entries) {
    out.pad(4);
    postingOffsets.push(out.len);
    body.reset();
    body.be32(refs.length);
    for (const r of refs) body.be32(r);
    section(out, body);
  }

  // Postings offset table.
  toc.postingsOffsets = out.len;
  body.reset();
  body.be32(entries.length);
  entries.forEach(([name, value], i) => {
    body.byte(2);
    body.uvarintStr(name);
    body.uvarintStr(value);
    body.uvarint(postingOffsets[i]!);
  });
  section(out, body);

  // TOC.
  const tocStart = out.len;
  out.be64(toc.symbols);
  out.be64(toc.series);
  out.be64(toc.labelIndices);
  out.be64(toc.labelOffsets);
  out.be64(toc.postings);
  out.be64(toc.postingsOffsets);
  out.be32(crc32c(out.bytes(), tocStart, out.len));
  return out.bytes().slice();
}
