/**
 * Range-function outputs remembered across queries (src/promql/eval/range-memo.ts): over storage
 * that declares its samples immutable, every answer equals a fresh engine's, bit for bit, while
 * repeated series are computed once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../../src/promql/engine.js';
import { RangeMemo } from '../../src/promql/eval/range-memo.js';
import { indexResets } from '../../src/promql/functions/range.js';
import { labelsFromRecord } from '../../src/storage/labels.js';
import { MemoryStore } from '../../src/storage/memory.js';
import type { Queryable } from '../../src/storage/queryable.js';
import type { QueryValue } from '../../src/promql/result.js';

const MIN = 60_000;

/** Counters and a gauge on 2 datacenters × 3 instances, with resets, a NaN and a staleness gap. */
function build(): MemoryStore {
  const s = new MemoryStore();
  for (const dc of ['a', 'b']) {
    for (let i = 0; i < 3; i++) {
      for (const code of ['200', '500']) {
        const ls = labelsFromRecord({ __name__: 'req_total', dc, instance: `${dc}${i}`, code });
        let v = 0;
        for (let t = 0; t <= 400; t++) {
          v = (t + i * 11) % 97 === 0 ? 1 : v + (code === '500' ? 0.1 : 3) + ((t * (i + 1)) % 5);
          s.append(ls, t * 15_000 + i * 7, t === 200 && i === 1 ? NaN : v);
        }
      }
      const g = labelsFromRecord({ __name__: 'cpu', dc, instance: `${dc}${i}` });
      for (let t = 0; t <= 400; t++) s.append(g, t * 15_000, ((t * 13 + i) % 17) / 17);
    }
  }
  return s;
}

/** A query value with every number as its bits (NaN equals NaN; -0 differs from 0). */
const bits = (v: QueryValue): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x instanceof Float64Array ? Array.from(x, (n) => (Object.is(n, -0) ? '-0' : String(n))) : x)));

/** The same store, declared immutable (nothing appends to it during the test). */
const immutable = (s: MemoryStore): Queryable => ({ immutableSamples: true, select: (req) => s.select(req) });

const QUERIES = [
  'sum(rate(req_total{code="500"}[5m])) / sum(rate(req_total[5m]))',
  'sum(rate(req_total{dc="a"}[5m]))',
  'sum by (dc) (increase(req_total[30m]))',
  'rate(req_total{instance="a1"}[5m])',
  'avg(avg_over_time(cpu[10m]))',
  'max_over_time(cpu{dc="b"}[10m])',
  'last_over_time(req_total{code="500",dc="b"}[5m])',
  'resets(req_total[1h])',
  'label_replace(rate(req_total{code="200"}[5m]), "site", "$1", "dc", "(.*)")',
  'quantile_over_time(0.9, cpu[10m])',
];

test('over immutable storage, every answer equals a fresh engine, and repeated series are remembered', async () => {
  const store = build();
  const e = new Engine();
  const q = immutable(store);
  let rounds = 0;
  let counted = 0;
  // Twice over, in two orders: later queries hit what earlier ones computed.
  for (const order of [QUERIES, [...QUERIES].reverse()]) {
    for (const query of order) {
      for (const [start, end] of [
        [20 * MIN, 90 * MIN],
        [30 * MIN, 60 * MIN],
      ] as const) {
        const got = await e.rangeQuery(q, query, start, end, MIN);
        const want = await new Engine().rangeQuery(build(), query, start, end, MIN);
        assert.equal(bits(got.value), bits(want.value), `${query} over ${start}..${end}`);
        assert.is(got.stats.totalSamples, want.stats.totalSamples, `${query}: samples counted on a hit too`);
        assert.is(got.stats.peakSamples, want.stats.peakSamples, `${query}: points held counted on a hit too`);
        // A range function alone over windows shorter than the range query holds its output last,
        // and most: its points, as the answer has them.
        if (/^[a-z_]+\([a-z_]+\{[^()]*\}\[5m\]\)$/.test(query) && got.value.type === 'matrix') {
          assert.is(got.stats.peakSamples, got.value.series.reduce((a, x) => a + x.timestamps.length, 0), `${query}: peak`);
          counted++;
        }
        rounds++;
      }
    }
  }
  assert.is(rounds, QUERIES.length * 4);
  assert.ok(counted >= 8, `${counted} peaks checked against the answers`);
  assert.ok(e.rangeMemo.hits > 0, 'repeated series were recalled');
  // Each series' rate over one grid is computed once: the second pass computes nothing new
  // for the range functions without scalar arguments.
  const misses = e.rangeMemo.misses;
  for (const query of QUERIES) await e.rangeQuery(q, query, 20 * MIN, 90 * MIN, MIN);
  assert.is(e.rangeMemo.misses, misses);
});

