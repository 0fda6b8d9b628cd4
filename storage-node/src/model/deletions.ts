/**
 * Deletions in force (delete_series): the samples of series matching a
 * selector in [mint, maxt] are gone. Reads, flushes and downsampling leave
 * them out; worker threads get them as data.
 */
import { labelValue, type Labels } from './labels.js';
import { Matcher, type MatchType } from './matcher.js';

/** A deletion as plain data (it crosses into worker threads). */
export interface DeletionSpec {
  matchers: Array<{ type: MatchType; name: string; value: string }>;
  mint: number;
  maxt: number;
}

/** A deletion with its matchers made. */
export interface DeletionRange {
  matchers: readonly Matcher[];
  mint: number;
  maxt: number;
}

export function deletionSpecs(deletions: readonly DeletionRange[]): DeletionSpec[] {
  return deletions.map(({ matchers, mint, maxt }) => ({ matchers: matchers.map(({ type, name, value }) => ({ type, name, value })), mint, maxt }));
}

export function deletionRanges(specs: readonly DeletionSpec[]): DeletionRange[] {
  return specs.map((d) => ({ matchers: d.matchers.map((m) => new Matcher(m.type, m.name, m.value)), mint: d.mint, maxt: d.maxt }));
}

/** The intervals deleted from a series, if any. */
export function deletedIntervals(deletions: readonly DeletionRange[], labels: Labels): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const d of deletions) {
    if (d.matchers.every((m) => m.matches(labelValue(labels, m.name)))) out.push([d.mint, d.maxt]);
  }
  return out;
}
