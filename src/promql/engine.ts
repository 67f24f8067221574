/**
 * The PromQL engine: parses, works out which series each selector needs over which
 * time range, fetches them all up front (the only I/O), then evaluates synchronously.
 */

import type { Expr, VectorSelector } from './ast.js';
import { children } from './ast.js';
import { PromQLError } from './errors.js';
import { parseExpr } from './parser.js';
import type { QueryResult, QueryStats, QueryValue, ResultSeries, Sample } from './result.js';
import { typeOf } from './signatures.js';
import { Annotations, EvalContext } from './eval/context.js';
import { atTime, Evaluator, subqueryGrid, type QueryTimes } from './eval/evaluator.js';
import { dropMetricName, compareLabels, labelsKey } from '../storage/labels.js';
import type { Queryable, SelectResult, Series } from '../storage/queryable.js';
import { matchersKey } from '../storage/matchers.js';
import { duplicateLabelsetError, mergeSameLabels, presentPoints } from './eval/series.js';
import { RangeMemo } from './eval/range-memo.js';
import { makeGrid, type EvalValue, type GridSpan, type StepGrid, type StepSeries } from './eval/types.js';

export interface EngineOptions {
  /** How far back an instant selector looks for a sample, ms (default 5m). */
  lookbackDelta?: number;
  /** Most samples a query may hold (default 50 million, as Prometheus). */
  maxSamples?: number;
  /** Query timeout in ms (default 2m, as Prometheus). */
  timeoutMs?: number;
  /** Most points per series in a range query (default 11,000, as Prometheus's API). */
  maxPointsPerSeries?: number;
  /** Subquery step when none is written, ms (default 1m). */
  noStepSubqueryIntervalMs?: number;
  /** Keep __name__ until the end of evaluation (Prometheus's promql-delayed-name-removal). */
  delayedNameRemoval?: boolean;
  /** The clock the timeout is measured on, ms (default Date.now; injectable for tests). */
  now?: () => number;
}

export interface QueryOptions {
  signal?: AbortSignal;
  /** Per-query lookback delta, ms. */
  lookbackDelta?: number;
}

export const DEFAULT_LOOKBACK_MS = 5 * 60_000;
export const DEFAULT_MAX_SAMPLES = 50_000_000;
export const DEFAULT_TIMEOUT_MS = 2 * 60_000;
export const DEFAULT_MAX_POINTS = 11_000;

/** A prefetch with nothing to wait for. */
const DONE: Promise<void> = Promise.resolve();

/** Evaluates PromQL over a Queryable with Prometheus's semantics. */
export class Engine {
  readonly lookbackDelta: number;
  readonly maxSamples: number;
  readonly timeoutMs: number;
  readonly maxPoints: number;
  readonly noStepSubqueryInterval: number;
  readonly delayedNameRemoval: boolean;
  private readonly now: () => number;
  /** Range-function outputs over storage with immutable samples, shared by every query of this engine. */
  readonly rangeMemo = new RangeMemo();

  constructor(opts: EngineOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.lookbackDelta = opts.lookbackDelta ?? DEFAULT_LOOKBACK_MS;
    this.maxSamples = opts.maxSamples ?? DEFAULT_MAX_SAMPLES;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxPoints = opts.maxPointsPerSeries ?? DEFAULT_MAX_POINTS;
    this.noStepSubqueryInterval = opts.noStepSubqueryIntervalMs ?? 60_000;
    this.delayedNameRemoval = opts.delayedNameRemoval ?? false;
  }

  /** Evaluates an expression at one instant (ms). */
  async instantQuery(storage: Queryable, query: string | Expr, timeMs: number, opts: QueryOptions = {}): Promise<QueryResult> {
    return this.exec(storage, query, timeMs, timeMs, 0, opts);
  }

