/**
 * Each tenant's retention as its coordinators last said it: raw samples, and
 * each downsampled tier (ms; a tier at 0 is not made). Kept in the tenant's
 * state file (docs/format/node-state.md); the node's default applies to a
 * tenant nothing was said of.
 */
import type { RetentionSpec } from '../../../wire/internal-api.js';
import { RES_1H, RES_5M } from '../downsample/downsample.js';
import { NO_TIERS, type TierRetention } from './state-files.js';

export class Retentions {
  private readonly raw = new Map<string, number>();
  private readonly tiers = new Map<string, TierRetention>();

  constructor(private readonly defaultMs: number) {}

  /** The retention spec the coordinators send (seconds), in ms (undefined: nothing said). */
  static fromSpec(spec: RetentionSpec | undefined): { ms: number; tiers: TierRetention } | undefined {
    return spec ? { ms: spec.raw * 1000, tiers: { [RES_5M]: spec['5m'] * 1000, [RES_1H]: spec['1h'] * 1000 } } : undefined;
  }

  /** Take what a tenant's coordinators said; true when it changed (the state file is then rewritten). */
  set(tenant: string, ms: number, tiers?: TierRetention): boolean {
    if (!(ms > 0)) return false;
    const cur = this.tiers.get(tenant) ?? NO_TIERS;
    const tiersChanged = tiers !== undefined && (tiers[RES_5M] !== cur[RES_5M] || tiers[RES_1H] !== cur[RES_1H]);
    if (this.raw.get(tenant) === ms && !tiersChanged) return false;
    this.raw.set(tenant, ms);
    if (tiers) this.tiers.set(tenant, tiers);
    return true;
  }

  /** What a state file held (at start). */
  load(tenant: string, rawMs: number | undefined, tiers: TierRetention | undefined): void {
    if (rawMs) this.raw.set(tenant, rawMs);
    if (tiers) this.tiers.set(tenant, tiers);
  }

  /** What the state file keeps: only what was said. */
  said(tenant: string): { retentionMs?: number; tiersMs?: TierRetention } {
    const retentionMs = this.raw.get(tenant);
    const tiersMs = this.tiers.get(tenant);
    return { ...(retentionMs ? { retentionMs } : {}), ...(tiersMs ? { tiersMs } : {}) };
  }

  rawOf(tenant: string): number {
    return this.raw.get(tenant) ?? this.defaultMs;
  }

  tiersOf(tenant: string): TierRetention {
    return this.tiers.get(tenant) ?? NO_TIERS;
  }

  forget(tenant: string): void {
    this.raw.delete(tenant);
    this.tiers.delete(tenant);
  }
}
