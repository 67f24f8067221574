/**
 * Replays on the fixture history (fixtures/history, scenario.json): the bad release is reverted
 * soon after its impact, at the canary, and before people did; healthy releases walk through
 * their stages; a plan promotes only after each bake; nothing is evaluated after the real revert;
 * missing data holds a release rather than passing it; and the shared, range-evaluated queries
 * give exactly the evaluations that instant queries give.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { replay, replayInterval, replayWindow } from '../../src/backtest/replay.js';
import { SharedQueries, chunkMs } from '../../src/backtest/shared.js';
import { loadBacktest, parseBacktest } from '../../src/backtest/spec.js';
import { Engine } from '../../src/promql/engine.js';
import { measure, measureMany, scopesFor, sliExpr, type QueryFn } from '../../src/slo/measure.js';
import { samplesArray, type Measurements, type Samples } from '../../src/slo/judge.js';
import type { SloSpec } from '../../src/slo/spec.js';
import { loadSpec } from '../../src/slo/spec.js';
import { Stage } from '../../src/slo/stage.js';
import { openObjectStore } from '../../src/storage/objstore/open.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DATA = join(ROOT, 'fixtures/history');
const scenario = JSON.parse(readFileSync(join(DATA, 'scenario.json'), 'utf8')) as {
  badRelease: { scope: Record<string, string>; releaseMs: number; impactStartMs: number; revertMs: number };
};
const store = new ParquetQueryable(openObjectStore(DATA));
const engine = new Engine();
/** Every query sent as asked: the reference the shared queries must equal. */
const direct: QueryFn = { instant: (e, t) => engine.instantQuery(store, e, t), range: (e, s, en, st) => engine.rangeQuery(store, e, s, en, st) };
const sliExprOf = (s: SloSpec) => sliExpr(s, s.windowMs, scopesFor(s, 'datacenter=dc2,tier=tier3,color=green', 'datacenter=dc2,tier=tier3,color=blue').release);
const example = (name: string) => loadBacktest(join(ROOT, 'backtests', `${name}.yaml`));

const S = suite('backtest replay');

S('the bad canary (as it happened) is reverted at the canary within minutes of the impact, before people', async () => {
  const { spec, slos } = example('v1.6.0-bad-canary');
  const shared = new SharedQueries(direct);
  const r = await replay(spec, slos, shared.forStep(replayInterval(slos)));
  const bad = scenario.badRelease;
  assert.ok(r.revert, 'reverted');
  assert.is(r.revert!.stage, 'canary');
  assert.ok(r.revert!.at > bad.impactStartMs && r.revert!.at <= bad.impactStartMs + 10 * 60_000, new Date(r.revert!.at).toISOString());
  assert.is(r.detectionMs, r.revert!.at - bad.impactStartMs);
  assert.is(r.incident!.savedMs, bad.revertMs - r.revert!.at);
  assert.ok(r.incident!.beforeNoticedMs! > 0);
  assert.equal(r.blastRadius, ['datacenter=dc2,tier=tier3,color=green']);
  assert.match(r.revert!.reasons[0]!, /revert: critical SLO http-5xx-ratio failed/);
  assert.ok(r.ok && !r.missed && !r.falseRevert);
  // Evaluations every interval from the stage start; the revert is the last one.
  assert.is(r.evaluations[0]!.at, bad.releaseMs);
  r.evaluations.forEach((e, i) => assert.is(e.at, bad.releaseMs + i * r.intervalMs));
  assert.is(r.evaluations[r.evaluations.length - 1]!.verdict, 'revert');
  assert.equal(r.stages.map((s) => s.outcome), ['reverted']);
  // The SLI is recorded for the report: the bad code's error ratio is far above the baseline's.
  const last = r.evaluations[r.evaluations.length - 1]!.slos.find((s) => s.name === 'http-5xx-ratio')!;
  assert.ok(last.sli! > 0.05 && last.baseline! < 0.01, JSON.stringify(last));
  // The trace: the SLI from 30m before the release to the real revert, for the report's chart;
  // made when first read, once, and written out with the result.
  assert.is(r.trace, r.trace);
  assert.equal((JSON.parse(JSON.stringify(r)) as typeof r).trace, JSON.parse(JSON.stringify(r.trace)));
  assert.is(r.trace[0]!.at, bad.releaseMs - 30 * 60_000);
  assert.is(r.trace[r.trace.length - 1]!.at, bad.revertMs - 60_000);
  r.trace.forEach((p, i) => assert.is(p.at, r.trace[0]!.at + i * 60_000));
  const errRatio = (p: (typeof r.trace)[number]) => p.slos.find((s) => s.name === 'http-5xx-ratio')!.sli!;
  // Healthy before the release; still bad after hmd's revert point, until people reverted: what hmd saves.
  assert.ok(r.trace.filter((p) => p.at < bad.releaseMs).every((p) => errRatio(p) < 0.01));
  const after = r.trace.filter((p) => p.at > r.revert!.at + 10 * 60_000);
  assert.ok(after.length > 90 && after.every((p) => errRatio(p) > 0.05));
  // At evaluation times the trace and the evaluations measured the same thing.
  for (const e of r.evaluations) {
    const p = r.trace.find((x) => x.at === e.at)!;
    assert.equal(p.slos.map((x) => [x.name, x.sli, x.baseline]), e.slos.map((x) => [x.name, x.sli, x.baseline]));
  }
  // Columnar and shared: a handful of range queries for 7 evaluations of 3 SLOs and a 2.5h trace,
  // fewer than asked (the SLI's window is a burn-rate window too, the comparison reuses the SLI).
  assert.ok(shared.stats.chunks > 0 && shared.stats.chunks < shared.stats.asked, JSON.stringify(shared.stats));
  assert.ok(shared.stats.asked <= 30, JSON.stringify(shared.stats));
  assert.is(shared.stats.direct, 0);
});

