/**
 * Backtest benchmark: a batch of canary backtests over a generated history of many datacenters,
 * read from Parquet in a local S3 server, against the time needed only to read and decode the
 * bytes the batch needs, and against the same batch evaluated by a real Prometheus.
 *
 *   npm run bench                    # build, then every benchmark
 *   node dist/bench/backtest.bench.js [--datacenters N] [--instances N] [--concurrency C] [--repeat R] [--no-prometheus]
 *
 * Data (src/fixtures/generate.ts): 10 datacenters × 3 tiers × 2 colors, 2 instances per scope,
 * one day at 30s scrapes (about 2,400 series and 6.7M samples), written as daily Parquet blocks
 * into s3rver on 127.0.0.1. (One day holds at most 11 datacenters: the fixture's last rollout
 * steps 20 minutes per datacenter from 0.85 of the span.)
 *
 * Batch: for every datacenter, a blue canary of each tier (`datacenter=dcN,tier=tierM,color=blue`
 * against the green half of the same tier) and of the whole datacenter (`datacenter=dcN,color=blue`
 * against its green half), each judged by three SLOs (copies of slo-specs/: 5xx ratio with burn
 * rates and comparison, p99 latency with comparison, CPU saturation) at their 1m interval over a
 * 6h stage, 11:00 to 17:00: 361 evaluations per backtest when nothing reverts. The window starts
 * after the fixture's fleet-wide incident and the canaries are blue, so the bad release (on a
 * green scope at 16:48) is only ever in a baseline. No backtest may stop early (a run cut short
 * measures less work; the benchmark checks): with 2 instances per scope the 5xx comparison trips
 * on Poisson noise in a few small scopes, so that SLO is a dry run here (measured and judged as
 * usual, without a vote), and the p99 latency SLO decides.
 *
 * Runs, each with fresh caches (R times, alternating; medians reported):
 *   A   runBatch over s3://, concurrency C (default 8); every select the window cache sends to
 *       storage is recorded (cache.onFetch);
 *   IO  those selects replayed, same matchers and times, C at once, against a fresh
 *       ParquetQueryable over a fresh S3 store: only reading and decoding. The target is
 *       A / IO ≤ 2: evaluation must not dominate I/O. For scale, "read once": the same selects
 *       merged per metric (name only, widest range), so that no byte is read twice.
 *   B   the same batch through the distributed engine against one Prometheus (promtool
 *       backfill of the same series) answering query_range, asked without the batch jitter as A
 *       is (one server on loopback: no load to spread); its verdicts, SLO statuses and SLI
 *       values are compared with A's. Expect a few SLI values to differ by up to about 1%: hmd
 *       extrapolates rate() as Prometheus 3 does (the half-interval cap before the clamp to
 *       the counter's zero), Prometheus 2.42 the other way round, which differs for a window
 *       that starts just after a counter reset (the fixture's restarts).
 * HTTP requests are counted with node:diagnostics_channel (S3: node:http; Prometheus: undici).
 * HMD_BENCH_CPU_PROFILE=FILE writes a CPU profile of the last A run alone (not the data
 * generation or the IO runs) to FILE, for Chrome DevTools; HMD_BENCH_HEAP_PROFILE=FILE a sampling
 * profile of what it allocates.
 * Nothing is asserted on time. The last line is one line of JSON with every figure.
 */

import dc from 'node:diagnostics_channel';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import pLimit from 'p-limit';
import { log, median, parseFlags, round } from './common.js';
import { runBatch, type BatchResult, type RunOutcome } from '../src/backtest/batch.js';
import { AdaptiveLimiter } from '../src/limiter/limiter.js';
import { generateFixture } from '../src/fixtures/generate.js';
import { ParquetQueryable } from '../src/storage/parquet/queryable.js';
import type { LabelMatcher } from '../src/storage/matchers.js';
import type { SelectRequest } from '../src/storage/queryable.js';
import { startPrometheusHistory, startS3History, type PrometheusHistory, type S3History } from '../test/helpers/history.js';
import { havePrometheus, MISSING_PROMETHEUS } from '../test/helpers/prometheus.js';

