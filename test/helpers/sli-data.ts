/**
 * Deterministic, realistic SLI data for comparing hmd with Prometheus and for benchmarks:
 * HTTP traffic of a fleet of instances in several datacenters, scraped every 15s.
 *
 *   const data = generateSliData({ seed: 1 });
 *   const store = toMemoryStore(data);            // hmd
 *   const text = toOpenMetrics(data);             // promtool tsdb create-blocks-from openmetrics
 *
 * Series (every family can be switched off; sizes are options):
 *   http_requests_total{datacenter, instance, method, code}   counters (no `method` when `methods` is empty)
 *   http_request_duration_seconds_bucket{datacenter, instance, le}, _sum, _count   a classic histogram
 *   node_cpu_utilization{datacenter, instance}   a gauge in (0, 1), full-precision floats (no ties)
 *   app_queue_depth{datacenter, instance}        an integer gauge that often stays the same
 *   up{job="api", datacenter, instance}          1, or 0 while a scrape fails
 *   service_build_info{datacenter, instance, version, revision}   1 (info-style, for group_left)
 *   datacenter_info{datacenter, region}          1 (info-style, one per datacenter)
 *
 * Events (`events: true`, the default), so that resets, gaps and series that come and go are covered:
 *   - the first instance of dc2 (dc1 with one datacenter) is not scraped for 12 minutes from 0.55 of
 *     the span: no samples at all except `up` = 0 (longer than the 5m lookback, so it disappears);
 *   - `code="503"` of the first instance of the last datacenter appears only from 0.6 of the span;
 *   - the last instance of dc1 restarts at 0.65 of the span: its counters and histogram restart from 0;
 *   - the last instance of the last datacenter goes away 18 minutes before the end;
 *   - dc2 has an incident in the last quarter: more 5xx and slower responses.
 *
 * Timestamps are off the grid: scrape k of an instance is at start + k*interval + phase + jitter,
 * where the phase (250..649 ms, per instance) and the jitter (0..199 ms) keep every sample's
 * millisecond part in 250..848, so with an interval in whole seconds no sample ever falls on a
 * whole second. Query times and window boundaries on whole seconds then never coincide with a
 * sample, which is where Prometheus 2.x (left-closed windows) and 3.x (left-open) would differ.
 *
 * Determinism: a seeded PRNG and + - * / and rounding only (no Math.random, no transcendental
 * functions), so the same options give the same bytes on every run and Node version.
 */

import { labelsFromRecord } from '../../src/storage/labels.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { writeOpenMetrics, type MetricType } from '../../src/storage/openmetrics.js';
import type { Series } from '../../src/storage/queryable.js';
import { gauss, prng } from '../../src/util/random.js';

export interface SliDataOptions {
  /** PRNG seed (default 20250612). */
  seed?: number;
  /** Start of the first scrape interval, ms (default 2025-06-12T10:00:00Z); a whole second. */
  startMs?: number;
  /** Span of the data, ms (default 2h10m). */
  durationMs?: number;
  /** Scrape interval, ms, whole seconds (default 15s). */
  scrapeIntervalMs?: number;
  /** Number of datacenters, named dc1, dc2, ... (default 3). */
  datacenters?: number;
  /** Instances per datacenter, named dc1-a, dc1-b, ... (default 3). */
  instancesPerDc?: number;
  /** Status codes (default 200, 404, 500, 503). */
  codes?: readonly string[];
  /** Methods (default GET, POST); empty: no `method` label. */
  methods?: readonly string[];
  /** Finite histogram bucket bounds, ascending; +Inf is added (default 0.05 ... 5, 7 bounds). Empty: no histogram. */
  buckets?: readonly number[];
  /** Write the histogram's `_sum` and `_count` (default true). */
  histogramSumCount?: boolean;
  /** node_cpu_utilization and app_queue_depth (default true). */
  gauges?: boolean;
  /** service_build_info and datacenter_info (default true). */
  info?: boolean;
  /** up (default true). */
  up?: boolean;
  /** The reset, gap, late series, departure and incident described above (default true). */
  events?: boolean;
}

