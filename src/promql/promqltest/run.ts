/**
 * Runner of PromQL test scripts against hmd's engine, with the semantics of Prometheus's
 * promql/promqltest (v3.5): a store per script, every instant eval re-run with `@` on every
 * selector at other times and in range mode, float comparison with a relative epsilon,
 * expected failures and annotations.
 *
 * A case is one eval command; it passes only when every variant passes. Cases that need
 * native histograms (which the engine does not evaluate yet) are skipped, never passed.
 */

import { readFile } from 'node:fs/promises';
import { walk, type AtModifier, type Expr, type SubqueryExpr, type VectorSelector } from '../ast.js';
import { Engine, type EngineOptions } from '../engine.js';
import { PromQLError } from '../errors.js';
import { parseExpr } from '../parser.js';
import type { QueryResult, QueryValue, ResultSeries, Sample } from '../result.js';
import { AT_MODIFIER_UNSAFE_FUNCTIONS, FUNCTIONS } from '../signatures.js';
import { MemoryStore } from '../../storage/memory.js';
import { compareLabels, formatLabels, getLabel, labelsFromPairs, METRIC_NAME, type Labels } from '../../storage/labels.js';
import { matchesAll } from '../../storage/matchers.js';
import { isStaleAt, STALE_HI, STALE_LO } from '../../storage/stale.js';
import { formatShortest } from '../../util/gofloat.js';
import { parseScript, type EvalCommand, type Expectation, type LoadCommand, type SequenceValue } from './script.js';

/** Relative error allowed between an expected and an actual float (upstream's defaultEpsilon). */
export const DEFAULT_EPSILON = 0.000001;

/** The engine settings of upstream's test engine (promqltest.NewTestEngine, as TestEvaluations uses it). */
export const TEST_ENGINE_OPTIONS: EngineOptions = {
  lookbackDelta: 5 * 60_000,
  maxSamples: 10_000, // promqltest.DefaultMaxSamplesPerQuery
  timeoutMs: 100_000,
  noStepSubqueryIntervalMs: 60_000,
  delayedNameRemoval: true,
  // The points limit is the HTTP API's, not the engine's; the test harness has none.
  maxPointsPerSeries: Number.MAX_SAFE_INTEGER,
};

export type CaseStatus = 'passed' | 'failed' | 'skipped';

/** The outcome of one eval command (or of a command that could not be parsed). */
export interface CaseResult {
  readonly file: string;
  /** 1-based line of the command. */
  readonly line: number;
  readonly expr: string;
  readonly status: CaseStatus;
  /** Why it failed, or why it was skipped. */
  readonly message?: string;
}

export interface ScriptResult {
  readonly cases: CaseResult[];
}

export interface RunOptions {
  /** Run only evals whose expression matches. */
  filter?: RegExp;
  /** Overrides of the test engine's options. */
  engineOptions?: EngineOptions;
  /** Called as each case finishes (for streaming output). */
  onCase?: (c: CaseResult) => void;
}

export interface FileSummary {
  readonly file: string;
  passed: number;
  failed: number;
  skipped: number;
}

export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  readonly files: FileSummary[];
  readonly cases: CaseResult[];
}

/** A series that holds native histogram samples in the data in effect. */
interface HistogramSeries {
  readonly labels: Labels;
  readonly line: number;
}

