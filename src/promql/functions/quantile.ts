/**
 * The φ-quantile of a set of float values, as Prometheus's `quantile` (promql/quantile.go), used
 * by the `quantile` aggregation, quantile_over_time and mad_over_time.
 *
 * Prometheus sorts with a comparator that puts NaN before every number, then interpolates
 * linearly between the two closest ranks. The input is never modified: values are copied into a
 * module-level scratch buffer that grows as needed, so a call allocates nothing in steady state.
 */

let scratch = new Float64Array(64);
let devScratch = new Float64Array(64);

/** Copies `values[lo..lo+n)` into the scratch buffer, sorted with NaNs first as Prometheus orders them. */
function sortedScratch(values: ArrayLike<number>, n: number, lo: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  const s = scratch.subarray(0, n);
  let nans = 0;
  // NaNs are written from the front, numbers after them; the numeric part is then sorted.
  let w = n;
  for (let i = 0; i < n; i++) {
    const v = values[lo + i]!;
    if (v !== v) s[nans++] = v;
    else s[--w] = v;
  }
  if (n - nans > 1) s.subarray(nans).sort();
  return s;
}

/**
 * The q-quantile of the first `n` values (from offset `lo`), as Prometheus's `quantile`:
 * NaN for no values or a NaN q, -Inf for q < 0, +Inf for q > 1, else linear interpolation
 * between the neighbouring ranks of the sorted values (NaNs sort first).
 */
export function quantile(q: number, values: ArrayLike<number>, n: number = values.length, lo = 0): number {
  if (n === 0 || q !== q) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const s = sortedScratch(values, n, lo);
  const rank = q * (n - 1);
  const lowerIndex = Math.max(0, Math.floor(rank));
  const upperIndex = Math.min(n - 1, lowerIndex + 1);
  const weight = rank - Math.floor(rank);
  return s[lowerIndex]! * (1 - weight) + s[upperIndex]! * weight;
}

/**
 * The median absolute deviation of `values[lo..hi)`, as Prometheus's mad_over_time: the median
 * of the absolute differences from the median. NaN for an empty range.
 */
export function medianAbsoluteDeviation(values: ArrayLike<number>, lo = 0, hi = values.length): number {
  const n = hi - lo;
  const median = quantile(0.5, values, n, lo);
  // The deviations need their own buffer: quantile() sorts a copy of its input into `scratch`.
  if (devScratch.length < n) devScratch = new Float64Array(Math.max(n, devScratch.length * 2));
  for (let i = 0; i < n; i++) devScratch[i] = Math.abs(values[lo + i]! - median);
  return quantile(0.5, devScratch, n, 0);
}
