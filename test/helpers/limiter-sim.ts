/**
 * A deterministic simulation for the limiter: a fake clock with a timer queue, a backend with a
 * fixed capacity and lognormal service times that slows and then fails once overloaded, and
 * open-loop Poisson clients of each priority class. Seeded randomness, simulated time only:
 * the same options give the same numbers on every machine.
 */

import { AdaptiveLimiter, type LimiterConfig, type Priority } from '../../src/limiter/limiter.js';
import type { Clock } from '../../src/limiter/clock.js';
import { gauss, prng } from '../../src/util/random.js';

/** A clock whose time moves only when `runUntil` moves it. */
export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private heap: { at: number; seq: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const h = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.push(h);
    return h;
  }
  clearTimeout(handle: unknown): void {
    if (handle) (handle as { live: boolean }).live = false;
  }
  /** Runs timers in time order until `until` (ms), letting promise chains settle after each. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      const h = this.heap[0];
      if (!h || h.at > until) break;
      this.pop();
      if (!h.live) continue;
      this.t = h.at;
      h.fn();
      await settle();
    }
    this.t = until;
  }
  private push(h: (typeof this.heap)[number]): void {
    const a = this.heap;
    a.push(h);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(a[p]!, a[i]!)) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  private pop(): void {
    const a = this.heap;
    const last = a.pop()!;
    if (a.length === 0) return;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && less(a[l]!, a[m]!)) m = l;
      if (r < a.length && less(a[r]!, a[m]!)) m = r;
      if (m === i) break;
      [a[m], a[i]] = [a[i]!, a[m]!];
      i = m;
    }
  }
}

const less = (x: { at: number; seq: number }, y: { at: number; seq: number }) => x.at < y.at || (x.at === y.at && x.seq < y.seq);

/** Lets every pending promise reaction run (async functions chain several microtasks). */
async function settle(): Promise<void> {
  for (let i = 0; i < 8; i++) await Promise.resolve();
}

export interface BackendOptions {
  /** Requests it serves at full speed at once. */
  capacity: number;
  /** Median service time, ms. */
  medianMs: number;
  /** Lognormal sigma of service times. */
  sigma: number;
  /** Past capacity, each extra request slows every new one by this fraction of the median. */
  slowdownPerExtra: number;
  /** Past this multiple of capacity in flight, new requests fail at once with 503. */
  failAt: number;
}

/** An error shaped like hmd's remote errors (status, kind), read by the limiter's classifier. */
export class SimError extends Error {
  constructor(
    readonly status: number | undefined,
    readonly kind: 'http' | 'timeout',
  ) {
    super(kind === 'timeout' ? 'timeout' : `HTTP ${status}`);
  }
}

/** The simulated server. `capacity` may change during a run. */
export class SimBackend {
  inFlight = 0;
  served = 0;
  failed = 0;
  constructor(
    public o: BackendOptions,
    private readonly clock: FakeClock,
    private readonly rnd: () => number,
  ) {}

  /** One request: resolves after its service time, or rejects (503, or timeout). */
  request(timeoutMs: number): Promise<void> {
    const c = this.o.capacity;
    if (c <= 0 || this.inFlight >= Math.max(1, c * this.o.failAt)) {
      this.failed++;
      return new Promise((_, reject) => this.clock.setTimeout(() => reject(new SimError(503, 'http')), 2));
    }
    this.inFlight++;
    const extra = Math.max(0, this.inFlight - c);
    const service = this.o.medianMs * Math.exp(this.o.sigma * gauss(this.rnd)) * (1 + extra * this.o.slowdownPerExtra);
    return new Promise((resolve, reject) => {
      if (service > timeoutMs) {
        this.clock.setTimeout(() => {
          this.inFlight--;
          this.failed++;
          reject(new SimError(undefined, 'timeout'));
        }, timeoutMs);
        return;
      }
      this.clock.setTimeout(() => {
        this.inFlight--;
        this.served++;
        resolve();
      }, service);
    });
  }

  /** Successful requests per second the backend sustains at capacity. */
  throughput(): number {
    // Mean of a lognormal: median · e^(σ²/2).
    return this.o.capacity / ((this.o.medianMs * Math.exp((this.o.sigma * this.o.sigma) / 2)) / 1000);
  }
}

