/** Time and timers, injected so that the limiter runs on a simulated clock in tests and benchmarks. */

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Calls `fn` after `ms`; returns a handle for `clear`. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  // Not unref'd: every limiter timer has a caller awaiting it (a jitter or backoff sleep, a
  // queued request's deadline), and the process must stay up for them.
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
