/**
 * The Parquet history store on a local directory: round trips against a MemoryStore through the
 * PromQL engine, how little a query reads (counted in bytes and requests, never in time), atomic
 * re-imports, and bad input (each a clear error naming the object, and `hmd query` exiting 3).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetMetadata, type FileMetaData } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../../src/promql/engine.js';
import { formatLabels, labelsFromRecord, type Labels } from '../../src/storage/labels.js';
import { matcher, type LabelMatcher } from '../../src/storage/matchers.js';
import { LocalObjectStore } from '../../src/storage/objstore/local.js';
import type { GetOptions, ObjectInfo, ObjectStore, ObjectStoreStats, PutBody } from '../../src/storage/objstore/types.js';
import { writeBlocks } from '../../src/storage/parquet/import.js';
import { DAY_MS, dayDir, MARKER_FILE } from '../../src/storage/parquet/layout.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';
import { readMarker, writeDayBlock } from '../../src/storage/parquet/writer.js';
import type { Series } from '../../src/storage/queryable.js';
import { hasStale, setStale } from '../../src/storage/stale.js';
import { prng } from '../../src/util/random.js';
import { canon, memoryOf, sameBits, scrapeTimes as scrapeTimesBetween } from '../helpers/series.js';

// dist/test/storage/parquet.test.js -> repository root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// ---- helpers ----------------------------------------------------------------------------------

function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `hmd-parquet-${tag}-`));
}

/** One get as the store saw it. */
interface GetRecord {
  key: string;
  range: readonly [number, number] | undefined;
  bytes: number;
}

/**
 * An ObjectStore that records every get and can run a hook before a put (to act "during" an
 * import) or fail a put (to simulate a crash).
 */
class RecordingStore implements ObjectStore {
  readonly type: 'local' | 's3';
  gets: GetRecord[] = [];
  beforePut?: (key: string) => Promise<void> | void;
  constructor(readonly inner: ObjectStore) {
    this.type = inner.type;
  }
  /** What went through this recorder (a query's scoped view is the recorder itself). */
  get stats(): Readonly<ObjectStoreStats> {
    return { requests: this.gets.length, bytesRead: this.bytesOf(), bytesWritten: 0, retries: 0 };
  }
  describe(key?: string): string {
    return this.inner.describe(key);
  }
  async get(key: string, opts?: GetOptions, signal?: AbortSignal): Promise<Uint8Array> {
    const b = await this.inner.get(key, opts, signal);
    this.gets.push({ key, range: opts?.range ? [opts.range[0], opts.range[1]] : undefined, bytes: b.length });
    return b;
  }
  size(key: string, signal?: AbortSignal): Promise<number> {
    return this.inner.size(key, signal);
  }
  exists(key: string, signal?: AbortSignal): Promise<boolean> {
    return this.inner.exists(key, signal);
  }
  async put(key: string, body: PutBody, signal?: AbortSignal): Promise<void> {
    await this.beforePut?.(key);
    return this.inner.put(key, body, signal);
  }
  list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix, signal);
  }
  delete(key: string, signal?: AbortSignal): Promise<void> {
    return this.inner.delete(key, signal);
  }
  deletePrefix(prefix: string, signal?: AbortSignal): Promise<number> {
    return this.inner.deletePrefix(prefix, signal);
  }
  scoped(): ObjectStore {
    return this;
  }
  async close(): Promise<void> {}
  bytesOf(pred: (g: GetRecord) => boolean = () => true): number {
    return this.gets.filter(pred).reduce((a, g) => a + g.bytes, 0);
  }
}

// ---- generated history over 3 UTC days --------------------------------------------------------

const T0 = Date.UTC(2025, 5, 11, 14, 0, 0); // 2025-06-11 14:00
const T1 = Date.UTC(2025, 5, 13, 10, 0, 0); // 2025-06-13 10:00: three UTC days
const MIDNIGHT = Date.UTC(2025, 5, 12);

const scrapeTimes = (r: () => number, gapAt?: number): number[] => scrapeTimesBetween(r, T0, T1, gapAt);

