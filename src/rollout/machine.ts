/**
 * The rollout state machine, pure: (status, event) → (next status, actions to carry out, what
 * happened). The daemon stores the status, feeds it evaluations, people's requests and hook
 * outcomes one at a time in a transaction, and carries out the actions through hooks; nothing
 * here reads a clock or does I/O, so every path is a unit test.
 *
 *   running ──(revert verdict, abort)──────────► reverting ──(hook ok)──► reverted | aborted
 *      │  ▲                                          ▲
 *      │  └─(resume)── paused ◄─(pause, held past maxPause, promote hook failed)
 *      │                  │ (revert verdict, abort)──┘
 *      └─(bake passed with continue, promote)──► promoting ──(hook ok)──► running next stage | completed
 */

import type { Verdict } from '../slo/verdict.js';
import { ms } from '../util/duration.js';
import type { RolloutStage } from './spec.js';

export type RolloutState = 'running' | 'paused' | 'promoting' | 'reverting' | 'completed' | 'reverted' | 'aborted';

/** Where a rollout is: its state, its stage, and why. */
export interface RolloutStatus {
  readonly state: RolloutState;
  /** Index of the current stage. */
  readonly stage: number;
  /** When the current stage started (its bake counts from here), ms. */
  readonly stageStartedAt: number;
  /** Since when the stage has been held at the end of its bake (its verdict not continue), ms. */
  readonly holdingSince?: number;
  /** A revert asked for by a person ends as aborted, not reverted. */
  readonly aborting?: boolean;
  /** Why it is in its state, in a sentence. */
  readonly reason: string;
}

export type ActionKind = 'promote' | 'revert';

/** An action to carry out: promote (widen past `stage`) or revert (`stage` is where it was). */
export interface ActionIntent {
  readonly kind: ActionKind;
  readonly stage: number;
  readonly reason: string;
}

export type RolloutEvent =
  | { readonly kind: 'evaluated'; readonly at: number; readonly verdict: Verdict; readonly head: string }
  | { readonly kind: 'pause' | 'resume' | 'promote' | 'abort'; readonly at: number; readonly by: string }
  | { readonly kind: 'action-done'; readonly at: number; readonly action: ActionKind; readonly stage: number; readonly ok: boolean; readonly error?: string };

/** What happened, for the rollout's audit trail. */
export interface Happening {
  readonly kind: 'stage-started' | 'paused' | 'resumed' | 'held' | 'skipped' | 'promote' | 'revert' | 'abort' | 'action-succeeded' | 'action-failed' | 'completed' | 'reverted' | 'aborted';
  readonly message: string;
  readonly by?: string;
}

export interface Step {
  readonly status: RolloutStatus;
  readonly actions: readonly ActionIntent[];
  readonly happened: readonly Happening[];
}

/** What the machine needs to know of the plan. */
export interface MachinePlan {
  readonly stages: readonly Pick<RolloutStage, 'name' | 'bakeMs'>[];
  readonly maxPauseMs: number;
}

/** A refused request: a person asked for something the rollout's state does not allow. */
export class TransitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransitionError';
  }
}

export const FINAL: readonly RolloutState[] = ['completed', 'reverted', 'aborted'];

/** The status of a rollout just created: its first stage baking from `at`. */
export function initialStatus(plan: MachinePlan, at: number): RolloutStatus {
  return { state: 'running', stage: 0, stageStartedAt: at, reason: `baking stage ${plan.stages[0]!.name} for ${ms(plan.stages[0]!.bakeMs)}` };
}

/** Whether a rollout in this state is evaluated (a person's pause keeps watching: a revert verdict still reverts). */
export function evaluates(s: RolloutStatus): boolean {
  return s.state === 'running' || s.state === 'paused';
}

