/**
 * From evaluations to a stage verdict, pure: across the evaluations of one SLO (an initial
 * delay, limits on consecutive failures, inconclusive results and errors, as argo-rollouts'
 * analysis runs have), then across SLOs (weights, critical SLOs, dry runs) to continue, pause or
 * revert, with every contributing reason.
 */

import type { Reason, Status } from './judge.js';

/** One evaluation of one SLO. */
export interface TimedEvaluation {
  readonly at: number;
  readonly status: Status;
  readonly reasons: readonly Reason[];
}

export interface RunLimits {
  /** Evaluations before this long after the start are not counted (metrics settle after a deploy), ms. */
  readonly initialDelayMs: number;
  /** Consecutive failures tolerated; one more decides fail (0: the first failure decides). */
  readonly failureLimit: number;
  /** Consecutive no-data results tolerated before the run is inconclusive. */
  readonly inconclusiveLimit: number;
  /** Consecutive errors tolerated before the run errs. */
  readonly errorLimit: number;
}

export const DEFAULT_RUN_LIMITS: RunLimits = { initialDelayMs: 0, failureLimit: 0, inconclusiveLimit: 0, errorLimit: 0 };

export type RunStatus = 'pass' | 'fail' | 'inconclusive' | 'error' | 'pending';

export interface RunSummary {
  readonly status: RunStatus;
  readonly message: string;
  /** The reasons of the evaluation that decided it (the latest counted one). */
  readonly reasons: readonly Reason[];
}

/**
 * A run's state, its reasons read from the evaluation that decided it when asked for (a
 * backtest summarises after every evaluation and reads the reasons of a few).
 */
class Summary implements RunSummary {
  constructor(
    readonly status: RunStatus,
    readonly message: string,
    private readonly decidedBy: TimedEvaluation | undefined,
  ) {}
  get reasons(): readonly Reason[] {
    return this.decidedBy?.reasons ?? NO_REASONS;
  }
  toJSON(): RunSummary {
    return { status: this.status, message: this.message, reasons: this.reasons };
  }
}

const NO_REASONS: readonly Reason[] = Object.freeze([]);

/** The state of one SLO's evaluations since `startedAt`, at `now`. */
export function summarizeRun(limits: RunLimits, evals: readonly TimedEvaluation[], startedAt: number, now: number): RunSummary {
  // Walked from the end, without copying: a long bake summarises after every evaluation.
  const from = startedAt + limits.initialDelayMs;
  const counts = (e: TimedEvaluation) => e.at >= from && e.at <= now;
  let end = evals.length - 1;
  while (end >= 0 && !counts(evals[end]!)) end--;
  if (end < 0) {
    const left = from - now;
    return new Summary('pending', left > 0 ? `initial delay: first counted evaluation in ${Math.ceil(left / 1000)}s` : 'no evaluation yet', undefined);
  }
  const last = evals[end]!;
  if (last.status === 'pass' || last.status === 'warn') return new Summary('pass', last.status === 'warn' ? 'passing with warnings' : 'passing', last);
  // The run of the latest status: how many counted evaluations in a row ended that way (walked
  // only for the statuses whose limits count it: a long passing bake would make this quadratic).
  let streak = 0;
  for (let i = end; i >= 0 && counts(evals[i]!) && evals[i]!.status === last.status; i--) streak++;
  const over = (limit: number) => streak > limit;
  switch (last.status) {
    case 'fail':
      return over(limits.failureLimit)
        ? new Summary('fail', `${streak} consecutive failure(s), more than the ${limits.failureLimit} tolerated`, last)
        : new Summary('inconclusive', `failure ${streak} of ${limits.failureLimit + 1} needed to decide`, last);
    case 'error':
      return over(limits.errorLimit)
        ? new Summary('error', `${streak} consecutive error(s), more than the ${limits.errorLimit} tolerated`, last)
        : new Summary('inconclusive', `error ${streak} of ${limits.errorLimit + 1} tolerated`, last);
    case 'no-data':
      return new Summary(
        'inconclusive',
        over(limits.inconclusiveLimit) ? `${streak} consecutive evaluation(s) without data, more than the ${limits.inconclusiveLimit} tolerated` : `no data (${streak} in a row)`,
        last,
      );
  }
}

