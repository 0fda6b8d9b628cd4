/**
 * PromQL string literals: "double" and 'single' quoted with Go escapes, or
 * `raw` in backticks with none.
 */
export function unquoteString(lit: string): string {
  const q = lit[0];
  if (lit.length < 2 || lit[lit.length - 1] !== q) throw new Error(`unterminated string ${lit}`);
  const body = lit.slice(1, -1);
  if (q === '`') return body;
  if (q !== '"' && q !== "'") throw new Error(`not a string literal: ${lit}`);
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    switch (e) {
      case 'a': out += '\x07'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case "'": out += "'"; break;
      case 'x': out += String.fromCharCode(hexAt(body, i + 1, 2)); i += 2; break;
      case 'u': out += String.fromCodePoint(hexAt(body, i + 1, 4)); i += 4; break;
      case 'U': out += String.fromCodePoint(hexAt(body, i + 1, 8)); i += 8; break;
      default:
        if (e !== undefined && e >= '0' && e <= '7') {
          const oct = body.slice(i, i + 3);
          if (!/^[0-7]{3}$/.test(oct)) throw new Error(`invalid octal escape in ${lit}`);
          out += String.fromCharCode(parseInt(oct, 8));
          i += 2;
        } else throw new Error(`unknown escape sequence \\${e ?? ''} in ${lit}`);
    }
  }
  return out;
}

function hexAt(s: string, at: number, n: number): number {
  const h = s.slice(at, at + n);
  if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) throw new Error(`invalid \\x/\\u escape: ${h}`);
  return parseInt(h, 16);
}
