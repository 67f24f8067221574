/**
 * Parquet history store: write throughput, pruning ratio (bytes read vs bytes of the objects a
 * query touches), requests and latency of selective queries, and memory that grows with the
 * series a query selects, not with the block. A generated store of 50,000 series × 24h
 * (1.2 million series-hours, one sample per 5 minutes) in a temporary directory.
 * Ends with one line of JSON holding every figure.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { labelsFromRecord } from '../src/storage/labels.js';
import { matcher, type LabelMatcher } from '../src/storage/matchers.js';
import { LocalObjectStore } from '../src/storage/objstore/local.js';
import { writeBlocks } from '../src/storage/parquet/import.js';
import { dayDir } from '../src/storage/parquet/layout.js';
import { ParquetQueryable } from '../src/storage/parquet/queryable.js';
import { readMarker } from '../src/storage/parquet/writer.js';
import type { Series } from '../src/storage/queryable.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const DAY = Date.UTC(2025, 5, 12);
const METRICS = 50;
const PER_METRIC = 1000; // 50,000 series
const STEP = 300_000;
const N = 86_400_000 / STEP;

function generate(): Series[] {
  const out: Series[] = [];
  let seed = 1;
  for (let m = 0; m < METRICS; m++) {
    for (let k = 0; k < PER_METRIC; k++) {
      const ts = new Float64Array(N);
      const vs = new Float64Array(N);
      let c = 0;
      for (let i = 0; i < N; i++) {
        ts[i] = DAY + i * STEP + (k % 13) * 1000;
        seed = (seed * 1103515245 + 12345) >>> 0;
        c += seed % 200;
        vs[i] = c;
      }
      out.push({
        labels: labelsFromRecord({ __name__: `metric_${String(m).padStart(2, '0')}`, datacenter: `dc${k % 5}`, shard: `s${k % 10}`, instance: `host-${k}` }),
        timestamps: ts,
        values: vs,
      });
    }
  }
  return out;
}

function mb(n: number): number {
  return Math.round((n / 1048576) * 10) / 10;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-parquet-bench-'));
  try {
    const store = new LocalObjectStore(dir, { fsync: false });
    let series: Series[] | undefined = generate();
    const samples = series.length * N;
    const t0 = performance.now();
    const [block] = await writeBlocks(store, '', series, { rowGroupSize: 5000 });
    const writeS = (performance.now() - t0) / 1000;
    series = undefined;
    const marker = (await readMarker(store, dayDir('', DAY)))!;
    const blockBytes = marker.files['labels']!.bytes + marker.files['chunks']!.bytes;
    console.log(`wrote ${block!.series} series, ${samples} samples (${block!.series * 24} series-hours), ${mb(blockBytes)} MiB in ${writeS.toFixed(1)} s: ${Math.round(samples / writeS)} samples/s, ${mb(blockBytes / writeS)} MiB/s`);

    const noon = DAY + 12 * 3_600_000;
    const queries: { name: string; matchers: LabelMatcher[]; mint: number; maxt: number }[] = [
      { name: 'one_metric_instant', matchers: [matcher('=', '__name__', 'metric_17')], mint: noon - 300_000, maxt: noon },
      { name: 'one_metric_1h', matchers: [matcher('=', '__name__', 'metric_17')], mint: noon - 3_600_000, maxt: noon },
      { name: 'one_metric_one_dc_1h', matchers: [matcher('=', '__name__', 'metric_17'), matcher('=', 'datacenter', 'dc2')], mint: noon - 3_600_000, maxt: noon },
      { name: 'one_dc_all_metrics_5m', matchers: [matcher('=', 'datacenter', 'dc2')], mint: noon - 300_000, maxt: noon },
    ];
    const figures: Record<string, unknown> = {
      series: block!.series,
      seriesHours: block!.series * 24,
      samples,
      blockBytes,
      writeSeconds: Math.round(writeS * 100) / 100,
      writeSamplesPerSec: Math.round(samples / writeS),
      writeMiBPerSec: mb(blockBytes / writeS),
    };
    for (const q of queries) {
      const lat: number[] = [];
      let first: { bytes: number; requests: number; series: number } | undefined;
      for (let rep = 0; rep < 3; rep++) {
        const s = store.scoped();
        const pq = new ParquetQueryable(s); // cold: footers read each time
        const t = performance.now();
        const r = await pq.select({ matchers: q.matchers, mint: q.mint, maxt: q.maxt });
        lat.push(performance.now() - t);
        first ??= { bytes: s.stats.bytesRead, requests: s.stats.requests, series: r.series.length };
      }
      lat.sort((a, b) => a - b);
      const ratio = first!.bytes / blockBytes;
      console.log(`${q.name}: ${first!.series} series, read ${first!.bytes} of ${blockBytes} bytes (${(ratio * 100).toFixed(2)}%), ${first!.requests} requests, median ${lat[1]!.toFixed(1)} ms`);
      figures[q.name] = { series: first!.series, bytesRead: first!.bytes, objectBytes: blockBytes, pruningRatio: Math.round(ratio * 10000) / 10000, requests: first!.requests, medianMs: Math.round(lat[1]! * 10) / 10 };
    }

    // memory: grows with the series selected, not with the block
    const mem: Record<string, unknown> = {};
    gc();
    gc();
    const memQueries: [number, LabelMatcher[]][] = [
      [100, [matcher('=', '__name__', 'metric_07'), matcher('=', 'shard', 's3')]],
      [1000, [matcher('=', '__name__', 'metric_07')]],
      [10000, [matcher('=~', '__name__', 'metric_0.')]],
    ];
    for (const [n, ms] of memQueries) {
      gc();
      const before = process.memoryUsage();
      const pq = new ParquetQueryable(store.scoped());
      const r = await pq.select({ matchers: ms, mint: DAY, maxt: DAY + 86_400_000 - 1 });
      const peakish = process.memoryUsage();
      gc();
      const held = process.memoryUsage();
      if (r.series.length !== n) throw new Error(`expected ${n} series, got ${r.series.length}`);
      const e = {
        series: r.series.length,
        heapGrowthMiB: mb(held.heapUsed - before.heapUsed),
        arrayBuffersGrowthMiB: mb(held.arrayBuffers - before.arrayBuffers),
        rssGrowthMiB: mb(peakish.rss - before.rss),
        resultSampleMiB: mb(r.series.reduce((a, s) => a + s.timestamps.byteLength + s.values.byteLength, 0)),
      };
      mem[`series_${n}`] = e;
      console.log(`memory, ${n} series selected: heap +${e.heapGrowthMiB} MiB, arrayBuffers +${e.arrayBuffersGrowthMiB} MiB (result samples ${e.resultSampleMiB} MiB), rss +${e.rssGrowthMiB} MiB`);
    }
    figures['memory'] = mem;
    console.log(JSON.stringify({ bench: 'parquet', ...figures }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