/** Runs every command of one script against a fresh store. */
export async function runScript(text: string, fileName: string, opts: RunOptions = {}): Promise<ScriptResult> {
  const cases: CaseResult[] = [];
  const emit = (c: CaseResult): void => {
    cases.push(c);
    opts.onCase?.(c);
  };
  const engine = new Engine({ ...TEST_ENGINE_OPTIONS, ...opts.engineOptions });
  const store = new MemoryStore();
  let histSeries: HistogramSeries[] = [];
  let brokenLoad: number | undefined;

  const script = parseScript(text, { lenient: true });
  for (const cmd of script.commands) {
    switch (cmd.kind) {
      case 'clear':
        store.clear();
        histSeries = [];
        brokenLoad = undefined;
        break;
      case 'load':
        histSeries.push(...applyLoad(store, cmd));
        break;
      case 'error': {
        if (cmd.command === 'load') brokenLoad ??= cmd.line;
        const expr = cmd.expr ?? '';
        if (cmd.command === 'eval' && opts.filter && !opts.filter.test(expr)) break;
        emit({ file: fileName, line: cmd.line, expr, status: 'failed', message: `script error: ${cmd.message}` });
        break;
      }
      case 'eval': {
        if (opts.filter && !opts.filter.test(cmd.expr)) break;
        const base = { file: fileName, line: cmd.line, expr: cmd.expr };
        const parsed = tryParse(cmd.expr);
        const skip =
          brokenLoad !== undefined
            ? `depends on the load at line ${brokenLoad}, which could not be parsed`
            : needsNativeHistograms(cmd, parsed, histSeries);
        if (skip !== undefined) {
          emit({ ...base, status: 'skipped', message: skip });
          break;
        }
        let failure: string | undefined;
        try {
          failure = await runEval(engine, store, cmd, parsed);
        } catch (e) {
          failure = `internal error: ${errorText(e)}`;
        }
        emit(failure === undefined ? { ...base, status: 'passed' } : { ...base, status: 'failed', message: failure });
        break;
      }
    }
  }
  return { cases };
}

/** Runs several script files; the summary counts cases over all of them. */
export async function runFiles(paths: readonly string[], opts: RunOptions = {}): Promise<RunSummary> {
  const summary: RunSummary = { passed: 0, failed: 0, skipped: 0, files: [], cases: [] };
  for (const file of paths) {
    const fs: FileSummary = { file, passed: 0, failed: 0, skipped: 0 };
    summary.files.push(fs);
    let cases: CaseResult[];
    try {
      const text = await readFile(file, 'utf8');
      cases = (await runScript(text, file, opts)).cases;
    } catch (e) {
      const c: CaseResult = { file, line: 0, expr: '', status: 'failed', message: `cannot run script: ${errorText(e)}` };
      opts.onCase?.(c);
      cases = [c];
    }
    for (const c of cases) {
      fs[c.status]++;
      summary[c.status]++;
      summary.cases.push(c);
    }
  }
  return summary;
}

/** `file:line: expr: message` (the message is "ok" for a passing case). */
export function formatCase(c: CaseResult): string {
  const what = c.status === 'passed' ? 'ok' : c.status === 'skipped' ? `skipped: ${c.message ?? ''}` : (c.message ?? 'failed');
  return c.expr === '' ? `${c.file}:${c.line}: ${what}` : `${c.file}:${c.line}: ${c.expr}: ${what}`;
}

/** The closing line of a run. */
export function formatSummary(s: { passed: number; failed: number; skipped: number }): string {
  return `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`;
}

// ---------------------------------------------------------------------------
// Loading.

/** Appends a load's float samples; returns the series it could not load (native histograms). */
function applyLoad(store: MemoryStore, cmd: LoadCommand): HistogramSeries[] {
  const hist: HistogramSeries[] = [];
  for (const s of cmd.series) {
    if (s.values.some((v) => v.kind === 'histogram')) {
      hist.push({ labels: s.labels, line: s.line });
      continue;
    }
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i]!;
      const t = i * cmd.intervalMs;
      if (v.kind === 'float') store.append(s.labels, t, v.value);
      else if (v.kind === 'stale') store.appendStale(s.labels, t);
    }
  }
  if (cmd.withNHCB) {
    // The classic histograms are also loaded as native histograms with custom buckets, under
    // the base name (convertnhcb.GetHistogramMetricBase): those series cannot be loaded here.
    for (const s of cmd.series) {
      const name = getLabel(s.labels, METRIC_NAME);
      const m = /^(.*)_(bucket|count|sum)$/.exec(name);
      if (!m) continue;
      const pairs = s.labels.filter((l) => l.name !== 'le' && l.name !== METRIC_NAME).map((l) => [l.name, l.value] as [string, string]);
      pairs.push([METRIC_NAME, m[1]!]);
      hist.push({ labels: labelsFromPairs(pairs), line: cmd.line });
    }
  }
  return hist;
}

