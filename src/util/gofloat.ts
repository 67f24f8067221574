/**
 * Go's strconv float text, where Prometheus's input or output depends on it: ParseFloat's
 * syntax, and FormatFloat's 'f' and 'e' formats and %g (shortest digits unless a precision is
 * given). JavaScript already finds the shortest round-trip digits (String, toExponential) and
 * rounds decimal input correctly (Number), as Go does; what is left here is Go's notation
 * around those digits. Every formatter spells the non-finite values as Go does: NaN, +Inf, -Inf.
 */

/** Why ParseFloat fails, as Go's strconv.ErrSyntax and strconv.ErrRange tell it. */
export type ParseFloatError = 'syntax' | 'range';

/** The variants of ParseFloat's syntax that callers turn on or off. */
export interface ParseFloatOptions {
  /** Hexadecimal mantissas with a binary exponent (`0x1.8p3`), accepted since Go 1.13 (default true); Prometheus's exposition parsers refuse them. */
  readonly hex?: boolean;
}

const DECIMAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/;

/**
 * Go's `strconv.ParseFloat(s, 64)`, with the error kind where Go fails: 'range' for a finite
 * literal beyond float64 (Go's ±Inf with ErrRange; underflow is no error, it gives ±0).
 * `Inf`, `+Inf`, `-Inf`, `infinity` and `NaN` are read in any case, NaN without a sign.
 * Underscores between digits, which Go accepts, are refused: Prometheus's text parsers reject
 * them and no caller wants them.
 */
export function parseFloatOrError(s: string, opts?: ParseFloatOptions): number | ParseFloatError {
  if (DECIMAL.test(s)) {
    const v = Number(s);
    return v === Infinity || v === -Infinity ? 'range' : v;
  }
  const lower = s.toLowerCase();
  const c = lower.charCodeAt(0);
  const unsigned = c === 43 || c === 45 ? lower.slice(1) : lower; // '+', '-'
  if (unsigned === 'inf' || unsigned === 'infinity') return c === 45 ? -Infinity : Infinity;
  if (lower === 'nan') return NaN;
  if (opts?.hex !== false) {
    const h = HEX.exec(s);
    if (h && (h[2] !== '' || (h[3] ?? '') !== '')) {
      const frac = h[3] ?? '';
      const v = hexFloat(h[2]! + frac, Number(h[4]) - 4 * frac.length);
      if (v === Infinity) return 'range';
      return h[1] === '-' ? -v : v;
    }
  }
  return 'syntax';
}

/**
 * Go's `strconv.ParseInt(s, 0, 64)` as a double: decimal, 0x hex, 0o/0b, and a leading 0 for
 * octal, with underscores between digits; undefined on bad syntax or beyond int64.
 */
export function parseGoInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!.replace(/_/g, '');
  let v: bigint;
  if (/^0[xXbBoO]/.test(body)) v = BigInt(body.toLowerCase());
  else if (body.length > 1 && body[0] === '0') v = BigInt('0o' + body.slice(1));
  else v = BigInt(body);
  if (m[1] === '-') v = -v;
  if (v > 9223372036854775807n || v < -9223372036854775808n) return undefined;
  return Number(v);
}

/** Go's `strconv.ParseFloat(s, 64)`; undefined where Go returns an error (see parseFloatOrError). */
export function parseFloat(s: string, opts?: ParseFloatOptions): number | undefined {
  const v = parseFloatOrError(s, opts);
  return typeof v === 'number' ? v : undefined;
}

/**
 * The double nearest to 0x`digits` × 2^`exp2` (ties to even, as Go rounds), Infinity beyond
 * float64. A BigInt mantissa: summing hex digits into a double would round once per digit
 * past 53 bits, and 2^exp2 alone may underflow where the product does not.
 */
function hexFloat(digits: string, exp2: number): number {
  let mant = BigInt('0x' + digits);
  if (mant === 0n) return 0;
  const top = mant.toString(2).length - 1 + exp2; // the binary exponent of the leading bit
  if (top > 1023) return Infinity;
  if (top < -1075) return 0; // below half the smallest subnormal
  // The exponent of the last bit a double keeps at this magnitude (fewer bits when subnormal).
  const lsb = Math.max(top - 52, -1074);
  if (lsb > exp2) {
    const drop = BigInt(lsb - exp2);
    const kept = mant >> drop;
    const rest = mant - (kept << drop);
    const half = 1n << (drop - 1n);
    mant = rest > half || (rest === half && (kept & 1n) === 1n) ? kept + 1n : kept;
    exp2 = lsb;
  }
  // At most 53 bits times a power of two in range: exact, or Infinity if rounding carried past 2^1024.
  return Number(mant) * 2 ** exp2;
}

