/**
 * A label set is a flat array [name0, value0, name1, value1, ...] sorted by
 * name: one array per series, no object per label.
 */
export type Labels = readonly string[];

/** A label set as one string, for maps keyed by series (0xff never occurs in UTF-8 text). */
export const labelsKey = (ls: Labels): string => ls.join('\xff');

/** Value of `name`, or "" when absent (Prometheus's convention). */
export function labelValue(ls: Labels, name: string): string {
  for (let i = 0; i < ls.length; i += 2) if (ls[i] === name) return ls[i + 1]!;
  return '';
}
