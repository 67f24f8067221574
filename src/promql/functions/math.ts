/**
 * PromQL's elementwise math functions (abs … atanh, round, clamp), bit-exact with Prometheus as
 * built for linux/amd64 (the release binaries, GOAMD64=v1).
 *
 * Why not just Math.*: Prometheus calls Go's `math` package, whose algorithms differ from V8's
 * fdlibm ports in the last bit for many inputs, and in places far more than that:
 *  - Exp on amd64 is hand-written assembly (Shibata's method) that returns +Inf from x ≈ 709.436
 *    (where the 2^k scale factor leaves the exponent range, though e^x is still finite); it uses
 *    fused multiply-adds when the CPU has AVX+FMA, which changes the rounding, so both variants
 *    are here (see setExpFMA).
 *  - Log on amd64 is assembly too: FreeBSD's reduction without its special cases, and a
 *    frexp that does not normalise subnormals.
 *  - sin/cos/tan, atan, tanh come from Cephes, sinh/cosh from Hart & Cheney, asinh/acosh/atanh
 *    and log1p from FreeBSD msun; log2/log10 are derived from Log.
 * The ports below follow Go's operation order exactly (amd64 v1 does not fuse a*b+c), so each
 * rounding happens where it happens in Go. Sqrt, Floor, Ceil and Abs are exact in both worlds.
 */

// ---------------------------------------------------------------------------------------------
// float64 bit access

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer); // little-endian: U32[0] low word, U32[1] high word

/** The float64 whose high and low 32-bit words are given. */
function fromWords(hi: number, lo: number): number {
  U32[1] = hi;
  U32[0] = lo;
  return F64[0]!;
}

/** The 64-bit pattern of x as a BigInt (slow path only). */
function bitsOf(x: number): bigint {
  F64[0] = x;
  return (BigInt(U32[1]!) << 32n) | BigInt(U32[0]!);
}

/** The float64 with the given 64-bit pattern (slow path only). */
function fromBits(b: bigint): number {
  U32[1] = Number((b >> 32n) & 0xffffffffn);
  U32[0] = Number(b & 0xffffffffn);
  return F64[0]!;
}

// ---------------------------------------------------------------------------------------------
// Fused multiply-add, emulated exactly

const SPLITTER = 134217729; // 2^27 + 1, Veltkamp's constant for float64

/**
 * Go's math.FMA / the CPU's vfmadd: a*b + c with a single rounding. Emulated with an exact
 * product (Dekker), an exact sum (Knuth's TwoSum) and Boldo & Melquiond's rounding-to-odd of the
 * low parts, which makes the final rounding correct. Valid while a*b neither overflows nor
 * underflows, which holds for every use in this file.
 */
export function fma(a: number, b: number, c: number): number {
  const p = a * b;
  if (!Number.isFinite(p) || !Number.isFinite(c) || p === 0) return p + c;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const pe = ah * bh - p + ah * bl + al * bh + al * bl; // p + pe === a*b exactly
  const th = c + p;
  const bv = th - c;
  const tl = c - (th - bv) + (p - bv); // th + tl === c + p exactly
  return th + addRoundToOdd(tl, pe);
}

/** x + y rounded to odd: exact sums are kept, inexact ones go to the neighbour with an odd last bit. */
function addRoundToOdd(x: number, y: number): number {
  const s = x + y;
  const bv = s - x;
  const err = x - (s - bv) + (y - bv);
  if (err === 0) return s;
  F64[0] = s;
  if ((U32[0]! & 1) === 1) return s;
  // s is even, so the other neighbour of the exact sum (towards err) is odd.
  const away = err > 0 === s > 0;
  if (away) U32[0] = U32[0]! + 1; // even low word: no carry
  else if (U32[0] === 0) {
    U32[0] = 0xffffffff;
    U32[1] = U32[1]! - 1;
  } else U32[0] = U32[0]! - 1;
  return F64[0]!;
}

// ---------------------------------------------------------------------------------------------
// Exp (amd64 assembly: Shibata's method, Taylor series on x/16 then squared four times)

