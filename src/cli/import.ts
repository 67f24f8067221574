/** `hmd import`: write history into daily Parquet blocks (a directory or s3://bucket/prefix). */

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadOpenMetricsFile } from '../storage/openmetrics.js';
import { openObjectStore } from '../storage/objstore/open.js';
import { writeBlocks } from '../storage/parquet/import.js';
import type { BlockWriteResult } from '../storage/parquet/writer.js';
import type { ObjectStore } from '../storage/objstore/types.js';
import { DEFAULT_DATA_COLUMN_MS } from '../storage/parquet/layout.js';
import { EXIT } from './query.js';
import { parseDuration, parseTime } from './time.js';
import { DEFAULT_IMPORT_TIMEOUT_MS, importPrometheus } from '../storage/importers/prometheus.js';
import { AdaptiveLimiter } from '../limiter/limiter.js';

// ---- shared by the import subcommands --------------------------------------------------------

const OUT_OPTION = { alias: 'o', type: 'string', describe: 'Destination: a directory, or s3://bucket/prefix', demandOption: true } as const;
const COLUMN_DURATION_OPTION = { type: 'string', default: '8h', describe: 'Time slice of one data column (must divide a day)' } as const;
const ROW_GROUP_SIZE_OPTION = { type: 'number', default: 5000, describe: 'Series per Parquet row group' } as const;

/** --column-duration in ms: a duration that divides a day. */
function parseColumnDuration(s: string): number {
  const ms = parseDuration(s);
  if (!(ms > 0) || 86_400_000 % ms !== 0) throw new Error(`${s} does not divide a day`);
  return ms;
}

/** The --out store; undefined (a usage error, said) when it cannot be opened. */
function openOut(out: string): ObjectStore | undefined {
  try {
    return openObjectStore(out);
  } catch (e) {
    console.error(`hmd import: --out ${out}: ${(e as Error).message}`);
    process.exitCode = EXIT.USAGE;
    return undefined;
  }
}

/** The line said for each block written. */
function wroteBlock(store: ObjectStore, b: BlockWriteResult): string {
  return `wrote ${store.describe(b.dir)}: ${b.series} series, ${b.samples} samples, ${b.bytes} bytes${b.replaced ? ' (replaced)' : ''}`;
}

// ---- subcommands -----------------------------------------------------------------------------

interface ImportOpenMetricsArgs {
  file: string;
  out: string;
  'column-duration': string;
  'row-group-size': number;
}

const importOpenMetrics: CommandModule<object, ImportOpenMetricsArgs> = {
  command: 'openmetrics <file>',
  describe: 'Import an OpenMetrics (or Prometheus text) file with timestamps',
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', describe: 'The file to import (as promtool tsdb create-blocks-from openmetrics takes it)', demandOption: true })
      .option('out', OUT_OPTION)
      .option('column-duration', COLUMN_DURATION_OPTION)
      .option('row-group-size', { ...ROW_GROUP_SIZE_OPTION, describe: 'Series per Parquet row group (smaller prunes better, larger compresses better)' })
      .example('hmd import openmetrics metrics.om --out history/', 'one block per UTC day under history/YYYY/MM/DD/') as unknown as Argv<ImportOpenMetricsArgs>,
  handler: async (args: ArgumentsCamelCase<ImportOpenMetricsArgs>) => {
    let columnMs: number;
    try {
      columnMs = parseColumnDuration(args['column-duration']);
    } catch (e) {
      console.error(`hmd import: --column-duration: ${(e as Error).message} (default ${DEFAULT_DATA_COLUMN_MS / 3_600_000}h)`);
      process.exitCode = EXIT.USAGE;
      return;
    }
    const store = openOut(args.out);
    if (!store) return;
    try {
      const mem = await loadOpenMetricsFile(args.file);
      const series = mem.allSeries();
      const blocks = await writeBlocks(store, '', series, {
        dataColumnMs: columnMs,
        rowGroupSize: args['row-group-size'],
        onBlock: (r) => console.error(wroteBlock(store, r)),
      });
      console.error(`imported ${args.file}: ${blocks.length} block(s), ${blocks.reduce((a, b) => a + b.samples, 0)} samples`);
      process.exitCode = EXIT.OK;
    } catch (e) {
      console.error(`hmd import: ${(e as Error).message}`);
      process.exitCode = EXIT.SOURCE;
    } finally {
      await store.close();
    }
  },
};

