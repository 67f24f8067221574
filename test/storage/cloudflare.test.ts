/**
 * Cloudflare's parquet-tsdb-poc layout (docs/parquet-format.md, "Cloudflare's layout"): days
 * written here the way Cloudflare's converter lays them out (meta.pb, shards of labels and chunks
 * files, `___cf_meta_*` columns, 24-byte big-endian chunk headers), read through ParquetQueryable
 * and the PromQL engine, and compared with a MemoryStore holding the same series; a store mixing
 * an hmd day with Cloudflare days; and damaged or incomplete exports.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../../src/promql/engine.js';
import { formatLabels, labelsFromRecord } from '../../src/storage/labels.js';
import { matcher, type LabelMatcher } from '../../src/storage/matchers.js';
import type { MemoryStore } from '../../src/storage/memory.js';
import { labelsHash } from '../../src/storage/hash.js';
import { LocalObjectStore } from '../../src/storage/objstore/local.js';
import type { ObjectStore } from '../../src/storage/objstore/types.js';
import { CHUNK_ENC_XOR, encodeCfCell, encodeCfMeta, encodeColIndexes, type CellChunk } from '../../src/storage/parquet/cells.js';
import { CfBlockReader, cfChunkColumn, cfLabelColumn, CF_HASH_COLUMN, CF_INDEX_COLUMN } from '../../src/storage/parquet/cloudflare.js';
import { DAY_MS, dayDir } from '../../src/storage/parquet/layout.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';
import { compareByNameThenLabels, writeDayBlock } from '../../src/storage/parquet/writer.js';
import { encodeXorChunk } from '../../src/storage/parquet/xor.js';
import type { Series } from '../../src/storage/queryable.js';
import { lowerBound } from '../../src/storage/queryable.js';
import { setStale } from '../../src/storage/stale.js';
import { prng } from '../../src/util/random.js';
import { canon, memoryOf, sameBits, scrapeTimes as scrapeTimesBetween } from '../helpers/series.js';

// ---- helpers ----------------------------------------------------------------------------------

function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `hmd-cf-${tag}-`));
}

// ---- generated history: four UTC days ---------------------------------------------------------

const D0 = Date.UTC(2025, 5, 11);
const DAYS = [D0, D0 + DAY_MS, D0 + 2 * DAY_MS, D0 + 3 * DAY_MS];
const T0 = D0 + 20 * 3_600_000; // 2025-06-11 20:00
const T1 = D0 + 3 * DAY_MS + 10 * 3_600_000; // 2025-06-14 10:00

const scrapeTimes = (r: () => number, gapAt?: number): number[] => scrapeTimesBetween(r, T0, T1, gapAt);

function generateHistory(): Series[] {
  const r = prng(7);
  const out: Series[] = [];
  const add = (rec: Record<string, string>, ts: number[], value: (i: number) => number, stale?: (i: number) => boolean) => {
    const values = new Float64Array(ts.length);
    for (let i = 0; i < ts.length; i++) {
      values[i] = value(i);
      if (stale?.(i)) setStale(values, i);
    }
    out.push({ labels: labelsFromRecord(rec), timestamps: Float64Array.from(ts), values });
  };
  for (const dc of ['dc1', 'dc2', 'dc3']) {
    for (const code of ['200', '500', '503']) {
      for (const inst of ['a', 'b']) {
        const rec: Record<string, string> = { __name__: 'http_requests_total', datacenter: dc, code, instance: `${dc}-${inst}:9100` };
        if (code !== '503') rec['method'] = inst === 'a' ? 'GET' : 'POST';
        let c = 0;
        const resetAt = r() < 0.7 ? Math.floor(r() * 3000) : -1;
        add(rec, scrapeTimes(r), (i) => {
          if (i === resetAt) c = 0;
          c += Math.floor(r() * (code === '200' ? 100 : 5));
          return c;
        });
      }
    }
    for (const sensor of ['x', 'y']) {
      add(
        { __name__: 'temperature', datacenter: dc, sensor },
        // sensor y has a gap across the 08:00 column boundary of the second day
        scrapeTimes(r, sensor === 'y' ? D0 + DAY_MS + 7 * 3_600_000 : undefined),
        (i) => (i % 97 === 5 ? NaN : 20 + 10 * Math.sin(i / 50) + r()),
        (i) => i % 211 === 17,
      );
    }
  }
  for (const job of ['api', 'db']) {
    for (const i of [0, 1]) add({ __name__: 'up', job, instance: `${job}-${i}` }, scrapeTimes(r, T0 + 3_600_000 * (5 + i * 7)), () => (r() < 0.05 ? 0 : 1));
  }
  // a metric only in some days' shards (a label name only it has)
  add({ __name__: 'build_info', version: '1.2.3', zone: 'eu' }, scrapeTimes(r).filter((t) => t < D0 + 2 * DAY_MS), () => 1);
  return out;
}

const HISTORY = generateHistory();

// ---- a Cloudflare-layout writer (as parquet-tsdb-poc lays days out) ---------------------------

const TWO_H = 2 * 3_600_000;

/** TSDB-like chunks: at most 120 samples, never crossing a 2h-aligned boundary. */
function tsdbChunks(ts: Float64Array, vs: Float64Array): CellChunk[] {
  const out: CellChunk[] = [];
  let a = 0;
  while (a < ts.length) {
    const boundary = Math.floor(ts[a]! / TWO_H) * TWO_H + TWO_H;
    let b = lowerBound(ts, boundary, a);
    b = Math.min(b, a + 120);
    out.push({ encoding: CHUNK_ENC_XOR, minT: ts[a]!, maxT: ts[b - 1]!, data: encodeXorChunk(ts, vs, a, b) });
    a = b;
  }
  return out;
}

