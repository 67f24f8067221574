/** Engine behaviour beyond the test language: limits, errors, result shapes and read accounting. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../../src/promql/engine.js';
import { PromQLError } from '../../src/promql/errors.js';
import { MemoryStore } from '../../src/storage/memory.js';
import type { Queryable } from '../../src/storage/queryable.js';
import { compareLabels, labelsFromRecord, formatLabels } from '../../src/storage/labels.js';

const MIN = 60_000;

/** 20 series of a counter, one sample a minute for 2 hours. */
function store(): MemoryStore {
  const s = new MemoryStore();
  for (let i = 0; i < 20; i++) {
    const ls = labelsFromRecord({ __name__: 'req_total', instance: `i${i}`, code: i % 4 === 0 ? '500' : '200' });
    for (let t = 0; t <= 120; t++) s.append(ls, t * MIN, t * (i + 1));
  }
  return s;
}

async function failure(p: Promise<unknown>): Promise<PromQLError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, PromQLError);
    return e as PromQLError;
  }
  assert.unreachable('the query should have failed');
  throw new Error('unreachable');
}

test('max samples: a query holding more samples than allowed fails cleanly', async () => {
  const s = store();
  // 20 series x 121 steps = 2420 points held by the selector alone.
  const small = new Engine({ maxSamples: 2000 });
  const e = await failure(small.rangeQuery(s, 'req_total', 0, 120 * MIN, MIN));
  assert.is(e.errorType, 'execution');
  assert.match(e.message, /query processing would load too many samples into memory/);
  const ok = await new Engine({ maxSamples: 3000 }).rangeQuery(s, 'req_total', 0, 120 * MIN, MIN);
  assert.is(ok.value.type, 'matrix');
  assert.ok(ok.stats.peakSamples >= 2420 && ok.stats.peakSamples <= 3000, `peak ${ok.stats.peakSamples}`);
});

test('timeout: measured on the injected clock, reported as errorType timeout', async () => {
  let t = 0;
  // Every reading of the clock advances it by a second; the query may take 5.
  const eng = new Engine({ timeoutMs: 5000, now: () => (t += 1000) });
  const e = await failure(eng.rangeQuery(store(), 'sum(rate(req_total[5m]))', 0, 120 * MIN, MIN));
  assert.is(e.errorType, 'timeout');
  assert.match(e.message, /query timed out/);
});