/** One SLO's part in a stage verdict. */
export interface SloOutcome {
  readonly name: string;
  readonly summary: RunSummary;
  /** Share in the weighted decision (default 1). */
  readonly weight?: number;
  /** A critical SLO that fails reverts on its own. */
  readonly critical?: boolean;
  /** Reported, never counted. */
  readonly dryRun?: boolean;
}

export type Verdict = 'continue' | 'pause' | 'revert';

export interface StageVerdict {
  readonly verdict: Verdict;
  /** One line per SLO, the deciding ones first. */
  readonly reasons: readonly string[];
}

/**
 * The stage verdict: revert when a critical SLO fails or failing SLOs carry at least
 * `revertWeight` of the weight; pause while anything fails below that, errs, lacks data or is
 * pending (never continue on an unknown); continue when every counted SLO passes.
 */
export function stageVerdict(outcomes: readonly SloOutcome[], revertWeight = 0.5): StageVerdict {
  // One pass for the weights; the lists of deciding SLOs are made only for the verdict they name
  // (a healthy stage continues at nearly every evaluation of a backtest).
  let counted = 0;
  let total = 0;
  let failWeight = 0;
  let critical = false;
  let unsure = false;
  for (const o of outcomes) {
    if (o.dryRun) continue;
    counted++;
    const w = o.weight ?? 1;
    total += w;
    const st = o.summary.status;
    if (st !== 'pass') unsure = true;
    if (st === 'fail') {
      failWeight += w;
      if (o.critical) critical = true;
    }
  }
  if (counted === 0) return new Decided('pause', outcomes, [], 'no SLO counts towards the decision (all dry-run or none given)');
  const deciding = (f: (o: SloOutcome) => boolean) => outcomes.filter((o) => !o.dryRun && f(o));
  if (critical) {
    const c = deciding((o) => o.summary.status === 'fail' && Boolean(o.critical));
    return new Decided('revert', outcomes, c, `revert: critical SLO ${c.map((o) => o.name).join(', ')} failed`);
  }
  if (total > 0 && failWeight / total >= revertWeight) {
    return new Decided('revert', outcomes, deciding((o) => o.summary.status === 'fail'), `revert: failing SLOs carry ${Math.round((failWeight / total) * 100)}% of the weight (>= ${Math.round(revertWeight * 100)}%)`);
  }
  if (unsure) {
    const u = deciding((o) => o.summary.status !== 'pass');
    return new Decided('pause', outcomes, u, `pause: ${u.map((o) => `${o.name} ${o.summary.status}`).join(', ')}`);
  }
  return new Decided('continue', outcomes, NONE, 'continue: every SLO passes');
}

const NONE: readonly SloOutcome[] = [];

/** One SLO's line in a verdict's reasons. */
function line(o: SloOutcome): string {
  const why = o.summary.reasons.length
    ? ': ' +
      o.summary.reasons
        .filter((r) => r.status !== 'pass')
        .map((r) => r.message)
        .join('; ')
    : '';
  return `${o.dryRun ? '[dry-run] ' : ''}${o.name}: ${o.summary.status} (${o.summary.message})${why}`;
}

/**
 * A verdict whose reason lines are written when first read: a backtest decides at every
 * evaluation and reads the reasons of a few. The head line is made with the decision.
 */
class Decided implements StageVerdict {
  private lines: readonly string[] | undefined;
  constructor(
    readonly verdict: Verdict,
    private readonly outcomes: readonly SloOutcome[],
    private readonly deciding: readonly SloOutcome[],
    private readonly head: string,
  ) {}
  /** The head, then the deciding SLOs' lines, then the others'. */
  get reasons(): readonly string[] {
    return (this.lines ??= [this.head, ...this.deciding.map(line), ...this.outcomes.filter((o) => !this.deciding.includes(o)).map(line)]);
  }
  toJSON(): StageVerdict {
    return { verdict: this.verdict, reasons: this.reasons };
  }
}
