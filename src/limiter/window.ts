/**
 * The congestion window: how many requests may be in flight, adapted as TCP does (AIMD).
 *
 * - Additive increase: in slow start each success adds one request to the window (doubling it
 *   every round trip); after the first backpressure it adds one per window of successes
 *   (one per round trip), TCP's congestion avoidance. It only grows while the window is used,
 *   so an idle period cannot inflate it.
 * - Multiplicative decrease on two signals: the failure rate over a sliding window, and latency
 *   above a target. Past the warn threshold the window is multiplied by (1 - k), k growing
 *   linearly from 0 at the warn rate to 1 at the emergency rate, so that it approaches zero as
 *   failures approach the emergency rate; never below `minLimit`. Decreases happen at most once
 *   per `decreaseIntervalMs` (about a round trip), so one burst of failures counts once.
 */

import type { Clock } from './clock.js';

export interface WindowOptions {
  initialLimit: number;
  minLimit: number;
  maxLimit: number;
  /** Sliding window the failure rate is measured over, ms. */
  failureWindowMs: number;
  /** Fewest outcomes in the window before its rate is trusted. */
  minSamples: number;
  /** Failure rate at which the window starts to shrink. */
  warnFailureRate: number;
  /** Failure rate at which the window shrinks to its minimum. */
  emergencyFailureRate: number;
  /** Latency target, ms; a smoothed latency above it shrinks the window (0: off). */
  latencyTargetMs: number;
  /** Factor the window is multiplied by when latency is over target. */
  latencyBackoff: number;
  /** Least time between two decreases, ms; at least one smoothed round trip too, as TCP. */
  decreaseIntervalMs: number;
}

/** Per-second buckets of outcomes: cheap to update, exact enough for a rate over seconds. */
class SlidingCounts {
  private readonly buckets: { start: number; ok: number; failed: number }[] = [];
  constructor(
    private readonly windowMs: number,
    private readonly bucketMs = Math.max(50, windowMs / 20),
  ) {}
  add(now: number, failed: boolean): void {
    const start = now - (now % this.bucketMs);
    let b = this.buckets[this.buckets.length - 1];
    if (!b || b.start !== start) {
      b = { start, ok: 0, failed: 0 };
      this.buckets.push(b);
    }
    if (failed) b.failed++;
    else b.ok++;
    this.expire(now);
  }
  private expire(now: number): void {
    while (this.buckets.length && this.buckets[0]!.start + this.bucketMs <= now - this.windowMs) this.buckets.shift();
  }
  totals(now: number): { ok: number; failed: number } {
    this.expire(now);
    let ok = 0;
    let failed = 0;
    for (const b of this.buckets) {
      ok += b.ok;
      failed += b.failed;
    }
    return { ok, failed };
  }
}

/** The AIMD congestion window. */
export class CongestionWindow {
  private value: number;
  private slowStart = true;
  private lastDecrease = -Infinity;
  private readonly counts: SlidingCounts;
  private smoothedLatency = 0;

  constructor(
    private readonly o: WindowOptions,
    private readonly clock: Clock,
  ) {
    this.value = o.initialLimit;
    this.counts = new SlidingCounts(o.failureWindowMs);
  }

  /**
   * The current limit on requests in flight: a whole number, at least minLimit. It may be 0:
   * then only the limiter's minimum request rate admits anything.
   */
  get limit(): number {
    return Math.max(this.o.minLimit, Math.floor(this.value));
  }

  /** The exact (fractional) window, for metrics. */
  get exact(): number {
    return this.value;
  }

  /** Failure rate over the sliding window (0 when too few outcomes). */
  failureRate(): number {
    const { ok, failed } = this.counts.totals(this.clock.now());
    const n = ok + failed;
    return n < this.o.minSamples ? 0 : failed / n;
  }

  /** Records a success that took `latencyMs` with `inFlight` requests out when it started. */
  success(latencyMs: number, inFlight: number): void {
    const now = this.clock.now();
    this.counts.add(now, false);
    this.observeLatency(latencyMs);
    if (this.o.latencyTargetMs > 0 && this.smoothedLatency > this.o.latencyTargetMs) {
      this.decrease(this.o.latencyBackoff, now);
      return;
    }
    // Only a window in use may grow: an idle limiter learns nothing about capacity.
    if (inFlight * 2 < Math.floor(this.value)) return;
    this.value = Math.min(this.o.maxLimit, this.value + (this.slowStart ? 1 : 1 / Math.max(1, this.value)));
  }

  /** Records a failure that signals overload (429, 5xx, timeout, connection error). */
  failure(latencyMs: number): void {
    const now = this.clock.now();
    this.counts.add(now, true);
    this.observeLatency(latencyMs);
    const rate = this.failureRate();
    if (rate <= this.o.warnFailureRate) return;
    const k = Math.min(1, (rate - this.o.warnFailureRate) / (this.o.emergencyFailureRate - this.o.warnFailureRate));
    this.decrease(1 - k, now);
  }

  /** Records an outcome that says nothing about the backend's health (e.g. a bad query). */
  neutral(latencyMs: number): void {
    this.observeLatency(latencyMs);
  }

  private observeLatency(ms: number): void {
    this.smoothedLatency = this.smoothedLatency === 0 ? ms : this.smoothedLatency * 0.9 + ms * 0.1;
  }

  private decrease(factor: number, now: number): void {
    if (now - this.lastDecrease < Math.max(this.o.decreaseIntervalMs, this.smoothedLatency)) return;
    this.lastDecrease = now;
    this.slowStart = false;
    this.value = Math.max(this.o.minLimit, this.value * factor);
  }
}
