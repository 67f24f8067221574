/**
 * The limiter on a simulated clock (test/helpers/limiter-sim.ts): a backend of fixed capacity
 * with lognormal service times that slows past capacity and fails with 503 past 1.5x, Poisson
 * clients, seeded randomness. Assertions are on simulated time and counts, never wall time.
 */

import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AdaptiveLimiter, classifyError, LimiterRejectedError, type Permit } from '../../src/limiter/limiter.js';
import { limiterMetrics } from '../../src/limiter/metrics.js';
import { FakeClock, quantile, simulate, type BackendOptions, type SimResult } from '../helpers/limiter-sim.js';

const S = suite('limiter');
const BACKEND: BackendOptions = { capacity: 20, medianMs: 50, sigma: 0.5, slowdownPerExtra: 0.05, failAt: 1.5 };
/** Successful requests per second the backend sustains. */
const THROUGHPUT = BACKEND.capacity / (BACKEND.medianMs * Math.exp(BACKEND.sigma ** 2 / 2) / 1000);
const TUNED = { window: { latencyTargetMs: 70 } };

/** Awaits `p` while moving the fake clock, as a real one would move. */
async function drive<T>(clock: FakeClock, p: Promise<T>): Promise<T | unknown> {
  let done = false;
  const out = p.then(
    (v) => ((done = true), v),
    (e: unknown) => ((done = true), e),
  );
  while (!done) await clock.runUntil(clock.now() + 100);
  return out;
}

const between = (r: SimResult, from: number, to: number) => r.windows.filter(([t]) => t >= from && t < to).map(([, w]) => w);
const goodput = (r: SimResult, fromS: number, toS: number) => r.goodput.slice(fromS, toS).reduce((a, b) => a + b, 0) / (toS - fromS) / THROUGHPUT;
const interactiveLatencies = (r: SimResult) => r.records.filter((x) => x.priority === 'interactive' && x.ok).map((x) => x.end - x.start);

S('the window converges near capacity under a batch flood, with goodput >= 0.9 and few failures', async () => {
  const r = await simulate({ seed: 1, durationMs: 60_000, backend: BACKEND, mode: { kind: 'adaptive', options: TUNED }, arrivals: [{ priority: 'batch', rate: () => 3 * THROUGHPUT }] });
  const ws = between(r, 20_000, 60_000);
  assert.ok(Math.min(...ws) >= BACKEND.capacity * 0.75 && Math.max(...ws) <= BACKEND.capacity * 2, `window ${Math.min(...ws)}..${Math.max(...ws)}`);
  assert.ok(goodput(r, 10, 60) >= 0.9, `goodput ${goodput(r, 10, 60)}`);
  assert.ok(r.backend.failed < 0.01 * r.backend.served, `${r.backend.failed} failures for ${r.backend.served} served`);
  assert.ok(r.limiter!.counts.rejected > 0, 'the excess batch is shed, not queued without bound');
});

S('the window shrinks on failures when capacity halves, and recovers when it returns', async () => {
  const r = await simulate({
    seed: 2,
    durationMs: 120_000,
    backend: BACKEND,
    capacityChanges: [
      [40_000, 10],
      [80_000, 20],
    ],
    mode: { kind: 'adaptive' },
    arrivals: [{ priority: 'batch', rate: () => 3 * THROUGHPUT }],
  });
  const before = quantile(between(r, 20_000, 40_000), 0.5);
  const during = quantile(between(r, 55_000, 80_000), 0.5);
  const after = quantile(between(r, 100_000, 120_000), 0.5);
  assert.ok(during <= before * 0.7, `window before ${before}, during the drop ${during}`);
  assert.ok(after >= before * 0.8, `window before ${before}, after recovery ${after}`);
  assert.ok(r.limiter!.counts.failed > 0, 'the drop was seen as failures');
});

S('the minimum rate holds when the backend fails everything, and the window sits at its minimum', async () => {
  const r = await simulate({
    seed: 3,
    durationMs: 60_000,
    backend: { ...BACKEND, capacity: 0 },
    mode: { kind: 'adaptive', options: { minRatePerSec: 2 } },
    arrivals: [{ priority: 'batch', rate: () => 50 }],
  });
  const l = r.limiter!;
  assert.is(l.window.limit, 0, 'the window shrinks to zero: only the minimum rate admits');
  const sent = r.countsAtEnd!.admitted;
  assert.ok(sent >= 2 * 55, `${sent} requests sent in 60 s at a floor of 2/s`);
  assert.ok(sent <= 2 * 60 + 30, `${sent} requests: the floor must not become a flood`);
});

