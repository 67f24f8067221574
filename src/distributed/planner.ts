/**
 * The distributed planner: rewrites a parsed expression into sub-queries that each engine
 * answers over its own partition, and a central expression that merges their answers
 * (Thanos' distributed engine does the same, logicalplan/distribute.go).
 *
 * The central expression is ordinary PromQL: each remote sub-query appears in it as a
 * selector of a reserved metric name (`__hmd_remote_<n>`), whose series the executor
 * serves from the merged remote answers. Selectors the plan could not push down stay in
 * the central expression and are pulled raw from the engines.
 *
 * Pure: no I/O; the executor (engine.ts) runs the plan.
 */

import type { AggregateExpr, AggregateOp, AtModifier, BinaryExpr, Call, Expr, SubqueryExpr, VectorSelector } from '../promql/ast.js';
import { mapExpr } from '../promql/ast.js';
import { exprToString } from '../promql/printer.js';
import { typeOf } from '../promql/signatures.js';
import { selectorRanges } from '../promql/engine.js';
import { absentLabels } from '../promql/eval/calls.js';
import { subqueryGrid, type QueryTimes } from '../promql/eval/evaluator.js';
import { makeGrid, type StepGrid } from '../promql/eval/types.js';
import { formatLabels, METRIC_NAME, type Labels } from '../storage/labels.js';
import { matcher, type LabelMatcher } from '../storage/matchers.js';
import { isConstant, keepsPartition, selectorsOf } from './analysis.js';
import type { Partition, PlacedEngine, Topology } from './topology.js';

/** Prefix of the metric names that stand for remote sub-queries in the central expression. */
export const REMOTE_PREFIX = '__hmd_remote_';

/** Where and when a query is evaluated. `step` 0 means an instant query at `start`. */
export interface PlanParams {
  readonly start: number;
  readonly end: number;
  readonly step: number;
  /** Lookback delta of instant selectors, ms. */
  readonly lookbackMs: number;
  /** Step of subqueries that give none, ms. */
  readonly noStepSubqueryIntervalMs: number;
  /**
   * False: push nothing down; pull every selector's raw samples and evaluate centrally
   * (the baseline the distributed plan is measured against, and a way to rule the planner out).
   */
  readonly pushdown?: boolean;
}

/** One request of a remote sub-query: an engine, its query text and the steps it answers. */
export interface RemoteTarget {
  readonly engine: PlacedEngine;
  readonly partition: Partition;
  /** The query as that engine receives it (partition matchers it owns removed, `@ start()` resolved). */
  readonly query: string;
  /** First and last step it answers, ms (equal for an instant query). */
  readonly start: number;
  readonly end: number;
}

/**
 * A sub-query evaluated on the engines. `merge`: the union of the answers is the value.
 * `absent`: absent() on each engine; present where every engine found nothing.
 */
export interface RemoteNode {
  readonly id: number;
  /** The metric name standing for it in the central expression. */
  readonly name: string;
  readonly mode: 'merge' | 'absent';
  /** The sub-query (as written, before per-engine matcher removal). */
  readonly expr: Expr;
  readonly query: string;
  /** The steps the central plan needs it at; `instant` when it is one instant query. */
  readonly grid: StepGrid;
  readonly instant: boolean;
  readonly targets: readonly RemoteTarget[];
  /** For `absent`: the labels of its output, from the selector's equality matchers. */
  readonly absentLabels?: Labels;
}

export type PlanMode =
  /** One engine answers the whole query. */
  | 'passthrough'
  /** Remote sub-queries and a central merge. */
  | 'distributed'
  /** Evaluated centrally, from raw series pulled from the engines (or no series at all). */
  | 'central';

/** A query's plan. */
export interface Plan {
  readonly mode: PlanMode;
  readonly query: string;
  readonly params: PlanParams;
  /** For passthrough: the one engine and the query it receives. */
  readonly passthrough?: { readonly target: RemoteTarget; readonly attachLabels: boolean };
  /** The central expression (for passthrough, `__hmd_remote_0`). */
  readonly central: Expr;
  readonly remotes: readonly RemoteNode[];
  /** Selectors the central expression pulls raw from the engines. */
  readonly rawSelectors: readonly VectorSelector[];
  /** Engines no part of the plan needs, by name. */
  readonly prunedEngines: readonly string[];
  /** Why parts of the query could not be pushed down. */
  readonly notes: readonly string[];
}

