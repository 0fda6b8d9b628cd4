import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorIds, httpStatusOf, IsobarError, promErrorTypeOf, type Cause } from './errors.js';

describe('the error registry', () => {
  it('has a section in docs/errors.md for every id, and no section for an id that does not exist', () => {
    const doc = readFileSync(resolve(import.meta.dirname, '../docs/errors.md'), 'utf8');
    const sections = new Set([...doc.matchAll(/^### (err-isobar-[a-z0-9-]+)$/gm)].map((m) => m[1]!));
    const ids = new Set<string>(Object.values(ErrorIds));
    expect([...ids].filter((id) => !sections.has(id))).toEqual([]);
    expect([...sections].filter((id) => !ids.has(id))).toEqual([]);
  });

  it('gives every id once', () => {
    const ids = Object.values(ErrorIds);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('maps every cause to one status and one Prometheus errorType', () => {
    const causes: Cause[] = ['bad-data', 'unauthenticated', 'forbidden', 'not-found', 'conflict', 'too-large', 'unsupported-media', 'unprocessable', 'limited', 'canceled', 'timeout', 'unavailable', 'internal'];
    expect(causes.map((c) => [httpStatusOf(c), promErrorTypeOf(c)])).toEqual([
      [400, 'bad_data'], [401, 'unauthorized'], [403, 'forbidden'], [404, 'not_found'], [409, 'execution'], [413, 'bad_data'], [415, 'bad_data'],
      [422, 'execution'], [429, 'too_many_requests'], [499, 'canceled'], [503, 'timeout'], [503, 'unavailable'], [500, 'internal'],
    ]);
    expect(new IsobarError(ErrorIds.badQuery, 'bad-data', 'x').describe()).toBe('x (err-isobar-bad-query)');
  });
});
