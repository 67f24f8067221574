/** The pure judgement of one SLO evaluation: thresholds, burn rates, baseline comparison, traffic, data policy. */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mannWhitneyU } from '../../src/slo/stats.js';
import { judge, worst, type JudgementSpec, type Measured, type Measurements, type SampleSpan } from '../../src/slo/judge.js';
import { prng, gauss } from '../../src/util/random.js';

const S = suite('slo judge');
const v = (value: number): Measured => value;
const H = 3_600_000;
const M = 60_000;

S('thresholds: pass, warn, fail, with the values in the reason; lower-is-worse too', () => {
  const spec: JudgementSpec = { worse: 'higher', thresholds: { warn: 0.005, fail: 0.01 } };
  assert.is(judge(spec, { sli: v(0.001) }).status, 'pass');
  const w = judge(spec, { sli: v(0.007) });
  assert.is(w.status, 'warn');
  assert.equal(w.reasons[0]!.values, { sli: 0.007, warn: 0.005 });
  const f = judge(spec, { sli: v(0.02) });
  assert.is(f.status, 'fail');
  assert.match(f.reasons[0]!.message, /SLI 0.02 is above the fail threshold 0.01/);
  const avail: JudgementSpec = { worse: 'lower', thresholds: { fail: 0.99 } };
  assert.is(judge(avail, { sli: v(0.995) }).status, 'pass');
  assert.match(judge(avail, { sli: v(0.98) }).reasons[0]!.message, /below the fail threshold/);
});

S('burn rates: both windows must reach the factor (SRE workbook multiwindow)', () => {
  const spec: JudgementSpec = {
    worse: 'higher',
    objective: 0.999,
    burnRates: [
      { longMs: H, shortMs: 5 * M, factor: 14.4, severity: 'fail' },
      { longMs: 6 * H, shortMs: 30 * M, factor: 6, severity: 'warn' },
    ],
  };
  const ratios = (a: number, b: number, c: number, d: number): Measurements => ({
    sli: v(b),
    errorRatios: new Map([
      [H, v(a)],
      [5 * M, v(b)],
      [6 * H, v(c)],
      [30 * M, v(d)],
    ]),
  });
  assert.is(judge(spec, ratios(0.0001, 0.0002, 0.0001, 0.0001)).status, 'pass');
  // Short window burning hard but the long one not yet: no page (the spike may be noise).
  assert.is(judge(spec, ratios(0.005, 0.05, 0.0001, 0.0001)).status, 'pass');
  const fail = judge(spec, ratios(0.02, 0.03, 0.001, 0.001));
  assert.is(fail.status, 'fail');
  const r = fail.reasons.find((x) => x.status === 'fail')!;
  assert.equal([Math.round(r.values['burnLong'] as number), Math.round(r.values['burnShort'] as number), r.values['factor']], [20, 30, 14.4]);
  assert.is(judge(spec, ratios(0.001, 0.001, 0.007, 0.008)).status, 'warn');
});

/** Samples of an error ratio per scrape step: mean `m`, noise `sd`. */
function samples(seed: number, n: number, m: number, sd: number): number[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => Math.max(0, m + sd * gauss(r)));
}

const CMP: JudgementSpec = {
  worse: 'higher',
  thresholds: { fail: 0.01 },
  comparison: { maxRelativeIncrease: 0.5, alpha: 0.01, minEffect: 0.2, minSamples: 10, severity: 'fail' },
};

S('comparison: a release clearly worse than its baseline fails with the test figures', () => {
  const e = judge(CMP, { sli: v(0.03), baseline: v(0.004), samples: { release: samples(1, 30, 0.03, 0.005), baseline: samples(2, 30, 0.004, 0.002) } });
  assert.is(e.status, 'fail');
  const c = e.reasons.find((r) => r.check === 'comparison')!;
  assert.is(c.status, 'fail');
  assert.ok((c.values['p'] as number) < 1e-6 && (c.values['effect'] as number) > 0.4, JSON.stringify(c.values));
});

S('comparison: a fleet-wide problem fails the threshold but is not blamed on the release (warn, not fail)', () => {
  const e = judge(CMP, { sli: v(0.031), baseline: v(0.03), samples: { release: samples(3, 30, 0.031, 0.005), baseline: samples(4, 30, 0.03, 0.005) } });
  assert.is(e.status, 'warn');
  assert.match(e.reasons.find((r) => r.check === 'threshold')!.message, /the baseline is as affected \(fleet-wide\), so not blamed on the release/);
  // A small but significant difference under the minimum effect or increase is not blamed either.
  const small = judge(CMP, { sli: v(0.032), baseline: v(0.03), samples: { release: samples(5, 200, 0.032, 0.002), baseline: samples(6, 200, 0.03, 0.002) } });
  assert.is(small.reasons.find((r) => r.check === 'comparison')!.status, 'pass');
});