// ---------------------------------------------------------------------------
// Skips.

function tryParse(q: string): Expr | undefined {
  try {
    return parseExpr(q);
  } catch {
    return undefined;
  }
}

/** Why an eval needs native histograms, or undefined when it does not. */
function needsNativeHistograms(cmd: EvalCommand, ast: Expr | undefined, hist: readonly HistogramSeries[]): string | undefined {
  if (cmd.hasHistograms) return 'expects native histogram values';
  if (cmd.scalar?.kind === 'histogram') return 'expects a native histogram value';
  // An expression that does not parse fails with the parse error (hiding it as a skip would hide a parser bug).
  if (!ast) return undefined;
  let reason: string | undefined;
  walk(ast, (e) => {
    if (reason !== undefined) return;
    if (e.kind === 'Call' && FUNCTIONS.get(e.func)?.nativeHistogram) reason = `uses the native histogram function ${e.func}()`;
    else if (e.kind === 'VectorSelector') {
      for (const h of hist) {
        if (selectorMatches(e, h.labels)) {
          reason = `selects ${formatLabels(h.labels)}, which holds native histograms (loaded at line ${h.line})`;
          return;
        }
      }
    }
  });
  return reason;
}

function selectorMatches(vs: VectorSelector, ls: Labels): boolean {
  if (vs.name !== undefined && !vs.matchers.some((m) => m.name === METRIC_NAME) && getLabel(ls, METRIC_NAME) !== vs.name) return false;
  return matchesAll(vs.matchers, ls);
}

// ---------------------------------------------------------------------------
// Evaluation.

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isFail(cmd: EvalCommand): boolean {
  return cmd.fail || cmd.expects.fail.length > 0;
}

function isOrdered(cmd: EvalCommand): boolean {
  return cmd.ordered || cmd.expects.ordered.length > 0;
}

/** Outcome of one query: its result or the PromQL error it raised. Other exceptions propagate. */
async function attempt(fn: () => Promise<QueryResult>): Promise<{ res: QueryResult } | { err: PromQLError }> {
  try {
    return { res: await fn() };
  } catch (e) {
    if (e instanceof PromQLError) return { err: e };
    throw e;
  }
}

/** Runs one eval with all its variants; returns the first failure, or undefined when it passes. */
async function runEval(engine: Engine, store: MemoryStore, cmd: EvalCommand, ast: Expr | undefined): Promise<string | undefined> {
  if (cmd.mode === 'range') {
    const r = await attempt(() => engine.rangeQuery(store, cmd.expr, cmd.startMs, cmd.endMs, cmd.stepMs));
    if ('err' in r) return isFail(cmd) ? checkExpectedFailure(cmd, r.err) : `error evaluating query: ${r.err.message}`;
    if (isFail(cmd)) return 'expected an error evaluating the query but got none';
    const a = checkAnnotations(cmd, r.res);
    if (a !== undefined) return a;
    const v = r.res.value;
    if (v.type !== 'matrix') return `range query returned a ${v.type}, not a matrix`;
    return compareMatrix(cmd, v.series, cmd.startMs, cmd.endMs, cmd.stepMs);
  }

  const variants: { q: () => string | Expr; t: number; what: string }[] = [{ q: () => cmd.expr, t: cmd.evalMs, what: '' }];
  if (ast) {
    const at = atModifierVariant(ast, cmd.evalMs);
    if (at) {
      for (const et of atModifierEvalTimes(cmd.evalMs)) {
        variants.push({ q: () => deepClone(at), t: et, what: `with @ ${fmtTime(cmd.evalMs)} on every selector, evaluated at ${fmtTime(et)}: ` });
      }
    }
  }
  for (const v of variants) {
    const f = await runInstantVariant(engine, store, cmd, v.q, v.t);
    if (f !== undefined) return v.what + f;
  }
  return undefined;
}