interface CfDayOptions {
  version: 0 | 1 | 2;
  shards: number;
  rowGroupSize?: number;
  /** Write `___cf_meta_index` positions that do not name label columns (the reader must fall back). */
  badIndex?: boolean;
}

/** Writes one day of `series` in Cloudflare's layout under `prefix`; returns the day directory. */
async function writeCfDay(store: ObjectStore, prefix: string, day: number, series: readonly Series[], opts: CfDayOptions): Promise<string> {
  const end = day + DAY_MS;
  const rows: { labels: Series['labels']; ts: Float64Array; vs: Float64Array }[] = [];
  for (const s of series) {
    const lo = lowerBound(s.timestamps, day);
    const hi = lowerBound(s.timestamps, end, lo);
    if (hi > lo) rows.push({ labels: s.labels, ts: s.timestamps.subarray(lo, hi), vs: s.values.subarray(lo, hi) });
  }
  rows.sort((a, b) => compareByNameThenLabels(a.labels, b.labels));
  const dir = dayDir(prefix, day);
  const per = Math.ceil(rows.length / opts.shards);
  const columnsForName = new Map<string, string[]>();
  for (let s = 0; s < opts.shards; s++) {
    const part = rows.slice(s * per, (s + 1) * per);
    const names = [...new Set(part.flatMap((r) => r.labels.map((l) => l.name)))].sort();
    // labels file leaves, in name order: ___cf_meta_index (v1+) first, then the label columns
    const base = opts.version >= 1 ? 1 : 0;
    const pos = new Map(names.map((n, i) => [n, base + i]));
    const labelData = names.map(() => new Array<string | null>(part.length).fill(null));
    const index: Uint8Array[] = [];
    const cells: Uint8Array[][] = [[], [], []];
    const hashes: bigint[] = [];
    part.forEach((r, i) => {
      const idx: number[] = [];
      for (const l of r.labels) {
        labelData[names.indexOf(l.name)]![i] = l.value;
        idx.push(opts.badIndex ? 0 : pos.get(l.name)!);
        const m = l.name === '__name__' ? l.value : undefined;
        if (m !== undefined) columnsForName.set(m, [...new Set([...(columnsForName.get(m) ?? []), ...r.labels.map((x) => cfLabelColumn(x.name))])].sort());
      }
      index.push(encodeColIndexes(idx));
      const byCol: CellChunk[][] = [[], [], []];
      for (const c of tsdbChunks(r.ts, r.vs)) byCol[Math.floor((c.minT - day) / (8 * 3_600_000))]!.push(c);
      byCol.forEach((cs, c) => cells[c]!.push(encodeCfCell(cs)));
      hashes.push(BigInt.asIntN(64, labelsHash(r.labels)));
    });
    const rowGroupSize = opts.rowGroupSize ?? 5;
    const labelCols: ColumnSource[] = [];
    if (opts.version >= 1) labelCols.push({ name: CF_INDEX_COLUMN, data: index, type: 'BYTE_ARRAY', nullable: false, statistics: false, encoding: 'DELTA_LENGTH_BYTE_ARRAY' });
    names.forEach((n, c) => labelCols.push({ name: cfLabelColumn(n), data: labelData[c]!, type: 'STRING', nullable: true, columnIndex: true, bloomFilter: n === '__name__' }));
    const chunkCols: ColumnSource[] = cells.map((data, c) => ({ name: cfChunkColumn(c), data, type: 'BYTE_ARRAY', nullable: false, statistics: false, encoding: 'DELTA_LENGTH_BYTE_ARRAY' }));
    if (opts.version >= 2) chunkCols.push({ name: CF_HASH_COLUMN, data: hashes, type: 'INT64', nullable: false, statistics: false });
    await store.put(`${dir}/${s}.labels.parquet`, new Uint8Array(parquetWriteBuffer({ columnData: labelCols, rowGroupSize })));
    await store.put(`${dir}/${s}.chunks.parquet`, new Uint8Array(parquetWriteBuffer({ columnData: chunkCols, rowGroupSize })));
  }
  // meta.pb last, as Cloudflare's converter does
  await store.put(
    `${dir}/meta.pb`,
    encodeCfMeta({ mint: day, maxt: end, shards: opts.shards, version: opts.version, columnsForName: opts.version === 0 ? columnsForName : new Map() }),
  );
  return dir;
}

