/** `hmd query`: evaluate one PromQL expression over a data source and print the result. */

import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_LOOKBACK_MS, DEFAULT_TIMEOUT_MS, Engine } from '../promql/engine.js';
import { PromQLError } from '../promql/errors.js';
import type { QueryResult } from '../promql/result.js';
import type { Queryable } from '../storage/queryable.js';
import { encodeError, encodeQueryResult, toApiError } from '../remote/json.js';
import { formatStats, formatTable } from './table.js';
import { invalidParameter, parseDuration, parseTime } from './time.js';
import { DATA_OPTION, maxSamplesProblem } from './options.js';
import { ConfigError, loadConfig, type EngineConfig, type HmdConfig } from '../config/config.js';
import { engineSpec, openSource, UnknownSourceError } from '../distributed/sources.js';

export { engineSpec, openSource, UnknownSourceError };
import { DistributedEngine, type DistributedEngineSpec, type DistributedResult } from '../distributed/engine.js';
import { formatPlan, planToJSON } from '../distributed/explain.js';
import { RemoteEngineError } from '../remote/client.js';
import { AdaptiveLimiter } from '../limiter/limiter.js';

/** hmd's exit codes (documented in docs/cli.md and `hmd --help`). */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** The query failed (bad_data, execution, timeout, ...), or `promqltest` found failing tests. */
  FAILURE: 1,
  /** Usage error: unknown command or flag, a missing or malformed argument. */
  USAGE: 2,
  /** A data source could not be opened or read. */
  SOURCE: 3,
} as const;

export interface QueryArgs {
  expr: string;
  data?: string;
  engines?: string;
  config?: string;
  explain?: boolean;
  'partial-response'?: boolean;
  time?: string;
  start?: string;
  end?: string;
  step?: string;
  output?: 'json' | 'table';
  'lookback-delta'?: string;
  'max-samples': number;
  timeout?: string;
  stats: boolean;
}

/** Where output goes; injectable for tests. */
export interface QueryIO {
  out(s: string): void;
  err(s: string): void;
  /** Whether stdout is a terminal (picks the default output format). */
  isTTY: boolean;
  /** Current time in ms (the default `--time`). */
  now(): number;
}

const processIO: QueryIO = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  isTTY: process.stdout.isTTY === true,
  now: () => Date.now(),
};

