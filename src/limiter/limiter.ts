/**
 * The adaptive priority limiter every outgoing query passes: an AIMD congestion window shared by
 * priority classes, a queue per class with a bound and a deadline, a minimum request rate, full
 * jitter on batch admission, and retries under a budget.
 *
 * Admission order when the window has room: first any class below its guaranteed share
 * (`minShare` of the window: batch keeps flowing under interactive load), then classes in priority
 * order, each up to its `maxShare` (batch leaves headroom so that an interactive request arriving
 * during a batch flood starts at once instead of waiting for batch requests to finish). When the
 * window is full, a minimum rate still admits one request every 1/minRatePerSec seconds: the
 * window can shrink to its minimum, but traffic never stops, and those requests probe recovery.
 *
 * Outcomes: `overload` (429, 5xx, timeouts, connection errors) shrinks the window; `neutral`
 * (a bad query: Prometheus's 400/422) says nothing about the backend; `success` grows it.
 */

import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { LimiterMetrics } from './metrics.js';
import { backoffMs, RetryBudget, type RetryOptions } from './retry.js';
import { CongestionWindow, type WindowOptions } from './window.js';

export type Priority = 'interactive' | 'batch';
export const PRIORITIES: readonly Priority[] = ['interactive', 'batch'];

export type Outcome = 'success' | 'overload' | 'neutral';

/** What an error means to the limiter. */
export interface Classified {
  outcome: Outcome;
  retryable: boolean;
  /** The server's Retry-After, ms. */
  retryAfterMs?: number;
}

export interface ClassOptions {
  /** Share of the window the class may always use when it has requests waiting (0..1). */
  minShare: number;
  /** Share of the window the class may use at most (0..1). */
  maxShare: number;
  /** Most requests waiting; more are rejected at once. */
  maxQueue: number;
  /** Longest wait for admission, ms; then the request is rejected. */
  maxWaitMs: number;
  /**
   * Full-jitter delay before queueing, ms (uniform in [0, jitterMs)): spreads a class's requests
   * to a shared backend. Work done in this process asks without it (see AskOptions).
   */
  jitterMs: number;
}

/** How one request asks for a slot. */
export interface AskOptions {
  /**
   * Whether to wait the class's jitter first (default true). A request whose slot bounds work
   * done in this process (hmd evaluating stored data itself, its reads made before it asks)
   * has no shared backend to spread its load over: the jitter would only leave the process idle.
   */
  readonly jitter?: boolean;
}

export interface LimiterOptions {
  window: WindowOptions;
  /** Requests admitted per second even when the window is full. */
  minRatePerSec: number;
  classes: Record<Priority, ClassOptions>;
  retry: RetryOptions;
}

/** Options as written by a caller or hmd.yaml: any subset; the rest are defaults. */
export interface LimiterConfig {
  window?: Partial<WindowOptions>;
  minRatePerSec?: number;
  classes?: Partial<Record<Priority, Partial<ClassOptions>>>;
  retry?: Partial<RetryOptions>;
}

/** Defaults, with their reasons in docs/limiter.md. */
export const DEFAULT_LIMITER_OPTIONS: LimiterOptions = {
  window: {
    initialLimit: 10,
    minLimit: 0,
    maxLimit: 500,
    failureWindowMs: 10_000,
    minSamples: 10,
    warnFailureRate: 0.05,
    emergencyFailureRate: 0.5,
    latencyTargetMs: 0,
    latencyBackoff: 0.9,
    decreaseIntervalMs: 100,
  },
  minRatePerSec: 1,
  classes: {
    interactive: { minShare: 0, maxShare: 1, maxQueue: 1000, maxWaitMs: 30_000, jitterMs: 0 },
    batch: { minShare: 0.1, maxShare: 0.8, maxQueue: 10_000, maxWaitMs: 300_000, jitterMs: 50 },
  },
  retry: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 10_000, budgetRatio: 0.1, minRetriesPerSec: 1, budgetWindowMs: 10_000 },
};

/** A request turned away by the limiter itself: the queue was full or the wait too long. */
export class LimiterRejectedError extends Error {
  constructor(
    readonly priority: Priority,
    readonly reason: 'queue_full' | 'wait_timeout',
    message: string,
    /** A sensible time to come back, ms (for Retry-After). */
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'LimiterRejectedError';
  }
}

/** A held slot: release it once with the request's outcome. */
export interface Permit {
  release(outcome: Outcome): void;
}

interface Waiter {
  resolve: (p: Permit) => void;
  reject: (e: Error) => void;
  timer: unknown;
  admitted: boolean;
}

export interface LimiterDeps {
  clock?: Clock;
  random?: () => number;
  metrics?: LimiterMetrics;
  classify?: (err: unknown) => Classified;
}

