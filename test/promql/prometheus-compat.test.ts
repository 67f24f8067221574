/**
 * hmd against the real Prometheus: the same generated SLI data (test/helpers/sli-data.ts) goes
 * into hmd's MemoryStore and, through `promtool tsdb create-blocks-from openmetrics`, into a
 * Prometheus started on 127.0.0.1; then each expression below is evaluated by both, as instant
 * queries at five times and as two range queries (1m steps over an hour, 2m steps over 1h40m),
 * and the answers must be equal: the same result type, the same series (by label set), the same
 * points, values equal within a relative 1e-9 (absolute 1e-12 near zero; NaN equals NaN).
 * `sort`/`sort_desc` must also give the same order of values. Error cases must fail in both with
 * the same errorType. A mismatch names the expression, the mode and time, the series missing from
 * or extra in hmd, and each differing series' first differing point.
 *
 * The reference is Debian's Prometheus 2.42, while hmd follows Prometheus 3. What differs between
 * the two is kept out of the way:
 *   - 3.x range windows, lookback windows and subquery ranges are left-open, 2.x left-closed: no
 *     sample sits on a whole second (see sli-data.ts); every query evaluation time is a whole
 *     minute, and subquery ranges are not multiples of their step (`[30m30s:1m]`, `[10m15s:30s]`),
 *     so that no subquery step (aligned to multiples of the step since the epoch) lands on a
 *     window's left edge;
 *   - functions 2.42 lacks (limitk, limit_ratio, sort_by_label*, mad_over_time,
 *     double_exponential_smoothing, first_over_time, ts_of_*, info) and holt_winters (renamed in
 *     3.x) are not compared;
 *   - 2.42 sums without Kahan compensation, hence the relative tolerance;
 *   - 2.42 keeps the metric name on `atan2` (fixed in 2.46): atan2 is compared inside a function
 *     or aggregation that drops the name anyway;
 *   - annotations (warnings/infos) and query stats are not compared: 2.42 has few annotations.
 *
 * Skipped when the prometheus/promtool binaries are missing, except under CI=true (a failure).
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Engine as EngineClass } from '../../src/promql/engine.js';
import type { QueryValue } from '../../src/promql/result.js';
import { formatLabels, labelsKey, type Labels } from '../../src/storage/labels.js';
import type { MemoryStore } from '../../src/storage/memory.js';
import { havePrometheus, prometheusTest, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { generateSliData, toMemoryStore, toOpenMetrics, type SliData } from '../helpers/sli-data.js';

// --- the data and the query times -------------------------------------------------------------

const START = Date.UTC(2025, 5, 12, 10, 0, 0);
const at = (h: number, m: number) => Date.UTC(2025, 5, 12, h, m, 0);
/**
 * 10:00 to 12:10. The events fall inside the range query: dc2-a is not scraped 11:11:30-11:23:30,
 * dc3-a's code="503" series starts at 11:18, dc1-c restarts at 11:24:30, dc2's incident starts at
 * 11:37:30 and dc3-c goes away at 11:52.
 */
const DATA_OPTS = { seed: 20250612, startMs: START, durationMs: 130 * 60_000 } as const;
/** Instant query times: near the start of the data, before the events, in the gap, after the reset, at the end. */
const INSTANTS = [at(10, 3), at(11, 0), at(11, 20), at(11, 45), at(12, 0)];
/**
 * Range queries: 1m steps over the hour of the events; 2m steps from 10:30 to the end of the data.
 * Every evaluation time must be a whole minute (see the file comment on subqueries).
 */
const RANGES = [
  { start: at(11, 0), end: at(12, 0), step: 60_000 },
  { start: at(10, 30), end: at(12, 10), step: 120_000 },
];

// --- the cases --------------------------------------------------------------------------------

interface Case {
  expr: string;
  /** 'instant': only instant queries (e.g. a range vector result). Default: both. */
  mode?: 'both' | 'instant' | 'range';
  /** The result is empty in every mode (otherwise Prometheus must return something somewhere). */
  empty?: boolean;
  /** Instant results must list values in the same order (sort, sort_desc). */
  ordered?: boolean;
}

interface ErrorCase {
  expr: string;
  errorType: string;
  mode?: 'both' | 'instant' | 'range';
  /** Range query times other than RANGES. */
  range?: { start: number; end: number; step: number };
}

