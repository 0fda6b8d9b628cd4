/**
 * A tenant's blocks (local or in the bucket), kept in time order: the one
 * place that adds or removes them, so every reader sees them sorted by
 * `minTime` (ties by ULID, so the order never depends on insertion).
 *
 * Readers get `all`, a read-only array; it is replaced (not changed in place)
 * on every change, so an array a query holds stays valid while it reads.
 */
export class BlockSet<T extends { meta: { minTime: number; ulid: string } }> {
  private items: readonly T[] = [];

  get all(): readonly T[] {
    return this.items;
  }

  get length(): number {
    return this.items.length;
  }

  add(...xs: T[]): void {
    if (xs.length === 0) return;
    this.items = [...this.items, ...xs].sort((a, b) => a.meta.minTime - b.meta.minTime || (a.meta.ulid < b.meta.ulid ? -1 : a.meta.ulid > b.meta.ulid ? 1 : 0));
  }

  /** Remove the blocks `drop` picks; returns them. */
  remove(drop: (x: T) => boolean): T[] {
    const gone = this.items.filter(drop);
    if (gone.length) this.items = this.items.filter((x) => !drop(x));
    return gone;
  }

  /** Replace everything (a node's bucket blocks, learned at start). */
  replace(xs: readonly T[]): void {
    this.items = [];
    this.add(...xs);
  }
}
