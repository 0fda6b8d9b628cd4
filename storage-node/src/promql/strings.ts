/**
 * PromQL string literals: "double" and 'single' quoted with Go escapes, or
 * `raw` in backticks with none.
 *
 * Go strings are bytes: `\xc3\xa9` is "é", and `\xc5` alone is a byte that
 * is no UTF-8. Such a byte comes back as U+DC00 + byte (a lone surrogate, as
 * Python's "surrogateescape" does), so the text stays a JavaScript string,
 * `isValidUtf8` can tell, and `goQuote` prints it as Go does (`"a\xc5z"`).
 */
export function unquoteString(lit: string): string {
  const q = lit[0];
  if (lit.length < 2 || lit[lit.length - 1] !== q) throw new Error(`unterminated string ${lit}`);
  const body = lit.slice(1, -1);
  if (q === '`') return body;
  if (q !== '"' && q !== "'") throw new Error(`not a string literal: ${lit}`);
  if (!body.includes('\\')) return body;
  const bytes: number[] = [];
  const text = (t: string) => bytes.push(...utf8.encode(t));
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      text(String.fromCodePoint(cp));
      if (cp > 0xffff) i++;
      continue;
    }
    const e = body[++i];
    switch (e) {
      case 'a': bytes.push(7); break;
      case 'b': bytes.push(8); break;
      case 'f': bytes.push(12); break;
      case 'n': bytes.push(10); break;
      case 'r': bytes.push(13); break;
      case 't': bytes.push(9); break;
      case 'v': bytes.push(11); break;
      case '\\': bytes.push(0x5c); break;
      case '"': bytes.push(0x22); break;
      case "'": bytes.push(0x27); break;
      case 'x': bytes.push(hexAt(body, i + 1, 2)); i += 2; break;
      case 'u': text(String.fromCodePoint(hexAt(body, i + 1, 4))); i += 4; break;
      case 'U': text(String.fromCodePoint(hexAt(body, i + 1, 8))); i += 8; break;
      default:
        if (e !== undefined && e >= '0' && e <= '7') {
          const oct = body.slice(i, i + 3);
          if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) throw new Error(`invalid octal escape in ${lit}`);
          bytes.push(parseInt(oct, 8));
          i += 2;
        } else throw new Error(`unknown escape sequence \\${e ?? ''} in ${lit}`);
    }
  }
  return decodeEscaped(Uint8Array.from(bytes));
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes as text, each byte that is not part of valid UTF-8 as U+DC00 + byte. */
function decodeEscaped(b: Uint8Array): string {
  try {
    return strictUtf8.decode(b);
  } catch {
    // Decode sequence by sequence below.
  }
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n > 0 && i + n <= b.length) {
      try {
        out += strictUtf8.decode(b.subarray(i, i + n));
        i += n;
        continue;
      } catch {
        // not a valid sequence: this byte alone
      }
    }
    out += String.fromCharCode(0xdc00 + c);
    i++;
  }
  return out;
}

/** Is this text valid UTF-8 (no byte kept by unquoteString as a lone surrogate)? */
export function isValidUtf8(s: string): boolean {
  return !/\p{Surrogate}/u.test(s);
}

function hexAt(s: string, at: number, n: number): number {
  const h = s.slice(at, at + n);
  if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) throw new Error(`invalid \\x/\\u escape: ${h}`);
  return parseInt(h, 16);
}