S('under the staged plan, hmd stops the bad release at the canary: later stages never start', async () => {
  const { spec, slos } = example('v1.6.0-planned-rollout');
  const r = await replay(spec, slos, new SharedQueries(direct).forStep(60_000));
  assert.is(r.revert?.stage, 'canary');
  assert.equal(r.stages.map((s) => s.outcome), ['reverted', 'not-reached', 'not-reached']);
  assert.is(r.blastRadius.length, 1);
  assert.ok(r.ok);
});

S('a healthy release goes through every stage, with a decision at each, and no revert', async () => {
  const { spec, slos } = example('v1.5.1-tier1-blue');
  const r = await replay(spec, slos, new SharedQueries(direct).forStep(60_000));
  assert.is(r.revert, undefined);
  assert.is(r.kind, 'healthy');
  assert.equal(r.stages.map((s) => s.outcome), ['promoted', 'promoted', 'promoted', 'completed']);
  assert.equal(r.stages.map((s) => s.decision), ['continue', 'continue', 'continue', 'continue']);
  assert.is(r.blastRadius.length, 4);
  assert.ok(r.ok && !r.falseRevert);
  // Each stage is evaluated from its own start: the stage names follow the real timeline.
  for (const e of r.evaluations) {
    const st = [...spec.release.stages].reverse().find((s) => s.startedAt! <= e.at)!;
    assert.is(e.stage, st.name);
  }
});

S('a plan promotes only at the first evaluation past the bake that says continue', async () => {
  const { spec, slos } = example('healthy-during-fleet-incident');
  const r = await replay(spec, slos, new SharedQueries(direct).forStep(60_000));
  const [a, b] = r.stages;
  assert.is(a!.outcome, 'promoted');
  assert.ok(b!.start! >= a!.start! + spec.release.stages[0]!.bakeMs!, 'baked before promotion');
  // The promotion happened at an evaluation that said continue, and not before.
  const at = r.evaluations.find((e) => e.stage === a!.name && e.at === b!.start)!;
  assert.is(at.verdict, 'continue');
  // The fleet-wide incident never reverts the release (its baseline is as affected).
  assert.is(r.revert, undefined);
});

