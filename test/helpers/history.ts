/**
 * A generated history (src/fixtures/generate.ts) served the two ways hmd reads history: as
 * Parquet daily blocks in a local S3 server (s3rver), and as a real Prometheus backfilled with
 * the same series. For the backtest benchmark, and for tests that compare the two.
 *
 *   const fx = generateFixture({ datacenters: 10, days: 1 });
 *   const s3 = await startS3History(fx);            // s3.location: s3://history/fixture
 *   const prom = await startPrometheusHistory(fx);   // needs prometheus and promtool
 *   ...
 *   await prom.stop(); await s3.stop();
 *
 * - The S3 side: `s3.env` holds the settings hmd reads S3 with (HMD_S3_ENDPOINT, credentials,
 *   path-style), for code that opens `s3://` specs from the environment (runBatch, openSource);
 *   `s3.openStore()` opens a fresh S3ObjectStore on the same data with its own counters.
 * - The Prometheus side: the series are written as OpenMetrics to a file, in chunks (a day of a
 *   large fleet is over a gigabyte of text, more than one string may hold), then backfilled by
 *   `promtool tsdb create-blocks-from openmetrics --max-block-duration=24h`: a few large blocks,
 *   as a compacted Prometheus holds them, written about three times faster than 2h blocks, and
 *   none left for the server to compact while it is measured. OpenMetrics has no staleness
 *   marker: the fixture's markers (on `hmd:release_scopes:info`) are dropped.
 */

import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fixture } from '../../src/fixtures/generate.js';
import { writeFixture } from '../../src/fixtures/generate.js';
import { S3ObjectStore } from '../../src/storage/objstore/s3.js';
import { writeOpenMetrics } from '../../src/storage/openmetrics.js';
import { PROMTOOL_BIN, startPrometheus, type PrometheusServer, type StartOptions } from './prometheus.js';
import { startS3rver, type S3rverServer } from './s3rver.js';

export interface S3History {
  readonly server: S3rverServer;
  readonly bucket: string;
  readonly prefix: string;
  /** `s3://bucket/prefix` */
  readonly location: string;
  /** What hmd reads S3 settings from (merge into process.env for runBatch). */
  readonly env: Readonly<Record<string, string>>;
  /** Bytes of the objects written (Parquet blocks and scenario.json). */
  readonly bytes: number;
  readonly objects: number;
  /** A new store on the data, with counters of its own; close it after use. */
  openStore(): S3ObjectStore;
  stop(): Promise<void>;
}

/** Starts s3rver and writes the fixture's daily Parquet blocks into `bucket/prefix`. */
export async function startS3History(fx: Fixture, opts: { bucket?: string; prefix?: string } = {}): Promise<S3History> {
  const bucket = opts.bucket ?? 'history';
  const prefix = opts.prefix ?? 'fixture';
  const server = await startS3rver({ buckets: [bucket] });
  try {
    const openStore = () => new S3ObjectStore({ bucket, prefix, endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: server.credentials });
    const store = openStore();
    try {
      await writeFixture(store, fx);
    } finally {
      await store.close();
    }
    let bytes = 0;
    let objects = 0;
    const lister = openStore();
    try {
      for await (const o of lister.list('')) {
        bytes += o.size;
        objects++;
      }
    } finally {
      await lister.close();
    }
    return {
      server,
      bucket,
      prefix,
      location: `s3://${bucket}/${prefix}`,
      env: {
        HMD_S3_ENDPOINT: server.endpoint,
        HMD_S3_FORCE_PATH_STYLE: 'true',
        AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
        AWS_REGION: 'us-east-1',
      },
      bytes,
      objects,
      openStore,
      stop: () => server.stop(),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** Writes the fixture's series as an OpenMetrics file (`# EOF` last), in chunks; returns its size in bytes. */
export function writeFixtureOpenMetrics(fx: Fixture, path: string): number {
  const fd = openSync(path, 'w');
  let bytes = 0;
  try {
    writeOpenMetrics(
      fx.series,
      (c) => {
        bytes += writeSync(fd, c);
      },
      { types: fx.types, help: fx.help, stale: 'drop', chunkSize: 1 << 20 },
    );
  } finally {
    closeSync(fd);
  }
  return bytes;
}

/** `promtool tsdb create-blocks-from openmetrics` with a block duration; rejects with promtool's output. */
export function backfillBlocks(openMetricsFile: string, outDir: string, maxBlockDuration = '24h'): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', `--max-block-duration=${maxBlockDuration}`, openMetricsFile, outDir];
    const p = spawn(PROMTOOL_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (b: Buffer) => {
      out = (out + b.toString()).slice(-1 << 16);
    };
    p.stdout!.on('data', take);
    p.stderr!.on('data', take);
    p.on('error', reject);
    p.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${PROMTOOL_BIN} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${out.slice(-4000)}`))));
  });
}

export interface PrometheusHistory {
  readonly server: PrometheusServer;
  /** Size of the OpenMetrics text backfilled. */
  readonly openMetricsBytes: number;
  /** Time spent writing the text, backfilling, and starting the server, ms. */
  readonly writeMs: number;
  readonly backfillMs: number;
  readonly startMs: number;
  stop(): Promise<void>;
}

/** A real Prometheus on 127.0.0.1 holding the fixture's series (requires prometheus and promtool). */
export async function startPrometheusHistory(fx: Fixture, opts: Omit<StartOptions, 'openMetrics' | 'openMetricsFile' | 'blocksFrom'> & { maxBlockDuration?: string } = {}): Promise<PrometheusHistory> {
  const { maxBlockDuration, ...start } = opts;
  // The text and the blocks are only needed until the server has copied the blocks.
  const dir = mkdtempSync(join(tmpdir(), 'hmd-history-'));
  try {
    let t = performance.now();
    const file = join(dir, 'history.om');
    const openMetricsBytes = writeFixtureOpenMetrics(fx, file);
    const writeMs = performance.now() - t;
    t = performance.now();
    const blocks = join(dir, 'blocks');
    await backfillBlocks(file, blocks, maxBlockDuration);
    rmSync(file, { force: true });
    const backfillMs = performance.now() - t;
    t = performance.now();
    const server = await startPrometheus({ ...start, blocksFrom: blocks });
    return { server, openMetricsBytes, writeMs, backfillMs, startMs: performance.now() - t, stop: () => server.stop() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
