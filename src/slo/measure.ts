/**
 * Taking an SLO's measurements at one time: its queries built from the spec (window filled in,
 * scope applied), sent through a query function the caller provides (local engine, remote
 * engines, the fan-out), and their answers reduced to the values the judgement needs. Errors,
 * empty answers and partial answers are kept as such, never turned into numbers.
 */

import type { BinaryExpr, Expr } from '../promql/ast.js';
import { parseExpr } from '../promql/parser.js';
import type { QueryValue, ResultSeries } from '../promql/result.js';
import type { Evaluation, Measured, Measurements, SampleSpan, Samples } from './judge.js';
import { judge } from './judge.js';
import { applyScope, infoScope, matcherScope, parseScopeMatchers, type Scope } from './scope.js';
import { fillWindow, type SloSpec } from './spec.js';

/** A query's answer as the measurement needs it. */
export interface QueryAnswer {
  readonly value: QueryValue;
  /** Engines that did not answer (a partial response), if any. */
  readonly missingEngines?: readonly string[];
}

/** How measurements reach the data: instant and range queries over ASTs. */
export interface QueryFn {
  instant(expr: Expr, timeMs: number): Promise<QueryAnswer>;
  range(expr: Expr, startMs: number, endMs: number, stepMs: number): Promise<QueryAnswer>;
}

/** The release and baseline scopes of one gate or rollout stage. */
export interface Scopes {
  readonly release: Scope;
  readonly baseline?: Scope;
}

/** Scopes from matcher text (`tier=tier3,color=green`), through the spec's `via` series if it has one. */
export function scopesFor(spec: SloSpec, release: string | undefined, baseline: string | undefined): Scopes {
  const text = release ?? spec.scope.release;
  if (text === undefined) throw new Error(`${spec.name}: no release scope: give --scope (e.g. tier=tier3,color=green) or scope.release in the spec`);
  const make = (t: string): Scope => {
    const ms = parseScopeMatchers(t);
    if (!spec.scope.via) return matcherScope(ms);
    const sel = `${spec.scope.via.metric}{${ms.map((m) => m.toString()).join(', ')}}`;
    return infoScope(sel, spec.scope.via.on);
  };
  const rel = make(text);
  const b = baseline ?? spec.scope.baseline;
  if (b === undefined && spec.judgement.comparison) {
    throw new Error(`${spec.name} compares the new code with the old: give --baseline-scope (e.g. tier=tier3,color=blue) or scope.baseline in the spec`);
  }
  return { release: rel, ...(b !== undefined ? { baseline: make(b) } : {}) };
}

/** Parsed SLI expressions by spec, scope and window: evaluations repeat them every interval. */
const sliCache = new WeakMap<SloSpec, WeakMap<Scope, Map<number, Expr>>>();

/** The SLI as one expression over a window: errors / total for ratios (parsed once per spec, scope and window). */
export function sliExpr(spec: SloSpec, windowMs: number, scope: Scope): Expr {
  let byScope = sliCache.get(spec);
  if (!byScope) sliCache.set(spec, (byScope = new WeakMap()));
  let byWindow = byScope.get(scope);
  if (!byWindow) byScope.set(scope, (byWindow = new Map()));
  let e = byWindow.get(windowMs);
  if (!e) byWindow.set(windowMs, (e = buildSliExpr(spec, windowMs, scope)));
  return e;
}

/** A spec's query texts parsed once (windows filled in), before any scope: scopes vary per stage, the text does not. */
const parsedCache = new WeakMap<SloSpec, Map<string, Expr>>();

function parsedFor(spec: SloSpec, text: string): Expr {
  let byText = parsedCache.get(spec);
  if (!byText) parsedCache.set(spec, (byText = new Map()));
  let e = byText.get(text);
  if (!e) byText.set(text, (e = parseExpr(text)));
  return e;
}