const POS = { start: 0, end: 0 } as const;
const PUSHABLE_AGGREGATIONS = new Set<AggregateOp>(['sum', 'count', 'min', 'max', 'group', 'topk', 'bottomk', 'avg']);

/** Plans `expr` over the topology. */
export function planQuery(expr: Expr, topo: Topology, params: PlanParams): Plan {
  return new Planner(topo, params).plan(expr);
}

/** A selector standing for remote sub-query `name` in the central expression. */
function placeholder(name: string): VectorSelector {
  return { kind: 'VectorSelector', name, matchers: [matcher('=', METRIC_NAME, name)], offset: 0, at: undefined, pos: POS };
}

/** A step assignment: for each engine (by index), the step indices it answers. */
type Assignment = Map<PlacedEngine, { partition: Partition; steps: number[] }>;

class Planner {
  private readonly p: readonly string[];
  private readonly times: QueryTimes;
  private readonly remotes: RemoteNode[] = [];
  private readonly raw: VectorSelector[] = [];
  private readonly notes: string[] = [];
  private readonly used = new Set<PlacedEngine>();

  constructor(
    private readonly topo: Topology,
    private readonly params: PlanParams,
  ) {
    this.p = topo.partitionLabels;
    this.times = { start: params.start, end: params.end };
  }

  plan(expr: Expr): Plan {
    const instant = this.params.step === 0;
    const grid = makeGrid(this.params.start, this.params.end, instant ? 1 : this.params.step);
    const query = exprToString(expr);
    const base = { query, params: this.params };

    if (this.params.pushdown === false) {
      mapExpr(expr, (n) => {
        if (n.kind === 'VectorSelector') this.raw.push(n);
        return undefined;
      });
      for (const sel of this.raw) for (const part of this.topo.matching(sel.matchers)) for (const e of part.engines) this.used.add(e);
      return { ...base, mode: 'central', central: expr, remotes: [], rawSelectors: this.raw, prunedEngines: this.pruned([...this.used]), notes: ['pushdown disabled'] };
    }
    if (!isConstant(expr) && !containsAbsent(expr)) {
      const assignment = this.assign(expr, grid, false);
      if (assignment && assignment.size === 1) {
        const [engine, a] = [...assignment][0]!;
        const target = this.target(expr, engine, a.partition, grid.start, grid.end);
        const attachLabels = keepsPartition(expr, this.p) && typeOf(expr) !== 'scalar';
        const name = `${REMOTE_PREFIX}0`;
        const node: RemoteNode = { id: 0, name, mode: 'merge', expr, query, grid, instant, targets: [target] };
        return { ...base, mode: 'passthrough', passthrough: { target, attachLabels }, central: placeholder(name), remotes: [node], rawSelectors: [], prunedEngines: this.pruned([engine]), notes: [] };
      }
    }
    const central = this.rewrite(expr, grid, instant);
    const mode: PlanMode = this.remotes.length > 0 ? 'distributed' : 'central';
    for (const s of this.raw) for (const part of this.topo.matching(s.matchers)) for (const e of part.engines) this.used.add(e);
    return { ...base, mode, central, remotes: this.remotes, rawSelectors: this.raw, prunedEngines: this.pruned([...this.used]), notes: this.notes };
  }

  private pruned(used: readonly PlacedEngine[]): string[] {
    return this.topo.engines.filter((e) => !used.includes(e)).map((e) => e.name);
  }

  /** The central form of `e`, evaluated on `grid` (`instant`: the query's single instant). */
  private rewrite(e: Expr, grid: StepGrid, instant: boolean): Expr {
    if (typeOf(e) === 'vector' && !isConstant(e) && keepsPartition(e, this.p)) {
      const r = this.remote(e, grid, instant, 'merge');
      if (r) return r;
    }
    switch (e.kind) {
      case 'AggregateExpr':
        return this.rewriteAggregate(e, grid, instant);
      case 'Call': {
        if ((e.func === 'absent' || e.func === 'absent_over_time') && keepsPartition(e.args[0]!, this.p)) {
          const r = this.remote(e, grid, instant, 'absent');
          if (r) return r;
        }
        return { ...e, args: e.args.map((a) => this.rewrite(a, grid, instant)) };
      }
      case 'BinaryExpr':
        return { ...e, lhs: this.rewrite(e.lhs, grid, instant), rhs: this.rewrite(e.rhs, grid, instant) };
      case 'ParenExpr':
      case 'UnaryExpr':
        return { ...e, expr: this.rewrite(e.expr, grid, instant) };
      case 'SubqueryExpr':
        return { ...e, expr: this.rewrite(e.expr, subqueryGrid(e, grid, this.times, this.params.noStepSubqueryIntervalMs), false) };
      case 'VectorSelector':
        this.raw.push(e);
        return e;
      case 'MatrixSelector':
        this.raw.push(e.selector);
        return e;
      default:
        return e;
    }
  }

