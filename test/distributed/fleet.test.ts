/**
 * The fleet fixture (test/helpers/fleet.ts) against the real servers it starts: each datacenter
 * server holds exactly its own datacenter's series and answers like the global server restricted
 * to that datacenter; a time-split datacenter's halves hold nothing outside their bounds and
 * together hold every sample. The distributed tests trust the fixture, so a wrong split here
 * would pass for a planner bug there.
 *
 * Skipped when the prometheus/promtool binaries are missing, except under CI=true (a failure).
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { QueryValue, Sample } from '../../src/promql/result.js';
import { formatLabels, labelsKey, labelsToRecord } from '../../src/storage/labels.js';
import { startFleet, type Fleet, type FleetEngine } from '../helpers/fleet.js';
import { havePrometheus, prometheusTest, type PrometheusServer } from '../helpers/prometheus.js';
import { SLI_DEFAULT_START_MS } from '../helpers/sli-data.js';

const START = SLI_DEFAULT_START_MS;
const min = (m: number, s = 0) => START + m * 60_000 + s * 1000;
const DATA = { datacenters: 3, instancesPerDc: 2, durationMs: 60 * 60_000 } as const;
/** Whole seconds (the data sits off-grid): early, in dc2-a's gap (0.55-0.75 of the hour), late. */
const INSTANTS = [min(8, 7), min(25, 30), min(37, 11), min(58, 45)];
const SPLIT = { datacenter: 'dc2', atMs: min(30), overlapMs: 2 * 60_000 };
const ARCHIVE_END = SPLIT.atMs + SPLIT.overlapMs;
const RECENT_START = SPLIT.atMs - SPLIT.overlapMs;
const ALL = '{__name__=~".+"}';

const ctx: { whole?: Fleet; split?: Fleet } = {};
const S = suite('fleet fixture');

S.before(async () => {
  if (!havePrometheus()) return;
  // The same data options give the same data, so the split fleet is checked against the whole one's global server.
  const [whole, split] = await Promise.allSettled([startFleet({ data: DATA }), startFleet({ data: DATA, timeSplit: SPLIT, globalServer: false })]);
  if (whole.status === 'fulfilled') ctx.whole = whole.value;
  if (split.status === 'fulfilled') ctx.split = split.value;
  for (const r of [whole, split]) if (r.status === 'rejected') throw r.reason;
});

S.after(async () => {
  await Promise.all([ctx.whole?.stop(), ctx.split?.stop()]);
});

async function vector(server: PrometheusServer, expr: string, t: number): Promise<Sample[]> {
  const v: QueryValue = (await server.query(expr, t)).value;
  if (v.type !== 'vector') assert.unreachable(`${expr}: expected a vector, got ${v.type}`);
  return v.type === 'vector' ? v.samples : [];
}

async function scalarOf(server: PrometheusServer, expr: string, t: number): Promise<number | undefined> {
  const s = await vector(server, expr, t);
  assert.ok(s.length <= 1, `${expr}: ${s.length} samples`);
  return s[0]?.v;
}

