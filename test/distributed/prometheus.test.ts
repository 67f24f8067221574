/**
 * The distributed engine over real Prometheus servers, one per datacenter (each with its own
 * external_labels and only its own series, backfilled by promtool), against one global
 * Prometheus holding all the data: every pushdown rule, instant and range, must agree within
 * 1e-9 relative. Each case also states the plan shape it exercises, so that a planner that
 * quietly stops pushing down fails here even when its answers stay right.
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DistributedEngine } from '../../src/distributed/engine.js';
import type { Plan } from '../../src/distributed/planner.js';
import { exprToString } from '../../src/promql/printer.js';
import { havePrometheus, prometheusTest, startPrometheus } from '../helpers/prometheus.js';
import { seriesToOpenMetrics, sliceSeries, startFleet, type Fleet } from '../helpers/fleet.js';
import { diffResults } from '../helpers/series.js';
import { SLI_DEFAULT_START_MS } from '../helpers/sli-data.js';

const START = SLI_DEFAULT_START_MS;
const min = (m: number) => START + m * 60_000;
/** Instants on whole seconds (the data sits off-grid): early, in dc1's gap, in dc3's incident, near the end. */
const INSTANTS = [min(40), min(75), min(110), min(125)];
const RANGE = { start: min(30), end: min(128), step: 60_000 };

interface Case {
  expr: string;
  /** The rule it exercises, checked on the range plan. */
  rule: string;
  check: (p: Plan, central: string) => boolean;
  /** Prometheus may legitimately return nothing (absent of something present). */
  mayBeEmpty?: boolean;
}

const remoteStarts = (p: Plan, prefix: string) => p.remotes.some((r) => r.query.startsWith(prefix));
const distributed = (p: Plan) => p.mode === 'distributed' && p.rawSelectors.length === 0;

