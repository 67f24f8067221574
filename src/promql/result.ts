/** The values a query returns, shaped like the Prometheus HTTP API's result types. */

import type { Labels } from '../storage/labels.js';

/** One sample of an instant vector. `t` in ms. */
export interface Sample {
  readonly labels: Labels;
  readonly t: number;
  readonly v: number;
}

/** One series of a matrix (range query result, or a range vector at an instant). */
export interface ResultSeries {
  readonly labels: Labels;
  /** Timestamps in ms. */
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

export type QueryValue =
  | { readonly type: 'vector'; readonly samples: Sample[] }
  | { readonly type: 'matrix'; readonly series: ResultSeries[] }
  | { readonly type: 'scalar'; readonly t: number; readonly v: number }
  | { readonly type: 'string'; readonly t: number; readonly v: string };

/** Counters about what a query cost. */
export interface QueryStats {
  /** Series returned by storage for all selectors. */
  seriesFetched: number;
  /** Samples returned by storage for all selectors. */
  samplesFetched: number;
  /** Bytes storage read to answer (0 for memory). */
  bytesRead: number;
  /** Peak of samples held by the evaluator at once (approximate, as Prometheus counts). */
  peakSamples: number;
  /** Total samples the evaluator produced or scanned. */
  totalSamples: number;
  /** Wall time spent, in ms, by phase. */
  timings: { parseMs: number; selectMs: number; evalMs: number };
}

/** A query's answer: the value, plus annotations as Prometheus reports them. */
export interface QueryResult {
  readonly value: QueryValue;
  readonly warnings: string[];
  readonly infos: string[];
  readonly stats: QueryStats;
}