S('comparison: lower-is-worse SLIs compare the other way round', () => {
  const LOWER: JudgementSpec = { ...CMP, worse: 'lower', thresholds: { fail: 0.9 }, comparison: { ...CMP.comparison!, maxRelativeIncrease: 0.01 } };
  const worse = judge(LOWER, { sli: v(0.95), baseline: v(0.995), samples: { release: samples(7, 31, 0.95, 0.01), baseline: samples(8, 31, 0.995, 0.002) } });
  assert.is(worse.reasons.find((r) => r.check === 'comparison')!.status, 'fail');
  const better = judge(LOWER, { sli: v(0.999), baseline: v(0.95), samples: { release: samples(9, 31, 0.999, 0.001), baseline: samples(10, 31, 0.95, 0.01) } });
  assert.is(better.reasons.find((r) => r.check === 'comparison')!.status, 'pass');
});

S('comparison within the tolerated increase passes and still reports the test, computed when read', () => {
  const rel = samples(11, 30, 0.0101, 0.002);
  const base = samples(12, 30, 0.01, 0.002);
  const e = judge(CMP, { sli: v(0.0101), baseline: v(0.01), samples: { release: rel, baseline: base } });
  const c = e.reasons.find((r) => r.check === 'comparison')!;
  assert.is(c.status, 'pass');
  const mw = mannWhitneyU(rel, base)!;
  assert.equal(c.values, { sli: 0.0101, baseline: 0.01, relativeIncrease: (0.0101 - 0.01) / 0.01, p: mw.pGreater, effect: mw.effect - 0.5, n1: 30, n2: 30 });
  assert.match(c.message, /^release not significantly worse than baseline: 0\.0101 vs 0\.01 \(\+1%\), p=/);
  // All NaN on one side: nothing to compare, whatever the lengths.
  const nan = judge(CMP, { sli: v(0.0101), baseline: v(0.01), samples: { release: rel, baseline: base.map(() => NaN) } });
  assert.is(nan.reasons.find((r) => r.check === 'comparison')!.status, 'no-data');
});

S('comparison without enough samples is no-data, never pass', () => {
  const e = judge(CMP, { sli: v(0.001), baseline: v(0.001), samples: { release: [0.001, 0.002], baseline: [] } });
  assert.is(e.status, 'no-data');
  assert.match(e.reasons.find((r) => r.check === 'comparison')!.message, /2 release and 0 baseline samples \(need 10 each\)/);
});

S('minimum traffic: too few requests is no-data whatever the ratio', () => {
  const spec: JudgementSpec = { worse: 'higher', thresholds: { fail: 0.01 }, minTraffic: 100 };
  const e = judge(spec, { sli: v(0), traffic: v(12) });
  assert.is(e.status, 'no-data');
  assert.match(e.reasons[0]!.message, /only 12 requests in the release scope, fewer than the 100 needed/);
  assert.is(judge(spec, { sli: v(0), traffic: v(1000) }).status, 'pass');
  // A measured zero is a value like any other, never missing data: SLI, baseline, traffic.
  assert.is(judge(spec, { sli: v(0), traffic: v(0) }).status, 'no-data');
  assert.match(judge(spec, { sli: v(0), traffic: v(0) }).reasons[0]!.message, /only 0 requests/);
  const cmp = judge(CMP, { sli: v(0), baseline: v(0), samples: { release: samples(13, 30, 0, 0), baseline: samples(14, 30, 0, 0) } });
  assert.ok(cmp.reasons.some((r) => r.check === 'comparison' && /0 vs 0/.test(r.message)), JSON.stringify(cmp.reasons.map((r) => r.message)));
});

S('missing, partial and failed data never pass; policies are configurable, the safe one by default', () => {
  const spec: JudgementSpec = { worse: 'higher', thresholds: { fail: 0.01 } };
  assert.is(judge(spec, { sli: { kind: 'empty' } }).status, 'no-data');
  assert.is(judge(spec, { sli: v(NaN) }).status, 'no-data');
  const partial: Measured = { kind: 'partial', value: 0.001, missing: ['dc3'] };
  const p = judge(spec, { sli: partial });
  assert.is(p.status, 'no-data');
  assert.match(p.reasons[0]!.message, /partial answer, engines dc3 missing; not judged as healthy/);
  assert.is(judge({ ...spec, policy: { partial: 'use' } }, { sli: partial }).status, 'pass');
  assert.is(judge({ ...spec, policy: { partial: 'fail' } }, { sli: partial }).status, 'fail');
  const err = judge(spec, { sli: { kind: 'error', message: 'remote engine "dc1": timeout' } });
  assert.is(err.status, 'error');
  assert.match(err.reasons[0]!.message, /query failed: remote engine "dc1": timeout/);
  assert.is(judge({ ...spec, policy: { noData: 'fail' } }, { sli: { kind: 'empty' } }).status, 'fail');
  assert.is(judge({ worse: 'higher' }, { sli: { kind: 'empty' } }).status, 'no-data');
});

