/**
 * A shard coordinator's usage: samples accepted ('' reason) and refused (an
 * error id) per 5-minute slot, kept a day, in the `usage` table
 * (docs/format/coordinator-tables.md). Counts wait in memory and are written
 * with the next commit-log row, inside its transaction, so usage costs no
 * write of its own.
 */

/** Samples accepted and refused (by error id) over a time window. */
export interface UsageWindow {
  accepted: number;
  rejected: Record<string, number>;
}

/** Usage is kept in time slots of this size, for a day. */
const USAGE_SLOT_MS = 5 * 60_000;
const USAGE_KEEP_MS = 25 * 3_600_000;

export class UsageLedger {
  /** Counted since the last write, by `slot|reason`. */
  private pending = new Map<string, number>();
  private lastSweep = 0;

  constructor(private readonly sql: SqlStorage) {}

  /** Schema; call inside the object's blockConcurrencyWhile. */
  init(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS usage (slot INTEGER NOT NULL, reason TEXT NOT NULL, samples INTEGER NOT NULL, PRIMARY KEY (slot, reason))`);
    // Objects created before the column was named `slot` (it was `bucket`).
    const ddl = this.sql.exec<{ sql: string }>(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'usage'`).one().sql;
    if (/\bbucket INTEGER\b/.test(ddl)) this.sql.exec(`ALTER TABLE usage RENAME COLUMN bucket TO slot`);
  }

  /** Add samples ('' accepted, any other key an error id); negative moves them out of a reason. */
  count(samples: Record<string, number>): void {
    const slot = Math.floor(Date.now() / USAGE_SLOT_MS);
    for (const [reason, n] of Object.entries(samples)) {
      if (n === 0) continue;
      const k = `${slot}|${reason}`;
      this.pending.set(k, (this.pending.get(k) ?? 0) + n);
    }
  }

  /** Write what was counted (inside a caller's transaction, or on its own), and drop slots past a day once an hour. */
  write(): void {
    if (this.pending.size === 0) return;
    for (const [k, n] of this.pending) {
      const bar = k.indexOf('|');
      this.sql.exec(
        `INSERT INTO usage (slot, reason, samples) VALUES (?, ?, ?) ON CONFLICT (slot, reason) DO UPDATE SET samples = samples + excluded.samples`,
        Number(k.slice(0, bar)), k.slice(bar + 1), n,
      );
    }
    this.pending.clear();
    const now = Date.now();
    if (now - this.lastSweep > 3_600_000) {
      this.lastSweep = now;
      this.sql.exec(`DELETE FROM usage WHERE slot < ?`, Math.floor((now - USAGE_KEEP_MS) / USAGE_SLOT_MS));
    }
  }

  /** Samples accepted and refused over the last `ms`. */
  window(ms: number): UsageWindow {
    this.write();
    const out: UsageWindow = { accepted: 0, rejected: {} };
    const from = Math.floor((Date.now() - ms) / USAGE_SLOT_MS) + 1;
    for (const r of this.sql.exec<{ reason: string; n: number }>(`SELECT reason, SUM(samples) AS n FROM usage WHERE slot >= ? GROUP BY reason`, from)) {
      if (r.reason === '') out.accepted = r.n;
      else out.rejected[r.reason] = r.n;
    }
    return out;
  }

  clear(): void {
    this.sql.exec(`DELETE FROM usage`);
    this.pending.clear();
  }
}
