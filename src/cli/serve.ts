/** `hmd serve`: the Prometheus HTTP query API over a data source (src/server/). */

import type { Argv, CommandModule } from 'yargs';
import { PromQLError } from '../promql/errors.js';
import { PrometheusApi } from '../server/api.js';
import { parseListen, startHttpServer, type RunningServer } from '../server/http.js';
import type { Queryable } from '../storage/queryable.js';
import { EXIT, openSource, UnknownSourceError } from './query.js';
import { parseDuration } from './time.js';
import { DATA_OPTION, maxSamplesProblem, packageVersion } from './options.js';

export interface ServeArgs {
  data: string;
  listen: string;
  'lookback-delta': string;
  'max-samples': number;
  timeout: string;
}

/** Where messages go and what stops the server; injectable for tests. */
export interface ServeIO {
  err(s: string): void;
  /** Called once the server listens. */
  onListening?(url: string): void;
  /** Stops the server when aborted (besides SIGTERM and SIGINT). */
  stop?: AbortSignal;
}

const processIO: ServeIO = { err: (s) => void process.stderr.write(s) };

/** How long requests in flight may take to finish on shutdown. */
const SHUTDOWN_GRACE_MS = 10_000;

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'Serve the Prometheus HTTP query API over a data source (for Grafana, promtool, fan-out)',
  builder: (y: Argv) =>
    y
      .option('data', DATA_OPTION)
      .option('listen', {
        requiresArg: true,
        type: 'string',
        default: '127.0.0.1:9090',
        describe: 'Address to listen on: host:port, [ipv6]:port, or :port for every interface',
      })
      .option('lookback-delta', { type: 'string', requiresArg: true, default: '5m', describe: 'Default lookback delta (a request may set lookback_delta)' })
      .option('max-samples', { type: 'number', requiresArg: true, default: 50_000_000, describe: 'Most samples a query may hold in memory at once' })
      .option('timeout', { type: 'string', requiresArg: true, default: '2m', describe: 'Longest a query may run (a request may ask for less)' })
      .group(['lookback-delta', 'max-samples', 'timeout'], 'Engine limits:')
      .check((a) => {
        for (const k of ['data', 'listen', 'lookback-delta', 'timeout', 'max-samples']) {
          if (Array.isArray(a[k])) return `--${k} was given more than once.`;
        }
        const max = maxSamplesProblem(a['max-samples']);
        if (max) return max;
        if (typeof a['listen'] === 'string' && parseListen(a['listen']) === undefined) {
          return `--listen ${JSON.stringify(a['listen'])}: expected host:port, [ipv6]:port or :port (port 0-65535).`;
        }
        for (const k of ['lookback-delta', 'timeout'] as const) {
          const v = a[k];
          let ms: number | undefined;
          try {
            ms = typeof v === 'string' ? parseDuration(v) : undefined;
          } catch {
            ms = undefined;
          }
          if (ms === undefined || !(ms > 0)) return `--${k} ${JSON.stringify(v)}: expected a positive duration (30s, 5m, 1.5).`;
        }
        return true;
      })
      .example('$0 serve -d fixtures/demo.om', 'serve on http://127.0.0.1:9090')
      .example('$0 serve -d fixtures/demo.om --listen :9091', 'serve on every interface, port 9091')
      .epilogue(
        'Endpoints: /api/v1/query, /api/v1/query_range, /api/v1/series, /api/v1/labels, /api/v1/label/<name>/values ' +
          '(GET and form POST), /api/v1/status/buildinfo, /-/healthy, /-/ready. One log line per request goes to stderr; ' +
          'SIGTERM or SIGINT stops the server after the requests in flight. See docs/api.md.\n\n' +
          'Exit codes: 0 stopped by a signal, 1 could not listen, 2 usage error, 3 data source unreadable.',
      ) as unknown as Argv<ServeArgs>,
  handler: async (args) => {
    process.exitCode = await runServe(args);
  },
};


/** Runs `hmd serve` until SIGTERM, SIGINT or `io.stop`; returns the exit code. */
export async function runServe(args: ServeArgs, io: ServeIO = processIO): Promise<number> {
  const listen = parseListen(args.listen);
  if (!listen) {
    io.err(`hmd serve: --listen ${JSON.stringify(args.listen)}: expected host:port, [ipv6]:port or :port\n`);
    return EXIT.USAGE;
  }
  let lookbackDeltaMs: number;
  let timeoutMs: number;
  try {
    lookbackDeltaMs = parseDuration(args['lookback-delta']);
    timeoutMs = parseDuration(args.timeout);
  } catch (err) {
    io.err(`hmd serve: ${(err as Error).message}\n`);
    return EXIT.USAGE;
  }

  let storage: Queryable;
  try {
    storage = await openSource(args.data);
  } catch (err) {
    const e = err instanceof PromQLError ? `${err.errorType}: ${err.message}` : String(err);
    io.err(`hmd serve: ${e}\n`);
    return err instanceof UnknownSourceError ? EXIT.USAGE : EXIT.SOURCE;
  }

  const api = new PrometheusApi({
    storage,
    lookbackDeltaMs,
    maxSamples: args['max-samples'],
    timeoutMs,
    buildInfo: { version: packageVersion(), goVersion: `node ${process.version}` },
  });
  let server: RunningServer;
  try {
    server = await startHttpServer({
      host: listen.host ?? '',
      port: listen.port,
      handler: (r) => api.handle(r),
      log: (line) => io.err(line + '\n'),
    });
  } catch (err) {
    io.err(`hmd serve: cannot listen on ${args.listen}: ${(err as Error).message}\n`);
    await storage.close?.();
    return EXIT.FAILURE;
  }
  io.err(`hmd serve: listening on ${server.url} (data: ${args.data})\n`);
  io.onListening?.(server.url);

  let onTerm: () => void = () => {};
  let onInt: () => void = () => {};
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) {
        io.err(`hmd serve: ${why} again, exiting now\n`);
        process.exit(EXIT.FAILURE);
      }
      stopping = true;
      io.err(`hmd serve: ${why}, stopping (requests in flight get up to ${SHUTDOWN_GRACE_MS / 1000}s)\n`);
      void server.close(SHUTDOWN_GRACE_MS).then(resolve);
    };
    onTerm = () => stop('SIGTERM');
    onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    if (io.stop?.aborted) stop('stop requested');
    else io.stop?.addEventListener('abort', () => stop('stop requested'), { once: true });
  });
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  await storage.close?.();
  io.err('hmd serve: stopped\n');
  return EXIT.OK;
}
