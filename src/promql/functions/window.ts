/**
 * The view a range-vector function gets of one series at one evaluation step:
 * samples [lo, hi) of the series' typed arrays, all inside the window (start, end].
 * Staleness markers have already been removed from these arrays.
 */
export interface Window {
  readonly ts: Float64Array;
  readonly vs: Float64Array;
  lo: number;
  hi: number;
  /** Exclusive window start, ms. */
  start: number;
  /** Inclusive window end, ms. */
  end: number;
  /** The range written in the query (for a subquery, its range), ms. */
  range: number;
}

/**
 * Where a series' values drop (counter resets), over arrays the window's are views of: `at`
 * holds, ascending, each index j where values[j] < values[j-1]; the window's index i is index
 * i + base there. (One index over a buffer serves every view of it that it covers.)
 */
export interface ResetIndex {
  readonly at: Int32Array;
  readonly base: number;
}

/**
 * A range-vector function over one window. `args` holds the function's scalar arguments
 * at this step, in call order without the range-vector argument. Returns undefined when
 * the window yields no output sample.
 */
export type RangeFunction = (w: Window, args: readonly number[]) => number | undefined;
