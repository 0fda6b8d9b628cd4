/**
 * Queries and samples read per tenant, in 5-minute buckets kept for a day (in
 * memory: a node restart starts the counts over). Part of a tenant's usage.
 */
const BUCKET_MS = 5 * 60_000;
const KEEP_BUCKETS = 24 * 12 + 1;

export interface QueryCounts {
  queries: number;
  samplesRead: number;
}

export class QueryUsage {
  private readonly tenants = new Map<string, Map<number, QueryCounts>>();

  record(tenant: string, samplesRead: number, now = Date.now()): void {
    const bucket = Math.floor(now / BUCKET_MS);
    let buckets = this.tenants.get(tenant);
    if (!buckets) this.tenants.set(tenant, (buckets = new Map()));
    const b = buckets.get(bucket) ?? { queries: 0, samplesRead: 0 };
    b.queries++;
    b.samplesRead += samplesRead;
    buckets.set(bucket, b);
    for (const k of buckets.keys()) if (k <= bucket - KEEP_BUCKETS) buckets.delete(k);
  }

  /** Counts over the last `ms` (whole buckets, the current one included). */
  window(tenant: string, ms: number, now = Date.now()): QueryCounts {
    const from = Math.floor((now - ms) / BUCKET_MS) + 1;
    const out: QueryCounts = { queries: 0, samplesRead: 0 };
    for (const [k, b] of this.tenants.get(tenant) ?? []) {
      if (k < from) continue;
      out.queries += b.queries;
      out.samplesRead += b.samplesRead;
    }
    return out;
  }

  forget(tenant: string): void {
    this.tenants.delete(tenant);
  }
}
