/**
 * A tenant's exemplars on one node: the newest `capacity` of them, in one ring
 * shared by all series (Prometheus's circular exemplar storage), so a series
 * that sends many cannot grow memory past the bound; the oldest exemplar
 * anywhere makes room for a new one.
 *
 * Rules, as Prometheus's exemplar storage:
 * - an exemplar equal to its series' newest (timestamp, value and labels) is a
 *   duplicate, and ignored;
 * - one not newer than its series' newest is out of order, and refused.
 *
 * Durability: remote-write records carry exemplars, so the WAL replays them;
 * a flush, which empties the WAL, first writes the store to a snapshot
 * (`snapshot()`, a snappy WriteRequest; docs/format/node-state.md).
 */
import { snappyDecode, snappyEncode } from '../../../wire/snappy.js';
import { encodeWriteRequest, WriteRequestReader, type SeriesInput } from '../../../wire/remote-write.js';
import { compareLabelsUtf8 } from '../block/utf8-order.js';
import { labelPairs, labelsKey, labelValue, type Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';

export interface Exemplar {
  /** Flat, name-sorted [name, value, ...]. */
  labels: Labels;
  value: number;
  /** ms */
  t: number;
}

/** One series' exemplars, oldest first, from `start` on (earlier entries were evicted). */
interface SeriesExemplars {
  labels: Labels;
  key: string;
  list: Exemplar[];
  start: number;
}

export type AddOutcome = 'added' | 'duplicate' | 'out-of-order' | 'disabled';

/** Largest snapshot read back; a bigger file is damaged (100k exemplars take a few MB). */
const MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024;

export class ExemplarStore {
  private readonly bySeries = new Map<string, SeriesExemplars>();
  /** Owner of each slot, in insertion order around the ring (grown up to `cap` as exemplars come). */
  private ring: SeriesExemplars[] = [];
  /** The slot written next once the ring is full: the oldest. */
  private next = 0;
  private stored = 0;

  constructor(private cap: number) {}

  get capacity(): number {
    return this.cap;
  }

  /** Exemplars held now. */
  get size(): number {
    return this.stored;
  }

  add(series: Labels, e: Exemplar): AddOutcome {
    if (this.cap === 0) return 'disabled';
    const key = labelsKey(series);
    let s = this.bySeries.get(key);
    const newest = s && s.list.length > s.start ? s.list[s.list.length - 1]! : undefined;
    if (newest) {
      if (newest.t === e.t && Object.is(newest.value, e.value) && labelsKey(newest.labels) === labelsKey(e.labels)) return 'duplicate';
      if (e.t <= newest.t) return 'out-of-order';
    }
    // Room first: the oldest exemplar may be this series' last, which takes the series out.
    let slot = this.ring.length;
    if (slot === this.cap) {
      slot = this.next;
      this.evictOldest(this.ring[slot]!);
      this.next = (slot + 1) % this.cap;
      s = this.bySeries.get(key);
    }
    if (!s) this.bySeries.set(key, (s = { labels: series, key, list: [], start: 0 }));
    this.ring[slot] = s;
    s.list.push(e);
    this.stored++;
    return 'added';
  }

  /** Drop the oldest exemplar of a series whose slot is reused. */
  private evictOldest(s: SeriesExemplars): void {
    if (s.start >= s.list.length) return; // deleted since
    s.list[s.start++] = undefined as unknown as Exemplar;
    this.stored--;
    if (s.start === s.list.length) {
      if (this.bySeries.get(s.key) === s) this.bySeries.delete(s.key);
      s.list = [];
      s.start = 0;
    } else if (s.start >= 32 && s.start * 2 >= s.list.length) {
      s.list = s.list.slice(s.start);
      s.start = 0;
    }
  }

  /**
   * Keep at most `cap` exemplars from now on; shrinking drops the oldest.
   * The ring is rebuilt in the order exemplars arrived.
   */
  resize(cap: number): void {
    if (cap === this.cap) return;
    const all = this.inArrivalOrder();
    this.bySeries.clear();
    this.cap = cap;
    this.ring = [];
    this.next = 0;
    this.stored = 0;
    for (const [series, e] of all.slice(Math.max(0, all.length - cap))) this.add(series, e);
  }

  /** Every exemplar with its series, oldest first as they arrived. */
  private inArrivalOrder(): Array<[Labels, Exemplar]> {
    const out: Array<[Labels, Exemplar]> = [];
    const taken = new Map<SeriesExemplars, number>();
    for (let k = 0; k < this.ring.length; k++) {
      const s = this.ring[(this.next + k) % this.ring.length]!;
      if (this.bySeries.get(s.key) !== s) continue;
      const i = taken.get(s) ?? s.start;
      if (i >= s.list.length) continue;
      taken.set(s, i + 1);
      out.push([s.labels, s.list[i]!]);
    }
    return out;
  }

  /**
   * Series matching any of the selectors (each a list of matchers, ANDed),
   * sorted by labels, with their exemplars in [mint, maxt], oldest first.
   * Series without one in the range are left out.
   */
  select(sets: ReadonlyArray<readonly Matcher[]>, mint: number, maxt: number): Array<{ labels: Labels; exemplars: Exemplar[] }> {
    const out: Array<{ labels: Labels; exemplars: Exemplar[] }> = [];
    for (const s of this.bySeries.values()) {
      if (!matchesAny(s.labels, sets)) continue;
      const exemplars: Exemplar[] = [];
      for (let i = s.start; i < s.list.length; i++) {
        const e = s.list[i]!;
        if (e.t >= mint && e.t <= maxt) exemplars.push(e);
      }
      if (exemplars.length) out.push({ labels: s.labels, exemplars });
    }
    return out.sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  }

  /** The whole store as a snappy-compressed remote-write request (series, their exemplars). */
  snapshot(): Uint8Array {
    const series: SeriesInput[] = [];
    const index = new Map<SeriesExemplars, SeriesInput & { exemplars: NonNullable<SeriesInput['exemplars']>[number][] }>();
    // Arrival order is kept across series by the order restore() adds them in: by time.
    for (const [labels, e] of this.inArrivalOrder()) {
      const s = this.bySeries.get(labelsKey(labels))!;
      let input = index.get(s);
      if (!input) {
        index.set(s, (input = { labels: labelPairs(labels), samples: [], exemplars: [] }));
        series.push(input);
      }
      input.exemplars.push({ labels: labelPairs(e.labels), value: e.value, timestampMs: e.t });
    }
    return snappyEncode(encodeWriteRequest(series));
  }

  /** Add the exemplars of a snapshot, in time order (how they arrived, near enough). */
  restore(snapshot: Uint8Array): number {
    const reader = new WriteRequestReader(snappyDecode(snapshot, MAX_SNAPSHOT_BYTES));
    const all: Array<[Labels, Exemplar]> = [];
    while (reader.next()) {
      if (reader.problem) continue;
      const labels = [...Array(reader.labelCount)].flatMap((_, i) => [reader.name(i), reader.value(i)]);
      for (let j = 0; j < reader.exemplarCount; j++) all.push([labels, { labels: reader.exemplarLabels(j), value: reader.exemplarValues[j]!, t: reader.exemplarTimestamps[j]! }]);
    }
    all.sort((a, b) => a[1].t - b[1].t);
    let n = 0;
    for (const [labels, e] of all) if (this.add(labels, e) === 'added') n++;
    return n;
  }
}

function matchesAny(ls: Labels, sets: ReadonlyArray<readonly Matcher[]>): boolean {
  return sets.some((ms) => ms.every((m) => m.matches(labelValue(ls, m.name))));
}