export interface Arrivals {
  priority: Priority;
  /** Requests per second as a function of simulated time (ms). */
  rate: (t: number) => number;
}

export interface RequestRecord {
  priority: Priority;
  start: number;
  end: number;
  ok: boolean;
  rejected: boolean;
}

export interface SimResult {
  records: RequestRecord[];
  /** [time ms, window] sampled every 100 ms. */
  windows: [number, number][];
  /** Backend successes per second, per second of simulated time. */
  goodput: number[];
  backend: SimBackend;
  limiter: AdaptiveLimiter | undefined;
  /** The limiter's counters when the arrivals stopped (before the queues drain). */
  countsAtEnd: AdaptiveLimiter['counts'] | undefined;
}

export type Mode = { kind: 'adaptive'; options?: LimiterConfig } | { kind: 'fixed'; concurrency: number } | { kind: 'unlimited' };

export interface SimOptions {
  seed: number;
  durationMs: number;
  backend: BackendOptions;
  /** Changes to the backend's capacity at given times. */
  capacityChanges?: [number, number][];
  arrivals: Arrivals[];
  mode: Mode;
  /** Client-side timeout of one request, ms. */
  timeoutMs?: number;
}

/** Runs one simulation. */
export async function simulate(o: SimOptions): Promise<SimResult> {
  const clock = new FakeClock();
  const backend = new SimBackend({ ...o.backend }, clock, prng(o.seed + 1));
  const timeoutMs = o.timeoutMs ?? 30_000;
  const records: RequestRecord[] = [];
  const windows: [number, number][] = [];
  const served: number[] = [];
  let limiter: AdaptiveLimiter | undefined;
  let fixedInFlight = 0;
  const fixedQueue: (() => void)[] = [];

  if (o.mode.kind === 'adaptive') limiter = new AdaptiveLimiter(o.mode.options ?? {}, { clock, random: prng(o.seed + 2) });

  const send = async (priority: Priority): Promise<void> => {
    const rec: RequestRecord = { priority, start: clock.now(), end: 0, ok: false, rejected: false };
    records.push(rec);
    try {
      if (limiter) await limiter.run(priority, () => backend.request(timeoutMs));
      else if (o.mode.kind === 'fixed') {
        const limit = o.mode.concurrency;
        if (fixedInFlight >= limit) await new Promise<void>((r) => fixedQueue.push(r));
        fixedInFlight++;
        try {
          await backend.request(timeoutMs);
        } finally {
          fixedInFlight--;
          fixedQueue.shift()?.();
        }
      } else await backend.request(timeoutMs);
      rec.ok = true;
    } catch (err) {
      rec.rejected = (err as Error).name === 'LimiterRejectedError';
    }
    rec.end = clock.now();
  };

  // Poisson arrivals per class: exponential gaps at the rate of the moment.
  for (const [k, a] of o.arrivals.entries()) {
    // Each class draws from its own stream, so its arrivals are the same whatever the others do.
    const rnd = prng(o.seed * 31 + 7 + k);
    const next = (): void => {
      const r = a.rate(clock.now());
      const gap = r > 0 ? (-Math.log(1 - rnd()) / r) * 1000 : 100;
      clock.setTimeout(() => {
        if (clock.now() >= o.durationMs) return;
        if (a.rate(clock.now()) > 0) void send(a.priority);
        next();
      }, gap);
    };
    next();
  }
  for (const [at, cap] of o.capacityChanges ?? []) clock.setTimeout(() => (backend.o.capacity = cap), at);
  let lastServed = 0;
  for (let t = 100; t <= o.durationMs; t += 100) {
    await clock.runUntil(t);
    if (limiter) windows.push([t, limiter.window.limit]);
    if (t % 1000 === 0) {
      served.push(backend.served - lastServed);
      lastServed = backend.served;
    }
  }
  const countsAtEnd = limiter ? { ...limiter.counts } : undefined;
  // Let requests in flight finish, so that every record has an end.
  await clock.runUntil(o.durationMs + 600_000);
  return { records, windows, goodput: served, backend, limiter, countsAtEnd };
}

/** The q-quantile (0..1) of numbers. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
