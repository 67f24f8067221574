/**
 * Classic-bucket histogram_quantile, as Prometheus 3.5's `bucketQuantile` (promql/quantile.go).
 *
 * The steps, in Prometheus's order: special q values, sort by upper bound, require a +Inf
 * bucket, merge buckets with equal bounds, then `ensureMonotonicAndIgnoreSmallDeltas` (relative
 * differences up to 1e-12 are float noise and silently levelled in either direction; any other
 * decrease is levelled too but reported, so that the evaluator can add Prometheus's info
 * annotation), and finally linear interpolation inside the bucket holding the rank.
 */

/** One classic bucket: the `le` bound and the cumulative count. */
export interface Bucket {
  upperBound: number;
  count: number;
}

/** What bucketQuantile found: the value and which corrections it had to make. */
export interface BucketQuantileResult {
  /** The estimated quantile (NaN, ±Inf in the special cases). */
  value: number;
  /** A real decrease between buckets was levelled: Prometheus then emits an info annotation. */
  forcedMonotonic: boolean;
  /** Float-noise differences (relative ≤ 1e-12) were levelled silently. */
  fixedPrecision: boolean;
}

/** Relative difference between neighbouring buckets that Prometheus treats as float noise. */
export const SMALL_DELTA_TOLERANCE = 1e-12;

const MIN_NORMAL = 2.2250738585072014e-308; // smallest positive normal float64

/** Prometheus's util/almost.Equal: equal within `epsilon` relative to the sum of magnitudes; NaN equals NaN. */
export function almostEqual(a: number, b: number, epsilon: number): boolean {
  if (a !== a && b !== b) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < MIN_NORMAL) return diff < epsilon * MIN_NORMAL;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

let boundsScratch = new Float64Array(32);
let countsScratch = new Float64Array(32);

function byUpperBound(a: Bucket, b: Bucket): number {
  return a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0;
}

function result(value: number, forcedMonotonic: boolean, fixedPrecision: boolean): BucketQuantileResult {
  return { value, forcedMonotonic, fixedPrecision };
}

/**
 * The q-quantile of a classic histogram given as (upper bound, cumulative count) buckets in any
 * order, as Prometheus 3.5's bucketQuantile. NaN q → NaN; q < 0 → -Inf; q > 1 → +Inf; no +Inf
 * bucket, fewer than two distinct bounds or zero observations → NaN. A rank in the +Inf bucket
 * gives the second-highest bound; in the lowest bucket, interpolation starts at 0 when its bound
 * is positive, else that bound is returned. The input array is not modified.
 */
export function bucketQuantile(q: number, buckets: readonly Bucket[]): BucketQuantileResult {
  if (q !== q) return result(NaN, false, false);
  if (q < 0) return result(-Infinity, false, false);
  if (q > 1) return result(Infinity, false, false);
  const n = buckets.length;
  if (n === 0) return result(NaN, false, false);

  // Sort by bound (Array.prototype.sort is stable, so equal bounds are merged in input order);
  // input that is already in order, the usual case, is used as it is.
  let sorted = buckets;
  for (let i = 1; i < n; i++) {
    if (buckets[i - 1]!.upperBound > buckets[i]!.upperBound) {
      sorted = buckets.slice().sort(byUpperBound);
      break;
    }
  }
  if (sorted[n - 1]!.upperBound !== Infinity) return result(NaN, false, false);

  // coalesceBuckets: one bucket per distinct bound, counts of equal bounds added up, written to
  // module-level scratch arrays so that a call allocates only its result.
  if (boundsScratch.length < n) {
    boundsScratch = new Float64Array(Math.max(n, 2 * boundsScratch.length));
    countsScratch = new Float64Array(boundsScratch.length);
  }
  const bounds = boundsScratch;
  const counts = countsScratch;
  let m = 0;
  bounds[0] = sorted[0]!.upperBound;
  counts[0] = sorted[0]!.count;
  for (let i = 1; i < n; i++) {
    const b = sorted[i]!;
    if (b.upperBound === bounds[m]) counts[m]! += b.count;
    else {
      m++;
      bounds[m] = b.upperBound;
      counts[m] = b.count;
    }
  }
  m++;

  const fix = ensureMonotonicAndIgnoreSmallDeltas(counts, m, SMALL_DELTA_TOLERANCE);

  if (m < 2) return result(NaN, false, false);
  const observations = counts[m - 1]!;
  if (observations === 0) return result(NaN, false, false);
  let rank = q * observations;
  // Go's sort.Search over all but the +Inf bucket for the first count reaching the rank, with
  // the same bisection, so that NaN counts send it where they send Prometheus.
  let b = 0;
  let j = m - 1;
  while (b < j) {
    const h = (b + j) >>> 1;
    if (!(counts[h]! >= rank)) b = h + 1;
    else j = h;
  }

  if (b === m - 1) return result(bounds[m - 2]!, fix.forcedMonotonic, fix.fixedPrecision);
  if (b === 0 && bounds[0]! <= 0) return result(bounds[0]!, fix.forcedMonotonic, fix.fixedPrecision);
  let bucketStart = 0;
  const bucketEnd = bounds[b]!;
  let count = counts[b]!;
  if (b > 0) {
    bucketStart = bounds[b - 1]!;
    count -= counts[b - 1]!;
    rank -= counts[b - 1]!;
  }
  return result(bucketStart + (bucketEnd - bucketStart) * (rank / count), fix.forcedMonotonic, fix.fixedPrecision);
}

/**
 * Prometheus's ensureMonotonicAndIgnoreSmallDeltas over `counts[0..n)`, in place: a count that is
 * almost equal (within `tolerance`) to the last accepted one is set to it silently; a count below
 * it is raised to it and reported. The last accepted count only moves on a real increase.
 */
export function ensureMonotonicAndIgnoreSmallDeltas(
  counts: Float64Array,
  n: number,
  tolerance: number,
): { forcedMonotonic: boolean; fixedPrecision: boolean } {
  let forcedMonotonic = false;
  let fixedPrecision = false;
  let prev = counts[0]!;
  for (let i = 1; i < n; i++) {
    const curr = counts[i]!;
    if (curr === prev) continue;
    if (almostEqual(prev, curr, tolerance)) {
      counts[i] = prev;
      fixedPrecision = true;
      continue;
    }
    if (curr < prev) {
      counts[i] = prev;
      forcedMonotonic = true;
      continue;
    }
    prev = curr;
  }
  return { forcedMonotonic, fixedPrecision };
}