interface Options {
  datacenters: number;
  instances: number;
  concurrency: number;
  repeat: number;
  prometheus: boolean;
}

function parseArgs(argv: string[]): Options {
  const o = parseFlags(
    argv,
    { datacenters: 10, instances: 2, concurrency: 8, repeat: 3, prometheus: true },
    'node dist/bench/backtest.bench.js [--datacenters N (2..11)] [--instances N] [--concurrency C] [--repeat R] [--no-prometheus]',
    ['datacenters', 'instances', 'concurrency', 'repeat'],
  );
  if (o.datacenters < 2 || o.datacenters > 11) throw new Error('--datacenters: 2..11 (one day of the fixture holds at most 11)');
  return o;
}

const mb = (b: number) => `${round(b / 2 ** 20, 1)} MiB`;
const secs = (ms: number) => `${round(ms / 1000, 1)} s`;

const DAY = Date.UTC(2025, 5, 12);
const WINDOW_START = DAY + 11 * 3_600_000;
const WINDOW_MS = 6 * 3_600_000;
const STEP_MS = 60_000;
const EVALUATIONS = WINDOW_MS / STEP_MS + 1;
const ISO = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

// Copies of slo-specs/ (kept here, so that the benchmark measures the same work as the specs change).
const SLOS: Record<string, string> = {
  'http-5xx-ratio.yaml': `apiVersion: hmd.dev/v1
kind: SLO
metadata: {name: http-5xx-ratio}
spec:
  sli:
    ratio:
      errors: sum(rate(http_requests_total{code=~"5.."}[$window]))
      total: sum(rate(http_requests_total[$window]))
  objective: 0.999
  window: 5m
  judgement:
    thresholds: {warn: 0.005, fail: 0.01}
    burnRates:
      - {long: 1h, short: 5m, factor: 14.4, severity: fail}
      - {long: 6h, short: 30m, factor: 6, severity: warn}
    comparison: {window: 30m, step: 1m, maxRelativeIncrease: 1, alpha: 0.01, minEffect: 0.2, minSamples: 10}
    minTraffic: {min: 100}
  evaluation: {interval: 1m, initialDelay: 5m, failureLimit: 1}
  critical: true
  dryRun: true
`,
  'latency-p99.yaml': `apiVersion: hmd.dev/v1
kind: SLO
metadata: {name: latency-p99}
spec:
  sli:
    expr: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[$window])))
  worse: higher
  window: 5m
  judgement:
    thresholds: {warn: 0.8, fail: 1.5}
    comparison: {window: 30m, step: 1m, maxRelativeIncrease: 0.3, alpha: 0.01, minEffect: 0.2}
    minTraffic:
      query: sum(increase(http_request_duration_seconds_count[$window]))
      min: 100
  evaluation: {interval: 1m, initialDelay: 5m, failureLimit: 2}
`,
  'cpu-saturation.yaml': `apiVersion: hmd.dev/v1
kind: SLO
metadata: {name: cpu-saturation}
spec:
  sli:
    expr: avg(avg_over_time(node_cpu_utilization[$window]))
  window: 10m
  judgement:
    thresholds: {warn: 0.75, fail: 0.9}
    comparison: {window: 30m, step: 1m, maxRelativeIncrease: 0.25}
    policy: {noData: no-data}
  evaluation: {interval: 1m, initialDelay: 10m, failureLimit: 3, inconclusiveLimit: 5}
  weight: 0.5
  dryRun: true
`,
};