function buildSliExpr(spec: SloSpec, windowMs: number, scope: Scope): Expr {
  const q = (s: string) => applyScope(parsedFor(spec, fillWindow(s, windowMs)), scope);
  if (spec.sli.kind === 'expr') return q(spec.sli.expr);
  const div: BinaryExpr = {
    kind: 'BinaryExpr',
    op: '/',
    lhs: { kind: 'ParenExpr', expr: q(spec.sli.errors), pos: { start: 0, end: 0 } },
    rhs: { kind: 'ParenExpr', expr: q(spec.sli.total), pos: { start: 0, end: 0 } },
    returnBool: false,
    matching: { card: 'one-to-one', on: false, labels: [], include: [], explicit: false },
    pos: { start: 0, end: 0 },
  };
  return div;
}

const trafficCache = new WeakMap<SloSpec, WeakMap<Scope, Expr | null>>();

/** Requests in the release scope over the window (parsed once per spec and scope). */
function trafficExpr(spec: SloSpec, scope: Scope): Expr | undefined {
  let byScope = trafficCache.get(spec);
  if (!byScope) trafficCache.set(spec, (byScope = new WeakMap()));
  let e = byScope.get(scope);
  if (e === undefined) byScope.set(scope, (e = buildTrafficExpr(spec, scope) ?? null));
  return e ?? undefined;
}

/** The spec's traffic query, or total × window for ratios. */
function buildTrafficExpr(spec: SloSpec, scope: Scope): Expr | undefined {
  if (spec.trafficQuery) return applyScope(parsedFor(spec, fillWindow(spec.trafficQuery, spec.windowMs)), scope);
  if (spec.sli.kind !== 'ratio') return undefined;
  return applyScope(parsedFor(spec, `(${fillWindow(spec.sli.total, spec.windowMs)}) * ${spec.windowMs / 1000}`), scope);
}

/** The windows of a spec's burn-rate rules, each once, ms. */
function burnWindows(spec: SloSpec): number[] {
  return [...new Set((spec.judgement.burnRates ?? []).flatMap((r) => [r.longMs, r.shortMs]))];
}

/**
 * Every expression the measurements of a spec over `scopes` query (the SLI per scope, each
 * burn-rate window, the traffic): what a reader ahead needs to fetch.
 */
export function measuredExprs(spec: SloSpec, scopes: Scopes): Expr[] {
  const j = spec.judgement;
  const out = [sliExpr(spec, spec.windowMs, scopes.release)];
  if (scopes.baseline && j.comparison) out.push(sliExpr(spec, spec.windowMs, scopes.baseline));
  for (const w of burnWindows(spec)) out.push(sliExpr(spec, w, scopes.release));
  const te = j.minTraffic !== undefined ? trafficExpr(spec, scopes.release) : undefined;
  if (te) out.push(te);
  return [...new Set(out)];
}

/** One number from an instant answer: a single sample (or scalar); more series is an error. */
function single(a: QueryAnswer, what: string): Measured {
  const v = a.value;
  let value: number | undefined;
  if (v.type === 'scalar') value = v.v;
  else if (v.type === 'vector') {
    if (v.samples.length > 1) return { kind: 'error', message: `${what} returned ${v.samples.length} series; aggregate it to one (e.g. sum(...))` };
    value = v.samples[0]?.v;
  } else return { kind: 'error', message: `${what} returned a ${v.type}, not a number` };
  if (a.missingEngines && a.missingEngines.length > 0) return { kind: 'partial', value, missing: a.missingEngines };
  if (value === undefined || Number.isNaN(value)) return { kind: 'empty' };
  return value;
}

