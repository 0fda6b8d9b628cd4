/**
 * Series selectors (`up{job="x"}`, `{__name__=~"a|b"}`) for `match[]`: a PromQL
 * vector selector without `offset` or `@`, parsed by the one PromQL parser.
 */
import { ErrorIds, IsobarError } from '../../../wire/errors.js';
import type { Matcher } from '../model/matcher.js';
import { parsePromQL, PromQLParseError } from './parse.js';

/** A `match[]` selector that cannot be read (bad_matcher), or that uses RE2 Isobar cannot evaluate yet. */
export class SelectorError extends IsobarError {
  constructor(
    message: string,
    readonly unsupported = false,
  ) {
    super(unsupported ? ErrorIds.unsupportedRegex : ErrorIds.badMatcher, 'bad-data', message);
    this.name = 'SelectorError';
  }
}

/** Matchers of a series selector; at least one must not match the empty string. */
export function parseSeriesSelector(src: string): Matcher[] {
  let e;
  try {
    e = parsePromQL(src);
  } catch (err) {
    if (err instanceof PromQLParseError) throw new SelectorError(err.message, err.unsupported);
    throw err;
  }
  if (e.kind !== 'vector' || e.offset !== 0 || e.at !== undefined) {
    throw new SelectorError(`parse error: expected a series selector such as up{job="x"}, got ${JSON.stringify(src)}`);
  }
  return e.matchers;
}
