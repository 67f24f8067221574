/** The rollout state machine (src/rollout/machine.ts): every transition, pure. */

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluates, initialStatus, step, TransitionError, type RolloutStatus, type Step } from '../../src/rollout/machine.js';

const M = 60_000;
const PLAN = {
  stages: [
    { name: 'canary', bakeMs: 30 * M },
    { name: 'tier', bakeMs: 60 * M },
  ],
  maxPauseMs: 20 * M,
};
const T0 = Date.UTC(2025, 5, 13, 9, 0);

const at = (min: number) => T0 + min * M;
const evaluated = (min: number, verdict: 'continue' | 'pause' | 'revert', head = `${verdict}: why`) => ({ kind: 'evaluated' as const, at: at(min), verdict, head });
const kinds = (s: Step) => s.happened.map((h) => h.kind);

/** Runs events from a status; returns every step. */
function run(s: RolloutStatus, ...events: Parameters<typeof step>[2][]): Step[] {
  const out: Step[] = [];
  for (const e of events) {
    const r = step(PLAN, s, e);
    out.push(r);
    s = r.status;
  }
  return out;
}

test('a new rollout bakes its first stage from its creation', () => {
  const s = initialStatus(PLAN, at(0));
  assert.equal({ state: s.state, stage: s.stage, stageStartedAt: s.stageStartedAt }, { state: 'running', stage: 0, stageStartedAt: at(0) });
  assert.ok(evaluates(s));
});

test('continue before the end of the bake keeps baking; at the end it promotes; the hook done starts the next stage', () => {
  const steps = run(initialStatus(PLAN, at(0)), evaluated(10, 'continue'), evaluated(29, 'continue'), evaluated(30, 'continue'), { kind: 'action-done', at: at(31), action: 'promote', stage: 0, ok: true });
  assert.is(steps[0]!.status.state, 'running');
  assert.match(steps[0]!.status.reason, /baking stage canary: 10m of 30m/);
  assert.is(steps[1]!.actions.length, 0, 'not promoted a minute early');
  assert.is(steps[2]!.status.state, 'promoting');
  assert.equal(steps[2]!.actions, [{ kind: 'promote', stage: 0, reason: 'stage canary baked 30m and every SLO passes' }]);
  const next = steps[3]!.status;
  assert.equal({ state: next.state, stage: next.stage, stageStartedAt: next.stageStartedAt }, { state: 'running', stage: 1, stageStartedAt: at(31) });
  assert.equal(kinds(steps[3]!), ['action-succeeded', 'stage-started']);
});

test('the last stage promoted completes the rollout', () => {
  const s: RolloutStatus = { state: 'running', stage: 1, stageStartedAt: at(0), reason: '' };
  const [a, b] = run(s, evaluated(60, 'continue'), { kind: 'action-done', at: at(61), action: 'promote', stage: 1, ok: true });
  assert.equal(a!.actions.map((x) => x.kind), ['promote']);
  assert.is(b!.status.state, 'completed');
  assert.equal(kinds(b!), ['action-succeeded', 'completed']);
});

test('a revert verdict reverts at once, during the bake or a person\'s pause, and ends reverted when the hook is done', () => {
  const [r] = run(initialStatus(PLAN, at(0)), evaluated(3, 'revert', 'revert: critical SLO x failed'));
  assert.is(r!.status.state, 'reverting');
  assert.equal(r!.actions, [{ kind: 'revert', stage: 0, reason: 'stage canary: revert: critical SLO x failed' }]);
  const paused: RolloutStatus = { state: 'paused', stage: 0, stageStartedAt: at(0), reason: 'paused by x' };
  const [p, done] = run(paused, evaluated(5, 'revert'), { kind: 'action-done', at: at(6), action: 'revert', stage: 0, ok: true });
  assert.is(p!.status.state, 'reverting', 'a pause keeps watching');
  assert.is(done!.status.state, 'reverted');
  assert.is(done!.status.reason, 'reverted at stage canary: revert: why', 'says where and why, once each');
  assert.is(p!.status.reason, 'reverting stage canary: revert: why');
  // Pause verdicts do not move a paused rollout.
  assert.is(step(PLAN, paused, evaluated(5, 'pause')).status.state, 'paused');
  assert.is(step(PLAN, paused, evaluated(40, 'continue')).status.state, 'paused', 'no promotion while paused');
});