function generateHistory(): Series[] {
  const r = prng(42);
  const out: Series[] = [];
  const add = (rec: Record<string, string>, ts: number[], value: (i: number, t: number) => number, stale?: (i: number) => boolean) => {
    const timestamps = Float64Array.from(ts);
    const values = new Float64Array(ts.length);
    for (let i = 0; i < ts.length; i++) {
      values[i] = value(i, ts[i]!);
      if (stale?.(i)) setStale(values, i);
    }
    out.push({ labels: labelsFromRecord(rec), timestamps, values });
  };
  for (const dc of ['dc1', 'dc2', 'dc3']) {
    for (const code of ['200', '500', '503']) {
      for (const inst of ['a', 'b']) {
        const rec: Record<string, string> = { __name__: 'http_requests_total', datacenter: dc, code, instance: `${dc}-${inst}:9100` };
        if (code !== '503') rec['method'] = inst === 'a' ? 'GET' : 'POST'; // 503s lack `method`
        let c = 0;
        const resetAt = r() < 0.7 ? Math.floor(r() * 2500) : -1;
        add(rec, scrapeTimes(r), (i) => {
          if (i === resetAt) c = 0; // counter reset
          c += Math.floor(r() * (code === '200' ? 100 : 5));
          return c;
        });
      }
    }
    // histogram buckets, one reset on dc2 shortly after midnight
    const ts = scrapeTimes(r);
    const cum = [0, 0, 0, 0];
    const les = ['0.1', '0.5', '1', '+Inf'];
    const cols = les.map(() => new Float64Array(ts.length));
    for (let i = 0; i < ts.length; i++) {
      if (dc === 'dc2' && ts[i]! >= MIDNIGHT + 600_000 && ts[i - 1]! < MIDNIGHT + 600_000) cum.fill(0);
      let acc = 0;
      for (let b = 0; b < 4; b++) {
        acc += Math.floor(r() * [50, 20, 5, 1][b]!);
        cum[b]! += acc;
        cols[b]![i] = cum[b]!;
      }
    }
    les.forEach((le, b) => out.push({ labels: labelsFromRecord({ __name__: 'http_request_duration_seconds_bucket', datacenter: dc, le }), timestamps: Float64Array.from(ts), values: cols[b]! }));
    // a gauge with NaN values and staleness markers
    for (const sensor of ['x', 'y']) {
      add(
        { __name__: 'temperature', datacenter: dc, sensor },
        scrapeTimes(r, sensor === 'y' ? MIDNIGHT - 3_600_000 : undefined),
        (i) => (i % 97 === 5 ? NaN : 20 + 10 * Math.sin(i / 50) + r()),
        (i) => i % 211 === 17,
      );
    }
  }
  for (const job of ['api', 'db']) {
    for (const i of [0, 1]) add({ __name__: 'up', job, instance: `${job}-${i}` }, scrapeTimes(r, T0 + 3_600_000 * (5 + i * 7)), () => (r() < 0.05 ? 0 : 1));
  }
  return out;
}

const HISTORY = generateHistory();

// ---- round trip -------------------------------------------------------------------------------

const QUERIES = [
  'http_requests_total{code="500"}',
  'http_requests_total{code!="200", datacenter=~"dc[12]"}',
  '{__name__=~"http_.*_total", method!~"GET|PUT"}',
  '{__name__=~"temp.*|up"}',
  'http_requests_total{method=""}',
  'temperature',
  'last_over_time(temperature[10m])',
  'rate(http_requests_total[5m])',
  'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m]))',
  'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (datacenter) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le, datacenter) (rate(http_request_duration_seconds_bucket[10m])))',
  'max_over_time(rate(http_requests_total[5m])[1h:1m])',
  'http_requests_total offset 6h',
  'increase(http_requests_total{datacenter="dc2"}[2h] offset 1h)',
  'resets(http_request_duration_seconds_bucket[1h])',
  'count({__name__=~".+"})',
  'avg_over_time(up[30m])',
  'http_requests_total{instance=~"dc1-.*"}[3m]',
];

const INSTANTS = [MIDNIGHT, MIDNIGHT + 120_000, MIDNIGHT + 3 * 3_600_000, MIDNIGHT - 7_000, Date.UTC(2025, 5, 13, 0, 5), Date.UTC(2025, 5, 12, 12, 0), Date.UTC(2025, 5, 13, 9, 59)];

