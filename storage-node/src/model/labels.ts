/**
 * A label set is a flat array [name0, value0, name1, value1, ...] sorted by
 * name: one array per series, no object per label.
 */
export type Labels = readonly string[];

/** Prometheus's labels.Compare: pairwise by name, then value; shorter first. */
export function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 2) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
    if (a[i + 1] !== b[i + 1]) return a[i + 1]! < b[i + 1]! ? -1 : 1;
  }
  return a.length - b.length;
}

export function labelsEqual(a: Labels, b: Labels): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Value of `name`, or "" when absent (Prometheus's convention). */
export function labelValue(ls: Labels, name: string): string {
  for (let i = 0; i < ls.length; i += 2) if (ls[i] === name) return ls[i + 1]!;
  return '';
}
