/**
 * What the daemon does between requests: it walks every live rollout through its stages,
 * evaluating the current stage at each interval with the gate's decision code (slo/stage.ts),
 * feeding the verdicts to the rollout state machine (rollout/machine.ts) and carrying out the
 * actions it decides through hooks.
 *
 * Evaluation times lie on a grid (multiples of the interval), so that after a crash the next
 * one is known from the last stored: the times missed while the daemon was down are taken then,
 * in order (PromQL answers for past times as well), up to `catchUpMs` back; older ones are
 * skipped with an event saying so. Each evaluation is stored with the change it causes in one
 * transaction. Actions are an outbox: a pending row is carried out until its outcome is stored;
 * a hook interrupted by a crash is called again with the same idempotency key. A revert is
 * retried until it succeeds, never given up.
 */

import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { ConfigError } from '../config/yaml.js';
import { evaluates, FINAL, step, TransitionError, type ActionIntent, type RolloutEvent, type RolloutStatus } from '../rollout/machine.js';
import { parseRollout, type RolloutPlan } from '../rollout/spec.js';
import type { QueryFn } from '../slo/measure.js';
import { Stage } from '../slo/stage.js';
import type { DaemonClock } from './clock.js';
import { runHook, type ActionRequest, type HookSpec } from './hooks.js';
import type { DaemonMetrics } from './metrics.js';
import type { Change, PendingAction, Store, StoredEvaluation } from './store.js';

/** The structured logger the daemon writes to (pino's shape). */
export interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RunnerOptions {
  readonly store: Store;
  readonly q: QueryFn;
  readonly clock: DaemonClock;
  readonly hooks: ReadonlyMap<string, HookSpec>;
  readonly defaultHooks: { readonly promote?: string; readonly revert?: string };
  /** Evaluations taken at once, across rollouts (default 8). */
  readonly concurrency?: number;
  /** Evaluations missed while down are taken up to this far back (default 1h). */
  readonly catchUpMs?: number;
  /** First delay before a revert whose hook gave up is tried again, doubling up to 5m (default 10s). */
  readonly revertRetryMs?: number;
  readonly log: Log;
  readonly metrics?: DaemonMetrics;
}

/** A rollout being walked: its plan and the stage being judged. */
interface Live {
  readonly id: string;
  readonly plan: RolloutPlan;
  readonly intervalMs: number;
  stageIndex: number;
  stage: Stage;
  busy: boolean;
  /** After an evaluation that could not run at all, not before this time (no busy loop). */
  retryAt: number;
}

const REVERT_RETRY_MAX_MS = 5 * 60_000;

/** The first grid time at or after `t`. */
const alignUp = (t: number, interval: number) => Math.ceil(t / interval) * interval;

/** Walks live rollouts; the API creates them and passes people's requests through it. */
export class Runner {
  private readonly live = new Map<string, Live>();
  private readonly actionsInFlight = new Set<number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly limit: ReturnType<typeof pLimit>;
  /** Stops the loop: nothing new is started. */
  private readonly stopping = new AbortController();
  /** Cuts hooks short, once the grace of a stop is over (their actions stay pending for the next start). */
  private readonly cancel = new AbortController();
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly catchUpMs: number;
  private readonly revertRetryMs: number;
  /** Set once the stored rollouts are loaded: /readyz answers ready from then on. */
  ready = false;

  constructor(private readonly o: RunnerOptions) {
    this.limit = pLimit(o.concurrency ?? 8);
    // Every hook and sleep in flight listens for the stop: many at once is normal here.
    setMaxListeners(0, this.stopping.signal, this.cancel.signal);
    this.catchUpMs = o.catchUpMs ?? 60 * 60_000;
    this.revertRetryMs = o.revertRetryMs ?? 10_000;
  }

  /** Loads the rollouts that have not finished and starts walking them. */
  start(): void {
    for (const r of this.o.store.rollouts(['running', 'paused', 'promoting', 'reverting'])) {
      try {
        this.load(r.id, r.document, r.status);
      } catch (err) {
        // A rollout that cannot be read again (an SLO spec this hmd no longer accepts) is left as
        // it is, loudly: the others go on.
        this.o.log.error({ rollout: r.id, err: (err as Error).message }, 'cannot resume rollout');
      }
    }
    this.ready = true;
    this.o.log.info({ rollouts: this.live.size, clock: this.o.clock.description }, 'runner started');
    this.loop = this.run();
  }

