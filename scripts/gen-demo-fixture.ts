/**
 * Generates fixtures/demo.om, the data of the README's demo: one hour of HTTP traffic in three
 * datacenters, ending 2025-06-12T12:00:00Z, scraped every 15s, where dc2 serves an elevated rate
 * of 500s over the last 20 minutes (and slower responses with it).
 *
 *   node dist/scripts/gen-demo-fixture.js [output path]
 *
 * Deterministic: a seeded PRNG and arithmetic only (+ - * / and rounding, no Math.random and no
 * transcendental functions), so every run and every Node version writes the same bytes.
 *
 * Shape (kept small: the file is committed):
 *   http_requests_total{datacenter, instance, method, code}: 3 DCs x 2 instances x
 *     (GET 200, GET 500, POST 200) = 18 counters; instance dc3-b restarts at 11:25 (counter reset).
 *   http_request_duration_seconds{datacenter} histogram as measured by each DC's load balancer:
 *     le 0.25, 1, +Inf, plus _sum and _count = 15 series; its counts equal the DC's requests.
 * About 690 KB: 33 series x 241 points. Fewer combinations or buckets shrink it.
 */

import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { labelsFromRecord } from '../src/storage/labels.js';
import { writeOpenMetrics, type MetricType } from '../src/storage/openmetrics.js';
import type { Series } from '../src/storage/queryable.js';
import { gauss, prng, type Rng } from '../src/util/random.js';

export const DEMO_END_MS = Date.UTC(2025, 5, 12, 12, 0, 0);
export const DEMO_STEP_MS = 15_000;
export const DEMO_POINTS = 241; // 11:00:00 ... 12:00:00 inclusive
export const DEMO_INCIDENT_START_MS = DEMO_END_MS - 20 * 60_000;
const RESTART_MS = Date.UTC(2025, 5, 12, 11, 25, 0);

/** A count with mean `mean` and Poisson-like spread, never negative. */
function count(rnd: Rng, mean: number): number {
  return Math.max(0, Math.round(mean + Math.sqrt(mean) * gauss(rnd)));
}

const DCS = ['dc1', 'dc2', 'dc3'] as const;
const INSTANCES = ['a', 'b'] as const;
/** Requests per second per instance at 12:00, by datacenter. */
const BASE_RPS: Record<string, number> = { dc1: 42, dc2: 35, dc3: 27 };
const POST_SHARE = 0.22;
const NORMAL_ERROR_RATIO = 0.004;
const INCIDENT_ERROR_RATIO = 0.085;
const BUCKETS = [0.25, 1] as const;
/** Cumulative share of requests at or under each bucket bound, and the mean latency (s). */
const LATENCY_NORMAL = { cdf: [0.93, 0.995], mean: 0.094 };
const LATENCY_INCIDENT = { cdf: [0.71, 0.962], mean: 0.231 };

export const DEMO_TYPES: Record<string, MetricType> = {
  http_requests: 'counter',
  http_request_duration_seconds: 'histogram',
};
export const DEMO_HELP: Record<string, string> = {
  http_requests: 'HTTP requests served, by status code and method.',
  http_request_duration_seconds: 'HTTP request latency at the datacenter load balancer.',
};