const CASES: Case[] = [
  // Selectors: the four matcher types, __name__ regex, offset, @.
  { expr: 'http_requests_total' },
  { expr: 'http_requests_total{datacenter="dc1"}' },
  { expr: 'http_requests_total{code!="200"}' },
  { expr: 'http_requests_total{code=~"5.."}' },
  { expr: 'http_requests_total{instance!~"dc1-.*", method="POST"}' },
  { expr: '{__name__=~"http_request_duration_seconds_(sum|count)"}' },
  { expr: '{__name__=~"node_.+|app_.+", datacenter!="dc2"}' },
  { expr: '{__name__="up", job="api"}' },
  { expr: 'http_requests_total{code="200"} offset 10m' },
  { expr: 'http_requests_total{code="500"} offset -5m' },
  { expr: 'node_cpu_utilization offset 1m30s' },
  { expr: 'http_requests_total{code="200"} @ 1749726000' },
  { expr: 'node_cpu_utilization @ start()' },
  { expr: 'node_cpu_utilization @ end() offset 5m' },
  { expr: 'rate(http_requests_total{code="200"}[5m] @ 1749728700)' },
  { expr: 'http_requests_total{code="404"}[5m]', mode: 'instant' },
  { expr: 'node_cpu_utilization[2m] offset 1m', mode: 'instant' },
  { expr: 'up[3m] @ 1749727200', mode: 'instant' },

  // Aggregations.
  { expr: 'sum(http_requests_total)' },
  { expr: 'sum by (datacenter) (rate(http_requests_total[5m]))' },
  { expr: 'sum without (instance, method) (rate(http_requests_total[5m]))' },
  { expr: 'avg by (code) (rate(http_requests_total[5m]))' },
  { expr: 'avg without (instance) (app_queue_depth)' },
  { expr: 'min by (datacenter) (node_cpu_utilization)' },
  { expr: 'max without (instance) (node_cpu_utilization)' },
  { expr: 'count by (datacenter, code) (http_requests_total)' },
  { expr: 'count(up == 0)' },
  { expr: 'group by (datacenter, version) (service_build_info)' },
  { expr: 'stddev by (datacenter) (node_cpu_utilization)' },
  { expr: 'stdvar(rate(http_requests_total{code="200"}[5m]))' },
  { expr: 'topk(3, rate(http_requests_total{code="200"}[5m]))' },
  { expr: 'bottomk by (datacenter) (1, node_cpu_utilization)' },
  { expr: 'topk(2, sum by (instance) (rate(http_requests_total[5m])))' },
  { expr: 'topk(scalar(count(datacenter_info)), node_cpu_utilization)' },
  { expr: 'quantile(0.9, node_cpu_utilization)' },
  { expr: 'quantile by (datacenter) (0.5, rate(http_requests_total{code="200"}[5m]))' },
  { expr: 'quantile(1.5, node_cpu_utilization)' },
  { expr: 'count_values("depth", app_queue_depth)' },
  { expr: 'count_values by (datacenter) ("depth", app_queue_depth)' },
  { expr: 'sum by (le) (rate(http_request_duration_seconds_bucket[5m]))' },
  { expr: 'max by (__name__) ({__name__=~"node_cpu_utilization|app_queue_depth"})' },

  // Binary operators: arithmetic, comparison (with and without bool), matching, set operators.
  { expr: 'http_requests_total{code="500"} / ignoring(code) http_requests_total{code="200"}' },
  {
    expr:
      'sum by (datacenter, instance) (rate(http_requests_total{code=~"5.."}[5m])) / on(datacenter, instance) sum by (datacenter, instance) (rate(http_requests_total[5m]))',
  },
  { expr: 'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (datacenter) (rate(http_requests_total[5m]))' },
  { expr: 'rate(http_requests_total[5m]) / on(datacenter, instance) group_left() sum by (datacenter, instance) (rate(http_requests_total[5m]))' },
  { expr: 'sum by (datacenter, instance) (rate(http_requests_total[5m])) * on(datacenter, instance) group_left(version, revision) service_build_info' },
  { expr: 'service_build_info * on(datacenter, instance) group_right(version) rate(http_requests_total{code="200"}[5m])' },
  { expr: 'sum by (datacenter) (rate(http_requests_total[5m])) * on(datacenter) group_left(region) datacenter_info' },
  { expr: '2 * node_cpu_utilization - 0.5' },
  { expr: 'node_cpu_utilization + 1' },
  { expr: 'node_cpu_utilization % 0.3' },
  { expr: 'node_cpu_utilization ^ 2' },
  { expr: '-node_cpu_utilization ^ 2' },
  { expr: '1 / app_queue_depth' },
  { expr: 'node_cpu_utilization / app_queue_depth' },
  // 2.42 keeps the metric name on atan2 (fixed in 2.46, prometheus/prometheus#12595); hmd drops it as
  // 3.x does. Wrapping in a name-dropping function (or an aggregation) compares the values only.
  { expr: 'abs(node_cpu_utilization atan2 0.5)' },
  { expr: 'sum by (datacenter, instance) (app_queue_depth atan2 node_cpu_utilization)' },
  { expr: '(1 + 2) * 3 - 4 / 2 % 3 ^ 2' },
  { expr: '1 < bool 2' },
  { expr: 'node_cpu_utilization > 0.5' },
  { expr: 'node_cpu_utilization > bool 0.5' },
  { expr: '0.5 < node_cpu_utilization' },
  { expr: 'node_cpu_utilization <= bool 0.4' },
  { expr: 'rate(http_requests_total{code="200"}[5m]) >= 5' },
  { expr: 'rate(http_requests_total{code="200"}[5m]) < 5' },
  { expr: 'app_queue_depth == 3' },
  { expr: 'app_queue_depth != bool 0' },
  { expr: 'up == bool 0' },
  { expr: 'node_cpu_utilization > on(datacenter, instance) node_cpu_utilization offset 5m' },
  { expr: 'http_requests_total{code="200"} and on(datacenter, instance) (node_cpu_utilization > 0.5)' },
  { expr: 'node_cpu_utilization > 0.7 or app_queue_depth > 10' },
  { expr: 'up unless on(instance) (node_cpu_utilization < 0.3)' },
  { expr: 'rate(http_requests_total[5m]) unless ignoring(code, method) (app_queue_depth > 5)' },
  {
    expr:
      'sum by (datacenter) (rate(http_requests_total{code="503"}[5m])) or on(datacenter) (0 * sum by (datacenter) (rate(http_requests_total[5m])))',
  },
  { expr: 'vector(1) and on() (count(up == 0) > 0)' },
  { expr: '(node_cpu_utilization > 0.3) or vector(0)' },

  // Functions: counters and gauges over ranges.
  { expr: 'rate(http_requests_total[5m])' },
  { expr: 'irate(http_requests_total{code="200"}[1m])' },
  { expr: 'increase(http_requests_total{code="500"}[10m])' },
  { expr: 'increase(http_request_duration_seconds_count[1h])' },
  { expr: 'delta(node_cpu_utilization[10m])' },
  { expr: 'idelta(app_queue_depth[2m])' },
  { expr: 'deriv(node_cpu_utilization[15m])' },
  { expr: 'predict_linear(node_cpu_utilization[15m], 600)' },
  { expr: 'resets(http_requests_total{code="200"}[30m])' },
  { expr: 'changes(app_queue_depth[10m])' },
  { expr: 'avg_over_time(node_cpu_utilization[10m])' },
  { expr: 'min_over_time(node_cpu_utilization[10m])' },
  { expr: 'max_over_time(app_queue_depth[10m])' },
  { expr: 'sum_over_time(app_queue_depth[5m])' },
  { expr: 'count_over_time(up[10m])' },
  { expr: 'quantile_over_time(0.95, node_cpu_utilization[30m])' },
  { expr: 'quantile_over_time(0.5, rate(http_requests_total{code="200"}[5m])[20m30s:1m])' },
  { expr: 'stddev_over_time(node_cpu_utilization[20m])' },
  { expr: 'stdvar_over_time(app_queue_depth[20m])' },
  { expr: 'last_over_time(http_requests_total{code="503"}[15m])' },
  { expr: 'present_over_time(http_requests_total{code="503"}[10m])' },
  { expr: 'absent_over_time(http_requests_total{instance="dc2-a", code="200"}[3m])' },
  { expr: 'absent_over_time(nonexistent_metric{job="x"}[5m])' },

  // Histograms.
  { expr: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))' },
  { expr: 'histogram_quantile(0.5, sum by (datacenter, le) (rate(http_request_duration_seconds_bucket[5m])))' },
  { expr: 'histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[10m]))' },
  { expr: 'histogram_quantile(0.75, http_request_duration_seconds_bucket)' },
  { expr: 'rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])' },

  // Labels.
  { expr: 'label_replace(up, "host", "$1", "instance", "(.*)-.*")' },
  { expr: 'label_replace(rate(http_requests_total{code="200"}[5m]), "class", "${1}xx", "code", "([0-9]).*")' },
  { expr: 'label_replace(up, "job", "", "", "")' },
  { expr: 'label_join(up, "where", "/", "datacenter", "instance")' },

  // Maths.
  { expr: 'clamp(node_cpu_utilization, 0.3, 0.6)' },
  { expr: 'clamp(node_cpu_utilization, 0.6, 0.3)', empty: true },
  { expr: 'clamp_min(node_cpu_utilization, 0.4)' },
  { expr: 'clamp_max(node_cpu_utilization, 0.4)' },
  { expr: 'abs(node_cpu_utilization - 0.5)' },
  { expr: 'ceil(node_cpu_utilization * 10)' },
  { expr: 'floor(node_cpu_utilization * 10)' },
  { expr: 'round(node_cpu_utilization * 10)' },
  { expr: 'round(node_cpu_utilization, 0.05)' },
  { expr: 'exp(node_cpu_utilization)' },
  { expr: 'ln(app_queue_depth)' },
  { expr: 'log2(app_queue_depth)' },
  { expr: 'log10(rate(http_requests_total[5m]))' },
  { expr: 'sqrt(app_queue_depth)' },
  { expr: 'sgn(node_cpu_utilization - 0.5)' },
  { expr: 'sin(node_cpu_utilization) + cos(node_cpu_utilization) * tan(node_cpu_utilization)' },
  { expr: 'asin(node_cpu_utilization) - acos(node_cpu_utilization) + atan(app_queue_depth)' },
  { expr: 'sinh(node_cpu_utilization) + cosh(node_cpu_utilization) - tanh(app_queue_depth)' },
  { expr: 'asinh(app_queue_depth)' },
  { expr: 'acosh(app_queue_depth)' },
  { expr: 'atanh(node_cpu_utilization)' },
  { expr: 'deg(node_cpu_utilization) + rad(app_queue_depth)' },
  { expr: 'pi()' },

  // Time.
  { expr: 'time()' },
  { expr: 'timestamp(node_cpu_utilization)' },
  { expr: 'timestamp(up offset 2m)' },
  { expr: 'year()' },
  { expr: 'month() + day_of_month() + day_of_week() + hour() + minute() + days_in_month()' },
  { expr: 'day_of_year()' },
  { expr: 'hour(timestamp(up))' },
  { expr: 'minute(timestamp(node_cpu_utilization offset 1h))' },
  { expr: 'days_in_month(vector(1709251200))' },

  // absent, scalar, vector, sort.
  { expr: 'absent(up)', empty: true },
  { expr: 'absent(nonexistent{job="x", env="prod"})' },
  { expr: 'absent(nonexistent{job=~"x.*"})' },
  { expr: 'scalar(sum(up))' },
  { expr: 'scalar(up)' },
  { expr: 'vector(scalar(count(up)))' },
  { expr: 'sort(node_cpu_utilization)', ordered: true },
  { expr: 'sort_desc(sum by (datacenter) (rate(http_requests_total[5m])))', ordered: true },

  // Subqueries (ranges are not multiples of the step: see the file comment).
  { expr: 'max_over_time(rate(http_requests_total{code="200"}[5m])[30m30s:1m])' },
  { expr: 'avg_over_time(sum by (datacenter) (rate(http_requests_total[5m]))[10m30s:])' },
  { expr: 'rate(http_requests_total{code="200"}[5m15s:30s])' },
  { expr: 'max_over_time(deriv(node_cpu_utilization[5m])[20m30s:2m])' },
  { expr: 'min_over_time(rate(http_requests_total{code="500"}[5m])[10m30s:1m] offset 5m)' },
  { expr: 'max_over_time(node_cpu_utilization[10m30s:1m] @ 1749727800)' },
  { expr: 'max_over_time(avg_over_time(node_cpu_utilization[5m])[15m30s:1m])' },
  { expr: 'quantile_over_time(0.5, sum(rate(http_requests_total[5m]))[30m30s:2m])' },
  { expr: 'sum(rate(http_requests_total[5m]))[5m30s:1m]', mode: 'instant' },
  { expr: 'max_over_time(max_over_time(rate(http_requests_total{code="200"}[5m])[5m30s:1m])[20m30s:2m])' },
  { expr: 'sum_over_time(rate(http_requests_total{code="404"}[2m])[10m15s:30s])' },

  // Edges: short windows, gaps, resets, departures, Inf and NaN, literals.
  // 15s scrapes: a 20s window ending on a whole minute holds one sample (no rate), a 35s one two.
  { expr: 'rate(http_requests_total{code="200"}[20s])', empty: true },
  { expr: 'rate(http_requests_total{code="200"}[35s])' },
  { expr: 'rate(http_requests_total{code="200"}[1m])' },
  { expr: 'irate(up[35s])' },
  { expr: 'changes(up[20m])' },
  { expr: 'resets(http_request_duration_seconds_bucket[1h])' },
  { expr: 'deriv(http_requests_total{code="200"}[30m])' },
  { expr: 'predict_linear(http_requests_total{code="200"}[1h], 3600)' },
  { expr: 'delta(node_cpu_utilization[1m] offset 30s)' },
  { expr: 'max_over_time(node_cpu_utilization[10m] offset 30m @ 1749729600)' },
  { expr: 'absent_over_time(up{instance="dc3-c"}[5m])' },
  { expr: 'time() - timestamp(up)' },
  { expr: 'timestamp(sum by (datacenter) (up))' },
  { expr: 'day_of_week(timestamp(up))' },
  { expr: 'minute(vector(time()))' },
  { expr: 'scalar(vector(time()))' },
  { expr: '42' },
  { expr: '"a string"', mode: 'instant' },
  { expr: '-http_requests_total{code="404"} offset 5m' },
  { expr: 'exp(app_queue_depth * 100)' },
  { expr: 'ln(node_cpu_utilization - 1)' },
  { expr: 'sqrt(-node_cpu_utilization)' },
  { expr: 'count_values("v", round(node_cpu_utilization, 0.1))' },
  { expr: 'count(count by (datacenter, instance) (http_requests_total))' },
  { expr: 'avg(http_requests_total)' },
  { expr: 'stddev by (datacenter, instance) (node_cpu_utilization)' },
  { expr: 'histogram_quantile(0, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))' },
  { expr: 'histogram_quantile(1, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))' },
  { expr: 'histogram_quantile(1.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))' },
  { expr: 'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{instance="dc2-a"}[5m])))' },
  { expr: 'quantile_over_time(0, node_cpu_utilization[10m]) + quantile_over_time(1, node_cpu_utilization[10m])' },
  { expr: 'quantile_over_time(2, node_cpu_utilization[10m])' },
  { expr: 'rate(http_requests_total[5m]) * ignoring(code, method) group_left node_cpu_utilization' },
  { expr: 'node_cpu_utilization / on() group_left() sum(node_cpu_utilization)' },
  { expr: 'node_cpu_utilization > bool on(datacenter, instance) (app_queue_depth / 20)' },
  { expr: 'rate(http_requests_total[5m]) > on(datacenter, instance) group_left() app_queue_depth' },
  { expr: 'sum by (code) (rate(http_requests_total[5m])) / ignoring(code) group_left sum(rate(http_requests_total[5m]))' },
  { expr: 'node_cpu_utilization or node_cpu_utilization offset 10m' },
  { expr: 'vector(1) unless on() vector(1)', empty: true },
  { expr: 'timestamp(node_cpu_utilization @ 1749727800)' },
  { expr: 'rate(http_requests_total{code="200"}[5m] @ end() offset 10m)' },
  { expr: 'max_over_time(rate(http_requests_total{code="200"}[5m])[10m30s:1m] @ start())' },
  { expr: 'sum by (datacenter) (http_requests_total @ end()) - sum by (datacenter) (http_requests_total @ start())' },
  { expr: 'absent(http_requests_total{instance="dc2-a", code="200"})' },
  { expr: 'label_replace(http_requests_total{code="200"}, "__name__", "renamed_total", "", "")' },
  { expr: 'label_join(up, "job", "-", "job", "instance")' },
  { expr: 'count by (le) (http_request_duration_seconds_bucket)' },
  { expr: 'sum(http_request_duration_seconds_bucket) by (le)' },
  { expr: 'bottomk(3, rate(http_requests_total{code="200"}[5m])) by (datacenter)' },
  { expr: 'topk(2, node_cpu_utilization) or bottomk(2, node_cpu_utilization)' },
  { expr: '0x10 + 1e2 + .5 - Inf * 0' },
  { expr: 'sum without () (up)' },
  { expr: 'sum by () (up)' },
  { expr: 'max by (datacenter) (sum by (datacenter, instance) (rate(http_requests_total[5m])))' },
  { expr: 'stdvar without (instance, method) (rate(http_requests_total[5m]))' },
  { expr: 'group(up) by (job)' },
  { expr: 'sum by (datacenter) (up) < 3' },
];