/** When the events happen (ms); undefined when that event is off or the fleet is too small. */
export interface SliEvents {
  reset?: { instance: string; atMs: number };
  gap?: { instance: string; fromMs: number; toMs: number };
  lateSeries?: { instance: string; code: string; fromMs: number };
  departure?: { instance: string; atMs: number };
  incident?: { datacenter: string; fromMs: number };
}

export interface SliData {
  readonly series: Series[];
  /** OpenMetrics types by family name, for writeOpenMetrics. */
  readonly types: Readonly<Record<string, MetricType>>;
  readonly help: Readonly<Record<string, string>>;
  /** First and last sample timestamps, ms. */
  readonly minMs: number;
  readonly maxMs: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly datacenters: readonly string[];
  readonly instances: readonly { datacenter: string; instance: string }[];
  readonly events: SliEvents;
  readonly samples: number;
}

export const SLI_DEFAULT_START_MS = Date.UTC(2025, 5, 12, 10, 0, 0);



/** A count with mean `mean` and a Poisson-like spread, never negative. */
function count(rnd: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean < 4) {
    // Small means: a sum of Bernoulli draws keeps zeros frequent, as real error counts are.
    let n = 0;
    const k = Math.ceil(mean * 4);
    for (let i = 0; i < k; i++) if (rnd() < mean / k) n++;
    return n;
  }
  return Math.max(0, Math.round(mean + Math.sqrt(mean) * gauss(rnd)));
}

const clamp = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x);

/** Share of requests at or under `le` seconds when the median latency is `m`: a log-logistic CDF of shape 2. */
function latencyCdf(le: number, m: number): number {
  return (le * le) / (le * le + m * m);
}

/** Letters for instance names: a..z, then aa, ab, ... */
function instanceSuffix(i: number): string {
  let s = '';
  let n = i;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return s;
}

const CODE_SHARE: Record<string, number> = { '200': 0.93, '201': 0.03, '204': 0.01, '301': 0.005, '404': 0.02, '429': 0.004, '500': 0.004, '502': 0.001, '503': 0.002 };
const INCIDENT_CODE_SHARE: Record<string, number> = { '500': 0.06, '502': 0.01, '503': 0.03 };
const METHOD_SHARE: Record<string, number> = { GET: 0.78, POST: 0.18, PUT: 0.03, DELETE: 0.01 };