/** Writes the SLO and backtest specs; returns the backtest files. */
function writeSpecs(dir: string, datacenters: number, location: string): string[] {
  mkdirSync(join(dir, 'slos'), { recursive: true });
  for (const [f, text] of Object.entries(SLOS)) writeFileSync(join(dir, 'slos', f), text);
  const files: string[] = [];
  const spec = (name: string, scope: string, baseline: string) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      `apiVersion: hmd.dev/v1
kind: Backtest
metadata: {name: ${name}}
spec:
  source: {data: "${location}"}
  slos: [${Object.keys(SLOS).map((f) => `slos/${f}`).join(', ')}]
  release:
    version: v9.9.9
    stages:
      - name: canary
        scope: ${scope}
        baseline: ${baseline}
        startedAt: ${ISO(WINDOW_START)}
        bake: 6h
  expect: {revert: false}
`,
    );
    files.push(file);
  };
  for (let d = 1; d <= datacenters; d++) {
    for (const tier of ['tier1', 'tier2', 'tier3']) spec(`dc${d}-${tier}-blue`, `datacenter=dc${d},tier=${tier},color=blue`, `datacenter=dc${d},tier=${tier},color=green`);
    spec(`dc${d}-blue`, `datacenter=dc${d},color=blue`, `datacenter=dc${d},color=green`);
  }
  return files;
}

/** Counts HTTP requests per host:port until stopped (node:http carries S3's, undici the remote engines'). */
function countRequests(): { count(origin: string): number; stop(): void } {
  const seen = new Map<string, number>();
  const add = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
  const onHttp = (m: unknown) => {
    const r = (m as { request: { getHeader(n: string): unknown } }).request;
    add(String(r.getHeader('host')));
  };
  const onUndici = (m: unknown) => {
    const r = (m as { request: { origin: string | URL } }).request;
    add(new URL(String(r.origin)).host);
  };
  dc.subscribe('http.client.request.start', onHttp);
  dc.subscribe('undici:request:create', onUndici);
  return {
    count: (origin) => seen.get(new URL(origin).host) ?? 0,
    stop: () => {
      dc.unsubscribe('http.client.request.start', onHttp);
      dc.unsubscribe('undici:request:create', onUndici);
    },
  };
}

interface Fetch {
  readonly req: SelectRequest;
  readonly bytes: number;
}

interface BatchRun {
  readonly result: BatchResult;
  readonly fetches: Fetch[];
  readonly requests: number;
  readonly wallMs: number;
  /** CPU time of the bench's process: steadier than wall time on a shared machine. */
  readonly cpuMs?: number;
  /** Time the main thread spent paused for garbage collection. */
  readonly gcMs?: number;
}

/**
 * Starts the inspector's CPU profiler when HMD_BENCH_CPU_PROFILE names a file, and its sampling
 * heap profiler (allocations by call stack) when HMD_BENCH_HEAP_PROFILE does; returns their stop.
 */
