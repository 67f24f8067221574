/**
 * The window cache answers every select exactly as the store below it does (series, labels,
 * samples), across block and day boundaries and for any matchers, while reading each metric's
 * block once; a failed read is not kept; the sample budget evicts.
 */

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WindowCache } from '../../src/backtest/window-cache.js';
import { Engine } from '../../src/promql/engine.js';
import { parseExpr } from '../../src/promql/parser.js';
import { labelsFromRecord, labelsKey } from '../../src/storage/labels.js';
import { setStale } from '../../src/storage/stale.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { matcher, type LabelMatcher } from '../../src/storage/matchers.js';
import { openObjectStore } from '../../src/storage/objstore/open.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';
import type { Queryable, SelectRequest } from '../../src/storage/queryable.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DATA = join(ROOT, 'fixtures/history');
const S = suite('backtest window cache');
const H = 3_600_000;
const DAY0 = Date.parse('2025-06-12T00:00:00Z');

/** Series as comparable plain data. */
async function answer(q: Queryable, req: SelectRequest) {
  const r = await q.select(req);
  return r.series.map((s) => ({ labels: labelsKey(s.labels), ts: Array.from(s.timestamps), vs: Array.from(s.values, (v) => (Number.isNaN(v) ? 'NaN' : v)) }));
}

const name = (n: string) => matcher('=', '__name__', n);

S('every select equals the store below, across blocks and days, for any matchers', async () => {
  const plain = new ParquetQueryable(openObjectStore(DATA));
  const fetches: SelectRequest[] = [];
  const cache = new WindowCache(new ParquetQueryable(openObjectStore(DATA)), { onFetch: (r) => void fetches.push(r) });
  const selects: [LabelMatcher[], number, number][] = [
    [[name('http_requests_total'), matcher('=', 'datacenter', 'dc2'), matcher('=', 'tier', 'tier3'), matcher('=', 'color', 'green')], DAY0 + 30 * H, DAY0 + 36 * H],
    // Across an 8h block boundary, and across the day boundary.
    [[name('http_requests_total'), matcher('=~', 'code', '5..'), matcher('=', 'datacenter', 'dc1')], DAY0 + 5 * H, DAY0 + 11 * H],
    [[name('http_requests_total'), matcher('!=', 'tier', 'tier1')], DAY0 + 20 * H, DAY0 + 28 * H + 123],
    [[name('http_request_duration_seconds_bucket'), matcher('=', 'le', '0.5')], DAY0 + 15 * H, DAY0 + 17 * H],
    [[name('node_cpu_utilization')], DAY0 + 47 * H, DAY0 + 48 * H - 1],
    // A series with a crash and a gap; a single instant's window.
    [[name('up'), matcher('=', 'instance', 'dc4-tier1-green-a')], DAY0 + 16 * H, DAY0 + 17 * H],
    [[name('up')], DAY0 + 10 * H, DAY0 + 10 * H],
    // No metric name: cached by the whole set of matchers.
    [[matcher('=~', '__name__', 'up|node_cpu_utilization'), matcher('=', 'datacenter', 'dc3')], DAY0 + 2 * H, DAY0 + 9 * H],
    // Nothing matches.
    [[name('http_requests_total'), matcher('=', 'datacenter', 'dc9')], DAY0 + 2 * H, DAY0 + 3 * H],
  ];
  for (const [ms, mint, maxt] of selects) {
    const want = await answer(plain, { matchers: ms, mint, maxt });
    const got = await answer(cache, { matchers: ms, mint, maxt });
    assert.equal(got, want, ms.map(String).join(','));
  }
  // Again, from memory: the same answers and no new reads.
  const before = fetches.length;
  for (const [ms, mint, maxt] of selects) assert.equal(await answer(cache, { matchers: ms, mint, maxt }), await answer(plain, { matchers: ms, mint, maxt }));
  assert.is(fetches.length, before);
  // Each (metric, block) was read once.
  const blocks = fetches.flatMap((f) => {
    const out: string[] = [];
    for (let b = Math.floor(f.mint / (8 * H)); b <= Math.floor(f.maxt / (8 * H)); b++) out.push(`${f.matchers.map(String).join(',')}|${b}`);
    return out;
  });
  assert.is(new Set(blocks).size, blocks.length);
  assert.ok(cache.stats.blocksHit > 0);
});