  /** Pushes the partial aggregation to the engines and merges centrally, per the pushdown table. */
  private rewriteAggregate(e: AggregateExpr, grid: StepGrid, instant: boolean): Expr {
    if (PUSHABLE_AGGREGATIONS.has(e.op) && (!e.param || isConstant(e.param)) && keepsPartition(e.expr, this.p)) {
      // Each engine groups by G ∪ P, so no group spans engines; the central step regroups by G.
      const grouping = e.without ? e.grouping.filter((l) => !this.p.includes(l)) : [...new Set([...e.grouping, ...this.p])].sort();
      const partial = (op: AggregateOp): AggregateExpr => ({ ...e, op, param: op === e.op ? e.param : undefined, grouping, hasGrouping: true });
      const merge = (op: AggregateOp, arg: Expr): AggregateExpr => ({ ...e, op, expr: arg });
      if (e.op === 'avg') {
        const sum = this.remote(partial('sum'), grid, instant, 'merge');
        const count = sum && this.remote(partial('count'), grid, instant, 'merge');
        if (sum && count) {
          const div: BinaryExpr = {
            kind: 'BinaryExpr',
            op: '/',
            lhs: merge('sum', sum),
            rhs: merge('sum', count),
            returnBool: false,
            matching: { card: 'one-to-one', on: false, labels: [], include: [], explicit: false },
            pos: e.pos,
          };
          return div;
        }
        if (sum) this.remotes.pop();
      } else {
        const r = this.remote(partial(e.op), grid, instant, 'merge');
        if (r) return merge(e.op === 'count' ? 'sum' : e.op, r);
      }
    }
    return { ...e, expr: this.rewrite(e.expr, grid, instant), param: e.param && this.rewrite(e.param, grid, instant) };
  }

  /** Makes `e` a remote sub-query, or returns undefined when no engine split answers it exactly. */
  private remote(e: Expr, grid: StepGrid, instant: boolean, mode: RemoteNode['mode']): VectorSelector | undefined {
    const assignment = this.assign(e, grid);
    if (!assignment) return undefined;
    const id = this.remotes.length;
    const name = `${REMOTE_PREFIX}${id}`;
    const targets: RemoteTarget[] = [];
    for (const [engine, a] of assignment) {
      this.used.add(engine);
      for (const [i, j] of runs(a.steps)) targets.push(this.target(e, engine, a.partition, grid.times[i]!, grid.times[j]!));
    }
    const node: RemoteNode = {
      id,
      name,
      mode,
      expr: e,
      query: exprToString(resolveAt(e, this.times)),
      grid,
      instant,
      targets,
      ...(mode === 'absent' ? { absentLabels: absentLabels((e as Call).args[0]!) } : {}),
    };
    this.remotes.push(node);
    return placeholder(name);
  }

  private target(e: Expr, engine: PlacedEngine, partition: Partition, start: number, end: number): RemoteTarget {
    return { engine, partition, query: exprToString(forPartition(resolveAt(e, this.times), this.topo, partition)), start, end };
  }

