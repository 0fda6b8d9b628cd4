import { bench, describe } from 'vitest';
import { XorAppender, XorIterator } from './xor.js';

for (const kind of ['counter', 'gauge'] as const) {
  describe(`XOR chunk, 120 samples (${kind})`, () => {
    const ts = Array.from({ length: 120 }, (_, i) => 1_700_000_000_000 + i * 15000 + (i % 7 === 0 ? 3 : 0));
    const vs = Array.from({ length: 120 }, (_, i) => (kind === 'counter' ? 1000 + i * 17 : Math.sin(i / 10) * 100));
    let sink = 0; // keeps the work observable
    bench('append', () => {
      const a = new XorAppender();
      for (let i = 0; i < 120; i++) a.append(ts[i]!, vs[i]!);
      sink += a.seal().length;
    });
    const it = new XorIterator();
    const a = new XorAppender();
    for (let i = 0; i < 120; i++) a.append(ts[i]!, vs[i]!);
    const sealed = a.seal();
    bench('iterate', () => {
      it.reset(sealed);
      while (it.next());
    });
    void sink;
  });
}