const ERROR_CASES: ErrorCase[] = [
  { expr: 'sum(', errorType: 'bad_data' },
  { expr: 'rate(http_requests_total)', errorType: 'bad_data' },
  { expr: '{code=~".*"}', errorType: 'bad_data' },
  { expr: 'quantile_over_time(0.5, http_requests_total)', errorType: 'bad_data' },
  { expr: '1 > 2', errorType: 'bad_data' },
  { expr: 'absent(1)', errorType: 'bad_data' },
  { expr: 'http_requests_total[5m]', errorType: 'bad_data', mode: 'range' },
  { expr: 'up', errorType: 'bad_data', mode: 'range', range: { start: 0, end: 1e9 * 1000, step: 1000 } },
  { expr: 'http_requests_total * on(datacenter) node_cpu_utilization', errorType: 'execution' },
  { expr: 'label_replace(http_requests_total, "code", "x", "", "")', errorType: 'execution' },
  { expr: 'sum by (datacenter) (rate(http_requests_total[5m])) / on(datacenter) group_left rate(http_requests_total[5m])', errorType: 'execution' },
  { expr: 'label_replace(up, "x", "$1", "instance", "(")', errorType: 'execution' },
  { expr: 'count_over_time({__name__=~"http_request_duration_seconds_(sum|count)"}[1m])', errorType: 'execution' },
  { expr: '"a string"', errorType: 'bad_data', mode: 'range' },
];

