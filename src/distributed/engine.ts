/**
 * The distributed engine: plans a query over the remote engines, sends the sub-queries
 * (every request through the clients' admission point), merges the answers and evaluates
 * the central expression with hmd's own engine.
 *
 * An engine that fails fails the query, naming the engine; with partial responses allowed,
 * the rest is returned with a warning and `partial: true`, so that callers can tell an
 * incomplete answer from a healthy one.
 */

import { setMaxListeners } from 'node:events';
import type { Expr, MatrixSelector, VectorSelector } from '../promql/ast.js';
import { Engine, type EngineOptions } from '../promql/engine.js';
import { PromQLError } from '../promql/errors.js';
import { parseExpr } from '../promql/parser.js';
import { exprToString } from '../promql/printer.js';
import type { QueryResult, QueryValue } from '../promql/result.js';
import { typeOf } from '../promql/signatures.js';
import { compareLabels, labelsKey, METRIC_NAME, type Labels } from '../storage/labels.js';
import type { LabelMatcher } from '../storage/matchers.js';
import type { Queryable, SelectRequest, SelectResult, Series } from '../storage/queryable.js';
import { RemoteEngine, type Admission, type Priority, type RemoteQueryResult } from '../remote/client.js';
import { NodeResult, ownLabels } from './merge.js';
import { planQuery, REMOTE_PREFIX, stripPartitionMatchers, type Plan, type RemoteNode, type RemoteTarget } from './planner.js';
import { Topology, type EngineSpec, type Partition, type PlacedEngine } from './topology.js';

/** One remote engine: where it is, what it owns, how to reach it. */
export interface DistributedEngineSpec extends EngineSpec {
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly bearerToken?: string;
  readonly timeoutMs?: number;
  readonly connections?: number;
}

export interface DistributedEngineOptions {
  readonly engines: readonly DistributedEngineSpec[];
  /** Return what the other engines answered when some fail (default false: fail the query). */
  readonly partialResponse?: boolean;
  /** Admission point of every request (the adaptive limiter); default: admit at once. */
  readonly admit?: Admission;
  /** Options of the central evaluation (lookback, limits, subquery step). */
  readonly central?: EngineOptions;
  /** The clock that relative engine time ranges are measured from (default Date.now). */
  readonly now?: () => number;
  /** False: pull raw series and evaluate everything centrally (default true). */
  readonly pushdown?: boolean;
}

export interface DistributedQueryOptions {
  readonly signal?: AbortSignal;
  /** Overrides the engine's partial-response setting for this query. */
  readonly partialResponse?: boolean;
  /** Admission class of its requests (default interactive). */
  readonly priority?: Priority;
}

/** A distributed query's answer. */
export interface DistributedResult extends QueryResult {
  /** True when some engines did not answer and the value leaves their data out. */
  readonly partial: boolean;
  /** The engines that did not answer, by name. */
  readonly missingEngines: readonly string[];
  readonly plan: Plan;
  /** Requests sent and response bytes received for this query. */
  readonly requests: number;
  readonly bytesReceived: number;
}

/** Evaluates PromQL across remote engines, pushing work down to them. */
export class DistributedEngine {
  private readonly specs: readonly DistributedEngineSpec[];
  private readonly clients: readonly RemoteEngine[];
  private readonly central: Engine;
  private readonly partialResponse: boolean;
  private readonly now: () => number;
  private readonly pushdown: boolean;

  constructor(opts: DistributedEngineOptions) {
    if (opts.engines.length === 0) throw new Error('no remote engines configured: add at least one under `engines:` in hmd.yaml');
    this.specs = opts.engines;
    this.clients = opts.engines.map(
      (e) =>
        new RemoteEngine({
          name: e.name,
          url: e.url,
          ...(e.headers ? { headers: e.headers } : {}),
          ...(e.bearerToken ? { bearerToken: e.bearerToken } : {}),
          ...(e.timeoutMs ? { timeoutMs: e.timeoutMs } : {}),
          ...(e.connections ? { connections: e.connections } : {}),
          ...(opts.admit ? { admit: opts.admit } : {}),
        }),
    );
    this.central = new Engine(opts.central);
    this.partialResponse = opts.partialResponse ?? false;
    this.now = opts.now ?? Date.now;
    this.pushdown = opts.pushdown ?? true;
  }

