/**
 * `hmd rollout`: the daemon's API from the command line. `create` reads a Rollout file and the
 * SLO specs it names and sends them inline; the rest name a rollout by id.
 */

import { readFileSync } from 'node:fs';
import { request } from 'undici';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../config/yaml.js';
import { loadRollout, rolloutDocument } from '../rollout/spec.js';
import type { RolloutDetail, RolloutSummary } from '../daemon/types.js';
import { ms } from '../util/duration.js';

/** `hmd rollout`'s exit codes. */
export const ROLLOUT_EXIT = { OK: 0, REFUSED: 1, USAGE: 2, UNREACHABLE: 3 } as const;

export interface RolloutArgs {
  action: string;
  target?: string;
  server: string;
  'token-file'?: string;
  state?: string;
  wait?: boolean;
  json?: boolean;
}

/** Where output goes, and the environment the token is read from; injectable for tests. */
export interface RolloutIO {
  out(s: string): void;
  err(s: string): void;
  env: Record<string, string | undefined>;
  sleep(ms: number): Promise<void>;
}

const processIO: RolloutIO = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  env: process.env,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

const ACTIONS = ['create', 'list', 'status', 'pause', 'resume', 'promote', 'abort'] as const;

export const rolloutCommand: CommandModule<object, RolloutArgs> = {
  command: 'rollout <action> [target]',
  describe: 'Create, list, inspect, pause, resume, promote or abort rollouts on a running hmd daemon',
  builder: (y: Argv) =>
    y
      .positional('action', { choices: ACTIONS, describe: 'create FILE | list | status ID | pause ID | resume ID | promote ID | abort ID' })
      .positional('target', { type: 'string', describe: 'The Rollout file (create) or the rollout id (r-12)' })
      .option('server', { type: 'string', requiresArg: true, default: process.env['HMD_SERVER'] ?? 'http://127.0.0.1:9797', describe: 'The daemon\'s URL (or HMD_SERVER)' })
      .option('token-file', { type: 'string', requiresArg: true, describe: 'Read the bearer token from this file [default: the HMD_TOKEN environment variable]' })
      .option('state', { type: 'string', requiresArg: true, describe: 'list: only rollouts in these states (comma-separated, e.g. running,paused)' })
      .option('wait', { type: 'boolean', describe: 'create, resume, promote, abort: wait until the rollout finishes; exit 0 completed, 1 reverted or aborted' })
      .option('json', { type: 'boolean', describe: 'Print the daemon\'s JSON answer' })
      .check((a) => {
        const needsTarget = a['action'] !== 'list';
        if (needsTarget && (a['target'] === undefined || a['target'] === '')) return a['action'] === 'create' ? 'create needs the Rollout file: hmd rollout create rollout.yaml' : `${String(a['action'])} needs a rollout id, e.g. hmd rollout ${String(a['action'])} r-12`;
        if (!needsTarget && a['target'] !== undefined) return 'list takes no id (use --state to filter).';
        if (a['wait'] && !['create', 'promote', 'abort', 'resume'].includes(String(a['action']))) return '--wait goes with create, resume, promote or abort.';
        return true;
      })
      .example('HMD_TOKEN=... $0 rollout create examples/rollout.yaml --wait', 'start a rollout and wait for its end (for a pipeline step)')
      .example('$0 rollout list --state running,paused', 'what is in flight')
      .example('$0 rollout status r-12', 'stages, the last evaluation, actions')
      .example('HMD_TOKEN=... $0 rollout abort r-12', 'revert now')
      .epilogue('Exit codes: 0 done (with --wait: completed), 1 refused by the daemon (unknown id, a request the state does not allow, a bad rollout) or, with --wait, reverted or aborted, 2 usage, 3 the daemon cannot be reached or failed. See docs/daemon.md.') as unknown as Argv<RolloutArgs>,
  handler: async (args) => {
    process.exitCode = await runRollout(args);
  },
};

