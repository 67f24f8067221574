/**
 * The evaluator: walks the AST once per node, computing every step of the grid at
 * once over typed arrays. Selectors read series that the engine fetched beforehand,
 * so evaluation itself is pure and synchronous.
 */

import type { AtModifier, Expr, MatrixSelector, SubqueryExpr, UnaryExpr, VectorSelector } from '../ast.js';
import { PromQLError } from '../errors.js';
import { isStaleAt } from '../../storage/stale.js';
import type { EvalContext } from './context.js';
import { evalAggregate } from './aggregate.js';
import { evalBinary } from './binary.js';
import { evalCall } from './calls.js';
import { dropName, mergeSameLabels, presentPoints } from './series.js';
import { makeGrid, type EvalValue, type GridSpan, type MatrixValue, type RangeSeries, type ScalarValue, type StepGrid, type StepSeries, type VectorValue } from './types.js';

/** Query-level times that `@ start()` and `@ end()` refer to. */
export interface QueryTimes {
  readonly start: number;
  readonly end: number;
}

/** Resolves an `@` modifier to a time in ms. */
export function atTime(at: AtModifier, q: QueryTimes): number {
  return at.kind === 'time' ? at.ms : at.kind === 'start' ? q.start : q.end;
}

/**
 * The grid a subquery's inner expression is evaluated on: steps aligned to multiples
 * of the subquery step, from the first one after (start - offset - range) to (end - offset).
 */
export function subqueryGrid(sq: SubqueryExpr, grid: GridSpan, q: QueryTimes, noStepInterval: number): StepGrid {
  const step = sq.step > 0 ? sq.step : noStepInterval;
  const at = sq.at ? atTime(sq.at, q) : undefined;
  const outerStart = at ?? grid.start;
  const outerEnd = at ?? grid.end;
  const x = outerStart - sq.offset - sq.range;
  // Go's integer division truncates toward zero; mirror it so negative times align alike.
  let start = step * Math.trunc(x / step);
  if (start <= x) start += step;
  return makeGrid(start, outerEnd - sq.offset, step);
}

/** The evaluator of one query. */
export class Evaluator {
  constructor(
    readonly ctx: EvalContext,
    readonly times: QueryTimes,
  ) {}

  /** Evaluates a node over a grid, accounting its output against the max-samples limit. */
  eval(e: Expr, grid: StepGrid): EvalValue {
    this.ctx.checkDeadline();
    const before = this.ctx.current;
    const v = this.evalNode(e, grid);
    this.ctx.settle(before, sizeOf(v));
    return v;
  }

  private evalNode(e: Expr, grid: StepGrid): EvalValue {
    switch (e.kind) {
      case 'NumberLiteral':
        return { type: 'scalar', values: new Float64Array(grid.n).fill(e.value) };
      case 'StringLiteral':
        return { type: 'string', value: e.value };
      case 'ParenExpr':
        return this.eval(e.expr, grid);
      case 'VectorSelector':
        return this.vectorSelector(e, grid, false);
      case 'MatrixSelector':
        return this.matrixSelector(e, grid);
      case 'SubqueryExpr':
        return this.subquery(e, grid);
      case 'UnaryExpr':
        return this.unary(e, grid);
      case 'BinaryExpr':
        return evalBinary(this, e, grid);
      case 'AggregateExpr':
        return evalAggregate(this, e, grid);
      case 'Call':
        return evalCall(this, e, grid);
    }
  }

  /** Evaluates a node that must yield an instant vector. */
  evalVector(e: Expr, grid: StepGrid): VectorValue {
    const v = this.eval(e, grid);
    if (v.type !== 'vector') throw new PromQLError('execution', `expected instant vector, got ${v.type}`);
    return v;
  }

  /** Evaluates a node that must yield a scalar. */
  evalScalar(e: Expr, grid: StepGrid): ScalarValue {
    const v = this.eval(e, grid);
    if (v.type !== 'scalar') throw new PromQLError('execution', `expected scalar, got ${v.type}`);
    return v;
  }

  /** Evaluates a node that must yield a range vector (a matrix selector or a subquery). */
  evalMatrix(e: Expr, grid: StepGrid): MatrixValue {
    let x = e;
    while (x.kind === 'ParenExpr') x = x.expr;
    // A subquery feeding a function is counted once, through the function's windows
    // (Prometheus's stats do not also add the subquery's own samples).
    const counted = this.ctx.total;
    const v = this.eval(x, grid);
    if (x.kind === 'SubqueryExpr') this.ctx.total = counted;
    if (v.type !== 'matrix') throw new PromQLError('execution', `expected range vector, got ${v.type}`);
    return v;
  }