S('missing data never passes: a release over a window with no history is held, not promoted or reverted', async () => {
  const text = `apiVersion: hmd.dev/v1
kind: Backtest
metadata: {name: beyond-history}
spec:
  source: {data: ${DATA}}
  slos: [${join(ROOT, 'slo-specs/http-5xx-ratio.yaml')}]
  release:
    start: 2025-06-14T02:00:00Z
    maxPause: 10m
    stages:
      - {name: canary, scope: 'datacenter=dc1,tier=tier1,color=green', baseline: 'datacenter=dc1,tier=tier1,color=blue', bake: 10m}
      - {name: all, scope: 'tier=tier1', baseline: 'tier=tier2', bake: 10m}
`;
  const spec = parseBacktest(text, join(ROOT, 'backtests/beyond.yaml'));
  const slos = [loadSpec(join(ROOT, 'slo-specs/http-5xx-ratio.yaml'))];
  const r = await replay(spec, slos, new SharedQueries(direct).forStep(60_000));
  assert.equal(r.stages.map((s) => s.outcome), ['held', 'not-reached']);
  assert.is(r.revert, undefined);
  assert.ok(r.evaluations.every((e) => e.verdict === 'pause'));
  // The evaluations err (no block for that day), they do not pass.
  assert.ok(r.evaluations.every((e) => e.slos[0]!.status === 'error'), JSON.stringify(r.evaluations[0]));
  // Held at the deadline: bake plus maxPause.
  assert.is(r.evaluations[r.evaluations.length - 1]!.at, spec.release.start + 20 * 60_000);
});

S('nothing is evaluated at or after the real revert; an incident hmd does not catch is missed', async () => {
  const { spec, slos } = example('v1.6.0-bad-canary');
  // Thresholds no release can fail, and no comparison: hmd sees nothing wrong.
  const lax = slos.map((s) => ({ ...s, judgement: { worse: s.judgement.worse, thresholds: { fail: 1e9 } } }));
  const r = await replay(spec, lax, new SharedQueries(direct).forStep(60_000));
  assert.is(r.revert, undefined);
  assert.ok(r.missed);
  assert.not.ok(r.ok);
  assert.equal(r.expectations.filter((e) => !e.ok).map((e) => e.check), ['revert', 'within', 'stage']);
  const lastAt = r.evaluations[r.evaluations.length - 1]!.at;
  assert.ok(lastAt < spec.incident!.reverted!, new Date(lastAt).toISOString());
  assert.is(lastAt, spec.incident!.reverted! - 60_000);
  assert.equal(r.stages.map((s) => s.outcome), ['stopped']);
});

S('shared range-evaluated chunks give exactly the evaluations of instant queries', async () => {
  for (const name of ['v1.6.0-bad-canary', 'v1.5.1-tier1-blue', 'healthy-over-scrape-gap']) {
    const { spec, slos } = example(name);
    const a = await replay(spec, slos, direct);
    const shared = new SharedQueries(direct);
    const b = await replay(spec, slos, shared.forStep(replayInterval(slos)));
    assert.equal(b.evaluations, a.evaluations, name);
    assert.equal(b.revert, a.revert, name);
    assert.ok(shared.stats.chunks < shared.stats.asked, `${name}: ${JSON.stringify(shared.stats)}`);
  }
});

S('with the replay window known, one range query per expression covers a whole backtest', async () => {
  const { spec, slos } = example('v1.6.0-bad-canary');
  const win = replayWindow(spec, slos);
  assert.is(win.from, scenario.badRelease.releaseMs - 30 * 60_000);
  assert.is(win.to, scenario.badRelease.revertMs - 60_000);
  const ranges: [number, number][] = [];
  const counting: QueryFn = { instant: direct.instant, range: (e, a, b, st) => (ranges.push([a, b]), direct.range(e, a, b, st)) };
  const shared = new SharedQueries(counting);
  const r = await replay(spec, slos, shared.forStep(60_000, win));
  // Every chunk is the window itself (150 steps): no query over fixed 6h boundaries.
  assert.ok(ranges.length > 0);
  assert.ok(ranges.every(([a, b]) => a === win.from && b === win.to), JSON.stringify(ranges.slice(0, 3)));
  assert.is(shared.stats.chunks, ranges.length);
  assert.is(shared.stats.direct, 0);
  // And the answers are the same as without a window.
  const plain = await replay(spec, slos, new SharedQueries(direct).forStep(60_000));
  assert.equal(r.evaluations, plain.evaluations);
  assert.equal(r.trace, plain.trace);
  // A long window is cut into equal pieces of at most a day of steps; before it, a fixed chunk
  // aligned to the day and cut short where the window begins.
  const from = Date.parse('2025-06-12T01:00:00Z');
  const long = new SharedQueries(counting).forStep(60_000, { from, to: from + 1999 * 60_000 });
  ranges.length = 0;
  const e = sliExprOf(slos[0]!);
  await long.instant(e, from + 10 * 60_000);
  await long.instant(e, from + 1999 * 60_000);
  await long.instant(e, from - 60_000);
  assert.equal(ranges, [
    [from, from + 999 * 60_000],
    [from + 1000 * 60_000, from + 1999 * 60_000],
    [Date.parse('2025-06-12T00:00:00Z'), from - 60_000],
  ]);
});