const CASES: Case[] = [
  // sum: by (G ∪ P) remotely, by (G) centrally
  { expr: 'sum(rate(http_requests_total[5m]))', rule: 'sum', check: (p, c) => distributed(p) && c === 'sum(__hmd_remote_0)' && remoteStarts(p, 'sum by (datacenter)') },
  { expr: 'sum by (code) (rate(http_requests_total[5m]))', rule: 'sum', check: (p) => remoteStarts(p, 'sum by (code, datacenter)') },
  { expr: 'sum without (instance, method) (rate(http_requests_total[5m]))', rule: 'sum without', check: (p) => remoteStarts(p, 'sum without (instance, method)') },
  { expr: 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))', rule: 'sum / sum', check: (p) => distributed(p) && p.remotes.length === 2 },
  { expr: 'sum by (method) (increase(http_requests_total[10m] offset 15m))', rule: 'sum + offset', check: (p) => distributed(p) },
  { expr: 'sum(rate(http_requests_total[5m] @ end()))', rule: 'sum + @ end()', check: (p) => distributed(p) && /@ \d+/.test(p.remotes[0]!.query) },
  // count: count remotely, sum centrally
  { expr: 'count(up)', rule: 'count', check: (p, c) => c === 'sum(__hmd_remote_0)' && remoteStarts(p, 'count by (datacenter)') },
  { expr: 'count by (code) (http_requests_total)', rule: 'count', check: (p, c) => c.startsWith('sum by (code)') },
  // min, max, group, topk, bottomk
  { expr: 'max(node_cpu_utilization)', rule: 'max', check: (p, c) => c.startsWith('max(') && remoteStarts(p, 'max by (datacenter)') },
  { expr: 'min by (instance) (node_cpu_utilization)', rule: 'min', check: (p) => remoteStarts(p, 'min by (datacenter, instance)') },
  { expr: 'group by (code) (http_requests_total)', rule: 'group', check: (p, c) => c.startsWith('group by (code)') },
  { expr: 'topk(3, rate(http_requests_total[5m]))', rule: 'topk', check: (p, c) => c.startsWith('topk(3,') && remoteStarts(p, 'topk by (datacenter) (3,') },
  { expr: 'bottomk by (code) (2, node_cpu_utilization * on (datacenter, instance) group_right up)', rule: 'bottomk', check: (p) => remoteStarts(p, 'bottomk by (code, datacenter) (2,') },
  // avg: sum and count
  { expr: 'avg(node_cpu_utilization)', rule: 'avg', check: (p, c) => c.includes('/') && p.remotes.length === 2 },
  { expr: 'avg by (method) (rate(http_requests_total[5m]))', rule: 'avg', check: (p) => remoteStarts(p, 'count by (datacenter, method)') },
  // aggregations that keep P: whole, merge only
  { expr: 'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (datacenter) (rate(http_requests_total[5m]))', rule: 'keeps P', check: (p, c) => c === '__hmd_remote_0' && p.remotes.length === 1 },
  { expr: 'quantile by (datacenter) (0.9, node_cpu_utilization)', rule: 'keeps P', check: (p, c) => c === '__hmd_remote_0' },
  { expr: 'stddev without (instance) (node_cpu_utilization)', rule: 'keeps P', check: (p, c) => c === '__hmd_remote_0' },
  // quantile, stddev, stdvar, count_values dropping P: inner subtree
  { expr: 'quantile(0.9, rate(http_request_duration_seconds_count[5m]))', rule: 'inner', check: (p, c) => c === 'quantile(0.9, __hmd_remote_0)' && p.remotes[0]!.query.startsWith('rate(') },
  { expr: 'stddev(node_cpu_utilization)', rule: 'inner', check: (p, c) => c === 'stddev(__hmd_remote_0)' },
  { expr: 'stdvar by (method) (rate(http_requests_total[5m]))', rule: 'inner', check: (p, c) => c.startsWith('stdvar by (method)') },
  { expr: 'count_values("depth", app_queue_depth)', rule: 'inner', check: (p, c) => c.startsWith('count_values(') },
  { expr: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))', rule: 'inner sum', check: (p, c) => c.startsWith('histogram_quantile(0.99, sum by (le)') },
  { expr: 'histogram_quantile(0.9, sum by (datacenter, le) (rate(http_request_duration_seconds_bucket[5m])))', rule: 'keeps P', check: (p, c) => c === '__hmd_remote_0' },
  // binary operations
  { expr: 'rate(http_requests_total{code="500"}[5m]) / ignoring (code) group_left rate(http_requests_total{code="200"}[5m])', rule: 'join keeps P', check: (p, c) => c === '__hmd_remote_0' },
  { expr: 'rate(http_requests_total[5m]) * on (datacenter, instance) group_left (version) service_build_info', rule: 'join keeps P', check: (p, c) => c === '__hmd_remote_0' },
  { expr: 'up * on (instance) group_left (region) label_replace(datacenter_info{datacenter="dc1"}, "instance", "dc1-a", "", "")', rule: 'join drops P', check: (p, c) => c.includes('__hmd_remote_0 * on (instance)') && p.remotes.length === 2 },
  { expr: 'sum by (datacenter) (rate(http_requests_total[5m])) / on () group_left sum(rate(http_requests_total[5m]))', rule: 'join drops P', check: (p) => p.remotes.length === 2 },
  { expr: 'node_cpu_utilization > 0.5', rule: 'vector op scalar', check: (p, c) => c === '__hmd_remote_0' },
  { expr: 'sum(up) - scalar(count(up))', rule: 'scalar', check: (p) => p.remotes.length === 2 },
  // absent, sort, pruning, passthrough
  { expr: 'absent(up{job="api"})', rule: 'absent', check: (p) => p.remotes[0]?.mode === 'absent', mayBeEmpty: true },
  { expr: 'absent(nonexistent_metric{job="x", datacenter="dc2"})', rule: 'absent + pruning', check: (p) => p.remotes[0]?.mode === 'absent' && p.prunedEngines.length === 2 },
  { expr: 'absent_over_time(http_requests_total{instance="dc1-a", code="500"}[5m])', rule: 'absent_over_time', check: (p) => p.remotes[0]?.mode === 'absent', mayBeEmpty: true },
  { expr: 'sort_desc(sum by (datacenter) (rate(http_requests_total[5m])))', rule: 'sort', check: (p, c) => c === 'sort_desc(__hmd_remote_0)' },
  { expr: 'sum(rate(http_requests_total{datacenter="dc3"}[5m]))', rule: 'passthrough', check: (p) => p.mode === 'passthrough' && p.prunedEngines.length === 2 },
  { expr: 'rate(http_requests_total{datacenter=~"dc1|dc2", code="503"}[5m])', rule: 'pruning', check: (p) => p.prunedEngines.join() === 'dc3' },
  // subqueries, lookback
  { expr: 'max_over_time(sum(rate(http_requests_total[5m]))[30m:1m])', rule: 'subquery inner', check: (p, c) => c.startsWith('max_over_time(sum(__hmd_remote_0)[30m:1m])') },
  { expr: 'max_over_time(rate(http_requests_total{code="200"}[5m])[20m:2m] offset 3m)', rule: 'subquery keeps P', check: (p, c) => c === '__hmd_remote_0' },
  { expr: 'app_queue_depth', rule: 'selector', check: (p, c) => c === '__hmd_remote_0' },
];