  /**
   * Which engine answers each step of `e`: per partition the selectors can read, the
   * preferred engine whose time range holds every sample the step's windows need. A step
   * whose windows no engine holds whole, though some hold part of them, makes the split
   * impossible (undefined): a rate would otherwise be computed from a partial window.
   */
  private assign(e: Expr, grid: StepGrid, note = true): Assignment | undefined {
    const parts = new Set<Partition>();
    for (const s of selectorsOf(e)) for (const p of this.topo.matching(s.matchers)) parts.add(p);
    const out: Assignment = new Map();
    const all = Array.from({ length: grid.n }, (_, i) => i);
    let windows: [number, number][] | undefined;
    for (const part of parts) {
      const whole = part.engines.find((x) => x.minT === -Infinity && x.maxT === Infinity);
      if (whole) {
        out.set(whole, { partition: part, steps: all });
        continue;
      }
      windows ??= this.windows(e, grid);
      for (let i = 0; i < grid.n; i++) {
        const [lo, hi] = windows[i]!;
        const engine = part.engines.find((x) => x.minT <= lo && hi <= x.maxT);
        if (!engine) {
          if (part.engines.some((x) => x.minT <= hi && lo <= x.maxT)) {
            const why = `${exprToString(e)}: no engine of ${formatLabels(part.labels)} holds the whole window [${iso(lo)}, ${iso(hi)}] needed at ${iso(grid.times[i]!)}`;
            if (note && !this.notes.includes(why)) this.notes.push(why);
            return undefined;
          }
          continue;
        }
        const a = out.get(engine);
        if (a) a.steps.push(i);
        else out.set(engine, { partition: part, steps: [i] });
      }
    }
    return out;
  }

  /** The time span of samples each step of `e` reads: the union of its selectors' windows. */
  private windows(e: Expr, grid: StepGrid): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < grid.n; i++) {
      const t = grid.times[i]!;
      let lo = Infinity;
      let hi = -Infinity;
      for (const r of selectorRanges(e, { start: t, end: t }, this.times, this.params.lookbackMs, this.params.noStepSubqueryIntervalMs).values()) {
        if (r.mint < lo) lo = r.mint;
        if (r.maxt > hi) hi = r.maxt;
      }
      out.push([lo, hi]);
    }
    return out;
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Consecutive runs [first, last] of sorted step indices. */
function runs(steps: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let k = 0; k < steps.length; ) {
    let j = k;
    while (j + 1 < steps.length && steps[j + 1] === steps[j]! + 1) j++;
    out.push([steps[k]!, steps[j]!]);
    k = j + 1;
  }
  return out;
}

function containsAbsent(e: Expr): boolean {
  let found = false;
  mapExpr(e, (n) => {
    if (n.kind === 'Call' && (n.func === 'absent' || n.func === 'absent_over_time')) found = true;
    return undefined;
  });
  return found;
}

/**
 * `@ start()` and `@ end()` made absolute: a sub-query runs over its own (shorter) range,
 * where start() and end() would mean other times.
 */
export function resolveAt(e: Expr, times: QueryTimes): Expr {
  const fix = (at: AtModifier | undefined): AtModifier | undefined =>
    at && at.kind !== 'time' ? { kind: 'time', ms: at.kind === 'start' ? times.start : times.end } : at;
  return mapExpr(e, (n) => {
    if (n.kind === 'VectorSelector' && n.at && n.at.kind !== 'time') return { ...n, at: fix(n.at) };
    if (n.kind === 'SubqueryExpr' && n.at && n.at.kind !== 'time') return { ...n, at: fix(n.at), expr: resolveAt(n.expr, times) } satisfies SubqueryExpr;
    return undefined;
  });
}

/**
 * The query one partition's engine receives. Matchers on the partition labels were already
 * decided against the engine's external labels, so they are dropped where they hold (the
 * engine's series need not carry its external labels, as with a plain Prometheus). A
 * selector that cannot match the partition keeps them, and so selects nothing there.
 */
export function forPartition(e: Expr, topo: Topology, part: Partition): Expr {
  if (topo.partitionLabels.length === 0) return e;
  return mapExpr(e, (n) => {
    if (n.kind !== 'VectorSelector' || !topo.compatible(part, n.matchers)) return undefined;
    const kept = stripPartitionMatchers(n.matchers, topo.partitionLabels);
    return kept.length === n.matchers.length ? n : { ...n, matchers: kept, name: kept.some((m) => m.name === METRIC_NAME) ? n.name : undefined };
  });
}

/** The matchers without those on partition labels, unless that would leave none that selects. */
export function stripPartitionMatchers(ms: readonly LabelMatcher[], p: readonly string[]): readonly LabelMatcher[] {
  const kept = ms.filter((m) => !p.includes(m.name));
  return kept.some((m) => !m.matchesEmpty()) ? kept : ms;
}