  /** The plan of an instant (`step` 0) or range query, without running it. */
  explain(query: string | Expr, start: number, end = start, step = 0): Plan {
    return this.planWith(this.topology(), query, start, end, step);
  }

  private planWith(topo: Topology, query: string | Expr, start: number, end: number, step: number): Plan {
    const expr = typeof query === 'string' ? parseExpr(query) : query;
    return planQuery(expr, topo, {
      start,
      end,
      step,
      lookbackMs: this.central.lookbackDelta,
      noStepSubqueryIntervalMs: this.central.noStepSubqueryInterval,
      pushdown: this.pushdown,
    });
  }

  /** Evaluates at one instant (ms). */
  instantQuery(query: string | Expr, timeMs: number, opts: DistributedQueryOptions = {}): Promise<DistributedResult> {
    return this.exec(query, timeMs, timeMs, 0, opts);
  }

  /** Evaluates at every step from start to end (ms, inclusive). */
  rangeQuery(query: string | Expr, startMs: number, endMs: number, stepMs: number, opts: DistributedQueryOptions = {}): Promise<DistributedResult> {
    if (!(stepMs > 0)) throw new PromQLError('bad_data', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
    if (endMs < startMs) throw new PromQLError('bad_data', 'end timestamp must not be before start time');
    if ((endMs - startMs) / stepMs > this.central.maxPoints) {
      throw new PromQLError('bad_data', `exceeded maximum resolution of ${this.central.maxPoints.toLocaleString('en-US')} points per timeseries. Try decreasing the query resolution (?step=XX)`);
    }
    return this.exec(query, startMs, endMs, stepMs, opts);
  }

  /** Requests and bytes of every engine so far. */
  stats(): { engine: string; requests: number; errors: number; bytesReceived: number }[] {
    return this.clients.map((c) => ({ engine: c.name, ...c.stats() }));
  }

  /** Closes the engines' connection pools. */
  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }

  private async exec(query: string | Expr, start: number, end: number, step: number, opts: DistributedQueryOptions): Promise<DistributedResult> {
    const expr = typeof query === 'string' ? parseExpr(query) : query;
    if (step > 0) {
      const t = typeOf(expr);
      if (t !== 'vector' && t !== 'scalar') {
        throw new PromQLError('bad_data', `invalid expression type "${t === 'matrix' ? 'range vector' : t}" for range query, must be Scalar or instant Vector`);
      }
    }
    // One topology for planning and running: relative time ranges are resolved once.
    const topo = this.topology();
    const plan = this.planWith(topo, expr, start, end, step);
    const run = new Run(this, topo, plan, opts.partialResponse ?? this.partialResponse, opts);
    let result: QueryResult;
    if (plan.passthrough) {
      const { target, attachLabels } = plan.passthrough;
      const r = await run.send(target, plan.remotes[0]!);
      const value: QueryValue = r ? (attachLabels ? attach(r.value, run.partitionLabels(), target.partition) : r.value) : emptyValue(expr, step, start);
      result = { value, warnings: [], infos: [], stats: emptyStats() };
    } else {
      const storage = run.queryable();
      await run.fetchRemotes();
      result = step > 0 ? await this.central.rangeQuery(storage, plan.central, start, end, step, run.engineOpts()) : await this.central.instantQuery(storage, plan.central, start, run.engineOpts());
    }
    const missing = [...run.failures.keys()].sort();
    const warnings = [...run.warnings, ...result.warnings];
    if (missing.length > 0) warnings.unshift(`partial response: no answer from engine(s) ${missing.join(', ')}; the result leaves their data out`);
    return {
      ...result,
      warnings,
      partial: missing.length > 0,
      missingEngines: missing,
      plan,
      requests: run.requests,
      bytesReceived: run.bytes,
    };
  }

  /** @internal */
  client(e: PlacedEngine): RemoteEngine {
    return this.clients[e.index]!;
  }

  private topology(): Topology {
    return new Topology(this.specs, this.now());
  }
}

