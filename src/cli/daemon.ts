/** `hmd daemon`: the rollout daemon (src/daemon/), until SIGTERM or SIGINT. */

import type { Argv, CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../config/config.js';
import { startDaemon, type RunningDaemon } from '../daemon/daemon.js';
import { parseListen } from '../server/http.js';
import { EXIT } from './query.js';
import { parseTime } from './time.js';

export interface DaemonArgs {
  config: string;
  data?: string;
  listen?: string;
  db?: string;
  'simulate-from'?: string;
  speed?: number;
}

/** How long evaluations and hooks in flight may take to finish on SIGTERM. */
const SHUTDOWN_GRACE_MS = 30_000;

export const daemonCommand: CommandModule<object, DaemonArgs> = {
  command: 'daemon',
  describe: 'Run the rollout daemon: walk releases through their stages, judged by SLOs, promoting and reverting through hooks',
  builder: (y: Argv) =>
    y
      .option('config', { alias: 'c', type: 'string', requiresArg: true, demandOption: true, describe: 'hmd.yaml: the daemon section (listen, db, tokens, hooks) and the engines to query' })
      .option('data', { type: 'string', requiresArg: true, describe: 'Query this store instead of the engines: a Parquet directory, s3://bucket/prefix or an OpenMetrics file' })
      .option('listen', { type: 'string', requiresArg: true, describe: 'host:port to listen on [default: daemon.listen, else 127.0.0.1:9797]' })
      .option('db', { type: 'string', requiresArg: true, describe: 'SQLite file of the daemon\'s state [default: daemon.db, else hmd-daemon.db beside the config]' })
      .option('simulate-from', { type: 'string', requiresArg: true, describe: 'Run on a simulated clock starting at this time (RFC3339): replay a rollout against history' })
      .option('speed', { type: 'number', requiresArg: true, describe: 'How much faster the simulated clock runs than the wall clock (with --simulate-from) [default: 1]' })
      .group(['simulate-from', 'speed'], 'Replaying history:')
      .check((a) => {
        for (const k of ['config', 'data', 'listen', 'db', 'simulate-from', 'speed']) if (Array.isArray(a[k])) return `--${k} was given more than once.`;
        if (typeof a['listen'] === 'string' && !parseListen(a['listen'])) return `--listen ${JSON.stringify(a['listen'])}: expected host:port, [ipv6]:port or :port.`;
        if (a['speed'] !== undefined && a['simulate-from'] === undefined) return '--speed needs --simulate-from.';
        if (a['speed'] !== undefined && !(Number(a['speed']) > 0)) return '--speed must be above 0.';
        return true;
      })
      .example('HMD_CI_TOKEN=... $0 daemon --config hmd.yaml', 'run against the engines of hmd.yaml, on 127.0.0.1:9797')
      .example('$0 daemon -c hmd.yaml --data fixtures/history --simulate-from 2025-06-13T09:00:00Z --speed 60 --db /tmp/replay.db', 'replay a rollout against the bundled history, 60x faster')
      .epilogue(
        'The API (POST needs Authorization: Bearer <token>): /api/v1/rollouts (GET list, POST create), /api/v1/rollouts/<id> (status), ' +
          '/api/v1/rollouts/<id>/pause|resume|promote|abort; status pages at / ; /metrics, /healthz, /readyz. Logs are JSON lines on stdout. ' +
          'SIGTERM or SIGINT stops it gracefully; a kill -9 loses nothing: on restart every rollout resumes where it was. ' +
          'Exit codes: 0 stopped, 2 bad flags or config, 3 the data source or database cannot be opened. See docs/daemon.md.',
      ) as unknown as Argv<DaemonArgs>,
  handler: async (args) => {
    process.exitCode = await runDaemon(args);
  },
};

/** Runs the daemon until SIGTERM or SIGINT; returns the exit code. */
export async function runDaemon(args: DaemonArgs, err: (s: string) => void = (s) => void process.stderr.write(s)): Promise<number> {
  let simulate: { from: number; speed: number } | undefined;
  let config;
  try {
    config = loadConfig(args.config);
    if (args['simulate-from'] !== undefined) simulate = { from: parseTime(args['simulate-from']), speed: args.speed ?? 1 };
  } catch (e) {
    err(`hmd daemon: ${(e as Error).message}\n`);
    return EXIT.USAGE;
  }
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon({ config, ...(args.data !== undefined ? { data: args.data } : {}), ...(args.listen !== undefined ? { listen: args.listen } : {}), ...(args.db !== undefined ? { db: args.db } : {}), ...(simulate ? { simulate } : {}) });
  } catch (e) {
    err(`hmd daemon: ${(e as Error).message}\n`);
    return e instanceof ConfigError ? EXIT.USAGE : EXIT.SOURCE;
  }
  err(`hmd daemon: listening on ${daemon.url} (${daemon.clock.description})\n`);
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  let stop: (why: string) => void = () => {};
  await new Promise<void>((resolve) => {
    let stopping = false;
    stop = (why: string) => {
      if (stopping) {
        err(`hmd daemon: ${why} again, exiting now (pending work resumes at the next start)\n`);
        process.exit(EXIT.FAILURE);
      }
      stopping = true;
      err(`hmd daemon: ${why}, stopping (work in flight gets up to ${SHUTDOWN_GRACE_MS / 1000}s)\n`);
      void daemon.stop(SHUTDOWN_GRACE_MS).then(resolve);
    };
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  err('hmd daemon: stopped\n');
  return EXIT.OK;
}
