/**
 * Postings: ascending lists of series refs. Refs are handed out in increasing
 * order, so a label value's list stays sorted by appending.
 */

export function intersect(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      out.push(x);
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out;
}

export function subtract(a: readonly number[], b: readonly number[]): number[] {
  if (b.length === 0) return a.slice();
  const out: number[] = [];
  let j = 0;
  for (const x of a) {
    while (j < b.length && b[j]! < x) j++;
    if (j < b.length && b[j] === x) continue;
    out.push(x);
  }
  return out;
}

/** Union of many ascending lists, deduplicated: merged two by two, so each ref is copied about log2(lists) times (no sort). */
export function unionAll(lists: ReadonlyArray<readonly number[]>): number[] {
  if (lists.length === 0) return [];
  let round: Array<readonly number[]> = [...lists];
  while (round.length > 1) {
    const next: Array<readonly number[]> = [];
    for (let i = 0; i + 1 < round.length; i += 2) next.push(union(round[i]!, round[i + 1]!));
    if (round.length % 2 === 1) next.push(round[round.length - 1]!);
    round = next;
  }
  return round[0]!.slice();
}

/** Two ascending lists of distinct refs merged: a ref in both is kept once. */
function union(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x < y) {
      out.push(x);
      i++;
    } else if (y < x) {
      out.push(y);
      j++;
    } else {
      out.push(x);
      i++;
      j++;
    }
  }
  for (; i < a.length; i++) out.push(a[i]!);
  for (; j < b.length; j++) out.push(b[j]!);
  return out;
}
