/**
 * One release stage judged over time: every SLO evaluated at each evaluation time, each SLO's
 * evaluations summarised, and the SLOs combined into continue, pause or revert. The clock is the
 * caller's: the gate waits on the wall clock or walks history, the backtest simulates.
 */

import { judge, judgeSeen, type Evaluation, type Measured, type Measurements, type Reason, type Status } from './judge.js';
import { measure, measureMany, scopesFor, type MeasurementRows, type QueryFn, type Scopes } from './measure.js';
import type { SloSpec } from './spec.js';
import { stageVerdict, summarizeRun, type RunLimits, type RunSummary, type SloOutcome, type StageVerdict, type TimedEvaluation } from './verdict.js';

/** One evaluation of one SLO, with the SLI values it measured (for charts and reports). */
export interface StageEvaluation extends TimedEvaluation, Pick<Evaluation, 'reasons'> {
  /** The SLI in the release scope, when it was measured as a number. */
  readonly sli?: number;
  /** The SLI in the baseline scope, when compared and measured. */
  readonly baseline?: number;
}

export interface StageSlo {
  readonly spec: SloSpec;
  readonly evaluations: StageEvaluation[];
  summary: RunSummary;
}

export interface StageOptions {
  readonly specs: readonly SloSpec[];
  readonly scope: string | undefined;
  readonly baselineScope: string | undefined;
  /** When the stage started (initial delays count from here), ms. */
  readonly startedAt: number;
  /**
   * One evaluation decides: the specs' initial delays and consecutive-result limits are set aside
   * (a one-shot gate has no later evaluation to wait for).
   */
  readonly oneShot?: boolean;
  /**
   * Whose reasons the evaluations keep: every one's (default; the gate reports each), or only the
   * latest's (a backtest, which judges thousands: the summaries read the latest alone, and the
   * rest kept alive would cost the garbage collector more than the judging itself); with
   * 'latest', `evaluations` keeps only what the summaries read back: the latest evaluation and
   * the run of its status before it. Reasons are written when first read, so with 'latest' a
   * verdict's reasons must be read before the next evaluation is judged (they read empty after).
   */
  readonly keepReasons?: 'all' | 'latest';
}

const NO_REASONS: readonly never[] = Object.freeze([]);

/** A stage's measurements at many times: rows [time][slo], and each SLO's own rows. */
export interface StageRows extends MeasurementRows<Measurements[]> {
  readonly cols: readonly MeasurementRows[];
}

/** A one-shot gate's limits: the first evaluation decides. */
const ONE_SHOT: RunLimits = { initialDelayMs: 0, failureLimit: 0, inconclusiveLimit: 0, errorLimit: 0 };

/** A stage in progress: feed it evaluation times, read its verdict. */
export class Stage {
  readonly slos: StageSlo[];

  constructor(private readonly o: StageOptions) {
    this.slos = o.specs.map((spec) => ({ spec, evaluations: [], summary: { status: 'pending', message: 'not evaluated yet', reasons: [] } }));
    // Resolved now, so that a bad --scope fails before any query, and once, so that every
    // evaluation reuses the same parsed expressions.
    this.scopes = this.slos.map((s) => scopesFor(s.spec, o.scope, o.baselineScope));
  }

  private readonly scopes: Scopes[];

  /** Evaluates every SLO at `t` and updates the summaries. */
  async evaluate(t: number, q: QueryFn): Promise<StageVerdict> {
    const ms = await Promise.all(this.slos.map((s, i) => measure(s.spec, this.scopes[i]!, t, q)));
    return this.judgeAt(t, ms);
  }

  /**
   * Measures every SLO at many times at once (one range query per expression: the replay of a
   * backtest); judge each time with `judgeMeasured` (or feed its row to `judgeAt`), in time
   * order. Indexed [time][slo].
   */
  async measureMany(times: readonly number[], q: QueryFn): Promise<StageRows> {
    const cols = await Promise.all(this.slos.map((s, i) => measureMany(s.spec, this.scopes[i]!, times, q)));
    return { length: times.length, cols, at: (k) => (k >= 0 && k < times.length ? cols.map((c) => c.at(k)!) : undefined) };
  }

  /** Judges every SLO at `t` from its measurements (in the order of the specs) and updates the summaries. */
  judgeAt(t: number, ms: readonly Measurements[]): StageVerdict {
    for (let i = 0; i < this.slos.length; i++) {
      const m = ms[i]!;
      this.take(i, t, judge(this.slos[i]!.spec.judgement, m), m);
    }
    return this.verdict();
  }

