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

/** A measured value, or why there is none. */
export type Measured =
  | { readonly kind: 'value'; readonly value: number }
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

/** What the I/O layer measured for one evaluation. */
export interface Measurements {
  /** The SLI over the release scope. */
  readonly sli: Measured;
  /** The SLI over the baseline (old code) scope. */
  readonly baseline?: Measured;
  /** Error ratios of the release scope per burn-rate window, by window length in ms. */
  readonly errorRatios?: { get(windowMs: number): Measured | undefined };
  /** The SLI's samples over the comparison window, per scope. */
  readonly samples?: { readonly release: ArrayLike<number>; readonly baseline: ArrayLike<number> };
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
function hasNumber(xs: ArrayLike<number>): boolean {
  for (let i = 0; i < xs.length; i++) if (xs[i] === xs[i]) return true;
  return false;
}

/** The policy of a judgement spec, the safe defaults filled in (made once per spec). */
const policies = new WeakMap<JudgementSpec, DataPolicy>();
function policyOf(spec: JudgementSpec): DataPolicy {
  let p = policies.get(spec);
  if (!p) policies.set(spec, (p = { ...SAFE_POLICY, ...spec.policy }));
  return p;
}

/** The worst status among reasons. */
function worstOf(reasons: readonly Reason[]): Status {
  let w: Status = 'pass';
  for (const r of reasons) if (RANK[r.status] > RANK[w]) w = r.status;
  return w;
}

/** The usable value of a measurement, or a reason why not (pushed) and undefined. */
function usableValue(x: Measured | undefined, what: string, policy: DataPolicy, reasons: Reason[]): number | undefined {
  if (!x) return undefined;
  switch (x.kind) {
    case 'value':
      if (x.value === x.value) return x.value;
      reasons.push({ check: 'data', status: policy.noData, message: `${what}: no data`, values: {} });
      return undefined;
    case 'partial':
      if (policy.partial === 'use' && x.value !== undefined && !Number.isNaN(x.value)) return x.value;
      reasons.push({
        check: 'data',
        status: policy.partial === 'fail' ? 'fail' : 'no-data',
        message: `${what}: partial answer, engines ${x.missing.join(', ')} missing; not judged as healthy`,
        values: { missing: x.missing.join(',') },
      });
      return undefined;
    case 'empty':
      reasons.push({ check: 'data', status: policy.noData, message: `${what}: no data`, values: {} });
      return undefined;
    case 'error':
      reasons.push({ check: 'data', status: policy.error, message: `${what}: query failed: ${x.message}`, values: {} });
      return undefined;
  }
}

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
function releaseWorseTest(worse: JudgementSpec['worse'], rel: ArrayLike<number>, bas: ArrayLike<number>): MannWhitney | undefined {
  return worse === 'higher' ? mannWhitneyU(rel, bas) : mannWhitneyU(negated(rel), negated(bas));
}

/** Judges one evaluation of one SLO. */
export function judge(spec: JudgementSpec, m: Measurements): Evaluation {
  const policy = policyOf(spec);
  const reasons: Reason[] = [];
  const higher = spec.worse === 'higher';

  // Minimum traffic first: a scope with too few requests says nothing, whatever its ratio.
  if (spec.minTraffic !== undefined) {
    const t = usableValue(m.traffic, 'traffic', policy, reasons);
    if (t !== undefined && t < spec.minTraffic) {
      reasons.push({ check: 'traffic', status: policy.noData, message: `only ${fmt(t)} requests in the release scope, fewer than the ${spec.minTraffic} needed to judge`, values: { traffic: t, min: spec.minTraffic } });
      return { status: worstOf(reasons), reasons };
    }
  }

  const sli = usableValue(m.sli, 'SLI', policy, reasons);
  const base = m.baseline ? usableValue(m.baseline, 'baseline SLI', policy, reasons) : undefined;
  const absolute: Reason[] = [];

  if (sli !== undefined && spec.thresholds) {
    const { warn, fail } = spec.thresholds;
    const status: Status = fail !== undefined && (higher ? sli > fail : sli < fail) ? 'fail' : warn !== undefined && (higher ? sli > warn : sli < warn) ? 'warn' : 'pass';
    absolute.push(new ThresholdFinding(status, sli, spec));
  }

  if (spec.burnRates?.length && spec.objective !== undefined) {
    const budget = 1 - spec.objective;
    for (const rule of spec.burnRates) {
      const [longWhat, shortWhat] = ruleLabels(rule);
      const long = usableValue(m.errorRatios?.get(rule.longMs), longWhat, policy, reasons);
      const short = usableValue(m.errorRatios?.get(rule.shortMs), shortWhat, policy, reasons);
      if (long === undefined || short === undefined) continue;
      const bl = long / budget;
      const bs = short / budget;
      const fires = bl >= rule.factor && bs >= rule.factor;
      absolute.push(new BurnFinding(fires ? rule.severity : 'pass', bl, bs, rule, budget, fires));
    }
  }

  // The release's SLI relative to the baseline's, when both are known.
  let increase: number | undefined;
  if (sli !== undefined && base !== undefined) {
    increase = spec.worse === 'higher' ? (base === 0 ? (sli > 0 ? Infinity : 0) : (sli - base) / Math.abs(base)) : base === 0 ? 0 : (base - sli) / Math.abs(base);
  }
  let fleetWide = false;
  if (spec.comparison) {
    const c = spec.comparison;
    const rel = m.samples?.release ?? [];
    const bas = m.samples?.baseline ?? [];
    // The test needs a number on each side (NaNs are dropped), and minSamples values.
    const enough = rel.length >= c.minSamples && bas.length >= c.minSamples && hasNumber(rel) && hasNumber(bas);
    // The old code is as affected as the new: the problem is the fleet's, not the release's.
    fleetWide = increase !== undefined && increase <= c.maxRelativeIncrease;
    if (sli !== undefined && base !== undefined && increase !== undefined && enough) {
      // The test decides only past the tolerated increase; within it, the figures it reports are
      // computed when read (a healthy release stays within it at nearly every evaluation).
      const test = () => releaseWorseTest(spec.worse, rel, bas)!;
      const mw = increase > c.maxRelativeIncrease ? test() : undefined;
      const releaseWorse = mw !== undefined && mw.pGreater < c.alpha && mw.effect - 0.5 >= c.minEffect;
      reasons.push(new ComparisonFinding(releaseWorse ? c.severity : 'pass', sli, base, increase, mw ?? test, c, releaseWorse));
    } else {
      reasons.push({
        check: 'comparison',
        status: policy.noData,
        message: `cannot compare with the baseline: ${rel.length} release and ${bas.length} baseline samples (need ${c.minSamples} each) and both SLI values`,
        values: { releaseSamples: rel.length, baselineSamples: bas.length },
      });
    }
  }

  // A fleet-wide problem: the absolute checks fail, but the old code is just as bad (within the
  // tolerated increase). That is not the release's doing, so it may warn but never revert.
  for (const r of absolute) {
    if (r.status === 'fail' && fleetWide) {
      reasons.push({ check: r.check, status: 'warn', message: `${r.message}; the baseline is as affected (fleet-wide), so not blamed on the release`, values: r.values });
    } else reasons.push(r);
  }
  if (reasons.length === 0) reasons.push({ check: 'data', status: policy.noData, message: 'nothing to judge: no SLI value and no check configured', values: {} });
  return { status: worstOf(reasons), reasons };
}
