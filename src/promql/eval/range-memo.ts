/**
 * Results of range functions per series, remembered across queries. A batch of backtests asks
 * for the same series' rate over the same steps many times (every scope that holds the series,
 * the errors that are part of the total, the baseline of one backtest that is the release of
 * another). Over storage whose sample arrays never change and are shared between selects (the
 * backtest window cache), a series is known by its arrays: the same views of the same buffers
 * hold the same samples, so the output over the same window ends is the same.
 */

import { indexResets, NO_RESETS } from '../functions/range.js';
import type { ResetIndex } from '../functions/window.js';

/** Values per slab of remembered copies (1 MiB of floats). */
const SLAB_VALUES = 131_072;

/** One series' output over the steps of one call. */
interface Entry {
  readonly values: Float64Array;
  readonly present: Uint8Array;
  /** Samples the call read (the query stats count them on a hit too). */
  readonly processed: number;
}

/** Remembered outputs, keyed by the series' buffers (dropped with them) and the call. */
export class RangeMemo {
  private readonly byBuffers = new WeakMap<ArrayBufferLike, WeakMap<ArrayBufferLike, Map<string, Entry>>>();
  private readonly resetsByBuffer = new WeakMap<ArrayBufferLike, ResetIndex>();
  private slabV = new Float64Array(0);
  private slabP = new Uint8Array(0);
  private used = 0;
  hits = 0;
  misses = 0;

  /** The key of a call of `func` over `range` at window ends `ends` on samples `ts`/`vs`. */
  static key(func: string, range: number, ends: Float64Array, ts: Float64Array, vs: Float64Array): string {
    // The ends are a regular grid (or one repeated time, with @): first, last and count fix them.
    return `${func}|${range}|${ends[0]}|${ends[ends.length - 1]}|${ends.length}|${ts.byteOffset}|${ts.length}|${vs.byteOffset}`;
  }

  /** Copies a remembered output into `values`/`present`; returns the samples it read, or -1 when not remembered. */
  recall(ts: Float64Array, vs: Float64Array, key: string, values: Float64Array, present: Uint8Array): number {
    const e = this.byBuffers.get(ts.buffer)?.get(vs.buffer)?.get(key);
    if (!e) {
      this.misses++;
      return -1;
    }
    this.hits++;
    // Copied out: later stages of a query may write into the series they are given.
    values.set(e.values);
    present.set(e.present);
    return e.processed;
  }

  /** Remembers a copy of an output. */
  remember(ts: Float64Array, vs: Float64Array, key: string, values: Float64Array, present: Uint8Array, processed: number): void {
    let inner = this.byBuffers.get(ts.buffer);
    if (!inner) this.byBuffers.set(ts.buffer, (inner = new WeakMap()));
    let m = inner.get(vs.buffer);
    if (!m) inner.set(vs.buffer, (m = new Map()));
    const n = values.length;
    if (this.used + n > this.slabV.length) {
      // Copies go into shared slabs: a buffer per copy costs far more than a view of one.
      const size = Math.max(SLAB_VALUES, n);
      this.slabV = new Float64Array(size);
      this.slabP = new Uint8Array(size);
      this.used = 0;
    }
    const v = this.slabV.subarray(this.used, this.used + n);
    const p = this.slabP.subarray(this.used, this.used + n);
    this.used += n;
    v.set(values);
    p.set(present);
    m.set(key, { values: v, present: p, processed });
  }

  /**
   * The reset index of a series' values, made once per buffer: every view of it (the window
   * cache cuts a series to each query's range) reads the same index from its own offset.
   */
  resetsOf(vs: Float64Array): ResetIndex {
    let whole = this.resetsByBuffer.get(vs.buffer);
    if (!whole) this.resetsByBuffer.set(vs.buffer, (whole = indexResets(new Float64Array(vs.buffer, 0, vs.buffer.byteLength >> 3))));
    if (whole.at.length === 0) return NO_RESETS;
    return { at: whole.at, base: vs.byteOffset >> 3 };
  }
}
