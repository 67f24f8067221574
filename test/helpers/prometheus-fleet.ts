/**
 * A fleet of real Prometheus servers for the distributed tests and benchmark: one per
 * datacenter holding only that datacenter's series, started with `external_labels`
 * {datacenter: <dc>}, and optionally a global server holding everything (the reference).
 */

import { getLabel } from '../../src/storage/labels.js';
import { writeOpenMetrics } from '../../src/storage/openmetrics.js';
import type { Series } from '../../src/storage/queryable.js';
import { startPrometheus, type PrometheusServer } from './prometheus.js';
import type { SliData } from './sli-data.js';

export interface FleetEngine {
  name: string;
  url: string;
  labels: Record<string, string>;
  server: PrometheusServer;
}

export interface PrometheusFleet {
  engines: FleetEngine[];
  /** All the data in one server; undefined when not asked for. */
  global: PrometheusServer | undefined;
  stop(): Promise<void>;
}

/** The series as OpenMetrics text, typed as the data set declares. */
export function seriesOpenMetrics(data: SliData, series: readonly Series[]): string {
  const parts: string[] = [];
  writeOpenMetrics(series, (c) => parts.push(c), { types: data.types, help: data.help, chunkSize: 1 << 20 });
  return parts.join('');
}

/** Starts one server per datacenter (and a global one), in parallel; all or none. */
export async function startPrometheusFleet(data: SliData, opts: { global?: boolean } = {}): Promise<PrometheusFleet> {
  for (const s of data.series) if (getLabel(s.labels, 'datacenter') === '') throw new Error('every series needs a datacenter label to be placed');
  const started: PrometheusServer[] = [];
  const start = async (series: readonly Series[], externalLabels?: Record<string, string>): Promise<PrometheusServer> => {
    const s = await startPrometheus({ openMetrics: seriesOpenMetrics(data, series), ...(externalLabels ? { externalLabels } : {}) });
    started.push(s);
    return s;
  };
  try {
    const [global, ...servers] = await Promise.all([
      opts.global === false ? Promise.resolve(undefined) : start(data.series),
      ...data.datacenters.map((dc) => start(data.series.filter((s) => getLabel(s.labels, 'datacenter') === dc), { datacenter: dc })),
    ]);
    const engines = data.datacenters.map((dc, i) => ({ name: dc, url: servers[i]!.url, labels: { datacenter: dc }, server: servers[i]! }));
    return { engines, global, stop: async () => void (await Promise.all(started.map((s) => s.stop()))) };
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
}
