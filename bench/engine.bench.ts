/**
 * Engine benchmark: hmd's PromQL engine over an in-memory store, and the same queries on the real
 * Prometheus (when its binaries are installed) over the same data.
 *
 *   npm run bench                                   # build, then every benchmark
 *   node dist/bench/engine.bench.js [--series N] [--hours H] [--repeat R] [--no-prometheus | --prometheus]
 *
 * Data (test/helpers/sli-data.ts): 10,000 series by default over 6h at 15s, off-grid timestamps:
 * http_requests_total{datacenter, instance, code} (4 codes) and
 * http_request_duration_seconds_bucket{datacenter, instance, le} (5 bounds and +Inf), 10 series
 * per instance, 5 datacenters, with a counter reset, a scrape gap and a departing instance.
 *
 * Each query runs as an instant query at the end of the data and as a range query over the 6h at
 * 1m steps: one warm-up run, then R timed runs (default 5); the median is reported. For hmd:
 * wall ms, samples read by the query (from storage) per second of wall time, the memory (JS heap
 * and typed arrays) grown over a run, and the process's peak RSS (the data included). For Prometheus: the wall ms of the HTTP request (JSON included),
 * its own `stats=all` evaluation time, and the hmd/Prometheus ratios (> 1: hmd is slower).
 *
 * Nothing is asserted on time. The last line of output is one line of JSON with every figure.
 */

import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Engine } from '../src/promql/engine.js';
import type { QueryValue } from '../src/promql/result.js';
import { backfill, havePrometheus, prometheusVersion, startPrometheus, type PrometheusServer } from '../test/helpers/prometheus.js';
import { generateSliData, toMemoryStore, writeSliOpenMetrics } from '../test/helpers/sli-data.js';

// --- options ----------------------------------------------------------------------------------

interface Options {
  series: number;
  hours: number;
  repeat: number;
  prometheus: 'auto' | 'on' | 'off';
}

function parseArgs(argv: string[]): Options {
  const o: Options = { series: 10_000, hours: 6, repeat: 5, prometheus: 'auto' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      const n = Number(v);
      if (v === undefined || !(n > 0)) throw new Error(`${flag} needs a positive number`);
      return n;
    };
    if (flag === '--series') o.series = Math.round(value());
    else if (flag === '--hours') o.hours = value();
    else if (flag === '--repeat') o.repeat = Math.round(value());
    else if (flag === '--no-prometheus') o.prometheus = 'off';
    else if (flag === '--prometheus') o.prometheus = 'on';
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write('usage: node dist/bench/engine.bench.js [--series N] [--hours H] [--repeat R] [--no-prometheus | --prometheus]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// --- helpers ----------------------------------------------------------------------------------

const MB = 1024 * 1024;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);
const peakRssMb = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB

/** A gc() without --expose-gc on the command line (npm run bench starts plain node). */
function getGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

/** Peak and current RSS of another process, from /proc (Linux), in MiB. */
function procRss(pid: number): { peakMb: number; rssMb: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { peakMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
  } catch {
    return undefined;
  }
}

function shape(v: QueryValue): { series: number; points: number } {
  switch (v.type) {
    case 'vector':
      return { series: v.samples.length, points: v.samples.length };
    case 'matrix':
      return { series: v.series.length, points: v.series.reduce((n, s) => n + s.timestamps.length, 0) };
    default:
      return { series: 1, points: 1 };
  }
}

function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? String(round(c)) : c)))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(cells[0]!), w.map((n) => '-'.repeat(n)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const log = (s: string) => process.stdout.write(s + '\n');

// --- the queries ------------------------------------------------------------------------------

const QUERIES = [
  {
    name: 'error_ratio',
    expr: 'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (datacenter) (rate(http_requests_total[5m]))',
  },
  { name: 'p99_latency', expr: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))' },
  { name: 'topk_instances', expr: 'topk(10, sum by (instance) (rate(http_requests_total[5m])))' },
  { name: 'avg_over_time', expr: 'avg by (datacenter) (avg_over_time(http_requests_total[10m]))' },
] as const;

interface Row {
  name: string;
  mode: 'instant' | 'range';
  expr: string;
  hmdMs: number;
  hmdMinMs: number;
  samples: number;
  /** hmd's count in the sense of Prometheus's totalQueryableSamples (a sample counts once per step that reads it). */
  totalSamples: number;
  samplesPerSec: number;
  /** Growth of JS heap + typed arrays over one run (what the query allocated and still held at its end, garbage included). */
  memDeltaMb: number;
  resultSeries: number;
  resultPoints: number;
  promMs?: number;
  promEvalMs?: number;
  promSamples?: number;
  ratio?: number;
  evalRatio?: number;
  sameShape?: boolean;
}