S('series are marked free of staleness markers once, when read, exactly when they are', async () => {
  const mem = new MemoryStore();
  const series = { clean: [1, 2, 3, 4], nan: [1, NaN, 3, 4], stale: [1, 2, 0, 4] };
  for (const [kind, vs] of Object.entries(series)) vs.forEach((v, i) => mem.append(labelsFromRecord({ __name__: 'm', kind }), DAY0 + i * 60_000, v));
  // A staleness marker in the third sample of the "stale" series.
  const b = (await mem.select({ matchers: [name('m'), matcher('=', 'kind', 'stale')], mint: DAY0, maxt: DAY0 + H })).series[0]!;
  setStale(b.values, 2);
  // Storage that says nothing about staleness: the cache looks for itself.
  const silent: Queryable = { select: async (req) => ({ series: (await mem.select(req)).series.map((s) => ({ labels: s.labels, timestamps: s.timestamps, values: s.values })) }) };
  const cache = new WindowCache(silent);
  const r = await cache.select({ matchers: [name('m')], mint: DAY0, maxt: DAY0 + H });
  const flag = Object.fromEntries(r.series.map((s) => [s.labels.find((l) => l.name === 'kind')!.value, s.mayHaveStale]));
  assert.equal(flag, { clean: false, nan: false, stale: undefined });
});

S('blocks asked for in one turn are read together: one select per metric for a contiguous run, series joined as views', async () => {
  const fetches: SelectRequest[] = [];
  const plain = new ParquetQueryable(openObjectStore(DATA));
  const cache = new WindowCache(new ParquetQueryable(openObjectStore(DATA)), { onFetch: (r) => void fetches.push(r) });
  const reqs: SelectRequest[] = [
    { matchers: [name('http_requests_total'), matcher('=', 'datacenter', 'dc1')], mint: DAY0 + 10 * H, maxt: DAY0 + 17 * H },
    { matchers: [name('http_requests_total'), matcher('=', 'datacenter', 'dc2')], mint: DAY0 + 4 * H, maxt: DAY0 + 17 * H },
    { matchers: [name('up')], mint: DAY0 + 9 * H, maxt: DAY0 + 10 * H },
    { matchers: [name('http_requests_total'), matcher('=', 'tier', 'tier1')], mint: DAY0 + 4 * H, maxt: DAY0 + 17 * H },
  ];
  const got = await Promise.all(reqs.map((r) => cache.select(r)));
  assert.equal(
    fetches.map((f) => [f.matchers.map(String).join(','), (f.mint - DAY0) / H, Math.round((f.maxt - DAY0) / H)]).sort(),
    [
      ['__name__="http_requests_total"', 0, 24],
      ['__name__="up"', 8, 16],
    ],
  );
  for (let i = 0; i < reqs.length; i++) assert.equal(await answer(cache, reqs[i]!), await answer(plain, reqs[i]!));
  // A series across the 8h boundaries is a view of the buffer its select decoded, whatever
  // scope asked for it (copies would be made per scope).
  const dc2 = got[1]!.series.filter((x) => x.labels.some((l) => l.name === 'tier' && l.value === 'tier1'));
  assert.ok(dc2.length > 0);
  for (const x of dc2) {
    const same = got[3]!.series.find((y) => labelsKey(y.labels) === labelsKey(x.labels))!;
    assert.ok(same.values.buffer === x.values.buffer && same.timestamps.buffer === x.timestamps.buffer, labelsKey(x.labels));
  }
});

