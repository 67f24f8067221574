/** Number formatting as Go's strconv does it, where Prometheus's output depends on it. */

/** Go's strconv.FormatFloat(f, 'f', -1, 64): shortest round-trip digits, never an exponent. */
export function formatFloat(f: number): string {
  if (f !== f) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const s = String(f);
  const e = s.indexOf('e');
  if (e < 0) return s;
  return expandExponent(s.slice(0, e), Number(s.slice(e + 1)));
}

function expandExponent(mantissa: string, exp: number): string {
  const neg = mantissa.startsWith('-');
  const m = neg ? mantissa.slice(1) : mantissa;
  const dot = m.indexOf('.');
  const digits = dot < 0 ? m : m.slice(0, dot) + m.slice(dot + 1);
  const intLen = (dot < 0 ? m.length : dot) + exp;
  let out: string;
  if (intLen <= 0) out = '0.' + '0'.repeat(-intLen) + digits;
  else if (intLen >= digits.length) out = digits + '0'.repeat(intLen - digits.length);
  else out = digits.slice(0, intLen) + '.' + digits.slice(intLen);
  return (neg ? '-' : '') + out;
}

/** Go's %g (strconv 'g' with shortest precision): exponent form below 1e-4 or from 1e6 up. */
export function formatG(f: number): string {
  if (f !== f) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  // Shortest digits from JS; decide the notation with Go's rule for %g (exp < -4 || exp >= 6).
  const [mant, e] = Math.abs(f).toExponential().split('e') as [string, string];
  const ex = Number(e);
  if (ex < -4 || ex >= 6) {
    const sign = ex < 0 ? '-' : '+';
    const abs = Math.abs(ex);
    return `${f < 0 ? '-' : ''}${mant}e${sign}${abs < 10 ? '0' + abs : abs}`;
  }
  return formatFloat(f);
}
