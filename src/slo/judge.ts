/**
 * The judgement of one SLO at one evaluation: pure, from measurements to a status and the
 * reasons behind it (argo-rollouts' evaluate.go has the same shape: one measurement in, one
 * phase out). The I/O that takes the measurements lives elsewhere; the same code serves the
 * gate, the daemon and the backtests.
 *
 * Checks: fixed thresholds on the SLI; multi-window error-budget burn rates; the new code's scope
 * against the old code's (relative increase and a Mann-Whitney U test with a minimum effect), which
 * also keeps a fleet-wide problem from blaming the release; and minimum traffic. Missing data,
 * partial answers and errors never pass: each has a policy whose default is the safe one.
 */

import { mannWhitneyU, type MannWhitney } from './stats.js';

export type Status = 'pass' | 'warn' | 'fail' | 'no-data' | 'error';

/** One check's finding, with the numbers it was decided on. */
export interface Reason {
  readonly check: 'threshold' | 'burn-rate' | 'comparison' | 'traffic' | 'data';
  readonly status: Status;
  readonly message: string;
  readonly values: Readonly<Record<string, number | string>>;
}

/**
 * A measured value (a number: no object per measurement, which a backtest takes hundreds of
 * thousands of; NaN is no data), or why there is none.
 */
export type Measured =
  | number
  /** The query answered, but without the engines listed: the value leaves them out. */
  | { readonly kind: 'partial'; readonly value: number | undefined; readonly missing: readonly string[] }
  /** The query answered with no series (or NaN). */
  | { readonly kind: 'empty' }
  | { readonly kind: 'error'; readonly message: string };

export interface BurnRateRule {
  /** Long and short windows, ms: both must burn at least `factor` (the SRE workbook's multiwindow alert). */
  readonly longMs: number;
  readonly shortMs: number;
  readonly factor: number;
  readonly severity: 'warn' | 'fail';
}

export interface ComparisonRule {
  /** Largest tolerated relative increase of the release's SLI over the baseline's (0.5: +50%). */
  readonly maxRelativeIncrease: number;
  /** Significance level of the one-sided Mann-Whitney U test (release worse than baseline). */
  readonly alpha: number;
  /** Least effect: P(release sample > baseline sample) - 0.5. */
  readonly minEffect: number;
  /** Fewest samples in each scope for the test to be trusted. */
  readonly minSamples: number;
  readonly severity: 'warn' | 'fail';
}

/** What to make of missing, partial or failed measurements. */
export interface DataPolicy {
  /** No series, or too little traffic (default no-data: never pass). */
  readonly noData: 'no-data' | 'fail' | 'pass';
  /** A partial answer from the fan-out (default no-data: judged as missing). */
  readonly partial: 'no-data' | 'use' | 'fail';
  /** A query error (default error). */
  readonly error: 'error' | 'no-data' | 'fail';
}

export const SAFE_POLICY: DataPolicy = { noData: 'no-data', partial: 'no-data', error: 'error' };

export interface JudgementSpec {
  /** "higher" when a higher SLI is worse (error ratios, latency), "lower" when lower is worse (availability). */
  readonly worse: 'higher' | 'lower';
  readonly thresholds?: { readonly warn?: number; readonly fail?: number };
  /** For ratio SLIs of errors to total: the objective (0.999), whose complement is the error budget. */
  readonly objective?: number;
  readonly burnRates?: readonly BurnRateRule[];
  readonly comparison?: ComparisonRule;
  /** Fewest requests in the release scope over the window. */
  readonly minTraffic?: number;
  readonly policy?: Partial<DataPolicy>;
}

/**
 * Samples of one scope: an array, or the span values[from .. to) of a longer one (a comparison
 * window cut from a range answer without making a view or a copy per evaluation).
 */
export type Samples = ArrayLike<number> | SampleSpan;

/** Samples values[from .. to) of a longer run. */
export interface SampleSpan {
  readonly values: ArrayLike<number>;
  readonly from: number;
  readonly to: number;
}

function isSpan(x: Samples): x is SampleSpan {
  return typeof (x as SampleSpan).from === 'number' && (x as SampleSpan).values !== undefined;
}

/** How many samples. */
function countOf(x: Samples): number {
  return isSpan(x) ? x.to - x.from : x.length;
}

/** Samples as an array-like (a view of a span's values when they are typed, else a copy). */
export function samplesArray(x: Samples): ArrayLike<number> {
  if (!isSpan(x)) return x;
  const v = x.values;
  if (v instanceof Float64Array) return v.subarray(x.from, x.to);
  return Array.prototype.slice.call(v, x.from, x.to) as number[];
}