async function profileA(): Promise<() => Promise<void>> {
  const cpu = process.env.HMD_BENCH_CPU_PROFILE;
  const heap = process.env.HMD_BENCH_HEAP_PROFILE;
  if (!cpu && !heap) return async () => {};
  const session = new Session();
  session.connect();
  if (cpu) {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  if (heap) {
    await session.post('HeapProfiler.enable');
    // Every 32 KiB allocated, with the objects a scavenge frees kept: what the GC is made to do.
    await session.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  return async () => {
    if (cpu) writeFileSync(cpu, JSON.stringify((await session.post('Profiler.stop')).profile));
    if (heap) writeFileSync(heap, JSON.stringify((await session.post('HeapProfiler.stopSampling')).profile));
    session.disconnect();
  };
}

async function runA(files: string[], s3: S3History, concurrency: number): Promise<BatchRun> {
  const fetches: Fetch[] = [];
  const counter = countRequests();
  // runBatch opens s3:// sources with the settings of the environment.
  const saved = Object.keys(s3.env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, s3.env);
  try {
    const t = performance.now();
    const cpu = process.cpuUsage();
    let gcMs = 0;
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcMs += e.duration;
    });
    gc.observe({ entryTypes: ['gc'] });
    const result = await runBatch({ files, concurrency, source: { kind: 'data', location: s3.location }, cache: { onFetch: (req, bytes) => fetches.push({ req, bytes }) } });
    const wallMs = performance.now() - t;
    const cpuMs = cpuMsSince(cpu);
    // The observer is told after the fact: let the last collections' entries arrive.
    await new Promise((r) => setImmediate(r));
    gc.disconnect();
    return { result, fetches, requests: counter.count(s3.server.endpoint), wallMs, cpuMs, gcMs };
  } finally {
    counter.stop();
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** CPU time of this process (all its threads; s3rver and Prometheus run in others) since `from`, ms. */
function cpuMsSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

interface IoRun {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly bytes: number;
  readonly requests: number;
  readonly series: number;
  readonly samples: number;
}

/** Replays recorded selects against fresh storage, `concurrency` at once: read and decode only. */
async function replayIo(fetches: readonly Fetch[], s3: S3History, concurrency: number): Promise<IoRun> {
  const store = s3.openStore();
  const q = new ParquetQueryable(store);
  const limit = pLimit(concurrency);
  let bytes = 0;
  let series = 0;
  let samples = 0;
  try {
    const t = performance.now();
    const cpu = process.cpuUsage();
    await Promise.all(
      fetches.map((f) =>
        limit(async () => {
          const r = await q.select(f.req);
          bytes += r.stats?.bytesRead ?? 0;
          series += r.series.length;
          for (const s of r.series) samples += s.timestamps.length;
        }),
      ),
    );
    return { wallMs: performance.now() - t, cpuMs: cpuMsSince(cpu), bytes, requests: store.stats.requests, series, samples };
  } finally {
    await store.close();
  }
}

/**
 * The same data read once: the recorded selects merged per metric (matchers reduced to the
 * metric name, times to the widest range asked), one select each. What reading the history the
 * batch touches costs when nothing is read twice, for scale.
 */
function mergedByMetric(fetches: readonly Fetch[]): Fetch[] {
  const by = new Map<string, { matchers: LabelMatcher[]; mint: number; maxt: number }>();
  for (const { req } of fetches) {
    const name = req.matchers.filter((m) => m.name === '__name__');
    const k = name.map((m) => m.toString()).join(',');
    const cur = by.get(k);
    if (!cur) by.set(k, { matchers: name.length ? name : [...req.matchers], mint: req.mint, maxt: req.maxt });
    else {
      cur.mint = Math.min(cur.mint, req.mint);
      cur.maxt = Math.max(cur.maxt, req.maxt);
    }
  }
  return [...by.values()].map((req) => ({ req, bytes: 0 }));
}

async function runB(files: string[], prom: PrometheusHistory, dir: string, concurrency: number): Promise<BatchRun> {
  const cfg = join(dir, 'hmd.yaml');
  writeFileSync(cfg, `engines:\n  - {name: prometheus, url: "${prom.server.url}"}\n`);
  const counter = countRequests();
  try {
    const t = performance.now();
    // Without the batch jitter, as A runs: with one Prometheus on loopback there is no load to
    // spread, and the comparison is of evaluation, not of waiting.
    const limiter = new AdaptiveLimiter({ classes: { batch: { jitterMs: 0 } } });
    const result = await runBatch({ files, concurrency, source: { kind: 'engines', config: cfg }, limiter });
    return { result, fetches: [], requests: counter.count(prom.server.url), wallMs: performance.now() - t };
  } finally {
    counter.stop();
  }
}

/** Runs that did not evaluate the whole window, errored, or reverted. */
function incomplete(runs: readonly RunOutcome[]): string[] {
  return runs.flatMap((r) => {
    if (r.status === 'error') return [`${r.name}: error: ${r.error}`];
    const n = r.result!.evaluations.length;
    if (r.result!.revert) return [`${r.name}: reverted at ${ISO(r.result!.revert.at)} (${r.result!.revert.reasons[0] ?? ''})`];
    return n === EVALUATIONS ? [] : [`${r.name}: ${n} evaluations, not ${EVALUATIONS}`];
  });
}

/** Verdicts (status, revert, evaluation count) and SLI values of two batches over the same specs. */
function compare(a: readonly RunOutcome[], b: readonly RunOutcome[]) {
  let agree = 0;
  const disagree: string[] = [];
  let compared = 0;
  let onlyOne = 0;
  let maxRel = 0;
  let worst = '';
  let verdictsDiffer = 0;
  let statusesDiffer = 0;
  let firstStatus = '';
  let over = 0;
  a.forEach((ra, i) => {
    const rb = b[i]!;
    const ea = ra.result?.evaluations ?? [];
    const eb = rb.result?.evaluations ?? [];
    const same = ra.status === rb.status && (ra.result?.revert === undefined) === (rb.result?.revert === undefined) && ea.length === eb.length;
    if (same) agree++;
    else disagree.push(`${ra.name}: A ${ra.status} ${ea.length} evaluations${ra.result?.revert ? ' reverted' : ''}, B ${rb.status} ${eb.length}${rb.result?.revert ? ' reverted' : ''}`);
    for (let k = 0; k < Math.min(ea.length, eb.length); k++) {
      if (ea[k]!.verdict !== eb[k]!.verdict) verdictsDiffer++;
      ea[k]!.slos.forEach((sa, j) => {
        const sb = eb[k]!.slos[j]!;
        if (sa.status !== sb.status && statusesDiffer++ === 0) firstStatus = `${ra.name} ${sa.name} at ${ISO(ea[k]!.at)}: A ${sa.status}, B ${sb.status}`;
        for (const [what, x, y] of [
          ['sli', sa.sli, sb.sli],
          ['baseline', sa.baseline, sb.baseline],
        ] as const) {
          if (x === undefined && y === undefined) continue;
          if (x === undefined || y === undefined) {
            onlyOne++;
            continue;
          }
          compared++;
          const rel = x === y ? 0 : Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y));
          if (rel > 1e-9) over++;
          if (rel > maxRel) {
            maxRel = rel;
            worst = `${ra.name} ${sa.name} ${what} at ${ISO(ea[k]!.at)}: A ${x}, B ${y}`;
          }
        }
      });
    }
  });
  return { agree, disagree, compared, onlyOne, maxRel, worst, verdictsDiffer, statusesDiffer, firstStatus, over };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const withProm = o.prometheus && havePrometheus();
  const t0 = performance.now();
  const fx = generateFixture({ datacenters: o.datacenters, instancesPerScope: o.instances, days: 1, startMs: DAY, seed: 20250612 });
  const genMs = performance.now() - t0;
  const dir = mkdtempSync(join(tmpdir(), 'hmd-bench-backtest-'));
  let s3: S3History | undefined;
  let prom: PrometheusHistory | undefined;
  try {
    let t = performance.now();
    s3 = await startS3History(fx);
    log(
      `data: ${fx.series.length} series, ${fx.scenario.samples} samples (${o.datacenters} datacenters × 3 tiers × 2 colors × ${o.instances} instances, 1 day at 30s), ` +
        `generated in ${secs(genMs)}; ${s3.objects} objects, ${mb(s3.bytes)} of Parquet written to s3rver in ${secs(performance.now() - t)}`,
    );
    const files = writeSpecs(dir, o.datacenters, s3.location);
    const nSlos = Object.keys(SLOS).length;
    const pairs = files.length * nSlos;
    log(
      `batch: ${files.length} backtests × ${nSlos} SLOs = ${pairs} backtest×SLO pairs, ${ISO(WINDOW_START)} + 6h at 1m (${EVALUATIONS} evaluations each), ` +
        `concurrency ${o.concurrency}${pairs < 100 ? ' (fewer than 100 pairs: raise --datacenters)' : ''}`,
    );

    // A, IO (replayed selects) and the same data read once, in turn, each with fresh caches.
    // Each round's timings; the first round's results (compared with Prometheus below). Later
    // rounds' results are dropped at once: kept, they would only grow the heap every later round
    // has to mark, which a batch run on its own never carries.
    const as: Pick<BatchRun, 'wallMs' | 'cpuMs' | 'gcMs'>[] = [];
    let firstA: BatchRun | undefined;
    const ios: IoRun[] = [];
    const onces: IoRun[] = [];
    for (let i = 0; i < o.repeat; i++) {
      // Only the last A run is profiled: the first warms the JIT.
      const stop = i === o.repeat - 1 ? await profileA() : async () => {};
      const a = await runA(files, s3, o.concurrency);
      await stop();
      as.push({ wallMs: a.wallMs, cpuMs: a.cpuMs, gcMs: a.gcMs });
      firstA ??= a;
      const io = await replayIo(a.fetches, s3, o.concurrency);
      ios.push(io);
      const once = await replayIo(mergedByMetric(a.fetches), s3, o.concurrency);
      onces.push(once);
      log(
        `  round ${i + 1}: A ${round(a.wallMs)} ms, cpu ${round(a.cpuMs ?? 0)} ms, gc ${round(a.gcMs ?? 0)} ms (${a.fetches.length} selects to storage, ${a.requests} S3 requests), ` +
          `IO only ${round(io.wallMs)} ms, cpu ${round(io.cpuMs)} ms (${io.requests} S3 requests): ${round(a.wallMs / io.wallMs)}x; read once ${round(once.wallMs)} ms`,
      );
    }
    const a = firstA!;
    const bad = incomplete(a.result.runs);
    for (const l of bad.slice(0, 10)) log(`  WARNING: ${l}`);
    const st = a.result.stats;
    const aMs = median(as.map((r) => r.wallMs));
    const ioMs = median(ios.map((r) => r.wallMs));
    const onceMs = median(onces.map((r) => r.wallMs));
    const io = ios[0]!;
    const once = onces[0]!;
    const ratio = aMs / ioMs;
    const fetchBytes = a.fetches.reduce((sum, f) => sum + f.bytes, 0);
    const merged = mergedByMetric(a.fetches).length;

    // B: the same batch against Prometheus.
    let b: BatchRun | undefined;
    let cmp: ReturnType<typeof compare> | undefined;
    let promSkip: string | undefined;
    if (withProm) {
      t = performance.now();
      prom = await startPrometheusHistory(fx);
      log(
        `prometheus: ${mb(prom.openMetricsBytes)} of OpenMetrics written in ${secs(prom.writeMs)}, backfilled by promtool in ${secs(prom.backfillMs)}, ` +
          `ready in ${secs(prom.startMs)} (${secs(performance.now() - t)} in all)`,
      );
      b = await runB(files, prom, dir, o.concurrency);
      cmp = compare(a.result.runs, b.result.runs);
      for (const l of cmp.disagree.slice(0, 10)) log(`  DISAGREE: ${l}`);
    } else {
      promSkip = o.prometheus ? MISSING_PROMETHEUS : '--no-prometheus';
      log(`prometheus: skipped: ${promSkip}`);
    }

    log('');
    const cols = (c: string[]) => log(`${c[0]!.padEnd(30)}${c.slice(1).map((x, i) => x.padStart([10, 14, 13, 9, 13, 10][i]!)).join('')}`);
    cols(['run', 'wall ms', 'queries asked', 'queries sent', 'selects', 'bytes read', 'requests']);
    cols(['A  hmd over S3 (Parquet)', String(round(aMs)), String(st.queriesAsked), String(st.queriesSent), String(st.fetches), String(st.bytesRead), String(a.requests)]);
    cols(['IO read + decode only', String(round(ioMs)), '', '', String(a.fetches.length), String(io.bytes), String(io.requests)]);
    cols(['   the same data read once', String(round(onceMs)), '', '', String(merged), String(once.bytes), String(once.requests)]);
    if (b) cols(['B  Prometheus query_range', String(round(b.wallMs)), String(b.result.stats.queriesAsked), String(b.result.stats.queriesSent), '', '', String(b.requests)]);
    log('');
    log(`evaluations: ${st.evaluations} (${files.length} backtests; ${bad.length === 0 ? `all ${EVALUATIONS} each, none reverted` : `${bad.length} incomplete`})`);
    log(`A / IO only: ${round(ratio)}x (median of ${o.repeat}; target ≤ 2x: ${ratio <= 2 ? 'met' : 'NOT met'}); IO read ${io.series} series, ${io.samples} samples`);
    log(
      `read amplification: the selects read ${round(io.bytes / Math.max(1, once.bytes), 1)}x the bytes of the data they cover read once (${mb(io.bytes)} vs ${mb(once.bytes)}); ` +
        `A / read once: ${round(aMs / onceMs)}x`,
    );
    if (b && cmp) {
      log(
        `B / A: ${round(b.wallMs / aMs)}x; verdicts agree on ${cmp.agree}/${files.length} runs (revert, evaluations); ` +
          `${cmp.verdictsDiffer} evaluations with another verdict, ${cmp.statusesDiffer} SLO results with another status${cmp.firstStatus ? ` (first: ${cmp.firstStatus})` : ''}`,
      );
      log(
        `SLI values: ${cmp.compared} compared, ${cmp.over} differ by more than 1e-9, max relative difference ${cmp.maxRel.toExponential(2)}` +
          `${cmp.worst ? ` (${cmp.worst})` : ''}${cmp.onlyOne ? `, ${cmp.onlyOne} measured by one side only` : ''}`,
      );
    }

    log(
      JSON.stringify({
        bench: 'backtest',
        datacenters: o.datacenters,
        instancesPerScope: o.instances,
        series: fx.series.length,
        samples: fx.scenario.samples,
        parquetBytes: s3.bytes,
        backtests: files.length,
        slos: nSlos,
        pairs,
        windowHours: WINDOW_MS / 3_600_000,
        stepSeconds: STEP_MS / 1000,
        concurrency: o.concurrency,
        repeat: o.repeat,
        evaluations: st.evaluations,
        incomplete: bad.length,
        a: {
          wallMs: round(aMs),
          wallMsRuns: as.map((r) => round(r.wallMs)),
          cpuMs: round(median(as.map((r) => r.cpuMs ?? 0))),
          gcMs: round(median(as.map((r) => r.gcMs ?? 0))),
          queriesAsked: st.queriesAsked,
          queriesSent: st.queriesSent,
          queriesDirect: st.queriesDirect,
          selects: st.selects,
          fetches: st.fetches,
          bytesRead: st.bytesRead,
          fetchBytes,
          s3Requests: a.requests,
        },
        io: { wallMs: round(ioMs), wallMsRuns: ios.map((r) => round(r.wallMs)), cpuMs: round(median(ios.map((r) => r.cpuMs))), selects: a.fetches.length, bytesRead: io.bytes, s3Requests: io.requests, series: io.series, samples: io.samples },
        readOnce: { wallMs: round(onceMs), selects: merged, bytesRead: once.bytes, s3Requests: once.requests, samples: once.samples },
        ratio: round(ratio),
        targetMet: ratio <= 2,
        readAmplification: round(io.bytes / Math.max(1, once.bytes), 1),
        ratioToReadOnce: round(aMs / onceMs),
        prometheus:
          b && cmp && prom
            ? {
                skipped: false,
                wallMs: round(b.wallMs),
                queriesAsked: b.result.stats.queriesAsked,
                queriesSent: b.result.stats.queriesSent,
                queriesDirect: b.result.stats.queriesDirect,
                requests: b.requests,
                evaluations: b.result.stats.evaluations,
                vsA: round(b.wallMs / aMs),
                runsAgree: cmp.agree,
                allAgree: cmp.agree === files.length && cmp.verdictsDiffer === 0 && cmp.statusesDiffer === 0,
                verdictsDiffer: cmp.verdictsDiffer,
                statusesDiffer: cmp.statusesDiffer,
                slisCompared: cmp.compared,
                slisDiffering: cmp.over,
                slisOneSided: cmp.onlyOne,
                maxRelSliDiff: cmp.maxRel,
                openMetricsBytes: prom.openMetricsBytes,
                backfillMs: round(prom.backfillMs),
              }
            : { skipped: true, reason: promSkip },
        skipped: !withProm,
      }),
    );
  } finally {
    await prom?.stop();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
