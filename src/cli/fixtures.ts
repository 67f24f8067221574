/** `hmd fixtures`: generate deterministic multi-datacenter history into daily Parquet blocks. */

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { FIXTURE_DEFAULT_SEED, generateFixture, writeFixture } from '../fixtures/generate.js';
import { openObjectStore } from '../storage/objstore/open.js';
import type { ObjectStore } from '../storage/objstore/types.js';
import { EXIT } from './query.js';
import { parseDuration, parseTime } from './time.js';

interface FixturesArgs {
  out: string;
  days: number;
  start: string;
  datacenters: number;
  'instances-per-scope': number;
  'scrape-interval': string;
  seed: number;
}

/** A date (`2025-06-12`, midnight UTC) or any time `parseTime` takes. */
function parseStart(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m) {
    const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    if (new Date(ms).toISOString().slice(0, 10) !== s) throw new Error(`not a date: ${s}`);
    return ms;
  }
  return parseTime(s);
}

const fixtures: CommandModule<object, FixturesArgs> = {
  command: 'fixtures',
  describe: 'Generate deterministic multi-datacenter history (releases, a bad release, an incident) as daily Parquet blocks',
  builder: (y: Argv) =>
    y
      .option('out', { alias: 'o', type: 'string', describe: 'Destination: a directory, or s3://bucket/prefix', demandOption: true })
      .option('days', { type: 'number', default: 2, describe: 'Days of history' })
      .option('start', { type: 'string', default: '2025-06-12', describe: 'First day (YYYY-MM-DD, UTC) or an RFC 3339 time on a whole minute' })
      .option('datacenters', { type: 'number', default: 4, describe: 'Datacenters dc1..dcN (at least 2)' })
      .option('instances-per-scope', { type: 'number', default: 1, describe: 'Instances per release scope (datacenter × tier × color)' })
      .option('scrape-interval', { type: 'string', default: '30s', describe: 'Scrape interval (whole seconds dividing a minute)' })
      .option('seed', { type: 'number', default: FIXTURE_DEFAULT_SEED, describe: 'PRNG seed: the same flags give the same bytes' })
      .example('hmd fixtures --out fixtures/history', 'the bundled store: 2 days from 2025-06-12, 4 datacenters, scenario.json alongside') as unknown as Argv<FixturesArgs>,
  handler: async (args: ArgumentsCamelCase<FixturesArgs>) => {
    let fx;
    try {
      fx = generateFixture({
        seed: args.seed,
        startMs: parseStart(args.start),
        days: args.days,
        datacenters: args.datacenters,
        instancesPerScope: args['instances-per-scope'],
        scrapeIntervalMs: parseDuration(args['scrape-interval']),
      });
    } catch (e) {
      console.error(`hmd fixtures: ${(e as Error).message}`);
      process.exitCode = EXIT.USAGE;
      return;
    }
    let store: ObjectStore;
    try {
      store = openObjectStore(args.out);
    } catch (e) {
      console.error(`hmd fixtures: --out ${args.out}: ${(e as Error).message}`);
      process.exitCode = EXIT.USAGE;
      return;
    }
    try {
      const { blocks, scenarioKey } = await writeFixture(store, fx, {
        onBlock: (r) => console.error(`wrote ${store.describe(r.dir)}: ${r.series} series, ${r.samples} samples, ${r.bytes} bytes${r.replaced ? ' (replaced)' : ''}`),
      });
      const s = fx.scenario;
      console.error(`wrote ${store.describe(scenarioKey)}`);
      console.error(
        `fixtures: ${blocks.length} block(s), ${s.series} series, ${s.samples} samples, ${blocks.reduce((a, b) => a + b.bytes, 0)} bytes; ` +
          `bad release ${s.badRelease.version} to ${s.badRelease.scope.datacenter}/${s.badRelease.scope.tier}/${s.badRelease.scope.color} at ${s.badRelease.release}, ` +
          `incident ${s.incident.start} .. ${s.incident.end}`,
      );
      process.exitCode = EXIT.OK;
    } catch (e) {
      console.error(`hmd fixtures: ${(e as Error).message}`);
      process.exitCode = EXIT.SOURCE;
    } finally {
      await store.close();
    }
  },
};

/** `hmd fixtures`. */
export const fixturesCommand = fixtures as unknown as CommandModule;
