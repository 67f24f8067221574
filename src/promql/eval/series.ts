/** Helpers over step series: label-set collisions and name dropping. */

import { dropMetricName, labelsKey } from '../../storage/labels.js';
import { PromQLError } from '../errors.js';
import type { StepSeries } from './types.js';

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