S('a select whose signal aborts stops waiting; the shared read goes on and serves the next select', async () => {
  let reads = 0;
  const inner = new ParquetQueryable(openObjectStore(DATA));
  const slow: Queryable = {
    select: async (req, signal) => {
      reads++;
      await new Promise((r) => setTimeout(r, 100));
      return inner.select(req, signal);
    },
  };
  const cache = new WindowCache(slow);
  const req = { matchers: [name('up')], mint: DAY0 + H, maxt: DAY0 + 2 * H };
  try {
    await cache.select(req, AbortSignal.timeout(10));
    assert.unreachable('the wait is cut short');
  } catch (err) {
    assert.is((err as Error).name, 'TimeoutError');
  }
  const r = await cache.select(req);
  assert.equal(await answer(cache, req), await answer(inner, req));
  assert.ok(r.series.length > 0);
  assert.is(reads, 1, 'one read, shared');
});

S('a failed read is not kept, and the sample budget evicts the least recently used blocks', async () => {
  let fail = true;
  const inner = new ParquetQueryable(openObjectStore(DATA));
  const flaky: Queryable = {
    select: (req, signal) => (fail ? Promise.reject(new Error('store unavailable')) : inner.select(req, signal)),
  };
  const cache = new WindowCache(flaky, { maxSamples: 50_000 });
  const req = { matchers: [name('http_requests_total')], mint: DAY0 + H, maxt: DAY0 + 2 * H };
  try {
    await cache.select(req);
    assert.unreachable('the read fails');
  } catch (err) {
    assert.match((err as Error).message, /store unavailable/);
  }
  fail = false;
  const r = await cache.select(req);
  assert.ok(r.series.length > 0, 'the next select reads again');
  // A second metric over budget pushes the first out.
  await cache.select({ matchers: [name('http_request_duration_seconds_bucket')], mint: DAY0 + 30 * H, maxt: DAY0 + 31 * H });
  assert.ok(cache.stats.samplesHeld <= 50_000, JSON.stringify(cache.stats));
  const fetchedBefore = cache.stats.fetches;
  await cache.select(req);
  assert.is(cache.stats.fetches, fetchedBefore + 1, 'evicted, so read again');
});

S('a prefetch puts the blocks of a query on their way once; the query then reads nothing more; a failed prefetch is tried again', async () => {
  const asked: SelectRequest[] = [];
  let fail = true;
  const inner = new ParquetQueryable(openObjectStore(DATA));
  const counting: Queryable = {
    select: (req, signal) => {
      asked.push(req);
      return fail ? Promise.reject(new Error('store unavailable')) : inner.select(req, signal);
    },
  };
  const cache = new WindowCache(counting);
  const engine = new Engine();
  const expr = parseExpr('sum(rate(http_requests_total{datacenter="dc2",code=~"5.."}[5m])) / sum(rate(http_requests_total{datacenter="dc2"}[5m]))');
  const [start, end, step] = [DAY0 + 7 * H, DAY0 + 13 * H, 60_000];
  // Failed: settles without rejecting (the query reports the failure), nothing kept.
  await engine.prefetch(cache, expr, start, end, step);
  assert.is(asked.length, 1, 'one metric, one read for the blocks 0 and 1');
  assert.is(cache.stats.samplesHeld, 0);
  fail = false;
  const ready = engine.prefetch(cache, expr, start, end, step);
  engine.prefetch(cache, expr, start, end, step);
  // Reads are sent at the end of the turn, together.
  assert.is(asked.length, 1);
  await new Promise((r) => setImmediate(r));
  assert.is(asked.length, 2, 'read again after the failure, once however often prefetched');
  assert.equal(asked[1]!.matchers.map(String), ['__name__="http_requests_total"']);
  assert.ok(asked[1]!.mint <= start - 5 * 60_000 && asked[1]!.maxt >= end, 'the blocks cover the range the query selects');
  await ready;
  assert.ok(cache.stats.samplesHeld > 0, 'settled once the blocks are held');
  // Held: the engine takes the answers at once, without a select (no promise, timer or signal).
  let waited = 0;
  const select = cache.select.bind(cache);
  cache.select = (req, signal) => (waited++, select(req, signal));
  const r = await engine.rangeQuery(cache, expr, start, end, step);
  assert.is(asked.length, 2, 'the query reads nothing more');
  assert.is(waited, 0, 'no select waited');
  const direct = await engine.rangeQuery(inner, expr, start, end, step);
  assert.equal(r.value, direct.value);
  // Storage that cannot read ahead is left alone: nothing is selected from it.
  await engine.prefetch(counting, expr, start, end, step);
  assert.is(asked.length, 2);
});