async function runInstantVariant(engine: Engine, store: MemoryStore, cmd: EvalCommand, q: () => string | Expr, t: number): Promise<string | undefined> {
  const r = await attempt(() => engine.instantQuery(store, q(), t));
  if ('err' in r) return isFail(cmd) ? checkExpectedFailure(cmd, r.err) : `error evaluating query: ${r.err.message}`;
  if (isFail(cmd)) return 'expected an error evaluating the query but got none';
  const a = checkAnnotations(cmd, r.res);
  if (a !== undefined) return a;
  const value = r.res.value;
  const c = compareInstant(cmd, value);
  if (c !== undefined) return c;
  if (cmd.excludeFromRangeQuery) return undefined;

  // The same query in range mode must give the same answer at the middle step.
  const rr = await attempt(() => engine.rangeQuery(store, q(), t - 60_000, t + 60_000, 60_000));
  if ('err' in rr) return `error evaluating query in range mode: ${rr.err.message}`;
  if (isOrdered(cmd)) return undefined; // Range results are always sorted by labels.
  const rv = rr.res.value;
  if (rv.type !== 'matrix') return `range mode: range query returned a ${rv.type}, not a matrix`;
  const unsorted = checkSorted(rv.series);
  if (unsorted !== undefined) return `range mode: ${unsorted}`;
  const vec: Sample[] = [];
  for (const s of rv.series) {
    for (let i = 0; i < s.timestamps.length; i++) {
      if (s.timestamps[i] === t) {
        vec.push({ labels: s.labels, t, v: s.values[i]! });
        break;
      }
    }
  }
  let f: string | undefined;
  if (value.type === 'scalar') {
    f = vec.length === 0 ? `expected a scalar point at ${fmtTime(t)} but the range query returned none` : compareScalar(cmd, vec[0]!.v);
  } else {
    f = compareVector(cmd, vec, false);
  }
  return f === undefined ? undefined : `range mode: ${f}`;
}

// ---------------------------------------------------------------------------
// The @ modifier variants (upstream atModifierTestCases).

/** Eval times for the @ variants: -10t, 0, t/5, t, 10t, or -1s, 0, 1s for t = 0. */
export function atModifierEvalTimes(t: number): number[] {
  return t === 0 ? [-1000, 0, 1000] : [-10 * t, 0, Math.trunc(t / 5), t, 10 * t];
}

/**
 * A copy of `ast` with `@ t` set on every selector and subquery lacking a fixed one, except
 * below a subquery; undefined when the expression calls an @-unsafe function (outside
 * subqueries, as upstream checks).
 */
export function atModifierVariant(ast: Expr, t: number): Expr | undefined {
  const at: AtModifier = { kind: 'time', ms: t };
  let unsafe = false;
  const needsAt = (m: AtModifier | undefined): boolean => m === undefined || m.kind !== 'time';
  const tx = (e: Expr): Expr => {
    switch (e.kind) {
      case 'VectorSelector':
        return { ...e, matchers: [...e.matchers], at: needsAt(e.at) ? at : e.at };
      case 'MatrixSelector':
        return { ...e, selector: tx(e.selector) as VectorSelector };
      case 'SubqueryExpr': {
        // Below a subquery (which now has an @), nothing changes.
        const sq: SubqueryExpr = { ...e, expr: deepClone(e.expr), at: needsAt(e.at) ? at : e.at };
        return sq;
      }
      case 'Call':
        if (AT_MODIFIER_UNSAFE_FUNCTIONS.has(e.func)) unsafe = true;
        return { ...e, args: e.args.map(tx) };
      case 'AggregateExpr':
        return { ...e, expr: tx(e.expr), param: e.param === undefined ? undefined : tx(e.param) };
      case 'BinaryExpr':
        return { ...e, lhs: tx(e.lhs), rhs: tx(e.rhs) };
      case 'UnaryExpr':
      case 'ParenExpr':
        return { ...e, expr: tx(e.expr) };
      default:
        return deepClone(e);
    }
  };
  const out = tx(ast);
  return unsafe ? undefined : out;
}

