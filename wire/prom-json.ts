/**
 * JSON exactly as Prometheus's HTTP API writes it, so clients that compare or
 * parse bytes (Grafana, promtool, tests against real Prometheus) see no
 * difference. Prometheus encodes with Go's rules: `<`, `>`, `&`, U+2028 and
 * U+2029 escaped as \uXXXX, invalid UTF-16 replaced by U+FFFD.
 */
/** A flat, name-sorted label list [name0, value0, ...]. */
type Labels = readonly string[];

const HEX = '0123456789abcdef';

/** A JSON string literal with Go's encoding/json escaping. */
export function goString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      switch (c) {
        case 0x22: esc = '\\"'; break;
        case 0x5c: esc = '\\\\'; break;
        case 0x0a: esc = '\\n'; break;
        case 0x0d: esc = '\\r'; break;
        case 0x09: esc = '\\t'; break;
        default:
          esc = '\\u' + HEX[(c >> 12) & 15] + HEX[(c >> 8) & 15] + HEX[(c >> 4) & 15] + HEX[c & 15];
      }
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      esc = '\ufffd';
    }
    if (esc !== undefined) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

/** A label set as Prometheus prints a series in messages: `{__name__="up", job="api"}`. */
export function labelsText(ls: Labels): string {
  const parts: string[] = [];
  for (let i = 0; i < ls.length; i += 2) parts.push(`${ls[i]}=${goString(ls[i + 1]!)}`);
  return `{${parts.join(', ')}}`;
}

/** `{"name":"value",...}` in the label set's (sorted) order. */
export function labelsObject(ls: Labels): string {
  let out = '{';
  for (let i = 0; i < ls.length; i += 2) {
    if (i > 0) out += ',';
    out += goString(ls[i]!) + ':' + goString(ls[i + 1]!);
  }
  return out + '}';
}

/** A success answer; `warnings` and `infos` (Prometheus 3's annotations) only when there are some. */
export function successJson(dataJson: string, warnings: readonly string[] = [], infos: readonly string[] = []): string {
  const w = warnings.length ? `,"warnings":[${warnings.map(goString).join(',')}]` : '';
  const i = infos.length ? `,"infos":[${infos.map(goString).join(',')}]` : '';
  return `{"status":"success","data":${dataJson}${w}${i}}`;
}

export type { PromErrorType } from './errors.js';
import type { PromErrorType } from './errors.js';

export function errorJson(type: PromErrorType, message: string): string {
  return `{"status":"error","errorType":${goString(type)},"error":${goString(message)}}`;
}

export function stringArray(xs: readonly string[]): string {
  return '[' + xs.map(goString).join(',') + ']';
}