S("columnar measurements judge exactly as the gate's instant queries do, time by time", async () => {
  let reasonsChecked = 0;
  for (const name of ['v1.6.0-bad-canary', 'healthy-over-scrape-gap', 'healthy-during-fleet-incident', 'v1.5.0-tier1-rollout']) {
    const { spec, slos } = example(name);
    const r = await replay(spec, slos, new SharedQueries(direct).forStep(60_000, replayWindow(spec, slos)));
    // The gate's path: a Stage per stage, one instant query per expression and time.
    let stage: Stage | undefined;
    let current = '';
    for (const e of r.evaluations) {
      if (e.stage !== current) {
        const rec = r.stages.find((x) => x.name === e.stage)!;
        stage = new Stage({ specs: slos, scope: rec.scope, baselineScope: rec.baseline, startedAt: rec.start! });
        current = e.stage;
      }
      const v = await stage!.evaluate(e.at, direct);
      const got = stage!.slos.map((x) => {
        const last = x.evaluations[x.evaluations.length - 1]!;
        return { name: x.spec.name, status: last.status, ...(last.sli !== undefined ? { sli: last.sli } : {}), ...(last.baseline !== undefined ? { baseline: last.baseline } : {}) };
      });
      assert.equal(e.slos, got, `${name} at ${new Date(e.at).toISOString()}`);
      assert.is(e.verdict, v.verdict, `${name} at ${new Date(e.at).toISOString()}`);
      // The replay keeps only the latest reasons and writes them when read: read at the time,
      // they are the gate's, word for word.
      if (r.revert?.at === e.at) {
        assert.equal(r.revert.reasons, v.reasons);
        // Each failing SLO's line ends with what its checks found.
        for (const line of r.revert.reasons.filter((l) => / fail \(/.test(l))) assert.match(line, /\): \S/, line);
        reasonsChecked++;
      }
      if (r.firstPause?.at === e.at) {
        assert.equal(r.firstPause.reasons, v.reasons);
        reasonsChecked++;
      }
    }
  }
  assert.ok(reasonsChecked >= 2, `${reasonsChecked} verdicts' reasons compared`);
});

/** The measurements a view holds, as a plain record (without the view's own workings). */
const fields = (m: Measurements): Measurements => {
  const out: { -readonly [K in keyof Measurements]: Measurements[K] } = { sli: m.sli };
  if (m.baseline !== undefined) out.baseline = m.baseline;
  if (m.traffic !== undefined) out.traffic = m.traffic;
  if (m.errorRatios !== undefined) out.errorRatios = m.errorRatios;
  if (m.samples !== undefined) out.samples = { release: m.samples.release, baseline: m.samples.baseline };
  return out;
};

/** Samples as a sorted plain array: the comparison takes them as a multiset. */
const multiset = (xs: Samples) => Array.from(samplesArray(xs)).sort((a, b) => a - b);
/** Measurements with the samples as multisets and the error ratios read at the windows of `ref` (a Map from measure). */
const plain = (m: Measurements, ref: Measurements) => {
  const windows = ref.errorRatios instanceof Map ? [...(ref.errorRatios as Map<number, unknown>).keys()] : [];
  return {
    ...fields(m),
    ...(m.errorRatios ? { errorRatios: windows.map((w) => [w, m.errorRatios!.get(w)]) } : {}),
    ...(m.samples ? { samples: { release: multiset(m.samples.release), baseline: multiset(m.samples.baseline) } } : {}),
  };
};