/** Copies plain objects and arrays (AST nodes), keeping class instances (matchers) shared. */
function deepClone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(deepClone) as T;
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = deepClone(x);
    return o as T;
  }
  return v;
}

// ---------------------------------------------------------------------------
// Comparisons.

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function isStaleNumber(v: number): boolean {
  if (v === v) return false;
  f64[0] = v;
  return u32[0] === STALE_LO && u32[1] === STALE_HI;
}

/**
 * Prometheus's util/almost.Equal: equal within a relative epsilon, NaN equals NaN, and a
 * staleness marker equals only a staleness marker.
 */
export function almostEqual(a: number, b: number, epsilon = DEFAULT_EPSILON, aStale = isStaleNumber(a), bStale = isStaleNumber(b)): boolean {
  if (aStale || bStale) return aStale && bStale;
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  const minNormal = 2.2250738585072014e-308;
  if (a === 0 || b === 0 || absSum < minNormal) return diff < epsilon * minNormal;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

/** Compares an actual float with an expected sequence value. */
function matchesExpected(actual: number, actualStale: boolean, exp: SequenceValue): boolean {
  switch (exp.kind) {
    case 'float':
      return almostEqual(actual, exp.value, DEFAULT_EPSILON, actualStale, false);
    case 'stale':
      return actualStale;
    case 'omitted':
      return almostEqual(actual, 0, DEFAULT_EPSILON, actualStale, false); // an omitted value reads as 0 upstream
    case 'histogram':
      return false;
  }
}

function fmtSeq(v: SequenceValue): string {
  switch (v.kind) {
    case 'float':
      return formatShortest(v.value);
    case 'stale':
      return 'stale';
    case 'omitted':
      return '_';
    case 'histogram':
      return v.text;
  }
}

function fmtTime(ms: number): string {
  return `${ms / 1000}s`;
}

const MAX_LISTED = 10;

function fmtList(title: string, items: string[]): string {
  if (items.length === 0) return '';
  const shown = items.slice(0, MAX_LISTED).join('; ');
  return `${title}: ${shown}${items.length > MAX_LISTED ? `; ... and ${items.length - MAX_LISTED} more` : ''}`;
}

function seriesKey(ls: Labels): string {
  return ls.map((l) => `${l.name}\u0000${l.value}`).join('\u0001');
}

function fmtVector(samples: readonly Sample[]): string {
  if (samples.length === 0) return '{} (empty vector)';
  const items = samples.slice(0, MAX_LISTED).map((s) => `${formatLabels(s.labels)} ${formatShortest(s.v)}`);
  return `[${items.join(', ')}${samples.length > MAX_LISTED ? `, ... ${samples.length - MAX_LISTED} more` : ''}]`;
}

function compareInstant(cmd: EvalCommand, value: QueryValue): string | undefined {
  switch (value.type) {
    case 'vector':
      return compareVector(cmd, value.samples, isOrdered(cmd));
    case 'scalar':
      return compareScalar(cmd, value.v);
    case 'matrix':
      if (cmd.rangeVector) return compareMatrix(cmd, value.series, cmd.startMs, cmd.endMs, cmd.stepMs);
      return `expected an instant vector or scalar, but the query returned a range vector of ${value.series.length} series`;
    case 'string': {
      const exp = cmd.expectedString ?? '';
      return exp === value.v ? undefined : `expected string ${JSON.stringify(exp)} but got ${JSON.stringify(value.v)}`;
    }
  }
}

function compareScalar(cmd: EvalCommand, v: number): string | undefined {
  if (!cmd.expectScalar || cmd.scalar === undefined) return `expected vector or matrix result, but got scalar ${formatShortest(v)}`;
  return matchesExpected(v, isStaleNumber(v), cmd.scalar) ? undefined : `expected scalar ${fmtSeq(cmd.scalar)} but got ${formatShortest(v)}`;
}

function compareVector(cmd: EvalCommand, samples: readonly Sample[], ordered: boolean): string | undefined {
  if (cmd.expectScalar) return `expected scalar ${cmd.scalar ? fmtSeq(cmd.scalar) : ''} but got vector ${fmtVector(samples)}`;
  const seen = new Set<string>();
  const unexpected: string[] = [];
  const different: string[] = [];
  const misplaced: string[] = [];
  samples.forEach((s, pos) => {
    const key = seriesKey(s.labels);
    const exp = cmd.expected.get(key);
    const name = formatLabels(s.labels);
    if (!exp) {
      unexpected.push(`${name} ${formatShortest(s.v)}`);
      return;
    }
    seen.add(key);
    if (ordered && exp.pos !== pos + 1) misplaced.push(`${name} at position ${pos + 1}, expected at ${exp.pos}`);
    const e0 = exp.values[0];
    if (e0 === undefined) different.push(`${name}: no expected value written, got ${formatShortest(s.v)}`);
    else if (!matchesExpected(s.v, isStaleNumber(s.v), e0)) different.push(`${name} expected ${fmtSeq(e0)} got ${formatShortest(s.v)}`);
  });
  const missing: string[] = [];
  for (const [key, exp] of cmd.expected) {
    if (!seen.has(key)) missing.push(`${formatLabels(exp.labels)} ${exp.values.map(fmtSeq).join(' ')}`.trimEnd());
  }
  if (unexpected.length + different.length + misplaced.length + missing.length === 0) return undefined;
  const parts = [fmtList('different', different), fmtList('missing', missing), fmtList('unexpected', unexpected), fmtList('out of order', misplaced)];
  return `expected ${cmd.expected.size} series, got ${samples.length}: ${parts.filter((p) => p !== '').join('; ')}`;
}

function checkSorted(series: readonly ResultSeries[]): string | undefined {
  for (let i = 0; i + 1 < series.length; i++) {
    if (compareLabels(series[i]!.labels, series[i + 1]!.labels) > 0) {
      return `matrix results should always be sorted by labels, but ${formatLabels(series[i + 1]!.labels)} (index ${i + 1}) sorts before ${formatLabels(series[i]!.labels)} (index ${i})`;
    }
  }
  return undefined;
}

/** Formats a series' points on the step grid [start, end]: `1 2 _ 4` (`_` = no point). */
function fmtGrid(s: ResultSeries, start: number, end: number, step: number): string {
  const byT = new Map<number, string>();
  for (let i = 0; i < s.timestamps.length; i++) byT.set(s.timestamps[i]!, isStaleAt(s.values, i) ? 'stale' : formatShortest(s.values[i]!));
  const out: string[] = [];
  if (step > 0) for (let t = start; t <= end && out.length < 200; t += step) out.push(byT.get(t) ?? '_');
  const offGrid = [...byT.keys()].filter((t) => step <= 0 || t < start || t > end || (t - start) % step !== 0);
  if (offGrid.length) out.push(`(off-grid points at ${offGrid.slice(0, 5).map(fmtTime).join(', ')})`);
  return out.join(' ');
}

function compareMatrix(cmd: EvalCommand, series: readonly ResultSeries[], start: number, end: number, step: number): string | undefined {
  if (isOrdered(cmd)) return 'expected ordered result, but query returned a matrix';
  if (cmd.expectScalar) return `expected scalar result, but got a matrix of ${series.length} series`;
  const unsorted = checkSorted(series);
  if (unsorted !== undefined) return unsorted;
  const seen = new Set<string>();
  const unexpected: string[] = [];
  const different: string[] = [];
  for (const s of series) {
    const key = seriesKey(s.labels);
    const exp = cmd.expected.get(key);
    const name = formatLabels(s.labels);
    if (!exp) {
      unexpected.push(`${name} ${fmtGrid(s, start, end, step)}`);
      continue;
    }
    seen.add(key);
    const pts: { t: number; e: SequenceValue }[] = [];
    let tooMany = false;
    exp.values.forEach((e, i) => {
      const t = start + i * step;
      if (t > end) tooMany = true;
      else if (e.kind !== 'omitted') pts.push({ t, e });
    });
    if (tooMany) return `expected ${exp.values.length} points for ${name}, but query time range cannot return this many points`;
    let ok = pts.length === s.timestamps.length;
    for (let i = 0; ok && i < pts.length; i++) {
      if (pts[i]!.t !== s.timestamps[i] || !matchesExpected(s.values[i]!, isStaleAt(s.values, i), pts[i]!.e)) ok = false;
    }
    if (!ok) different.push(`${name} expected ${exp.values.map(fmtSeq).join(' ')} got ${fmtGrid(s, start, end, step)}`);
  }
  const missing: string[] = [];
  for (const [key, exp] of cmd.expected) {
    if (!seen.has(key)) missing.push(`${formatLabels(exp.labels)} ${exp.values.map(fmtSeq).join(' ')}`.trimEnd());
  }
  if (unexpected.length + different.length + missing.length === 0) return undefined;
  const parts = [fmtList('different', different), fmtList('missing', missing), fmtList('unexpected', unexpected)];
  return `expected ${cmd.expected.size} series, got ${series.length}: ${parts.filter((p) => p !== '').join('; ')}`;
}

// ---------------------------------------------------------------------------
// Failures and annotations.

function matchesExpectation(e: Expectation, s: string): boolean {
  return e.regex ? e.regex.test(s) : e.message === s;
}

function checkExpectedFailure(cmd: EvalCommand, err: PromQLError): string | undefined {
  const msg = err.message;
  if (cmd.expectedFailMessage !== undefined && cmd.expectedFailMessage !== '' && cmd.expectedFailMessage !== msg) {
    return `expected error ${JSON.stringify(cmd.expectedFailMessage)} but got: ${msg}`;
  }
  if (cmd.expectedFailRegexp && !cmd.expectedFailRegexp.test(msg)) {
    return `expected error matching pattern ${JSON.stringify(cmd.expectedFailRegexp.source)} but got: ${msg}`;
  }
  const f = cmd.expects.fail[0];
  if (f && !matchesExpectation(f, msg)) return `expected error matching ${JSON.stringify(f.source)} but got: ${msg}`;
  return undefined;
}

/**
 * Annotations as the engine reports them, without the " (line:col)" position that the HTTP
 * API appends (upstream's harness compares the bare messages).
 */
function bareAnnotation(s: string): string {
  return s.replace(/ \(\d+:\d+\)$/, '');
}

function checkAnnotations(cmd: EvalCommand, res: QueryResult): string | undefined {
  const warnings = res.warnings.map(bareAnnotation);
  const infos = res.infos.map(bareAnnotation);
  if (cmd.warn && warnings.length === 0) return 'expected warnings but got none';
  if (cmd.info && infos.length === 0) return 'expected info annotations but got none';
  const all = (): string => JSON.stringify([...warnings, ...infos]);
  const check = (expected: Expectation[], actual: string[], type: string): string | undefined => {
    if (expected.length === 0) return undefined;
    if (actual.length === 0) return `expected ${type} annotations but none were found`;
    for (const e of expected) {
      if (!actual.some((a) => matchesExpectation(e, a))) {
        return `expected ${type} annotation matching ${e.regex ? 'pattern' : 'message'} ${JSON.stringify(e.source)} but no matching annotation was found, found: ${all()}`;
      }
    }
    for (const a of actual) {
      if (!expected.some((e) => matchesExpectation(e, a))) return `unexpected ${type} annotation ${JSON.stringify(a)}`;
    }
    return undefined;
  };
  const w = check(cmd.expects.warn, warnings, 'warn');
  if (w !== undefined) return w;
  const i = check(cmd.expects.info, infos, 'info');
  if (i !== undefined) return i;
  if (cmd.expects.noWarn.length > 0 && warnings.length > 0) return `unexpected warning annotations: ${JSON.stringify(warnings)}`;
  if (cmd.expects.noInfo.length > 0 && infos.length > 0) return `unexpected info annotations: ${JSON.stringify(infos)}`;
  return undefined;
}
