/** `hmd promqltest FILE...`: runs Prometheus PromQL test scripts against hmd's engine. */

import type { CommandModule } from 'yargs';
import { formatCase, formatSummary, runFiles, type CaseResult } from '../promql/promqltest/run.js';

interface PromqltestArgs {
  files: string[];
  verbose: boolean;
  filter: string | undefined;
  json: boolean;
}

export const promqltestCommand: CommandModule<object, PromqltestArgs> = {
  command: 'promqltest <files..>',
  describe: 'Run PromQL test scripts (the Prometheus promqltest language) against the engine',
  builder: (y) =>
    y
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'test script files (*.test)' })
      .option('verbose', { type: 'boolean', default: false, describe: 'also print passing and skipped cases' })
      .option('filter', { type: 'string', describe: 'run only evals whose expression matches this regular expression' })
      .option('json', { type: 'boolean', default: false, describe: 'print a machine-readable JSON summary instead' }),
  handler: async (argv) => {
    let filter: RegExp | undefined;
    if (argv.filter !== undefined) {
      try {
        filter = new RegExp(argv.filter);
      } catch (e) {
        process.stderr.write(`invalid --filter: ${(e as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
    }
    const print = (c: CaseResult): void => {
      if (argv.json) return;
      if (c.status === 'failed' || argv.verbose) process.stdout.write(formatCase(c) + '\n');
    };
    const summary = await runFiles(argv.files, { ...(filter ? { filter } : {}), onCase: print });
    if (argv.json) {
      process.stdout.write(
        JSON.stringify(
          {
            passed: summary.passed,
            failed: summary.failed,
            skipped: summary.skipped,
            files: summary.files,
            cases: summary.cases.filter((c) => argv.verbose || c.status !== 'passed'),
          },
          null,
          2,
        ) + '\n',
      );
    } else {
      process.stdout.write(formatSummary(summary) + '\n');
    }
    process.exitCode = summary.failed > 0 ? 1 : 0;
  },
};