/** What the I/O layer measured for one evaluation. */
export interface Measurements {
  /** The SLI over the release scope. */
  readonly sli: Measured;
  /** The SLI over the baseline (old code) scope. */
  readonly baseline?: Measured;
  /** Error ratios of the release scope per burn-rate window, by window length in ms. */
  readonly errorRatios?: { get(windowMs: number): Measured | undefined };
  /** The SLI's samples over the comparison window, per scope. */
  readonly samples?: { readonly release: Samples; readonly baseline: Samples };
  /** Requests in the release scope over the window. */
  readonly traffic?: Measured;
}

export interface Evaluation {
  readonly status: Status;
  readonly reasons: readonly Reason[];
}

const RANK: Record<Status, number> = { pass: 0, warn: 1, 'no-data': 2, error: 3, fail: 4 };

/** The worse of statuses: fail > error > no-data > warn > pass. */
export function worst(statuses: readonly Status[]): Status {
  let w: Status = 'pass';
  for (const s of statuses) if (RANK[s] > RANK[w]) w = s;
  return w;
}

const fmt = (v: number): string => (Number.isFinite(v) ? String(Math.round(v * 1e6) / 1e6) : String(v));

/**
 * A check's finding whose values and message are made when first read, from the numbers it was
 * decided on: a backtest judges tens of thousands of evaluations and reads the reasons of a few,
 * and one object per finding (no closures, no values object) keeps the garbage collector out of
 * the judging. Serialised through toJSON, with both.
 */
abstract class Finding implements Reason {
  private v: Reason['values'] | undefined;
  private m: string | undefined;
  constructor(
    readonly check: Reason['check'],
    readonly status: Status,
  ) {}
  protected abstract makeValues(): Reason['values'];
  protected abstract makeMessage(): string;
  get values(): Reason['values'] {
    return (this.v ??= this.makeValues());
  }
  get message(): string {
    return (this.m ??= this.makeMessage());
  }
  toJSON(): Reason {
    return { check: this.check, status: this.status, message: this.message, values: this.values };
  }
}

/** The SLI against the fixed thresholds. */
class ThresholdFinding extends Finding {
  constructor(
    status: Status,
    private readonly sli: number,
    private readonly spec: JudgementSpec,
  ) {
    super('threshold', status);
  }
  protected makeValues(): Reason['values'] {
    const { warn, fail } = this.spec.thresholds!;
    if (this.status === 'fail') return { sli: this.sli, fail: fail! };
    if (this.status === 'warn') return { sli: this.sli, warn: warn! };
    const v: Record<string, number> = { sli: this.sli };
    if (warn !== undefined) v['warn'] = warn;
    if (fail !== undefined) v['fail'] = fail;
    return v;
  }
  protected makeMessage(): string {
    const { warn, fail } = this.spec.thresholds!;
    const cmp = this.spec.worse === 'higher' ? 'above' : 'below';
    if (this.status === 'fail') return `SLI ${fmt(this.sli)} is ${cmp} the fail threshold ${fail}`;
    if (this.status === 'warn') return `SLI ${fmt(this.sli)} is ${cmp} the warn threshold ${warn}`;
    return `SLI ${fmt(this.sli)} within thresholds`;
  }
}

/** One multiwindow burn-rate rule. */
class BurnFinding extends Finding {
  constructor(
    status: Status,
    private readonly long: number,
    private readonly short: number,
    private readonly rule: BurnRateRule,
    private readonly budget: number,
    private readonly fires: boolean,
  ) {
    super('burn-rate', status);
  }
  protected makeValues(): Reason['values'] {
    const r = this.rule;
    return { burnLong: this.long, burnShort: this.short, factor: r.factor, longWindowMs: r.longMs, shortWindowMs: r.shortMs };
  }
  protected makeMessage(): string {
    const r = this.rule;
    return `burn rate ${fmt(this.long)}x over ${r.longMs / 60_000}m and ${fmt(this.short)}x over ${r.shortMs / 60_000}m ${this.fires ? 'reach' : 'stay under'} ${r.factor}x (budget ${fmt(this.budget)})`;
  }
}