// --- comparing --------------------------------------------------------------------------------

const REL = 1e-9;
const ABS = 1e-12;

function sameFloat(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  const d = Math.abs(a - b);
  return d <= ABS || d <= REL * Math.max(Math.abs(a), Math.abs(b));
}

interface CanonSeries {
  labels: Labels;
  ts: number[];
  vs: number[];
}

/** Series by label set (samples of an instant vector are one-point series; a scalar is one series without labels). */
function canon(v: QueryValue): Map<string, CanonSeries> {
  const m = new Map<string, CanonSeries>();
  const add = (labels: Labels, ts: number[], vs: number[]) => {
    const k = labelsKey(labels);
    const s = m.get(k);
    if (s) {
      // A label set twice in one result: keep every point so that the difference shows.
      s.ts.push(...ts);
      s.vs.push(...vs);
    } else m.set(k, { labels, ts, vs });
  };
  switch (v.type) {
    case 'vector':
      for (const s of v.samples) add(s.labels, [s.t], [s.v]);
      break;
    case 'matrix':
      for (const s of v.series) add(s.labels, Array.from(s.timestamps), Array.from(s.values));
      break;
    case 'scalar':
      add([], [v.t], [v.v]);
      break;
    case 'string':
      break;
  }
  return m;
}

const iso = (ms: number) => new Date(ms).toISOString();
const fmt = (v: number | undefined) => (v === undefined ? 'none' : Number.isNaN(v) ? 'NaN' : String(v));

