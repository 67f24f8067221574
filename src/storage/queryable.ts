/**
 * The storage interface every source implements (memory, OpenMetrics, Parquet,
 * remote). Samples travel as typed arrays: one pair of arrays per series.
 */

import type { Labels } from './labels.js';
import type { LabelMatcher } from './matchers.js';

/** Raw samples of one series, sorted by time; timestamps in milliseconds since the epoch. */
export interface Series {
  readonly labels: Labels;
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
  /** False when the source knows the values hold no staleness marker (lets readers skip a scan). */
  readonly mayHaveStale?: boolean;
}

/** What a caller asks for: matchers and an inclusive millisecond time range. */
export interface SelectRequest {
  readonly matchers: readonly LabelMatcher[];
  readonly mint: number;
  readonly maxt: number;
  /** Only labels are needed (e.g. /api/v1/series): sources may skip samples. */
  readonly labelsOnly?: boolean;
}

/** Accounting for what a select cost, reported in query stats. */
export interface SelectStats {
  seriesFetched: number;
  samplesFetched: number;
  bytesRead: number;
}

/** The answer to a select: series sorted by labels, plus warnings and stats. */
export interface SelectResult {
  readonly series: Series[];
  readonly warnings?: string[];
  readonly stats?: Partial<SelectStats>;
}

/** A source of series. Implementations must return series sorted by labels, each once. */
export interface Queryable {
  /**
   * True when the sample arrays of the answers are never written after and are shared between
   * selects (the same series comes back as views of the same buffers): the engine may then
   * remember what it computed from them, keyed by the buffers.
   */
  readonly immutableSamples?: boolean;
  select(req: SelectRequest, signal?: AbortSignal): Promise<SelectResult>;
  /**
   * Starts reading what `select(req)` will need (a cache that keeps what it reads); settles, never
   * rejecting, once that data is held or its read has failed (the select then reports why). A
   * query can so wait for its data before it takes a turn of a limiter, not while holding one.
   */
  prefetch?(req: SelectRequest): Promise<void>;
  /**
   * The answer to `select(req)` when it is in memory now, else undefined (then `select` reads).
   * A cache answers most of a batch's selects so: no promise, timer or signal per select.
   */
  selectHeld?(req: SelectRequest): SelectResult | undefined;
  labelNames?(matchers: readonly LabelMatcher[], mint: number, maxt: number): Promise<string[]>;
  labelValues?(name: string, matchers: readonly LabelMatcher[], mint: number, maxt: number): Promise<string[]>;
  close?(): Promise<void>;
}

/** Whether x comes before the position sought: x <= t (strict) or x < t. A module function, not a closure per search. */
const before = (x: number, t: number, strict: boolean): boolean => (strict ? x <= t : x < t);

/**
 * Index of the first timestamp > t (`strict`) or >= t. Series are usually regular, so the
 * first probe interpolates where t should be and a short gallop around it settles the rest:
 * a handful of memory reads instead of a full binary search's cache misses.
 */
function search(ts: Float64Array, t: number, lo: number, hi: number, strict: boolean): number {
  if (hi - lo > 16) {
    const first = ts[lo]!;
    const last = ts[hi - 1]!;
    if (!before(first, t, strict)) return lo;
    if (before(last, t, strict)) return hi;
    let g = lo + Math.floor(((t - first) / (last - first)) * (hi - 1 - lo));
    if (!(g >= lo)) g = lo;
    if (g > hi - 1) g = hi - 1;
    // Gallop outwards from the guess until [a, b) brackets the answer.
    let step = 1;
    if (before(ts[g]!, t, strict)) {
      let a = g + 1;
      let b = a + step;
      while (b < hi && before(ts[b]!, t, strict)) {
        a = b + 1;
        step *= 2;
        b = a + step;
      }
      lo = a;
      hi = Math.min(b + 1, hi);
    } else {
      let b = g;
      let a = b - step;
      while (a > lo && !before(ts[a]!, t, strict)) {
        b = a;
        step *= 2;
        a = b - step;
      }
      lo = Math.max(a, lo);
      hi = b + 1;
    }
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(ts[mid]!, t, strict)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i with ts[i] >= t (timestamps sorted). */
export function lowerBound(ts: Float64Array, t: number, lo = 0, hi = ts.length): number {
  return search(ts, t, lo, hi, false);
}

/** First index i with ts[i] > t. */
export function upperBound(ts: Float64Array, t: number, lo = 0, hi = ts.length): number {
  return search(ts, t, lo, hi, true);
}

/** The samples of consecutive pieces of one series, in one pair of arrays (pieces in time order). */
export function concatSamples(parts: readonly { readonly timestamps: Float64Array; readonly values: Float64Array }[]): { timestamps: Float64Array; values: Float64Array } {
  let n = 0;
  for (const p of parts) n += p.timestamps.length;
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  let off = 0;
  for (const p of parts) {
    timestamps.set(p.timestamps, off);
    values.set(p.values, off);
    off += p.timestamps.length;
  }
  return { timestamps, values };
}