/** The release against its baseline: relative increase and the Mann-Whitney test (run when first needed). */
class ComparisonFinding extends Finding {
  private test: MannWhitney | (() => MannWhitney);
  constructor(
    status: Status,
    private readonly sli: number,
    private readonly base: number,
    private readonly increase: number,
    test: MannWhitney | (() => MannWhitney),
    private readonly rule: ComparisonRule,
    private readonly releaseWorse: boolean,
  ) {
    super('comparison', status);
    this.test = test;
  }
  private get mw(): MannWhitney {
    if (typeof this.test === 'function') this.test = this.test();
    return this.test;
  }
  protected makeValues(): Reason['values'] {
    const mw = this.mw;
    return { sli: this.sli, baseline: this.base, relativeIncrease: this.increase, p: mw.pGreater, effect: mw.effect - 0.5, n1: mw.n1, n2: mw.n2 };
  }
  protected makeMessage(): string {
    const { sli, base, increase: inc, mw, rule: c } = this;
    const p = mw.pGreater.toPrecision(3);
    const effect = mw.effect - 0.5;
    return this.releaseWorse
      ? `release worse than baseline: ${fmt(sli)} vs ${fmt(base)} (+${fmt(inc * 100)}%), Mann-Whitney p=${p} < ${c.alpha}, effect ${fmt(effect)} >= ${c.minEffect}`
      : `release not significantly worse than baseline: ${fmt(sli)} vs ${fmt(base)} (${inc >= 0 ? '+' : ''}${fmt(inc * 100)}%), p=${p}, effect ${fmt(effect)}`;
  }
}

/** Whether a sample holds a number. */
function hasNumber(x: Samples): boolean {
  const span = isSpan(x);
  const xs = span ? x.values : x;
  const to = span ? x.to : x.length;
  for (let i = span ? x.from : 0; i < to; i++) if (xs[i] === xs[i]) return true;
  return false;
}

/** The policy of a judgement spec, the safe defaults filled in (made once per spec). */
const policies = new WeakMap<JudgementSpec, DataPolicy>();
function policyOf(spec: JudgementSpec): DataPolicy {
  let p = policies.get(spec);
  if (!p) policies.set(spec, (p = { ...SAFE_POLICY, ...spec.policy }));
  return p;
}

/** A measurement's value when the judgement may use it; undefined otherwise (see dataStatus). */
function usable(x: Measured, policy: DataPolicy): number | undefined {
  if (typeof x === 'number') return x === x ? x : undefined;
  switch (x.kind) {
    case 'partial':
      return policy.partial === 'use' && x.value !== undefined && !Number.isNaN(x.value) ? x.value : undefined;
    default:
      return undefined;
  }
}

/** The status a measurement the judgement may not use stands for, by the policy. */
function dataStatus(x: Measured, policy: DataPolicy): Status {
  if (typeof x === 'number') return policy.noData;
  switch (x.kind) {
    case 'partial':
      return policy.partial === 'fail' ? 'fail' : 'no-data';
    case 'error':
      return policy.error;
    default:
      return policy.noData;
  }
}

/** Why a measurement could not be used, as a reason. */
function dataReason(x: Measured, what: string, policy: DataPolicy): Reason {
  const status = dataStatus(x, policy);
  if (typeof x === 'number') return { check: 'data', status, message: `${what}: no data`, values: {} };
  switch (x.kind) {
    case 'partial':
      return { check: 'data', status, message: `${what}: partial answer, engines ${x.missing.join(', ')} missing; not judged as healthy`, values: { missing: x.missing.join(',') } };
    case 'error':
      return { check: 'data', status, message: `${what}: query failed: ${x.message}`, values: {} };
    default:
      return { check: 'data', status, message: `${what}: no data`, values: {} };
  }
}

/**
 * The findings of one judgement as they are made: the worst status so far, and the reasons when
 * they are asked for (`out`). Judging and explaining run the same checks, so the status a
 * judgement gives is always the worst of the reasons it would list.
 */
class Tally {
  worst: Status = 'pass';
  count = 0;
  policy: DataPolicy = SAFE_POLICY;
  out: Reason[] | undefined;
  /** Starts a judgement over (a tally is reused: judging is synchronous and never nested). */
  reset(policy: DataPolicy, out: Reason[] | undefined): this {
    this.worst = 'pass';
    this.count = 0;
    this.policy = policy;
    this.out = out;
    return this;
  }
  /** Notes a finding of `status` (its reason, when kept, is listed by the caller). */
  note(status: Status): void {
    this.count++;
    if (RANK[status] > RANK[this.worst]) this.worst = status;
  }
  /** The usable value of a measurement, or undefined with its data finding noted. */
  take(x: Measured | undefined, what: string): number | undefined {
    if (x === undefined) return undefined;
    const v = usable(x, this.policy);
    if (v !== undefined) return v;
    this.note(dataStatus(x, this.policy));
    this.out?.push(dataReason(x, what, this.policy));
    return undefined;
  }
}