async function measured(what: string, run: () => Promise<QueryAnswer>): Promise<Measured> {
  try {
    return single(await run(), what);
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
}

/** The samples of a range answer (one series); undefined when it failed or was partial. */
async function samplesOf(run: () => Promise<QueryAnswer>): Promise<number[] | undefined> {
  try {
    const a = await run();
    if (a.missingEngines && a.missingEngines.length > 0) return undefined;
    if (a.value.type !== 'matrix' || a.value.series.length !== 1) return a.value.type === 'matrix' && a.value.series.length === 0 ? [] : undefined;
    return Array.from(a.value.series[0]!.values).filter((x) => !Number.isNaN(x));
  } catch {
    return undefined;
  }
}

/** Takes every measurement the spec's judgement needs, at `t`. */
export async function measure(spec: SloSpec, scopes: Scopes, t: number, q: QueryFn): Promise<Measurements> {
  const j = spec.judgement;
  const jobs: Promise<unknown>[] = [];
  const m: { -readonly [K in keyof Measurements]: Measurements[K] } = { sli: { kind: 'empty' } };
  jobs.push(measured('the SLI', () => q.instant(sliExpr(spec, spec.windowMs, scopes.release), t)).then((x) => (m.sli = x)));
  if (scopes.baseline && j.comparison) {
    jobs.push(measured('the baseline SLI', () => q.instant(sliExpr(spec, spec.windowMs, scopes.baseline!), t)).then((x) => (m.baseline = x)));
  }
  if (j.burnRates?.length) {
    const windows = burnWindows(spec);
    const ratios = new Map<number, Measured>();
    m.errorRatios = ratios;
    for (const w of windows) jobs.push(measured(`the error ratio over ${w / 1000}s`, () => q.instant(sliExpr(spec, w, scopes.release), t)).then((x) => ratios.set(w, x)));
  }
  if (j.comparison && scopes.baseline && spec.comparisonWindowMs && spec.comparisonStepMs) {
    const start = t - spec.comparisonWindowMs;
    const step = spec.comparisonStepMs;
    let rel: number[] | undefined;
    let bas: number[] | undefined;
    jobs.push(samplesOf(() => q.range(sliExpr(spec, spec.windowMs, scopes.release), start, t, step)).then((x) => (rel = x)));
    jobs.push(samplesOf(() => q.range(sliExpr(spec, spec.windowMs, scopes.baseline!), start, t, step)).then((x) => (bas = x)));
    await Promise.all(jobs.splice(0));
    m.samples = { release: rel ?? [], baseline: bas ?? [] };
  }
  if (j.minTraffic !== undefined) {
    const te = trafficExpr(spec, scopes.release);
    if (te) jobs.push(measured('the traffic', () => q.instant(te, t)).then((x) => (m.traffic = x)));
  }
  await Promise.all(jobs);
  return m;
}

/** Measurements by index, made when asked for (an array is one; so are measureMany's columns). */
export interface MeasurementRows<T = Measurements> {
  readonly length: number;
  at(i: number): T | undefined;
  /**
   * The measurements at i in one object reused by every call, for judging them at once: read
   * it before the next call and keep nothing of it (take `at` for that).
   */
  view?(i: number): T | undefined;
}

/**
 * Takes the measurements of many evaluation times at once, columnar: one range query per
 * expression over the times (a range query is the instant query at every step, so each column
 * holds what `measure` would have measured at that time). Each time's Measurements is made when
 * asked for, from compact columns: a replay holds a whole stage's columns while it judges them
 * one by one, and objects made per time up front would all live that long.
 * Times must be a regular grid; otherwise, or when a range query fails (it may span data some
 * times do not need), each time is measured on its own, exactly as `measure` does.
 */
export async function measureMany(spec: SloSpec, scopes: Scopes, times: readonly number[], q: QueryFn): Promise<MeasurementRows> {
  if (times.length === 0) return [];
  const step = times.length > 1 ? times[1]! - times[0]! : 60_000;
  const regular = step > 0 && times.every((t, i) => t === times[0]! + i * step);
  const one = () => Promise.all(times.map((t) => measure(spec, scopes, t, q)));
  if (!regular) return one();
  const t0 = times[0]!;
  const tN = times[times.length - 1]!;
  const j = spec.judgement;
  try {
    const column = async (what: string, e: Expr) => columnOf(what, await q.range(e, t0, tN, step), times);
    const sli = column('the SLI', sliExpr(spec, spec.windowMs, scopes.release));
    const base = scopes.baseline && j.comparison ? column('the baseline SLI', sliExpr(spec, spec.windowMs, scopes.baseline)) : undefined;
    const windows = burnWindows(spec);
    const ratios = windows.map((w) => column(`the error ratio over ${w / 1000}s`, sliExpr(spec, w, scopes.release)));
    const te = j.minTraffic !== undefined ? trafficExpr(spec, scopes.release) : undefined;
    const traffic = te ? column('the traffic', te) : undefined;
    let samples: Promise<[SampleWindows, SampleWindows] | undefined> = Promise.resolve(undefined);
    const W = spec.comparisonWindowMs;
    const cs = spec.comparisonStepMs;
    if (j.comparison && scopes.baseline && W && cs) {
      // One range over every comparison window, cut per time; windows off its grid go one by one.
      const aligned = step % cs === 0;
      const win = (e: Expr) =>
        aligned ? q.range(e, t0 - W, tN, cs).then((a) => windowsOf(a, times, W), () => undefined) : Promise.resolve(undefined);
      samples = Promise.all([win(sliExpr(spec, spec.windowMs, scopes.release)), win(sliExpr(spec, spec.windowMs, scopes.baseline))]).then(([r, b]) => (r && b ? [r, b] : undefined));
    }
    const [s, b, rs, tr, sm] = await Promise.all([sli, base, Promise.all(ratios), traffic, samples]);
    if (j.comparison && scopes.baseline && W && cs && !sm) return one();
    const inRange = (i: number) => i >= 0 && i < times.length;
    const view = new RowView(s, b, windows, rs, tr, sm);
    return {
      length: times.length,
      // A view of its own: the measurements of one time, kept as long as needed.
      at: (i: number) => (inRange(i) ? new RowView(s, b, windows, rs, tr, sm).at(i) : undefined),
      view: (i: number) => (inRange(i) ? view.at(i) : undefined),
    };
  } catch {
    return one();
  }
}

/** One Measured per time of a range answer, made when asked for. */
interface Column {
  at(i: number): Measured;
}

/** A comparison sample span whose fields are written over for each time. */
class SpanView implements SampleSpan {
  values: ArrayLike<number> = NO_SAMPLES;
  from = 0;
  to = 0;
}

/**
 * measureMany's measurements at one time, written over for each time asked (error ratios are
 * looked up by window when judged, samples are spans of the comparison answers): a replay judges
 * tens of thousands of times through one view per column and keeps none of them.
 */
class RowView implements Measurements {
  sli: Measured = EMPTY;
  baseline: Measured | undefined;
  traffic: Measured | undefined;
  errorRatios: { get(windowMs: number): Measured | undefined } | undefined;
  samples: { release: Samples; baseline: Samples } | undefined;
  private i = 0;
  private readonly spans: [SpanView, SpanView] = [new SpanView(), new SpanView()];
  private readonly ratios = { get: (w: number) => this.ratioAt(w) };
  constructor(
    private readonly s: Column,
    private readonly b: Column | undefined,
    private readonly windows: readonly number[],
    private readonly rs: readonly Column[],
    private readonly tr: Column | undefined,
    private readonly sm: readonly [SampleWindows, SampleWindows] | undefined,
  ) {
    if (windows.length) this.errorRatios = this.ratios;
    if (sm) this.samples = { release: NO_SAMPLES, baseline: NO_SAMPLES };
  }
  at(i: number): this {
    this.i = i;
    this.sli = this.s.at(i);
    if (this.b) this.baseline = this.b.at(i);
    if (this.tr) this.traffic = this.tr.at(i);
    if (this.sm) {
      this.samples!.release = this.sm[0].into(i, this.spans[0]);
      this.samples!.baseline = this.sm[1].into(i, this.spans[1]);
    }
    return this;
  }
  private ratioAt(w: number): Measured | undefined {
    for (let k = 0; k < this.windows.length; k++) if (this.windows[k] === w) return this.rs[k]!.at(this.i);
    return undefined;
  }
}

const EMPTY: Measured = { kind: 'empty' };

/**
 * For each of `times` (ascending): how many of the series have a point there, and the value of
 * the last one that does. One cursor per series: linear in points and times.
 */
export function pointsAt(series: readonly ResultSeries[], times: readonly number[]): { counts: Uint32Array; values: Float64Array } {
  const cursor = new Uint32Array(series.length);
  const counts = new Uint32Array(times.length);
  const values = new Float64Array(times.length);
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    for (let k = 0; k < series.length; k++) {
      const ts = series[k]!.timestamps;
      let c = cursor[k]!;
      while (c < ts.length && ts[c]! < t) c++;
      cursor[k] = c;
      if (c < ts.length && ts[c] === t) {
        counts[i]!++;
        values[i] = series[k]!.values[c]!;
      }
    }
  }
  return { counts, values };
}