const LOG2E = 1.442695040888963407359924681001892;
const LN2U = 0.69314718055966295651160180568695068359375; // upper half of ln 2
const LN2L = 0.28235290563031577122588448175013436025525412068e-12; // lower half of ln 2
const EXP_OVERFLOW = 7.09782712893384e2;
const E_HALF = 0.5;
const E_1_6 = 1.6666666666666666667e-1;
const E_1_24 = 4.1666666666666666667e-2;
const E_1_120 = 8.3333333333333333333e-3;
const E_1_720 = 1.3888888888888888889e-3;
const E_1_5040 = 1.984126984126984127e-4;
const E_1_40320 = 2.4801587301587301587e-5;

let expUsesFMA = true;

/**
 * Chooses which of Go's two amd64 Exp code paths to reproduce: the FMA one (CPUs with AVX and
 * FMA, i.e. any x86 server since 2013; the default) or the plain SSE2 one.
 */
export function setExpFMA(on: boolean): void {
  expUsesFMA = on;
}

/** CVTSD2SL: float64 to int32, rounding to nearest even; NaN and out-of-range give -2^31. */
function cvtsd2sl(v: number): number {
  if (!(v > -2147483648.5 && v < 2147483647.5)) return -2147483648;
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1; // Math.round breaks ties upwards; SSE breaks them to even
  if (r > 2147483647 || r < -2147483648) return -2147483648;
  return r;
}

/** Go's math.Exp on amd64 (exp_amd64.s). */
export function goExp(x: number): number {
  if (x !== x || x === Infinity) return x;
  if (x === -Infinity) return 0;
  if (x > EXP_OVERFLOW) return Infinity;
  const k = cvtsd2sl(LOG2E * x);
  let r: number;
  if (expUsesFMA) {
    r = fma(-k, LN2U, x);
    r = fma(-k, LN2L, r);
    r *= 0.0625;
    let p = E_1_40320;
    p = fma(p, r, E_1_5040);
    p = fma(p, r, E_1_720);
    p = fma(p, r, E_1_120);
    p = fma(p, r, E_1_24);
    p = fma(p, r, E_1_6);
    p = fma(p, r, E_HALF);
    p = fma(p, r, 1);
    r = r * p;
    r = r * (r + 2);
    r = r * (r + 2);
    r = r * (r + 2);
    r = fma(r, r + 2, 1);
  } else {
    r = x - LN2U * k;
    r = r - LN2L * k;
    r *= 0.0625;
    let p = E_1_40320 * r;
    p = (p + E_1_5040) * r;
    p = (p + E_1_720) * r;
    p = (p + E_1_120) * r;
    p = (p + E_1_24) * r;
    p = (p + E_1_6) * r;
    p = (p + E_HALF) * r;
    p = p + 1;
    r = r * p;
    r = r * (r + 2);
    r = r * (r + 2);
    r = r * (r + 2);
    r = r * (r + 2);
    r = r + 1;
  }
  // Scale by 2^k through the exponent bits. Above the normal range the result is +Inf; below
  // it the assembly scales in two steps, 2^(k+1022) and then 2^-1022, so that only the last
  // multiplication rounds into a subnormal; below 2^-1074 (k < -1075) it gives 0.
  let e = k + 0x3ff;
  if (e <= 0) {
    if (e < -52) return 0;
    e += 0x3fe;
    r *= fromWords(e << 20, 0);
    return r * fromWords(1 << 20, 0);
  }
  if (e >= 0x7ff) return Infinity;
  return r * fromWords(e << 20, 0);
}

// ---------------------------------------------------------------------------------------------
// Logarithms

const LN2_HI = 6.9314718036912381649e-1; // 0x3fe62e42fee00000
const LN2_LO = 1.90821492927058770002e-10; // 0x3dea39ef35793c76
const L1 = 6.66666666666673513e-1;
const L2 = 3.999999999940941908e-1;
const L3 = 2.857142874366239149e-1;
const L4 = 2.222219843214978396e-1;
const L5 = 1.818357216161805012e-1;
const L6 = 1.531383769920937332e-1;
const L7 = 1.479819860511658591e-1;
const HALF_SQRT2 = 7.07106781186547524401e-1;