  /** Evaluates an expression at every step from start to end (ms, inclusive). */
  async rangeQuery(storage: Queryable, query: string | Expr, startMs: number, endMs: number, stepMs: number, opts: QueryOptions = {}): Promise<QueryResult> {
    if (!(stepMs > 0)) throw new PromQLError('bad_data', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
    if (endMs < startMs) throw new PromQLError('bad_data', 'end timestamp must not be before start time');
    if ((endMs - startMs) / stepMs > this.maxPoints) {
      throw new PromQLError('bad_data', `exceeded maximum resolution of ${this.maxPoints.toLocaleString('en-US')} points per timeseries. Try decreasing the query resolution (?step=XX)`);
    }
    return this.exec(storage, query, startMs, endMs, stepMs, opts);
  }

  /**
   * Starts storage reading what a range query (step 0: an instant query) will select, when the
   * storage can read ahead; evaluates nothing. Settles, never rejecting, once that data is held
   * or failed to come (the query reports why). Bad expressions are left for the query to report.
   */
  prefetch(storage: Queryable, query: Expr, startMs: number, endMs: number, stepMs: number): Promise<void> {
    if (!storage.prefetch || endMs < startMs || stepMs < 0) return DONE;
    // The span of the query's grid (its last step, not endMs), without the grid's times.
    const span: GridSpan = { start: startMs, end: stepMs > 0 ? startMs + Math.floor((endMs - startMs) / stepMs) * stepMs : endMs };
    const reads: Promise<void>[] = [];
    for (const [vs, r] of selectorRanges(query, span, { start: startMs, end: endMs }, this.lookbackDelta, this.noStepSubqueryInterval)) {
      reads.push(storage.prefetch({ matchers: vs.matchers, mint: r.mint, maxt: r.maxt }));
    }
    return reads.length === 1 ? reads[0]! : Promise.all(reads).then(() => undefined);
  }

  private async exec(storage: Queryable, query: string | Expr, start: number, end: number, step: number, opts: QueryOptions): Promise<QueryResult> {
    const t0 = performance.now();
    const queryText = typeof query === 'string' ? query : '';
    const expr = typeof query === 'string' ? parseExpr(query) : query;
    const t1 = performance.now();
    const isRange = step > 0;
    const type = typeOf(expr);
    if (isRange && type !== 'vector' && type !== 'scalar') {
      throw new PromQLError('bad_data', `invalid expression type "${type === 'matrix' ? 'range vector' : type}" for range query, must be Scalar or instant Vector`);
    }
    const lookback = opts.lookbackDelta && opts.lookbackDelta > 0 ? opts.lookbackDelta : this.lookbackDelta;
    const times: QueryTimes = { start, end };
    const grid = makeGrid(start, end, isRange ? step : 1);
    const deadline = this.now() + this.timeoutMs;

    const ranges = selectorRanges(expr, grid, times, lookback, this.noStepSubqueryInterval);
    const stats: QueryStats = {
      seriesFetched: 0,
      samplesFetched: 0,
      bytesRead: 0,
      peakSamples: 0,
      totalSamples: 0,
      timings: { parseMs: t1 - t0, selectMs: 0, evalMs: 0 },
    };
    const warnings: string[] = [];
    const selected = await fetchAll(storage, ranges, stats, warnings, opts.signal, deadline - this.now());
    const t2 = performance.now();
    stats.timings.selectMs = t2 - t1;

    const annotations = new Annotations(queryText);
    const ctx = new EvalContext(
      {
        lookbackDelta: lookback,
        delayedNameRemoval: this.delayedNameRemoval,
        noStepSubqueryInterval: this.noStepSubqueryInterval,
        maxSamples: this.maxSamples,
        deadline,
        signal: opts.signal,
        now: this.now,
        ...(storage.immutableSamples ? { rangeMemo: this.rangeMemo } : {}),
      },
      selected,
      annotations,
    );
    const ev = new Evaluator(ctx, times);
    const value = ev.eval(expr, grid);
    const result = this.toResult(value, grid, isRange);
    stats.timings.evalMs = performance.now() - t2;
    stats.peakSamples = ctx.peak;
    // A range vector returned at an instant counts its samples, as Prometheus does.
    stats.totalSamples = ctx.total + (result.type === 'matrix' && !isRange ? result.series.reduce((a, x) => a + x.timestamps.length, 0) : 0);
    return { value: result, warnings: [...warnings, ...annotations.warnings], infos: [...annotations.infos], stats };
  }

  private toResult(v: EvalValue, grid: StepGrid, isRange: boolean): QueryValue {
    const delayed = this.delayedNameRemoval;
    switch (v.type) {
      case 'string':
        return { type: 'string', t: grid.start, v: v.value };
      case 'scalar':
        if (!isRange) return { type: 'scalar', t: grid.start, v: v.values[0]! };
        return {
          type: 'matrix',
          series: [{ labels: [], timestamps: Float64Array.from(grid.times), values: Float64Array.from(v.values) }],
        };
      case 'matrix': {
        // Only an instant query returns a range vector: the samples in its one window.
        const end = v.ends[0]!;
        const start = end - v.range;
        const out: ResultSeries[] = [];
        for (const s of v.series) {
          let lo = 0;
          while (lo < s.ts.length && s.ts[lo]! <= start) lo++;
          let hi = lo;
          while (hi < s.ts.length && s.ts[hi]! <= end) hi++;
          if (hi > lo) {
            const labels = s.dropName && delayed ? dropMetricName(s.labels) : s.labels;
            out.push({ labels, timestamps: s.ts.slice(lo, hi), values: s.vs.slice(lo, hi) });
          }
        }
        return { type: 'matrix', series: out };
      }
      case 'vector': {
        let series: StepSeries[] = v.series;
        if (delayed) {
          series = series.map((s) => (s.dropName ? { ...s, labels: dropMetricName(s.labels), dropName: false } : s));
          if (isRange) series = mergeSameLabels(series);
          else {
            const seen = new Set<string>();
            for (const s of series) {
              if (!s.present[0]) continue;
              const k = labelsKey(s.labels);
              if (seen.has(k)) throw duplicateLabelsetError();
              seen.add(k);
            }
          }
        }
        if (!isRange) {
          const samples: Sample[] = [];
          for (const s of series) if (s.present[0]) samples.push({ labels: s.labels, t: grid.start, v: s.values[0]! });
          return { type: 'vector', samples };
        }
        const out: ResultSeries[] = [];
        for (const s of series) {
          const p = presentPoints(s, grid);
          if (p) out.push({ labels: s.labels, timestamps: p.ts, values: p.vs });
        }
        out.sort((a, b) => compareLabels(a.labels, b.labels));
        return { type: 'matrix', series: out };
      }
    }
  }
}

interface SelectorRange {
  mint: number;
  maxt: number;
}

/** The time range each selector must read, following subqueries' own grids. */
export function selectorRanges(expr: Expr, grid: GridSpan, times: QueryTimes, lookback: number, noStep: number): Map<VectorSelector, SelectorRange> {
  const out = new Map<VectorSelector, SelectorRange>();
  const add = (vs: VectorSelector, mint: number, maxt: number) => {
    const r = out.get(vs);
    if (r) {
      r.mint = Math.min(r.mint, mint);
      r.maxt = Math.max(r.maxt, maxt);
    } else out.set(vs, { mint, maxt });
  };
  const visit = (e: Expr, g: GridSpan): void => {
    switch (e.kind) {
      case 'VectorSelector': {
        const s = e.at ? atTime(e.at, times) : g.start;
        const en = e.at ? atTime(e.at, times) : g.end;
        add(e, s - e.offset - lookback + 1, en - e.offset);
        return;
      }
      case 'MatrixSelector': {
        const vs = e.selector;
        const s = vs.at ? atTime(vs.at, times) : g.start;
        const en = vs.at ? atTime(vs.at, times) : g.end;
        add(vs, s - vs.offset - e.range + 1, en - vs.offset);
        return;
      }
      case 'SubqueryExpr':
        visit(e.expr, subqueryGrid(e, g, times, noStep));
        return;
      default:
        for (const c of children(e)) visit(c, g);
    }
  };
  visit(expr, grid);
  return out;
}

/**
 * Fetches every selector's series. Selectors with equal matchers whose time ranges
 * overlap share one select; disjoint ranges (e.g. a large offset) are read separately.
 */
async function fetchAll(
  storage: Queryable,
  ranges: Map<VectorSelector, SelectorRange>,
  stats: QueryStats,
  warnings: string[],
  signal: AbortSignal | undefined,
  remainingMs: number,
): Promise<Map<VectorSelector, Series[]>> {
  interface Fetch {
    vs: VectorSelector[];
    mint: number;
    maxt: number;
  }
  const byMatchers = new Map<string, [VectorSelector, SelectorRange][]>();
  for (const entry of ranges) {
    const key = matchersKey(entry[0].matchers);
    const g = byMatchers.get(key);
    if (g) g.push(entry);
    else byMatchers.set(key, [entry]);
  }
  const fetches: Fetch[] = [];
  for (const group of byMatchers.values()) {
    group.sort((a, b) => a[1].mint - b[1].mint);
    let cur: Fetch | undefined;
    for (const [vs, r] of group) {
      if (cur && r.mint <= cur.maxt + 1) {
        cur.vs.push(vs);
        cur.maxt = Math.max(cur.maxt, r.maxt);
      } else {
        cur = { vs: [vs], mint: r.mint, maxt: r.maxt };
        fetches.push(cur);
      }
    }
  }
  const out = new Map<VectorSelector, Series[]>();
  if (signal?.aborted) throw new PromQLError('canceled', 'query was canceled in query execution');
  if (remainingMs <= 0) throw new PromQLError('timeout', 'query timed out in query execution');
  const took = (f: Fetch, res: SelectResult) => {
    stats.seriesFetched += res.stats?.seriesFetched ?? res.series.length;
    stats.samplesFetched += res.stats?.samplesFetched ?? res.series.reduce((a, s) => a + s.timestamps.length, 0);
    stats.bytesRead += res.stats?.bytesRead ?? 0;
    if (res.warnings) warnings.push(...res.warnings);
    for (const vs of f.vs) out.set(vs, res.series);
  };
  // What the storage holds in memory is taken at once; only the rest waits, under a timer.
  let pending: Fetch[] | undefined;
  for (const f of fetches) {
    const held = storage.selectHeld?.({ matchers: f.vs[0]!.matchers, mint: f.mint, maxt: f.maxt });
    if (held) took(f, held);
    else (pending ??= []).push(f);
  }
  if (!pending) return out;
  // A controller and a timer, not AbortSignal.timeout: this runs for every query, and
  // AbortSignal.timeout costs tens of microseconds where these cost a few. The timer is cleared
  // when the selects end; until then it keeps the process up, so that a stuck read times out.
  const timer = new AbortController();
  const clock = setTimeout(() => timer.abort(new PromQLError('timeout', 'query timed out in query execution')), remainingMs);
  const combined = signal ? AbortSignal.any([signal, timer.signal]) : timer.signal;
  try {
    await Promise.all(
      pending.map(async (f) => {
        let res;
        try {
          res = await storage.select({ matchers: f.vs[0]!.matchers, mint: f.mint, maxt: f.maxt }, combined);
        } catch (e) {
          if (timer.signal.aborted) throw new PromQLError('timeout', 'query timed out in query execution');
          if (signal?.aborted) throw new PromQLError('canceled', 'query was canceled in query execution');
          // A storage failure is the data's fault, not the query's: report it as unavailable, naming what failed.
          if (e instanceof PromQLError) throw e;
          throw new PromQLError('unavailable', e instanceof Error ? e.message : String(e));
        }
        took(f, res);
      }),
    );
  } finally {
    clearTimeout(clock);
  }
  return out;
}
