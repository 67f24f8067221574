/**
 * Opening what queries read: a `--data` source (OpenMetrics file, Parquet directory or S3
 * prefix) as a Queryable, and configured engines as the distributed engine takes them. Shared by
 * every front end (query, serve, gate, backtest).
 */

import { existsSync, statSync } from 'node:fs';
import type { EngineConfig, TimeBound } from '../config/config.js';
import { PromQLError } from '../promql/errors.js';
import { openObjectStore } from '../storage/objstore/open.js';
import { loadOpenMetricsFile } from '../storage/openmetrics.js';
import { ParquetQueryable } from '../storage/parquet/queryable.js';
import type { Queryable } from '../storage/queryable.js';
import type { DistributedEngineSpec } from './engine.js';
import type { EngineTime } from './topology.js';

const engineTime = (b: TimeBound | undefined): EngineTime | undefined => (b === undefined ? undefined : b.kind === 'absolute' ? b.ms : { relativeMs: b.offsetMs });

/** A configured engine as the distributed engine takes it. */
export function engineSpec(e: EngineConfig): DistributedEngineSpec {
  const minTime = engineTime(e.minTime);
  const maxTime = engineTime(e.maxTime);
  return {
    name: e.name,
    url: e.url,
    labels: e.labels,
    ...(minTime !== undefined ? { minTime } : {}),
    ...(maxTime !== undefined ? { maxTime } : {}),
    ...(e.headers ? { headers: e.headers } : {}),
    ...(e.bearerToken ? { bearerToken: e.bearerToken } : {}),
    ...(e.timeoutMs ? { timeoutMs: e.timeoutMs } : {}),
    ...(e.connections ? { connections: e.connections } : {}),
  };
}

/** A `--data` value that names no kind of source hmd can read. */
export class UnknownSourceError extends PromQLError {
  constructor(message: string) {
    super('bad_data', message);
    this.name = 'UnknownSourceError';
  }
}

const OPENMETRICS = /\.(om|txt|prom)$/i;

/**
 * Opens a `--data` source: an OpenMetrics text file (`.om`, `.txt`, `.prom`), a directory of
 * Parquet blocks, or an `s3://bucket/prefix` of Parquet blocks (S3 or R2; endpoint and
 * credentials from the environment, see docs/storage.md). Anything else is an
 * UnknownSourceError that says what is accepted. Failures to read a known kind keep the
 * loader's errorType when it gives one, else `unavailable`; the message names the source.
 */
export async function openSource(spec: string): Promise<Queryable> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec)?.[1];
  if (scheme !== undefined && scheme.toLowerCase() !== 's3') {
    throw new UnknownSourceError(
      `data source ${JSON.stringify(spec)}: ${scheme}:// sources are not supported; give an OpenMetrics file (.om, .txt, .prom), a directory of Parquet blocks, or s3://bucket/prefix`,
    );
  }
  if (scheme !== undefined || (existsSync(spec) && statSync(spec).isDirectory())) {
    try {
      return new ParquetQueryable(openObjectStore(spec));
    } catch (err) {
      throw new PromQLError('bad_data', `data source ${JSON.stringify(spec)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!OPENMETRICS.test(spec)) {
    throw new UnknownSourceError(
      `data source ${JSON.stringify(spec)}: unknown kind; expected an OpenMetrics file ending in .om, .txt or .prom, a directory of Parquet blocks, or s3://bucket/prefix`,
    );
  }
  try {
    return await loadOpenMetricsFile(spec);
  } catch (err) {
    const type = err instanceof PromQLError ? err.errorType : 'unavailable';
    throw new PromQLError(type, `data source ${JSON.stringify(spec)}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
