/**
 * The in-memory head of one tenant: series, their XOR chunks (floats) and
 * native-histogram chunks, and an inverted index from label pairs to series.
 *
 * Memory layout: one MemSeries per series (labels as one flat string array with
 * interned strings, the open chunk's bit stream, sealed chunks as exact-size
 * byte arrays); samples exist only inside chunks, never as objects (but for
 * the last histogram of a series and its late histograms, kept whole).
 */
import { mergeChunks } from '../chunkenc/merge.js';
import { XorAppender, SAMPLES_PER_CHUNK } from '../chunkenc/xor.js';
import type { LabelSource } from '../../../wire/remote-write.js';
import type { Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import { intersect, subtract, unionAll } from './postings.js';
import { ErrorIds } from '../../../wire/errors.js';
import type { NativeHistogram } from '../../../wire/histogram.js';
import { decodeHistogramChunk, encodeHistogramChunks, flagsFor, HistogramChunkAppender } from '../chunkenc/histogram.js';

export interface SealedChunk {
  readonly minT: number;
  readonly maxT: number;
  readonly data: Uint8Array;
}

/**
 * Samples older than a series' newest one (backfill, late data), kept sorted by
 * time in two growable columns; exists only for series that received any.
 */
export class OooBuffer {
  t = new Float64Array(16);
  v = new Float64Array(16);
  n = 0;

  /** Index of the first timestamp >= t. */
  private search(t: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.t[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Insert; 'dup' for an identical sample, 'conflict' for the same time with another value. */
  insert(t: number, v: number): 'ok' | 'dup' | 'conflict' {
    const i = this.search(t);
    if (i < this.n && this.t[i] === t) return sameBits(this.v[i]!, v) ? 'dup' : 'conflict';
    if (this.n === this.t.length) {
      const t2 = new Float64Array(this.n * 2);
      t2.set(this.t);
      this.t = t2;
      const v2 = new Float64Array(this.n * 2);
      v2.set(this.v);
      this.v = v2;
    }
    this.t.copyWithin(i + 1, i, this.n);
    this.v.copyWithin(i + 1, i, this.n);
    this.t[i] = t;
    this.v[i] = v;
    this.n++;
    return 'ok';
  }

  /** The buffer as XOR chunks of at most 120 samples. */
  *chunks(): Generator<SealedChunk> {
    for (let i = 0; i < this.n; i += SAMPLES_PER_CHUNK) {
      const end = Math.min(i + SAMPLES_PER_CHUNK, this.n);
      const a = new XorAppender(64);
      for (let k = i; k < end; k++) a.append(this.t[k]!, this.v[k]!);
      yield { minT: this.t[i]!, maxT: this.t[end - 1]!, data: a.seal() };
    }
  }
}

/** A native-histogram chunk of the head: encoding 2 (integer) or 3 (float). */
export interface HistogramChunk extends SealedChunk {
  readonly encoding: number;
}

/**
 * A series' native histograms: in-order ones in chunks (the open one appended
 * to), late ones (older than the newest) kept whole and sorted.
 */
export class HeadHistograms {
  sealed: HistogramChunk[] = [];
  open: HistogramChunkAppender | undefined;
  openMinT = 0;
  /** The newest in-order histogram: duplicates are told from conflicts by it, and a new chunk's flags need it. */
  last: NativeHistogram | undefined;
  ooo: NativeHistogram[] | undefined;

  get maxT(): number {
    return this.last ? this.last.t : -Infinity;
  }

  /** Every chunk: in-order ones oldest first, then the late ones as chunks (which may overlap them). */
  *chunks(): Generator<HistogramChunk> {
    yield* this.sealed;
    if (this.open && this.open.count > 0) yield { minT: this.openMinT, maxT: this.open.lastT, data: this.open.bytes(), encoding: this.open.encoding };
    if (this.ooo) yield* encodeHistogramChunks(this.ooo);
  }

  /** Every histogram, sorted by time, one per timestamp (in-order data wins, as for floats); `read`: with the hints queries see (decodeHistogramChunk). */
  all(hints: 'stored' | 'read' = 'stored'): NativeHistogram[] {
    const inOrder = [...this.sealed, ...(this.open && this.open.count > 0 ? [{ data: this.open.bytes(), encoding: this.open.encoding }] : [])].flatMap((c) => decodeHistogramChunk(c.data, c.encoding, hints));
    if (!this.ooo) return inOrder;
    const have = new Set(inOrder.map((h) => h.t));
    return [...inOrder, ...this.ooo.filter((h) => !have.has(h.t))].sort((a, b) => a.t - b.t);
  }
}

export class MemSeries {
  minT = Infinity;
  maxT = -Infinity;
  /** Bits of the last value, to tell a harmless duplicate from a conflicting one. */
  lastValue = NaN;
  sealed: SealedChunk[] = [];
  open: XorAppender | undefined;
  openMinT = 0;
  ooo: OooBuffer | undefined;
  /** Its native histograms, if it has any. minT and maxT above cover them too. */
  hist: HeadHistograms | undefined;

  constructor(
    readonly ref: number,
    readonly labels: Labels,
  ) {}

  /** Every chunk of the series: in-order ones oldest first, then out-of-order ones (which may overlap them). */
  *chunks(): Generator<SealedChunk> {
    yield* this.sealed;
    // The open chunk as a view: appends go on writing its buffer, so a reader that keeps it past this turn copies it (packed.ts settleChunks).
    if (this.open && this.open.count > 0) yield { minT: this.openMinT, maxT: this.maxT, data: this.open.bytes() };
    if (this.ooo) yield* this.ooo.chunks();
  }
}

/** Why a sample was not stored; also the `reason` label of the discarded counter. */
/** Why a sample was not stored: an error id (wire/errors.ts), the `reason` label of the discarded-samples counter. */
export type DiscardReason = typeof ErrorIds.duplicateSample;

export interface AppendResult {
  appended: number;
  /** Of `appended`, how many went to out-of-order buffers. */
  outOfOrder: number;
  duplicates: number;
  discarded: Partial<Record<DiscardReason, number>>;
  newSeries: number;
  /** The first conflicting duplicate (same time, other value), to name it to the client. */
  firstConflict?: { series: MemSeries; t: number };
}

/** Are two histograms the same sample (every field, float bits compared as values, NaN equal to NaN)? */
export function sameHistogram(a: NativeHistogram, b: NativeHistogram): boolean {
  const same = (x: readonly number[], y: readonly number[]) => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
  return (
    a.float === b.float &&
    Object.is(a.count, b.count) &&
    Object.is(a.sum, b.sum) &&
    a.schema === b.schema &&
    Object.is(a.zeroThreshold, b.zeroThreshold) &&
    Object.is(a.zeroCount, b.zeroCount) &&
    same(a.positiveSpans, b.positiveSpans) &&
    same(a.negativeSpans, b.negativeSpans) &&
    same(a.positiveBuckets, b.positiveBuckets) &&
    same(a.negativeBuckets, b.negativeBuckets) &&
    same(a.customValues, b.customValues)
  );
}

const f64 = new Float64Array(2);
const u32 = new Uint32Array(f64.buffer);
function sameBits(a: number, b: number): boolean {
  f64[0] = a;
  f64[1] = b;
  return u32[0] === u32[2] && u32[1] === u32[3];
}

export class TenantHead {
  private readonly series: MemSeries[] = [];
  /** 53-bit fold of the series hash -> ref; collisions chain through `collisions`. */
  private readonly byHash = new Map<number, number>();
  private readonly collisions = new Map<number, number[]>();
  /** name -> value -> ascending refs. */
  private readonly postings = new Map<string, Map<string, number[]>>();
  private readonly strings = new Map<string, string>();
  private readonly allRefs: number[] = [];
  /**
   * Each series' oldest and newest sample time by ref, beside MemSeries's own
   * fields: a selector's time filter reads these dense arrays instead of
   * visiting every series object (42k scattered objects took 36-100 ms of
   * the thread that acknowledges writes, at 200k series).
   */
  private spanMin = new Float64Array(1024);
  private spanMax = new Float64Array(1024);
  chunkCount = 0;
  /** Oldest and newest sample time in the head (out-of-order samples included). */
  minT = Infinity;
  maxT = -Infinity;

  get numSeries(): number {
    return this.series.length;
  }

  private intern(s: string): string {
    const c = this.strings.get(s);
    if (c !== undefined) return c;
    this.strings.set(s, s);
    return s;
  }

  /**
   * Find or create the series with these (sorted, valid) labels. An existing
   * series is confirmed by comparing bytes against its stored strings, so the
   * steady state (known series) decodes and allocates nothing.
   */
  getOrCreate(src: LabelSource): { s: MemSeries; created: boolean } {
    const key = (src.hashHi & 0x1fffff) * 0x100000000 + (src.hashLo >>> 0);
    const ref = this.byHash.get(key);
    if (ref !== undefined) {
      const s = this.series[ref]!;
      if (src.equalsLabels(s.labels)) return { s, created: false };
      for (const r of this.collisions.get(key) ?? []) {
        const c = this.series[r]!;
        if (src.equalsLabels(c.labels)) return { s: c, created: false };
      }
    }
    const labels: string[] = new Array(src.labelCount * 2);
    for (let i = 0; i < src.labelCount; i++) {
      labels[2 * i] = this.intern(src.name(i));
      labels[2 * i + 1] = this.intern(src.value(i));
    }
    const s = new MemSeries(this.series.length, labels);
    this.series.push(s);
    if (s.ref >= this.spanMin.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(2 * a.length);
        b.set(a);
        return b;
      };
      this.spanMin = grow(this.spanMin);
      this.spanMax = grow(this.spanMax);
    }
    this.spanMin[s.ref] = Infinity;
    this.spanMax[s.ref] = -Infinity;
    this.allRefs.push(s.ref);
    if (ref === undefined) this.byHash.set(key, s.ref);
    else {
      const list = this.collisions.get(key);
      if (list) list.push(s.ref);
      else this.collisions.set(key, [s.ref]);
    }
    for (let i = 0; i < labels.length; i += 2) {
      let byValue = this.postings.get(labels[i]!);
      if (!byValue) {
        byValue = new Map();
        this.postings.set(labels[i]!, byValue);
      }
      const list = byValue.get(labels[i + 1]!);
      if (list) list.push(s.ref);
      else byValue.set(labels[i + 1]!, [s.ref]);
    }
    return { s, created: true };
  }

  /**
   * Append samples (in the order given) to a series. Samples newer than the
   * series' newest go to its XOR chunks; older ones (late data, backfill) go to
   * its out-of-order buffer. A repeat of a stored timestamp with identical value
   * bits is a harmless duplicate; with another value it is discarded and counted
   * (Prometheus's "duplicate sample for timestamp"). A repeat of an older
   * in-order timestamp is only caught when reads merge (the first value wins).
   */
  appendSamples(s: MemSeries, ts: Float64Array, vs: Float64Array, n: number, res: AppendResult): void {
    for (let i = 0; i < n; i++) {
      const t = ts[i]!;
      const v = vs[i]!;
      if (t <= s.maxT) {
        let r: 'ok' | 'dup' | 'conflict';
        if (t === s.maxT) r = sameBits(v, s.lastValue) ? 'dup' : 'conflict';
        else r = (s.ooo ??= new OooBuffer()).insert(t, v);
        if (r === 'dup') res.duplicates++;
        else if (r === 'conflict') {
          res.discarded[ErrorIds.duplicateSample] = (res.discarded[ErrorIds.duplicateSample] ?? 0) + 1;
          res.firstConflict ??= { series: s, t };
        }
        else {
          res.appended++;
          res.outOfOrder++;
          if (t < s.minT) this.spanMin[s.ref] = s.minT = t;
          if (t < this.minT) this.minT = t;
        }
        continue;
      }
      let app = s.open;
      if (!app || app.count >= SAMPLES_PER_CHUNK) {
        let size = 32;
        if (app) {
          const data = app.seal();
          s.sealed.push({ minT: s.openMinT, maxT: app.lastT, data });
          size = data.length + 32; // the next chunk of a series compresses about as well: no growing as it fills
        }
        app = s.open = new XorAppender(size);
        s.openMinT = t;
        this.chunkCount++;
      }
      app.append(t, v);
      if (t < s.minT) this.spanMin[s.ref] = s.minT = t;
      this.spanMax[s.ref] = s.maxT = t;
      if (t < this.minT) this.minT = t;
      if (t > this.maxT) this.maxT = t;
      s.lastValue = v;
      res.appended++;
    }
  }

  /**
   * Append native histograms to a series, as appendSamples appends floats:
   * newer than the series' newest histogram go to its chunks (a new chunk
   * where the layout changes or a counter goes down), older ones are kept as
   * late histograms; a repeat of a stored timestamp is a duplicate when equal,
   * else discarded and counted. Schemas 9..52 arrive reduced to 8 (the reader
   * does it, as Prometheus's receiver).
   */
  appendHistograms(s: MemSeries, hs: readonly NativeHistogram[], n: number, res: AppendResult): void {
    const hist = (s.hist ??= new HeadHistograms());
    for (let i = 0; i < n; i++) {
      const h = hs[i]!;
      const t = h.t;
      if (t <= hist.maxT) {
        const at = t === hist.maxT ? hist.last : hist.ooo?.find((x) => x.t === t);
        if (at) {
          if (sameHistogram(at, h)) res.duplicates++;
          else {
            res.discarded[ErrorIds.duplicateSample] = (res.discarded[ErrorIds.duplicateSample] ?? 0) + 1;
            res.firstConflict ??= { series: s, t };
          }
          continue;
        }
        const ooo = (hist.ooo ??= []);
        let k = ooo.length;
        while (k > 0 && ooo[k - 1]!.t > t) k--;
        ooo.splice(k, 0, h);
        res.appended++;
        res.outOfOrder++;
      } else {
        if (!hist.open || !hist.open.append(h)) {
          if (hist.open) hist.sealed.push({ minT: hist.openMinT, maxT: hist.open.lastT, data: hist.open.bytes().slice(), encoding: hist.open.encoding });
          hist.open = new HistogramChunkAppender(h.float, flagsFor(h, hist.last));
          hist.openMinT = t;
          this.chunkCount++;
          if (!hist.open.append(h)) throw new Error(`histogram at ${t} cannot start a chunk`);
        }
        hist.last = h;
        if (t > s.maxT) this.spanMax[s.ref] = s.maxT = t;
        if (t > this.maxT) this.maxT = t;
        res.appended++;
      }
      if (t < s.minT) this.spanMin[s.ref] = s.minT = t;
      if (t < this.minT) this.minT = t;
    }
  }

  /** Refs of series matching all matchers (Prometheus's PostingsForMatchers). */
  postingsFor(matchers: readonly Matcher[]): number[] {
    let result: number[] | undefined;
    const negatives: Matcher[] = [];
    for (const m of matchers) {
      if (m.matchesEmpty) {
        negatives.push(m);
        continue;
      }
      const p = this.matching(m, true);
      result = result ? intersect(result, p) : p;
      if (result.length === 0) return result;
    }
    if (!result) result = this.allRefs.slice();
    for (const m of negatives) {
      // Exclude series whose value for m.name exists and does not match.
      result = subtract(result, this.matching(m, false));
      if (result.length === 0) break;
    }
    return result;
  }

  /** Union of postings of m.name's values where m.matches(value) === want. */
  private matching(m: Matcher, want: boolean): number[] {
    const byValue = this.postings.get(m.name);
    if (!byValue) return [];
    if (m.type === '=' && want) return byValue.get(m.value)?.slice() ?? [];
    const lists: number[][] = [];
    for (const [value, refs] of byValue) if (m.matches(value) === want) lists.push(refs);
    return unionAll(lists);
  }

  get(ref: number): MemSeries {
    return this.series[ref]!;
  }

  /** Series matching `matchers` with at least one sample in [mint, maxt]. */
  select(matchers: readonly Matcher[], mint: number, maxt: number): MemSeries[] {
    const out: MemSeries[] = [];
    const lo = this.spanMin;
    const hi = this.spanMax;
    for (const ref of this.postingsFor(matchers)) if (hi[ref]! >= mint && lo[ref]! <= maxt) out.push(this.series[ref]!);
    return out;
  }

  /** Every label name with at least one series in [mint, maxt]. */
  labelNames(mint: number, maxt: number): string[] {
    const out: string[] = [];
    for (const [name, byValue] of this.postings) {
      if (this.anyInRange(byValue, mint, maxt)) out.push(name);
    }
    return out;
  }

  /** Values of `name` with at least one series in [mint, maxt]. */
  labelValues(name: string, mint: number, maxt: number): string[] {
    const byValue = this.postings.get(name);
    if (!byValue) return [];
    const out: string[] = [];
    for (const [value, refs] of byValue) {
      for (const r of refs) {
        const s = this.series[r]!;
        if (s.maxT >= mint && s.minT <= maxt) {
          out.push(value);
          break;
        }
      }
    }
    return out;
  }

  private anyInRange(byValue: Map<string, number[]>, mint: number, maxt: number): boolean {
    for (const refs of byValue.values()) {
      for (const r of refs) {
        const s = this.series[r]!;
        if (s.maxT >= mint && s.minT <= maxt) return true;
      }
    }
    return false;
  }

  /** Samples of one series in [mint, maxt], sorted by time, one per timestamp (in-order data wins). */
  samples(s: MemSeries, mint: number, maxt: number): Array<[number, number]> {
    const c = mergeChunks(s.chunks(), mint, maxt);
    return Array.from({ length: c.n }, (_, i) => [c.t[i]!, c.v[i]!] as [number, number]);
  }

}
