/**
 * Queries shared across backtests, settings and evaluations. Each distinct expression is
 * evaluated once per chunk of the evaluation grid as a range query (Prometheus defines a range
 * query as the instant query at every step, so the answers are the same), and every instant and
 * range asked inside the chunk is cut from it. A user that says which grid times it will ask about
 * (a replay knows its window) gets chunks fitted to that window: one range query per expression
 * for a whole backtest; elsewhere chunks are fixed, aligned to the day. Two backtests, or two
 * settings of a sweep, that ask the same expression over the same window share the chunk. A chunk
 * whose range query fails (e.g. a day missing at the edge of history that a query inside it does
 * not need) falls back to the query asked, so a chunk never turns an answerable query into an
 * error.
 */

import type { Expr } from '../promql/ast.js';
import { exprToString } from '../promql/printer.js';
import type { QueryValue, ResultSeries, Sample } from '../promql/result.js';
import { typeOf } from '../promql/signatures.js';
import { labelsKey } from '../storage/labels.js';
import { concatSamples, lowerBound, upperBound } from '../storage/queryable.js';
import type { QueryAnswer, QueryFn } from '../slo/measure.js';

export interface SharedQueryStats {
  /** Instant and range queries asked by evaluations. */
  asked: number;
  /** Chunk range queries run (each shared by every query inside it). */
  chunks: number;
  /** Queries answered directly, outside the grid or after a chunk failed. */
  direct: number;
}

/** Grid times a user of the shared queries will ask about (inclusive), ms. */
export interface GridWindow {
  readonly from: number;
  readonly to: number;
}

/** Most steps one range query over a user's window holds (a day at 1m). */
const MAX_WINDOW_STEPS = 1440;

interface Chunk {
  readonly series: readonly ResultSeries[];
  readonly missingEngines?: readonly string[];
}

/** Chunk length: the largest span of at most `maxSteps` steps that divides a day, or `maxSteps` steps. */
export function chunkMs(stepMs: number, maxSteps: number): number {
  const day = 86_400_000;
  for (const h of [24, 12, 8, 6, 4, 3, 2, 1]) {
    const c = h * 3_600_000;
    if (c % stepMs === 0 && c / stepMs <= maxSteps) return c;
  }
  return stepMs * Math.max(1, Math.min(maxSteps, Math.floor(day / stepMs) || 1));
}

/** A query function sharing range-evaluated chunks among all its users. */
export class SharedQueries {
  readonly stats: SharedQueryStats = { asked: 0, chunks: 0, direct: 0 };
  /** Chunks by expression text, then by step and range (a long text is hashed once, not per ask). */
  private readonly chunks = new Map<string, Map<string, Promise<Chunk | undefined>>>();
  private readonly text = new WeakMap<Expr, string>();

  /**
   * @param inner where queries really go (local engine or remote engines, through the limiter)
   * @param maxSteps most steps per chunk range query (360: 6h at 1m)
   */
  constructor(
    private readonly inner: QueryFn,
    private readonly maxSteps = 360,
  ) {}

  private key(e: Expr): string {
    let s = this.text.get(e);
    if (s === undefined) {
      s = exprToString(e);
      this.text.set(e, s);
    }
    return s;
  }

  /** The range [a, b] of `expr` at `step`, evaluated once. */
  private chunk(expr: Expr, text: string, step: number, a: number, b: number): Promise<Chunk | undefined> {
    let byRange = this.chunks.get(text);
    if (!byRange) this.chunks.set(text, (byRange = new Map()));
    const k = `${step}|${a}|${b}`;
    let p = byRange.get(k);
    if (!p) {
      this.stats.chunks++;
      p = this.inner.range(expr, a, b, step).then(
        (r): Chunk | undefined => (r.value.type === 'matrix' ? { series: r.value.series, ...(r.missingEngines?.length ? { missingEngines: r.missingEngines } : {}) } : undefined),
        () => undefined,
      );
      byRange.set(k, p);
    }
    return p;
  }