// ---- queries ------------------------------------------------------------------------------------

const QUERIES = [
  'http_requests_total{code="500"}',
  'http_requests_total{code!="200", datacenter=~"dc[12]"}',
  '{__name__=~"http_.*_total", method!~"GET|PUT"}',
  'http_requests_total{method=""}',
  '{__name__=~"temp.*|up"}',
  'temperature{sensor!="x"}',
  'build_info',
  '{zone="eu"}',
  'rate(http_requests_total[5m])',
  'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m]))',
  'sum by (code) (increase(http_requests_total[1h]))',
  'last_over_time(temperature[10m])',
  'max_over_time(rate(http_requests_total[5m])[1h:1m])',
  'count({__name__=~".+"})',
  'avg_over_time(up[30m])',
  'http_requests_total{instance=~"dc1-.*"}[3m]',
];

const D1 = DAYS[1]!;
const INSTANTS = [
  D1,
  D1 + 120_000,
  D1 + 8 * 3_600_000, // the 08:00 column boundary
  D1 + 8 * 3_600_000 + 30_000,
  D1 + 16 * 3_600_000 + 1,
  D1 + DAY_MS - 1,
  DAYS[2]! + 7 * 3_600_000 + 59 * 60_000,
  DAYS[3]! + 9 * 3_600_000,
];

/** Range queries: across the 8h column boundaries, and across midnights. */
const RANGES: [string, number, number, number][] = [
  ['sum by (datacenter) (rate(http_requests_total[5m]))', D1 + 7 * 3_600_000, D1 + 9 * 3_600_000 + 30 * 60_000, 60_000],
  ['temperature', D1 + 15 * 3_600_000 + 40 * 60_000, D1 + 16 * 3_600_000 + 20 * 60_000, 30_000],
  ['rate(http_requests_total{code!~"2.."}[10m])', DAYS[0]! + 22 * 3_600_000, DAYS[3]! + 2 * 3_600_000, 15 * 60_000],
  ['sum(up)', T0, T1, 20 * 60_000],
];

async function compareAll(pq: ParquetQueryable, mem: MemoryStore, tag: string): Promise<number> {
  const engine = new Engine();
  let n = 0;
  for (const q of QUERIES) {
    for (const t of INSTANTS) {
      const a = canon(await engine.instantQuery(mem, q, t));
      const b = canon(await engine.instantQuery(pq, q, t));
      assert.is(b, a, `${tag}: ${q} @ ${new Date(t).toISOString()}`);
      n++;
    }
  }
  for (const [q, s, e, step] of RANGES) {
    const a = await engine.rangeQuery(mem, q, s, e, step);
    const b = await engine.rangeQuery(pq, q, s, e, step);
    assert.ok(a.value.type === 'matrix' && a.value.series.length > 0, `${tag}: ${q} has data`);
    assert.is(canon(b), canon(a), `${tag}: range ${q}`);
    n++;
  }
  return n;
}

