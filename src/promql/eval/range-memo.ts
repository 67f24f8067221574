/**
 * Results of range functions per series, remembered across queries. A batch of backtests asks
 * for the same series' rate over the same steps many times (every scope that holds the series,
 * the errors that are part of the total, the baseline of one backtest that is the release of
 * another). Over storage whose sample arrays never change and are shared between selects (the
 * backtest window cache), a series is known by its arrays: the same views of the same buffers
 * hold the same samples, so the output over the same window ends is the same.
 */

import { dropsIn, NO_RESETS } from '../functions/range.js';
import type { ResetIndex } from '../functions/window.js';

/** One series' output over the steps of one call. */
export interface RangeOutput {
  readonly values: Float64Array;
  readonly present: Uint8Array;
  /** Whether any step has a value (an output without one is left out of the answer). */
  readonly any: boolean;
  /** Samples the call read (the query stats count them on a hit too). */
  readonly processed: number;
  /** Steps with a value. */
  readonly points: number;
}

/** Remembered outputs, keyed by the series' buffers (dropped with them) and the call. */
export class RangeMemo {
  private readonly byBuffers = new WeakMap<ArrayBufferLike, WeakMap<ArrayBufferLike, Map<string, RangeOutput>>>();
  private readonly resetsByBuffer = new WeakMap<ArrayBufferLike, Coverage>();
  hits = 0;
  misses = 0;

  /** The part of a key that a call shares across its series: `func` over `range` at window ends `ends`. */
  static callKey(func: string, range: number, ends: Float64Array): string {
    // The ends are a regular grid (or one repeated time, with @): first, last and count fix them.
    return `${func}|${range}|${ends[0]}|${ends[ends.length - 1]}|${ends.length}`;
  }

  /**
   * The key of a call (its callKey) on samples `ts`/`vs`. Made per series, so only small integers
   * are written out here: turning the ends' timestamps into text per series cost more than the
   * outputs it found.
   */
  static key(call: string, ts: Float64Array, vs: Float64Array): string {
    return `${call}|${ts.byteOffset}|${ts.length}|${vs.byteOffset}`;
  }

  /**
   * The remembered output of a call, or undefined. Its arrays are handed out as they are: the
   * evaluator never writes into a series it is given (merging copies first).
   */
  recall(ts: Float64Array, vs: Float64Array, key: string): RangeOutput | undefined {
    const e = this.byBuffers.get(ts.buffer)?.get(vs.buffer)?.get(key);
    if (e) this.hits++;
    else this.misses++;
    return e;
  }

  /** Remembers an output; its arrays must not be written after (nor reused for another output). */
  remember(ts: Float64Array, vs: Float64Array, key: string, out: RangeOutput): void {
    let inner = this.byBuffers.get(ts.buffer);
    if (!inner) this.byBuffers.set(ts.buffer, (inner = new WeakMap()));
    let m = inner.get(vs.buffer);
    if (!m) inner.set(vs.buffer, (m = new Map()));
    m.set(key, out);
  }

  /**
   * The reset index of a series' values over a buffer it is a view of: every view of the buffer
   * (the window cache cuts a series to each query's range) reads the same index from its own
   * offset. The index covers the span of the buffer the views asked for so far, grown at its ends
   * when a view reaches past them: a block run holds a day, and queries read about half of it.
   */
  resetsOf(vs: Float64Array): ResetIndex {
    const v0 = vs.byteOffset >> 3;
    const v1 = v0 + vs.length;
    let c = this.resetsByBuffer.get(vs.buffer);
    if (!c || v0 < c.lo || v1 > c.hi) {
      const all = new Float64Array(vs.buffer, 0, vs.buffer.byteLength >> 3);
      c = c ? grownCoverage(c, all, Math.min(v0, c.lo), Math.max(v1, c.hi)) : { at: dropsIn(all, v0, v1), lo: v0, hi: v1 };
      this.resetsByBuffer.set(vs.buffer, c);
    }
    if (c.at.length === 0) return NO_RESETS;
    return { at: c.at, base: v0 };
  }
}

/** The drops of a buffer indexed over [lo, hi): every j with lo < j < hi and all[j] < all[j - 1], ascending. */
interface Coverage {
  readonly at: Int32Array;
  readonly lo: number;
  readonly hi: number;
}

/** A coverage grown to [lo, hi) (which holds it): only the parts outside it are read. */
function grownCoverage(c: Coverage, all: Float64Array, lo: number, hi: number): Coverage {
  // Drops in (lo, c.lo] on the left, (c.hi - 1, hi) on the right: the pairs the old span lacked.
  const left = lo < c.lo ? dropsIn(all, lo, c.lo + 1) : NONE;
  const right = hi > c.hi ? dropsIn(all, c.hi - 1, hi) : NONE;
  if (left.length === 0 && right.length === 0) return { at: c.at, lo, hi };
  const at = new Int32Array(left.length + c.at.length + right.length);
  at.set(left, 0);
  at.set(c.at, left.length);
  at.set(right, left.length + c.at.length);
  return { at, lo, hi };
}

const NONE = new Int32Array(0);