  /** Stops scheduling, lets evaluations and hooks in flight finish (up to `graceMs`), then returns. */
  async stop(graceMs = 30_000): Promise<void> {
    this.ready = false;
    if (!this.stopping.signal.aborted) this.stopping.abort();
    this.wakeUp?.();
    await this.loop;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
    await Promise.race([Promise.allSettled([...this.inFlight]), grace]);
    clearTimeout(timer);
    // Past the grace: hooks still running are cut short, and their outcome is not stored.
    if (this.inFlight.size > 0) {
      this.cancel.abort();
      await Promise.allSettled([...this.inFlight]);
    }
  }

  /** Creates a rollout from its document (request body); returns its id. */
  create(text: string, file: string, by: string): string {
    const plan = parseRollout(text, file, {});
    this.checkHooks(plan, file);
    const at = this.o.clock.now();
    const status: RolloutStatus = { state: 'running', stage: 0, stageStartedAt: at, reason: `baking stage ${plan.stages[0]!.name}` };
    const id = this.o.store.createRollout({ name: plan.name, ...(plan.version !== undefined ? { version: plan.version } : {}), document: text, status, at, by });
    this.load(id, text, status);
    this.o.log.info({ rollout: id, name: plan.name, version: plan.version, stages: plan.stages.length, by }, 'rollout created');
    this.wake();
    return id;
  }

  /** Hooks a plan names must exist in the config (a typo found at create, not at the first revert). */
  private checkHooks(plan: RolloutPlan, file: string): void {
    for (const k of ['promote', 'revert'] as const) {
      const name = plan.hooks[k];
      if (name !== undefined && !this.o.hooks.has(name)) {
        const known = [...this.o.hooks.keys()];
        throw new ConfigError(`spec.hooks.${k}: no hook named ${JSON.stringify(name)} in the daemon's config${known.length ? ` (it has: ${known.join(', ')})` : ' (it has none)'}`, file);
      }
    }
  }

  /** A person's request: pause, resume, promote or abort. Throws TransitionError when refused. */
  request(id: string, kind: 'pause' | 'resume' | 'promote' | 'abort', by: string): RolloutStatus {
    const live = this.live.get(id);
    const row = this.o.store.rollout(id);
    if (!row) throw new NotFoundError(`no rollout ${id}`);
    if (!live) throw new TransitionError(`cannot ${kind} a rollout that is ${row.status.state}${FINAL.includes(row.status.state) ? ' (it has finished)' : ''}`);
    const at = this.o.clock.now();
    const status = this.o.store.tx(() => {
      const cur = this.o.store.rollout(id)!.status;
      const next = step(live.plan, cur, { kind, at, by });
      this.o.store.applyChange(this.change(live, at, next.status, next.actions, next.happened));
      return next.status;
    });
    this.o.log.info({ rollout: id, request: kind, by, state: status.state }, `rollout ${kind}`);
    this.after(live, status);
    this.wake();
    return status;
  }

  /** Wakes the loop (a new rollout, a request, an action decided). */
  wake(): void {
    this.wakeUp?.();
  }

  private load(id: string, document: string, status: RolloutStatus): void {
    const plan = parseRollout(document, `rollout ${id}`, {});
    const intervalMs = Math.min(...plan.slos.map((s) => s.evaluation.intervalMs));
    const live: Live = { id, plan, intervalMs, stageIndex: status.stage, stage: this.stageFor(id, plan, status), busy: false, retryAt: 0 };
    this.live.set(id, live);
  }

  /** The Stage judging a rollout's current stage, with the evaluations stored for it. */
  private stageFor(id: string, plan: RolloutPlan, status: RolloutStatus): Stage {
    const st = plan.stages[status.stage]!;
    const stage = new Stage({ specs: plan.slos, scope: st.scope, baselineScope: st.baseline, startedAt: status.stageStartedAt });
    const stored = this.o.store.evaluations(id, status.stage);
    stage.restore(stored.map((e) => ({ at: e.at, slos: e.slos.map((s) => ({ status: s.status, reasons: s.reasons, ...(s.sli !== undefined ? { sli: s.sli } : {}), ...(s.baseline !== undefined ? { baseline: s.baseline } : {}) })) })));
    return stage;
  }

  /** Keeps the in-memory side in step with a status just stored. */
  private after(live: Live, status: RolloutStatus): void {
    if (!evaluates(status) && status.state !== 'promoting' && status.state !== 'reverting') {
      this.live.delete(live.id);
      return;
    }
    if (status.stage !== live.stageIndex) {
      live.stageIndex = status.stage;
      live.stage = this.stageFor(live.id, live.plan, status);
    }
  }

  private change(live: Live, at: number, status: RolloutStatus, actions: readonly ActionIntent[], happened: Change['happened']): Change {
    const hookOf = (a: ActionIntent) => live.plan.hooks[a.kind] ?? this.o.defaultHooks[a.kind];
    return {
      rolloutId: live.id,
      at,
      status,
      actions: actions.map((a) => {
        const hook = hookOf(a);
        return hook !== undefined ? { ...a, hook } : a;
      }),
      happened,
    };
  }

