/**
 * The daemon's clock: the wall clock, or a simulated one that starts at a time in the past and
 * runs N times faster (a rollout replayed against history: a 30 minute bake in 30 seconds at
 * 60x). A simulated clock's anchor is kept in the database, so that a restarted daemon goes on
 * where it was instead of starting the replay again.
 */

/** Time as the daemon sees it. */
export interface DaemonClock {
  /** Now, ms since the epoch (simulated time for a simulated clock). */
  now(): number;
  /** Waits `ms` of this clock's time; resolves early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** How this clock runs, for logs and the status page. */
  readonly description: string;
}

/** Where a simulated clock stands: `simStart` at the wall time `wallStart`, running `speed` times faster. */
export interface ClockAnchor {
  readonly simStart: number;
  readonly wallStart: number;
  readonly speed: number;
}

function wallSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The wall clock. */
export function wallClock(now: () => number = Date.now): DaemonClock {
  return { now, sleep: wallSleep, description: 'wall clock' };
}

/** A clock from an anchor, read against the wall clock `wall`. */
export function simulatedClock(a: ClockAnchor, wall: () => number = Date.now): DaemonClock {
  return {
    now: () => a.simStart + (wall() - a.wallStart) * a.speed,
    sleep: (ms, signal) => wallSleep(ms / a.speed, signal),
    description: `simulated from ${new Date(a.simStart).toISOString()} at ${a.speed}x`,
  };
}