function sizeOf(v: QueryValue): number {
  switch (v.type) {
    case 'vector':
      return v.samples.length;
    case 'matrix':
      return v.series.reduce((n, s) => n + s.timestamps.length, 0);
    default:
      return 1;
  }
}

/** Differences between Prometheus's and hmd's answers; empty when equal. */
function diff(prom: QueryValue, hmd: QueryValue, ordered: boolean): string[] {
  const out: string[] = [];
  if (prom.type !== hmd.type) return [`result type: prometheus ${prom.type}, hmd ${hmd.type}`];
  if (prom.type === 'string' && hmd.type === 'string') {
    if (prom.v !== hmd.v || prom.t !== hmd.t) out.push(`string: prometheus ${JSON.stringify(prom.v)}@${prom.t}, hmd ${JSON.stringify(hmd.v)}@${hmd.t}`);
    return out;
  }
  const p = canon(prom);
  const h = canon(hmd);
  const missing = [...p.keys()].filter((k) => !h.has(k));
  const extra = [...h.keys()].filter((k) => !p.has(k));
  const show = (keys: string[], m: Map<string, CanonSeries>) =>
    keys
      .slice(0, 6)
      .map((k) => {
        const s = m.get(k)!;
        return `      ${formatLabels(s.labels)} (${s.ts.length} point${s.ts.length === 1 ? '' : 's'}, first ${fmt(s.vs[0])} @ ${iso(s.ts[0]!)})`;
      })
      .join('\n') + (keys.length > 6 ? `\n      ... and ${keys.length - 6} more` : '');
  if (missing.length) out.push(`${missing.length} series only in Prometheus (missing from hmd):\n${show(missing, p)}`);
  if (extra.length) out.push(`${extra.length} series only in hmd (extra):\n${show(extra, h)}`);
  let reported = 0;
  for (const [k, ps] of p) {
    const hs = h.get(k);
    if (!hs) continue;
    const pt = new Map(ps.ts.map((t, i) => [t, ps.vs[i]!]));
    const ht = new Map(hs.ts.map((t, i) => [t, hs.vs[i]!]));
    const times = [...new Set([...ps.ts, ...hs.ts])].sort((a, b) => a - b);
    let bad = 0;
    let first = '';
    for (const t of times) {
      const a = pt.get(t);
      const b = ht.get(t);
      const ok = a !== undefined && b !== undefined && sameFloat(a, b);
      if (!ok) {
        if (bad === 0) first = `at ${iso(t)}: prometheus ${fmt(a)}, hmd ${fmt(b)}`;
        bad++;
      }
    }
    if (ps.ts.length !== pt.size || hs.ts.length !== ht.size) {
      out.push(`${formatLabels(ps.labels)}: repeated timestamps (prometheus ${ps.ts.length} points/${pt.size} times, hmd ${hs.ts.length}/${ht.size})`);
    }
    if (bad > 0) {
      if (reported < 5) out.push(`${formatLabels(ps.labels)}: ${bad} of ${times.length} points differ; first ${first}`);
      reported++;
    }
  }
  if (reported > 5) out.push(`... and ${reported - 5} more series with differing points`);
  if (ordered && prom.type === 'vector' && hmd.type === 'vector' && out.length === 0) {
    for (let i = 0; i < prom.samples.length; i++) {
      const a = prom.samples[i]!;
      const b = hmd.samples[i]!;
      if (!sameFloat(a.v, b.v)) {
        out.push(`order differs at position ${i}: prometheus ${formatLabels(a.labels)} ${fmt(a.v)}, hmd ${formatLabels(b.labels)} ${fmt(b.v)}`);
        break;
      }
    }
  }
  return out;
}

