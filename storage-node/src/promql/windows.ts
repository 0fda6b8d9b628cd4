/** Where a series' samples stand relative to a time: cursors carried from step to step, and windows (ts - range, ts]. */
import { isStale, type SampleColumns } from '../chunkenc/merge.js';
import type { Labels } from '../model/labels.js';
import type { SeriesColumns } from '../db/tenant-db.js';
import type { RangeSeries } from './values.js';

/** A selector's series as a query loaded them: columns, whether a staleness marker is among them, and (downsampled) weights. */
export type LoadedSeries = SeriesColumns & { hasStale: boolean; w?: Float64Array; monotonic?: boolean };

/** Whether a staleness marker is among the columns' samples. */
export function hasStale(c: SampleColumns): boolean {
  for (let i = 0; i < c.n; i++) if (isStale(c.v, i)) return true;
  return false;
}

/** A decoded series as the engine keeps it: whether a staleness marker is among its samples, and whether no value is below its predecessor. */
export function loadedSeries(labels: Labels, c: SampleColumns): LoadedSeries {
  const v = c.v;
  let monotonic = true;
  for (let i = 1; i < c.n && monotonic; i++) if (v[i]! < v[i - 1]!) monotonic = false;
  return { labels, t: c.t, v, n: c.n, hasStale: hasStale(c), monotonic };
}

/**
 * Index of the last sample at or before `ts` (-1: none), stepping on from
 * `from` (a few hops; a binary search when time went back or far ahead).
 */
export function atOrBefore(s: SeriesColumns, ts: number, from: number): number {
  const t = s.t;
  let i = from;
  if (i >= 0 && t[i]! > ts) return lastAtOrBefore(t, s.n, ts);
  for (let hops = 0; hops < 8; hops++) {
    if (i + 1 < s.n && t[i + 1]! <= ts) i++;
    else return i;
  }
  return lastAtOrBefore(t, s.n, ts);
}

function lastAtOrBefore(t: Float64Array, n: number, ts: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * Series `s`'s window (ts - range, ts] into `w`: the loaded columns
 * themselves when no staleness marker is inside (the common case), else
 * copies without them; false when empty. `pos` holds the cursors (last
 * index at or before ts, and at or before ts - range), carried between calls.
 */
export function windowOf(s: LoadedSeries, ts: number, range: number, pos: Int32Array, w: RangeSeries): boolean {
  const hi = (pos[0] = atOrBefore(s, ts, pos[0]!));
  pos[1] = atOrBefore(s, ts - range, pos[1]!);
  const lo = pos[1]! + 1; // left-open window
  if (hi < lo) return false;
  let stale = 0;
  if (s.hasStale) for (let i = lo; i <= hi; i++) if (isStale(s.v, i)) stale++;
  w.labels = s.labels;
  if (stale === 0) {
    w.t = s.t;
    w.v = s.v;
    w.w = s.w;
    w.monotonic = s.monotonic;
    w.lo = lo;
    w.hi = hi + 1;
    return true;
  }
  const n = hi - lo + 1 - stale;
  if (n === 0) return false;
  const tt = new Float64Array(n);
  const vv = new Float64Array(n);
  let j = 0;
  for (let i = lo; i <= hi; i++) {
    if (isStale(s.v, i)) continue;
    tt[j] = s.t[i]!;
    vv[j++] = s.v[i]!;
  }
  w.t = tt;
  w.v = vv;
  w.w = undefined;
  w.monotonic = undefined; // without its markers, two values that were apart may now be neighbours
  w.lo = 0;
  w.hi = n;
  return true;
}