const STATUS_TALLY = new Tally();
const UNNAMED: readonly [string, string] = ['', ''];

/** A failing absolute check's status when the baseline is as affected (fleet-wide): a warning. */
const blamed = (status: Status, fleetWide: boolean): Status => (status === 'fail' && fleetWide ? 'warn' : status);

/** What a burn-rate rule's two measurements are called in reasons (made once per rule). */
const ruleNames = new WeakMap<BurnRateRule, readonly [string, string]>();
function ruleLabels(rule: BurnRateRule): readonly [string, string] {
  let l = ruleNames.get(rule);
  if (!l) ruleNames.set(rule, (l = [`error ratio over ${rule.longMs / 1000}s`, `error ratio over ${rule.shortMs / 1000}s`]));
  return l;
}

/** -x for each x. */
const negated = (xs: ArrayLike<number>): number[] => Array.from(xs, (v) => -v);

/** The one-sided test "the release is worse than the baseline", however worse is measured. */
function releaseWorseTest(worse: JudgementSpec['worse'], relSamples: Samples, basSamples: Samples): MannWhitney | undefined {
  const rel = samplesArray(relSamples);
  const bas = samplesArray(basSamples);
  return worse === 'higher' ? mannWhitneyU(rel, bas) : mannWhitneyU(negated(rel), negated(bas));
}

const NO_SAMPLES: readonly number[] = [];

/**
 * Runs the checks of a judgement over the measurements; returns the worst status, and lists the
 * reasons in `out` when given (in order: data and traffic findings, the comparison, then the
 * absolute checks).
 */
