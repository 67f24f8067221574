/**
 * `hmd backtest FILE...`: replays releases over history (backtests/*.yaml), in parallel, with
 * `--set` sweeps; prints a summary table (or JSON), writes JSON and an HTML report on request,
 * and keeps finished backtests so that a re-run skips them. Exit 0 when every expectation held,
 * 1 when some did not, 2 for bad flags or specs, 3 when a backtest could not run.
 */

import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { runBatch, type BatchResult } from '../backtest/batch.js';
import { renderHtmlReport } from '../backtest/html.js';
import { parseSetFlag, type SetFlag } from '../backtest/overrides.js';
import { progressReporter, type ProgressMode, type ProgressSink } from '../backtest/progress.js';
import type { SourceSpec } from '../backtest/spec.js';
import { formatSummary, summarizeSettings } from '../backtest/summary.js';
import { loadConfig, type HmdConfig } from '../config/config.js';

/** The exit codes of `hmd backtest` (documented in --help and docs/backtest.md). */
export const BACKTEST_EXIT = { OK: 0, UNMET: 1, USAGE: 2, ERROR: 3 } as const;

export interface BacktestArgs {
  files: string[];
  set?: string[];
  concurrency: number;
  state: string;
  force?: boolean;
  data?: string;
  engines?: string;
  config?: string;
  json?: string;
  html?: string;
  output?: 'table' | 'json';
  progress: ProgressMode;
}

export interface BacktestIO {
  out(s: string): void;
  err: ProgressSink;
}

const processIO: BacktestIO = {
  out: (s) => void process.stdout.write(s),
  err: {
    write: (s) => void process.stderr.write(s),
    get isTTY() {
      return process.stderr.isTTY === true;
    },
    get columns() {
      return process.stderr.columns;
    },
  },
};

export const backtestCommand: CommandModule<object, BacktestArgs> = {
  command: 'backtest <files..>',
  describe: 'Replay releases over history: how fast would hmd have reverted incidents, and how often healthy releases?',
  builder: (y: Argv) =>
    y
      .positional('files', { type: 'string', array: true, describe: 'Backtest specs (backtests/*.yaml)' })
      .option('set', {
        type: 'string',
        array: true,
        requiresArg: true,
        describe: 'Override PATH=V1,V2,... in the SLO specs (slo.PATH, slo[NAME].PATH) or the backtest (release.stages[*].bake); several flags span a grid',
      })
      .option('concurrency', { alias: 'j', type: 'number', default: 4, describe: 'Backtests replayed at once' })
      .option('state', { type: 'string', default: '.hmd-backtest', describe: 'Directory keeping finished backtests by content hash (a re-run skips them)' })
      .option('force', { type: 'boolean', describe: 'Re-run backtests even when a finished result is kept' })
      .option('data', { alias: 'd', type: 'string', requiresArg: true, describe: "Read history from here instead of each spec's source: a Parquet directory or s3://bucket/prefix" })
      .option('engines', { type: 'string', requiresArg: true, describe: "Query the engines of this hmd.yaml instead of each spec's source" })
      .option('config', { alias: 'c', type: 'string', requiresArg: true, describe: 'hmd.yaml: limiter (every query runs at batch priority) and query settings' })
      .option('json', { type: 'string', requiresArg: true, describe: 'Write every run, the sweep and the stats as JSON here' })
      .option('html', { type: 'string', requiresArg: true, describe: 'Write a self-contained HTML report with a chart per backtest here' })
      .option('output', { alias: 'o', choices: ['table', 'json'] as const, default: 'table' as const, describe: 'stdout: the summary table, or the JSON' })
      .option('progress', { choices: ['auto', 'bar', 'lines', 'none'] as const, default: 'auto' as const, describe: 'stderr: a bar with an ETA on a terminal, one line per backtest otherwise' })
      .check((a) => {
        if (a['data'] !== undefined && a['engines'] !== undefined) return 'Give either --data or --engines, not both.';
        const c = a['concurrency'] as number;
        if (!Number.isInteger(c) || c < 1) return '--concurrency must be a whole number >= 1.';
        return true;
      })
      .example('$0 backtest backtests/*.yaml --html report.html', 'replay every bundled backtest and write the report')
      .example("$0 backtest backtests/*.yaml --set 'slo[http-5xx-ratio].judgement.comparison.maxRelativeIncrease=0.5,1,2' --set slo.evaluation.failureLimit=0,1,2", 'a 3x3 sweep: detection time and false reverts per setting')
      .epilogue(
        'Exit codes: 0 every expectation held, 1 some did not (a missed or slow revert, a false revert), 2 bad flags, specs or overrides, ' +
          '3 a backtest could not run (unreadable source). Finished backtests are kept in --state and skipped by later runs. See docs/backtest.md.',
      ) as unknown as Argv<BacktestArgs>,
  handler: async (args) => {
    process.exitCode = await runBacktest(args);
  },
};

/** Runs `hmd backtest`; returns its exit code. */
export async function runBacktest(args: BacktestArgs, io: BacktestIO = processIO): Promise<number> {
  const usage = (msg: string): number => {
    io.err.write(`hmd backtest: ${msg}\n`);
    return BACKTEST_EXIT.USAGE;
  };
  let sets: SetFlag[];
  let config: HmdConfig | undefined;
  let source: SourceSpec | undefined;
  try {
    sets = (args.set ?? []).map(parseSetFlag);
    config = args.config !== undefined ? loadConfig(args.config) : undefined;
    if (args.data !== undefined) source = { kind: 'data', location: args.data };
    if (args.engines !== undefined) source = { kind: 'engines', config: args.engines };
  } catch (err) {
    return usage((err as Error).message);
  }
  const progress = progressReporter(io.err, args.progress);
  let result: BatchResult;
  try {
    result = await runBatch({
      files: args.files,
      sets,
      concurrency: args.concurrency,
      stateDir: args.state,
      ...(args.force ? { force: true } : {}),
      ...(source ? { source } : {}),
      ...(config ? { config } : {}),
      onEvent: progress.onEvent,
    });
  } catch (err) {
    // Specs are all read before anything runs: what fails here is a spec, a flag or an override.
    return usage((err as Error).message);
  } finally {
    progress.end();
  }
  const json = { runs: result.runs, settings: summarizeSettings(result.runs), stats: result.stats };
  try {
    if (args.json) writeFileSync(args.json, JSON.stringify(json, null, 2) + '\n');
    if (args.html) writeFileSync(args.html, renderHtmlReport(result));
  } catch (err) {
    io.err.write(`hmd backtest: cannot write the report: ${(err as Error).message}\n`);
    return BACKTEST_EXIT.ERROR;
  }
  io.out(args.output === 'json' ? JSON.stringify(json, null, 2) + '\n' : formatSummary(result.runs) + statsLine(result));
  if (result.runs.some((r) => r.status === 'error')) return BACKTEST_EXIT.ERROR;
  return result.runs.every((r) => r.status === 'ok') ? BACKTEST_EXIT.OK : BACKTEST_EXIT.UNMET;
}

function statsLine(r: BatchResult): string {
  const s = r.stats;
  const mb = (s.bytesRead / 1e6).toFixed(1);
  return `\n${s.backtests} backtest(s), ${s.cached} kept, ${s.evaluations} evaluation(s); ${s.queriesAsked} queries asked, ${s.queriesSent} sent; ${mb} MB read; ${(s.wallMs / 1000).toFixed(1)}s\n`;
}