/** The state of one query's execution: answers, failures, counters. */
class Run {
  readonly failures = new Map<string, Error>();
  readonly warnings: string[] = [];
  requests = 0;
  bytes = 0;
  private readonly results = new Map<string, NodeResult>();
  private readonly controller = new AbortController();

  constructor(
    private readonly engine: DistributedEngine,
    private readonly topo: Topology,
    private readonly plan: Plan,
    private readonly partial: boolean,
    private readonly opts: DistributedQueryOptions,
  ) {
    // Every request of the query listens on this one signal; that many listeners is by design.
    setMaxListeners(0, this.controller.signal);
    opts.signal?.addEventListener('abort', () => this.controller.abort(opts.signal!.reason), { once: true });
  }

  partitionLabels(): readonly string[] {
    return this.topo.partitionLabels;
  }

  engineOpts(): { signal: AbortSignal } {
    return { signal: this.controller.signal };
  }

  /** Sends every remote sub-query to its engines, all at once. */
  async fetchRemotes(): Promise<void> {
    await Promise.all(
      this.plan.remotes.map(async (node) => {
        const res = new NodeResult(node, this.topo.partitionLabels);
        this.results.set(node.name, res);
        await Promise.all(node.targets.map(async (t) => res.add(t, (await this.send(t, node))?.value)));
      }),
    );
  }

  /** One remote request; undefined when it failed and partial responses are allowed. */
  async send(t: RemoteTarget, node: RemoteNode): Promise<RemoteQueryResult | undefined> {
    const c = this.engine.client(t.engine);
    const o = { signal: this.controller.signal, priority: this.opts.priority ?? 'interactive' };
    return this.guard(t.engine, async () => {
      if (node.instant) return [this.count(await c.query(t.query, t.start, o))];
      // Long subquery grids go out in pieces a server accepts (Prometheus: 11,000 points).
      const parts: RemoteQueryResult[] = [];
      const step = node.grid.interval;
      const chunk = 10_000 * step;
      for (let s = t.start; s <= t.end; s += chunk + step) parts.push(this.count(await c.queryRange(t.query, s, Math.min(t.end, s + chunk), step, o)));
      return parts;
    }).then((rs) => (rs ? concat(rs) : undefined));
  }

