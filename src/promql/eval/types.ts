/**
 * Evaluation values. The evaluator works on all steps of a query at once: an
 * instant vector is a set of series, each a Float64Array of values over the step
 * grid plus a presence mask; an instant query is the one-step case of the same code.
 */

import type { Labels } from '../../storage/labels.js';

/** The step grid a node is evaluated on. */
export interface StepGrid {
  /** First evaluation time, ms. */
  readonly start: number;
  /** Last evaluation time, ms (start + (n-1)*interval). */
  readonly end: number;
  /** Distance between steps, ms (1 for a single-step grid). */
  readonly interval: number;
  /** Number of steps. */
  readonly n: number;
  /** Evaluation time of each step, ms. */
  readonly times: Float64Array;
}

/** A grid's first and last times: all that finding what a query selects needs. */
export type GridSpan = Pick<StepGrid, 'start' | 'end'>;

/** One series of an instant vector across the grid. */
export interface StepSeries {
  labels: Labels;
  readonly values: Float64Array;
  /** 1 where the series has a sample at that step. */
  readonly present: Uint8Array;
  /** Prometheus's delayed __name__ removal: drop the name when evaluation ends. */
  dropName: boolean;
}

/** One series of a range vector: its samples (no staleness markers) in time order. */
export interface RangeSeries {
  readonly labels: Labels;
  readonly ts: Float64Array;
  readonly vs: Float64Array;
  readonly dropName: boolean;
}

export interface VectorValue {
  readonly type: 'vector';
  readonly series: StepSeries[];
  /** Points present across the series, when whoever made the value counted them (sample accounting reads it). */
  readonly points?: number;
}

export interface ScalarValue {
  readonly type: 'scalar';
  readonly values: Float64Array;
}

/**
 * A range vector over the grid: at step i the window is (ends[i] - range, ends[i]].
 * Matrices only ever feed range-vector functions or a top-level instant query.
 */
export interface MatrixValue {
  readonly type: 'matrix';
  readonly series: RangeSeries[];
  readonly ends: Float64Array;
  readonly range: number;
  /** Metric names of the selected series are kept for annotations such as rate's counter check. */
  readonly fromSelector: boolean;
}

export interface StringValue {
  readonly type: 'string';
  readonly value: string;
}

export type EvalValue = VectorValue | ScalarValue | MatrixValue | StringValue;

/** Builds the grid of evaluation times from start to end inclusive. */
export function makeGrid(start: number, end: number, interval: number): StepGrid {
  const n = end < start ? 0 : Math.floor((end - start) / interval) + 1;
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) times[i] = start + i * interval;
  return { start, end: n > 0 ? times[n - 1]! : end, interval, n, times };
}

/** A fresh empty series over an n-step grid. */
export function newSeries(labels: Labels, n: number, dropName = false): StepSeries {
  return { labels, values: new Float64Array(n), present: new Uint8Array(n), dropName };
}

/** True when the series has at least one sample on the grid. */
export function anyPresent(s: StepSeries): boolean {
  const p = s.present;
  for (let i = 0; i < p.length; i++) if (p[i]) return true;
  return false;
}
