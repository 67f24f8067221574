/**
 * Limiter benchmark: hmd's adaptive limiter against a fixed-concurrency limit and no limit, on the
 * deterministic simulation of test/helpers/limiter-sim.ts (simulated time: the figures are the same
 * on every machine).
 *
 *   node dist/bench/limiter.bench.js [--seconds S] [--seeds N]
 *
 * Backend: 20 requests at full speed at once, lognormal service times (median 50 ms, sigma 0.5),
 * 5% slower per request beyond capacity, 503 at once beyond 1.5x capacity; client timeout 5 s.
 * Workloads:
 *   - flood Nx: batch arrivals at N = 2, 3, 5 times the backend's throughput, plus interactive at 5/s;
 *   - drop: batch at 3x, capacity halved at 40 s and restored at 80 s.
 * Figures: goodput (backend successes per second over its throughput, after a 10 s warm-up);
 * interactive p99 relative to the same interactive arrivals on an idle backend; retries per success;
 * for the drop, the time until the window's 1 s average comes within 25% of its new level (after the
 * drop, and after the restore). The fixed baselines: 20 in flight (exactly the capacity, FIFO) and 40 (a typical
 * hand-set limit at 2x).
 * Nothing is asserted. The last line is one line of JSON.
 */

import { quantile, simulate, type BackendOptions, type Mode, type SimResult } from '../test/helpers/limiter-sim.js';

const args = process.argv.slice(2);
const arg = (name: string, d: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const SECONDS = arg('--seconds', 120);
const SEEDS = arg('--seeds', 3);
const BACKEND: BackendOptions = { capacity: 20, medianMs: 50, sigma: 0.5, slowdownPerExtra: 0.05, failAt: 1.5 };
const THROUGHPUT = BACKEND.capacity / ((BACKEND.medianMs * Math.exp(BACKEND.sigma ** 2 / 2)) / 1000);
const MODES: Record<string, Mode> = {
  adaptive: { kind: 'adaptive', options: { window: { latencyTargetMs: 70 } } },
  fixed20: { kind: 'fixed', concurrency: 20 },
  fixed40: { kind: 'fixed', concurrency: 40 },
  unlimited: { kind: 'unlimited' },
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const log = (s: string) => process.stdout.write(s + '\n');

const goodput = (r: SimResult, from: number, to: number) => r.goodput.slice(from, to).reduce((a, b) => a + b, 0) / (to - from) / THROUGHPUT;
const p99 = (r: SimResult) => quantile(r.records.filter((x) => x.priority === 'interactive' && x.ok).map((x) => x.end - x.start), 0.99);
const retriesPerSuccess = (r: SimResult) => (r.limiter ? r.limiter.counts.retried / Math.max(1, r.backend.served) : 0);

/**
 * Seconds after `at` until the window's 1 s moving average first comes within 25% of its median
 * over [at + 20 s, end): how long the limiter takes to find the new capacity.
 */
function settleSeconds(r: SimResult, at: number, end: number): number {
  const ws = r.windows.filter(([t]) => t >= at && t < end);
  const target = quantile(ws.filter(([t]) => t >= at + 20_000).map(([, w]) => w), 0.5);
  for (let i = 9; i < ws.length; i++) {
    const avg = ws.slice(i - 9, i + 1).reduce((a, [, w]) => a + w, 0) / 10;
    if (Math.abs(avg - target) <= 0.25 * target) return (ws[i]![0] - at) / 1000;
  }
  return (end - at) / 1000;
}

async function main(): Promise<void> {
  const rows: Record<string, unknown>[] = [];
  for (const [name, mode] of Object.entries(MODES)) {
    for (const mult of [2, 3, 5]) {
      const g: number[] = [];
      const lat: number[] = [];
      const rps: number[] = [];
      const failedInteractive: number[] = [];
      for (let seed = 1; seed <= SEEDS; seed++) {
        const run = (m: number) =>
          simulate({
            seed,
            durationMs: SECONDS * 1000,
            backend: BACKEND,
            mode,
            timeoutMs: 5000,
            arrivals: [
              { priority: 'interactive', rate: () => 5 },
              { priority: 'batch', rate: () => m * THROUGHPUT },
            ],
          });
        const idle = p99(await run(0));
        const r = await run(mult);
        g.push(goodput(r, 10, SECONDS));
        lat.push(p99(r) / idle);
        rps.push(retriesPerSuccess(r));
        const inter = r.records.filter((x) => x.priority === 'interactive');
        failedInteractive.push(inter.filter((x) => !x.ok).length / inter.length);
      }
      const row = {
        workload: `flood ${mult}x`,
        mode: name,
        goodput: round(Math.min(...g)),
        interactiveP99VsIdle: round(Math.max(...lat), 2),
        interactiveFailed: round(Math.max(...failedInteractive), 4),
        retriesPerSuccess: round(Math.max(...rps), 4),
      };
      rows.push(row);
      log(`${row.workload.padEnd(9)} ${name.padEnd(10)} goodput ${row.goodput}  interactive p99 ${row.interactiveP99VsIdle}x idle, ${(row.interactiveFailed * 100).toFixed(2)}% failed  retries/success ${row.retriesPerSuccess}  (worst of ${SEEDS} seeds)`);
    }
  }
  const drop = await simulate({
    seed: 1,
    durationMs: 120_000,
    backend: BACKEND,
    capacityChanges: [
      [40_000, 10],
      [80_000, 20],
    ],
    mode: MODES['adaptive']!,
    timeoutMs: 5000,
    arrivals: [{ priority: 'batch', rate: () => 3 * THROUGHPUT }],
  });
  const dropRow = {
    workload: 'capacity halved at 40 s, restored at 80 s',
    convergeAfterDropS: settleSeconds(drop, 40_000, 80_000),
    convergeAfterRestoreS: settleSeconds(drop, 80_000, 120_000),
    goodputDuringDrop: round(drop.goodput.slice(45, 80).reduce((a, b) => a + b, 0) / 35 / (THROUGHPUT / 2)),
    retriesPerSuccess: round(retriesPerSuccess(drop), 4),
  };
  log(
    `drop: window settles ${dropRow.convergeAfterDropS} s after the drop, ${dropRow.convergeAfterRestoreS} s after the restore; goodput during the drop ${dropRow.goodputDuringDrop} of the halved capacity`,
  );
  const adaptive = rows.filter((r) => r['mode'] === 'adaptive');
  log(
    JSON.stringify({
      bench: 'limiter',
      seconds: SECONDS,
      seeds: SEEDS,
      adaptiveMinGoodput: Math.min(...adaptive.map((r) => r['goodput'] as number)),
      adaptiveMaxInteractiveP99VsIdle: Math.max(...adaptive.map((r) => r['interactiveP99VsIdle'] as number)),
      rows,
      drop: dropRow,
    }),
  );
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