/** Generates the data set; see the file comment. */
export function generateSliData(opts: SliDataOptions = {}): SliData {
  const seed = opts.seed ?? 20250612;
  const startMs = opts.startMs ?? SLI_DEFAULT_START_MS;
  const durationMs = opts.durationMs ?? (2 * 60 + 10) * 60_000;
  const interval = opts.scrapeIntervalMs ?? 15_000;
  if (interval % 1000 !== 0 || interval <= 0) throw new Error('scrapeIntervalMs must be a positive whole number of seconds');
  if (startMs % 1000 !== 0) throw new Error('startMs must be a whole second');
  const nDc = opts.datacenters ?? 3;
  const perDc = opts.instancesPerDc ?? 3;
  const codes = opts.codes ?? ['200', '404', '500', '503'];
  const methods = opts.methods ?? ['GET', 'POST'];
  const buckets = opts.buckets ?? [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  const sumCount = opts.histogramSumCount ?? true;
  const gauges = opts.gauges ?? true;
  const info = opts.info ?? true;
  const withUp = opts.up ?? true;
  const events = opts.events ?? true;
  const scrapes = Math.floor(durationMs / interval) + 1;
  const endMs = startMs + durationMs;
  const rnd = prng(seed);

  const dcs = Array.from({ length: nDc }, (_, i) => `dc${i + 1}`);
  const fleet: { datacenter: string; instance: string; d: number; i: number }[] = [];
  dcs.forEach((dc, d) => {
    for (let i = 0; i < perDc; i++) fleet.push({ datacenter: dc, instance: `${dc}-${instanceSuffix(i)}`, d, i });
  });

  const ev: SliEvents = {};
  const at = (fraction: number) => startMs + Math.round((durationMs * fraction) / 1000) * 1000;
  if (events && fleet.length > 0) {
    const dc1 = fleet.filter((f) => f.d === 0);
    if (dc1.length > 1) ev.reset = { instance: dc1[dc1.length - 1]!.instance, atMs: at(0.65) };
    const gapInst = (fleet.find((f) => f.d === 1) ?? fleet[0]!).instance;
    if (gapInst !== ev.reset?.instance) ev.gap = { instance: gapInst, fromMs: at(0.55), toMs: at(0.55) + 12 * 60_000 };
    const last = fleet.filter((f) => f.d === nDc - 1);
    if (codes.includes('503') && last.length > 0 && last[0]!.instance !== gapInst) {
      ev.lateSeries = { instance: last[0]!.instance, code: '503', fromMs: at(0.6) };
    }
    if (last.length > 1 && fleet.length > 2) ev.departure = { instance: last[last.length - 1]!.instance, atMs: endMs - 18 * 60_000 };
    if (nDc > 1) ev.incident = { datacenter: 'dc2', fromMs: at(0.75) };
  }

  const out: Series[] = [];
  let samples = 0;
  const push = (rec: Record<string, string>, ts: Float64Array, vs: Float64Array) => {
    if (ts.length === 0) return;
    out.push({ labels: labelsFromRecord(rec), timestamps: ts, values: vs });
    samples += ts.length;
  };
  /** Requests per second of one instance at the span's end, by datacenter. */
  const baseRps = dcs.map((_, d) => 30 + ((d * 17) % 23) + 10 * rnd());
  const leStrings = buckets.map((b) => String(b));

  let minMs = Infinity;
  let maxMs = -Infinity;
  for (const f of fleet) {
    const { datacenter, instance } = f;
    const phase = 250 + ((f.d * 131 + f.i * 57 + (seed % 97)) % 400);
    // Scrape times, and which of them succeed.
    const allTs: number[] = [];
    const okTs: number[] = [];
    for (let k = 0; k < scrapes; k++) {
      const t = startMs + k * interval + phase + Math.floor(rnd() * 200);
      if (ev.departure?.instance === instance && t >= ev.departure.atMs) break;
      allTs.push(t);
      if (ev.gap?.instance === instance && t >= ev.gap.fromMs && t < ev.gap.toMs) continue;
      okTs.push(t);
    }
    if (allTs.length === 0) continue;
    minMs = Math.min(minMs, allTs[0]!);
    maxMs = Math.max(maxMs, allTs[allTs.length - 1]!);
    const ts = Float64Array.from(okTs);
    const n = ts.length;
    const restartIdx = ev.reset?.instance === instance ? okTs.findIndex((t) => t >= ev.reset!.atMs) : -1;
    const imbalance = 0.9 + 0.2 * rnd();

    // Requests: per (method, code) counters, and the instance's requests per scrape for the histogram.
    const combos: { method?: string; code: string; share: number }[] = [];
    const mList = methods.length ? methods : [undefined];
    for (const m of mList) for (const c of codes) combos.push({ method: m, code: c, share: (m ? (METHOD_SHARE[m] ?? 0.05) : 1) * (CODE_SHARE[c] ?? 0.01) });
    const perScrape = new Float64Array(n);
    const incidentShare = new Float64Array(n);
    const counters = combos.map((c) => {
      const vs = new Float64Array(n);
      let total = Math.round((c.code === '200' ? 2e5 : 2e3) * c.share * (5 + 10 * rnd()) * 10);
      let from = 0;
      for (let j = 0; j < n; j++) {
        const t = okTs[j]!;
        if (j === restartIdx) total = 0;
        if (j > 0) {
          const elapsed = (t - okTs[j - 1]!) / 1000;
          // Traffic climbs towards the end of the span, with a slow wave.
          const pos = (t - startMs) / durationMs;
          const wave = 1 + 0.15 * (pos * 2 - 1) + 0.05 * (((j % 40) - 20) / 20);
          const incident = ev.incident?.datacenter === datacenter && t >= ev.incident.fromMs;
          let share = c.share;
          if (incident && INCIDENT_CODE_SHARE[c.code] !== undefined) share = (methods.length ? (METHOD_SHARE[c.method!] ?? 0.05) : 1) * INCIDENT_CODE_SHARE[c.code]!;
          const inc = j === restartIdx ? count(rnd, baseRps[f.d]! * imbalance * wave * share * 3) : count(rnd, baseRps[f.d]! * imbalance * wave * share * elapsed);
          total += inc;
          perScrape[j]! += inc;
          if (incident) incidentShare[j] = 1;
        }
        vs[j] = total;
      }
      if (ev.lateSeries && ev.lateSeries.instance === instance && ev.lateSeries.code === c.code) {
        from = okTs.findIndex((t) => t >= ev.lateSeries!.fromMs);
        if (from < 0) from = n;
      }
      return { c, vs, from };
    });
    for (const { c, vs, from } of counters) {
      const rec: Record<string, string> = { __name__: 'http_requests_total', datacenter, instance, code: c.code };
      if (c.method) rec['method'] = c.method;
      if (from > 0) {
        // The series only starts now: rebase it to count from a small number.
        const base = vs[from]! - Math.round(vs[from]! * 0.0001);
        const vv = vs.slice(from);
        for (let j = 0; j < vv.length; j++) vv[j] = Math.max(0, vv[j]! - base);
        push(rec, ts.slice(from), vv);
      } else push(rec, ts, vs);
    }

    // Latency histogram of the instance.
    if (buckets.length > 0) {
      const cum = buckets.map(() => new Float64Array(n));
      const inf = new Float64Array(n);
      const sum = new Float64Array(n);
      const start = Math.round(5e5 * (0.5 + rnd()));
      const c0 = buckets.map((le) => Math.round(start * latencyCdf(le, 0.12)));
      let cnt = start;
      let s = Math.round(start * 0.16 * 1000) / 1000;
      const run = c0.slice();
      for (let j = 0; j < n; j++) {
        if (j === restartIdx) {
          run.fill(0);
          cnt = 0;
          s = 0;
        }
        const req = perScrape[j]!;
        if (req > 0) {
          const m = incidentShare[j] ? 0.3 : 0.12;
          let prev = 0;
          for (let k = 0; k < buckets.length; k++) {
            const share = clamp(latencyCdf(buckets[k]!, m) + 0.01 * gauss(rnd), 0, 1);
            const c = Math.max(prev, Math.min(req, Math.round(req * share)));
            run[k]! += c;
            prev = c;
          }
          cnt += req;
          s = Math.round((s + req * m * 1.3 * (1 + 0.03 * gauss(rnd))) * 1000) / 1000;
        }
        for (let k = 0; k < buckets.length; k++) cum[k]![j] = run[k]!;
        inf[j] = cnt;
        sum[j] = s;
      }
      const name = 'http_request_duration_seconds';
      buckets.forEach((_, k) => push({ __name__: `${name}_bucket`, datacenter, instance, le: leStrings[k]! }, ts, cum[k]!));
      push({ __name__: `${name}_bucket`, datacenter, instance, le: '+Inf' }, ts, inf);
      if (sumCount) {
        push({ __name__: `${name}_count`, datacenter, instance }, ts, inf.slice());
        push({ __name__: `${name}_sum`, datacenter, instance }, ts, sum);
      }
    }

    if (gauges) {
      const cpu = new Float64Array(n);
      const depth = new Float64Array(n);
      let u = 0.2 + 0.5 * rnd();
      let q = Math.floor(rnd() * 6);
      for (let j = 0; j < n; j++) {
        u = clamp(u + 0.03 * gauss(rnd), 0.02, 0.98);
        // Full-precision floats: no two series share a value, so topk/bottomk have no ties.
        cpu[j] = u + rnd() * 1e-6;
        const r = rnd();
        if (r < 0.2) q = Math.min(20, q + 1);
        else if (r < 0.4) q = Math.max(0, q - 1);
        depth[j] = q;
      }
      push({ __name__: 'node_cpu_utilization', datacenter, instance }, ts, cpu);
      push({ __name__: 'app_queue_depth', datacenter, instance }, ts, depth);
    }

    if (withUp) {
      const upTs = Float64Array.from(allTs);
      const upVs = new Float64Array(allTs.length);
      for (let j = 0; j < allTs.length; j++) upVs[j] = ev.gap?.instance === instance && allTs[j]! >= ev.gap.fromMs && allTs[j]! < ev.gap.toMs ? 0 : 1;
      push({ __name__: 'up', job: 'api', datacenter, instance }, upTs, upVs);
    }

    if (info) {
      const version = f.i % 3 === 2 ? 'v1.5.0' : 'v1.4.2';
      const revision = version === 'v1.5.0' ? '9f2c1e7' : '3ab41d0';
      push({ __name__: 'service_build_info', datacenter, instance, version, revision }, ts, new Float64Array(n).fill(1));
    }
  }

  if (info) {
    dcs.forEach((dc, d) => {
      const ts = new Float64Array(scrapes);
      for (let k = 0; k < scrapes; k++) ts[k] = startMs + k * interval + 500 + ((d * 37) % 300);
      push({ __name__: 'datacenter_info', datacenter: dc, region: d % 2 === 0 ? 'eu-west' : 'us-east' }, ts, new Float64Array(scrapes).fill(1));
      minMs = Math.min(minMs, ts[0]!);
      maxMs = Math.max(maxMs, ts[scrapes - 1]!);
    });
  }

  const types: Record<string, MetricType> = {
    http_requests: 'counter',
    http_request_duration_seconds: 'histogram',
    node_cpu_utilization: 'gauge',
    app_queue_depth: 'gauge',
    up: 'gauge',
    service_build_info: 'gauge',
    datacenter_info: 'gauge',
  };
  const help: Record<string, string> = {
    http_requests: 'HTTP requests served, by status code and method.',
    http_request_duration_seconds: 'HTTP request latency.',
    node_cpu_utilization: 'CPU utilisation of the node, 0 to 1.',
    app_queue_depth: 'Requests waiting in the application queue.',
    up: 'Whether the last scrape succeeded.',
    service_build_info: 'Build of the running service.',
    datacenter_info: 'Datacenter metadata.',
  };
  return {
    series: out,
    types,
    help,
    minMs,
    maxMs,
    startMs,
    endMs,
    datacenters: dcs,
    instances: fleet.map(({ datacenter, instance }) => ({ datacenter, instance })),
    events: ev,
    samples,
  };
}

/** The data as OpenMetrics text (`# EOF` last), as promtool's backfill reads it. */
export function toOpenMetrics(data: SliData): string {
  const parts: string[] = [];
  writeOpenMetrics(data.series, (c) => parts.push(c), { types: data.types, help: data.help });
  return parts.join('');
}

/** Writes the data as OpenMetrics through `write` in chunks (for data too large for one string). */
export function writeSliOpenMetrics(data: SliData, write: (chunk: string) => void): void {
  writeOpenMetrics(data.series, write, { types: data.types, help: data.help, chunkSize: 1 << 20 });
}

/** Loads the data into a MemoryStore (a new one unless given). */
export function toMemoryStore(data: SliData, store: MemoryStore = new MemoryStore()): MemoryStore {
  // The values are never staleness markers, so plain appends keep them exact.
  for (const s of data.series) {
    const { labels, timestamps: ts, values: vs } = s;
    for (let i = 0; i < ts.length; i++) store.append(labels, ts[i]!, vs[i]!);
  }
  return store;
}
