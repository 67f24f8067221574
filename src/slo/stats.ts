/**
 * Statistics for comparing the new code's scope with the old code's: the Mann-Whitney U test
 * (rank-based, so one outlier machine or a skewed latency distribution does not decide it) with
 * the normal approximation, tie correction and continuity correction, and its effect size.
 */

// W. J. Cody's coefficients, made once (erfc runs at every comparison of every evaluation).
const P0 = [3.1611237438705656, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315];
const Q0 = [23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.236833439171];
const P1 = [0.5641884969886701, 8.883149794388377, 66.11919063714163, 298.635138197400, 881.952221241769, 1712.04761263407, 2051.07837782607, 1230.339354797997, 2.1531153547440383e-8];
const Q1 = [15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597, 4362.619090143247, 3439.3676741437216, 1230.3393548037495];
const P2 = [0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275, 6.587491615298378e-4, 0.016315387137302097];
const Q2 = [2.568520192289822, 1.8729528499234604, 0.5279051029514285, 0.06051834131244132, 0.0023352049762686918];

/** The complementary error function, to ~1e-15 relative (W. J. Cody's rational approximations). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  let r: number;
  if (ax < 0.5) {
    // erf by its series-like rational form near 0.
    const t = x * x;
    const p = P0;
    const q = Q0;
    const num = (((p[4]! * t + p[0]!) * t + p[1]!) * t + p[2]!) * t + p[3]!;
    const den = (((t + q[0]!) * t + q[1]!) * t + q[2]!) * t + q[3]!;
    return 1 - (x * num) / den;
  }
  if (ax < 4) {
    const p = P1;
    const q = Q1;
    let num = p[8]! * ax;
    let den = ax;
    for (let i = 0; i < 7; i++) {
      num = (num + p[i]!) * ax;
      den = (den + q[i]!) * ax;
    }
    r = (num + p[7]!) / (den + q[7]!);
  } else {
    const p = P2;
    const q = Q2;
    const z = 1 / (ax * ax);
    let num = p[5]! * z;
    let den = z;
    for (let i = 0; i < 4; i++) {
      num = (num + p[i]!) * z;
      den = (den + q[i]!) * z;
    }
    r = (z * (num + p[4]!)) / (den + q[4]!);
    r = (1 / Math.sqrt(Math.PI) - r) / ax;
  }
  // exp(-x²) split to keep precision for large |x|.
  const xs = Math.trunc(ax * 16) / 16;
  r *= Math.exp(-xs * xs) * Math.exp(-(ax - xs) * (ax + xs));
  return x < 0 ? 2 - r : r;
}

/** The standard normal CDF. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

export interface MannWhitney {
  /** U of the first sample (number of pairs where it is larger, ties counting half). */
  readonly u: number;
  readonly n1: number;
  readonly n2: number;
  /** The normal approximation's z, with tie and continuity corrections. */
  readonly z: number;
  /** p-value of the one-sided alternative "the first sample tends to be larger". */
  readonly pGreater: number;
  /** p-value of the two-sided alternative. */
  readonly pTwoSided: number;
  /** Probability that a value of the first sample exceeds one of the second (ties half): U / (n1·n2). */
  readonly effect: number;
}

/**
 * Two scratch buffers, grown as needed, with a view of each length asked for: the test runs at
 * every evaluation of a backtest, on windows of the same few lengths.
 */
const scratch: { buf: Float64Array; views: Float64Array[] }[] = [
  { buf: new Float64Array(64), views: [] },
  { buf: new Float64Array(64), views: [] },
];

/** The numbers of `xs` without NaNs, sorted, in scratch buffer `k` (valid until the next call). */
function sortedNumbers(xs: ArrayLike<number>, k: 0 | 1): Float64Array {
  let s = scratch[k]!;
  if (s.buf.length < xs.length) s = scratch[k] = { buf: new Float64Array(xs.length * 2), views: [] };
  const buf = s.buf;
  let n = 0;
  if (xs.length > 64) {
    for (let i = 0; i < xs.length; i++) if (xs[i] === xs[i]) buf[n++] = xs[i]!;
    return (s.views[n] ??= buf.subarray(0, n)).sort();
  }
  // Insertion sort as the values come: comparison windows are a few dozen values, and the
  // built-in sort allocates a copy on every call.
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!;
    if (v !== v) continue;
    let j = n++;
    while (j > 0 && buf[j - 1]! > v) {
      buf[j] = buf[j - 1]!;
      j--;
    }
    buf[j] = v;
  }
  return (s.views[n] ??= buf.subarray(0, n));
}

/** The Mann-Whitney U test of `a` against `b` (NaNs dropped). Undefined when either is empty. */
export function mannWhitneyU(a: ArrayLike<number>, b: ArrayLike<number>): MannWhitney | undefined {
  return mannWhitneySorted(sortedNumbers(a, 0), sortedNumbers(b, 1));
}

/**
 * The Mann-Whitney U test of samples already sorted ascending, without NaNs (a replay keeps its
 * sliding comparison windows sorted, so that each evaluation does not sort them again).
 */
export function mannWhitneySorted(xs: ArrayLike<number>, ys: ArrayLike<number>): MannWhitney | undefined {
  const n1 = xs.length;
  const n2 = ys.length;
  if (n1 === 0 || n2 === 0) return undefined;
  const n = n1 + n2;
  // Ranks by merging the two sorted samples: each run of equal values (from either side)
  // shares its average rank. Ranks are multiples of 1/2, so the sums are exact.
  let rank1 = 0;
  let tieTerm = 0;
  let done = 0;
  for (let i = 0, j = 0; i < n1 || j < n2; ) {
    const v = j >= n2 || (i < n1 && xs[i]! < ys[j]!) ? xs[i]! : ys[j]!;
    let cx = 0;
    while (i < n1 && xs[i] === v) {
      i++;
      cx++;
    }
    let cy = 0;
    while (j < n2 && ys[j] === v) {
      j++;
      cy++;
    }
    const t = cx + cy;
    rank1 += cx * (done + (t + 1) / 2);
    tieTerm += t * t * t - t;
    done += t;
  }
  const u = rank1 - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const sd = Math.sqrt(variance);
  const z = sd > 0 ? (u - mean) / sd : 0;
  const zGreater = sd > 0 ? (u - mean - 0.5) / sd : 0;
  return new MannWhitneyResult(u, n1, n2, z, sd > 0 ? 1 - normalCdf(zGreater) : 1, u / (n1 * n2), sd > 0 ? (Math.abs(u - mean) - 0.5) / sd : undefined);
}

/** A test's result; the two-sided p-value (which a judgement does not read) is computed when read. */
class MannWhitneyResult implements MannWhitney {
  constructor(
    readonly u: number,
    readonly n1: number,
    readonly n2: number,
    readonly z: number,
    readonly pGreater: number,
    readonly effect: number,
    private readonly zTwo: number | undefined,
  ) {}
  get pTwoSided(): number {
    return this.zTwo === undefined ? 1 : Math.min(1, 2 * (1 - normalCdf(Math.max(0, this.zTwo))));
  }
}