S('interactive p99 under a 2x-5x batch flood stays within 1.5x of an idle backend', async () => {
  for (const seed of [1, 2, 3]) {
    const run = (mult: number) =>
      simulate({
        seed,
        durationMs: 60_000,
        backend: BACKEND,
        mode: { kind: 'adaptive', options: TUNED },
        arrivals: [
          { priority: 'interactive', rate: () => 5 },
          { priority: 'batch', rate: () => mult * THROUGHPUT },
        ],
      });
    const idle = quantile(interactiveLatencies(await run(0)), 0.99);
    for (const mult of [2, 5]) {
      const r = await run(mult);
      const lat = interactiveLatencies(r);
      assert.is(lat.length, r.records.filter((x) => x.priority === 'interactive').length, 'every interactive request succeeds');
      const p99 = quantile(lat, 0.99);
      assert.ok(p99 <= 1.5 * idle, `seed ${seed}, batch ${mult}x: interactive p99 ${p99.toFixed(1)} ms vs idle ${idle.toFixed(1)} ms`);
      assert.ok(goodput(r, 10, 60) >= 0.9, `seed ${seed}, ${mult}x: goodput ${goodput(r, 10, 60)}`);
    }
  }
});

S('batch keeps its floor share under an interactive flood', async () => {
  const r = await simulate({
    seed: 4,
    durationMs: 60_000,
    backend: BACKEND,
    mode: { kind: 'adaptive', options: TUNED },
    arrivals: [
      { priority: 'interactive', rate: () => 3 * THROUGHPUT },
      { priority: 'batch', rate: () => 50 },
    ],
  });
  const batchOk = r.records.filter((x) => x.priority === 'batch' && x.ok && x.start >= 10_000).length / 50;
  // minShare 0.1 of a window of ~capacity: ~2 in flight of ~57 ms each is ~35/s.
  assert.ok(batchOk >= 0.05 * THROUGHPUT, `batch ${batchOk.toFixed(1)}/s under interactive overload`);
});

S('a full queue rejects at once with a clear error; a long wait is rejected at its deadline', async () => {
  const clock = new FakeClock();
  const l = new AdaptiveLimiter(
    // A negligible minimum rate, so that only the window admits here.
    { minRatePerSec: 0.001, window: { initialLimit: 1, minLimit: 1, maxLimit: 1 }, classes: { batch: { maxQueue: 2, maxWaitMs: 5000, jitterMs: 0, minShare: 0.1, maxShare: 0.8 } } },
    { clock },
  );
  const hold = await l.acquire('batch');
  const waiting = [l.acquire('batch'), l.acquire('batch')];
  const outcomes = waiting.map((p) => p.then(() => 'admitted', (e: Error) => e));
  const t0 = clock.now();
  const full = await l.acquire('batch').then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(full, LimiterRejectedError);
  assert.is((full as LimiterRejectedError).reason, 'queue_full');
  assert.match((full as Error).message, /batch queue full \(2 waiting\)/);
  assert.is(clock.now(), t0, 'rejected without waiting');
  assert.ok((full as LimiterRejectedError).retryAfterMs >= 1000);
  await clock.runUntil(6000);
  const [a, b] = await Promise.all(outcomes);
  assert.instance(a, LimiterRejectedError);
  assert.is((a as LimiterRejectedError).reason, 'wait_timeout');
  assert.instance(b, LimiterRejectedError);
  hold.release('success');
  assert.equal(l.counts.rejected, 3);
});

S('a request admitted at once arms no deadline; one that waits arms one, cleared when it is admitted', async () => {
  const clock = new FakeClock();
  // Deadlines are the timers of maxWaitMs (the minimum rate keeps a timer of its own).
  const deadlines = new Set<unknown>();
  let armed = 0;
  let cleared = 0;
  const counting = {
    now: () => clock.now(),
    setTimeout: (fn: () => void, ms: number) => {
      const h = clock.setTimeout(fn, ms);
      if (ms === 5000) (armed++, deadlines.add(h));
      return h;
    },
    clearTimeout: (h: unknown) => {
      if (deadlines.has(h)) cleared++;
      clock.clearTimeout(h);
    },
  };
  const l = new AdaptiveLimiter(
    { minRatePerSec: 0.001, window: { initialLimit: 1, minLimit: 1, maxLimit: 1 }, classes: { batch: { maxQueue: 4, maxWaitMs: 5000, jitterMs: 0, minShare: 0.1, maxShare: 1 } } },
    { clock: counting },
  );
  const first = await l.acquire('batch');
  assert.is(armed, 0, 'admitted at once: no timer');
  const second = l.acquire('batch');
  assert.is(armed, 1, 'waiting: its deadline is armed');
  first.release('success');
  (await second).release('success');
  assert.is(cleared, 1, 'admitted: its deadline is cleared');
  await clock.runUntil(10_000);
  assert.is(l.counts.rejected, 0, 'the cleared deadline never fires');
  assert.is(l.counts.admitted, 2);
});

