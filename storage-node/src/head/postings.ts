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

/** Union of many ascending lists, deduplicated. */
export function unionAll(lists: ReadonlyArray<readonly number[]>): number[] {
  if (lists.length === 0) return [];
  if (lists.length === 1) return lists[0]!.slice();
  let total = 0;
  for (const l of lists) total += l.length;
  const all = new Float64Array(total);
  let k = 0;
  for (const l of lists) for (const x of l) all[k++] = x;
  all.sort();
  const out: number[] = [];
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) out.push(all[i]!);
  return out;
}