/** Go's math.Log on amd64 (log_amd64.s). */
export function goLog(x: number): number {
  if (x === 0) return -Infinity; // ±0
  F64[0] = x;
  const hi = U32[1]!;
  if (hi >>> 31 === 1) return NaN; // any negative value, -Inf and negative-signed NaNs
  if (x !== x || x === Infinity) return x;
  // frexp by bit surgery: mantissa with exponent of 0.5; subnormals are not normalised.
  let k = ((hi >>> 20) & 0x7ff) - 0x3fe;
  U32[1] = (hi & 0x000fffff) | 0x3fe00000;
  let f1 = F64[0]!;
  if (f1 <= HALF_SQRT2) {
    // The assembly compares "not less than", so f1 equal to √2/2 is doubled too.
    k -= 1;
    f1 *= 2;
  }
  const f = f1 - 1;
  const s = f / (2 + f);
  const s2 = s * s;
  const s4 = s2 * s2;
  const t1 = s2 * (L1 + s4 * (L3 + s4 * (L5 + s4 * L7)));
  const t2 = s4 * (L2 + s4 * (L4 + s4 * L6));
  const R = t1 + t2;
  const hfsq = 0.5 * f * f;
  return k * LN2_HI - (hfsq - (s * (hfsq + R) + k * LN2_LO) - f);
}

/** Go's math.Frexp: x = frac × 2^exp with |frac| in [0.5, 1); the pair is written into `out`. */
function frexp(x: number, out: [number, number]): void {
  if (x === 0 || x !== x || x === Infinity || x === -Infinity) {
    out[0] = x;
    out[1] = 0;
    return;
  }
  let exp = 0;
  if (Math.abs(x) < 2.2250738585072014e-308) {
    x *= 4503599627370496; // 2^52: normalise a subnormal
    exp = -52;
  }
  F64[0] = x;
  const hi = U32[1]!;
  exp += ((hi >>> 20) & 0x7ff) - 1022;
  U32[1] = (hi & 0x800fffff) | 0x3fe00000;
  out[0] = F64[0]!;
  out[1] = exp;
}

const FREXP: [number, number] = [0, 0];

/** Go's math.Log2: exact for powers of two, else Log(frac)/ln2 + exp. */
export function goLog2(x: number): number {
  frexp(x, FREXP);
  const frac = FREXP[0];
  const exp = FREXP[1];
  if (frac === 0.5) return exp - 1;
  return goLog(frac) * Math.LOG2E + exp;
}

/** Go's math.Log10: Log(x) × (1/ln 10). */
export function goLog10(x: number): number {
  return goLog(x) * Math.LOG10E;
}

/** Go's math.Log1p (FreeBSD s_log1p.c, pure Go on amd64). */
export function goLog1p(x: number): number {
  const Sqrt2M1 = 4.142135623730950488017e-1;
  const Sqrt2HalfM1 = -2.928932188134524755992e-1;
  const Small = 1 / 536870912; // 2^-29
  const Tiny = 1 / 18014398509481984; // 2^-54
  const Two53 = 9007199254740992;
  if (x < -1 || x !== x) return NaN;
  if (x === -1) return -Infinity;
  if (x === Infinity) return Infinity;
  const absx = Math.abs(x);
  let f = 0;
  // Go's iu: the 52 mantissa bits of u (exact in a double), later only tested against zero.
  let iu = 0;
  let k = 1;
  if (absx < Sqrt2M1) {
    if (absx < Small) {
      if (absx < Tiny) return x;
      return x - x * x * 0.5;
    }
    if (x > Sqrt2HalfM1) {
      k = 0;
      f = x;
      iu = 1;
    }
  }
  let c = 0;
  if (k !== 0) {
    let u: number;
    if (absx < Two53) {
      u = 1.0 + x;
      c = 0;
    } else {
      u = x;
    }
    F64[0] = u;
    const hi = U32[1]!;
    const lo = U32[0]!;
    k = (hi >>> 20) - 1023;
    if (absx < Two53) {
      c = k > 0 ? 1.0 - (u - x) : x - (u - 1.0);
      c /= u;
    }
    const mhi = hi & 0x000fffff;
    iu = mhi * 4294967296 + lo;
    if (iu < 0x6a09e667f3bcd) {
      // mantissa below that of √2: normalise u into [1, √2)
      u = fromWords(mhi | 0x3ff00000, lo);
    } else {
      k++;
      u = fromWords(mhi | 0x3fe00000, lo); // u/2, in [√2/2, 1)
      iu = Math.floor((4503599627370496 - iu) / 4);
    }
    f = u - 1.0;
  }
  const hfsq = 0.5 * f * f;
  if (iu === 0) {
    if (f === 0) {
      if (k === 0) return 0;
      c += k * LN2_LO;
      return k * LN2_HI + c;
    }
    const R = hfsq * (1.0 - 0.66666666666666666 * f);
    if (k === 0) return f - R;
    return k * LN2_HI - (R - (k * LN2_LO + c) - f);
  }
  const s = f / (2.0 + f);
  const z = s * s;
  const R = z * (L1 + z * (L2 + z * (L3 + z * (L4 + z * (L5 + z * (L6 + z * L7))))));
  if (k === 0) return f - (hfsq - s * (hfsq + R));
  return k * LN2_HI - (hfsq - (s * (hfsq + R) + (k * LN2_LO + c)) - f);
}

