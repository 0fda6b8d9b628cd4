/**
 * A shard coordinator's active series, for the tenant's series limits (this
 * shard's share of max_series and max_series_per_metric): series hash ->
 * metric and when last admitted, in the `series` table
 * (docs/format/coordinator-tables.md), mirrored in memory.
 */

/** A series is active while written to within this time (and counted against the series limits). */
export const ACTIVE_SERIES_MS = 3_600_000;
/** Rows per multi-row SQL statement (3 values each stay under the statement's bound-parameter limit). */
const SQL_BATCH = 32;

/**
 * Series the edge has not had admitted lately, travelling with their append to
 * be admitted under this shard's share of the series limits.
 */
export interface AdmitRequest {
  /** `hi:lo` of each series' hash. */
  hashes: string[];
  /** Each series' metric name. */
  metrics: string[];
  /** Each series' samples in the append (counted in the usage ledger when refused). */
  samples: number[];
  /** This shard's share of max_series and max_series_per_metric. */
  maxSeries: number;
  maxSeriesPerMetric: number;
}

/** Indexes (into the request) of series refused, with the limit each broke and the count it was at. */
export interface AdmitAnswer {
  refused: Array<{ index: number; limit: 'maxSeries' | 'maxSeriesPerMetric'; active: number }>;
}

export class SeriesAdmission {
  private active = new Map<string, { metric: string; last: number }>();
  private perMetric = new Map<string, number>();
  private lastExpiry = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
  ) {}

  /** Schema and the active series into memory; call inside the object's blockConcurrencyWhile. */
  init(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS series (hash TEXT PRIMARY KEY, metric TEXT NOT NULL, last_ms INTEGER NOT NULL)`);
    for (const r of this.sql.exec<{ hash: string; metric: string; last_ms: number }>(`SELECT hash, metric, last_ms FROM series`)) {
      this.active.set(r.hash, { metric: r.metric, last: r.last_ms });
      this.perMetric.set(r.metric, (this.perMetric.get(r.metric) ?? 0) + 1);
    }
  }

  /**
   * Known series are refreshed; new ones are taken while the shard is under
   * both limits, and the rest refused (nothing is written for them). Many rows
   * per statement: a first sight of thousands of series is one short transaction.
   */
  admit(req: AdmitRequest, now: number): AdmitAnswer {
    this.expire(now);
    const refused: AdmitAnswer['refused'] = [];
    const seen: string[] = [];
    const added: string[] = [];
    req.hashes.forEach((hash, index) => {
      const known = this.active.get(hash);
      const metric = req.metrics[index] ?? '';
      if (known) {
        known.last = now;
        seen.push(hash);
        return;
      }
      const ofMetric = this.perMetric.get(metric) ?? 0;
      if (this.active.size >= req.maxSeries) refused.push({ index, limit: 'maxSeries', active: this.active.size });
      else if (ofMetric >= req.maxSeriesPerMetric) refused.push({ index, limit: 'maxSeriesPerMetric', active: ofMetric });
      else {
        this.active.set(hash, { metric, last: now });
        this.perMetric.set(metric, ofMetric + 1);
        added.push(hash, metric);
      }
    });
    this.storage.transactionSync(() => {
      for (let i = 0; i < seen.length; i += SQL_BATCH) {
        const part = seen.slice(i, i + SQL_BATCH);
        this.sql.exec(`UPDATE series SET last_ms = ? WHERE hash IN (${part.map(() => '?').join(',')})`, now, ...part);
      }
      for (let i = 0; i < added.length; i += 2 * SQL_BATCH) {
        const part = added.slice(i, i + 2 * SQL_BATCH);
        const rows = part.length / 2;
        this.sql.exec(`INSERT OR REPLACE INTO series (hash, metric, last_ms) VALUES ${Array(rows).fill('(?, ?, ?)').join(',')}`, ...part.flatMap((x, k) => (k % 2 ? [x, now] : [x])));
      }
    });
    return { refused };
  }

  /** Forget series not written to within ACTIVE_SERIES_MS (at most once a minute). */
  private expire(now: number): void {
    if (now - this.lastExpiry < 60_000) return;
    this.lastExpiry = now;
    const cutoff = now - ACTIVE_SERIES_MS;
    for (const [hash, s] of this.active) {
      if (s.last >= cutoff) continue;
      this.active.delete(hash);
      const n = (this.perMetric.get(s.metric) ?? 1) - 1;
      if (n > 0) this.perMetric.set(s.metric, n);
      else this.perMetric.delete(s.metric);
    }
    this.sql.exec(`DELETE FROM series WHERE last_ms < ?`, cutoff);
  }

  clear(): void {
    this.sql.exec(`DELETE FROM series`);
    this.active.clear();
    this.perMetric.clear();
  }
}
