/**
 * A tenant's metric metadata on one node: per metric family, the distinct
 * (type, help, unit) its senders said, as `/api/v1/metadata` lists them.
 *
 * Bounded: at most MAX_FAMILIES families and MAX_PER_FAMILY variants of one
 * (a changed help text is a new variant; the least recently said one makes
 * room). Families past the bound are counted, not kept.
 *
 * Durability: metadata arrives in remote-write records, so the WAL replays it;
 * a flush first writes the store to `state/<tenant>.metadata.json`.
 */
import { z } from 'zod';
import { METRIC_TYPES, type MetricMetadata, type MetricTypeName } from '../../../wire/remote-write.js';

export const MAX_FAMILIES = 50_000;
export const MAX_PER_FAMILY = 10;

export interface MetadataEntry {
  type: MetricTypeName;
  help: string;
  unit: string;
}

/** The file: `{ "<family>": [{ "type", "help", "unit" }, ...] }`, each list oldest said first. */
export const MetadataFile = z.record(
  z.string(),
  z.array(z.object({ type: z.enum(METRIC_TYPES), help: z.string(), unit: z.string() })).max(MAX_PER_FAMILY),
);

export class MetadataStore {
  /** Family -> variants, least recently said first. */
  private readonly families = new Map<string, MetadataEntry[]>();
  /** Entries refused because the store holds MAX_FAMILIES families. */
  refused = 0;

  get size(): number {
    return this.families.size;
  }

  add(m: MetricMetadata): void {
    let list = this.families.get(m.family);
    if (!list) {
      if (this.families.size >= MAX_FAMILIES) {
        this.refused++;
        return;
      }
      this.families.set(m.family, (list = []));
    }
    const i = list.findIndex((e) => e.type === m.type && e.help === m.help && e.unit === m.unit);
    if (i >= 0 && i === list.length - 1) return; // said again: the common case
    if (i >= 0) list.splice(i, 1);
    else if (list.length >= MAX_PER_FAMILY) list.shift();
    list.push({ type: m.type, help: m.help, unit: m.unit });
  }

  /**
   * `/api/v1/metadata`: families by name (only `metric` when given), at most
   * `limit` families (negative: all) and `limitPerMetric` variants each (0 or
   * negative: all), newest said first.
   */
  query(metric: string | undefined, limit: number, limitPerMetric: number): Map<string, MetadataEntry[]> {
    const out = new Map<string, MetadataEntry[]>();
    const names = metric !== undefined ? (this.families.has(metric) ? [metric] : []) : [...this.families.keys()].sort();
    for (const name of names) {
      if (limit >= 0 && out.size >= limit) break;
      const variants = [...this.families.get(name)!].reverse();
      out.set(name, limitPerMetric > 0 ? variants.slice(0, limitPerMetric) : variants);
    }
    return out;
  }

  toJSON(): Record<string, MetadataEntry[]> {
    return Object.fromEntries(this.families);
  }

  /** Take back what toJSON wrote (after checking it with MetadataFile). */
  load(file: z.infer<typeof MetadataFile>): void {
    for (const [family, variants] of Object.entries(file)) for (const v of variants) this.add({ family, ...v });
  }
}