// ---------------------------------------------------------------------------------------------
// Trigonometry (Cephes)

const PI4A = 7.85398125648498535156e-1; // π/4 in three parts
const PI4B = 3.77489470793079817668e-8;
const PI4C = 2.69515142907905952645e-15;
const FOUR_OVER_PI = 1.2732395447351628; // float64(4/π), 0x3ff45f306dc9c883
const REDUCE_THRESHOLD = 536870912; // 2^29: above it Payne–Hanek reduction is used

const SIN = [
  1.5896230157654656806e-10, -2.50507477628578072866e-8, 2.75573136213857245213e-6, -1.98412698295895385996e-4,
  8.33333333332211858878e-3, -1.66666666666666307295e-1,
] as const;
const COS = [
  -1.135853652138768173e-11, 2.08757008419747316778e-9, -2.75573141792967388112e-7, 2.48015872888517045348e-5,
  -1.38888888888730564116e-3, 4.16666666666665929218e-2,
] as const;

/** Binary digits of 4/π, 64 per entry (Go's mPi4), for Payne–Hanek reduction of huge arguments. */
const M_PI4 = [
  0x0000000000000001n, 0x45f306dc9c882a53n, 0xf84eafa3ea69bb81n, 0xb6c52b3278872083n, 0xfca2c757bd778ac3n,
  0x6e48dc74849ba5c0n, 0x0c925dd413a32439n, 0xfc3bd63962534e7dn, 0xd1046bea5d768909n, 0xd338e04d68befc82n,
  0x7323ac7306a673e9n, 0x3908bf177bf25076n, 0x3ff12fffbc0b301fn, 0xde5e2316b414da3en, 0xda6cfd9e4f96136en,
  0x9e8c7ecd3cbfd45an, 0xea4f758fd7cbe2f6n, 0x7a0e73ef14a525d4n, 0xd7f6bf623f1aba10n, 0xac06608df8f6d757n,
];
const MASK64 = 0xffffffffffffffffn;

/** Go's uint64 shifts: counts of 64 or more (including wrapped "negative" ones) give 0. */
function shl64(v: bigint, n: number): bigint {
  return n >= 64 || n < 0 ? 0n : (v << BigInt(n)) & MASK64;
}
function shr64(v: bigint, n: number): bigint {
  return n >= 64 || n < 0 ? 0n : v >> BigInt(n);
}

/** The octant j (0..7) and the remainder z of x/(π/4), by Go's trigReduce (Payne–Hanek), for x ≥ 2^29. */
function trigReduce(x: number, out: [number, number]): void {
  const PI4 = Math.PI / 4;
  if (x < PI4) {
    out[0] = 0;
    out[1] = x;
    return;
  }
  const bits = bitsOf(x);
  const exp = Number((bits >> 52n) & 0x7ffn) - 1023 - 52;
  const ix = (bits & 0xfffffffffffffn) | (1n << 52n);
  const digit = Math.floor((exp + 61) / 64);
  const bitshift = (exp + 61) % 64;
  const z0 = shl64(M_PI4[digit]!, bitshift) | shr64(M_PI4[digit + 1]!, 64 - bitshift);
  const z1 = shl64(M_PI4[digit + 1]!, bitshift) | shr64(M_PI4[digit + 2]!, 64 - bitshift);
  const z2 = shl64(M_PI4[digit + 2]!, bitshift) | shr64(M_PI4[digit + 3]!, 64 - bitshift);
  const z2hi = (z2 * ix) >> 64n;
  const z1p = z1 * ix;
  const z1hi = z1p >> 64n;
  const z1lo = z1p & MASK64;
  const z0lo = (z0 * ix) & MASK64;
  const loSum = z1lo + z2hi;
  const lo = loSum & MASK64;
  const carry = loSum >> 64n;
  let hi = (z0lo + z1hi + carry) & MASK64;
  let j = Number(hi >> 61n);
  hi = shl64(hi, 3) | (lo >> 61n);
  const lz = hi === 0n ? 64 : 64 - hi.toString(2).length;
  const e = BigInt.asUintN(64, BigInt(1023 - (lz + 1)));
  hi = shl64(hi, lz + 1) | shr64(lo, 64 - (lz + 1));
  hi >>= 12n;
  hi |= (e << 52n) & MASK64;
  let z = fromBits(hi & MASK64);
  if ((j & 1) === 1) {
    j = (j + 1) & 7;
    z--;
  }
  out[0] = j;
  out[1] = z * PI4;
}

