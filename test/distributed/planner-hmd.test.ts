/**
 * The distributed engine against in-process `hmd serve` engines, one per datacenter, compared
 * with hmd's own engine over all the data in one store. Fast (no Prometheus), so it can cover
 * many shapes; the real-Prometheus comparison is distributed-prometheus.test.ts.
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DistributedEngine, type DistributedEngineSpec } from '../../src/distributed/engine.js';
import { Engine } from '../../src/promql/engine.js';
import { AdaptiveLimiter } from '../../src/limiter/limiter.js';
import type { QueryResult } from '../../src/promql/result.js';
import { PrometheusApi } from '../../src/server/api.js';
import { startHttpServer, type RunningServer } from '../../src/server/http.js';
import { getLabel } from '../../src/storage/labels.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { diffResults } from '../helpers/series.js';
import { generateSliData, toMemoryStore, type SliData } from '../helpers/sli-data.js';

const START = Date.UTC(2025, 5, 12, 10, 0, 0);
const data: SliData = generateSliData({ seed: 77, startMs: START, durationMs: 90 * 60_000, datacenters: 3, instancesPerDc: 2 });
const global = toMemoryStore(data);

interface Ctx {
  servers: RunningServer[];
  engines: DistributedEngineSpec[];
  /** dc2's history split at SPLIT across an archive and a recent engine that overlap by 2m. */
  splitNarrow: DistributedEngineSpec[];
  /** The same with a 10m overlap: every 5m window fits one of them. */
  splitWide: DistributedEngineSpec[];
}
const S = suite<Ctx>('distributed over hmd serve', { servers: [], engines: [], splitNarrow: [], splitWide: [] });
const SPLIT = START + 50 * 60_000;

/** An in-process hmd server holding the samples of `dc` within [from, to]. */
async function serve(ctx: Ctx, dc: string, from = -Infinity, to = Infinity): Promise<string> {
  const store = new MemoryStore();
  for (const s of data.series) {
    if (getLabel(s.labels, 'datacenter') !== dc) continue;
    for (let i = 0; i < s.timestamps.length; i++) {
      const t = s.timestamps[i]!;
      if (t >= from && t <= to) store.append(s.labels, t, s.values[i]!);
    }
  }
  const api = new PrometheusApi({ storage: store, buildInfo: { version: 'test' } });
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, handler: (r) => api.handle(r) });
  ctx.servers.push(server);
  return server.url;
}

S.before(async (ctx) => {
  for (const dc of data.datacenters) ctx.engines.push({ name: dc, url: await serve(ctx, dc), labels: { datacenter: dc } });
  for (const [overlap, out] of [[2 * 60_000, ctx.splitNarrow], [10 * 60_000, ctx.splitWide]] as const) {
    const archiveMax = SPLIT + overlap - 1;
    const recentMin = SPLIT - overlap;
    out.push(
      ...ctx.engines.filter((e) => e.name !== 'dc2'),
      { name: 'dc2-recent', url: await serve(ctx, 'dc2', recentMin), labels: { datacenter: 'dc2' }, minTime: recentMin },
      { name: 'dc2-archive', url: await serve(ctx, 'dc2', -Infinity, archiveMax), labels: { datacenter: 'dc2' }, maxTime: archiveMax },
    );
  }
});
S.after(async (ctx) => {
  await Promise.all(ctx.servers.map((s) => s.close(0)));
});

const local = new Engine();
const T = START + 70 * 60_000 + 500;

function assertClose(got: QueryResult, want: QueryResult, what: string): void {
  const d = diffResults(got.value, want.value);
  assert.ok(d.length === 0, `${what}:\n  ${d.join('\n  ')}`);
}

const EXPRS = [
  'sum(rate(http_requests_total[5m]))',
  'sum by (code) (rate(http_requests_total[5m]))',
  'sum without (instance) (rate(http_requests_total[5m]))',
  'count(http_requests_total)',
  'avg by (method) (rate(http_requests_total[5m]))',
  'max(node_cpu_utilization)',
  'topk(3, rate(http_requests_total[5m]))',
  'quantile(0.9, node_cpu_utilization)',
  'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (datacenter) (rate(http_requests_total[5m]))',
  'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
  'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
  'absent(nonexistent_metric{job="x"})',
  'absent(up)',
  'sort_desc(sum by (datacenter) (rate(http_requests_total[5m])))',
  'rate(http_requests_total{datacenter="dc2", code="500"}[5m])',
  'up == 0',
  'http_requests_total{datacenter="dc1"} unless on(instance) up{datacenter="dc2"}',
  'max_over_time(sum(rate(http_requests_total[5m]))[30m:1m])',
  'stddev(node_cpu_utilization)',
  'count_values("v", app_queue_depth)',
  'group by (datacenter) (up)',
  'sum(rate(http_requests_total[5m] offset 10m))',
  'sum(rate(http_requests_total[5m] @ start()))',
  'sum by (code) (increase(http_requests_total[10m] @ end() offset 5m))',
  'max_over_time(node_cpu_utilization[10m:30s] offset 5m)',
  'rate(http_requests_total{code="500"}[5m]) / on (datacenter, instance, method) rate(http_requests_total{code="200"}[5m])',
  'rate(http_requests_total{code="500"}[5m]) / ignoring (code) group_left rate(http_requests_total{code="200"}[5m])',
  'sum(up) * 2 + scalar(count(up))',
  'time() - 1',
  'count_values by (datacenter) ("v", app_queue_depth)',
  'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m])) > bool 0.001',
  'avg without (instance, method, code) (rate(http_requests_total[5m]))',
  'bottomk by (code) (2, rate(http_requests_total[5m]))',
  'min without (instance) (node_cpu_utilization)',
  'absent_over_time(up{job="api"}[5m])',
  'label_replace(sum by (datacenter) (up), "dc", "$1", "datacenter", "(.*)")',
  'service_build_info * on (datacenter, instance) group_left up',
  'sum by (version) (rate(http_requests_total[5m]) * on (datacenter, instance) group_left (version) service_build_info)',
];