  /** The loop: start what is due, then sleep until the next thing is. */
  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const now = this.o.clock.now();
      let next = Infinity;
      for (const live of this.live.values()) {
        if (live.busy) continue;
        const status = this.o.store.rollout(live.id)?.status;
        if (!status || !evaluates(status)) continue;
        const due = Math.max(this.nextEvaluation(live, status), live.retryAt);
        if (due <= now) this.track(this.evaluate(live, this.nextEvaluation(live, status)));
        else next = Math.min(next, due);
      }
      for (const a of this.o.store.pendingActions()) {
        if (this.actionsInFlight.has(a.id)) continue;
        if (a.nextAttemptAt <= now) this.track(this.carryOut(a));
        else next = Math.min(next, a.nextAttemptAt);
      }
      // Sleep until the next due time (at most a minute of the clock, to notice anything missed).
      const wait = Math.max(0, Math.min(next - this.o.clock.now(), 60_000));
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        void this.o.clock.sleep(wait, signal).then(resolve);
      });
      this.wakeUp = undefined;
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      this.wake();
    });
  }

  /** The next grid time to evaluate: after the last stored evaluation of the stage, or its first. */
  private nextEvaluation(live: Live, status: RolloutStatus): number {
    const last = this.o.store.lastEvaluationAt(live.id, status.stage);
    return last !== undefined ? last + live.intervalMs : alignUp(status.stageStartedAt, live.intervalMs);
  }

  /** Evaluates a rollout's stage at `due` and stores the result with what it causes. */
  private async evaluate(live: Live, due: number): Promise<void> {
    live.busy = true;
    try {
      await this.limit(async () => {
        let at = due;
        const now = this.o.clock.now();
        // Down for long: take the last catchUpMs of missed evaluations, skip (and say so) the rest.
        if (now - at > this.catchUpMs) {
          const from = alignUp(now - this.catchUpMs, live.intervalMs);
          const skipped = Math.round((from - at) / live.intervalMs);
          this.o.store.addEvent(live.id, now, 'skipped', `skipped ${skipped} evaluations missed while the daemon was down (catch-up reaches ${this.catchUpMs / 60_000}m back)`);
          this.o.log.warn({ rollout: live.id, skipped }, 'evaluations skipped after downtime');
          at = from;
        }
        const t0 = performance.now();
        const stage = live.stage;
        const stageIndex = live.stageIndex;
        const v = await stage.evaluate(at, this.o.q);
        this.o.metrics?.evaluationSeconds.observe((performance.now() - t0) / 1000);
        const slos = stage.slos.map((s) => {
          const e = s.evaluations[s.evaluations.length - 1]!;
          return { name: s.spec.name, status: e.status, reasons: e.reasons, ...(e.sli !== undefined ? { sli: e.sli } : {}), ...(e.baseline !== undefined ? { baseline: e.baseline } : {}) };
        });
        const stored: StoredEvaluation & { rolloutId: string } = { rolloutId: live.id, at, stage: stageIndex, verdict: v.verdict, slos, reasons: v.reasons };
        const result = this.o.store.tx(() => {
          if (!this.o.store.insertEvaluation(stored)) return undefined;
          const cur = this.o.store.rollout(live.id)!.status;
          // The rollout moved on while this evaluation ran (a person promoted or aborted it): kept, not acted on.
          if (cur.stage !== stageIndex || !evaluates(cur)) return cur;
          const event: RolloutEvent = { kind: 'evaluated', at, verdict: v.verdict, head: v.reasons[0] ?? v.verdict };
          const next = step(live.plan, cur, event);
          this.o.store.applyChange(this.change(live, at, next.status, next.actions, next.happened));
          return next.status;
        });
        if (result === undefined) {
          this.o.log.warn({ rollout: live.id, at: new Date(at).toISOString() }, 'evaluation already stored; not taken twice');
          return;
        }
        this.o.metrics?.evaluations.inc({ verdict: v.verdict });
        for (const s of slos) this.o.metrics?.sloResults.inc({ slo: s.name, status: s.status });
        this.o.log.info({ rollout: live.id, stage: live.plan.stages[stageIndex]!.name, at: new Date(at).toISOString(), verdict: v.verdict, state: result.state }, 'evaluated');
        this.after(live, result);
      });
    } catch (err) {
      // Query failures are judged (an SLO in error, never a pass); this is the evaluation itself
      // failing to run. It is tried again an interval later, and says so each time.
      live.retryAt = this.o.clock.now() + live.intervalMs;
      this.o.log.error({ rollout: live.id, err: (err as Error).message }, 'evaluation failed; trying again in an interval');
    } finally {
      live.busy = false;
    }
  }

  /** Carries out a pending action through its hook and stores the outcome with what it causes. */
  private async carryOut(a: PendingAction): Promise<void> {
    this.actionsInFlight.add(a.id);
    try {
      const row = this.o.store.rollout(a.rolloutId);
      const live = this.live.get(a.rolloutId);
      const plan = live?.plan ?? (row ? parseRollout(row.document, `rollout ${a.rolloutId}`, {}) : undefined);
      if (!row || !plan) return;
      // A promote the rollout no longer waits for (it was aborted, or is reverting) is not sent:
      // widening a release that is being reverted is the one thing worse than doing nothing.
      if (a.kind === 'promote' && !(row.status.state === 'promoting' && row.status.stage === a.stage)) {
        const at = this.o.clock.now();
        const error = `cancelled before it was sent: the rollout is ${row.status.state} at stage ${plan.stages[row.status.stage]?.name ?? row.status.stage}`;
        this.o.store.tx(() => {
          this.o.store.finishAction({ id: a.id, at, attempts: 0, outcome: 'failed', error });
          this.o.store.addEvent(a.rolloutId, at, 'action-failed', `promote after stage ${plan.stages[a.stage]?.name ?? a.stage} ${error}`);
        });
        this.o.log.warn({ rollout: a.rolloutId, action: a.kind, key: a.idempotencyKey }, 'promote cancelled');
        return;
      }
      const st = plan.stages[a.stage]!;
      const nx = a.kind === 'promote' ? plan.stages[a.stage + 1] : undefined;
      const req: ActionRequest = {
        idempotencyKey: a.idempotencyKey,
        kind: a.kind,
        rollout: { id: row.id, name: row.name, ...(row.version !== undefined ? { version: row.version } : {}) },
        stage: { index: a.stage, name: st.name, scope: st.scope },
        ...(nx ? { next: { index: a.stage + 1, name: nx.name, scope: nx.scope } } : {}),
        reason: a.reason,
        at: a.createdAt,
      };
      const t0 = performance.now();
      let ok: boolean;
      let error: string | undefined;
      let attempts = 1;
      if (a.hook === undefined) {
        ok = true; // no hook configured: the decision is recorded, and that is all
      } else {
        const hook = this.o.hooks.get(a.hook);
        if (!hook) {
          ok = false;
          error = `no hook named ${JSON.stringify(a.hook)} in the daemon's config`;
        } else {
          const out = await runHook(hook, req, { signal: this.cancel.signal });
          // Stopped mid-call: nothing is stored, and the next start calls the hook again with the same key.
          if (this.cancel.signal.aborted && !out.ok) return;
          ok = out.ok;
          error = out.error;
          attempts = out.attempts;
        }
      }
      const outcome = ok ? 'succeeded' : 'failed';
      this.o.metrics?.actions.inc({ kind: a.kind, outcome });
      this.o.metrics?.actionSeconds.observe({ kind: a.kind, outcome }, (performance.now() - t0) / 1000);
      const at = this.o.clock.now();
      // A revert whose hook gave up waits longer each time (by the attempts made so far), up to 5m.
      const retryAt = at + Math.min(REVERT_RETRY_MAX_MS, this.revertRetryMs * 2 ** Math.min(10, Math.floor(Math.log2(1 + a.attempts))));
      const status = this.o.store.tx(() => {
        this.o.store.finishAction({ id: a.id, at, attempts, outcome: ok ? 'succeeded' : a.kind === 'revert' ? 'retry' : 'failed', ...(ok || a.kind !== 'revert' ? {} : { retryAt }), ...(error !== undefined ? { error } : {}) });
        const cur = this.o.store.rollout(a.rolloutId)!.status;
        const next = step(plan, cur, { kind: 'action-done', at, action: a.kind, stage: a.stage, ok, ...(error !== undefined ? { error } : {}) });
        this.o.store.applyChange(live ? this.change(live, at, next.status, next.actions, next.happened) : { rolloutId: a.rolloutId, at, status: next.status, actions: [], happened: next.happened });
        return next.status;
      });
      this.o.log[ok ? 'info' : 'warn']({ rollout: a.rolloutId, action: a.kind, stage: st.name, key: a.idempotencyKey, hook: a.hook, ok, attempts, ...(error ? { error } : {}), state: status.state }, `action ${a.kind} ${outcome}`);
      if (live) this.after(live, status);
    } catch (err) {
      this.o.log.error({ rollout: a.rolloutId, action: a.kind, err: (err as Error).message }, 'action failed to run');
    } finally {
      this.actionsInFlight.delete(a.id);
    }
  }
}

/** A request for a rollout that does not exist. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}