S('the class jitter delays a request unless it asks without it', async () => {
  const clock = new FakeClock();
  const l = new AdaptiveLimiter({ window: { initialLimit: 10 }, classes: { batch: { maxQueue: 10, maxWaitMs: 5000, jitterMs: 1000, minShare: 0.1, maxShare: 1 } } }, { clock, random: () => 0.5 });
  // Without the jitter: admitted with the clock standing still.
  let now: Permit | undefined;
  void l.acquire('batch', { jitter: false }).then((p) => (now = p));
  await new Promise((r) => setImmediate(r));
  assert.ok(now, 'admitted without a sleep');
  assert.is(clock.now(), 0);
  now!.release('success');
  // With it: nothing until the clock passes the drawn delay (0.5 of 1000 ms).
  let admitted = false;
  const later = l.acquire('batch').then((p) => ((admitted = true), p));
  await clock.runUntil(499);
  assert.not.ok(admitted, 'still sleeping its jitter');
  await clock.runUntil(501);
  (await later).release('success');
  assert.ok(admitted);
});

S('errors: 429/502/503/504 and timeouts are retryable overload, 422 and 400 neutral, other 5xx overload', () => {
  assert.equal(classifyError({ status: 429, retryAfterMs: 2000 }), { outcome: 'overload', retryable: true, retryAfterMs: 2000 });
  assert.equal(classifyError({ status: 503 }), { outcome: 'overload', retryable: true });
  assert.equal(classifyError({ status: 500 }), { outcome: 'overload', retryable: false });
  assert.equal(classifyError({ status: 422 }), { outcome: 'neutral', retryable: false });
  assert.equal(classifyError({ status: 400 }), { outcome: 'neutral', retryable: false });
  assert.equal(classifyError({ kind: 'timeout' }), { outcome: 'overload', retryable: true });
  assert.equal(classifyError({ kind: 'transport', code: 'ECONNREFUSED' }), { outcome: 'overload', retryable: true });
  assert.equal(classifyError({ kind: 'canceled' }), { outcome: 'neutral', retryable: false });
  assert.equal(classifyError(new Error('boom')), { outcome: 'neutral', retryable: false });
});

S('422 execution errors do not shrink the window; 503s do', async () => {
  const clock = new FakeClock();
  const l = new AdaptiveLimiter({ window: { initialLimit: 20, minSamples: 5 }, retry: { maxRetries: 0 } }, { clock });
  for (let i = 0; i < 50; i++) await drive(clock, l.run('interactive', () => Promise.reject({ status: 422 })));
  assert.is(l.window.limit, 20);
  for (let i = 0; i < 50; i++) await drive(clock, l.run('interactive', () => Promise.reject({ status: 503 })));
  assert.is(l.window.limit, 0);
});

S('retries back off with jitter and stay within the budget when everything fails', async () => {
  const r = await simulate({
    seed: 5,
    durationMs: 60_000,
    backend: { ...BACKEND, capacity: 0 },
    mode: { kind: 'adaptive', options: { minRatePerSec: 1000, window: { initialLimit: 50, minLimit: 50, maxLimit: 100 } } },
    arrivals: [{ priority: 'interactive', rate: () => 100 }],
  });
  const first = r.records.length;
  const retried = r.limiter!.counts.retried;
  // budget: 10% of first attempts plus 1/s.
  assert.ok(retried <= 0.1 * first + 60 + 10, `${retried} retries for ${first} requests`);
  assert.ok(retried > 0);
});

S('metrics: window, in flight, queued, admitted, rejected, failed, retried and latency per class', async () => {
  const registry = new Registry();
  const clock = new FakeClock();
  const l = new AdaptiveLimiter({}, { clock, metrics: limiterMetrics(registry) });
  await drive(clock, l.run('interactive', async () => 1));
  await drive(clock, l.run('interactive', () => Promise.reject({ status: 503 })));
  const text = await registry.metrics();
  for (const m of ['hmd_limiter_window 10', 'hmd_limiter_in_flight 0', 'hmd_limiter_admitted_total{class="interactive"}', 'hmd_limiter_failed_total{class="interactive"}', '# TYPE hmd_limiter_retried_total counter', 'hmd_limiter_request_duration_seconds_bucket', 'hmd_limiter_queued']) {
    assert.ok(text.includes(m), `missing ${m}`);
  }
});

S('options are checked', () => {
  assert.throws(() => new AdaptiveLimiter({ window: { minLimit: 5, initialLimit: 2 } }), /minLimit <= initialLimit/);
  assert.throws(() => new AdaptiveLimiter({ classes: { batch: { minShare: 0.9, maxShare: 0.5 } } }), /batch: need 0 <= minShare <= maxShare/);
});

S.run();
