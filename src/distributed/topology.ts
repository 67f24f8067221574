/**
 * The engines a distributed query can use: the external labels each one owns (its
 * partition, e.g. one datacenter) and the time range of data it holds. Engines that own
 * the same labels hold the same partition's history split by time (recent and archive).
 */

import { compareLabels, getLabel, labelsFromRecord, labelsKey, type Labels } from '../storage/labels.js';
import type { LabelMatcher } from '../storage/matchers.js';

/** A time bound: ms since the epoch, or an offset from the query's "now" (e.g. -15d). */
export type EngineTime = number | { readonly relativeMs: number };

/** What the planner needs to know about one remote engine. */
export interface EngineSpec {
  readonly name: string;
  /** External labels the engine owns; every series it holds carries (or is taken to carry) them. */
  readonly labels: Readonly<Record<string, string>>;
  /** Oldest data it holds (default: unbounded). */
  readonly minTime?: EngineTime;
  /** Newest data it holds (default: unbounded). */
  readonly maxTime?: EngineTime;
}

/** An engine with its labels and time range resolved for one query. */
export interface PlacedEngine {
  readonly name: string;
  readonly index: number;
  readonly labels: Labels;
  readonly minT: number;
  readonly maxT: number;
}

/** The engines that own one set of external labels. */
export interface Partition {
  readonly key: string;
  readonly labels: Labels;
  /** Most recent data first: the engine preferred when several could answer. */
  readonly engines: readonly PlacedEngine[];
  /** True when one engine holds the partition's whole history. */
  readonly unbounded: boolean;
}

const resolve = (t: EngineTime | undefined, now: number, fallback: number): number =>
  t === undefined ? fallback : typeof t === 'number' ? t : now + t.relativeMs;

/** Engines grouped into partitions, with the partition label names. */
export class Topology {
  readonly engines: readonly PlacedEngine[];
  readonly partitions: readonly Partition[];
  /** Sorted names of the labels that partition the data (e.g. ["datacenter"]). */
  readonly partitionLabels: readonly string[];

  constructor(specs: readonly EngineSpec[], nowMs: number) {
    if (specs.length === 0) throw new Error('no remote engines configured');
    this.engines = specs.map((s, index) => ({
      name: s.name,
      index,
      labels: labelsFromRecord({ ...s.labels }),
      minT: resolve(s.minTime, nowMs, -Infinity),
      maxT: resolve(s.maxTime, nowMs, Infinity),
    }));
    const names = new Set<string>();
    for (const e of this.engines) for (const l of e.labels) names.add(l.name);
    this.partitionLabels = [...names].sort();
    const groups = new Map<string, PlacedEngine[]>();
    for (const e of this.engines) {
      const k = labelsKey(e.labels);
      const g = groups.get(k);
      if (g) g.push(e);
      else groups.set(k, [e]);
    }
    this.partitions = [...groups.entries()]
      .map(([key, es]) => {
        const engines = [...es].sort((a, b) => b.maxT - a.maxT || b.minT - a.minT || a.index - b.index);
        return { key, labels: es[0]!.labels, engines, unbounded: engines.some((e) => e.minT === -Infinity && e.maxT === Infinity) };
      })
      .sort((a, b) => compareLabels(a.labels, b.labels));
  }

  /** True when the matchers can select series from the partition (only its own labels can rule it out). */
  compatible(p: Partition, matchers: readonly LabelMatcher[]): boolean {
    for (const m of matchers) {
      if (!this.partitionLabels.includes(m.name)) continue;
      if (!m.matches(getLabel(p.labels, m.name))) return false;
    }
    return true;
  }

  /** The partitions a selector's matchers can select from. */
  matching(matchers: readonly LabelMatcher[]): Partition[] {
    return this.partitions.filter((p) => this.compatible(p, matchers));
  }
}
