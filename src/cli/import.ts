/** `hmd import`: write history into daily Parquet blocks (a directory or s3://bucket/prefix). */

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadOpenMetricsFile } from '../storage/openmetrics.js';
import { openObjectStore } from '../storage/objstore/open.js';
import { writeBlocks } from '../storage/parquet/import.js';
import { DEFAULT_DATA_COLUMN_MS } from '../storage/parquet/layout.js';
import { EXIT } from './query.js';
import { parseDuration } from './time.js';

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
      .option('out', { alias: 'o', type: 'string', describe: 'Destination: a directory, or s3://bucket/prefix', demandOption: true })
      .option('column-duration', { type: 'string', default: '8h', describe: 'Time slice of one data column (must divide a day)' })
      .option('row-group-size', { type: 'number', default: 5000, describe: 'Series per Parquet row group (smaller prunes better, larger compresses better)' })
      .example('hmd import openmetrics metrics.om --out history/', 'one block per UTC day under history/YYYY/MM/DD/') as unknown as Argv<ImportOpenMetricsArgs>,
  handler: async (args: ArgumentsCamelCase<ImportOpenMetricsArgs>) => {
    let columnMs: number;
    try {
      columnMs = parseDuration(args['column-duration']);
      if (!(columnMs > 0) || 86_400_000 % columnMs !== 0) throw new Error(`${args['column-duration']} does not divide a day`);
    } catch (e) {
      console.error(`hmd import: --column-duration: ${(e as Error).message} (default ${DEFAULT_DATA_COLUMN_MS / 3_600_000}h)`);
      process.exitCode = EXIT.USAGE;
      return;
    }
    let store;
    try {
      store = openObjectStore(args.out);
    } catch (e) {
      console.error(`hmd import: --out ${args.out}: ${(e as Error).message}`);
      process.exitCode = EXIT.USAGE;
      return;
    }
    try {
      const mem = await loadOpenMetricsFile(args.file);
      const series = mem.allSeries();
      const blocks = await writeBlocks(store, '', series, {
        dataColumnMs: columnMs,
        rowGroupSize: args['row-group-size'],
        onBlock: (r) => console.error(`wrote ${store!.describe(r.dir)}: ${r.series} series, ${r.samples} samples, ${r.bytes} bytes${r.replaced ? ' (replaced)' : ''}`),
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

/** `hmd import <source>`. */
export const importCommand: CommandModule = {
  command: 'import',
  describe: 'Import history into daily Parquet blocks (a directory or s3://bucket/prefix)',
  builder: (y: Argv) => y.command(importOpenMetrics as unknown as CommandModule).demandCommand(1, 'Give what to import: openmetrics'),
  handler: () => {},
};