async function compareRaw(pq: ParquetQueryable, mem: MemoryStore, tag: string): Promise<void> {
  const sels: LabelMatcher[][] = [
    [matcher('=~', '__name__', '.+')],
    [matcher('=', '__name__', 'temperature'), matcher('!=', 'sensor', 'x')],
    [matcher('=~', '__name__', 'http_.*'), matcher('!~', 'code', '2..'), matcher('=', 'method', '')],
    [matcher('=', 'zone', 'eu')],
    [matcher('=', '__name__', 'nope')],
  ];
  const ranges: [number, number][] = [
    [DAYS[0]!, DAYS[3]! + DAY_MS - 1],
    [D1 + 8 * 3_600_000, D1 + 8 * 3_600_000], // one instant, on the boundary
    [D1 + 7 * 3_600_000 + 1, D1 + 17 * 3_600_000 - 1],
  ];
  for (const ms of sels) {
    for (const [mint, maxt] of ranges) {
      const a = await mem.select({ matchers: ms, mint, maxt });
      const b = await pq.select({ matchers: ms, mint, maxt });
      assert.is(b.series.length, a.series.length, `${tag}: series of ${ms.map(String).join(',')} in [${mint}, ${maxt}]`);
      for (let i = 0; i < a.series.length; i++) {
        assert.is(formatLabels(b.series[i]!.labels), formatLabels(a.series[i]!.labels));
        assert.ok(sameBits(b.series[i]!.timestamps, a.series[i]!.timestamps), `${tag}: timestamps of ${formatLabels(a.series[i]!.labels)}`);
        assert.ok(sameBits(b.series[i]!.values, a.series[i]!.values), `${tag}: values (bits) of ${formatLabels(a.series[i]!.labels)}`);
      }
    }
  }
}

// ---- tests --------------------------------------------------------------------------------------

