/**
 * Retries that cannot amplify an overload: full-jitter exponential backoff, and a budget that
 * lets retries be at most a fraction of first attempts (plus a small steady allowance), as
 * Finagle's RetryBudget does. When the backend fails everything, retries stop at that fraction
 * instead of multiplying the load.
 */

import type { Clock } from './clock.js';

export interface RetryOptions {
  /** Most retries of one request. */
  maxRetries: number;
  /** First backoff cap, ms; doubles per retry. */
  baseDelayMs: number;
  /** Largest backoff, ms. */
  maxDelayMs: number;
  /** Retries allowed per first attempt (0.1: at most 10% extra load). */
  budgetRatio: number;
  /** Retries allowed per second regardless of traffic, so that a quiet client can still retry. */
  minRetriesPerSec: number;
  /** Window over which the budget's deposits stay valid, ms. */
  budgetWindowMs: number;
}

/** A token bucket of retries, filled by first attempts and by time. */
export class RetryBudget {
  private tokens = 0;
  private last: number;

  constructor(
    private readonly o: RetryOptions,
    private readonly clock: Clock,
  ) {
    this.last = clock.now();
    // Start with the steady allowance's reserve (as Finagle does), so that the first failures of
    // a fresh client, before any deposits, can still be retried.
    this.tokens = this.cap();
  }

  private cap(): number {
    // Deposits from one window's worth of traffic; the steady allowance can fill it too.
    return Math.max(1, this.o.minRetriesPerSec * (this.o.budgetWindowMs / 1000)) + this.deposits;
  }
  private deposits = 0;

  private refill(): void {
    const now = this.clock.now();
    const dt = (now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(this.cap(), this.tokens + dt * this.o.minRetriesPerSec);
    // Deposits decay over the window, so a burst long ago does not fund retries now.
    this.deposits *= Math.exp((-dt * 1000) / this.o.budgetWindowMs);
  }

  /** A first attempt was made: it earns `budgetRatio` of a retry. */
  deposit(): void {
    this.refill();
    this.deposits += this.o.budgetRatio;
    this.tokens = Math.min(this.cap(), this.tokens + this.o.budgetRatio);
  }

  /** Takes one retry from the budget; false when it is spent. */
  withdraw(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Retries available now (for metrics and tests). */
  available(): number {
    this.refill();
    return this.tokens;
  }
}

/** Full-jitter backoff before retry `attempt` (1-based): uniform in [0, min(max, base·2^(attempt-1))), at least `retryAfterMs`. */
export function backoffMs(o: RetryOptions, attempt: number, random: () => number, retryAfterMs = 0): number {
  const cap = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1));
  return Math.max(retryAfterMs, random() * cap);
}