test('a failed revert stays reverting (it is retried), a failed promote pauses for a person', () => {
  const reverting: RolloutStatus = { state: 'reverting', stage: 0, stageStartedAt: at(0), reason: 'r' };
  const r = step(PLAN, reverting, { kind: 'action-done', at: at(5), action: 'revert', stage: 0, ok: false, error: 'HTTP 503' });
  assert.is(r.status.state, 'reverting');
  assert.equal(kinds(r), ['action-failed']);
  const promoting: RolloutStatus = { state: 'promoting', stage: 0, stageStartedAt: at(0), reason: 'p' };
  const p = step(PLAN, promoting, { kind: 'action-done', at: at(31), action: 'promote', stage: 0, ok: false, error: 'exit 1' });
  assert.is(p.status.state, 'paused');
  assert.match(p.status.reason, /promote hook failed at stage canary: exit 1; resume or promote to try again, or abort/);
  // Promote again from there: the same action is decided again.
  assert.equal(step(PLAN, p.status, { kind: 'promote', at: at(40), by: 'ana' }).actions.map((a) => [a.kind, a.stage]), [['promote', 0]]);
});

test('held at the end of the bake up to maxPause, then paused for a person; resume counts the hold again', () => {
  const steps = run(initialStatus(PLAN, at(0)), evaluated(30, 'pause', 'pause: x no-data'), evaluated(40, 'pause'), evaluated(49, 'pause'), evaluated(50, 'pause'));
  assert.equal(steps.map((s) => s.status.state), ['running', 'running', 'running', 'paused']);
  assert.equal(kinds(steps[0]!), ['held'], 'the hold is told once');
  assert.equal(kinds(steps[1]!), []);
  assert.is(steps[2]!.status.holdingSince, at(30));
  assert.match(steps[3]!.status.reason, /held past maxPause 20m at the end of stage canary/);
  const resumed = step(PLAN, steps[3]!.status, { kind: 'resume', at: at(55), by: 'ana' });
  assert.is(resumed.status.state, 'running');
  assert.is(resumed.status.holdingSince, undefined);
  assert.equal(resumed.happened, [{ kind: 'resumed', message: 'resumed at stage canary', by: 'ana' }]);
  // A continue after the hold promotes.
  assert.is(step(PLAN, resumed.status, evaluated(56, 'continue')).status.state, 'promoting');
});

test('people: pause, promote early, abort (reverts, ends aborted); requests the state does not allow are refused', () => {
  const s = initialStatus(PLAN, at(0));
  const paused = step(PLAN, s, { kind: 'pause', at: at(1), by: 'ana' });
  assert.is(paused.status.state, 'paused');
  assert.throws(() => step(PLAN, paused.status, { kind: 'pause', at: at(2), by: 'ana' }), (e: unknown) => e instanceof TransitionError && /cannot pause a rollout that is paused/.test(e.message));
  assert.throws(() => step(PLAN, s, { kind: 'resume', at: at(2), by: 'ana' }), /cannot resume a rollout that is running/);
  const early = step(PLAN, s, { kind: 'promote', at: at(5), by: 'bo' });
  assert.equal(early.actions, [{ kind: 'promote', stage: 0, reason: 'stage canary promoted by bo' }]);
  assert.equal(early.happened[0]!.by, 'bo');
  const aborted = run(s, { kind: 'abort', at: at(7), by: 'cy' }, { kind: 'action-done', at: at(8), action: 'revert', stage: 0, ok: true });
  assert.is(aborted[0]!.status.state, 'reverting');
  assert.equal(aborted[0]!.actions.map((a) => a.kind), ['revert']);
  assert.is(aborted[1]!.status.state, 'aborted');
  assert.is(aborted[1]!.status.reason, 'aborted and reverted at stage canary (aborted by cy)');
  for (const final of ['completed', 'reverted', 'aborted'] as const) {
    const f: RolloutStatus = { state: final, stage: 0, stageStartedAt: at(0), reason: '' };
    for (const k of ['pause', 'resume', 'promote', 'abort'] as const) assert.throws(() => step(PLAN, f, { kind: k, at: at(9), by: 'x' }), /has finished/);
    assert.not.ok(evaluates(f));
    assert.equal(step(PLAN, f, evaluated(9, 'revert')).actions, [], 'a finished rollout decides nothing');
  }
  assert.throws(() => step(PLAN, { state: 'reverting', stage: 0, stageStartedAt: at(0), reason: '' }, { kind: 'abort', at: at(9), by: 'x' }), /cannot abort a rollout that is reverting/);
});

test('an outcome the rollout no longer waits for changes nothing', () => {
  const s: RolloutStatus = { state: 'reverting', stage: 0, stageStartedAt: at(0), aborting: true, reason: '' };
  const late = step(PLAN, s, { kind: 'action-done', at: at(9), action: 'promote', stage: 0, ok: true });
  assert.equal(late.status, s);
  assert.equal(late.actions, []);
  assert.match(late.happened[0]!.message, /finished after the rollout moved on/);
});

test.run();
