/**
 * A fleet of real Prometheus servers for the distributed tests (issue 4): the generated SLI data
 * (sli-data.ts) split by its `datacenter` label, one server per datacenter started with
 * `external_labels: {datacenter: <dc>}`, plus a "global" server holding everything, the reference
 * a distributed answer is compared with.
 *
 *   const fleet = await startFleet({ data: { datacenters: 3, instancesPerDc: 2 } });
 *   // fleet.engines: [{ name: 'dc1', url, labels: { datacenter: 'dc1' }, server }, ...]
 *   await fleet.stop();
 *
 * Every series the generator writes carries a `datacenter` label (datacenter_info included);
 * startFleet checks that rather than guessing where an unlabelled series would belong, since a
 * series on no datacenter server would silently make the global reference disagree.
 *
 * `timeSplit` gives one datacenter two servers that share its labels but hold different times,
 * as a store with a recent head and an archive would: `<dc>-archive` has the samples before
 * `atMs + overlapMs`, `<dc>-recent` those from `atMs - overlapMs` on, so the two overlap by
 * `2 * overlapMs` (0 for a clean cut). Their engines carry the bounds (`maxTimeMs`, `minTimeMs`).
 *
 * Each server is backfilled from its own OpenMetrics file (written in chunks, so large data sets
 * never become one string); all start in parallel, and if one fails the others are stopped.
 */

import { mkdtempSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLabels, getLabel } from '../../src/storage/labels.js';
import { writeOpenMetrics } from '../../src/storage/openmetrics.js';
import { lowerBound, type Series } from '../../src/storage/queryable.js';
import { startPrometheus, type PrometheusServer } from './prometheus.js';
import { generateSliData, type SliData, type SliDataOptions } from './sli-data.js';

export interface FleetEngine {
  /** The datacenter, or `<dc>-archive` / `<dc>-recent` for a split datacenter. */
  name: string;
  url: string;
  /** What every series of the engine carries (its external labels). */
  labels: Record<string, string>;
  /** No sample before this time (ms); only set on the recent half of a split datacenter. */
  minTimeMs?: number;
  /** No sample after this time (ms); only set on the archive half of a split datacenter. */
  maxTimeMs?: number;
  server: PrometheusServer;
}

export interface Fleet {
  data: SliData;
  /** All series in one server without external labels; absent with `globalServer: false`. */
  global: PrometheusServer;
  engines: FleetEngine[];
  stop(): Promise<void>;
}

export interface FleetOptions {
  /** Passed to generateSliData. */
  data?: SliDataOptions;
  /**
   * Split this datacenter's history across two servers: `<dc>-archive` holds the samples with
   * t < atMs + overlapMs, `<dc>-recent` those with t >= atMs - overlapMs.
   */
  timeSplit?: { datacenter: string; atMs: number; overlapMs: number };
  /** Start the global server (default true). */
  globalServer?: boolean;
}

/** The series as OpenMetrics text (`# EOF` last), typed as the data set declares. */
export function seriesToOpenMetrics(data: SliData, series: readonly Series[]): string {
  const parts: string[] = [];
  writeOpenMetrics(series, (c) => parts.push(c), { types: data.types, help: data.help });
  return parts.join('');
}

/** The samples of `s` with from <= t < to; undefined when none are left. */
export function sliceSeries(s: Series, fromMs: number, toMs: number): Series | undefined {
  const ts = s.timestamps;
  const lo = lowerBound(ts, fromMs);
  const hi = lowerBound(ts, toMs);
  if (hi <= lo) return undefined;
  return { labels: s.labels, timestamps: ts.slice(lo, hi), values: s.values.slice(lo, hi) };
}


interface ServerSpec {
  name: string;
  series: readonly Series[];
  externalLabels?: Record<string, string>;
  engine?: Omit<FleetEngine, 'url' | 'server'>;
}