  /**
   * Instant vector selector: at each step, the newest sample in (t - lookback, t]
   * unless that sample is a staleness marker. With `timestamps`, the value is the
   * sample's own timestamp in seconds (what timestamp() needs).
   */
  vectorSelector(vs: VectorSelector, grid: StepGrid, timestamps: boolean): VectorValue {
    const selected = this.ctx.selected.get(vs) ?? [];
    const lookback = this.ctx.opts.lookbackDelta;
    const off = vs.offset;
    const n = grid.n;
    const times = grid.times;
    const at = vs.at ? atTime(vs.at, this.times) : undefined;
    const out: StepSeries[] = [];
    // One slab for all series: views are far cheaper than a buffer per series.
    const slabV = new Float64Array(n * selected.length);
    const slabP = new Uint8Array(n * selected.length);
    let used = 0;
    for (const s of selected) {
      this.ctx.checkDeadline();
      const ts = s.timestamps;
      const vals = s.values;
      const len = ts.length;
      const values = slabV.subarray(used, used + n);
      const present = slabP.subarray(used, used + n);
      let count = 0;
      if (at !== undefined) {
        const t = at - off;
        let j = 0;
        while (j < len && ts[j]! <= t) j++;
        const k = j - 1;
        if (k >= 0 && ts[k]! > t - lookback && !isStaleAt(vals, k)) {
          values.fill(timestamps ? ts[k]! / 1000 : vals[k]!);
          present.fill(1);
          count = n;
        }
      } else {
        let j = 0;
        for (let i = 0; i < n; i++) {
          const t = times[i]! - off;
          while (j < len && ts[j]! <= t) j++;
          const k = j - 1;
          if (k < 0 || ts[k]! <= t - lookback) continue;
          const v = vals[k]!;
          if (v !== v && isStaleAt(vals, k)) continue;
          values[i] = timestamps ? ts[k]! / 1000 : v;
          present[i] = 1;
          count++;
        }
      }
      if (count > 0) {
        out.push({ labels: s.labels, values, present, dropName: false });
        used += n;
      }
      this.ctx.processed(count);
    }
    return { type: 'vector', series: out };
  }

  /** Window ends per step for a range selector or subquery with the given offset and @. */
  private windowEnds(grid: StepGrid, offset: number, at: AtModifier | undefined): Float64Array {
    const ends = new Float64Array(grid.n);
    if (at) ends.fill(atTime(at, this.times) - offset);
    else for (let i = 0; i < grid.n; i++) ends[i] = grid.times[i]! - offset;
    return ends;
  }

  /** Range vector selector: the series' samples, with staleness markers removed. */
  matrixSelector(ms: MatrixSelector, grid: StepGrid): MatrixValue {
    const vs = ms.selector;
    const selected = this.ctx.selected.get(vs) ?? [];
    const ends = this.windowEnds(grid, vs.offset, vs.at);
    const series: RangeSeries[] = [];
    for (const s of selected) {
      const { ts, vs: values } = s.mayHaveStale === false ? { ts: s.timestamps, vs: s.values } : withoutStale(s.timestamps, s.values);
      if (ts.length === 0) continue;
      series.push({ labels: s.labels, ts, vs: values, dropName: false });
    }
    return { type: 'matrix', series, ends, range: ms.range, fromSelector: true };
  }

  /** Subquery: evaluates its expression on its own aligned grid, then serves it as a range vector. */
  subquery(sq: SubqueryExpr, grid: StepGrid): MatrixValue {
    const inner = subqueryGrid(sq, grid, this.times, this.ctx.opts.noStepSubqueryInterval);
    const v = this.evalVector(sq.expr, inner);
    const series: RangeSeries[] = [];
    for (const s of v.series) {
      const p = presentPoints(s, inner);
      if (p) series.push({ labels: s.labels, ts: p.ts, vs: p.vs, dropName: s.dropName });
    }
    return { type: 'matrix', series, ends: this.windowEnds(grid, sq.offset, sq.at), range: sq.range, fromSelector: false };
  }

  private unary(e: UnaryExpr, grid: StepGrid): EvalValue {
    const v = this.eval(e.expr, grid);
    if (e.op === '+') return v;
    if (v.type === 'scalar') {
      const out = new Float64Array(v.values.length);
      for (let i = 0; i < out.length; i++) out[i] = -v.values[i]!;
      return { type: 'scalar', values: out };
    }
    if (v.type !== 'vector') throw new PromQLError('execution', 'unary minus needs a scalar or instant vector');
    const delayed = this.ctx.opts.delayedNameRemoval;
    const series = v.series.map((s) => {
      const values = new Float64Array(s.values.length);
      for (let i = 0; i < values.length; i++) values[i] = -s.values[i]!;
      return dropName({ ...s, values }, delayed);
    });
    return { type: 'vector', series: delayed ? series : mergeSameLabels(series) };
  }
}

/** Copies samples without staleness markers (or returns the arrays as they are when there are none). */
export function withoutStale(ts: Float64Array, vs: Float64Array): { ts: Float64Array; vs: Float64Array } {
  let stale = 0;
  for (let i = 0; i < vs.length; i++) {
    const v = vs[i]!;
    if (v !== v && isStaleAt(vs, i)) stale++;
  }
  if (stale === 0) return { ts, vs };
  const ots = new Float64Array(vs.length - stale);
  const ovs = new Float64Array(vs.length - stale);
  let k = 0;
  for (let i = 0; i < vs.length; i++) {
    const v = vs[i]!;
    if (v !== v && isStaleAt(vs, i)) continue;
    ots[k] = ts[i]!;
    ovs[k] = v;
    k++;
  }
  return { ts: ots, vs: ovs };
}

/**
 * Samples a value holds, as Prometheus counts them: points of an instant vector; for a
 * range vector, the largest window of each series (the evaluator holds one window at a time).
 */
function sizeOf(v: EvalValue): number {
  if (v.type === 'vector') {
    if (v.points !== undefined) return v.points;
    let n = 0;
    for (const s of v.series) {
      const p = s.present;
      for (let i = 0; i < p.length; i++) n += p[i]!;
    }
    return n;
  }
  if (v.type === 'scalar') return v.values.length;
  if (v.type === 'matrix') {
    let n = 0;
    for (const s of v.series) n += windowEstimate(s.ts, v.range);
    return n;
  }
  return 0;
}

/** Samples of `ts` in one window of the given range, estimated from the mean spacing (exact for regular series). */
function windowEstimate(ts: Float64Array, range: number): number {
  const len = ts.length;
  if (len < 2) return len;
  const spacing = (ts[len - 1]! - ts[0]!) / (len - 1);
  return spacing > 0 ? Math.min(len, Math.ceil(range / spacing)) : len;
}