const REDUCED: [number, number] = [0, 0];

/** Octant and reduced argument of x ≥ 0 as Go's sin/cos/tan compute them; the pair goes to REDUCED. */
function reduce(x: number): void {
  if (x >= REDUCE_THRESHOLD) {
    trigReduce(x, REDUCED);
    return;
  }
  let j = Math.trunc(x * FOUR_OVER_PI);
  let y = j;
  if ((j & 1) === 1) {
    j++;
    y++;
  }
  REDUCED[0] = j;
  REDUCED[1] = x - y * PI4A - y * PI4B - y * PI4C;
}

function sinPoly(z: number, zz: number): number {
  return z + z * zz * (((((SIN[0] * zz + SIN[1]) * zz + SIN[2]) * zz + SIN[3]) * zz + SIN[4]) * zz + SIN[5]);
}
function cosPoly(zz: number): number {
  return 1.0 - 0.5 * zz + zz * zz * (((((COS[0] * zz + COS[1]) * zz + COS[2]) * zz + COS[3]) * zz + COS[4]) * zz + COS[5]);
}

/** Go's math.Sin. */
export function goSin(x: number): number {
  if (x === 0 || x !== x) return x;
  if (x === Infinity || x === -Infinity) return NaN;
  let sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  reduce(x);
  let j = REDUCED[0] & 7;
  const z = REDUCED[1];
  if (j > 3) {
    sign = !sign;
    j -= 4;
  }
  const zz = z * z;
  const y = j === 1 || j === 2 ? cosPoly(zz) : sinPoly(z, zz);
  return sign ? -y : y;
}

/** Go's math.Cos. */
export function goCos(x: number): number {
  if (x !== x || x === Infinity || x === -Infinity) return NaN;
  let sign = false;
  x = Math.abs(x);
  reduce(x);
  let j = REDUCED[0] & 7;
  const z = REDUCED[1];
  if (j > 3) {
    j -= 4;
    sign = !sign;
  }
  if (j > 1) sign = !sign;
  const zz = z * z;
  const y = j === 1 || j === 2 ? sinPoly(z, zz) : cosPoly(zz);
  return sign ? -y : y;
}

const TAN_P = [-1.30936939181383777646e4, 1.1535166483858741614e6, -1.79565251976484877988e7] as const;
const TAN_Q = [1.0, 1.36812963470692954678e4, -1.32089234440210967447e6, 2.50083801823357915839e7, -5.38695755929454629881e7] as const;

/** Go's math.Tan. */
export function goTan(x: number): number {
  if (x === 0 || x !== x) return x;
  if (x === Infinity || x === -Infinity) return NaN;
  let sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  reduce(x);
  const j = REDUCED[0];
  const z = REDUCED[1];
  const zz = z * z;
  let y: number;
  if (zz > 1e-14) {
    y = z + z * ((zz * ((TAN_P[0] * zz + TAN_P[1]) * zz + TAN_P[2])) / ((((zz + TAN_Q[1]) * zz + TAN_Q[2]) * zz + TAN_Q[3]) * zz + TAN_Q[4]));
  } else y = z;
  if ((j & 2) === 2) y = -1 / y;
  return sign ? -y : y;
}

/** Cephes' arctangent series, valid on [0, 0.66]. */
function xatan(x: number): number {
  const P0 = -8.750608600031904122785e-1;
  const P1 = -1.615753718733365076637e1;
  const P2 = -7.50085579231470466734e1;
  const P3 = -1.22886668449013617341e2;
  const P4 = -6.485021904942025371773e1;
  const Q0 = 2.485846490142306297962e1;
  const Q1 = 1.650270098316988542046e2;
  const Q2 = 4.328810604912902668951e2;
  const Q3 = 4.853903996359136964868e2;
  const Q4 = 1.945506571482613964425e2;
  let z = x * x;
  z = (z * ((((P0 * z + P1) * z + P2) * z + P3) * z + P4)) / (((((z + Q0) * z + Q1) * z + Q2) * z + Q3) * z + Q4);
  return x * z + x;
}

