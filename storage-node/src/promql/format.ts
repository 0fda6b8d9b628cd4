/** Numbers as Prometheus's JSON writes them: Go's strconv.FormatFloat(v, 'f', -1, 64). */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const s = String(v);
  if (!s.includes('e')) return s;
  // Expand JavaScript's exponent form: same shortest digits, no exponent.
  const [mant, expStr] = s.split('e') as [string, string];
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const intLen = (mant.replace('-', '').split('.')[0] ?? '').length + exp;
  let out: string;
  if (intLen <= 0) out = '0.' + '0'.repeat(-intLen) + digits;
  else if (intLen >= digits.length) out = digits + '0'.repeat(intLen - digits.length);
  else out = digits.slice(0, intLen) + '.' + digits.slice(intLen);
  return (neg ? '-' : '') + out;
}

/**
 * A float as Prometheus's JSON writes sample values and histogram fields:
 * Go's shortest 'f' form, or its 'e' form below 1e-6 and from 1e21 on.
 */
export function jsonFloat(v: number): string {
  if (Object.is(v, -0)) return '-0'; // Go keeps the sign (a zero threshold of 0 gives the zero bucket [-0, 0])
  const abs = Math.abs(v);
  if (abs !== 0 && Number.isFinite(v) && (abs < 1e-6 || abs >= 1e21)) {
    const [mantissa, exp] = v.toExponential().split('e') as [string, string];
    const e = Number(exp);
    return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return formatFloat(v);
}

/**
 * A timestamp in ms as Prometheus's JSON writes it: whole seconds, then, unless
 * they are 0, the milliseconds as three decimals (`1700000000.200`, not `.2`).
 */
export function formatTime(ms: number): string {
  const t = Math.abs(ms);
  const frac = t % 1000;
  return (ms < 0 ? '-' : '') + String((t - frac) / 1000) + (frac ? '.' + String(frac).padStart(3, '0') : '');
}

/**
 * A float as Go's %g (and %v) writes it in Prometheus's messages: the
 * shortest digits, in exponent form from 1e+06 up and below 1e-04 (NaN,
 * +Inf, 1.01, 100000, 1.5e+06, 1e-05).
 */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, e] = v.toExponential().split('e') as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(v);
}

/** A float as OpenMetrics writes label values (`0.0`, `0.25`, `1.0`, `+Inf`): a decimal point always. */
export function openMetricsFloat(v: number): string {
  const s = goFloat(v);
  return /^[-+]?[0-9]+$/.test(s) ? `${s}.0` : s;
}