/** What `single` makes of an instant answer, for each time of a range answer. */
function columnOf(what: string, a: QueryAnswer, times: readonly number[]): Column {
  if (a.value.type !== 'matrix') {
    const e: Measured = { kind: 'error', message: `${what} returned a ${a.value.type}, not a number` };
    return { at: () => e };
  }
  const missing = a.missingEngines && a.missingEngines.length > 0 ? a.missingEngines : undefined;
  const { counts, values } = pointsAt(a.value.series, times);
  return {
    at(i: number): Measured {
      const count = counts[i]!;
      if (count > 1) return { kind: 'error', message: `${what} returned ${count} series; aggregate it to one (e.g. sum(...))` };
      const value = count === 1 ? values[i]! : undefined;
      if (missing) return { kind: 'partial', value, missing };
      if (value === undefined || Number.isNaN(value)) return EMPTY;
      return value;
    },
  };
}

/** The samples of each comparison window, by time index, written into a span (or a list without the NaNs). */
interface SampleWindows {
  into(i: number, span: SpanView): Samples;
}

const NO_SAMPLES: readonly number[] = [];

/** What `samplesOf` makes of each window [t - W, t] of a range answer; undefined when partial. */
function windowsOf(a: QueryAnswer, times: readonly number[], W: number): SampleWindows | undefined {
  if (a.missingEngines && a.missingEngines.length > 0) return undefined;
  if (a.value.type !== 'matrix') return undefined;
  const series = a.value.series;
  const lo = new Array<number>(series.length).fill(0);
  const hi = new Array<number>(series.length).fill(0);
  // Per time: the one series with samples in the window (-1: none or several), and their span.
  const only = new Int32Array(times.length);
  const from = new Uint32Array(times.length);
  const to = new Uint32Array(times.length);
  times.forEach((t, i) => {
    let one = -1;
    let count = 0;
    for (let k = 0; k < series.length; k++) {
      const ts = series[k]!.timestamps;
      let a0 = lo[k]!;
      while (a0 < ts.length && ts[a0]! < t - W) a0++;
      let b0 = Math.max(hi[k]!, a0);
      while (b0 < ts.length && ts[b0]! <= t) b0++;
      lo[k] = a0;
      hi[k] = b0;
      if (b0 > a0) {
        count++;
        one = k;
      }
    }
    // One series: its values; none or several: no samples (as a failed range would give).
    only[i] = count === 1 ? one : -1;
    if (count === 1) {
      from[i] = lo[one]!;
      to[i] = hi[one]!;
    }
  });
  // Whether each series holds a NaN anywhere, looked for once per series, not once per window.
  const hasNaN = series.map((x) => {
    const vs = x.values;
    for (let j = 0; j < vs.length; j++) if (vs[j] !== vs[j]) return true;
    return false;
  });
  const into = (i: number, span: SpanView): Samples => {
    const k = only[i]!;
    if (k < 0) return NO_SAMPLES;
    const vs = series[k]!.values;
    const a0 = from[i]!;
    const b0 = to[i]!;
    let nan = false;
    if (hasNaN[k]) for (let x = a0; x < b0 && !nan; x++) nan = vs[x] !== vs[x];
    // A span of the answer when every value is a number (the usual case: no copy, no view). The
    // comparison sorts them only when its test can decide, which a healthy release rarely lets it.
    if (!nan) {
      span.values = vs;
      span.from = a0;
      span.to = b0;
      return span;
    }
    const out: number[] = [];
    for (let x = a0; x < b0; x++) if (!Number.isNaN(vs[x]!)) out.push(vs[x]!);
    return out;
  };
  return { into };
}

/** Measures and judges one SLO at `t`. */
export async function evaluateSlo(spec: SloSpec, scopes: Scopes, t: number, q: QueryFn): Promise<Evaluation & { measurements: Measurements }> {
  const measurements = await measure(spec, scopes, t, q);
  const e = judge(spec.judgement, measurements);
  return { status: e.status, reasons: e.reasons, measurements };
}
