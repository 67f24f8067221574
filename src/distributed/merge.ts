/**
 * Merging remote answers: per sub-query, the engines' series laid onto the step grid the
 * central plan needs, and served to the central evaluation as raw series (a sample at each
 * step where the value is present, a staleness marker where it is not, so that the central
 * lookback never carries a value into a step that had none).
 */

import type { QueryValue } from '../promql/result.js';
import type { StepGrid } from '../promql/eval/types.js';
import { compareLabels, getLabel, labelsKey, setLabel, type Labels } from '../storage/labels.js';
import type { Series } from '../storage/queryable.js';
import { setStale } from '../storage/stale.js';
import type { RemoteNode, RemoteTarget } from './planner.js';

interface GridSeries {
  labels: Labels;
  values: Float64Array;
  present: Uint8Array;
}

/** The merged answer of one remote sub-query. */
export class NodeResult {
  private readonly byKey = new Map<string, GridSeries>();
  /** For `absent`: per step, how many answering engines found nothing / were asked. */
  private readonly absentHits: Uint32Array;
  private readonly asked: Uint32Array;

  constructor(
    readonly node: RemoteNode,
    private readonly partitionLabels: readonly string[],
  ) {
    this.absentHits = new Uint32Array(node.grid.n);
    this.asked = new Uint32Array(node.grid.n);
  }

  /**
   * Adds one engine's answer; undefined when the engine did not answer (partial response):
   * it then counts as having no data.
   */
  add(target: RemoteTarget, value: QueryValue | undefined): void {
    const g = this.node.grid;
    const [i0, i1] = stepSpan(g, target.start, target.end);
    if (this.node.mode === 'absent') {
      // absent() answers where the engine found nothing; an engine that failed counts so too.
      for (let i = i0; i <= i1; i++) {
        this.asked[i]!++;
        if (!value) this.absentHits[i]!++;
      }
      if (value) for (const [, i] of points(value, g)) if (i >= i0 && i <= i1) this.absentHits[i]!++;
      return;
    }
    if (!value) return;
    const seriesOf = (ls: Labels): GridSeries => {
      const k = labelsKey(ls);
      let s = this.byKey.get(k);
      if (!s) {
        s = { labels: ls, values: new Float64Array(g.n), present: new Uint8Array(g.n) };
        this.byKey.set(k, s);
      }
      return s;
    };
    for (const [labels, i, v] of points(value, g)) {
      if (i < i0 || i > i1) continue;
      const ls = ownLabels(labels, this.partitionLabels, target.partition.labels);
      if (!ls) continue;
      const s = seriesOf(ls);
      // Two engines answering the same series at the same step: the first (preferred) wins.
      if (s.present[i]) continue;
      s.present[i] = 1;
      s.values[i] = v;
    }
  }

  /** The merged series as raw series for the central evaluation, sorted by labels. */
  series(): Series[] {
    const g = this.node.grid;
    const grid: GridSeries[] = [];
    if (this.node.mode === 'absent') {
      const s: GridSeries = { labels: this.node.absentLabels ?? [], values: new Float64Array(g.n).fill(1), present: new Uint8Array(g.n) };
      for (let i = 0; i < g.n; i++) if (this.absentHits[i] === this.asked[i]) s.present[i] = 1;
      grid.push(s);
    } else grid.push(...this.byKey.values());
    grid.sort((a, b) => compareLabels(a.labels, b.labels));
    const out: Series[] = [];
    for (const s of grid) {
      if (!s.present.some((x) => x)) continue;
      const values = new Float64Array(g.n);
      for (let i = 0; i < g.n; i++) {
        if (s.present[i]) values[i] = s.values[i]!;
        else setStale(values, i);
      }
      out.push({ labels: s.labels, timestamps: Float64Array.from(g.times), values, mayHaveStale: true });
    }
    return out;
  }
}

/** Step indices [first, last] of a target's span on the grid. */
function stepSpan(g: StepGrid, start: number, end: number): [number, number] {
  return [Math.round((start - g.start) / g.interval), Math.round((end - g.start) / g.interval)];
}

/** The samples of an answer as (labels, step index, value), dropping any off the grid. */
function* points(v: QueryValue, g: StepGrid): Generator<[Labels, number, number]> {
  const index = (t: number): number => {
    const i = Math.round((t - g.start) / g.interval);
    return i >= 0 && i < g.n && g.times[i] === t ? i : -1;
  };
  if (v.type === 'vector') {
    for (const s of v.samples) {
      const i = g.n === 1 ? 0 : index(s.t);
      if (i >= 0) yield [s.labels, i, s.v];
    }
  } else if (v.type === 'matrix') {
    for (const s of v.series) {
      for (let k = 0; k < s.timestamps.length; k++) {
        const i = index(s.timestamps[k]!);
        if (i >= 0) yield [s.labels, i, s.values[k]!];
      }
    }
  }
}

/**
 * A series' labels with the partition labels it lacks taken from its engine; undefined when it
 * carries another partition's value, i.e. the engine holds (or was configured over) data that
 * is not its own: that series is answered by the engine that owns it.
 */
export function ownLabels(ls: Labels, p: readonly string[], own: Labels): Labels | undefined {
  let out = ls;
  for (const name of p) {
    const v = getLabel(out, name);
    const mine = getLabel(own, name);
    if (v === '') out = setLabel(out, name, mine);
    else if (v !== mine) return undefined;
  }
  return out;
}
