/** `hmd proxy`: the adaptive limiter in front of one Prometheus-compatible query API. */

import type { Argv, CommandModule } from 'yargs';
import { ConfigError, loadConfig, type HmdConfig } from '../config/config.js';
import { startProxy } from '../limiter/proxy.js';
import { EXIT } from './query.js';
import { parseListen } from '../server/http.js';

export interface ProxyArgs {
  upstream: string;
  listen: string;
  config?: string;
  'default-priority'?: 'interactive' | 'batch';
}

export const proxyCommand: CommandModule<object, ProxyArgs> = {
  command: 'proxy',
  describe: 'Reverse proxy for the Prometheus query API that applies the adaptive priority limiter',
  builder: (y: Argv) =>
    y
      .option('upstream', { type: 'string', requiresArg: true, demandOption: true, describe: 'Base URL of the Prometheus-compatible API to protect (the only place requests go)' })
      .option('listen', { type: 'string', requiresArg: true, default: '127.0.0.1:9091', describe: 'Address to listen on: host:port, [ipv6]:port, or :port for every interface' })
      .option('config', { alias: 'c', type: 'string', requiresArg: true, describe: 'hmd.yaml: its `limiter` and `proxy` sections (docs/limiter.md)' })
      .option('default-priority', { choices: ['interactive', 'batch'] as const, describe: 'Priority of requests without X-HMD-Priority or a matching client rule [default: proxy.defaultPriority, else interactive]' })
      .check((a) => {
        for (const k of ['upstream', 'listen', 'config']) if (Array.isArray(a[k])) return `--${k} was given more than once.`;
        if (parseListen(String(a['listen'])) === undefined) return `--listen ${JSON.stringify(a['listen'])}: expected host:port, [ipv6]:port or :port (port 0-65535).`;
        try {
          const u = new URL(String(a['upstream']));
          if (u.protocol !== 'http:' && u.protocol !== 'https:') return '--upstream must be an http:// or https:// URL.';
        } catch {
          return `--upstream ${JSON.stringify(a['upstream'])} is not a URL (e.g. http://prometheus:9090).`;
        }
        return true;
      })
      .example('$0 proxy --upstream http://prometheus:9090 --listen :9091', 'protect a Prometheus; send batch work with X-HMD-Priority: batch')
      .epilogue(
        'Forwards /api/v1/query, query_range, series, labels, label/<name>/values, metadata, query_exemplars, format_query and ' +
          'status/buildinfo (GET and POST) to the upstream only. Priority: the X-HMD-Priority header (interactive or batch), else ' +
          'the first matching proxy.clients rule, else the default. Shed requests get 429 with Retry-After. /metrics (Prometheus ' +
          'text) and /healthz are served by the proxy itself. SIGTERM or SIGINT stops it.\n\n' +
          'Exit codes: 0 stopped by a signal, 1 could not listen, 2 usage error (including an invalid hmd.yaml).',
      ) as unknown as Argv<ProxyArgs>,
  handler: async (args) => {
    process.exitCode = await runProxy(args);
  },
};

/** Runs the proxy until SIGTERM or SIGINT; returns the exit code. */
export async function runProxy(args: ProxyArgs, stop: Promise<void> = signalled()): Promise<number> {
  let config: HmdConfig | undefined;
  try {
    config = args.config !== undefined ? loadConfig(args.config) : undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`hmd proxy: ${err.message}\n`);
    return EXIT.USAGE;
  }
  const listen = parseListen(args.listen)!;
  let proxy;
  try {
    proxy = await startProxy({
      upstream: args.upstream,
      ...(listen.host !== undefined ? { host: listen.host } : { host: '' }),
      port: listen.port,
      limiter: config?.limiter ?? {},
      defaultPriority: args['default-priority'] ?? config?.proxy.defaultPriority ?? 'interactive',
      clients: config?.proxy.clients ?? [],
    });
  } catch (err) {
    process.stderr.write(`hmd proxy: cannot listen on ${args.listen}: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
  process.stderr.write(`hmd proxy: listening on ${proxy.url}, forwarding the query API to ${args.upstream}\n`);
  await stop;
  await proxy.close();
  return EXIT.OK;
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}