/** Reduces a positive argument to [0, 0.66] for xatan. */
function satan(x: number): number {
  const Morebits = 6.12323399573676588613e-17; // π/2 = float64(π/2) + Morebits
  const Tan3pio8 = 2.4142135623730950488; // tan(3π/8)
  if (x <= 0.66) return xatan(x);
  if (x > Tan3pio8) return Math.PI / 2 - xatan(1 / x) + Morebits;
  return Math.PI / 4 + xatan((x - 1) / (x + 1)) + 0.5 * Morebits;
}

/** Go's math.Atan. */
export function goAtan(x: number): number {
  if (x === 0) return x;
  if (x > 0) return satan(x);
  return -satan(-x);
}

/** Go's math.Asin (via Atan and Sqrt). */
export function goAsin(x: number): number {
  if (x === 0) return x;
  let sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  if (x > 1) return NaN;
  let temp = Math.sqrt(1 - x * x);
  if (x > 0.7) temp = Math.PI / 2 - satan(temp / x);
  else temp = satan(x / temp);
  return sign ? -temp : temp;
}

/** Go's math.Acos: π/2 − Asin(x). */
export function goAcos(x: number): number {
  return Math.PI / 2 - goAsin(x);
}

// ---------------------------------------------------------------------------------------------
// Hyperbolic functions

/** Go's math.Sinh (Hart & Cheney #2029 below 0.5, Exp above). */
export function goSinh(x: number): number {
  const P0 = -0.6307673640497716991184787251e6;
  const P1 = -0.8991272022039509355398013511e5;
  const P2 = -0.2894211355989563807284660366e4;
  const P3 = -0.2630563213397497062819489e2;
  const Q0 = -0.6307673640497716991212077277e6;
  const Q1 = 0.1521517378790019070696485176e5;
  const Q2 = -0.173678953558233699533450911e3;
  let sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  let temp: number;
  if (x > 21) temp = goExp(x) * 0.5;
  else if (x > 0.5) {
    const ex = goExp(x);
    temp = (ex - 1 / ex) * 0.5;
  } else {
    const sq = x * x;
    temp = (((P3 * sq + P2) * sq + P1) * sq + P0) * x;
    temp = temp / (((sq + Q2) * sq + Q1) * sq + Q0);
  }
  return sign ? -temp : temp;
}

/** Go's math.Cosh. */
export function goCosh(x: number): number {
  x = Math.abs(x);
  if (x > 21) return goExp(x) * 0.5;
  const ex = goExp(x);
  return (ex + 1 / ex) * 0.5;
}

/** Go's math.Tanh (Cephes). */
export function goTanh(x: number): number {
  const MAXLOG = 8.8029691931113054295988e1; // log(2^127)
  const P0 = -9.64399179425052238628e-1;
  const P1 = -9.92877231001918586564e1;
  const P2 = -1.61468768441708447952e3;
  const Q0 = 1.12811678491632931402e2;
  const Q1 = 2.23548839060100448583e3;
  const Q2 = 4.84406305325125486048e3;
  let z = Math.abs(x);
  if (z > 0.5 * MAXLOG) return x < 0 ? -1 : 1;
  if (z >= 0.625) {
    const s = goExp(2 * z);
    z = 1 - 2 / (s + 1);
    return x < 0 ? -z : z;
  }
  if (x === 0) return x;
  const s = x * x;
  return x + (x * s * ((P0 * s + P1) * s + P2)) / (((s + Q0) * s + Q1) * s + Q2);
}

const LN2 = 6.93147180559945286227e-1;

/** Go's math.Asinh (FreeBSD s_asinh.c). */
export function goAsinh(x: number): number {
  const NearZero = 1 / 268435456; // 2^-28
  const Large = 268435456; // 2^28
  if (x !== x || x === Infinity || x === -Infinity) return x;
  let sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  let temp: number;
  if (x > Large) temp = goLog(x) + LN2;
  else if (x > 2) temp = goLog(2 * x + 1 / (Math.sqrt(x * x + 1) + x));
  else if (x < NearZero) temp = x;
  else temp = goLog1p(x + (x * x) / (1 + Math.sqrt(1 + x * x)));
  return sign ? -temp : temp;
}