test('series merged at the end of a query (delayed name removal) leave the remembered outputs as they were', async () => {
  // a_total and b_total: the same labels once their names go, a until 20m, b from 40m.
  const s = new MemoryStore();
  for (let t = 0; t <= 240; t++) {
    if (t > 80 && t < 160) continue;
    const name = t <= 80 ? 'a_total' : 'b_total';
    s.append(labelsFromRecord({ __name__: name, job: 'x' }), t * 15_000, t * 3 + 1);
  }
  const e = new Engine({ delayedNameRemoval: true });
  const q = immutable(s);
  const plainA = async () => bits((await e.rangeQuery(q, 'rate(a_total[5m])', 5 * MIN, 60 * MIN, MIN)).value);
  const before = await plainA();
  const merged = await e.rangeQuery(q, 'rate({__name__=~"a_total|b_total"}[5m])', 5 * MIN, 60 * MIN, MIN);
  const want = await new Engine({ delayedNameRemoval: true }).rangeQuery(s, 'rate({__name__=~"a_total|b_total"}[5m])', 5 * MIN, 60 * MIN, MIN);
  assert.equal(bits(merged.value), bits(want.value));
  assert.is(merged.value.type === 'matrix' ? merged.value.series.length : -1, 1, 'the two series merged into one');
  assert.ok(e.rangeMemo.hits > 0, 'the rate of a_total was recalled');
  // The merge wrote into a copy: a_total's remembered rate is unchanged.
  assert.equal(await plainA(), before);
});

test('the reset index of views of one buffer, grown as views reach further out, finds the drops of each view', () => {
  // A counter with drops spread through one buffer, asked for through views in a scattered order.
  const all = new Float64Array(3000);
  let v = 0;
  for (let i = 0; i < all.length; i++) all[i] = v = i % 97 === 0 || i % 251 === 0 ? i % 7 : v + 1 + (i % 3);
  const memo = new RangeMemo();
  // Edges on drops (1455 = 15 × 97, 291 = 3 × 97, 2910 = 30 × 97): a grown index must hold the drop
  // at its old edge, which the first view did not need.
  const views: [number, number][] = [[1400, 1455], [1455, 2910], [1400, 1500], [291, 1400], [200, 1460], [1450, 1460], [0, 3000], [2900, 3000], [40, 60]];
  let checked = 0;
  for (const [a, b] of [...views, ...views.slice().reverse()]) {
    const view = all.subarray(a, b);
    const r = memo.resetsOf(view);
    const want = Array.from(indexResets(view).at);
    // The view's own drops, as indexResets finds them on the view alone (indexes relative to it).
    const got = Array.from(r.at).map((j) => j - r.base).filter((j) => j > 0 && j < view.length);
    assert.equal(got, want, `view ${a}..${b}`);
    checked += want.length;
  }
  assert.ok(checked > 50, `${checked} drops compared`);
});

test('storage that does not declare its samples immutable is never remembered', async () => {
  const e = new Engine();
  const store = build();
  for (const query of QUERIES) await e.rangeQuery(store, query, 20 * MIN, 90 * MIN, MIN);
  assert.is(e.rangeMemo.hits + e.rangeMemo.misses, 0);
  // An append to the same store is seen by the next query.
  const before = await e.rangeQuery(store, 'sum(rate(req_total[5m]))', 20 * MIN, 110 * MIN, MIN);
  store.append(labelsFromRecord({ __name__: 'req_total', dc: 'a', instance: 'a0', code: '200' }), 401 * 15_000, 1e9);
  const after = await e.rangeQuery(store, 'sum(rate(req_total[5m]))', 20 * MIN, 110 * MIN, MIN);
  assert.not.equal(after.value, before.value);
});

test.run();