export const queryCommand: CommandModule<object, QueryArgs> = {
  command: 'query <expr>',
  describe: 'Evaluate a PromQL expression (instant or range query) over a data source',
  builder: (y: Argv) =>
    y
      .positional('expr', { type: 'string', describe: 'The PromQL expression (quote it; put it after -- if it starts with -)', demandOption: true })
      .option('data', { ...DATA_OPTION, demandOption: false })
      .option('engines', {
        type: 'string',
        requiresArg: true,
        describe: 'Run distributed over the remote engines declared in this hmd.yaml (see docs/config.md)',
      })
      .option('config', {
        alias: 'c',
        type: 'string',
        requiresArg: true,
        describe: 'hmd.yaml: its engines (when neither --data nor --engines is given) and query defaults',
      })
      .option('explain', { type: 'boolean', default: false, describe: 'Print the distributed plan (remote sub-queries per engine, central plan) instead of running it' })
      .option('partial-response', {
        type: 'boolean',
        describe: 'When engines fail, return the others\' answer with a warning naming the missing ones [default: from the config, else false]',
      })
      .option('time', { type: 'string', requiresArg: true, describe: 'Instant query at this time: RFC3339 or Unix seconds [default: now]' })
      .option('start', { type: 'string', requiresArg: true, describe: 'Range query start: RFC3339 or Unix seconds' })
      .option('end', { type: 'string', requiresArg: true, describe: 'Range query end: RFC3339 or Unix seconds' })
      .option('step', { type: 'string', requiresArg: true, describe: 'Range query step: a duration (15s, 1m) or seconds (1.5)' })
      .option('output', {
        alias: 'o',
        choices: ['json', 'table'] as const,
        describe: 'Prometheus API JSON, or a table for people [default: table on a terminal, json otherwise]',
      })
      .option('lookback-delta', { type: 'string', requiresArg: true, describe: 'How far back an instant selector looks for a sample [default: query.lookbackDelta of hmd.yaml, else 5m]' })
      .option('max-samples', { type: 'number', requiresArg: true, default: 50_000_000, describe: 'Most samples the query may hold in memory at once' })
      .option('timeout', { type: 'string', requiresArg: true, describe: 'Query evaluation timeout [default: query.timeout of hmd.yaml, else 2m]' })
      .option('stats', { type: 'boolean', default: false, describe: 'Print query stats (stderr in table mode, data.stats in JSON)' })
      .group(['data', 'engines', 'config'], 'Source (one of):')
      .group(['explain', 'partial-response'], 'Distributed:')
      .group(['time', 'start', 'end', 'step'], 'Time:')
      .group(['lookback-delta', 'max-samples', 'timeout'], 'Engine limits:')
      // A string returned from check() is a usage error (exit 2); a thrown error would not be.
      .check((a) => {
        for (const k of ['data', 'engines', 'config', 'time', 'start', 'end', 'step', 'output', 'lookback-delta', 'timeout', 'max-samples']) {
          if (Array.isArray(a[k])) return `--${k} was given more than once.`;
        }
        if (a['data'] !== undefined && a['engines'] !== undefined) return 'Give either --data (a local source) or --engines (remote engines), not both.';
        if (a['data'] === undefined && a['engines'] === undefined && a['config'] === undefined) {
          return 'Give a source: --data FILE|DIR|s3://..., or --engines hmd.yaml (or --config hmd.yaml with engines).';
        }
        if (a['explain'] && a['data'] !== undefined) return '--explain shows a distributed plan: use it with --engines or --config, not --data.';
        const range = (['start', 'end', 'step'] as const).filter((k) => a[k] !== undefined);
        if (a['time'] !== undefined && range.length > 0) {
          return 'Give either --time (instant query) or --start, --end and --step (range query), not both.';
        }
        if (range.length > 0 && range.length < 3) {
          const missing = (['start', 'end', 'step'] as const).filter((k) => a[k] === undefined);
          return `A range query needs --start, --end and --step (missing ${missing.map((k) => '--' + k).join(', ')}).`;
        }
        const max = maxSamplesProblem(a['max-samples']);
        if (max) return max;
        return true;
      })
      .example("$0 query -d fixtures/demo.om --time 2025-06-12T12:00:00Z 'sum by (code) (rate(http_requests_total[5m]))'", 'instant query')
      .example("$0 query -d fixtures/demo.om --start 2025-06-12T11:00:00Z --end 2025-06-12T12:00:00Z --step 1m 'sum(rate(http_requests_total[5m]))'", 'range query')
      .example("$0 query --engines hmd.yaml --explain 'sum by (code) (rate(http_requests_total[5m]))'", 'show the per-datacenter sub-queries')
      .epilogue(
        'Exit codes: 0 success, 1 query error (the errorType and message are printed), 2 usage error ' +
          '(including malformed --time/--start/--end/--step/--timeout/--lookback-delta, or an invalid hmd.yaml), ' +
          '3 data source unreadable (a remote engine unreachable, timed out or answering garbage).',
      ) as unknown as Argv<QueryArgs>,
  handler: async (args) => {
    process.exitCode = await runQuery(args);
  },
};

type Params = { kind: 'instant'; time: number } | { kind: 'range'; start: number; end: number; step: number };

/** Runs `hmd query` and returns its exit code. */
export async function runQuery(args: QueryArgs, io: QueryIO = processIO): Promise<number> {
  const output = args.output ?? (io.isTTY ? 'table' : 'json');
  const fail = (code: number, err: unknown): number => {
    if (output === 'json') {
      io.out(encodeError(err) + '\n');
    } else {
      const e = toApiError(err);
      io.err(`hmd query: ${e.errorType}: ${e.error}\n`);
      if (!(err instanceof PromQLError) && err instanceof Error && process.env['HMD_DEBUG']) io.err(`${err.stack}\n`);
    }
    return code;
  };

  let params: Params;
  let lookbackDelta: number | undefined;
  let timeoutMs: number | undefined;
  try {
    params = queryParams(args, io.now);
    lookbackDelta = args['lookback-delta'] === undefined ? undefined : positiveDuration('lookback-delta', args['lookback-delta']);
    timeoutMs = args.timeout === undefined ? undefined : positiveDuration('timeout', args.timeout);
  } catch (err) {
    return fail(EXIT.USAGE, err);
  }

  if (args.data === undefined) return runDistributed(args, io, params, { lookbackDelta, timeoutMs, output, fail });

  let storage: Queryable;
  try {
    storage = await openSource(args.data);
  } catch (err) {
    return fail(err instanceof UnknownSourceError ? EXIT.USAGE : EXIT.SOURCE, err);
  }

  try {
    const engine = new Engine({ lookbackDelta: lookbackDelta ?? DEFAULT_LOOKBACK_MS, maxSamples: args['max-samples'], timeoutMs: timeoutMs ?? DEFAULT_TIMEOUT_MS });
    let result: QueryResult;
    if (params.kind === 'instant') result = await engine.instantQuery(storage, args.expr, params.time);
    else result = await engine.rangeQuery(storage, args.expr, params.start, params.end, params.step);
    printResult(result, args, io, params, output);
    return EXIT.OK;
  } catch (err) {
    // The data could not be read (a missing block, a store that refuses): that is exit 3.
    return fail(err instanceof PromQLError && err.errorType === 'unavailable' ? EXIT.SOURCE : EXIT.FAILURE, err);
  } finally {
    await storage.close?.();
  }
}