/** The next status after `e`; throws TransitionError for a request the state does not allow. */
export function step(plan: MachinePlan, s: RolloutStatus, e: RolloutEvent): Step {
  const stage = plan.stages[s.stage]!;
  const name = stage.name;
  const none = (status: RolloutStatus = s, happened: Happening[] = []): Step => ({ status, actions: [], happened });
  // `why` is the verdict's head line, or who aborted: the status says where, the action and event too.
  const revert = (why: string, aborting: boolean, by?: string): Step => ({
    status: { state: 'reverting', stage: s.stage, stageStartedAt: s.stageStartedAt, ...(aborting ? { aborting } : {}), reason: `reverting stage ${name}: ${why}` },
    actions: [{ kind: 'revert', stage: s.stage, reason: `stage ${name}: ${why}` }],
    happened: [{ kind: aborting ? 'abort' : 'revert', message: `stage ${name}: ${why}`, ...(by !== undefined ? { by } : {}) }],
  });
  const promote = (reason: string, by?: string): Step => ({
    status: { state: 'promoting', stage: s.stage, stageStartedAt: s.stageStartedAt, reason },
    actions: [{ kind: 'promote', stage: s.stage, reason }],
    happened: [{ kind: 'promote', message: reason, ...(by !== undefined ? { by } : {}) }],
  });
  const refuse = (what: string): never => {
    throw new TransitionError(`cannot ${what} a rollout that is ${s.state}${FINAL.includes(s.state) ? ' (it has finished)' : ''}`);
  };

  switch (e.kind) {
    case 'evaluated': {
      if (!evaluates(s)) return none();
      if (e.verdict === 'revert') return revert(e.head, false);
      if (s.state === 'paused') return none();
      const bakeEnd = s.stageStartedAt + stage.bakeMs;
      if (e.at < bakeEnd) return none({ ...s, reason: `baking stage ${name}: ${ms(e.at - s.stageStartedAt)} of ${ms(stage.bakeMs)}; ${e.head}` });
      if (e.verdict === 'continue') return promote(`stage ${name} baked ${ms(stage.bakeMs)} and every SLO passes`);
      // Held at the end of the bake: wait for a clear verdict, up to maxPause.
      const since = s.holdingSince ?? e.at;
      if (e.at - since >= plan.maxPauseMs) {
        const reason = `held past maxPause ${ms(plan.maxPauseMs)} at the end of stage ${name}: ${e.head}; resume, promote or abort`;
        return none({ state: 'paused', stage: s.stage, stageStartedAt: s.stageStartedAt, reason }, [{ kind: 'paused', message: reason }]);
      }
      const reason = `holding at the end of stage ${name} for ${ms(e.at - since)} (up to ${ms(plan.maxPauseMs)}): ${e.head}`;
      const held: Happening[] = s.holdingSince === undefined ? [{ kind: 'held', message: reason }] : [];
      return none({ state: 'running', stage: s.stage, stageStartedAt: s.stageStartedAt, holdingSince: since, reason }, held);
    }
    case 'pause':
      if (s.state !== 'running') refuse('pause');
      return none({ ...s, state: 'paused', reason: `paused by ${e.by}` }, [{ kind: 'paused', message: `paused at stage ${name}`, by: e.by }]);
    case 'resume': {
      if (s.state !== 'paused') refuse('resume');
      // A hold counts again from here: resuming is a person saying "wait a little longer".
      const { holdingSince: _, ...rest } = s;
      return none({ ...rest, state: 'running', reason: `resumed by ${e.by}; baking stage ${name}` }, [{ kind: 'resumed', message: `resumed at stage ${name}`, by: e.by }]);
    }
    case 'promote':
      if (s.state !== 'running' && s.state !== 'paused') refuse('promote');
      return promote(`stage ${name} promoted by ${e.by}`, e.by);
    case 'abort':
      if (FINAL.includes(s.state) || s.state === 'reverting') refuse('abort');
      return revert(`aborted by ${e.by}`, true, e.by);
    case 'action-done': {
      if (e.action === 'promote' && s.state === 'promoting' && e.stage === s.stage) {
        if (!e.ok) {
          const reason = `the promote hook failed at stage ${name}: ${e.error ?? 'unknown error'}; resume or promote to try again, or abort`;
          return none({ state: 'paused', stage: s.stage, stageStartedAt: s.stageStartedAt, reason }, [{ kind: 'action-failed', message: reason }]);
        }
        if (s.stage === plan.stages.length - 1) {
          const reason = `every stage passed; the release is complete`;
          return none({ state: 'completed', stage: s.stage, stageStartedAt: s.stageStartedAt, reason }, [
            { kind: 'action-succeeded', message: `promote after stage ${name} done` },
            { kind: 'completed', message: reason },
          ]);
        }
        const next = plan.stages[s.stage + 1]!;
        return none({ state: 'running', stage: s.stage + 1, stageStartedAt: e.at, reason: `baking stage ${next.name} for ${ms(next.bakeMs)}` }, [
          { kind: 'action-succeeded', message: `promote after stage ${name} done` },
          { kind: 'stage-started', message: `stage ${next.name} started` },
        ]);
      }
      if (e.action === 'revert' && s.state === 'reverting' && e.stage === s.stage) {
        // A revert is retried until it succeeds (the daemon never gives one up), so only success ends it.
        if (!e.ok) return none(s, [{ kind: 'action-failed', message: `the revert hook failed at stage ${name} (retrying): ${e.error ?? 'unknown error'}` }]);
        const final: RolloutState = s.aborting ? 'aborted' : 'reverted';
        const why = s.reason.startsWith(`reverting stage ${name}: `) ? s.reason.slice(`reverting stage ${name}: `.length) : s.reason;
        const reason = s.aborting ? `aborted and reverted at stage ${name} (${why})` : `reverted at stage ${name}: ${why}`;
        return none({ state: final, stage: s.stage, stageStartedAt: s.stageStartedAt, reason }, [
          { kind: 'action-succeeded', message: `revert at stage ${name} done` },
          { kind: final, message: reason },
        ]);
      }
      // An outcome of an action the rollout no longer waits for (e.g. a promote finishing after an abort).
      return none(s, [{ kind: e.ok ? 'action-succeeded' : 'action-failed', message: `${e.action} at stage ${plan.stages[e.stage]?.name ?? e.stage} finished after the rollout moved on` }]);
    }
  }
}