// --- main -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const gc = getGc();
  const start = Date.UTC(2025, 5, 12, 0, 0, 0);
  const durationMs = Math.round(opts.hours * 3600_000);
  const end = start + durationMs;
  const step = 60_000;

  // 10 series per instance (4 codes + 6 buckets), 5 datacenters.
  const perInstance = 10;
  const datacenters = 5;
  const instancesPerDc = Math.max(1, Math.round(opts.series / perInstance / datacenters));
  let t0 = performance.now();
  const data = generateSliData({
    seed: 42,
    startMs: start,
    durationMs,
    datacenters,
    instancesPerDc,
    codes: ['200', '404', '500', '503'],
    methods: [],
    buckets: [0.05, 0.1, 0.25, 0.5, 1],
    histogramSumCount: false,
    gauges: false,
    info: false,
    up: false,
  });
  const genMs = performance.now() - t0;
  t0 = performance.now();
  const store = toMemoryStore(data);
  const loadMs = performance.now() - t0;
  gc?.();
  const memAfterLoad = process.memoryUsage();
  const heapAfterLoadMb = memAfterLoad.heapUsed / MB;
  const arrayBuffersAfterLoadMb = memAfterLoad.arrayBuffers / MB;
  const rssAfterLoadMb = memAfterLoad.rss / MB;
  const nSeries = data.series.length;
  log(`engine bench: ${nSeries} series, ${data.samples} samples, ${opts.hours}h at 15s (${new Date(start).toISOString()} .. ${new Date(end).toISOString()})`);
  log(
    `  generated in ${round(genMs, 0)} ms, loaded into memory in ${round(loadMs, 0)} ms; ` +
      `JS heap ${round(heapAfterLoadMb, 0)} MiB + typed arrays ${round(arrayBuffersAfterLoadMb, 0)} MiB, RSS ${round(rssAfterLoadMb, 0)} MiB`,
  );
  log(`  instant queries at the end, range queries over the ${opts.hours}h at 1m steps; 1 warm-up, median of ${opts.repeat}`);

  const engine = new Engine();
  const rows: Row[] = [];
  for (const q of QUERIES) {
    for (const mode of ['instant', 'range'] as const) {
      const run = () => (mode === 'instant' ? engine.instantQuery(store, q.expr, end) : engine.rangeQuery(store, q.expr, start, end, step));
      await run(); // warm-up
      const times: number[] = [];
      const heap: number[] = [];
      let last: Awaited<ReturnType<typeof run>> | undefined;
      for (let i = 0; i < opts.repeat; i++) {
        last = undefined;
        gc?.();
        const m0 = process.memoryUsage();
        const a = performance.now();
        last = await run();
        times.push(performance.now() - a);
        const m1 = process.memoryUsage();
        heap.push((m1.heapUsed + m1.arrayBuffers - m0.heapUsed - m0.arrayBuffers) / MB);
      }
      const ms = median(times);
      const sh = shape(last!.value);
      rows.push({
        name: q.name,
        mode,
        expr: q.expr,
        hmdMs: ms,
        hmdMinMs: Math.min(...times),
        samples: last!.stats.samplesFetched,
        totalSamples: last!.stats.totalSamples,
        samplesPerSec: last!.stats.samplesFetched / (ms / 1000),
        memDeltaMb: median(heap),
        resultSeries: sh.series,
        resultPoints: sh.points,
      });
    }
  }
  const hmdPeakRssMb = peakRssMb();
  log('');
  log('hmd (in-memory store)');
  log(
    table(
      ['query', 'mode', 'median ms', 'min ms', 'samples read', 'samples/s', 'mem +MiB', 'result series/points'],
      rows.map((r) => [r.name, r.mode, r.hmdMs, r.hmdMinMs, r.samples, `${round(r.samplesPerSec / 1e6, 2)}M`, r.memDeltaMb, `${r.resultSeries}/${r.resultPoints}`]),
    ),
  );
  log(`peak RSS of this process so far: ${round(hmdPeakRssMb, 0)} MiB (the data included)`);
  log('samples read: distinct samples the store returned; mem +MiB: JS heap and typed arrays grown over one run');

  // --- Prometheus -----------------------------------------------------------------------------
  let prom: Record<string, unknown> | undefined;
  const wantProm = opts.prometheus === 'on' || (opts.prometheus === 'auto' && havePrometheus());
  if (opts.prometheus === 'on' && !havePrometheus()) throw new Error('--prometheus: the prometheus/promtool binaries are not installed');
  if (!wantProm) log(`\nPrometheus: ${opts.prometheus === 'off' ? 'skipped (--no-prometheus)' : 'not installed, skipped'}`);
  else {
    const dir = mkdtempSync(join(tmpdir(), 'hmd-bench-'));
    let server: PrometheusServer | undefined;
    try {
      const omFile = join(dir, 'data.om');
      t0 = performance.now();
      const fd = openSync(omFile, 'w');
      let bytes = 0;
      writeSliOpenMetrics(data, (chunk) => {
        bytes += Buffer.byteLength(chunk);
        writeSync(fd, chunk);
      });
      closeSync(fd);
      const writeMs = performance.now() - t0;
      t0 = performance.now();
      await backfill(omFile, join(dir, 'blocks'));
      const backfillMs = performance.now() - t0;
      rmSync(omFile);
      t0 = performance.now();
      server = await startPrometheus({ blocksFrom: join(dir, 'blocks'), readyTimeoutMs: 600_000 });
      const startMs = performance.now() - t0;
      rmSync(join(dir, 'blocks'), { recursive: true, force: true });
      const version = prometheusVersion();
      log(`\n${version}`);
      log(`  OpenMetrics written in ${round(writeMs, 0)} ms (${round(bytes / MB, 0)} MiB), backfilled by promtool in ${round(backfillMs, 0)} ms, ready in ${round(startMs, 0)} ms`);

      let statsWork = false;
      for (const r of rows) {
        const call = (stats: boolean) =>
          r.mode === 'instant' ? server!.query(r.expr, end, { stats }) : server!.queryRange(r.expr, start, end, step, { stats });
        const first = await call(true); // warm-up; shows whether stats=all works
        const hasStats = typeof (first.stats as { timings?: unknown } | undefined)?.timings === 'object';
        statsWork ||= hasStats;
        const wall: number[] = [];
        const evals: number[] = [];
        let samples: number | undefined;
        let last = first;
        for (let i = 0; i < opts.repeat; i++) {
          const a = performance.now();
          last = await call(hasStats);
          wall.push(performance.now() - a);
          const st = last.stats as { timings?: { evalTotalTime?: number }; samples?: { totalQueryableSamples?: number } } | undefined;
          if (st?.timings?.evalTotalTime !== undefined) evals.push(st.timings.evalTotalTime * 1000);
          if (st?.samples?.totalQueryableSamples !== undefined) samples = st.samples.totalQueryableSamples;
        }
        r.promMs = median(wall);
        if (evals.length) r.promEvalMs = median(evals);
        if (samples !== undefined) r.promSamples = samples;
        r.ratio = r.hmdMs / r.promMs;
        if (r.promEvalMs) r.evalRatio = r.hmdMs / r.promEvalMs;
        const ps = shape(last.value);
        r.sameShape = ps.series === r.resultSeries && ps.points === r.resultPoints;
      }
      const rss = procRss(server.pid);
      log(
        table(
          ['query', 'mode', 'hmd ms', 'prom HTTP ms', 'prom eval ms', 'hmd/prom HTTP', 'hmd/prom eval', 'same shape'],
          rows.map((r) => [
            r.name,
            r.mode,
            r.hmdMs,
            r.promMs!,
            r.promEvalMs ?? 'n/a',
            r.ratio!,
            r.evalRatio ?? 'n/a',
            r.sameShape ? 'yes' : 'NO',
          ]),
        ),
      );
      log(`  prom eval ms: Prometheus's own stats=all evalTotalTime${statsWork ? '' : ' (not reported by this version)'}; HTTP ms include JSON encoding and transfer.`);
      if (rss) log(`  Prometheus RSS ${round(rss.rssMb, 0)} MiB, peak ${round(rss.peakMb, 0)} MiB`);
      prom = {
        version,
        writeMs: round(writeMs, 0),
        openMetricsMb: round(bytes / MB, 1),
        backfillMs: round(backfillMs, 0),
        startMs: round(startMs, 0),
        statsAll: statsWork,
        rssMb: rss ? round(rss.rssMb, 1) : null,
        peakRssMb: rss ? round(rss.peakMb, 1) : null,
      };
    } finally {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const summary = {
    bench: 'engine',
    series: nSeries,
    samples: data.samples,
    hours: opts.hours,
    stepSeconds: step / 1000,
    repeat: opts.repeat,
    node: process.version,
    genMs: round(genMs, 0),
    loadMs: round(loadMs, 0),
    heapAfterLoadMb: round(heapAfterLoadMb, 1),
    arrayBuffersAfterLoadMb: round(arrayBuffersAfterLoadMb, 1),
    rssAfterLoadMb: round(rssAfterLoadMb, 1),
    peakRssMb: round(hmdPeakRssMb, 1),
    queries: rows.map((r) => ({
      name: r.name,
      mode: r.mode,
      hmdMs: round(r.hmdMs, 3),
      hmdMinMs: round(r.hmdMinMs, 3),
      samples: r.samples,
      totalSamples: r.totalSamples,
      samplesPerSec: Math.round(r.samplesPerSec),
      memDeltaMb: round(r.memDeltaMb, 2),
      resultSeries: r.resultSeries,
      resultPoints: r.resultPoints,
      promMs: r.promMs === undefined ? null : round(r.promMs, 3),
      promEvalMs: r.promEvalMs === undefined ? null : round(r.promEvalMs, 3),
      promSamples: r.promSamples ?? null,
      ratio: r.ratio === undefined ? null : round(r.ratio, 3),
      evalRatio: r.evalRatio === undefined ? null : round(r.evalRatio, 3),
      sameShape: r.sameShape ?? null,
    })),
    prometheus: prom ?? null,
  };
  log('');
  log(JSON.stringify(summary));
}

await main();