function assess(spec: JudgementSpec, m: Measurements, out: Reason[] | undefined): Status {
  const policy = policyOf(spec);
  // The status alone (every judgement) reuses one tally; reasons (a few) get their own.
  const t = out ? new Tally().reset(policy, out) : STATUS_TALLY.reset(policy, undefined);
  const higher = spec.worse === 'higher';

  // Minimum traffic first: a scope with too few requests says nothing, whatever its ratio.
  if (spec.minTraffic !== undefined) {
    const traffic = t.take(m.traffic, 'traffic');
    if (traffic !== undefined && traffic < spec.minTraffic) {
      t.note(policy.noData);
      out?.push({ check: 'traffic', status: policy.noData, message: `only ${fmt(traffic)} requests in the release scope, fewer than the ${spec.minTraffic} needed to judge`, values: { traffic, min: spec.minTraffic } });
      return t.worst;
    }
  }

  const sli = t.take(m.sli, 'SLI');
  const base = m.baseline !== undefined ? t.take(m.baseline, 'baseline SLI') : undefined;

  // The release's SLI relative to the baseline's, when both are known; within the comparison's
  // tolerated increase, the old code is as affected as the new: the problem is the fleet's.
  let increase: number | undefined;
  if (sli !== undefined && base !== undefined) {
    increase = higher ? (base === 0 ? (sli > 0 ? Infinity : 0) : (sli - base) / Math.abs(base)) : base === 0 ? 0 : (base - sli) / Math.abs(base);
  }
  const fleetWide = spec.comparison !== undefined && increase !== undefined && increase <= spec.comparison.maxRelativeIncrease;

  // Absolute checks, listed after the comparison: a failure the baseline shares (fleet-wide) is
  // not the release's doing, so it may warn but never revert.
  let threshold: Status | undefined;
  if (sli !== undefined && spec.thresholds) {
    const { warn, fail } = spec.thresholds;
    threshold = fail !== undefined && (higher ? sli > fail : sli < fail) ? 'fail' : warn !== undefined && (higher ? sli > warn : sli < warn) ? 'warn' : 'pass';
  }
  let burns: BurnFinding[] | undefined;
  let burnWorst: Status | undefined;
  if (spec.burnRates?.length && spec.objective !== undefined) {
    const budget = 1 - spec.objective;
    for (const rule of spec.burnRates) {
      // Named only for reasons: judging alone never reads the names.
      const [longWhat, shortWhat] = out ? ruleLabels(rule) : UNNAMED;
      const long = t.take(m.errorRatios?.get(rule.longMs), longWhat);
      const short = t.take(m.errorRatios?.get(rule.shortMs), shortWhat);
      if (long === undefined || short === undefined) continue;
      const bl = long / budget;
      const bs = short / budget;
      const fires = bl >= rule.factor && bs >= rule.factor;
      const status = fires ? rule.severity : 'pass';
      if (burnWorst === undefined || RANK[status] > RANK[burnWorst]) burnWorst = status;
      if (out) (burns ??= []).push(new BurnFinding(status, bl, bs, rule, budget, fires));
    }
  }

  if (spec.comparison) {
    const c = spec.comparison;
    const smp = m.samples;
    const rel = smp?.release ?? NO_SAMPLES;
    const bas = smp?.baseline ?? NO_SAMPLES;
    const nRel = countOf(rel);
    const nBas = countOf(bas);
    // The test needs a number on each side (NaNs are dropped), and minSamples values.
    const enough = nRel >= c.minSamples && nBas >= c.minSamples && hasNumber(rel) && hasNumber(bas);
    if (sli !== undefined && base !== undefined && increase !== undefined && enough) {
      // The test decides only past the tolerated increase; within it, the figures it reports are
      // computed when read (a healthy release stays within it at nearly every evaluation).
      const mw = increase > c.maxRelativeIncrease ? releaseWorseTest(spec.worse, rel, bas)! : undefined;
      const releaseWorse = mw !== undefined && mw.pGreater < c.alpha && mw.effect - 0.5 >= c.minEffect;
      const status = releaseWorse ? c.severity : 'pass';
      t.note(status);
      out?.push(new ComparisonFinding(status, sli, base, increase, mw ?? (() => releaseWorseTest(spec.worse, rel, bas)!), c, releaseWorse));
    } else {
      t.note(policy.noData);
      out?.push({
        check: 'comparison',
        status: policy.noData,
        message: `cannot compare with the baseline: ${nRel} release and ${nBas} baseline samples (need ${c.minSamples} each) and both SLI values`,
        values: { releaseSamples: nRel, baselineSamples: nBas },
      });
    }
  }

  if (threshold !== undefined) {
    t.note(blamed(threshold, fleetWide));
    if (out) out.push(fleetWideOr(new ThresholdFinding(threshold, sli!, spec), fleetWide));
  }
  if (burnWorst !== undefined) {
    t.note(blamed(burnWorst, fleetWide));
    if (burns) for (const f of burns) out!.push(fleetWideOr(f, fleetWide));
  }
  if (t.count === 0) {
    t.note(policy.noData);
    out?.push({ check: 'data', status: policy.noData, message: 'nothing to judge: no SLI value and no check configured', values: {} });
  }
  return t.worst;
}

/** An absolute finding, or, when it fails but the baseline is as affected, its fleet-wide warning. */
function fleetWideOr(r: Reason, fleetWide: boolean): Reason {
  if (r.status !== 'fail' || !fleetWide) return r;
  return { check: r.check, status: 'warn', message: `${r.message}; the baseline is as affected (fleet-wide), so not blamed on the release`, values: r.values };
}

/**
 * A judgement: its status decided at once, its reasons written when first read (a backtest
 * judges tens of thousands of evaluations and reads the reasons of a few). The reasons come
 * from the same checks as the status.
 */
class Judgement implements Evaluation {
  private listed: readonly Reason[] | undefined;
  constructor(
    private readonly spec: JudgementSpec,
    private m: Measurements | (() => Measurements) | undefined,
    readonly status: Status,
  ) {}
  get reasons(): readonly Reason[] {
    if (!this.listed) {
      const out: Reason[] = [];
      const m = this.m!;
      assess(this.spec, typeof m === 'function' ? m() : m, out);
      this.listed = out;
      this.m = undefined;
    }
    return this.listed;
  }
  toJSON(): { status: Status; reasons: readonly Reason[] } {
    return { status: this.status, reasons: this.reasons };
  }
}

/** Judges one evaluation of one SLO. */
export function judge(spec: JudgementSpec, m: Measurements): Evaluation {
  return new Judgement(spec, m, assess(spec, m, undefined));
}

/**
 * Judges measurements seen through a view that will be written over (see MeasurementRows.view):
 * the status now, the reasons when read, from `again()` (the same measurements, made anew).
 */
export function judgeSeen(spec: JudgementSpec, view: Measurements, again: () => Measurements): Evaluation {
  return new Judgement(spec, again, assess(spec, view, undefined));
}