for (const q of EXPRS) {
  S(`instant and range: ${q}`, async (ctx) => {
    const de = new DistributedEngine({ engines: ctx.engines });
    try {
      assertClose(await de.instantQuery(q, T), await local.instantQuery(global, q, T), `${q} @ instant`);
      const s = START + 20 * 60_000;
      assertClose(await de.rangeQuery(q, s, s + 60 * 60_000, 60_000), await local.rangeQuery(global, q, s, s + 60 * 60_000, 60_000), `${q} @ range`);
    } finally {
      await de.close();
    }
  });
}

S('every request passes the admission point: the adaptive limiter admits each one', async (ctx) => {
  const limiter = new AdaptiveLimiter();
  const de = new DistributedEngine({ engines: ctx.engines, admit: limiter });
  try {
    const r = await de.rangeQuery(EXPRS[4]!, START + 20 * 60_000, START + 80 * 60_000, 60_000, { priority: 'batch' });
    assert.ok(r.requests >= 6, `${r.requests} requests`);
    assert.is(limiter.counts.admitted, r.requests);
    assert.equal(limiter.inFlightNow().total, 0);
  } finally {
    await de.close();
  }
});

S('with pushdown off, every selector is pulled raw and the answers are the same', async (ctx) => {
  const de = new DistributedEngine({ engines: ctx.engines, pushdown: false });
  try {
    for (const q of EXPRS) {
      const r = await de.instantQuery(q, T);
      assert.is(r.plan.mode, 'central', q);
      assertClose(r, await local.instantQuery(global, q, T), `${q} (raw)`);
    }
  } finally {
    await de.close();
  }
});

S('time-split engines: every window inside one engine is pushed down per step range, and equals the global answer', async (ctx) => {
  const de = new DistributedEngine({ engines: ctx.splitWide });
  try {
    const q = 'sum by (datacenter) (rate(http_requests_total[5m]))';
    const s = START + 20 * 60_000;
    const plan = de.explain(q, s, s + 60 * 60_000, 60_000);
    assert.is(plan.mode, 'distributed');
    assert.equal(plan.rawSelectors.length, 0);
    const names = plan.remotes[0]!.targets.map((t) => t.engine.name).sort();
    assert.equal(names, ['dc1', 'dc2-archive', 'dc2-recent', 'dc3']);
    const recent = plan.remotes[0]!.targets.find((t) => t.engine.name === 'dc2-recent')!;
    const archive = plan.remotes[0]!.targets.find((t) => t.engine.name === 'dc2-archive')!;
    assert.ok(archive.end < recent.start, 'the two halves answer disjoint steps');
    for (const q2 of [q, ...EXPRS.slice(0, 6)]) {
      assertClose(await de.rangeQuery(q2, s, s + 60 * 60_000, 60_000), await local.rangeQuery(global, q2, s, s + 60 * 60_000, 60_000), q2);
    }
  } finally {
    await de.close();
  }
});

S('time-split engines: a window that no engine holds whole is never computed from partial windows', async (ctx) => {
  const de = new DistributedEngine({ engines: ctx.splitNarrow });
  try {
    const q = 'sum by (datacenter) (rate(http_requests_total[5m]))';
    const s = START + 20 * 60_000;
    const plan = de.explain(q, s, s + 60 * 60_000, 60_000);
    assert.ok(plan.notes.some((n) => n.includes('no engine of {datacenter="dc2"} holds the whole window')), plan.notes.join('\n'));
    assert.ok(plan.rawSelectors.length > 0, 'falls back to raw samples');
    const got = await de.rangeQuery(q, s, s + 60 * 60_000, 60_000);
    assertClose(got, await local.rangeQuery(global, q, s, s + 60 * 60_000, 60_000), q);
    // At the split, an engine alone would have seen a partial window: check the answer is not that.
    const t = SPLIT + 60_000;
    assertClose(await de.instantQuery(q, t), await local.instantQuery(global, q, t), `${q} at the split`);
  } finally {
    await de.close();
  }
});

S('an engine that does not answer fails the query and is named; with partial responses the rest comes back flagged', async (ctx) => {
  const engines = [...ctx.engines, { name: 'dc9', url: 'http://127.0.0.1:9', labels: { datacenter: 'dc9' }, timeoutMs: 2000 }];
  const de = new DistributedEngine({ engines });
  const q = 'sum by (datacenter) (rate(http_requests_total[5m]))';
  try {
    try {
      await de.instantQuery(q, T);
      assert.unreachable('expected an error');
    } catch (err) {
      assert.match((err as Error).message, /remote engine "dc9"/);
    }
    const r = await de.instantQuery(q, T, { partialResponse: true });
    assert.is(r.partial, true);
    assert.equal(r.missingEngines, ['dc9']);
    assert.ok(r.warnings[0]!.includes('dc9'), r.warnings.join('\n'));
    assertClose(r, await local.instantQuery(global, q, T), 'partial answer');
    // A query whose matchers rule dc9 out never asks it, so it is whole.
    const whole = await de.instantQuery('sum(rate(http_requests_total{datacenter=~"dc1|dc2"}[5m]))', T);
    assert.is(whole.partial, false);
    assert.ok(whole.plan.prunedEngines.includes('dc9'));
  } finally {
    await de.close();
  }
});

S.run();