/** Generates the data and starts the per-datacenter servers and the global one; all or none. */
export async function startFleet(opts: FleetOptions = {}): Promise<Fleet> {
  const data = generateSliData(opts.data);
  const byDc = new Map<string, Series[]>(data.datacenters.map((dc) => [dc, []]));
  for (const s of data.series) {
    const list = byDc.get(getLabel(s.labels, 'datacenter'));
    if (!list) throw new Error(`startFleet: series without a known datacenter label cannot be placed: ${formatLabels(s.labels)}`);
    list.push(s);
  }

  const split = opts.timeSplit;
  if (split) {
    if (!byDc.has(split.datacenter)) throw new Error(`startFleet: timeSplit: no datacenter "${split.datacenter}" (have ${data.datacenters.join(', ')})`);
    if (!(split.overlapMs >= 0)) throw new Error(`startFleet: timeSplit: overlapMs must be >= 0, got ${split.overlapMs}`);
  }

  const specs: ServerSpec[] = [];
  if (opts.globalServer !== false) specs.push({ name: 'global', series: data.series });
  for (const [dc, series] of byDc) {
    const labels = { datacenter: dc };
    if (split?.datacenter === dc) {
      const archiveEnd = split.atMs + split.overlapMs;
      const recentStart = split.atMs - split.overlapMs;
      const keep = (xs: (Series | undefined)[]) => xs.filter((s): s is Series => s !== undefined);
      specs.push({
        name: `${dc}-archive`,
        series: keep(series.map((s) => sliceSeries(s, -Infinity, archiveEnd))),
        externalLabels: labels,
        engine: { name: `${dc}-archive`, labels, maxTimeMs: archiveEnd - 1 },
      });
      specs.push({
        name: `${dc}-recent`,
        series: keep(series.map((s) => sliceSeries(s, recentStart, Infinity))),
        externalLabels: labels,
        engine: { name: `${dc}-recent`, labels, minTimeMs: recentStart },
      });
    } else {
      specs.push({ name: dc, series, externalLabels: labels, engine: { name: dc, labels } });
    }
  }

  // The input files are only read by promtool during start-up.
  const inputDir = mkdtempSync(join(tmpdir(), 'hmd-fleet-'));
  let settled: PromiseSettledResult<PrometheusServer>[];
  try {
    const files = specs.map((spec, i) => (spec.series.length ? writeInput(data, spec.series, join(inputDir, `${i}.om`)) : undefined));
    // allSettled, not all: a server still starting when another fails must be stopped too.
    settled = await Promise.allSettled(
      specs.map((spec, i) => startPrometheus({ ...(files[i] ? { openMetricsFile: files[i] } : {}), ...(spec.externalLabels ? { externalLabels: spec.externalLabels } : {}) })),
    );
  } finally {
    rmSync(inputDir, { recursive: true, force: true });
  }
  const servers = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async (): Promise<void> => void (await Promise.all(servers.map((s) => s.stop())));
  const failed = settled.findIndex((r) => r.status === 'rejected');
  if (failed >= 0) {
    await stop();
    const reason: unknown = (settled[failed] as PromiseRejectedResult).reason;
    throw new Error(`startFleet: ${specs[failed]!.name}: ${reason instanceof Error ? reason.message : String(reason)}`, { cause: reason });
  }

  const started = settled.map((r) => (r as PromiseFulfilledResult<PrometheusServer>).value);
  const engines: FleetEngine[] = [];
  let global: PrometheusServer | undefined;
  specs.forEach((spec, i) => {
    const server = started[i]!;
    if (spec.engine) engines.push({ ...spec.engine, url: server.url, server });
    else global = server;
  });
  // Typed as present so the common case needs no checks; globalServer: false callers know.
  return { data, global: global as PrometheusServer, engines, stop };
}

function writeInput(data: SliData, series: readonly Series[], path: string): string {
  const fd = openSync(path, 'w');
  try {
    writeOpenMetrics(series, (c) => writeSync(fd, c), { types: data.types, help: data.help, chunkSize: 1 << 20 });
  } finally {
    closeSync(fd);
  }
  return path;
}