  /**
   * The chunks covering grid times [s, e]: inside the user's window, the window cut in equal
   * pieces of at most `maxWindowSteps` (one or two range queries for a whole backtest); outside
   * it, fixed chunks aligned to the day (shared by anything on the same grid).
   */
  private pieces(step: number, win: GridWindow | undefined, s: number, e: number): [number, number][] {
    const out: [number, number][] = [];
    const len = chunkMs(step, this.maxSteps);
    for (let t = s; t <= e; ) {
      let a: number;
      let b: number;
      if (win && t >= win.from && t <= win.to) {
        const n = Math.floor((win.to - win.from) / step) + 1;
        const per = Math.ceil(n / Math.ceil(n / MAX_WINDOW_STEPS));
        const idx = Math.floor((t - win.from) / step / per);
        a = win.from + idx * per * step;
        b = Math.min(win.to, a + (per - 1) * step);
      } else {
        a = Math.floor(t / len) * len;
        b = a + len - step;
        if (win && t < win.from && b >= win.from) b = win.from - step;
      }
      out.push([a, b]);
      t = b + step;
    }
    return out;
  }

  /**
   * Instant and range queries over the grid of multiples of `stepMs`; `window` (grid times) is
   * where the user will ask, so that its chunks fit it rather than fixed boundaries.
   */
  forStep(stepMs: number, window?: GridWindow): QueryFn {
    const win = window && window.from % stepMs === 0 && window.to >= window.from ? window : undefined;
    return {
      instant: async (expr, t) => {
        this.stats.asked++;
        if (t % stepMs !== 0) return this.direct(() => this.inner.instant(expr, t));
        const [a, b] = this.pieces(stepMs, win, t, t)[0]!;
        const c = await this.chunk(expr, this.key(expr), stepMs, a, b);
        if (!c) return this.direct(() => this.inner.instant(expr, t));
        return { value: instantFrom(c.series, t, typeOf(expr) === 'scalar'), ...(c.missingEngines ? { missingEngines: c.missingEngines } : {}) };
      },
      range: async (expr, start, end, step) => {
        this.stats.asked++;
        if (start % step !== 0 || end % step !== 0 || end < start) return this.direct(() => this.inner.range(expr, start, end, step));
        const text = this.key(expr);
        const w = step === stepMs ? win : undefined;
        const got = await Promise.all(this.pieces(step, w, start, end).map(([a, b]) => this.chunk(expr, text, step, a, b)));
        if (got.some((c) => c === undefined)) return this.direct(() => this.inner.range(expr, start, end, step));
        const missing = [...new Set(got.flatMap((c) => c!.missingEngines ?? []))];
        return { value: { type: 'matrix', series: stitch(got as Chunk[], start, end) }, ...(missing.length ? { missingEngines: missing } : {}) };
      },
    };
  }

  private direct(f: () => Promise<QueryAnswer>): Promise<QueryAnswer> {
    this.stats.direct++;
    return f();
  }
}

/** The instant vector (or scalar) at `t` from a range answer. */
function instantFrom(series: readonly ResultSeries[], t: number, scalar: boolean): QueryValue {
  const samples: Sample[] = [];
  for (const s of series) {
    const i = lowerBound(s.timestamps, t);
    if (i < s.timestamps.length && s.timestamps[i] === t) samples.push({ labels: s.labels, t, v: s.values[i]! });
  }
  if (scalar) return { type: 'scalar', t, v: samples[0]?.v ?? NaN };
  return { type: 'vector', samples };
}

/** The points in [start, end] of each series across consecutive chunks. */
function stitch(chunks: readonly Chunk[], start: number, end: number): ResultSeries[] {
  // One chunk (a query inside one window, the usual case): its series cut, nothing to match up.
  if (chunks.length === 1) {
    const out: ResultSeries[] = [];
    for (const s of chunks[0]!.series) {
      const a = lowerBound(s.timestamps, start);
      const b = upperBound(s.timestamps, end);
      if (b <= a) continue;
      out.push(a === 0 && b === s.timestamps.length ? s : { labels: s.labels, timestamps: s.timestamps.subarray(a, b), values: s.values.subarray(a, b) });
    }
    return out;
  }
  const parts = new Map<string, ResultSeries[]>();
  for (const c of chunks) {
    for (const s of c.series) {
      const a = lowerBound(s.timestamps, start);
      const b = upperBound(s.timestamps, end);
      if (b <= a) continue;
      const piece = { labels: s.labels, timestamps: s.timestamps.subarray(a, b), values: s.values.subarray(a, b) };
      const k = labelsKey(s.labels);
      const list = parts.get(k);
      if (list) list.push(piece);
      else parts.set(k, [piece]);
    }
  }
  const out: ResultSeries[] = [];
  for (const list of parts.values()) {
    if (list.length === 1) {
      out.push(list[0]!);
      continue;
    }
    out.push({ labels: list[0]!.labels, ...concatSamples(list) });
  }
  return out;
}