/** The spelling of a value that has no digits (NaN, ±Inf), or undefined for a finite one. */
function nonFinite(f: number): string | undefined {
  if (f !== f) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  return undefined;
}

/** As nonFinite, and zero with its sign, which JS's String(-0) loses; undefined otherwise. */
function noDigits(f: number): string | undefined {
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  return nonFinite(f);
}

/**
 * Go's `strconv.FormatFloat(f, 'f', prec, 64)`: never an exponent; with prec -1 (the default)
 * the shortest digits that read back as `f`, otherwise `prec` decimals rounded half to even
 * (so prec 6 is fmt's `%f`).
 */
export function formatF(f: number, prec = -1): string {
  if (prec < 0) {
    const nd = noDigits(f);
    if (nd !== undefined) return nd;
    const s = String(f);
    const e = s.indexOf('e');
    if (e < 0) return s; // JS writes 1e-6 <= |f| < 1e21 plainly, with the same shortest digits
    return expandExponent(s, e);
  }
  const nf = nonFinite(f);
  if (nf !== undefined) return nf;
  const neg = f < 0 || Object.is(f, -0);
  const a = Math.abs(f);
  let s: string;
  // From 1e21 up toFixed switches to an exponent; such doubles are integers, BigInt writes them whole.
  if (a >= 1e21) s = BigInt(a).toString() + (prec > 0 ? '.' + '0'.repeat(prec) : '');
  else {
    s = a.toFixed(prec);
    // toFixed is exact but breaks an exact tie upwards; Go breaks it to even. A double is an exact
    // tie at decimal prec+1 when it is an odd multiple of 2^-(prec+1) (its last decimal is that 5).
    const scaled = a * 2 ** (prec + 1);
    if (Number.isInteger(scaled) && scaled % 2 === 1) {
      let down = a.toFixed(prec + 1).slice(0, -1);
      if (prec === 0) down = down.slice(0, -1); // the decimal point
      if (Number(down[down.length - 1]) % 2 === 0) s = down;
    }
  }
  return neg ? '-' + s : s;
}

/** Rewrites JS's `d.ddde±x` (the exponent at index `e`) as plain digits. */
function expandExponent(s: string, e: number): string {
  const neg = s[0] === '-';
  const digits = s.slice(neg ? 1 : 0, e).replace('.', '');
  const point = Number(s.slice(e + 1)) + 1; // digits before the decimal point
  let out: string;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return neg ? '-' + out : out;
}

/** Go's `strconv.FormatFloat(f, 'e', -1, 64)`: shortest digits, `d.ddde±XX` with at least two exponent digits. */
export function formatE(f: number): string {
  return nonFinite(f) ?? exponential(f);
}

function exponential(f: number): string {
  // toExponential() without an argument gives the shortest round-trip digits, but drops -0's sign.
  const s = Object.is(f, -0) ? '-0e+0' : f.toExponential();
  const e = s.indexOf('e');
  return s.length - e === 3 ? s.slice(0, e + 2) + '0' + s.slice(e + 2) : s;
}

/** Go's %g (`strconv.FormatFloat(f, 'g', -1, 64)`): the 'e' form when the exponent is below -4 or at least 6, else 'f'. */
export function formatG(f: number): string {
  const nd = noDigits(f);
  if (nd !== undefined) return nd;
  const s = exponential(f);
  const x = Number(s.slice(s.indexOf('e') + 1));
  return x < -4 || x >= 6 ? s : formatF(f);
}

/**
 * The shortest text that reads back as `f` (through Go's ParseFloat and JS's Number alike) in
 * JavaScript's notation: plain from 1e-6 up to 1e21, an exponent as short as may be outside
 * (`1e-7`, `1e+21`), with Go's spellings NaN, +Inf, -Inf and a signed `-0`.
 */
export function formatShortest(f: number): string {
  return noDigits(f) ?? String(f);
}