interface ImportPrometheusArgs {
  url: string;
  match: string[];
  start: string;
  end: string;
  out: string;
  'step-window': string;
  timeout: string;
  'column-duration': string;
  'row-group-size': number;
}

const importPrometheusCmd: CommandModule<object, ImportPrometheusArgs> = {
  command: 'prometheus',
  describe: "Import raw samples from a Prometheus server's HTTP API, one UTC day at a time",
  builder: (y: Argv) =>
    y
      .option('url', { type: 'string', describe: 'The server, e.g. http://127.0.0.1:9090', demandOption: true })
      .option('match', { type: 'string', array: true, describe: 'Series selector (repeatable), e.g. \'{job="api"}\'', demandOption: true })
      .option('start', { type: 'string', describe: 'Start (RFC 3339 or Unix seconds)', demandOption: true })
      .option('end', { type: 'string', describe: 'End, inclusive (RFC 3339 or Unix seconds)', demandOption: true })
      .option('out', OUT_OPTION)
      .option('step-window', { type: 'string', default: '2h', describe: 'Time slice read per request' })
      .option('timeout', { type: 'string', default: `${DEFAULT_IMPORT_TIMEOUT_MS / 1000}s`, describe: 'Timeout of one HTTP request' })
      .option('column-duration', COLUMN_DURATION_OPTION)
      .option('row-group-size', ROW_GROUP_SIZE_OPTION)
      .example("hmd import prometheus --url http://127.0.0.1:9090 --match '{job=\"api\"}' --start 2025-06-12T00:00:00Z --end 2025-06-13T23:59:59Z --out history/", 'two days of the api job, one block per day') as unknown as Argv<ImportPrometheusArgs>,
  handler: async (args: ArgumentsCamelCase<ImportPrometheusArgs>) => {
    let startMs: number, endMs: number, windowMs: number, timeoutMs: number, columnMs: number;
    try {
      const p = (flag: string, f: () => number) => {
        try {
          return f();
        } catch (e) {
          throw new Error(`--${flag}: ${(e as Error).message}`);
        }
      };
      startMs = p('start', () => parseTime(args.start));
      endMs = p('end', () => parseTime(args.end));
      windowMs = p('step-window', () => parseDuration(args['step-window']));
      timeoutMs = p('timeout', () => parseDuration(args.timeout));
      columnMs = p('column-duration', () => parseColumnDuration(args['column-duration']));
      if (endMs < startMs) throw new Error('--end is before --start');
      if (!(windowMs >= 1000)) throw new Error('--step-window must be at least 1s');
    } catch (e) {
      console.error(`hmd import prometheus: ${(e as Error).message}`);
      process.exitCode = EXIT.USAGE;
      return;
    }
    const store = openOut(args.out);
    if (!store) return;
    try {
      const r = await importPrometheus(store, {
        url: args.url,
        // An import is batch work: it yields to interactive queries and backs off under overload.
        admit: new AdaptiveLimiter(),
        matchers: args.match.map(String),
        startMs,
        endMs,
        windowMs,
        timeoutMs,
        dataColumnMs: columnMs,
        rowGroupSize: args['row-group-size'],
        onBlock: (b, d) =>
          console.error(`${wroteBlock(store, b)}${d.partial ? ' (part of the day only)' : ''}`),
        onEmptyDay: (d) => console.error(`warning: no samples on ${new Date(d).toISOString().slice(0, 10)}: no block written for that day`),
      });
      console.error(`imported from ${args.url}: ${r.seriesListed} series listed, ${r.blocks.length} block(s), ${r.samples} samples, ${r.requests} requests`);
      process.exitCode = EXIT.OK;
    } catch (e) {
      console.error(`hmd import prometheus: ${(e as Error).message}`);
      process.exitCode = EXIT.SOURCE;
    } finally {
      await store.close();
    }
  },
};

/** `hmd import <source>`. */
export const importCommand: CommandModule = {
  command: 'import',
  describe: 'Import history into daily Parquet blocks (a directory or s3://bucket/prefix)',
  builder: (y: Argv) => y.command(importOpenMetrics as unknown as CommandModule).command(importPrometheusCmd as unknown as CommandModule).demandCommand(1, 'Give what to import: openmetrics or prometheus'),
  handler: () => {},
};
