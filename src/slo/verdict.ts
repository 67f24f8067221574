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

/** The state of one SLO's evaluations since `startedAt`, at `now`. */
export function summarizeRun(limits: RunLimits, evals: readonly TimedEvaluation[], startedAt: number, now: number): RunSummary {
  // Walked from the end, without copying: a long bake summarises after every evaluation.
  const from = startedAt + limits.initialDelayMs;
  const counts = (e: TimedEvaluation) => e.at >= from && e.at <= now;
  let end = evals.length - 1;
  while (end >= 0 && !counts(evals[end]!)) end--;
  if (end < 0) {
    const left = from - now;
    return { status: 'pending', message: left > 0 ? `initial delay: first counted evaluation in ${Math.ceil(left / 1000)}s` : 'no evaluation yet', reasons: [] };
  }
  const last = evals[end]!;
  // The run of the latest status: how many counted evaluations in a row ended that way.
  let streak = 0;
  for (let i = end; i >= 0 && counts(evals[i]!) && evals[i]!.status === last.status; i--) streak++;
  const over = (limit: number) => streak > limit;
  switch (last.status) {
    case 'fail':
      return over(limits.failureLimit)
        ? { status: 'fail', message: `${streak} consecutive failure(s), more than the ${limits.failureLimit} tolerated`, reasons: last.reasons }
        : { status: 'inconclusive', message: `failure ${streak} of ${limits.failureLimit + 1} needed to decide`, reasons: last.reasons };
    case 'error':
      return over(limits.errorLimit)
        ? { status: 'error', message: `${streak} consecutive error(s), more than the ${limits.errorLimit} tolerated`, reasons: last.reasons }
        : { status: 'inconclusive', message: `error ${streak} of ${limits.errorLimit + 1} tolerated`, reasons: last.reasons };
    case 'no-data':
      return {
        status: 'inconclusive',
        message: over(limits.inconclusiveLimit) ? `${streak} consecutive evaluation(s) without data, more than the ${limits.inconclusiveLimit} tolerated` : `no data (${streak} in a row)`,
        reasons: last.reasons,
      };
    default:
      return { status: 'pass', message: last.status === 'warn' ? 'passing with warnings' : 'passing', reasons: last.reasons };
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
  const counted = outcomes.filter((o) => !o.dryRun);
  const line = (o: SloOutcome) => `${o.dryRun ? '[dry-run] ' : ''}${o.name}: ${o.summary.status} (${o.summary.message})${o.summary.reasons.length ? ': ' + o.summary.reasons.filter((r) => r.status !== 'pass').map((r) => r.message).join('; ') : ''}`;
  if (counted.length === 0) return { verdict: 'pause', reasons: ['no SLO counts towards the decision (all dry-run or none given)', ...outcomes.map(line)] };
  const total = counted.reduce((a, o) => a + (o.weight ?? 1), 0);
  const failing = counted.filter((o) => o.summary.status === 'fail');
  const failWeight = failing.reduce((a, o) => a + (o.weight ?? 1), 0);
  const order = (v: Verdict, deciding: readonly SloOutcome[], head: string): StageVerdict => ({
    verdict: v,
    reasons: [head, ...deciding.map(line), ...outcomes.filter((o) => !deciding.includes(o)).map(line)],
  });
  const critical = failing.filter((o) => o.critical);
  if (critical.length > 0) return order('revert', critical, `revert: critical SLO ${critical.map((o) => o.name).join(', ')} failed`);
  if (total > 0 && failWeight / total >= revertWeight) {
    return order('revert', failing, `revert: failing SLOs carry ${Math.round((failWeight / total) * 100)}% of the weight (>= ${Math.round(revertWeight * 100)}%)`);
  }
  const unsure = counted.filter((o) => o.summary.status !== 'pass');
  if (unsure.length > 0) return order('pause', unsure, `pause: ${unsure.map((o) => `${o.name} ${o.summary.status}`).join(', ')}`);
  return order('continue', [], 'continue: every SLO passes');
}
