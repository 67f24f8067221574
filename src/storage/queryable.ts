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
  select(req: SelectRequest, signal?: AbortSignal): Promise<SelectResult>;
  labelNames?(matchers: readonly LabelMatcher[], mint: number, maxt: number): Promise<string[]>;
  labelValues?(name: string, matchers: readonly LabelMatcher[], mint: number, maxt: number): Promise<string[]>;
  close?(): Promise<void>;
}

/** First index i with ts[i] >= t (binary search over sorted timestamps). */
export function lowerBound(ts: Float64Array, t: number, lo = 0, hi = ts.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i with ts[i] > t. */
export function upperBound(ts: Float64Array, t: number, lo = 0, hi = ts.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