S('the status of a judgement is the worst of the reasons it lists, whatever the measurements (random cases)', () => {
  const rnd = prng(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const measured = (): Measured | undefined =>
    pick<Measured | undefined>([
      undefined,
      { kind: 'empty' },
      { kind: 'error', message: 'boom' },
      { kind: 'partial', value: rnd() * 0.02, missing: ['dc3'] },
      { kind: 'partial', value: undefined, missing: ['dc3'] },
      v(NaN),
      v(rnd() * 0.02),
      v(rnd() * 0.02),
      v(rnd() * 0.02),
      v(0),
    ]);
  const sample = (n: number, mean: number) => Array.from({ length: n }, () => (rnd() < 0.05 ? NaN : mean + 0.001 * gauss(rnd)));
  const statuses = new Set<string>();
  let spans = 0;
  for (let k = 0; k < 3000; k++) {
    const spec: JudgementSpec = {
      worse: pick(['higher', 'lower'] as const),
      ...(rnd() < 0.8 ? { thresholds: pick([{ warn: 0.005, fail: 0.01 }, { fail: 0.01 }, { warn: 0.008 }]) } : {}),
      ...(rnd() < 0.6
        ? { objective: 0.999, burnRates: [{ longMs: H, shortMs: 5 * M, factor: 5, severity: 'fail' as const }, { longMs: 6 * H, shortMs: 30 * M, factor: 2, severity: 'warn' as const }] }
        : {}),
      ...(rnd() < 0.6 ? { comparison: { maxRelativeIncrease: pick([0.1, 0.5, 1]), alpha: 0.05, minEffect: 0.1, minSamples: 5, severity: pick(['warn', 'fail'] as const) } } : {}),
      ...(rnd() < 0.4 ? { minTraffic: 100 } : {}),
      ...(rnd() < 0.5 ? { policy: { noData: pick(['no-data', 'fail', 'pass'] as const), partial: pick(['no-data', 'use', 'fail'] as const), error: pick(['error', 'no-data', 'fail'] as const) } } : {}),
    };
    const sli = measured() ?? v(rnd() * 0.02);
    const m: Measurements = {
      sli,
      ...(rnd() < 0.7 ? { baseline: measured() ?? v(rnd() * 0.02) } : {}),
      ...(rnd() < 0.7 ? { errorRatios: new Map([H, 5 * M, 6 * H, 30 * M].flatMap((w) => { const x = measured(); return x ? [[w, x] as const] : []; })) } : {}),
      ...(rnd() < 0.7 ? { samples: { release: sample(Math.floor(rnd() * 30), 0.01), baseline: sample(Math.floor(rnd() * 30), pick([0.002, 0.01])) } } : {}),
      ...(rnd() < 0.7 ? { traffic: pick([v(50), v(5000), { kind: 'empty' } as Measured]) } : {}),
    };
    const e = judge(spec, m);
    const listed = e.reasons;
    // The same samples as spans of longer runs judge alike, word for word.
    if (m.samples) {
      const span = (xs: ArrayLike<number>, typed: boolean): SampleSpan => {
        const run = [NaN, 1e9, ...Array.from(xs), -1e9];
        return { values: typed ? Float64Array.from(run) : run, from: 2, to: 2 + xs.length };
      };
      const typed = rnd() < 0.5;
      const spanned = judge(spec, { ...m, samples: { release: span(m.samples.release as ArrayLike<number>, typed), baseline: span(m.samples.baseline as ArrayLike<number>, typed) } });
      assert.is(spanned.status, e.status);
      assert.equal(JSON.parse(JSON.stringify(spanned.reasons)), JSON.parse(JSON.stringify(listed)));
      spans++;
    }
    assert.ok(listed.length > 0, 'every judgement says why');
    assert.is(e.status, worst(listed.map((r) => r.status)), `case ${k}: ${JSON.stringify(listed.map((r) => `${r.check}:${r.status}`))}`);
    assert.is(e.reasons, listed, 'reasons are written once');
    statuses.add(e.status);
  }
  assert.equal([...statuses].sort(), ['error', 'fail', 'no-data', 'pass', 'warn'], 'the cases reach every status');
  assert.ok(spans > 1000, `${spans} cases judged over spans`);
});

S('statuses combine worst-first: fail > error > no-data > warn > pass', () => {
  assert.is(worst(['pass', 'warn', 'no-data']), 'no-data');
  assert.is(worst(['error', 'no-data', 'fail']), 'fail');
  assert.is(worst(['pass', 'error']), 'error');
  assert.is(worst([]), 'pass');
});

S.run();