test('round trip: every PromQL query gives identical results on Parquet and memory, across days', async () => {
  const dir = tempDir('rt');
  try {
    const store = new LocalObjectStore(dir, { fsync: false });
    const blocks = await writeBlocks(store, 'hist', HISTORY, { rowGroupSize: 16 });
    assert.is(blocks.length, 3, 'three UTC days');
    const mem = memoryOf(HISTORY);
    const pq = new ParquetQueryable(store, { prefix: 'hist' });
    const engine = new Engine();

    // raw selects, bit-exact (NaN payloads and staleness markers included)
    let staleDeclared = 0;
    const sels: LabelMatcher[][] = [
      [matcher('=~', '__name__', '.+')],
      [matcher('=', '__name__', 'temperature'), matcher('!=', 'sensor', 'x')],
      [matcher('=~', '__name__', 'http_.*'), matcher('!~', 'code', '2..')],
    ];
    for (const ms of sels) {
      const a = await mem.select({ matchers: ms, mint: T0 - DAY_MS / 2, maxt: T1 });
      const b = await pq.select({ matchers: ms, mint: Date.UTC(2025, 5, 11), maxt: T1 });
      assert.is(b.series.length, a.series.length, ms.join(','));
      for (let i = 0; i < a.series.length; i++) {
        assert.is(formatLabels(b.series[i]!.labels), formatLabels(a.series[i]!.labels));
        assert.ok(sameBits(b.series[i]!.timestamps, a.series[i]!.timestamps), `timestamps of ${formatLabels(a.series[i]!.labels)}`);
        assert.ok(sameBits(b.series[i]!.values, a.series[i]!.values), `values (bit-exact) of ${formatLabels(a.series[i]!.labels)}`);
        // Declared free of staleness markers exactly when the decoded chunks held none.
        if (b.series[i]!.mayHaveStale === false) assert.not.ok(hasStale(b.series[i]!.values), `no marker in ${formatLabels(a.series[i]!.labels)}`);
        else staleDeclared++;
      }
      assert.ok((b.stats?.bytesRead ?? 0) > 0, 'bytesRead reported');
    }
    // Only series with markers somewhere in their chunks stay undeclared (the temperature gauges).
    const all = (await pq.select({ matchers: [matcher('=~', '__name__', '.+')], mint: Date.UTC(2025, 5, 11), maxt: T1 })).series;
    assert.ok(staleDeclared > 0 && all.filter((x) => x.mayHaveStale === false).length > all.length / 2, `${staleDeclared} undeclared of ${all.length}`);

    let checked = 0;
    for (const q of QUERIES) {
      for (const t of INSTANTS) {
        const a = canon(await engine.instantQuery(mem, q, t));
        const b = canon(await engine.instantQuery(pq, q, t));
        assert.is(b, a, `${q} @ ${new Date(t).toISOString()}`);
        checked++;
      }
      if (q.endsWith('[3m]')) continue; // a range vector is not a range query
      for (const [s, e, step] of [
        [MIDNIGHT - 4 * 3_600_000, MIDNIGHT + 4 * 3_600_000, 300_000],
        [T0, T1, 1_800_000],
      ] as const) {
        const a = canon(await engine.rangeQuery(mem, q, s, e, step));
        const b = canon(await engine.rangeQuery(pq, q, s, e, step));
        assert.is(b, a, `${q} over ${new Date(s).toISOString()}..${new Date(e).toISOString()}`);
        assert.ok(a.split('\n').length > 1 || q.includes('method=""'), `${q} has data`);
        checked++;
      }
    }
    assert.ok(checked > 150);

    // The series of one scrape target share their timestamps: one array, decoded once (the
    // buckets of a datacenter are scraped together; each counter here has its own times).
    const day = (await pq.select({ matchers: [matcher('=~', '__name__', 'http_.*')], mint: MIDNIGHT, maxt: MIDNIGHT + DAY_MS - 1 })).series;
    const name = (x: Series) => x.labels.find((l) => l.name === '__name__')!.value;
    for (const dc of ['dc1', 'dc2', 'dc3']) {
      const buckets = day.filter((x) => name(x) === 'http_request_duration_seconds_bucket' && x.labels.some((l) => l.name === 'datacenter' && l.value === dc));
      assert.is(buckets.length, 4);
      assert.ok(buckets.every((x) => x.timestamps === buckets[0]!.timestamps), `the buckets of ${dc} share one array`);
    }
    const counters = day.filter((x) => name(x) === 'http_requests_total');
    assert.ok(counters.length > 10);
    assert.is(new Set(counters.map((x) => x.timestamps)).size, counters.length, 'different times, different arrays');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shared timestamps: rows with the same times get one array; same count and ends but other times inside do not', async () => {
  const dir = tempDir('shared-ts');
  try {
    const store = new LocalObjectStore(dir, { fsync: false });
    const times = Array.from({ length: 200 }, (_, i) => MIDNIGHT + i * 15_000);
    const shifted = times.map((t, i) => (i === 100 ? t + 5_000 : t));
    const input: Series[] = [
      { labels: labelsFromRecord({ __name__: 'm', k: 'a' }), timestamps: Float64Array.from(times), values: Float64Array.from(times, (_, i) => i) },
      { labels: labelsFromRecord({ __name__: 'm', k: 'b' }), timestamps: Float64Array.from(shifted), values: Float64Array.from(times, (_, i) => 2 * i) },
      { labels: labelsFromRecord({ __name__: 'm', k: 'c' }), timestamps: Float64Array.from(times), values: Float64Array.from(times, (_, i) => 3 * i) },
    ];
    await writeBlocks(store, 'h', input);
    const got = (await new ParquetQueryable(store, { prefix: 'h' }).select({ matchers: [matcher('=', '__name__', 'm')], mint: MIDNIGHT, maxt: MIDNIGHT + DAY_MS - 1 })).series;
    assert.is(got.length, 3);
    got.forEach((x, i) => {
      assert.ok(sameBits(x.timestamps, input[i]!.timestamps), `times of ${formatLabels(x.labels)}`);
      assert.ok(sameBits(x.values, input[i]!.values), `values of ${formatLabels(x.labels)}`);
    });
    assert.ok(got[0]!.timestamps === got[2]!.timestamps, 'the same times: one array');
    assert.ok(got[1]!.timestamps !== got[0]!.timestamps, 'other times inside: an array of its own');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- read little ------------------------------------------------------------------------------

const BIG_DAY = Date.UTC(2025, 5, 20);
const N_METRICS = 40;
const PER_METRIC = 60; // 2,400 series

function bigBlockSeries(): Series[] {
  const out: Series[] = [];
  const r = prng(7);
  const n = DAY_MS / 300_000;
  for (let m = 0; m < N_METRICS; m++) {
    for (let k = 0; k < PER_METRIC; k++) {
      const ts = new Float64Array(n);
      const vs = new Float64Array(n);
      let c = 0;
      for (let i = 0; i < n; i++) {
        ts[i] = BIG_DAY + i * 300_000 + (k % 7) * 1000;
        c += Math.floor(r() * 1000);
        vs[i] = c;
      }
      const labels = labelsFromRecord({ __name__: `metric_${String(m).padStart(2, '0')}`, datacenter: `dc${k % 3}`, instance: `host-${k}`, zone: `z${k % 5}` });
      out.push({ labels, timestamps: ts, values: vs });
    }
  }
  return out;
}

interface ColumnSpan {
  rowGroup: number;
  column: string;
  start: number;
  end: number; // exclusive
  min?: unknown;
  max?: unknown;
}

function columnSpans(meta: FileMetaData): ColumnSpan[] {
  const out: ColumnSpan[] = [];
  meta.row_groups.forEach((rg, i) => {
    for (const cc of rg.columns) {
      const md = cc.meta_data!;
      const start = Number(md.dictionary_page_offset ?? md.data_page_offset);
      out.push({
        rowGroup: i,
        column: md.path_in_schema.join('.'),
        start,
        end: start + Number(md.total_compressed_size),
        min: md.statistics?.min_value,
        max: md.statistics?.max_value,
      });
    }
  });
  return out;
}

/** Column bytes read: a ranged get overlapping the span (footer reads, which end at the file's last byte, aside). */
const overlaps = (g: GetRecord, s: ColumnSpan) => g.range !== undefined && !FILE_TAILS.has(`${g.key}@${g.range[1]}`) && g.range[0] < s.end && g.range[1] >= s.start;
const FILE_TAILS = new Set<string>();

test('read little: a selective query reads a small share of the block, pruned by statistics, and only the data column of its slice', async () => {
  const dir = tempDir('little');
  try {
    const local = new LocalObjectStore(dir, { fsync: false });
    const [res] = await writeBlocks(local, '', bigBlockSeries(), { rowGroupSize: 500 });
    assert.is(res!.series, 2400);
    const marker = (await readMarker(local, dayDir('', BIG_DAY)))!;
    const labelsKey = `${res!.dir}/${marker.files['labels']!.name}`;
    const chunksKey = `${res!.dir}/${marker.files['chunks']!.name}`;
    const labelsMeta = parquetMetadata(readFileSync(local.describe(labelsKey)).buffer as ArrayBuffer);
    const chunksMeta = parquetMetadata(readFileSync(local.describe(chunksKey)).buffer as ArrayBuffer);
    assert.ok(labelsMeta.row_groups.length >= 4, `several row groups (${labelsMeta.row_groups.length})`);
    const blockBytes = marker.files['labels']!.bytes + marker.files['chunks']!.bytes;
    FILE_TAILS.add(`${labelsKey}@${marker.files['labels']!.bytes - 1}`).add(`${chunksKey}@${marker.files['chunks']!.bytes - 1}`);

    const fresh = () => {
      const rec = new RecordingStore(local);
      return { rec, pq: new ParquetQueryable(rec) };
    };
    const noon = BIG_DAY + 12 * 3_600_000;

    // 1 metric of 40, instant at noon
    {
      const { rec, pq } = fresh();
      const r = await new Engine().instantQuery(pq, 'metric_17', noon);
      assert.is(r.value.type === 'vector' && r.value.samples.length, PER_METRIC);
      const read = rec.bytesOf();
      assert.ok(read < 0.25 * blockBytes, `read ${read} of ${blockBytes} bytes`);
      assert.is(r.stats.bytesRead, read, 'the query reports the bytes it read');
      // row groups whose __name__ statistics exclude metric_17 are not read (no byte of their label or data columns)
      const excluded = columnSpans(labelsMeta).filter((s) => s.column === 'l___name__' && (String(s.max) < 'metric_17' || String(s.min) > 'metric_17'));
      assert.ok(excluded.length >= labelsMeta.row_groups.length - 2, 'statistics exclude most row groups');
      const excludedGroups = new Set(excluded.map((s) => s.rowGroup));
      for (const s of columnSpans(labelsMeta).filter((s) => excludedGroups.has(s.rowGroup))) {
        assert.not.ok(rec.gets.some((g) => g.key === labelsKey && overlaps(g, s)), `read ${s.column} of excluded row group ${s.rowGroup}`);
      }
      for (const s of columnSpans(chunksMeta).filter((s) => excludedGroups.has(s.rowGroup))) {
        assert.not.ok(rec.gets.some((g) => g.key === chunksKey && overlaps(g, s)), `read ${s.column} of excluded row group ${s.rowGroup}`);
      }
      // only s_data_1 (08:00-16:00) of the chunks file
      for (const s of columnSpans(chunksMeta).filter((s) => s.column !== 's_data_1')) {
        assert.not.ok(rec.gets.some((g) => g.key === chunksKey && overlaps(g, s)), `read ${s.column}`);
      }
    }

    // 1 datacenter of 3 across all metrics (no equality on __name__): fewer bytes than the block
    {
      const { rec, pq } = fresh();
      const r = await pq.select({ matchers: [matcher('=', 'datacenter', 'dc1')], mint: noon - 300_000, maxt: noon });
      assert.is(r.series.length, 800);
      assert.ok(rec.bytesOf() < blockBytes, `read ${rec.bytesOf()} of ${blockBytes}`);
    }

    // the last 2 hours vs the whole day: only s_data_2 is read, a fraction of the whole day's data bytes
    {
      const all = [matcher('=~', '__name__', 'metric_0.')];
      const a = fresh();
      await a.pq.select({ matchers: all, mint: BIG_DAY, maxt: BIG_DAY + DAY_MS - 1 });
      const b = fresh();
      await b.pq.select({ matchers: all, mint: BIG_DAY + 22 * 3_600_000, maxt: BIG_DAY + DAY_MS - 1 });
      const dataA = a.rec.bytesOf((g) => g.key === chunksKey);
      const dataB = b.rec.bytesOf((g) => g.key === chunksKey);
      assert.ok(dataB < dataA / 2.5, `2h: ${dataB} data bytes, whole day: ${dataA}`);
      for (const s of columnSpans(chunksMeta).filter((s) => s.column !== 's_data_2')) {
        assert.not.ok(b.rec.gets.some((g) => g.key === chunksKey && overlaps(g, s)), `2h query read ${s.column}`);
      }
      // every get is a ranged read
      assert.ok([...a.rec.gets, ...b.rec.gets].every((g) => g.range !== undefined || g.key.endsWith(MARKER_FILE)), 'ranged reads only');
    }

    // the footers are read once per block, not once per query
    {
      const { rec, pq } = fresh();
      await pq.select({ matchers: [matcher('=', '__name__', 'metric_03')], mint: noon - 300_000, maxt: noon });
      const n1 = rec.gets.length;
      await pq.select({ matchers: [matcher('=', '__name__', 'metric_03')], mint: noon - 300_000, maxt: noon });
      const n2 = rec.gets.length - n1;
      assert.ok(n2 < n1, `second query: ${n2} requests, first: ${n1}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- atomic re-import -------------------------------------------------------------------------

const DAY = Date.UTC(2025, 5, 12);

function daySeries(value: number, names: string[]): Series[] {
  return names.map((n) => {
    const ts = new Float64Array(96).map((_, i) => DAY + i * 900_000);
    return { labels: labelsFromRecord({ __name__: n, job: 'x' }), timestamps: ts, values: new Float64Array(96).fill(value) };
  });
}

async function listKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key.slice(prefix.length));
  return out.sort();
}

async function valuesOf(pq: ParquetQueryable): Promise<string> {
  const r = await pq.select({ matchers: [matcher('=~', '__name__', '.+')], mint: DAY, maxt: DAY + DAY_MS - 1 });
  return r.series.map((s) => `${formatLabels(s.labels)}=${[...new Set(s.values)].join('|')}x${s.values.length}`).join(' ');
}

test('atomic re-import: old readers stay consistent, new readers see only the new block, old files are removed', async () => {
  const dir = tempDir('atomic');
  try {
    const local = new LocalObjectStore(dir, { fsync: false });
    const rec = new RecordingStore(local);
    await writeDayBlock(rec, 'p', DAY, daySeries(1, ['a', 'b']));
    const OLD = 'a{job="x"}=1x96 b{job="x"}=1x96';
    const NEW = 'a{job="x"}=2x96 c{job="x"}=2x96';
    const oldReader = new ParquetQueryable(local, { prefix: 'p' });
    assert.is(await valuesOf(oldReader), OLD);
    const oldFiles = await listKeys(local, 'p/2025/06/12/');

    const seen: string[] = [];
    rec.beforePut = async (key) => {
      // during the import: after each file, before the next (and before the marker swap)
      seen.push(`${key.split('/').pop()}: old=${await valuesOf(oldReader)} fresh=${await valuesOf(new ParquetQueryable(local, { prefix: 'p' }))}`);
    };
    const w = await writeDayBlock(rec, 'p', DAY, daySeries(2, ['a', 'c']));
    rec.beforePut = undefined;
    assert.ok(w.replaced);
    assert.is(seen.length, 3);
    for (const s of seen) assert.ok(s.endsWith(`old=${OLD} fresh=${OLD}`), s);

    // after: a fresh reader and the old one (its files are gone: it re-reads the marker) see the new data only
    assert.is(await valuesOf(new ParquetQueryable(local, { prefix: 'p' })), NEW);
    assert.is(await valuesOf(oldReader), NEW);
    const files = await listKeys(local, 'p/2025/06/12/');
    assert.is(files.length, 3, files.join(' '));
    for (const f of oldFiles) if (f !== MARKER_FILE) assert.not.ok(files.includes(f), `old file ${f} removed`);

    // a crash between the data files and the marker leaves the new block intact and readable
    rec.beforePut = (key) => {
      if (key.endsWith(MARKER_FILE)) throw new Error('simulated crash before the marker');
    };
    let crashed: Error | undefined;
    await writeDayBlock(rec, 'p', DAY, daySeries(3, ['z'])).catch((e: Error) => (crashed = e));
    assert.match(String(crashed?.message), /simulated crash/);
    assert.is((await listKeys(local, 'p/2025/06/12/')).length, 5, 'the crashed import left its two files');
    rec.beforePut = undefined;
    assert.is(await valuesOf(new ParquetQueryable(local, { prefix: 'p' })), NEW);
    assert.is(await valuesOf(oldReader), NEW);
    // and the next import cleans up what the crashed one left
    await writeDayBlock(rec, 'p', DAY, daySeries(4, ['a']));
    assert.is((await listKeys(local, 'p/2025/06/12/')).length, 3, (await listKeys(local, 'p/2025/06/12/')).join(' '));
    assert.is(await valuesOf(new ParquetQueryable(local, { prefix: 'p' })), 'a{job="x"}=4x96');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- bad input --------------------------------------------------------------------------------

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function hmd(...args: string[]): Run {
  const r = spawnSync(process.execPath, ['bin/hmd.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SMALL = (() => {
  const out: Series[] = [];
  for (let k = 0; k < 300; k++) {
    const ts = new Float64Array(200).map((_, i) => DAY + i * 60_000 + k);
    const vs = new Float64Array(200).map((_, i) => i * (k + 1) + Math.sin(i));
    out.push({ labels: labelsFromRecord({ __name__: `m${k % 3}`, instance: `i${k}` }), timestamps: ts, values: vs });
  }
  return out;
})();
const AT = new Date(DAY + 100 * 60_000).toISOString();

/** A fresh single-day store; returns its directory and the block's file paths. */
async function smallStore(): Promise<{ dir: string; blockDir: string; labels: string; chunks: string; marker: string }> {
  const dir = tempDir('bad');
  const local = new LocalObjectStore(dir, { fsync: false });
  await writeBlocks(local, '', SMALL, { rowGroupSize: 100 });
  const m = (await readMarker(local, dayDir('', DAY)))!;
  const blockDir = join(dir, '2025/06/12');
  return { dir, blockDir, labels: join(blockDir, m.files['labels']!.name), chunks: join(blockDir, m.files['chunks']!.name), marker: join(blockDir, MARKER_FILE) };
}

/** Both the library and the CLI fail, naming `object`; the CLI exits 3. */
async function expectFailure(dir: string, object: string, what: RegExp, expr = 'm1', opts: { allowMissingDays?: boolean } = {}): Promise<void> {
  const pq = new ParquetQueryable(new LocalObjectStore(dir), opts);
  let err: Error | undefined;
  try {
    const r = await new Engine().instantQuery(pq, expr, Date.parse(AT));
    assert.unreachable(`no error, got ${canon(r).slice(0, 200)}`);
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err!.message.includes(object), `error names ${object}: ${err!.message}`);
  assert.match(err!.message, what);
  const run = hmd('query', expr, '--data', dir, '--time', AT, '--output', 'table');
  assert.is(run.code, 3, `exit code; stderr: ${run.stderr} stdout: ${run.stdout}`);
  assert.ok(run.stderr.includes(object), `CLI names ${object}: ${run.stderr}`);
}

function mutate(path: string, f: (b: Buffer) => Buffer): void {
  writeFileSync(path, f(readFileSync(path)));
}

function setMarkerBytes(marker: string, role: string, bytes: number): void {
  const m = JSON.parse(readFileSync(marker, 'utf8'));
  m.files[role].bytes = bytes;
  writeFileSync(marker, JSON.stringify(m));
}

test('bad input: the healthy store answers (CLI exit 0)', async () => {
  const s = await smallStore();
  try {
    const run = hmd('query', 'sum(m1)', '--data', s.dir, '--time', AT, '--output', 'json');
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, /"status":"success"/);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('bad input: a truncated labels file and a truncated chunks file', async () => {
  for (const role of ['labels', 'chunks'] as const) {
    const s = await smallStore();
    try {
      mutate(s[role], (b) => b.subarray(0, Math.floor(b.length * 0.6)));
      await expectFailure(s.dir, s[role], /bytes, but the block marker says/);
      // with the marker agreeing on the size, the footer is missing
      setMarkerBytes(s.marker, role, Math.floor(readFileSync(s[role]).length));
      await expectFailure(s.dir, s[role], /not a readable Parquet file/);
    } finally {
      rmSync(s.dir, { recursive: true, force: true });
    }
  }
});

test('bad input: a corrupt footer', async () => {
  const s = await smallStore();
  try {
    mutate(s.labels, (b) => {
      const c = Buffer.from(b);
      const len = c.readUInt32LE(c.length - 8);
      const start = c.length - 8 - len;
      for (let i = start; i < start + len; i += 3) c[i] = c[i]! ^ 0xa5;
      return c;
    });
    await expectFailure(s.dir, s.labels, /not a readable Parquet file|labels file/);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('bad input: bytes flipped inside a data page give an error, never a silent wrong answer', async () => {
  const s = await smallStore();
  try {
    const meta = parquetMetadata(readFileSync(s.chunks).buffer as ArrayBuffer);
    // s_data_0 of the row group holding m1's rows: flip a run of bytes in the middle of its page
    const span = columnSpans(meta).find((c) => c.column === 's_data_0' && c.rowGroup === 1)!;
    mutate(s.chunks, (b) => {
      const c = Buffer.from(b);
      const mid = Math.floor((span.start + span.end) / 2);
      for (let i = mid; i < mid + 64; i++) c[i] = c[i]! ^ 0xff;
      return c;
    });
    await expectFailure(s.dir, s.chunks, /XOR|cell|chunk|Parquet|corrupt/i, 'm1');
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('bad input: a missing block for a day in the range, and allowMissingDays', async () => {
  const s = await smallStore();
  try {
    const expr = 'm1 offset 1d';
    await expectFailure(s.dir, join(s.dir, '2025/06/11', MARKER_FILE), /no block for 2025-06-11/, expr);
    const pq = new ParquetQueryable(new LocalObjectStore(s.dir), { allowMissingDays: true });
    const r = await new Engine().instantQuery(pq, 'm1[2d]', Date.parse(AT));
    assert.ok(r.warnings.some((w) => w.includes('2025/06/11') && /no block for 2025-06-11/.test(w)), r.warnings.join('\n'));
    assert.is(r.value.type === 'matrix' && r.value.series.length, 100);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('bad input: a foreign Parquet schema behind a hand-written marker', async () => {
  const s = await smallStore();
  try {
    const foreign = join(s.blockDir, 'foreign.parquet');
    const buf = new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: 'city', data: ['a', 'b', 'c'], type: 'STRING' },
          { name: 'population', data: new Int32Array([1, 2, 3]), type: 'INT32' },
        ],
      }),
    );
    writeFileSync(foreign, buf);
    const m = JSON.parse(readFileSync(s.marker, 'utf8'));
    m.files = { labels: { name: 'foreign.parquet', bytes: buf.length }, chunks: { name: 'foreign.parquet', bytes: buf.length } };
    writeFileSync(s.marker, JSON.stringify(m));
    await expectFailure(s.dir, foreign, /not an hmd\/parquet-common labels file|not a chunks file/);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('bad input: a marker that is not JSON, and one that is foreign JSON', async () => {
  const s = await smallStore();
  try {
    writeFileSync(s.marker, '<html>not json</html>');
    await expectFailure(s.dir, s.marker, /not a block marker \(invalid JSON/);
    writeFileSync(s.marker, '{"format":"something-else"}');
    await expectFailure(s.dir, s.marker, /not an hmd block marker/);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test.run();
