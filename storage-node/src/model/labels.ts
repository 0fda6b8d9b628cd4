/**
 * A label set is a flat array [name0, value0, name1, value1, ...] sorted by
 * name: one array per series, no object per label.
 */
export type Labels = readonly string[];

/** A label set as one string, for maps keyed by series (0xff never occurs in UTF-8 text). */
export const labelsKey = (ls: Labels): string => ls.join('\xff');

/** A label set as [name, value] pairs (for encoders that take pairs). */
export function labelPairs(ls: Labels): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < ls.length; i += 2) out.push([ls[i]!, ls[i + 1]!]);
  return out;
}

/** Value of `name`, or "" when absent (Prometheus's convention). */
export function labelValue(ls: Labels, name: string): string {
  for (let i = 0; i < ls.length; i += 2) if (ls[i] === name) return ls[i + 1]!;
  return '';
}