interface Ctx {
  fleet?: Fleet;
  de?: DistributedEngine;
}
const ctx: Ctx = {};
const S = suite('distributed vs a global Prometheus');

S.before(async () => {
  if (!havePrometheus()) return;
  ctx.fleet = await startFleet({ data: { seed: 4242, datacenters: 3, instancesPerDc: 3 } });
  ctx.de = new DistributedEngine({ engines: ctx.fleet.engines });
});
S.after(async () => {
  await ctx.de?.close();
  await ctx.fleet?.stop();
});

prometheusTest(S, `at least 30 expressions cover every rule`, () => {
  assert.ok(CASES.length >= 30, `${CASES.length} cases`);
  const rules = new Set(CASES.map((c) => c.rule.split(' ')[0]));
  for (const r of ['sum', 'count', 'max', 'min', 'group', 'topk', 'bottomk', 'avg', 'keeps', 'inner', 'join', 'absent', 'sort', 'passthrough', 'pruning', 'subquery', 'scalar']) {
    assert.ok(rules.has(r), `no case for ${r}`);
  }
});

for (const c of CASES) {
  prometheusTest(S, `${c.rule}: ${c.expr}`, async () => {
    const { fleet, de } = ctx as Required<Ctx>;
    const plan = de.explain(c.expr, RANGE.start, RANGE.end, RANGE.step);
    assert.ok(c.check(plan, exprToString(plan.central)), `plan does not show "${c.rule}": central ${exprToString(plan.central)}; remotes ${plan.remotes.map((r) => r.query).join(' | ')}; mode ${plan.mode}`);
    let points = 0;
    for (const t of INSTANTS) {
      const want = await fleet.global!.query(c.expr, t);
      const got = await de.instantQuery(c.expr, t);
      assert.is(got.partial, false);
      points += want.value.type === 'vector' ? want.value.samples.length : 1;
      const d = diffResults(got.value, want.value);
      assert.ok(d.length === 0, `instant at ${new Date(t).toISOString()}:\n  ${d.join('\n  ')}`);
    }
    const want = await fleet.global!.queryRange(c.expr, RANGE.start, RANGE.end, RANGE.step);
    const got = await de.rangeQuery(c.expr, RANGE.start, RANGE.end, RANGE.step);
    if (want.value.type === 'matrix') points += want.value.series.length;
    const d = diffResults(got.value, want.value);
    assert.ok(d.length === 0, `range:\n  ${d.join('\n  ')}`);
    if (!c.mayBeEmpty) assert.ok(points > 0, 'Prometheus returned nothing: the case tests nothing');
  });
}

