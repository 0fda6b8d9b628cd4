/**
 * A token bucket refilled by time, in memory: `rate` tokens a second up to
 * `burst`, starting full. The shard coordinator keeps one for its share of a
 * tenant's ingestion rate; the edge keeps one per client address for failed
 * key lookups.
 */
export class TokenBucket {
  private tokens = NaN;
  private at = 0;

  /** The tokens there at `now` (ms), after refilling. */
  level(now: number, rate: number, burst: number): number {
    this.tokens = Number.isNaN(this.tokens) ? burst : Math.min(burst, this.tokens + ((now - this.at) / 1000) * rate);
    this.at = now;
    return this.tokens;
  }

  /**
   * Seconds until `n` tokens are there (0: they are). A request larger than
   * the whole bucket needs a full bucket only, so no size is refused forever.
   */
  wait(n: number, now: number, rate: number, burst: number): number {
    const need = Math.min(n, burst);
    const have = this.level(now, rate, burst);
    return have >= need ? 0 : (need - have) / rate;
  }

  /** Take `n` tokens if `wait` allows: 0 when taken, else the seconds to wait (nothing taken). */
  take(n: number, now: number, rate: number, burst: number): number {
    const w = this.wait(n, now, rate, burst);
    if (w === 0) this.tokens -= n;
    return w;
  }

  /** Take `n` tokens unconditionally (the level may go below zero, delaying what follows). */
  spend(n: number): void {
    this.tokens -= n;
  }
}