S('measureMany gives, time by time, the very measurements measure takes', async () => {
  const t0 = Date.parse('2025-06-13T09:20:00Z');
  const times = Array.from({ length: 60 }, (_, i) => t0 + i * 60_000);
  const cases: [string, string, string][] = [
    ['datacenter=dc2,tier=tier3,color=green', 'datacenter=dc2,tier=tier3,color=blue', 'the bad release'],
    ['datacenter=dc4,tier=tier1,color=green', 'datacenter=dc4,tier=tier1,color=blue', 'healthy'],
    ['tier=tier3', 'tier=tier2', 'several machines'],
    ['datacenter=dc9', 'datacenter=dc8', 'no data at all'],
  ];
  for (const f of ['http-5xx-ratio', 'latency-p99', 'saturation', 'http-5xx-by-release-scope']) {
    const spec = loadSpec(join(ROOT, 'slo-specs', `${f}.yaml`));
    for (const [rel, base, what] of cases) {
      const scopes = spec.scope.via ? scopesFor(spec, 'version=v1.6.0', 'version=v1.5.0') : scopesFor(spec, rel, base);
      const many = await measureMany(spec, scopes, times, direct);
      // Step by step, then by jumps and backwards, then again.
      const order = [...Array.from({ length: 20 }, (_, i) => i), 59, 45, 33, 21, 27, 28, 29, 0, 5, 19];
      assert.ok(many.view, `${f}, ${what}: measured by columns, with a view`);
      for (const i of order) {
        const m = many.at(i)!;
        const at = `${f}, ${what}, at ${new Date(times[i]!).toISOString()}`;
        const ref = await measure(spec, scopes, times[i]!, direct);
        assert.equal(plain(m, ref), plain(ref, ref), at);
        // The reused view holds the same measurements, whatever it held before.
        assert.equal(plain(many.view!(i)!, ref), plain(ref, ref), `${at}, through the view`);
      }
    }
  }
  // An SLI returning several series is the same error either way.
  const spec = loadSpec(join(ROOT, 'slo-specs/latency-p99.yaml'));
  const bare = { ...spec, sli: { kind: 'expr' as const, expr: 'rate(http_requests_total[$window])' }, judgement: { worse: 'higher' as const, thresholds: { fail: 1 } } };
  const sc = scopesFor(bare, 'datacenter=dc1,tier=tier1,color=green', undefined);
  const m = (await measureMany(bare, sc, [t0], direct)).at(0);
  const ref = await measure(bare, sc, t0, direct);
  assert.equal(plain(m!, ref), plain(ref, ref));
  const sli = m!.sli;
  assert.match(typeof sli !== 'number' && sli.kind === 'error' ? sli.message : '', /returned \d+ series; aggregate it to one/);
});

S('comparison windows hold the numbers of their span in any order of asking, as they grow and shrink over a gap', async () => {
  const spec = loadSpec(join(ROOT, 'slo-specs/latency-p99.yaml'));
  const scopes = scopesFor(spec, 'datacenter=dc1', 'datacenter=dc2');
  const t0 = Date.parse('2025-06-13T09:00:00Z');
  const times = Array.from({ length: 60 }, (_, i) => t0 + i * 60_000);
  // One series: a sample a minute from 30m before the first time, none from 10m to 20m, with
  // repeated values and a NaN.
  const ts: number[] = [];
  const vs: number[] = [];
  for (let t = t0 - 30 * 60_000; t <= times[59]!; t += 60_000) {
    const k = (t - t0) / 60_000;
    if (k > 10 && k < 20) continue;
    ts.push(t);
    vs.push(k === 25 ? NaN : ((k * 7919) % 13) / 4);
  }
  const series = [{ labels: [], timestamps: Float64Array.from(ts), values: Float64Array.from(vs) }];
  const q: QueryFn = {
    instant: () => Promise.reject(new Error('not asked')),
    range: async () => ({ value: { type: 'matrix', series } }),
  };
  const rows = await measureMany(spec, scopes, times, q);
  const want = (i: number) => vs.filter((v, k) => ts[k]! >= times[i]! - 30 * 60_000 && ts[k]! <= times[i]! && !Number.isNaN(v)).sort((a, b) => a - b);
  // In order, then ahead and back across the gap, then again.
  const order = [...Array.from({ length: 10 }, (_, i) => i), 16, 12, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 30, 29, 31, 59, 0, 16];
  for (const i of order) {
    const m = rows.at(i)!;
    assert.equal(multiset(m.samples!.release), want(i), `release window ${i}`);
    assert.equal(multiset(m.samples!.baseline), want(i), `baseline window ${i}`);
  }
  // Every window asked before is still as it was.
  for (const i of new Set(order)) assert.equal(multiset(rows.at(i)!.samples!.release), want(i), `window ${i} again`);
});

S('chunks span whole divisors of a day where they can', () => {
  assert.is(chunkMs(60_000, 360), 6 * 3_600_000);
  assert.is(chunkMs(30_000, 360), 3 * 3_600_000);
  assert.is(chunkMs(5 * 60_000, 360), 24 * 3_600_000);
  assert.is(chunkMs(7 * 60_000, 360), 7 * 60_000 * 205);
});

S.run();