function close(a: number, b: number, what: string): void {
  const tol = 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1e-3);
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} != ${b}`);
}

const engine = (f: Fleet, name: string): FleetEngine => {
  const e = f.engines.find((x) => x.name === name);
  if (!e) assert.unreachable(`no engine ${name}: ${f.engines.map((x) => x.name).join(', ')}`);
  return e!;
};

prometheusTest(S, 'engines: one per datacenter, or an archive and a recent half for the split one', () => {
  const whole = ctx.whole!;
  const split = ctx.split!;
  assert.equal(
    whole.engines.map((e) => [e.name, e.labels, e.minTimeMs, e.maxTimeMs]),
    ['dc1', 'dc2', 'dc3'].map((dc) => [dc, { datacenter: dc }, undefined, undefined]),
  );
  assert.equal(
    split.engines.map((e) => [e.name, e.labels, e.minTimeMs, e.maxTimeMs]),
    [
      ['dc1', { datacenter: 'dc1' }, undefined, undefined],
      ['dc2-archive', { datacenter: 'dc2' }, undefined, ARCHIVE_END - 1],
      ['dc2-recent', { datacenter: 'dc2' }, RECENT_START, undefined],
      ['dc3', { datacenter: 'dc3' }, undefined, undefined],
    ],
  );
  for (const e of [...whole.engines, ...split.engines]) assert.is(e.url, e.server.url);
  assert.ok(whole.global !== undefined && split.global === undefined);
  assert.ok(whole.data.series.length > 0 && whole.data.minMs > START && whole.data.maxMs < START + DATA.durationMs + 60_000);
});

prometheusTest(S, 'each datacenter server holds exactly its own datacenter, every series of it', async () => {
  const { global } = ctx.whole!;
  for (const e of [...ctx.whole!.engines, ...ctx.split!.engines]) {
    const dc = e.labels['datacenter']!;
    const t = e.name.endsWith('-recent') ? min(45) : min(20);
    const own = await vector(e.server, 'count by (datacenter) (http_requests_total)', t);
    assert.equal(own.map((s) => labelsToRecord(s.labels)), [{ datacenter: dc }], `${e.name}: datacenters seen`);
    // Every family, not only the one above: the number of series present must match the global's.
    const all = await vector(e.server, `count by (datacenter) (${ALL})`, t);
    assert.equal(all.map((s) => labelsToRecord(s.labels)), [{ datacenter: dc }], `${e.name}: datacenters of all series`);
    assert.is(all[0]!.v, await scalarOf(global, `count(${ALL.slice(0, -1)}, datacenter="${dc}"})`, t), `${e.name}: series count`);
  }
});

prometheusTest(S, 'sum(rate) on a datacenter server equals the global one restricted to it', async () => {
  const { global, engines } = ctx.whole!;
  for (const e of engines) {
    const dc = e.labels['datacenter']!;
    for (const t of INSTANTS) {
      const mine = await scalarOf(e.server, 'sum(rate(http_requests_total[5m]))', t);
      const ref = await scalarOf(global, `sum(rate(http_requests_total{datacenter="${dc}"}[5m]))`, t);
      assert.ok(mine !== undefined && ref !== undefined && ref > 0, `${e.name} @${t}: ${mine} vs ${ref}`);
      close(mine!, ref!, `${e.name} @${new Date(t).toISOString()}`);
    }
  }
  // The halves answer like the global one for windows that lie inside them.
  const archive = engine(ctx.split!, 'dc2-archive').server;
  const recent = engine(ctx.split!, 'dc2-recent').server;
  for (const [server, t] of [[archive, min(20, 5)], [archive, min(31, 30)], [recent, min(35, 1)], [recent, min(58, 45)]] as const) {
    const mine = await scalarOf(server, 'sum(rate(http_requests_total[5m]))', t);
    const ref = await scalarOf(global, 'sum(rate(http_requests_total{datacenter="dc2"}[5m]))', t);
    close(mine!, ref!, `dc2 half @${new Date(t).toISOString()}`);
  }
});

prometheusTest(S, 'the split halves hold nothing outside their bounds', async () => {
  const archive = engine(ctx.split!, 'dc2-archive').server;
  const recent = engine(ctx.split!, 'dc2-recent').server;
  const present = (s: PrometheusServer, rangeMs: number, t: number) => scalarOf(s, `count(last_over_time(${ALL}[${rangeMs}ms]))`, t);
  const end = min(70);
  // Right-closed windows either side of a bound (the same in Prometheus 2 and 3).
  assert.is(await present(archive, end - ARCHIVE_END, end), undefined, 'archive: a sample at or after atMs + overlapMs');
  assert.ok(((await present(archive, end - ARCHIVE_END + 60_000, end)) ?? 0) > 0, 'archive: nothing in its last minute');
  assert.is(await present(recent, 3 * 3600_000, RECENT_START - 1), undefined, 'recent: a sample before atMs - overlapMs');
  assert.ok(((await present(recent, 60_000, RECENT_START + 59_999)) ?? 0) > 0, 'recent: nothing in its first minute');
  // The archive's latest sample, through timestamp() within the lookback after its end (name dropped: one family).
  const last = await scalarOf(archive, 'max(timestamp(http_requests_total))', ARCHIVE_END + 60_000);
  assert.ok(last !== undefined && last * 1000 < ARCHIVE_END && last * 1000 > ARCHIVE_END - 60_000, `archive's last sample at ${last}`);
});

prometheusTest(S, 'the split halves together hold every sample of the datacenter', async () => {
  const { global } = ctx.whole!;
  const archive = engine(ctx.split!, 'dc2-archive').server;
  const recent = engine(ctx.split!, 'dc2-recent').server;
  const counts = async (s: PrometheusServer, expr: string, t: number) => new Map((await vector(s, expr, t)).map((x) => [labelsKey(x.labels), x]));
  const hour = 'count_over_time(http_requests_total{datacenter="dc2"}[1h])';
  const total = 'count_over_time(http_requests_total{datacenter="dc2"}[3h])';
  const overlap = `count_over_time(http_requests_total{datacenter="dc2"}[${2 * SPLIT.overlapMs}ms])`;
  // [atMs - 1h, atMs] from the archive, [atMs, atMs + 1h] from the recent half (no sample sits on atMs).
  const a = await counts(archive, hour, SPLIT.atMs);
  const r = await counts(recent, hour, SPLIT.atMs + 3600_000);
  const g = await counts(global, total, min(90));
  assert.ok(g.size >= 2 * 2 * 4, `global series: ${g.size}`);
  for (const [key, s] of g) {
    const sum = (a.get(key)?.v ?? 0) + (r.get(key)?.v ?? 0);
    assert.is(sum, s.v, `${formatLabels(s.labels)}: archive ${a.get(key)?.v} + recent ${r.get(key)?.v} vs global ${s.v}`);
  }
  for (const key of [...a.keys(), ...r.keys()]) assert.ok(g.has(key), `a series the global server lacks: ${key}`);
  // Both halves hold the whole overlap [atMs - overlapMs, atMs + overlapMs].
  const go = await counts(global, overlap, ARCHIVE_END);
  assert.ok(go.size > 0);
  for (const s of [archive, recent]) {
    const o = await counts(s, overlap, ARCHIVE_END);
    const sorted = (m: Map<string, Sample>) => [...m].map(([k, x]) => [k, x.v]).sort();
    assert.equal(sorted(o), sorted(go));
  }
});

S.run();
