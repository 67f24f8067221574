/** Helpers over step series: label-set collisions, name dropping, and their samples as points. */

import { dropMetricName, getLabel, labelsKey, METRIC_NAME, type Labels } from '../../storage/labels.js';
import { PromQLError } from '../errors.js';
import type { StepGrid, StepSeries } from './types.js';

const DUPLICATE = 'vector cannot contain metrics with the same labelset';

/** The error Prometheus raises when one step would hold two series with equal labels. */
export function duplicateLabelsetError(): PromQLError {
  return new PromQLError('execution', DUPLICATE);
}

/**
 * Merges series with equal label sets into one, as Prometheus does when it assembles
 * step results into series; two of them present at the same step is an error.
 */
export function mergeSameLabels(series: StepSeries[]): StepSeries[] {
  if (series.length < 2) return series;
  const byKey = new Map<string, number>();
  let out: StepSeries[] | null = null;
  // Merged into copies: a series' arrays may be shared (remembered range outputs, set operations).
  const copied = new Set<number>();
  for (let i = 0; i < series.length; i++) {
    const s = series[i]!;
    const key = labelsKey(s.labels);
    const j = byKey.get(key);
    if (j === undefined) {
      byKey.set(key, out ? out.length : i);
      if (out) out.push(s);
      continue;
    }
    if (!out) out = series.slice(0, i);
    if (!copied.has(j)) {
      const first = out[j]!;
      out[j] = { ...first, values: first.values.slice(), present: first.present.slice() };
      copied.add(j);
    }
    const into = out[j]!;
    const p = s.present;
    for (let k = 0; k < p.length; k++) {
      if (!p[k]) continue;
      if (into.present[k]) throw duplicateLabelsetError();
      into.present[k] = 1;
      into.values[k] = s.values[k]!;
    }
    into.dropName = into.dropName || s.dropName;
  }
  return out ?? series;
}

/** Throws when two series share a label set, whatever their samples (Prometheus's ContainsSameLabelset). */
export function assertDistinctLabels(series: readonly { labels: StepSeries['labels'] }[]): void {
  if (series.length < 2) return;
  const seen = new Set<string>();
  for (const s of series) {
    const key = labelsKey(s.labels);
    if (seen.has(key)) throw duplicateLabelsetError();
    seen.add(key);
  }
}

/** Drops __name__ from a series' labels now, or marks it for dropping at the end (delayed mode). */
export function dropName(s: StepSeries, delayed: boolean): StepSeries {
  return { labels: delayed ? s.labels : dropMetricName(s.labels), values: s.values, present: s.present, dropName: true };
}

/** The samples of `s` present on `grid`, as compact timestamp (ms) and value arrays; undefined when there are none. */
export function presentPoints(s: StepSeries, grid: StepGrid): { ts: Float64Array; vs: Float64Array } | undefined {
  let count = 0;
  for (let i = 0; i < grid.n; i++) count += s.present[i]!;
  if (count === 0) return undefined;
  const ts = new Float64Array(count);
  const vs = new Float64Array(count);
  let k = 0;
  for (let i = 0; i < grid.n; i++) {
    if (!s.present[i]) continue;
    ts[k] = grid.times[i]!;
    vs[k] = s.values[i]!;
    k++;
  }
  return { ts, vs };
}

/**
 * True when all series carry the same __name__ (or none). Inputs are distinct label sets,
 * so dropping the name can then not make two of them equal, and the collision check can go.
 */
export function shareName(series: readonly { labels: Labels }[]): boolean {
  if (series.length < 2) return true;
  const first = getLabel(series[0]!.labels, METRIC_NAME);
  for (let i = 1; i < series.length; i++) if (getLabel(series[i]!.labels, METRIC_NAME) !== first) return false;
  return true;
}