  /**
   * judgeAt for the measurements of time index k of `rows` (from measureMany): judged through
   * the columns' views, so that judging a time makes no measurement objects; an evaluation's
   * reasons, when read, are written from measurements made anew.
   */
  judgeMeasured(t: number, rows: StageRows, k: number): StageVerdict {
    for (let i = 0; i < this.slos.length; i++) {
      const col = rows.cols[i]!;
      const spec = this.slos[i]!.spec.judgement;
      const view = col.view?.(k);
      if (view) this.take(i, t, judgeSeen(spec, view, () => col.at(k)!), view);
      else {
        const m = col.at(k)!;
        this.take(i, t, judge(spec, m), m);
      }
    }
    return this.verdict();
  }

  /** Adds SLO i's evaluation at t and updates its summary. */
  private take(i: number, t: number, judgement: Evaluation, m: Measurements): void {
    const s = this.slos[i]!;
    const prev = s.evaluations[s.evaluations.length - 1];
    const ev = new Judged(t, judgement, num(m.sli), num(m.baseline));
    if (this.o.keepReasons === 'latest' && prev) {
      if (prev instanceof Judged) prev.forget();
      else (prev as { reasons: StageEvaluation['reasons'] }).reasons = NO_REASONS;
    }
    // The summary reads back only over a run of failures, errors or missing data: before a
    // change of status, or under a passing one, nothing earlier is read again.
    if (this.o.keepReasons === 'latest' && prev && (ev.status !== prev.status || ev.status === 'pass' || ev.status === 'warn')) {
      // Written over in place (emptying the list would free its storage only to make it
      // again at the next push).
      if (s.evaluations.length > 1) s.evaluations.length = 1;
      s.evaluations[0] = ev;
    } else s.evaluations.push(ev);
    const limits = this.o.oneShot ? ONE_SHOT : s.spec.evaluation;
    s.summary = summarizeRun(limits, s.evaluations, this.o.startedAt, t);
  }

  /**
   * Takes back evaluations judged before (a daemon restarting), in time order, each row one
   * evaluation per SLO in the order of the specs, so that limits on consecutive results go on
   * counting where they were.
   */
  restore(rows: readonly { readonly at: number; readonly slos: readonly Omit<StageEvaluation, 'at'>[] }[]): void {
    for (const row of rows) {
      this.slos.forEach((s, i) => {
        const e = row.slos[i];
        if (!e) throw new Error(`restoring ${s.spec.name} at ${new Date(row.at).toISOString()}: the stored evaluation has no result for it`);
        s.evaluations.push({ ...e, at: row.at });
        const limits = this.o.oneShot ? ONE_SHOT : s.spec.evaluation;
        s.summary = summarizeRun(limits, s.evaluations, this.o.startedAt, row.at);
      });
    }
  }

  /** The stage verdict from the current summaries. */
  verdict(): StageVerdict {
    // Keeping the latest reasons only, the verdict's reasons are read before the next judgement:
    // its outcomes are written over in place rather than made per evaluation.
    if (this.o.keepReasons === 'latest') {
      const outcomes = (this.outcomes ??= this.slos.map((s) => ({ name: s.spec.name, summary: s.summary, weight: s.spec.weight, critical: s.spec.critical, dryRun: s.spec.dryRun })));
      for (let i = 0; i < outcomes.length; i++) outcomes[i]!.summary = this.slos[i]!.summary;
      return stageVerdict(outcomes);
    }
    return stageVerdict(
      this.slos.map((s) => ({ name: s.spec.name, summary: s.summary, weight: s.spec.weight, critical: s.spec.critical, dryRun: s.spec.dryRun })),
    );
  }

  private outcomes: { -readonly [K in keyof SloOutcome]: SloOutcome[K] }[] | undefined;
}

/** One evaluation judged here: its reasons are the judgement's, written when first read. */
class Judged implements StageEvaluation {
  readonly status: Status;
  declare readonly sli?: number;
  declare readonly baseline?: number;
  constructor(
    readonly at: number,
    private judgement: Evaluation | undefined,
    sli: number | undefined,
    baseline: number | undefined,
  ) {
    this.status = judgement!.status;
    // Only the values measured are keys of the record (as in evaluations restored from a store).
    if (sli !== undefined) (this as { sli?: number }).sli = sli;
    if (baseline !== undefined) (this as { baseline?: number }).baseline = baseline;
  }
  get reasons(): readonly Reason[] {
    return this.judgement?.reasons ?? NO_REASONS;
  }
  /** Lets go of the reasons (and the measurements they would be written from). */
  forget(): void {
    this.judgement = undefined;
  }
  toJSON(): StageEvaluation {
    return { at: this.at, status: this.status, reasons: this.reasons, ...(this.sli !== undefined ? { sli: this.sli } : {}), ...(this.baseline !== undefined ? { baseline: this.baseline } : {}) };
  }
}

/** A measured number (partial answers included), for charts. */
function num(m: Measured | undefined): number | undefined {
  if (typeof m === 'number') return m;
  return m && m.kind === 'partial' && m.value !== undefined ? m.value : undefined;
}
