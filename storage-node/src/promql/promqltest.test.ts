import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPromqlTest } from './promqltest.js';

const DIR = resolve(import.meta.dirname, '../../../test/promql');

describe('promqltest scripts (test/promql)', () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.test'))) {
    it(file, () => {
      const { failures, evals } = runPromqlTest(readFileSync(join(DIR, file), 'utf8'));
      expect(failures).toEqual([]);
      expect(evals).toBeGreaterThan(0);
    });
  }

  it('the runner itself fails wrong expectations', () => {
    const { failures } = runPromqlTest('load 1m\n  m 1 2 3\neval instant at 2m m\n  m 99\neval instant at 2m foo(\n  m 1\n');
    expect(failures).toHaveLength(2);
  });
});
