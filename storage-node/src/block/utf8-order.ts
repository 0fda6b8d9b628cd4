/**
 * Byte-wise (UTF-8) string order, which is Go's and so Prometheus's: symbols,
 * label sets and postings are sorted this way on disk. JavaScript's `<`
 * compares UTF-16 code units, which differs only when a character at or above
 * U+10000 meets one in U+E000–U+FFFF; that case falls back to bytes.
 */
const enc = new TextEncoder();

export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0; // most label names and many values of neighbouring series: no walk over their characters
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 || y >= 0xd800) return Buffer.compare(enc.encode(a.slice(i)), enc.encode(b.slice(i)));
    return x - y;
  }
  return a.length - b.length;
}

/** labels.Compare over flat [name, value, ...] lists, in byte order. */
export function compareLabelsUtf8(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareUtf8(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}