/** The adaptive, priority-aware limiter. */
export class AdaptiveLimiter {
  readonly options: LimiterOptions;
  readonly window: CongestionWindow;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly metrics: LimiterMetrics | undefined;
  private readonly classify: (err: unknown) => Classified;
  /** One retry budget per class: a batch storm's retries cannot spend the on-call engineer's. */
  private readonly budgets: Record<Priority, RetryBudget>;
  private readonly queues: Record<Priority, Waiter[]> = { interactive: [], batch: [] };
  private readonly inFlightBy: Record<Priority, number> = { interactive: 0, batch: 0 };
  private inFlight = 0;
  private nextFloorAt = -Infinity;
  private floorTimer: unknown;
  /** Counters, also for tests and benchmarks. */
  readonly counts = { admitted: 0, rejected: 0, failed: 0, retried: 0, floorAdmissions: 0 };

  constructor(options: LimiterConfig = {}, deps: LimiterDeps = {}) {
    this.options = mergeOptions(options);
    validate(this.options);
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.metrics = deps.metrics;
    this.classify = deps.classify ?? classifyError;
    this.window = new CongestionWindow(this.options.window, this.clock);
    this.budgets = { interactive: new RetryBudget(this.options.retry, this.clock), batch: new RetryBudget(this.options.retry, this.clock) };
    this.metrics?.window.set(this.window.limit);
  }

  /** Requests in flight now, in total and by class. */
  inFlightNow(): { total: number } & Record<Priority, number> {
    return { total: this.inFlight, ...this.inFlightBy };
  }

  /** Requests waiting, by class. */
  queuedNow(): Record<Priority, number> {
    return { interactive: this.queues.interactive.length, batch: this.queues.batch.length };
  }

  /** Runs `fn` under the limiter, retrying retryable failures within the budget. */
  async run<T>(priority: Priority, fn: () => Promise<T>, ask?: AskOptions): Promise<T> {
    this.budgets[priority].deposit();
    for (let attempt = 0; ; attempt++) {
      const permit = await this.acquire(priority, ask);
      try {
        const out = await fn();
        permit.release('success');
        return out;
      } catch (err) {
        const c = this.classify(err);
        permit.release(c.outcome);
        if (!c.retryable || attempt >= this.options.retry.maxRetries || !this.budgets[priority].withdraw()) throw err;
        this.counts.retried++;
        this.metrics?.retried.inc({ class: priority });
        await this.sleep(backoffMs(this.options.retry, attempt + 1, this.random, c.retryAfterMs));
      }
    }
  }

  /** Waits for a slot (after the class's jitter); rejects at once when the queue is full. */
  async acquire(priority: Priority, ask?: AskOptions): Promise<Permit> {
    const co = this.options.classes[priority];
    if (co.jitterMs > 0 && ask?.jitter !== false) await this.sleep(this.random() * co.jitterMs);
    const q = this.queues[priority];
    if (q.length >= co.maxQueue) {
      throw this.reject(priority, 'queue_full', `hmd limiter: ${priority} queue full (${q.length} waiting); the backend is at capacity, retry later`);
    }
    return new Promise<Permit>((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined, admitted: false };
      q.push(w);
      this.metrics?.queued.set({ class: priority }, q.length);
      this.pump();
      // A request admitted at once (the usual case below capacity) has no deadline to keep.
      if (w.admitted) return;
      w.timer = this.clock.setTimeout(() => {
        const i = q.indexOf(w);
        if (i < 0) return;
        q.splice(i, 1);
        this.metrics?.queued.set({ class: priority }, q.length);
        reject(this.reject(priority, 'wait_timeout', `hmd limiter: ${priority} request waited ${co.maxWaitMs} ms without a slot; the backend is at capacity, retry later`));
      }, co.maxWaitMs);
    });
  }

  private reject(priority: Priority, reason: 'queue_full' | 'wait_timeout', message: string): LimiterRejectedError {
    this.counts.rejected++;
    this.metrics?.rejected.inc({ class: priority, reason });
    // Come back after roughly the time the queue ahead takes at the present rate.
    const retryAfterMs = Math.min(60_000, Math.max(1000, (this.queues[priority].length / Math.max(1, this.window.limit)) * 1000));
    return new LimiterRejectedError(priority, reason, message, retryAfterMs);
  }

  /** Admits waiting requests while the window (or the minimum rate) allows. */
  private pump(): void {
    for (;;) {
      let c = this.pick(true);
      if (!c) {
        c = this.pick(false);
        if (!c) return;
        const now = this.clock.now();
        if (now < this.nextFloorAt) {
          this.scheduleFloor(this.nextFloorAt - now);
          return;
        }
        this.counts.floorAdmissions++;
      }
      this.admit(c);
    }
  }

  /** The class to admit next; with `withinWindow` false, ignoring the window (minimum rate). */
  private pick(withinWindow: boolean): Priority | undefined {
    const limit = this.window.limit;
    if (withinWindow && this.inFlight >= limit) return undefined;
    if (limit === 0 && withinWindow) return undefined;
    for (const p of PRIORITIES) {
      if (this.queues[p].length === 0) continue;
      const guaranteed = Math.max(this.options.classes[p].minShare > 0 ? 1 : 0, Math.floor(limit * this.options.classes[p].minShare));
      if (this.inFlightBy[p] < guaranteed) return p;
    }
    for (const p of PRIORITIES) {
      if (this.queues[p].length === 0) continue;
      if (!withinWindow) return p;
      if (this.inFlightBy[p] < Math.max(1, Math.ceil(limit * this.options.classes[p].maxShare))) return p;
    }
    return undefined;
  }

  private scheduleFloor(ms: number): void {
    if (this.floorTimer !== undefined) return;
    this.floorTimer = this.clock.setTimeout(() => {
      this.floorTimer = undefined;
      this.pump();
    }, ms);
  }

  private admit(p: Priority): void {
    const w = this.queues[p].shift()!;
    w.admitted = true;
    if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
    this.inFlight++;
    this.inFlightBy[p]++;
    this.counts.admitted++;
    // The minimum rate only tops up: it admits past the window when nothing was admitted for 1/rate.
    this.nextFloorAt = this.clock.now() + 1000 / this.options.minRatePerSec;
    this.metrics?.admitted.inc({ class: p });
    this.metrics?.queued.set({ class: p }, this.queues[p].length);
    this.metrics?.inFlight.set(this.inFlight);
    const started = this.clock.now();
    const inFlightAtStart = this.inFlight;
    let released = false;
    w.resolve({
      release: (outcome: Outcome) => {
        if (released) return;
        released = true;
        this.inFlight--;
        this.inFlightBy[p]--;
        const ms = this.clock.now() - started;
        this.metrics?.latency.observe({ class: p }, ms / 1000);
        if (outcome === 'success') this.window.success(ms, inFlightAtStart);
        else if (outcome === 'overload') {
          this.counts.failed++;
          this.metrics?.failed.inc({ class: p });
          this.window.failure(ms);
        } else this.window.neutral(ms);
        this.metrics?.inFlight.set(this.inFlight);
        this.metrics?.window.set(this.window.limit);
        this.pump();
      },
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.clock.setTimeout(r, ms));
  }
}

const RETRYABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * The default reading of an error, by duck typing (the limiter imports nothing of hmd's):
 * `status` 429 and 5xx, `kind` timeout/transport and connection error codes are overload;
 * 422 (Prometheus's execution error: the query's fault) and other 4xx are neutral.
 */
export function classifyError(err: unknown): Classified {
  const e = (err ?? {}) as { status?: unknown; kind?: unknown; code?: unknown; retryAfterMs?: unknown };
  const retryAfterMs = typeof e.retryAfterMs === 'number' ? e.retryAfterMs : undefined;
  const withAfter = (c: Classified): Classified => (retryAfterMs !== undefined ? { ...c, retryAfterMs } : c);
  if (e.kind === 'canceled') return { outcome: 'neutral', retryable: false };
  if (typeof e.status === 'number') {
    if (e.status === 429) return withAfter({ outcome: 'overload', retryable: true });
    if (e.status === 502 || e.status === 503 || e.status === 504) return withAfter({ outcome: 'overload', retryable: true });
    if (e.status >= 500) return { outcome: 'overload', retryable: false };
    return { outcome: 'neutral', retryable: false };
  }
  if (e.kind === 'timeout' || e.kind === 'transport') return { outcome: 'overload', retryable: true };
  if (typeof e.code === 'string' && RETRYABLE_CODES.has(e.code)) return { outcome: 'overload', retryable: true };
  return { outcome: 'neutral', retryable: false };
}

function mergeOptions(o: LimiterConfig): LimiterOptions {
  const d = DEFAULT_LIMITER_OPTIONS;
  return {
    window: { ...d.window, ...o.window },
    minRatePerSec: o.minRatePerSec ?? d.minRatePerSec,
    classes: {
      interactive: { ...d.classes.interactive, ...o.classes?.interactive },
      batch: { ...d.classes.batch, ...o.classes?.batch },
    },
    retry: { ...d.retry, ...o.retry },
  };
}

function validate(o: LimiterOptions): void {
  const w = o.window;
  const bad = (m: string): never => {
    throw new Error(`limiter: ${m}`);
  };
  if (!(w.minLimit >= 0 && w.minLimit <= w.initialLimit && w.initialLimit >= 1 && w.initialLimit <= w.maxLimit)) bad('need 0 <= minLimit <= initialLimit <= maxLimit and initialLimit >= 1');
  if (!(w.warnFailureRate >= 0 && w.warnFailureRate < w.emergencyFailureRate && w.emergencyFailureRate <= 1)) bad('need 0 <= warnFailureRate < emergencyFailureRate <= 1');
  if (!(o.minRatePerSec > 0)) bad('minRatePerSec must be positive');
  if (!(w.latencyBackoff > 0 && w.latencyBackoff < 1)) bad('latencyBackoff must be in (0, 1)');
  for (const p of PRIORITIES) {
    const c = o.classes[p];
    if (!(c.minShare >= 0 && c.minShare <= c.maxShare && c.maxShare <= 1)) bad(`${p}: need 0 <= minShare <= maxShare <= 1`);
    if (!(c.maxQueue >= 0 && c.maxWaitMs > 0 && c.jitterMs >= 0)) bad(`${p}: maxQueue >= 0, maxWaitMs > 0 and jitterMs >= 0`);
  }
  if (!(o.retry.budgetRatio >= 0 && o.retry.maxRetries >= 0)) bad('retry: budgetRatio and maxRetries must be >= 0');
}