// --- the harness ------------------------------------------------------------------------------

interface Ctx {
  data: SliData;
  store: MemoryStore;
  prom: PrometheusServer;
  engine?: EngineClass;
  engineError?: unknown;
}

const ctx = {} as Ctx;
const compat = suite('prometheus-compat');

compat.before(async () => {
  if (!havePrometheus()) return;
  ctx.data = generateSliData(DATA_OPTS);
  ctx.store = toMemoryStore(ctx.data);
  ctx.prom = await startPrometheus({ openMetrics: toOpenMetrics(ctx.data) });
  // Loaded here, not imported at the top, so that an engine that does not load yet fails these
  // tests one by one (after Prometheus's side was still checked) rather than the whole file.
  try {
    const { Engine } = await import('../../src/promql/engine.js');
    ctx.engine = new Engine();
  } catch (err) {
    ctx.engineError = err;
  }
});

compat.after(async () => {
  await ctx.prom?.stop();
});

type Outcome = { ok: true; value: QueryValue } | { ok: false; errorType: string; message: string };

async function settle(p: () => Promise<{ value: QueryValue }>): Promise<Outcome> {
  try {
    return { ok: true, value: (await p()).value };
  } catch (err) {
    const e = err as { errorType?: string; message?: string };
    return { ok: false, errorType: e.errorType ?? 'exception', message: e.message ?? String(err) };
  }
}

