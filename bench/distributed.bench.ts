/**
 * Distributed benchmark: the fan-out plan (partial aggregates per datacenter, merged centrally)
 * against central evaluation (every raw selector pulled from every engine, evaluated locally),
 * over the same real Prometheus servers, one per datacenter.
 *
 *   npm run bench                       # build, then every benchmark
 *   node dist/bench/distributed.bench.js [--datacenters N] [--instances N] [--hours H] [--repeat R]
 *
 * Data (test/helpers/sli-data.ts): 8 datacenters × 30 instances by default, each instance with
 * http_requests_total (4 codes × 2 methods) and a classic latency histogram (8 buckets), 15s
 * scrapes over 3h: about 5,000 series. Each datacenter's series go to its own Prometheus
 * (external_labels {datacenter}), backfilled by promtool, on 127.0.0.1.
 *
 * Each SLI query runs as an instant query at the end of the data and as a range query over the
 * last 2h at 1m steps: one warm-up, then R timed runs (default 5); medians are reported. Bytes are
 * response bodies as received (gzip, as on the wire). Both plans' answers are compared (1e-9).
 * Nothing is asserted on time. The last line is one line of JSON with every figure.
 */

import { performance } from 'node:perf_hooks';
import { log, median, parseFlags, round } from './common.js';
import { DistributedEngine, type DistributedResult } from '../src/distributed/engine.js';
import { havePrometheus, MISSING_PROMETHEUS } from '../test/helpers/prometheus.js';
import { startFleet } from '../test/helpers/fleet.js';
import { diffResults } from '../test/helpers/series.js';

interface Options {
  datacenters: number;
  instances: number;
  hours: number;
  repeat: number;
}

function parseArgs(argv: string[]): Options {
  return parseFlags(
    argv,
    { datacenters: 8, instances: 30, hours: 3, repeat: 5 },
    'node dist/bench/distributed.bench.js [--datacenters N] [--instances N] [--hours H] [--repeat R]',
    ['datacenters', 'instances', 'repeat'],
  );
}

const QUERIES: Record<string, string> = {
  'requests rate': 'sum(rate(http_requests_total[5m]))',
  'rate by code': 'sum by (code) (rate(http_requests_total[5m]))',
  'error ratio': 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
  'p99 latency': 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
};

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!havePrometheus()) {
    log(`distributed bench: skipped: ${MISSING_PROMETHEUS}`);
    log(JSON.stringify({ bench: 'distributed', skipped: true }));
    return;
  }
  const t0 = performance.now();
  const fleet = await startFleet({
    data: { seed: 8, datacenters: o.datacenters, instancesPerDc: o.instances, durationMs: o.hours * 3_600_000, gauges: false, info: false, up: false },
    globalServer: false,
  });
  const data = fleet.data;
  log(`data: ${data.series.length} series, ${data.samples} samples, ${o.datacenters} datacenters`);
  log(`fleet: ${fleet.engines.length} Prometheus servers ready in ${round((performance.now() - t0) / 1000, 1)} s`);
  const engines = fleet.engines.map(({ name, url, labels }) => ({ name, url, labels }));
  const dist = new DistributedEngine({ engines });
  const central = new DistributedEngine({ engines, pushdown: false });
  const end = Math.floor(data.maxMs / 60_000) * 60_000;
  const rows: Record<string, unknown>[] = [];
  try {
    for (const [name, q] of Object.entries(QUERIES)) {
      for (const mode of ['instant', 'range'] as const) {
        const run = (de: DistributedEngine): Promise<DistributedResult> => (mode === 'instant' ? de.instantQuery(q, end) : de.rangeQuery(q, end - 2 * 3_600_000, end, 60_000));
        const measure = async (de: DistributedEngine) => {
          const first = await run(de);
          const ms: number[] = [];
          for (let i = 0; i < o.repeat; i++) {
            const s = performance.now();
            await run(de);
            ms.push(performance.now() - s);
          }
          return { result: first, ms: median(ms), bytes: first.bytesReceived, requests: first.requests };
        };
        const d = await measure(dist);
        const c = await measure(central);
        const diff = diffResults(d.result.value, c.result.value);
        const row = {
          query: name,
          mode,
          distMs: round(d.ms),
          centralMs: round(c.ms),
          speedup: round(c.ms / d.ms, 1),
          distBytes: d.bytes,
          centralBytes: c.bytes,
          bytesRatio: round(c.bytes / d.bytes, 1),
          distRequests: d.requests,
          centralRequests: c.requests,
          agree: diff.length === 0,
        };
        rows.push(row);
        log(
          `${name.padEnd(14)} ${mode.padEnd(8)} distributed ${String(row.distMs).padStart(8)} ms ${String(d.bytes).padStart(9)} B | central ${String(row.centralMs).padStart(8)} ms ${String(c.bytes).padStart(10)} B | ${row.speedup}x faster, ${row.bytesRatio}x fewer bytes${row.agree ? '' : ` | DISAGREE: ${diff[0]}`}`,
        );
      }
    }
  } finally {
    await dist.close();
    await central.close();
    await fleet.stop();
  }
  const sumRows = rows.filter((r) => String(r['query']) !== 'p99 latency');
  log(
    JSON.stringify({
      bench: 'distributed',
      engines: o.datacenters,
      series: data.series.length,
      samples: data.samples,
      minSpeedupSumRate: Math.min(...sumRows.map((r) => r['speedup'] as number)),
      minBytesRatioSumRate: Math.min(...sumRows.map((r) => r['bytesRatio'] as number)),
      allAgree: rows.every((r) => r['agree']),
      rows,
    }),
  );
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