/** Go's math.Acosh (FreeBSD e_acosh.c). */
export function goAcosh(x: number): number {
  const Large = 268435456; // 2^28
  if (x < 1 || x !== x) return NaN;
  if (x === 1) return 0;
  if (x >= Large) return goLog(x) + LN2;
  if (x > 2) return goLog(2 * x - 1 / (x + Math.sqrt(x * x - 1)));
  const t = x - 1;
  return goLog1p(t + Math.sqrt(2 * t + t * t));
}

/** Go's math.Atanh (FreeBSD e_atanh.c). */
export function goAtanh(x: number): number {
  const NearZero = 1 / 268435456; // 2^-28
  if (x < -1 || x > 1 || x !== x) return NaN;
  if (x === 1) return Infinity;
  if (x === -1) return -Infinity;
  let sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  let temp: number;
  if (x < NearZero) temp = x;
  else if (x < 0.5) {
    temp = x + x;
    temp = 0.5 * goLog1p(temp + (temp * x) / (1 - x));
  } else temp = 0.5 * goLog1p((x + x) / (1 - x));
  return sign ? -temp : temp;
}

// ---------------------------------------------------------------------------------------------
// PromQL functions

/** sgn(): -1 or 1 by sign; zeros (keeping their sign) and NaN are returned unchanged. */
function sgn(v: number): number {
  if (v < 0) return -1;
  if (v > 0) return 1;
  return v;
}

/** The elementwise PromQL functions of one float, by name, each bit-exact with Prometheus on amd64. */
export const MATH_FUNCTIONS: ReadonlyMap<string, (v: number) => number> = new Map<string, (v: number) => number>([
  ['abs', Math.abs],
  ['ceil', Math.ceil],
  ['floor', Math.floor],
  ['exp', goExp],
  ['ln', goLog],
  ['log2', goLog2],
  ['log10', goLog10],
  ['sqrt', Math.sqrt],
  ['sgn', sgn],
  // Go evaluates v*180/math.Pi and v*math.Pi/180 left to right, as JavaScript does.
  ['deg', (v: number) => (v * 180) / Math.PI],
  ['rad', (v: number) => (v * Math.PI) / 180],
  ['sin', goSin],
  ['cos', goCos],
  ['tan', goTan],
  ['asin', goAsin],
  ['acos', goAcos],
  ['atan', goAtan],
  ['sinh', goSinh],
  ['cosh', goCosh],
  ['tanh', goTanh],
  ['asinh', goAsinh],
  ['acosh', goAcosh],
  ['atanh', goAtanh],
]);

/** round(v, toNearest) as Prometheus: floor(v / toNearest + 0.5) computed through the inverse, so ties go up. */
export function roundTo(v: number, toNearest = 1): number {
  // Prometheus multiplies by the inverse "as it seems to cause fewer floating point accuracy issues".
  const inverse = 1.0 / toNearest;
  return Math.floor(v * inverse + 0.5) / inverse;
}

/** Go's math.Max: +Inf beats NaN, NaN beats numbers, +0 beats -0. */
export function goMax(x: number, y: number): number {
  if (x === Infinity || y === Infinity) return Infinity;
  if (x !== x || y !== y) return NaN;
  return Math.max(x, y);
}

/** Go's math.Min: -Inf beats NaN, NaN beats numbers, -0 beats +0. */
export function goMin(x: number, y: number): number {
  if (x === -Infinity || y === -Infinity) return -Infinity;
  if (x !== x || y !== y) return NaN;
  return Math.min(x, y);
}

/** Whether clamp(v, min, max) yields no samples at all: Prometheus returns an empty vector when max < min. */
export function clampIsEmpty(min: number, max: number): boolean {
  return max < min;
}

/** clamp(v, min, max) as Prometheus: Max(min, Min(max, v)) with Go's NaN and infinity rules. */
export function clamp(v: number, min: number, max: number): number {
  return goMax(min, goMin(max, v));
}

/**
 * One sample of clamp / clamp_min / clamp_max (clamp_min passes max = +Inf, clamp_max min = -Inf,
 * as Prometheus does): undefined when the call yields no sample (max < min), else the clamped
 * value. The function name is accepted for the caller's convenience; all three share this rule.
 */
export function clampValue(v: number, min: number, max: number, _name?: string): number | undefined {
  if (max < min) return undefined;
  return goMax(min, goMin(max, v));
}
