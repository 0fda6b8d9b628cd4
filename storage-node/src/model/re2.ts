/**
 * RE2 patterns (Prometheus's regex dialect) translated to JavaScript RegExps
 * with the same meaning, or a clear error where JavaScript cannot say it.
 *
 * Prometheus anchors every label regex (`^(?:re)$`) and, since Prometheus 3,
 * lets `.` match newlines; we compile with flags `su` so `.` matches any code
 * point, like RE2 over UTF-8. Differences handled here:
 *  - `\s` is [\t\n\f\r ] in RE2 (JavaScript's is Unicode-wide);
 *  - `\pL`, `\p{Greek}`, `[[:alpha:]]`, `\Q...\E`, `\A`, `\z`, `(?P<n>...)`,
 *    `\x{...}`, escaped punctuation, lone `{` / `}` and a leading `]` in a class;
 *  - RE2 rejects backreferences and look-around, so do we (bad_data, like Prometheus);
 *  - inline flags anywhere (`(?i:PRO).*`, `a((?i)b)`): Node 20's RegExp has no
 *    modifiers, so a case-insensitive part is spelled out (`[pP][rR][oO]`,
 *    `[a-zA-Z]`); `(?s)` is always on; `(?m)` and `(?U)` are refused
 *    (unsupported, not wrong answers).
 */

