/** What a report or a status page needs to know of each SLO: how it is drawn and counted. */

import { ms } from '../util/duration.js';
import type { SloSpec } from './spec.js';

/** What a report needs to know of each SLO: how it is drawn and counted. */
export interface SloInfo {
  readonly name: string;
  readonly worse: 'higher' | 'lower';
  readonly thresholds?: { readonly warn?: number; readonly fail?: number };
  readonly objective?: number;
  /** Error-ratio levels of the burn-rate rules: factor × (1 - objective). */
  readonly burnRates?: readonly { readonly level: number; readonly factor: number; readonly severity: 'warn' | 'fail'; readonly window: string }[];
  readonly critical: boolean;
  readonly dryRun: boolean;
  readonly weight: number;
}

/** The report's view of an SLO spec. */
export function sloInfo(s: SloSpec): SloInfo {
  const j = s.judgement;
  const budget = j.objective !== undefined ? 1 - j.objective : undefined;
  return {
    name: s.name,
    worse: j.worse,
    ...(j.thresholds ? { thresholds: { ...j.thresholds } } : {}),
    ...(j.objective !== undefined ? { objective: j.objective } : {}),
    ...(j.burnRates && budget !== undefined
      ? { burnRates: j.burnRates.map((b) => ({ level: b.factor * budget, factor: b.factor, severity: b.severity, window: `${ms(b.longMs)}/${ms(b.shortMs)}` })) }
      : {}),
    critical: s.critical,
    dryRun: s.dryRun,
    weight: s.weight,
  };
}
