/**
 * What the daemon's HTTP API answers (JSON), and what its status page and `hmd rollout` read:
 * one contract for the three. Times are ms since the epoch in code and RFC3339 strings in JSON
 * (see `toJson` in api.ts); durations are ms.
 */

import type { SloInfo } from '../slo/info.js';
import type { Status } from '../slo/judge.js';
import type { Verdict } from '../slo/verdict.js';

/**
 * A rollout's state (src/rollout/machine.ts):
 * - running: a stage is baking (evaluated at every interval) or holding at its end;
 * - paused: a person paused it, or it held past maxPause, or a promote hook failed: it waits
 *   for resume, promote or abort (its SLOs are still evaluated, and a revert verdict still reverts);
 * - promoting / reverting: an action is being carried out by its hook;
 * - completed, reverted, aborted: finished (aborted: reverted on a person's request).
 */
export type { RolloutState } from '../rollout/machine.js';
export { FINAL as FINAL_STATES } from '../rollout/machine.js';
import type { RolloutState } from '../rollout/machine.js';

/** A stage's state: not reached yet, baking, done (promoted), or where the release was reverted. */
export type StageState = 'pending' | 'baking' | 'promoted' | 'reverted';

export interface StageView {
  readonly index: number;
  readonly name: string;
  /** Matchers of the machines running the new code at this stage, e.g. `datacenter=dc2,tier=tier3`. */
  readonly scope: string;
  /** Matchers of the same fleet on the old code, for comparisons. */
  readonly baseline?: string;
  readonly bakeMs: number;
  readonly state: StageState;
  readonly startedAt?: number;
  readonly endedAt?: number;
}

/** One evaluation of one SLO at one time. */
export interface SloEvaluationView {
  readonly name: string;
  readonly status: Status;
  readonly sli?: number;
  readonly baseline?: number;
}

/** One evaluation of a stage: every SLO at one time, and the verdict they gave. */
export interface EvaluationView {
  readonly at: number;
  /** Index of the stage evaluated. */
  readonly stage: number;
  readonly verdict: Verdict;
  readonly slos: readonly SloEvaluationView[];
  /** The verdict's reasons: a head line, then one line per SLO. */
  readonly reasons: readonly string[];
}

export type { ActionKind } from '../rollout/machine.js';
import type { ActionKind } from '../rollout/machine.js';
export type ActionState = 'pending' | 'succeeded' | 'failed';

/** A promote or revert, carried out by a hook. */
export interface ActionView {
  readonly id: number;
  readonly kind: ActionKind;
  /** The stage it concerns: for promote, the stage whose bake passed; for revert, the stage reverted. */
  readonly stage: number;
  /** Sent with every attempt (Idempotency-Key header, HMD_IDEMPOTENCY_KEY): `<rollout id>/<stage>/<kind>`. */
  readonly idempotencyKey: string;
  /** The hook's name in hmd.yaml, or undefined when none is configured (the action is only recorded). */
  readonly hook?: string;
  readonly state: ActionState;
  readonly attempts: number;
  readonly reason: string;
  readonly createdAt: number;
  readonly finishedAt?: number;
  /** The last attempt's error, when it failed. */
  readonly error?: string;
}

/** Something that happened to a rollout, for the audit trail. */
export interface EventView {
  readonly at: number;
  readonly kind: 'created' | 'stage-started' | 'paused' | 'resumed' | 'held' | 'skipped' | 'promote' | 'revert' | 'abort' | 'action-succeeded' | 'action-failed' | 'completed' | 'reverted' | 'aborted';
  readonly message: string;
  /** Who asked, for people's requests (the API client's name). */
  readonly by?: string;
}

/** A rollout in a list. */
export interface RolloutSummary {
  readonly id: string;
  readonly name: string;
  readonly version?: string;
  readonly state: RolloutState;
  /** The current stage (the last one reached). */
  readonly stage: { readonly index: number; readonly name: string };
  /** Why it is in its state, in a sentence (e.g. "held past maxPause 1h: latency-p99 no-data"). */
  readonly reason: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A rollout with its plan, SLOs and whole history. */
export interface RolloutDetail extends RolloutSummary {
  readonly stages: readonly StageView[];
  readonly slos: readonly SloInfo[];
  /** Evaluation interval (the smallest of the SLOs'). */
  readonly intervalMs: number;
  /** How long a stage may hold at the end of its bake before the rollout pauses for a person. */
  readonly maxPauseMs: number;
  readonly evaluations: readonly EvaluationView[];
  readonly actions: readonly ActionView[];
  readonly events: readonly EventView[];
}