/** The demo's series, in no particular order. */
export function generateDemoSeries(seed = 20250612): Series[] {
  const rnd = prng(seed);
  const times = new Float64Array(DEMO_POINTS);
  for (let i = 0; i < DEMO_POINTS; i++) times[i] = DEMO_END_MS - (DEMO_POINTS - 1 - i) * DEMO_STEP_MS;
  const out: Series[] = [];
  const series = (rec: Record<string, string>, values: Float64Array): void => {
    out.push({ labels: labelsFromRecord(rec), timestamps: times, values });
  };
  for (const dc of DCS) {
    // Requests of the whole DC per step, for the load balancer's histogram.
    const dcRequests = new Float64Array(DEMO_POINTS);
    const dcErrorShare = new Float64Array(DEMO_POINTS);
    for (const inst of INSTANCES) {
      const instance = `${dc}-${inst}`;
      const combos = [
        { method: 'GET', code: '200' },
        { method: 'GET', code: '500' },
        { method: 'POST', code: '200' },
      ];
      const values = combos.map(() => new Float64Array(DEMO_POINTS));
      // Counters began before the window: start at a plausible running total.
      const totals = combos.map((c) => Math.round((c.code === '200' ? 400_000 : 1_500) * (0.5 + rnd())));
      for (let i = 0; i < DEMO_POINTS; i++) {
        const t = times[i]!;
        const restart = dc === 'dc3' && inst === 'b' && t === RESTART_MS;
        if (restart) for (let k = 0; k < totals.length; k++) totals[k] = 0;
        if (i > 0) {
          // Traffic grows slowly towards noon; a little per-instance imbalance.
          const minutesToEnd = (DEMO_END_MS - t) / 60_000;
          const rps = BASE_RPS[dc]! * (1 - minutesToEnd * 0.002) * (inst === 'a' ? 1.04 : 0.96);
          const incident = dc === 'dc2' && t > DEMO_INCIDENT_START_MS;
          const errRatio = incident ? INCIDENT_ERROR_RATIO * (0.9 + 0.2 * rnd()) : NORMAL_ERROR_RATIO * (0.5 + rnd());
          const stepReq = (rps * DEMO_STEP_MS) / 1000;
          const get = stepReq * (1 - POST_SHARE);
          const inc = restart
            ? [0, 0, 0]
            : [count(rnd, get * (1 - errRatio)), count(rnd, get * errRatio), count(rnd, stepReq * POST_SHARE)];
          for (let k = 0; k < inc.length; k++) {
            totals[k]! += inc[k]!;
            dcRequests[i]! += inc[k]!;
          }
          dcErrorShare[i]! += inc[1]!;
        }
        for (let k = 0; k < totals.length; k++) values[k]![i] = totals[k]!;
      }
      combos.forEach((c, k) => series({ __name__: 'http_requests_total', datacenter: dc, instance, method: c.method, code: c.code }, values[k]!));
    }
    // The datacenter's load-balancer histogram (it does not restart).
    const bucketVals = BUCKETS.map(() => new Float64Array(DEMO_POINTS));
    const infVals = new Float64Array(DEMO_POINTS);
    const sumVals = new Float64Array(DEMO_POINTS);
    const cum = BUCKETS.map(() => Math.round(900_000 * (0.95 + 0.1 * rnd())));
    let total = 0;
    let sum = 0;
    {
      // Consistent starting point: buckets cumulative, total above the last bucket.
      cum.sort((a, b) => a - b);
      for (let k = 0; k < cum.length; k++) cum[k] = Math.round(cum[k]! * LATENCY_NORMAL.cdf[k]!);
      total = Math.round(cum[cum.length - 1]! / LATENCY_NORMAL.cdf[cum.length - 1]!);
      sum = Math.round(total * LATENCY_NORMAL.mean * 1000) / 1000;
    }
    for (let i = 0; i < DEMO_POINTS; i++) {
      const n = dcRequests[i]!;
      if (n > 0) {
        const incident = dc === 'dc2' && times[i]! > DEMO_INCIDENT_START_MS;
        const lat = incident ? LATENCY_INCIDENT : LATENCY_NORMAL;
        let prev = 0;
        for (let k = 0; k < BUCKETS.length; k++) {
          const share = Math.min(1, Math.max(0, lat.cdf[k]! + 0.01 * gauss(rnd)));
          const c = Math.max(prev, Math.min(n, Math.round(n * share)));
          cum[k]! += c;
          prev = c;
        }
        total += n;
        sum = Math.round((sum + n * lat.mean * (1 + 0.03 * gauss(rnd))) * 1000) / 1000;
      }
      for (let k = 0; k < BUCKETS.length; k++) bucketVals[k]![i] = cum[k]!;
      infVals[i] = total;
      sumVals[i] = sum;
    }
    const name = 'http_request_duration_seconds';
    BUCKETS.forEach((le, k) => series({ __name__: `${name}_bucket`, datacenter: dc, le: String(le) }, bucketVals[k]!));
    series({ __name__: `${name}_bucket`, datacenter: dc, le: '+Inf' }, infVals);
    series({ __name__: `${name}_count`, datacenter: dc }, infVals);
    series({ __name__: `${name}_sum`, datacenter: dc }, sumVals);
  }
  return out;
}

/** The fixture's text. */
export function renderDemoFixture(seed?: number): string {
  let text = '';
  writeOpenMetrics(generateDemoSeries(seed), (c) => (text += c), { types: DEMO_TYPES, help: DEMO_HELP });
  return text;
}

function main(): void {
  const target = process.argv[2] ?? fileURLToPath(new URL('../../fixtures/demo.om', import.meta.url));
  const text = renderDemoFixture();
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target} (${text.length} bytes)\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