  /** Runs a request, counting it; records or rethrows its failure. */
  private async guard<T>(e: PlacedEngine, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (this.controller.signal.aborted && !this.failures.size) throw err;
      if (!this.partial) {
        this.controller.abort(err);
        throw err;
      }
      if (!this.failures.has(e.name)) this.failures.set(e.name, err as Error);
      this.warnings.push(`engine ${e.name} failed: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** The storage the central evaluation reads: remote answers by name, raw selectors from the engines. */
  queryable(): Queryable {
    return {
      select: async (req: SelectRequest): Promise<SelectResult> => {
        const name = req.matchers.find((m) => m.name === METRIC_NAME && m.type === '=')?.value;
        if (name?.startsWith(REMOTE_PREFIX)) {
          const r = this.results.get(name);
          return { series: r ? r.series() : [] };
        }
        return { series: await this.pullRaw(req) };
      },
    };
  }

  /**
   * Raw samples of a selector from every engine that may hold them, over [mint, maxt]:
   * an instant query of the selector as a range vector at maxt. (The query API returns no
   * staleness markers; the planner only pulls raw where it cannot push a selector down.)
   */
  private async pullRaw(req: SelectRequest): Promise<Series[]> {
    const byKey = new Map<string, { labels: Labels; parts: Series[] }>();
    const jobs: Promise<void>[] = [];
    for (const part of this.topo.matching(req.matchers)) {
      for (const e of part.engines) {
        const lo = Math.max(req.mint, e.minT);
        const hi = Math.min(req.maxt, e.maxT);
        if (lo > hi) continue;
        jobs.push(
          this.guard(e, async () => {
            const r = await this.engine.client(e).query(rawQuery(req.matchers, this.topo.partitionLabels, hi - lo + 1), hi, {
              signal: this.controller.signal,
              priority: this.opts.priority ?? 'interactive',
            });
            this.count(r);
            if (r.value.type !== 'matrix') return [];
            return r.value.series.map((s) => clip(s, lo, hi));
          }).then((ss) => {
            for (const s of ss ?? []) {
              if (s.timestamps.length === 0) continue;
              const labels = ownLabels(s.labels, this.topo.partitionLabels, part.labels);
              if (!labels) continue;
              const k = labelsKey(labels);
              const x = byKey.get(k);
              if (x) x.parts.push(s);
              else byKey.set(k, { labels, parts: [s] });
            }
          }),
        );
      }
    }
    await Promise.all(jobs);
    return [...byKey.values()].map(({ labels, parts }) => stitch(labels, parts)).sort((a, b) => compareLabels(a.labels, b.labels));
  }

  private count(r: RemoteQueryResult): RemoteQueryResult {
    this.requests++;
    this.bytes += r.bytes;
    for (const w of r.warnings) this.warnings.push(`engine ${r.engine}: ${w}`);
    return r;
  }
}

function concat(rs: RemoteQueryResult[]): RemoteQueryResult {
  if (rs.length === 1) return rs[0]!;
  const series = rs.flatMap((r) => (r.value.type === 'matrix' ? r.value.series : []));
  return { ...rs[0]!, value: { type: 'matrix', series } };
}

/** The selector as a range vector over `rangeMs`, without the partition matchers the engine owns. */
function rawQuery(matchers: readonly LabelMatcher[], p: readonly string[], rangeMs: number): string {
  const vs: VectorSelector = { kind: 'VectorSelector', name: undefined, matchers: stripPartitionMatchers(matchers, p), offset: 0, at: undefined, pos: { start: 0, end: 0 } };
  const ms: MatrixSelector = { kind: 'MatrixSelector', selector: vs, range: rangeMs, pos: vs.pos };
  return exprToString(ms);
}

/** The samples of a series within [lo, hi] (Prometheus 2.x windows include their left end). */
function clip(s: { labels: Labels; timestamps: Float64Array; values: Float64Array }, lo: number, hi: number): Series {
  let a = 0;
  while (a < s.timestamps.length && s.timestamps[a]! < lo) a++;
  let b = s.timestamps.length;
  while (b > a && s.timestamps[b - 1]! > hi) b--;
  return { labels: s.labels, timestamps: s.timestamps.subarray(a, b), values: s.values.subarray(a, b), mayHaveStale: false };
}

/** One series from pieces of its history held by several engines (time-ordered, no repeated timestamps). */
function stitch(labels: Labels, parts: Series[]): Series {
  if (parts.length === 1) return { ...parts[0]!, labels };
  const pts: [number, number][] = [];
  for (const p of parts) for (let i = 0; i < p.timestamps.length; i++) pts.push([p.timestamps[i]!, p.values[i]!]);
  pts.sort((a, b) => a[0] - b[0]);
  const ts: number[] = [];
  const vs: number[] = [];
  for (const [t, v] of pts) {
    if (ts.length && ts[ts.length - 1] === t) continue;
    ts.push(t);
    vs.push(v);
  }
  return { labels, timestamps: Float64Array.from(ts), values: Float64Array.from(vs), mayHaveStale: false };
}

/** A passthrough answer with the engine's partition labels attached (and others' series dropped). */
function attach(v: QueryValue, p: readonly string[], part: Partition): QueryValue {
  if (v.type === 'vector') {
    const samples = v.samples.flatMap((s) => {
      const labels = ownLabels(s.labels, p, part.labels);
      return labels ? [{ ...s, labels }] : [];
    });
    return { type: 'vector', samples };
  }
  if (v.type === 'matrix') {
    const series = v.series.flatMap((s) => {
      const labels = ownLabels(s.labels, p, part.labels);
      return labels ? [{ ...s, labels }] : [];
    });
    return { type: 'matrix', series };
  }
  return v;
}

function emptyValue(expr: Expr, step: number, t: number): QueryValue {
  const type = typeOf(expr);
  if (step === 0 && type === 'scalar') return { type: 'scalar', t, v: NaN };
  return step === 0 && type === 'vector' ? { type: 'vector', samples: [] } : { type: 'matrix', series: [] };
}

function emptyStats(): QueryResult['stats'] {
  return { seriesFetched: 0, samplesFetched: 0, bytesRead: 0, peakSamples: 0, totalSamples: 0, timings: { parseMs: 0, selectMs: 0, evalMs: 0 } };
}