interface Run {
  label: string;
  prom: () => Promise<{ value: QueryValue }>;
  hmd: () => Promise<{ value: QueryValue }>;
}

function runs(expr: string, mode: 'both' | 'instant' | 'range', ranges = RANGES): Run[] {
  const out: Run[] = [];
  if (mode !== 'range') {
    for (const t of INSTANTS) {
      out.push({
        label: `instant @ ${iso(t)}`,
        prom: () => ctx.prom.query(expr, t),
        hmd: () => ctx.engine!.instantQuery(ctx.store, expr, t),
      });
    }
  }
  if (mode !== 'instant') {
    for (const range of ranges) {
      out.push({
        label: `range ${iso(range.start)} .. ${iso(range.end)} step ${range.step / 1000}s`,
        prom: () => ctx.prom.queryRange(expr, range.start, range.end, range.step),
        hmd: () => ctx.engine!.rangeQuery(ctx.store, expr, range.start, range.end, range.step),
      });
    }
  }
  return out;
}

function engineMissing(): never {
  const e = ctx.engineError as Error;
  assert.unreachable(`hmd's engine did not load (Prometheus's side of this case was checked): ${e?.stack ?? e}`);
  throw e;
}

prometheusTest(compat, 'the data reads back identically (every raw sample)', async () => {
  const expr = '{__name__=~".+"}[2h20m]';
  const t = START + 135 * 60_000;
  const p = await ctx.prom.query(expr, t);
  assert.is(p.value.type, 'matrix');
  assert.is(sizeOf(p.value), ctx.data.samples, 'Prometheus holds every generated sample');
  if (!ctx.engine) engineMissing();
  const h = await ctx.engine.instantQuery(ctx.store, expr, t);
  const d = diff(p.value, h.value, false);
  assert.ok(d.length === 0, `${expr} @ ${iso(t)}:\n  ${d.join('\n  ')}`);
});

