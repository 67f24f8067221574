/** The `hmd` command line: one sub-command per job. `bin/hmd.js` calls `main`. */

import yargs from 'yargs';
import { promqltestCommand } from './promqltest.js';
import { EXIT, queryCommand } from './query.js';
import { serveCommand } from './serve.js';
import { proxyCommand } from './proxy.js';
import { validateCommand } from './validate.js';
import { gateCommand, GATE_EXIT } from './gate.js';
import { backtestCommand } from './backtest.js';
import { importCommand } from './import.js';
import { fixturesCommand } from './fixtures.js';
import { daemonCommand } from './daemon.js';
import { rolloutCommand, ROLLOUT_EXIT } from './rollout.js';
import { packageVersion } from './options.js';

const EPILOGUE = `Exit codes:
  ${EXIT.OK}  success
  ${EXIT.FAILURE}  the query failed (its errorType and message are printed), or tests failed
  ${EXIT.USAGE}  usage error: unknown command or flag, missing or malformed argument
  ${EXIT.SOURCE}  a data source could not be opened or read

hmd gate has its own: 0 continue, 1 revert, 2 pause, 3 error.
hmd backtest: 0 every expectation held, 1 some did not, 2 usage, 3 a backtest could not run.
hmd daemon: 0 stopped, 2 bad flags or config, 3 the source or database cannot be opened.
hmd rollout: 0 done, ${ROLLOUT_EXIT.REFUSED} refused (or, with --wait, reverted), 2 usage, 3 the daemon cannot be reached.
Documentation: docs/cli.md, docs/daemon.md`;

/** A usage error's exit code: 2, except for `hmd gate`, whose 2 means pause (its errors are 3). */
function usageExit(args: string[]): number {
  return args[0] === 'gate' ? GATE_EXIT.ERROR : EXIT.USAGE;
}

/** Thrown from the fail handler so that yargs stops after a usage error. */
class UsageStop extends Error {}

/**
 * Runs the CLI on `args` (without node and the script) and returns the exit code: the
 * command's (which handlers set on process.exitCode), or 2 for a usage error.
 */
export async function main(args: string[]): Promise<number> {
  let usageError = false;
  const cli = yargs(args);
  try {
    await cli
      .scriptName('hmd')
      .usage('$0 <command> [options]\n\nhmd evaluates SLIs written in PromQL over stored data (health-mediated deployment).')
      .command(queryCommand)
      .command(promqltestCommand)
      .command(serveCommand)
      .command(proxyCommand)
      .command(validateCommand)
      .command(gateCommand)
      .command(backtestCommand)
      .command(importCommand)
      .command(fixturesCommand)
      .command(daemonCommand)
      .command(rolloutCommand)
      .demandCommand(1, 'Give a command.')
      .recommendCommands()
      .strict()
      .help()
      .alias('help', 'h')
      .version(packageVersion())
      .epilogue(EPILOGUE)
      .wrap(Math.min(110, cli.terminalWidth()))
      .exitProcess(false)
      // yargs reports validation failures with a message, and a handler's rejection with
      // msg null: only the first kind is a usage error.
      .fail((msg: string | null, err, y) => {
        if ((msg == null && err) || err instanceof UsageStop) throw err;
        usageError = true;
        y.showHelp('error');
        console.error(`\nhmd: ${msg ?? err?.message}`);
        throw new UsageStop(); // stops yargs before it runs the handler
      })
      .parseAsync();
  } catch (err) {
    if (usageError) return usageExit(args);
    // Commands report their own failures; reaching here is a bug in hmd.
    console.error(`hmd: internal error: ${err instanceof Error ? err.stack : String(err)}`);
    return EXIT.FAILURE;
  }
  if (usageError) return usageExit(args);
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
}