S('held selects are answered at once without reading; blocks read apart are joined, blocks read together are cut from one read', async () => {
  const fetches: SelectRequest[] = [];
  const plain = new ParquetQueryable(openObjectStore(DATA));
  const cache = new WindowCache(new ParquetQueryable(openObjectStore(DATA)), { onFetch: (r) => void fetches.push(r) });
  const m = [name('http_requests_total'), matcher('=', 'datacenter', 'dc3'), matcher('=~', 'code', '5..')];
  const early = { matchers: m, mint: DAY0 + 2 * H, maxt: DAY0 + 15 * H };
  // Nothing held: no answer, and nothing put on its way, even after the turn ends.
  assert.is(cache.selectHeld(early), undefined);
  await new Promise((r) => setImmediate(r));
  assert.is(fetches.length, 0);
  assert.is(cache.stats.blocksHit + cache.stats.blocksFetched, 0);
  // Blocks 0 and 1 read together; then block 2 alone.
  await cache.select(early);
  await cache.select({ matchers: m, mint: DAY0 + 17 * H, maxt: DAY0 + 20 * H });
  assert.is(fetches.length, 2);
  const across = { matchers: m, mint: DAY0 + 7 * H, maxt: DAY0 + 19 * H };
  const held = cache.selectHeld(across);
  assert.ok(held, 'blocks 0..2 are held');
  const plainAnswer = await answer(plain, across);
  assert.ok(plainAnswer.length > 0);
  assert.equal(await answer({ select: async () => held! }, across), plainAnswer);
  assert.equal(await answer(cache, across), plainAnswer);
  assert.is(fetches.length, 2, 'held: nothing read');
  // Across the two reads a series is a copy; inside the one read, a view of its buffer.
  const inside = cache.selectHeld({ matchers: m, mint: DAY0 + 7 * H, maxt: DAY0 + 9 * H })!;
  assert.equal(await answer({ select: async () => inside }, { matchers: m, mint: DAY0 + 7 * H, maxt: DAY0 + 9 * H }), await answer(plain, { matchers: m, mint: DAY0 + 7 * H, maxt: DAY0 + 9 * H }));
  // One scrape target's series share their times, and so the view a select cuts of them.
  const byInstance = new Map<string, Float64Array[]>();
  for (const x of inside.series) {
    const inst = x.labels.find((l) => l.name === 'instance')!.value;
    byInstance.set(inst, [...(byInstance.get(inst) ?? []), x.timestamps]);
  }
  assert.ok([...byInstance.values()].some((v) => v.length > 1));
  for (const [inst, v] of byInstance) assert.is(new Set(v).size, 1, inst);
  const whole = (await cache.select(early)).series;
  for (const s of inside.series) {
    const w = whole.find((x) => labelsKey(x.labels) === labelsKey(s.labels))!;
    assert.ok(w.values.buffer === s.values.buffer, 'inside one read: a view');
    const j = held.series.find((x) => labelsKey(x.labels) === labelsKey(s.labels))!;
    assert.ok(j.values.buffer !== s.values.buffer, 'across two reads: joined into a copy');
  }
});

S.run();