/** Thrown for a failure that maps to an exit code, with the message to print. */
class Exit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Runs one `hmd rollout` action; returns the exit code. */
export async function runRollout(args: RolloutArgs, io: RolloutIO = processIO): Promise<number> {
  try {
    return await run(args, io);
  } catch (err) {
    if (err instanceof Exit) {
      io.err(`hmd rollout ${args.action}: ${err.message}\n`);
      return err.code;
    }
    throw err;
  }
}

async function run(args: RolloutArgs, io: RolloutIO): Promise<number> {
  let base: URL;
  try {
    base = new URL(args.server);
  } catch {
    throw new Exit(ROLLOUT_EXIT.USAGE, `--server ${JSON.stringify(args.server)} is not a URL (e.g. http://127.0.0.1:9797)`);
  }
  const token = () => {
    if (args['token-file'] !== undefined) {
      try {
        return readFileSync(args['token-file'], 'utf8').trim();
      } catch (e) {
        throw new Exit(ROLLOUT_EXIT.USAGE, `cannot read --token-file ${args['token-file']}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const t = io.env['HMD_TOKEN'];
    if (!t) throw new Exit(ROLLOUT_EXIT.USAGE, 'changing a rollout needs a token: set HMD_TOKEN or give --token-file');
    return t;
  };
  const call = (method: 'GET' | 'POST', path: string, body?: object, auth = method === 'POST') => api(base, method, path, body, auth ? token() : io.env['HMD_TOKEN']);

  switch (args.action) {
    case 'create': {
      let doc: object;
      try {
        doc = rolloutDocument(loadRollout(args.target!, io.env));
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        throw new Exit(ROLLOUT_EXIT.USAGE, e.message);
      }
      const d = (await call('POST', '/api/v1/rollouts', doc)) as RolloutDetail;
      if (args.json && !args.wait) io.out(JSON.stringify(d, null, 2) + '\n');
      else io.out(`created ${d.id}: ${d.name}${d.version ? ` ${d.version}` : ''}, ${d.stages.length} stages; ${new URL(base.pathname.replace(/\/+$/, '') + `/rollouts/${d.id}`, base).href}\n`);
      return args.wait ? wait(call, d.id, args, io) : ROLLOUT_EXIT.OK;
    }
    case 'list': {
      const q = args.state ? `?state=${encodeURIComponent(args.state)}` : '';
      const list = (await call('GET', `/api/v1/rollouts${q}`)) as RolloutSummary[];
      io.out(args.json ? JSON.stringify(list, null, 2) + '\n' : listTable(list));
      return ROLLOUT_EXIT.OK;
    }
    case 'status': {
      const d = (await call('GET', `/api/v1/rollouts/${encodeURIComponent(args.target!)}`)) as RolloutDetail;
      io.out(args.json ? JSON.stringify(d, null, 2) + '\n' : statusText(d));
      return ROLLOUT_EXIT.OK;
    }
    default: {
      const s = (await call('POST', `/api/v1/rollouts/${encodeURIComponent(args.target!)}/${args.action}`)) as RolloutSummary;
      io.out(args.json && !args.wait ? JSON.stringify(s, null, 2) + '\n' : `${s.id}: ${s.state} at stage ${s.stage.name}: ${s.reason}\n`);
      return args.wait ? wait(call, s.id, args, io) : ROLLOUT_EXIT.OK;
    }
  }
}

type Call = (method: 'GET' | 'POST', path: string) => Promise<unknown>;

/** Polls until the rollout finishes; 0 completed, 1 reverted or aborted. */
async function wait(call: Call, id: string, args: RolloutArgs, io: RolloutIO): Promise<number> {
  let last = '';
  for (;;) {
    const d = (await call('GET', `/api/v1/rollouts/${id}`)) as RolloutDetail;
    const line = `${d.state} at stage ${d.stage.name}: ${d.reason}`;
    if (line !== last && !args.json) io.err(`${id}: ${line}\n`);
    last = line;
    if (d.state === 'completed' || d.state === 'reverted' || d.state === 'aborted') {
      if (args.json) io.out(JSON.stringify(d, null, 2) + '\n');
      return d.state === 'completed' ? ROLLOUT_EXIT.OK : ROLLOUT_EXIT.REFUSED;
    }
    await io.sleep(2000);
  }
}

/** One request to the daemon; the `data` of a success, or an Exit with the daemon's error. */
async function api(base: URL, method: 'GET' | 'POST', path: string, body: object | undefined, token: string | undefined): Promise<unknown> {
  // Under the server's own path, if it has one (a daemon behind a proxy at /hmd/).
  const url = new URL(base.pathname.replace(/\/+$/, '') + path, base);
  let res;
  try {
    res = await request(url, {
      method,
      headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Exit(ROLLOUT_EXIT.UNREACHABLE, `cannot reach the daemon at ${base.origin}: ${code === 'ECONNREFUSED' ? 'connection refused (is hmd daemon running? see --server)' : (e as Error).message}`);
  }
  const text = await res.body.text();
  let parsed: { status?: string; data?: unknown; error?: string; errorType?: string } | undefined;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  if (res.statusCode >= 200 && res.statusCode < 300 && parsed?.status === 'success') return parsed.data;
  const msg = parsed?.error ?? `HTTP ${res.statusCode}: ${text.slice(0, 200)}`;
  // The daemon refused (a client's mistake or a state that does not allow it) or failed.
  throw new Exit(res.statusCode >= 500 || parsed === undefined ? ROLLOUT_EXIT.UNREACHABLE : res.statusCode === 401 || res.statusCode === 403 ? ROLLOUT_EXIT.USAGE : ROLLOUT_EXIT.REFUSED, msg);
}

const iso = (t: string | number) => new Date(t).toISOString().replace('.000Z', 'Z');

/** Rows of columns, padded. */
function table(rows: readonly (readonly string[])[]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')).join('\n') + '\n';
}

function listTable(list: readonly RolloutSummary[]): string {
  if (list.length === 0) return 'no rollouts\n';
  return table([['ID', 'NAME', 'VERSION', 'STATE', 'STAGE', 'UPDATED', 'REASON'], ...list.map((r) => [r.id, r.name, r.version ?? '', r.state, r.stage.name, iso(r.updatedAt), r.reason])]);
}

function statusText(d: RolloutDetail): string {
  const lines = [`${d.id} ${d.name}${d.version ? ` ${d.version}` : ''}: ${d.state} at stage ${d.stage.name}`, `  ${d.reason}`, ''];
  lines.push(
    table([
      ['STAGE', 'SCOPE', 'BASELINE', 'BAKE', 'STATE', 'STARTED', 'ENDED'],
      ...d.stages.map((s) => [s.name, s.scope, s.baseline ?? '', ms(s.bakeMs), s.state, s.startedAt !== undefined ? iso(s.startedAt) : '', s.endedAt !== undefined ? iso(s.endedAt) : '']),
    ]).trimEnd(),
  );
  const last = d.evaluations[d.evaluations.length - 1];
  lines.push('', last ? `last evaluation ${iso(last.at)}: ${last.verdict} (${d.evaluations.length} in all)` : 'not evaluated yet');
  if (last) for (const r of last.reasons) lines.push(`  ${r}`);
  if (d.actions.length) {
    lines.push('', table([['ACTION', 'STAGE', 'STATE', 'ATTEMPTS', 'KEY', 'ERROR'], ...d.actions.map((a) => [a.kind, d.stages[a.stage]?.name ?? String(a.stage), a.state, String(a.attempts), a.idempotencyKey, a.error ?? ''])]).trimEnd());
  }
  return lines.join('\n') + '\n';
}
