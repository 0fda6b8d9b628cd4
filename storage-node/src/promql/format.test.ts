import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTime } from './format.js';

describe('formatTime (Prometheus JSON timestamps)', () => {
  it('writes milliseconds as three decimals, none when whole, as Prometheus does', () => {
    expect(formatTime(1_795_980_244_200)).toBe('1795980244.200');
    expect(formatTime(1_795_980_244_000)).toBe('1795980244');
    expect(formatTime(5)).toBe('0.005');
    expect(formatTime(-1_500)).toBe('-1.500');
    expect(formatTime(0)).toBe('0');
  });

  it('reads back as the same number of seconds (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 50), max: 2 ** 50 }), (ms) => {
        const s = formatTime(ms);
        expect(s).toMatch(/^-?\d+(\.\d{3})?$/);
        expect(Math.round(Number(s) * 1000)).toBe(ms);
      }),
    );
  });
});