prometheusTest(S, "dc2's history split across two servers: windows inside one are pushed down, windows across the split pulled raw; both equal the global answer", async () => {
  const { fleet } = ctx as Required<Ctx>;
  const data = fleet.data;
  const split = min(80);
  const overlap = 10 * 60_000;
  const dc2 = data.series.filter((x) => x.labels.some((l) => l.name === 'datacenter' && l.value === 'dc2'));
  const slice = (lo: number, hi: number) => dc2.flatMap((x) => sliceSeries(x, lo, hi + 1) ?? []);
  const archiveMax = split + overlap - 1;
  const recentMin = split - overlap;
  const [archive, recent] = await Promise.all([
    startPrometheus({ openMetrics: seriesToOpenMetrics(data, slice(-Infinity, archiveMax)), externalLabels: { datacenter: 'dc2' } }),
    startPrometheus({ openMetrics: seriesToOpenMetrics(data, slice(recentMin, Infinity)), externalLabels: { datacenter: 'dc2' } }),
  ]);
  const engines = [
    ...fleet.engines.filter((e) => e.name !== 'dc2').map(({ name, url, labels }) => ({ name, url, labels })),
    { name: 'dc2-archive', url: archive.url, labels: { datacenter: 'dc2' }, maxTime: archiveMax },
    { name: 'dc2-recent', url: recent.url, labels: { datacenter: 'dc2' }, minTime: recentMin },
  ];
  const de = new DistributedEngine({ engines });
  try {
    for (const [q, pushed] of [
      ['sum by (datacenter) (rate(http_requests_total[5m]))', true],
      ['sum(increase(http_requests_total{code=~"5.."}[10m]))', true],
      ['max by (datacenter) (max_over_time(node_cpu_utilization[30m]))', false],
    ] as const) {
      const plan = de.explain(q, RANGE.start, RANGE.end, RANGE.step);
      const used = new Set(plan.remotes.flatMap((r) => r.targets.map((t) => t.engine.name)));
      if (pushed) {
        assert.ok(used.has('dc2-archive') && used.has('dc2-recent') && plan.rawSelectors.length === 0, `${q}: ${plan.notes.join('; ')}`);
      } else {
        assert.ok(plan.rawSelectors.length > 0 && plan.notes.length > 0, `${q}: a 30m window cannot fit a 20m overlap`);
      }
      const want = await fleet.global!.queryRange(q, RANGE.start, RANGE.end, RANGE.step);
      const got = await de.rangeQuery(q, RANGE.start, RANGE.end, RANGE.step);
      const d = diffResults(got.value, want.value);
      assert.ok(d.length === 0, `${q}:\n  ${d.join('\n  ')}`);
      for (const t of [split - 60_000, split, split + 7 * 60_000]) {
        const w = await fleet.global!.query(q, t);
        const g = await de.instantQuery(q, t);
        assert.equal(diffResults(g.value, w.value), [], `${q} at ${new Date(t).toISOString()}`);
      }
    }
  } finally {
    await de.close();
    await Promise.all([archive.stop(), recent.stop()]);
  }
});

prometheusTest(S, 'a stopped engine fails the query by name; --partial-response returns the rest, flagged', async () => {
  const { fleet } = ctx as Required<Ctx>;
  const engines = [...fleet.engines.map(({ name, url, labels }) => ({ name, url, labels })), { name: 'dc4', url: 'http://127.0.0.1:1', labels: { datacenter: 'dc4' }, timeoutMs: 2000 }];
  const de = new DistributedEngine({ engines });
  try {
    const q = 'sum(rate(http_requests_total[5m]))';
    const err = await de.instantQuery(q, INSTANTS[0]!).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err && /remote engine "dc4"/.test(err.message), String(err));
    const r = await de.instantQuery(q, INSTANTS[0]!, { partialResponse: true });
    assert.is(r.partial, true);
    assert.equal(r.missingEngines, ['dc4']);
    assert.equal(diffResults(r.value, (await fleet.global!.query(q, INSTANTS[0]!)).value), []);
  } finally {
    await de.close();
  }
});

S.run();
