import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('starts full, refills by time up to its burst, and says how long to wait', () => {
    const b = new TokenBucket();
    expect(b.take(8, 0, 2, 10)).toBe(0); // 10 -> 2
    expect(b.take(4, 0, 2, 10)).toBe(1); // 2 of 4: 1 s at 2/s; nothing taken
    expect(b.take(4, 1000, 2, 10)).toBe(0); // refilled to 4 -> 0
    expect(b.level(60_000, 2, 10)).toBe(10); // never past the burst
  });

  it('lets a request larger than the bucket through once it is full', () => {
    const b = new TokenBucket();
    expect(b.take(25, 0, 5, 10)).toBe(0); // full: passes, level -15
    expect(b.wait(1, 0, 5, 10)).toBeCloseTo(16 / 5);
  });

  it('spends without asking', () => {
    const b = new TokenBucket();
    b.level(0, 1, 3);
    b.spend(3);
    expect(b.wait(1, 0, 1, 3)).toBe(1);
  });
});