test('Cloudflare days (versions 0, 1 and 2, several shards) answer PromQL exactly as memory', async () => {
  const dir = tempDir('all');
  try {
    const store = new LocalObjectStore(dir, { fsync: false });
    const versions: (0 | 1 | 2)[] = [2, 1, 0, 2];
    for (let d = 0; d < DAYS.length; d++) await writeCfDay(store, 'cf', DAYS[d]!, HISTORY, { version: versions[d]!, shards: d === 2 ? 1 : 3, rowGroupSize: 4 + d });
    const pq = new ParquetQueryable(store, { prefix: 'cf' });
    const mem = memoryOf(HISTORY);
    await compareRaw(pq, mem, 'cf');
    const n = await compareAll(pq, mem, 'cf');
    assert.ok(n > 100);
    // label names and values (label-only requests find the days by listing meta.pb)
    assert.equal(await pq.labelValues('datacenter', [], T0, T1), await mem.labelValues('datacenter', []));
    assert.equal(await pq.labelNames([matcher('=', '__name__', 'build_info')], T0, T1), await mem.labelNames([matcher('=', '__name__', 'build_info')]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store mixing an hmd day and Cloudflare days answers one range query across them', async () => {
  const dir = tempDir('mixed');
  try {
    const store = new LocalObjectStore(dir, { fsync: false });
    await writeDayBlock(store, 'mix', DAYS[0]!, HISTORY, { rowGroupSize: 8 });
    await writeCfDay(store, 'mix', DAYS[1]!, HISTORY, { version: 2, shards: 2 });
    await writeDayBlock(store, 'mix', DAYS[2]!, HISTORY, { rowGroupSize: 8 });
    await writeCfDay(store, 'mix', DAYS[3]!, HISTORY, { version: 1, shards: 3 });
    const pq = new ParquetQueryable(store, { prefix: 'mix' });
    const mem = memoryOf(HISTORY);
    await compareRaw(pq, mem, 'mixed');
    await compareAll(pq, mem, 'mixed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('block.json wins over meta.pb in the same day; an untrustworthy ___cf_meta_index falls back to all label columns', async () => {
  const dir = tempDir('wins');
  try {
    const store = new LocalObjectStore(dir, { fsync: false });
    await writeDayBlock(store, 'p', DAYS[1]!, HISTORY);
    await store.put(`${dayDir('p', DAYS[1]!)}/meta.pb`, new Uint8Array([0x0a, 0xff])); // damaged, but never read
    await writeCfDay(store, 'p', DAYS[2]!, HISTORY, { version: 2, shards: 2, badIndex: true });
    const pq = new ParquetQueryable(store, { prefix: 'p' });
    const mem = memoryOf(HISTORY);
    const engine = new Engine();
    for (const q of ['http_requests_total{code="503"}', 'sum by (datacenter, code) (rate(http_requests_total[5m]))', 'build_info']) {
      const s = DAYS[1]! + 23 * 3_600_000;
      const e = DAYS[2]! + 9 * 3_600_000;
      assert.is(canon(await engine.rangeQuery(pq, q, s, e, 5 * 60_000)), canon(await engine.rangeQuery(mem, q, s, e, 5 * 60_000)), q);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a selective query reads only part of a Cloudflare day, and only the chunk columns it needs', async () => {
  const dir = tempDir('bytes');
  try {
    const store = new LocalObjectStore(dir, { fsync: false });
    const d = await writeCfDay(store, 'b', DAYS[1]!, HISTORY, { version: 2, shards: 2, rowGroupSize: 4 });
    let total = 0;
    for await (const o of store.list(`${d}/`)) total += o.size;
    const pq = new ParquetQueryable(store, { prefix: 'b' });
    const r = await pq.select({ matchers: [matcher('=', '__name__', 'up'), matcher('=', 'job', 'db')], mint: DAYS[1]! + 4 * 3_600_000, maxt: DAYS[1]! + 5 * 3_600_000 });
    assert.is(r.series.length, 2);
    const read = r.stats?.bytesRead ?? 0;
    assert.ok(read > 0 && read < total / 2, `read ${read} of ${total} bytes`);
    // ___cf_meta_index lets the reader fetch only the label columns the matching rows use: a
    // day whose index cannot be trusted (read every label column instead) costs more.
    await writeCfDay(store, 'bb', DAYS[1]!, HISTORY, { version: 2, shards: 2, rowGroupSize: 4, badIndex: true });
    const rb = await new ParquetQueryable(store, { prefix: 'bb' }).select({ matchers: [matcher('=', '__name__', 'up'), matcher('=', 'job', 'db')], mint: DAYS[1]! + 4 * 3_600_000, maxt: DAYS[1]! + 5 * 3_600_000 });
    assert.equal(rb.series.map((s) => formatLabels(s.labels)), r.series.map((s) => formatLabels(s.labels)));
    assert.ok(read < (rb.stats?.bytesRead ?? 0), `with the index ${read} bytes, without ${rb.stats?.bytesRead}`);
    const reader = await CfBlockReader.openIfPresent(store, d);
    assert.ok(reader);
    assert.equal(reader!.chunkColumns(DAYS[1]! + 3_600_000, DAYS[1]! + 2 * 3_600_000), ['___cf_meta_chunk_0']);
    assert.equal(reader!.chunkColumns(DAYS[1]! + 7 * 3_600_000, DAYS[1]! + 8 * 3_600_000), ['___cf_meta_chunk_0', '___cf_meta_chunk_1']);
    assert.equal(reader!.chunkColumns(DAYS[1]! + 20 * 3_600_000, DAYS[1]! + 2 * DAY_MS), ['___cf_meta_chunk_2']);
    assert.is(reader!.shardCount, 2);
    assert.is(await CfBlockReader.openIfPresent(store, dayDir('b', DAYS[0]!)), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function rejectsWith(p: Promise<unknown>, ...parts: string[]): Promise<string> {
  try {
    await p;
  } catch (e) {
    const msg = (e as Error).message;
    for (const part of parts) assert.ok(msg.includes(part), `error ${JSON.stringify(msg)} should mention ${JSON.stringify(part)}`);
    return msg;
  }
  assert.unreachable(`should have failed mentioning ${parts.join(', ')}`);
  return '';
}

test('a damaged meta.pb, a missing shard file or a damaged chunk cell is a clear error naming the object', async () => {
  const dir = tempDir('bad');
  try {
    const store = new LocalObjectStore(dir, { fsync: false });
    const engine = new Engine();
    const q = 'sum(rate(http_requests_total[5m]))';
    const at = DAYS[1]! + 12 * 3_600_000;

    // damaged meta.pb (a length running past the end)
    const d1 = await writeCfDay(store, 'm', DAYS[1]!, HISTORY, { version: 2, shards: 2 });
    writeFileSync(join(dir, d1, 'meta.pb'), new Uint8Array([0x08, 0x80, 0x0a, 0xff, 0x01]));
    await rejectsWith(engine.instantQuery(new ParquetQueryable(store, { prefix: 'm' }), q, at), join(dir, d1, 'meta.pb'), 're-export');
    // a meta.pb that parses but makes no sense
    await store.put(`${d1}/meta.pb`, encodeCfMeta({ mint: DAYS[1]!, maxt: DAYS[1]! + DAY_MS, shards: 2, version: 9, columnsForName: new Map() }));
    await rejectsWith(engine.instantQuery(new ParquetQueryable(store, { prefix: 'm' }), q, at), join(dir, d1, 'meta.pb'), 'version 9');

    // a missing shard file
    const d2 = await writeCfDay(store, 's', DAYS[1]!, HISTORY, { version: 1, shards: 3 });
    await store.delete(`${d2}/1.chunks.parquet`);
    await rejectsWith(engine.instantQuery(new ParquetQueryable(store, { prefix: 's' }), q, at), join(dir, d2, '1.chunks.parquet'), 'missing', '3 shard', 're-export');

    // a shard file that is not Parquet
    const d3 = await writeCfDay(store, 'n', DAYS[1]!, HISTORY, { version: 2, shards: 2 });
    await store.put(`${d3}/0.labels.parquet`, new TextEncoder().encode('not parquet at all, really not'));
    await rejectsWith(engine.instantQuery(new ParquetQueryable(store, { prefix: 'n' }), q, at), join(dir, d3, '0.labels.parquet'), 'not a readable Parquet file');

    // a damaged chunk cell (truncated header) in one series
    const d4 = dayDir('c', DAYS[1]!);
    await writeCfDay(store, 'c', DAYS[1]!, HISTORY, { version: 2, shards: 1 });
    const good = new ParquetQueryable(store, { prefix: 'c' });
    assert.ok((await good.select({ matchers: [matcher('=', '__name__', 'up')], mint: at - 3_600_000, maxt: at })).series.length > 0);
    // rewrite the chunks file with one cell cut short
    {
      const { parquetReadObjects } = await import('hyparquet');
      const bytes = await store.get(`${d4}/0.chunks.parquet`);
      const file = bytes.slice().buffer as ArrayBuffer;
      const rows = await parquetReadObjects({ file, utf8: false, columns: ['___cf_meta_chunk_1'] });
      const cells = rows.map((r) => r['___cf_meta_chunk_1'] as Uint8Array);
      const k = cells.findIndex((c) => c.length > 30);
      cells[k] = cells[k]!.subarray(0, 30);
      const other = await parquetReadObjects({ file, utf8: false, columns: ['___cf_meta_chunk_0', '___cf_meta_chunk_2'] });
      const cols: ColumnSource[] = [
        { name: '___cf_meta_chunk_0', data: other.map((r) => r['___cf_meta_chunk_0'] as Uint8Array), type: 'BYTE_ARRAY', nullable: false },
        { name: '___cf_meta_chunk_1', data: cells, type: 'BYTE_ARRAY', nullable: false },
        { name: '___cf_meta_chunk_2', data: other.map((r) => r['___cf_meta_chunk_2'] as Uint8Array), type: 'BYTE_ARRAY', nullable: false },
      ];
      await store.put(`${d4}/0.chunks.parquet`, new Uint8Array(parquetWriteBuffer({ columnData: cols, rowGroupSize: 5 })));
    }
    await rejectsWith(
      new ParquetQueryable(store, { prefix: 'c' }).select({ matchers: [matcher('=~', '__name__', '.+')], mint: at - 3_600_000, maxt: at }),
      join(dir, d4, '0.chunks.parquet'),
      'truncated',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