for (const c of CASES) {
  prometheusTest(compat, c.expr, async () => {
    const problems: string[] = [];
    let promPoints = 0;
    const results: { run: Run; prom: Outcome }[] = [];
    for (const run of runs(c.expr, c.mode ?? 'both')) {
      const prom = await settle(run.prom);
      if (!prom.ok) problems.push(`${run.label}: Prometheus failed: ${prom.errorType}: ${prom.message}`);
      else promPoints += sizeOf(prom.value);
      results.push({ run, prom });
    }
    if (c.empty) {
      if (promPoints > 0) problems.push(`expected an empty result, Prometheus returned ${promPoints} points`);
    } else if (promPoints === 0 && problems.length === 0) {
      problems.push('Prometheus returned nothing in every mode: the case tests nothing (data or expression is off)');
    }
    assert.ok(problems.length === 0, `${c.expr}\n  ${problems.join('\n  ')}`);
    if (!ctx.engine) engineMissing();
    for (const { run, prom } of results) {
      const hmd = await settle(run.hmd);
      if (!prom.ok) continue;
      if (!hmd.ok) {
        problems.push(`${run.label}: hmd failed (${hmd.errorType}: ${hmd.message}), Prometheus returned ${sizeOf(prom.value)} points`);
        continue;
      }
      const d = diff(prom.value, hmd.value, c.ordered === true && run.label.startsWith('instant'));
      if (d.length) problems.push(`${run.label}:\n    ${d.join('\n    ')}`);
    }
    assert.ok(problems.length === 0, `${c.expr}\n  ${problems.join('\n  ')}`);
  });
}

for (const c of ERROR_CASES) {
  prometheusTest(compat, `error: ${c.expr}`, async () => {
    const problems: string[] = [];
    const rs = runs(c.expr, c.mode ?? 'both', c.range ? [c.range] : RANGES);
    const proms: Outcome[] = [];
    for (const run of rs) {
      const prom = await settle(run.prom);
      proms.push(prom);
      if (prom.ok) problems.push(`${run.label}: Prometheus did not fail (${sizeOf(prom.value)} points)`);
      else if (prom.errorType !== c.errorType) problems.push(`${run.label}: Prometheus failed with ${prom.errorType} (${prom.message}), expected ${c.errorType}`);
    }
    assert.ok(problems.length === 0, `${c.expr}\n  ${problems.join('\n  ')}`);
    if (!ctx.engine) engineMissing();
    for (let i = 0; i < rs.length; i++) {
      const run = rs[i]!;
      const prom = proms[i]! as { errorType: string; message: string };
      const hmd = await settle(run.hmd);
      if (hmd.ok) problems.push(`${run.label}: hmd did not fail (${sizeOf(hmd.value)} points); Prometheus: ${prom.errorType}: ${prom.message}`);
      else if (hmd.errorType !== prom.errorType) {
        problems.push(`${run.label}: errorType differs: prometheus ${prom.errorType} (${prom.message}), hmd ${hmd.errorType} (${hmd.message})`);
      }
    }
    assert.ok(problems.length === 0, `${c.expr}\n  ${problems.join('\n  ')}`);
  });
}


// Query stats: hmd's totalSamples counts what Prometheus's totalQueryableSamples counts
// (each selected point, and each window's samples at every step).
const STATS_CASES = [
  'http_requests_total',
  'sum by (datacenter) (rate(http_requests_total[5m]))',
  'max_over_time(node_cpu_utilization[10m] offset 3m)',
  // A subquery range that is not a multiple of its step: 2.x and 3.x align the first point differently.
  'avg_over_time(rate(http_requests_total[5m])[20m30s:1m])',
  'node_cpu_utilization @ 1749725400',
];
for (const expr of STATS_CASES) {
  prometheusTest(compat, `stats: totalQueryableSamples of ${expr}`, async () => {
    if (!ctx.engine) engineMissing();
    for (const run of [
      { p: () => ctx.prom.query(expr, at(11, 45), { stats: true }), h: () => ctx.engine!.instantQuery(ctx.store, expr, at(11, 45)) },
      { p: () => ctx.prom.queryRange(expr, at(11, 0), at(12, 0), 60_000, { stats: true }), h: () => ctx.engine!.rangeQuery(ctx.store, expr, at(11, 0), at(12, 0), 60_000) },
    ]) {
      const p = (await run.p()) as { stats?: { samples?: { totalQueryableSamples?: number } } };
      const h = await run.h();
      const want = p.stats?.samples?.totalQueryableSamples;
      assert.type(want, 'number', 'Prometheus reports totalQueryableSamples');
      assert.is(h.stats.totalSamples, want, expr);
    }
  });
}

compat.run();
