/**
 * The series limits at the edge: max_series and max_series_per_metric.
 *
 * Each shard coordinator admits series under its share of the tenant's limits,
 * as they travel with their append (`AppendOptions.admit`). The edge sends
 * only series this isolate has not had admitted in the last ADMITTED_TTL_MS,
 * so a steady stream of known series costs the coordinator no lookups; the
 * refresh keeps them active there (active = written within the last hour).
 *
 * A refused series is a per-series 400 (the request's other series are
 * stored). Its message names the metric and, when most of the refused series
 * of that metric differ in one label, that label: the usual cause is an ID or
 * a timestamp put into a label, and naming it tells the sender what to drop.
 */
import type { AdmitRequest, SeriesRefused } from '../../durable/shard-coordinator.js';
import { howToRaise, type Limits } from '../../durable/limits.js';
import type { Principal } from '../../durable/tenant-registry.js';
import { ErrorIds } from '../../wire/errors.js';
import { WriteRequestReader, type SeriesProblem } from '../../wire/remote-write.js';

/** How long an admitted series is taken as known by this isolate. */
const ADMITTED_TTL_MS = 10 * 60_000;
const ADMITTED_MAX = 1_000_000;
/** Per tenant generation (`tenant|generation`): series hash -> admitted until. */
const admitted = new Map<string, Map<string, number>>();
let admittedSize = 0;

/** A series of one shard's batch not admitted lately: where it is, and what to ask about it. */
export interface NewSeries {
  /** `hi:lo` of its hash. */
  hash: string;
  metric: string;
  /** Its byte range in the decoded request. */
  start: number;
  end: number;
  samples: number;
}

/** This isolate's admitted series of the tenant (after a clear, a map handed out before is detached: its series are asked about again). */
export function admittedSeries(p: Principal): Map<string, number> {
  const k = `${p.tenant}|${p.generation}`;
  let m = admitted.get(k);
  if (!m) admitted.set(k, (m = new Map()));
  return m;
}

/** Was this series admitted by a coordinator lately (as far as this isolate knows)? */
export function knownSeries(known: Map<string, number>, hash: string, now: number): boolean {
  const until = known.get(hash);
  return until !== undefined && until > now;
}


/** The metric name of the reader's current series ('' if it has none: such series are refused earlier). */
export function metricOf(r: WriteRequestReader): string {
  for (let i = 0; i < r.labelCount; i++) if (r.name(i) === '__name__') return r.value(i);
  return '';
}

export interface Refusal {
  shard: number;
  series: NewSeries;
  problem: SeriesProblem;
}

/** A shard's new series as they travel with its append, to be admitted under its share of the limits. */
export function admitRequest(limits: Limits, series: NewSeries[]): AdmitRequest {
  return {
    hashes: series.map((s) => s.hash),
    metrics: series.map((s) => s.metric),
    samples: series.map((s) => s.samples),
    maxSeries: Math.max(1, Math.floor(limits.maxSeries / limits.shards)),
    maxSeriesPerMetric: Math.max(1, Math.floor(limits.maxSeriesPerMetric / limits.shards)),
  };
}

/**
 * A shard answered its append: its new series not refused are admitted, and
 * this isolate does not ask about them again for ADMITTED_TTL_MS. Returns the
 * refused ones with the limit each broke.
 */
export function settleAdmission(p: Principal, shard: number, series: NewSeries[], refused: SeriesRefused['seriesRefused']): Array<{ shard: number; series: NewSeries; limit: keyof Limits }> {
  const until = Date.now() + ADMITTED_TTL_MS;
  const known = admittedSeries(p);
  const no = new Map(refused.map((r) => [r.index, r.limit]));
  const out: Array<{ shard: number; series: NewSeries; limit: keyof Limits }> = [];
  series.forEach((s, k) => {
    const limit = no.get(k);
    if (limit) out.push({ shard, series: s, limit });
    else remember(known, s.hash, until);
  });
  return out;
}

/** Refused new series, each with the problem to report (naming the label that makes them new, when one does). */
export function refusalsOf(p: Principal, raw: Uint8Array, refused: Array<{ shard: number; series: NewSeries; limit: keyof Limits }>): Refusal[] {
  if (refused.length === 0) return [];
  const dominant = dominantLabels(raw, refused.map((r) => r.series));
  return refused.map((r) => ({ shard: r.shard, series: r.series, problem: problemFor(p, raw, r.series, r.limit, dominant.get(r.series.metric)) }));
}

function remember(known: Map<string, number>, hash: string, until: number): void {
  if (admittedSize >= ADMITTED_MAX) {
    admitted.clear(); // rare: the isolate knows a million series; asking again is only slower
    admittedSize = 0;
  }
  if (!known.has(hash)) admittedSize++;
  known.set(hash, until);
}

/** The series' bytes as a one-series request, to describe it. */
function describe(raw: Uint8Array, s: NewSeries): string {
  const r = new WriteRequestReader(raw.subarray(s.start, s.end));
  return r.next() ? r.describeSeries() : '{}';
}

function problemFor(p: Principal, raw: Uint8Array, s: NewSeries, limit: keyof Limits, dominant: { label: string; values: number } | undefined): SeriesProblem {
  const series = describe(raw, s);
  const hint = dominant
    ? `; most of the refused new series of ${s.metric} differ in label "${dominant.label}" (${dominant.values} values in this request): drop or aggregate it with relabelling`
    : '';
  if (limit === 'maxSeries') {
    return {
      id: ErrorIds.maxSeriesPerTenant,
      message: `series ${series} would be a new series, and tenant ${p.tenant} is at its limit of ${p.limits.maxSeries} active series (max_series; active = written in the last hour)${hint}; or ${howToRaise(p.tenant, 'maxSeries')}`,
    };
  }
  return {
    id: ErrorIds.maxSeriesPerMetric,
    message: `series ${series} would be a new series of metric ${s.metric}, which is at its limit of ${p.limits.maxSeriesPerMetric} active series (max_series_per_metric)${hint}; or ${howToRaise(p.tenant, 'maxSeriesPerMetric')}`,
  };
}

/**
 * Per metric, the label whose values differ most among the refused series,
 * when it has at least half as many values as there are such series (and two).
 */
function dominantLabels(raw: Uint8Array, series: NewSeries[]): Map<string, { label: string; values: number }> {
  const byMetric = new Map<string, { count: number; values: Map<string, Set<string>> }>();
  for (const s of series) {
    const r = new WriteRequestReader(raw.subarray(s.start, s.end));
    if (!r.next()) continue;
    let m = byMetric.get(s.metric);
    if (!m) byMetric.set(s.metric, (m = { count: 0, values: new Map() }));
    m.count++;
    for (let i = 0; i < r.labelCount; i++) {
      const name = r.name(i);
      if (name === '__name__') continue;
      let set = m.values.get(name);
      if (!set) m.values.set(name, (set = new Set()));
      if (set.size <= m.count) set.add(r.value(i));
    }
  }
  const out = new Map<string, { label: string; values: number }>();
  for (const [metric, m] of byMetric) {
    let best: { label: string; values: number } | undefined;
    for (const [label, set] of m.values) if (!best || set.size > best.values) best = { label, values: set.size };
    if (best && best.values >= 2 && best.values * 2 >= m.count) out.set(metric, best);
  }
  return out;
}