function printResult(result: QueryResult, args: QueryArgs, io: QueryIO, params: Params, output: 'json' | 'table', missing: readonly string[] = []): void {
  if (output === 'json') {
    io.out(encodeQueryResult(result, { stats: args.stats, ...(missing.length ? { missingEngines: missing } : {}) }) + '\n');
  } else {
    io.out(formatTable(result.value, params.kind === 'instant' ? params.time : undefined));
    for (const w of result.warnings) io.err(`warning: ${w}\n`);
    for (const i of result.infos) io.err(`info: ${i}\n`);
    if (args.stats) io.err(formatStats(result.stats));
  }
}

interface RunContext {
  lookbackDelta: number | undefined;
  timeoutMs: number | undefined;
  output: 'json' | 'table';
  fail: (code: number, err: unknown) => number;
}

/** `hmd query --engines`: plans the query over the remote engines, then runs or explains it. */
async function runDistributed(args: QueryArgs, io: QueryIO, params: Params, ctx: RunContext): Promise<number> {
  let engines: EngineConfig[];
  let config: HmdConfig | undefined;
  try {
    config = args.config !== undefined ? loadConfig(args.config) : undefined;
    const file = args.engines ?? args.config!;
    engines = args.engines !== undefined ? loadConfig(args.engines).engines : config!.engines;
    if (engines.length === 0) throw new ConfigError('declares no engines: add an `engines:` list (name, url, labels) to fan queries out', file);
  } catch (err) {
    if (err instanceof ConfigError) return ctx.fail(EXIT.USAGE, new PromQLError('bad_data', err.message));
    throw err;
  }
  const de = new DistributedEngine({
    engines: engines.map(engineSpec),
    // Every outgoing query passes the adaptive limiter, configured by hmd.yaml's `limiter`.
    admit: new AdaptiveLimiter(config?.limiter ?? {}),
    partialResponse: args['partial-response'] ?? config?.query.partialResponse ?? false,
    central: {
      lookbackDelta: ctx.lookbackDelta ?? config?.query.lookbackDeltaMs ?? DEFAULT_LOOKBACK_MS,
      maxSamples: args['max-samples'],
      timeoutMs: ctx.timeoutMs ?? config?.query.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    },
    now: io.now,
  });
  try {
    if (args.explain) {
      const plan = params.kind === 'instant' ? de.explain(args.expr, params.time) : de.explain(args.expr, params.start, params.end, params.step);
      io.out(args.output === 'json' ? JSON.stringify(planToJSON(plan), null, 2) + '\n' : formatPlan(plan));
      return EXIT.OK;
    }
    let result: DistributedResult;
    if (params.kind === 'instant') result = await de.instantQuery(args.expr, params.time);
    else result = await de.rangeQuery(args.expr, params.start, params.end, params.step);
    printResult(result, args, io, params, ctx.output, result.missingEngines);
    if (args.stats && ctx.output === 'table') io.err(`remote: ${result.requests} requests, ${result.bytesReceived} bytes received, plan ${result.plan.mode}\n`);
    return EXIT.OK;
  } catch (err) {
    // An engine that cannot be reached or answers garbage is a source failure; its own query errors are the query's.
    return ctx.fail(err instanceof RemoteEngineError && err.kind !== 'api' ? EXIT.SOURCE : EXIT.FAILURE, err);
  } finally {
    await de.close();
  }
}


/** Reads the time flags as Prometheus's API reads its parameters, with its messages. */
function queryParams(args: QueryArgs, now: () => number): Params {
  if (args.start === undefined || args.end === undefined || args.step === undefined) {
    if (args.time === undefined) return { kind: 'instant', time: now() };
    try {
      return { kind: 'instant', time: parseTime(args.time) };
    } catch (err) {
      throw invalidParameter('time', `Invalid time value for 'time': ${(err as Error).message}`);
    }
  }
  const start = param('start', () => parseTime(args.start!));
  const end = param('end', () => parseTime(args.end!));
  if (end < start) throw invalidParameter('end', 'end timestamp must not be before start time');
  const step = param('step', () => parseDuration(args.step!));
  if (step <= 0) throw invalidParameter('step', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
  return { kind: 'range', start, end, step };
}

function positiveDuration(name: string, value: string): number {
  const d = param(name, () => parseDuration(value));
  if (d <= 0) throw invalidParameter(name, `must be a positive duration, got ${JSON.stringify(value)}`);
  return d;
}

function param<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw invalidParameter(name, err);
  }
}