export class RegexError extends Error {
  constructor(
    message: string,
    /** true: valid RE2 that we cannot express; false: invalid RE2 (Prometheus rejects it too). */
    readonly unsupported: boolean,
  ) {
    super(message);
    this.name = 'RegexError';
  }
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7f',
  blank: '\\t ',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`\\{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

// Unicode general categories RE2 knows by one- or two-letter names; other \p names are scripts.
const GENERAL_CATEGORY = /^(C|Cc|Cf|Co|Cs|L|Ll|Lm|Lo|Lt|Lu|M|Mc|Me|Mn|N|Nd|Nl|No|P|Pc|Pd|Pe|Pf|Pi|Po|Ps|S|Sc|Sk|Sm|So|Z|Zl|Zp|Zs)$/;
const JS_SYNTAX = '^$\\.*+?()[]{}|/';
const MAX_REPEAT = 1000; // RE2's limit on {n,m}

/** Compile `pattern` as Prometheus would: fully anchored RE2. */
export function compileAnchored(pattern: string): RegExp {
  const { source, ignoreCase } = translate(pattern);
  try {
    return new RegExp(`^(?:${source})$`, ignoreCase ? 'sui' : 'su');
  } catch (e) {
    throw new RegexError(`invalid regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`, false);
  }
}

function hex(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

function translate(p: string): { source: string; ignoreCase: boolean } {
  let i = 0;
  let out = '';
  let ignoreCase = false;
  const bad = (what: string): never => {
    throw new RegexError(`invalid regular expression ${JSON.stringify(p)}: ${what}`, false);
  };
  const unsupported = (what: string): never => {
    throw new RegexError(`regular expression ${JSON.stringify(p)} uses ${what}, which Isobar cannot evaluate yet; rewrite it without`, true);
  };

  // Leading flag groups: (?i), (?s), (?is) apply to the whole pattern.
  for (let m = /^\(\?([is]+)\)/.exec(p.slice(i)); m; m = /^\(\?([is]+)\)/.exec(p.slice(i))) {
    if (m[1]!.includes('i')) ignoreCase = true;
    i += m[0].length;
  }
  // Case-insensitivity of the part being read (inline flags), and of each open group around it.
  let ci = false;
  const groups: boolean[] = [];
  /** `(?flags)` or `(?flags:` -> the case-insensitivity they set, from `was`. */
  const applyFlags = (flags: string, was: boolean): boolean => {
    let on = true;
    let now = was;
    for (const f of flags) {
      if (f === '-') on = false;
      else if (f === 'i') {
        if (ignoreCase && !on) unsupported('(?-i) inside a pattern that starts with (?i)');
        now = ignoreCase ? false : on;
      } else if (f === 's') {
        if (!on) unsupported('(?-s)');
      } else unsupported(`the inline flag ${f}`);
    }
    return now;
  };
  /** Both cases of a letter, where they differ. */
  const otherCase = (ch: string): string => {
    const u = ch.toUpperCase();
    const l = ch.toLowerCase();
    return ch === u ? (l.length === 1 ? l : ch) : u.length === 1 ? u : ch;
  };

  const escape = (inClass: boolean): string => {
    // p[i] is the char after the backslash.
    const c = p[i];
    if (c === undefined) return bad('trailing backslash');
    i++;
    switch (c) {
      case 'd': case 'D': case 'w': case 'W':
        return '\\' + c;
      case 'b': case 'B':
        if (inClass) bad(`\\${c} in a character class`);
        return '\\' + c;
      case 's':
        return inClass ? '\\t\\n\\f\\r ' : '[\\t\\n\\f\\r ]';
      case 'S':
        if (inClass) unsupported('\\S inside a character class');
        return '[^\\t\\n\\f\\r ]';
      case 'A':
        if (inClass) bad('\\A in a character class');
        return '^';
      case 'z':
        if (inClass) bad('\\z in a character class');
        return '$';
      case 'n': case 't': case 'r': case 'f': case 'v':
        return '\\' + c;
      case 'a':
        return '\\x07';
      case 'x': {
        if (p[i] === '{') {
          const end = p.indexOf('}', i);
          if (end < 0) bad('unterminated \\x{');
          const h = p.slice(i + 1, end);
          if (!/^[0-9a-fA-F]{1,6}$/.test(h) || parseInt(h, 16) > 0x10ffff) bad(`bad escape \\x{${h}}`);
          i = end + 1;
          return hex(parseInt(h, 16));
        }
        const h = p.slice(i, i + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) bad('bad \\x escape');
        i += 2;
        return hex(parseInt(h, 16));
      }
      case 'p': case 'P': {
        let name: string;
        if (p[i] === '{') {
          const end = p.indexOf('}', i);
          if (end < 0) bad('unterminated \\p{');
          name = p.slice(i + 1, end);
          i = end + 1;
        } else {
          name = p[i] ?? bad('\\p at end of pattern');
          i++;
        }
        let negate = c === 'P';
        if (name.startsWith('^')) {
          negate = !negate;
          name = name.slice(1);
        }
        if (name === 'Any') return negate ? (inClass ? unsupported('\\P{Any}') : '[^\\s\\S]') : inClass ? '\\s\\S' : '[\\s\\S]';
        if (!/^[A-Za-z_]+$/.test(name)) bad(`bad Unicode class name ${name}`);
        const prop = GENERAL_CATEGORY.test(name) ? name : `Script=${name}`;
        return `\\${negate ? 'P' : 'p'}{${prop}}`;
      }
      case 'Q': {
        if (inClass) bad('\\Q in a character class');
        const end = p.indexOf('\\E', i);
        const lit = end < 0 ? p.slice(i) : p.slice(i, end);
        i = end < 0 ? p.length : end + 2;
        let s = '';
        for (const ch of lit) s += literal(ch, false);
        return s;
      }
      default: {
        if (c >= '1' && c <= '9') bad(`backreference \\${c} (RE2 has none)`);
        if (c === '0') unsupported('octal escapes');
        if (/[A-Za-z0-9]/.test(c)) bad(`unknown escape \\${c}`);
        // Escaped punctuation or another literal.
        const cp = p.codePointAt(i - 1)!;
        if (cp > 0xffff) i++;
        return literal(String.fromCodePoint(cp), inClass);
      }
    }
  };

  const literal = (ch: string, inClass: boolean): string => {
    if (JS_SYNTAX.includes(ch) || (inClass && ch === '-')) return '\\' + ch;
    if (/[A-Za-z0-9_ ]/.test(ch) || ch.codePointAt(0)! > 0x7f) return ch;
    return hex(ch.codePointAt(0)!);
  };

  const charClass = (): string => {
    // p[i-1] was '['.
    let s = '[';
    if (p[i] === '^') {
      s += '^';
      i++;
    }
    let first = true;
    while (true) {
      if (i >= p.length) bad('missing closing ]');
      const c = p[i]!;
      if (c === ']' && !first) {
        i++;
        return s + ']';
      }
      first = false;
      if (c === '[' && p[i + 1] === ':') {
        const end = p.indexOf(':]', i + 2);
        if (end < 0) {
          s += '\\[';
          i++;
          continue;
        }
        let name = p.slice(i + 2, end);
        if (name.startsWith('^')) unsupported('negated POSIX classes');
        const body = POSIX_CLASSES[name];
        if (!body) bad(`unknown POSIX class [:${name}:]`);
        s += body;
        i = end + 2;
        continue;
      }
      if (c === '\\') {
        i++;
        s += escape(true);
        continue;
      }
      if (c === '-') {
        // A range dash between two members stays a dash; a literal one at either end is escaped.
        const atEdge = s.endsWith('[') || s.endsWith('[^') || p[i + 1] === ']';
        s += atEdge ? '\\-' : '-';
        i++;
        continue;
      }
      const cp = p.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      i += ch.length;
      const esc = (x: string) => (x === '[' || x === ']' || x === '\\' || x === '/' ? '\\' + x : x);
      if (ci && p[i] === '-' && p[i + 1] !== undefined && !']\\['.includes(p[i + 1]!)) {
        // A range: with case folded, its other-case twin too (a-z -> a-zA-Z).
        const hi = String.fromCodePoint(p.codePointAt(i + 1)!);
        i += 1 + hi.length;
        s += `${esc(ch)}-${esc(hi)}`;
        if (/^[a-z]$/.test(ch) && /^[a-z]$/.test(hi)) s += `${ch.toUpperCase()}-${hi.toUpperCase()}`;
        else if (/^[A-Z]$/.test(ch) && /^[A-Z]$/.test(hi)) s += `${ch.toLowerCase()}-${hi.toLowerCase()}`;
        else if (/[a-zA-Z]/.test(ch + hi)) unsupported('a case-insensitive range that mixes letters and other characters');
        continue;
      }
      s += esc(ch);
      if (ci && otherCase(ch) !== ch) s += esc(otherCase(ch));
    }
  };

  while (i < p.length) {
    const c = p[i]!;
    if (c === '\\') {
      i++;
      out += escape(false);
    } else if (c === '[') {
      i++;
      out += charClass();
    } else if (c === '(') {
      if (p[i + 1] === '?') {
        const rest = p.slice(i + 2);
        const flags = /^([imsU-]+)([:)])/.exec(rest);
        if (rest.startsWith(':')) {
          groups.push(ci);
          out += '(?:';
          i += 3;
        } else if (rest.startsWith('P<')) {
          groups.push(ci);
          out += '(?<';
          i += 4;
        } else if (rest.startsWith('<') && !rest.startsWith('<=') && !rest.startsWith('<!')) {
          groups.push(ci);
          out += '(?<';
          i += 3;
        } else if (/^(=|!|<=|<!)/.test(rest)) {
          bad('look-around assertions (RE2 has none)');
        } else if (flags) {
          i += 2 + flags[0].length;
          if (flags[2] === ':') {
            // (?i:...): a group of its own flags.
            groups.push(ci);
            ci = applyFlags(flags[1]!, ci);
            out += '(?:';
          } else ci = applyFlags(flags[1]!, ci); // (?i): the rest of the enclosing group
        } else {
          bad('bad group syntax');
        }
      } else {
        groups.push(ci);
        out += '(';
        i++;
      }
    } else if (c === ')') {
      if (groups.length === 0) bad('unexpected )');
      ci = groups.pop()!;
      out += ')';
      i++;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
      if (m && out !== '' && !out.endsWith('(') && !out.endsWith('|')) {
        const lo = Number(m[1]);
        const hi = m[3] ? Number(m[3]) : lo;
        if (lo > MAX_REPEAT || hi > MAX_REPEAT) bad(`repeat count over ${MAX_REPEAT}`);
        if (m[3] && hi < lo) bad('bad repeat range');
        out += m[0];
        i += m[0].length;
      } else {
        out += '\\{';
        i++;
      }
    } else if (c === '}') {
      out += '\\}';
      i++;
    } else if (c === '/') {
      out += '\\/';
      i++;
    } else {
      const cp = p.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      const other = ci ? otherCase(ch) : ch;
      out += other === ch ? ch : `[${ch}${other}]`;
      i += ch.length;
    }
  }
  return { source: out, ignoreCase };
}