test('timeout: a select still waiting when the time is up is told to stop, and the query reports a timeout', async () => {
  let told: AbortSignal | undefined;
  const stuck: Queryable = {
    select: (_req, signal) =>
      new Promise((_resolve, reject) => {
        told = signal;
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
  };
  const e = await failure(new Engine({ timeoutMs: 30 }).rangeQuery(stuck, 'sum(rate(req_total[5m]))', 0, 10 * MIN, MIN));
  assert.is(e.errorType, 'timeout');
  assert.match(e.message, /query timed out in query execution/);
  assert.ok(told?.aborted, 'the select was given a signal, and it fired');
  // A query that finishes in time leaves no timer behind to fire later.
  const ok = await new Engine({ timeoutMs: 30 }).rangeQuery(store(), 'sum(rate(req_total[5m]))', 0, 10 * MIN, MIN);
  assert.is(ok.value.type, 'matrix');
});

test('sum over one group adds exactly as the same group of a sum by, bit for bit', async () => {
  // Magnitudes far apart (compensation matters), gaps, an infinity: two groups of 9 series.
  const s = new MemoryStore();
  for (let k = 0; k < 18; k++) {
    const ls = labelsFromRecord({ __name__: 'x', grp: k % 2 === 0 ? 'a' : 'b', k: String(k) });
    for (let t = 0; t <= 60; t++) {
      if ((t + k) % 7 === 3) continue;
      const v = k % 3 === 0 ? 1e16 + t : k % 3 === 1 ? 0.1 * (t + 1) : -1e16 + k;
      s.append(ls, t * MIN, k === 5 && t === 30 ? Infinity : v);
    }
  }
  const e = new Engine();
  const by = await e.rangeQuery(s, 'sum by (grp) (x)', 0, 60 * MIN, MIN);
  for (const grp of ['a', 'b']) {
    const one = await e.rangeQuery(s, `sum(x{grp="${grp}"})`, 0, 60 * MIN, MIN);
    const want = by.value.type === 'matrix' ? by.value.series.find((x) => x.labels.some((l) => l.name === 'grp' && l.value === grp)) : undefined;
    const got = one.value.type === 'matrix' ? one.value.series[0] : undefined;
    assert.ok(want && got);
    assert.equal(Array.from(got!.timestamps), Array.from(want!.timestamps));
    got!.values.forEach((v, i) => assert.ok(Object.is(v, want!.values[i]), `${grp} at ${i}: ${v} vs ${want!.values[i]}`));
  }
});

test('cancellation through an AbortSignal', async () => {
  const ac = new AbortController();
  ac.abort();
  const e = await failure(new Engine().instantQuery(store(), 'req_total', 0, { signal: ac.signal }));
  assert.is(e.errorType, 'canceled');
});

test('range queries: resolution limit and result type checks', async () => {
  const eng = new Engine();
  const tooMany = await failure(eng.rangeQuery(store(), 'req_total', 0, 20_000 * 1000, 1000));
  assert.is(tooMany.errorType, 'bad_data');
  assert.match(tooMany.message, /exceeded maximum resolution of 11,000 points per timeseries/);
  const matrix = await failure(eng.rangeQuery(store(), 'req_total[5m]', 0, MIN, MIN));
  assert.match(matrix.message, /invalid expression type "range vector" for range query/);
  const step = await failure(eng.rangeQuery(store(), 'req_total', 0, MIN, 0));
  assert.is(step.errorType, 'bad_data');
  const parse = await failure(eng.instantQuery(store(), 'sum(', 0));
  assert.is(parse.errorType, 'bad_data');
  assert.is(parse.message, '1:5: parse error: unclosed left parenthesis');
});

test('result shapes: vector, scalar, string, matrix at an instant; range results sorted by labels', async () => {
  const eng = new Engine();
  const s = store();
  const v = await eng.instantQuery(s, 'req_total{instance="i1"}', 10 * MIN);
  assert.equal(v.value.type === 'vector' && v.value.samples.map((x) => [formatLabels(x.labels), x.t, x.v]), [
    ['req_total{code="200", instance="i1"}', 10 * MIN, 20],
  ]);
  const sc = await eng.instantQuery(s, '1 + 2', 5000);
  assert.equal(sc.value, { type: 'scalar', t: 5000, v: 3 });
  const st = await eng.instantQuery(s, '"hello"', 5000);
  assert.equal(st.value, { type: 'string', t: 5000, v: 'hello' });
  const m = await eng.instantQuery(s, 'req_total{instance="i0"}[3m]', 10 * MIN);
  assert.ok(m.value.type === 'matrix');
  if (m.value.type === 'matrix') assert.equal([...m.value.series[0]!.timestamps], [8 * MIN, 9 * MIN, 10 * MIN]);
  const r = await eng.rangeQuery(s, 'sort_desc(req_total)', 0, 2 * MIN, MIN);
  assert.ok(r.value.type === 'matrix');
  if (r.value.type === 'matrix') {
    // sort_desc has no effect on a range query: series come back in label order.
    const got = r.value.series.map((x) => x.labels);
    assert.equal(got, [...got].sort(compareLabels));
    assert.is(formatLabels(got[0]!), 'req_total{code="200", instance="i1"}');
    assert.is(r.value.series.length, 20);
    assert.equal([...r.value.series[0]!.timestamps], [0, MIN, 2 * MIN]);
  }
});

test('reads only what the query needs: selector ranges bound the samples fetched', async () => {
  const eng = new Engine();
  const s = store();
  // An instant selector reads the 5m lookback: samples at 6..10m of one series.
  const a = await eng.instantQuery(s, 'req_total{instance="i3"}', 10 * MIN);
  assert.is(a.stats.seriesFetched, 1);
  assert.is(a.stats.samplesFetched, 5);
  // rate over [10m] across 20 series: (t-10m, t] holds 10 samples each.
  const b = await eng.instantQuery(s, 'sum(rate(req_total[10m]))', 60 * MIN);
  assert.is(b.stats.samplesFetched, 200);
  // Two disjoint windows of one selector are read separately, not as one long range.
  const c = await eng.instantQuery(s, 'req_total{instance="i0"} - req_total{instance="i0"} offset 100m', 110 * MIN);
  assert.is(c.stats.samplesFetched, 10);
});

test('annotations: rate on a non-counter name is an info, with its position', async () => {
  const s = new MemoryStore();
  const ls = labelsFromRecord({ __name__: 'temperature' });
  for (let t = 0; t <= 10; t++) s.append(ls, t * MIN, t);
  const r = await new Engine().instantQuery(s, 'rate(temperature[5m])', 10 * MIN);
  assert.equal(r.infos, ['PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "temperature" (1:6)']);
  assert.equal(r.warnings, []);
});

test('delayed name removal changes only when __name__ is dropped', async () => {
  const s = new MemoryStore();
  for (const n of ['a_total', 'b_total']) for (let t = 0; t <= 10; t++) s.append(labelsFromRecord({ __name__: n, env: '1' }), t * MIN, t);
  const q = 'label_replace(rate({env="1"}[5m]), "name", "$1", "__name__", "(.*)")';
  const delayed = await new Engine({ delayedNameRemoval: true }).instantQuery(s, q, 10 * MIN);
  assert.is(delayed.value.type === 'vector' && delayed.value.samples.length, 2);
  // Without it, rate drops the names first and the two outputs collide.
  const e = await failure(new Engine().instantQuery(s, q, 10 * MIN));
  assert.match(e.message, /vector cannot contain metrics with the same labelset/);
});


test('rate and increase in a range query equal the instant query at every step, across counter resets', async () => {
  // A counter with resets at irregular places (and a NaN), so that some windows hold none, one or several.
  const build = () => {
    const s = new MemoryStore();
    const ls = labelsFromRecord({ __name__: 'c_total', job: 'x' });
    let v = 0;
    for (let t = 0; t <= 300; t++) {
      v = t % 37 === 0 || t % 53 === 0 ? t % 5 : v + 1 + (t % 7) * 0.37;
      s.append(ls, t * 15_000, t === 150 ? NaN : v);
    }
    return s;
  };
  const s = build();
  const e = new Engine();
  for (const q of ['rate(c_total[5m])', 'increase(c_total[10m])', 'rate(c_total[30m])', 'resets(c_total[20m])']) {
    const r = await e.rangeQuery(s, q, 10 * MIN, 75 * MIN, 30_000);
    assert.is(r.value.type, 'matrix');
    const series = r.value.type === 'matrix' ? r.value.series[0]! : undefined;
    assert.ok(series && series.timestamps.length > 100, q);
    for (let i = 0; i < series!.timestamps.length; i++) {
      const t = series!.timestamps[i]!;
      // A store of its own for each instant query: arrays never seen before, so no shortcut.
      const one = await e.instantQuery(build(), q, t);
      const want = one.value.type === 'vector' ? one.value.samples[0]?.v : undefined;
      // Bit for bit: the same additions in the same order.
      assert.ok(Object.is(series!.values[i], want), `${q} at ${t}: ${series!.values[i]} vs ${want}`);
    }
  }
});

test.run();
