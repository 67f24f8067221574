/**
 * Kahan–Neumaier compensated summation, as Prometheus's `kahansum.Inc` (`kahanSumInc` in 3.5).
 *
 * Prometheus carries a running sum and a separate compensation term and only folds the
 * compensation in at the end; results must match it bit for bit, so callers follow the same
 * protocol: `t = sum + inc; c = kahanComp(inc, sum, t, c); sum = t`. Splitting it this way keeps
 * the hot loops free of tuple allocations (V8 inlines the helper).
 */

/** The compensation after adding `inc` to `sum`, given `t = sum + inc` and the previous compensation `c`. */
export function kahanComp(inc: number, sum: number, t: number, c: number): number {
  // An infinite running sum makes the error terms meaningless (Inf - Inf = NaN); Prometheus
  // resets the compensation so that sum + c stays infinite.
  if (t === Infinity || t === -Infinity) return 0;
  // Neumaier's improvement: the error is taken from the smaller-magnitude operand.
  if (Math.abs(sum) >= Math.abs(inc)) return c + (sum - t + inc);
  return c + (inc - t + sum);
}

/** A compensated running sum; one object per accumulation, not per sample. */
export class KahanSum {
  sum = 0;
  c = 0;

  /** Adds one value. */
  add(v: number): void {
    const t = this.sum + v;
    this.c = kahanComp(v, this.sum, t, this.c);
    this.sum = t;
  }

  /** The compensated total; an infinite sum is returned as is, as Prometheus's sum_over_time does. */
  value(): number {
    const s = this.sum;
    if (s === Infinity || s === -Infinity) return s;
    return s + this.c;
  }

  /** Clears the accumulator for reuse. */
  reset(): void {
    this.sum = 0;
    this.c = 0;
  }
}

/** The compensated sum of `vs[lo..hi)`, as Prometheus's sum_over_time computes it. */
export function kahanSum(vs: ArrayLike<number>, lo = 0, hi = vs.length): number {
  let sum = 0;
  let c = 0;
  for (let i = lo; i < hi; i++) {
    const v = vs[i]!;
    const t = sum + v;
    c = kahanComp(v, sum, t, c);
    sum = t;
  }
  if (sum === Infinity || sum === -Infinity) return sum;
  return sum + c;
}
