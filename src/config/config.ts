/**
 * hmd.yaml: the engines hmd fans queries out to, and query defaults. Every error names the
 * file, line and column of the offending value and says what to write instead; unknown keys
 * are errors, so that a typo never silently falls back to a default.
 */

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { ConfigError, rfc3339Ms, YamlReader, type NumberKind } from './yaml.js';
import { parseModelDuration } from '../util/duration.js';
import { parseListen } from '../server/http.js';
import type { ClassOptions, LimiterConfig } from '../limiter/limiter.js';
import type { RetryOptions } from '../limiter/retry.js';
import type { WindowOptions } from '../limiter/window.js';

/** A time bound: ms since the epoch, or an offset from "now" (negative ms, e.g. -15d). */
export type TimeBound = { kind: 'absolute'; ms: number } | { kind: 'relative'; offsetMs: number };

/** One remote engine. */
export interface EngineConfig {
  name: string;
  url: string;
  /** External labels the engine owns (its partition), e.g. {datacenter: 'dc1'}. */
  labels: Record<string, string>;
  minTime?: TimeBound;
  maxTime?: TimeBound;
  headers?: Record<string, string>;
  bearerToken?: string;
  timeoutMs?: number;
  connections?: number;
}

export interface QueryConfig {
  partialResponse: boolean;
  lookbackDeltaMs?: number;
  timeoutMs?: number;
}

/** The proxy's client rules and default priority. */
export interface ProxyConfig {
  defaultPriority?: 'interactive' | 'batch';
  clients: { address?: string; userAgent?: string; priority: 'interactive' | 'batch' }[];
}

/** A hook as hmd.yaml declares it (src/daemon/hooks.ts carries it out). */
export interface HookConfig {
  name: string;
  webhook?: { url: string; headers?: Record<string, string>; timeoutMs?: number; retries?: number; backoffMs?: number };
  command?: { argv: string[]; env?: Record<string, string>; timeoutMs?: number; retries?: number; backoffMs?: number; cwd?: string };
}

/** The rollout daemon's settings. */
export interface DaemonConfig {
  /** host:port to listen on (default 127.0.0.1:9797). */
  listen: string;
  /** SQLite file (default hmd-daemon.db beside the config). */
  db: string;
  /** Clients allowed to change rollouts; their tokens come from the environment. */
  tokens: { name: string; token: string }[];
  protectReads: boolean;
  hooks: HookConfig[];
  defaultHooks: { promote?: string; revert?: string };
  /** Largest request body, bytes (default 1 MiB). */
  maxBodyBytes: number;
  /** Evaluations missed while down are taken up to this far back (default 1h). */
  catchUpMs: number;
  /** Evaluations at once (default 8). */
  concurrency: number;
}

export interface HmdConfig {
  file: string;
  engines: EngineConfig[];
  query: QueryConfig;
  /** Limiter options as given (the rest are the limiter's defaults). */
  limiter: LimiterConfig;
  proxy: ProxyConfig;
  daemon: DaemonConfig;
}

export { ConfigError };

export const ENGINE_KEYS = ['name', 'url', 'labels', 'minTime', 'maxTime', 'headers', 'bearerToken', 'bearerTokenFile', 'timeout', 'connections'] as const;
export const QUERY_KEYS = ['partialResponse', 'lookbackDelta', 'timeout'] as const;
export const TOP_KEYS = ['engines', 'query', 'limiter', 'proxy', 'daemon'] as const;
export const DAEMON_KEYS = ['listen', 'db', 'tokens', 'protectReads', 'hooks', 'defaultHooks', 'maxBodyBytes', 'catchUp', 'concurrency'] as const;
export const DAEMON_TOKEN_KEYS = ['name', 'token'] as const;
export const HOOK_KEYS = ['name', 'webhook', 'command'] as const;
export const WEBHOOK_KEYS = ['url', 'headers', 'timeout', 'retries', 'backoff'] as const;
export const COMMAND_KEYS = ['argv', 'env', 'timeout', 'retries', 'backoff', 'cwd'] as const;

/** The daemon's defaults, for a config without a daemon section. */
export const DAEMON_DEFAULTS = { listen: '127.0.0.1:9797', db: 'hmd-daemon.db', maxBodyBytes: 1 << 20, catchUpMs: 60 * 60_000, concurrency: 8 } as const;

type Kind = NumberKind | 'duration';
/** hmd.yaml's limiter keys: the option each sets, and how its value is read. */
export const LIMITER_WINDOW_KEYS: Record<string, [keyof WindowOptions, Kind]> = {
  initial: ['initialLimit', 'int'],
  min: ['minLimit', 'int'],
  max: ['maxLimit', 'int'],
  failureWindow: ['failureWindowMs', 'duration'],
  minSamples: ['minSamples', 'int'],
  warnFailureRate: ['warnFailureRate', 'share'],
  emergencyFailureRate: ['emergencyFailureRate', 'share'],
  latencyTarget: ['latencyTargetMs', 'duration'],
  latencyBackoff: ['latencyBackoff', 'share'],
  decreaseInterval: ['decreaseIntervalMs', 'duration'],
};
export const LIMITER_CLASS_KEYS: Record<string, [keyof ClassOptions, Kind]> = {
  minShare: ['minShare', 'share'],
  maxShare: ['maxShare', 'share'],
  maxQueue: ['maxQueue', 'int'],
  maxWait: ['maxWaitMs', 'duration'],
  jitter: ['jitterMs', 'duration'],
};
export const LIMITER_RETRY_KEYS: Record<string, [keyof RetryOptions, Kind]> = {
  maxRetries: ['maxRetries', 'int'],
  baseDelay: ['baseDelayMs', 'duration'],
  maxDelay: ['maxDelayMs', 'duration'],
  budgetRatio: ['budgetRatio', 'number'],
  minRetriesPerSec: ['minRetriesPerSec', 'number'],
  budgetWindow: ['budgetWindowMs', 'duration'],
};
export const LIMITER_KEYS = ['window', 'minRatePerSec', 'classes', 'retry'] as const;
export const PROXY_KEYS = ['defaultPriority', 'clients'] as const;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const ENGINE_NAME = /^[A-Za-z0-9_.-]+$/;

/** Reads and validates a config file. */
export function loadConfig(path: string, env: Record<string, string | undefined> = process.env): HmdConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check the path given to --config/--engines`, path);
  }
  return parseConfig(text, path, env);
}

/** Resolves a bound to ms: absolute as is, relative from `nowMs`, absent as `fallback`. */
export function resolveTimeBound(b: TimeBound | undefined, nowMs: number, fallback: number): number {
  if (!b) return fallback;
  return b.kind === 'absolute' ? b.ms : nowMs + b.offsetMs;
}

/** Parses and validates config text; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string, env: Record<string, string | undefined> = process.env): HmdConfig {
  const y = new YamlReader(text, file, env, 'start it with `engines:` (see examples/hmd.yaml)');
  const { fail, str, strMap, duration, durationOrZero, num, mapping } = y;
  const root = y.root;
  if (y.roots.length > 1) fail(y.roots[1], 'hmd.yaml holds one document; remove the second (after ---)');
  if (!isMap(root)) fail(root, 'expected a mapping with `engines:` (and optionally `query:`) at the top level');
  const top = mapping(root, 'the top level', TOP_KEYS);

  const timeBound = (n: Node | undefined, what: string): TimeBound => {
    const s = str(n, what, 'write -15d for 15 days before now, or an RFC3339 time').trim();
    if (s.startsWith('-')) {
      const d = parseModelDuration(s.slice(1));
      if (d === undefined) fail(n, `${what}: ${JSON.stringify(s)} is neither a duration before now (-15d) nor an RFC3339 time`);
      return { kind: 'relative', offsetMs: -d! };
    }
    const ms = rfc3339Ms(s);
    if (ms === undefined) fail(n, `${what}: ${JSON.stringify(s)} is neither a duration before now (-15d) nor an RFC3339 time (2025-06-01T00:00:00Z)`);
    return { kind: 'absolute', ms: ms! };
  };

  // Engines are optional here (hmd proxy needs none); commands that fan out require them.
  const enginesNode = top.get('engines');
  if (enginesNode && (!isSeq(enginesNode) || enginesNode.items.length === 0)) fail(enginesNode, '`engines` must be a non-empty list of engines');
  const engines: EngineConfig[] = [];
  const nodes: Node[] = [];
  for (const item of enginesNode ? (enginesNode as { items: Node[] }).items : []) {
    const m = mapping(item, 'an engine', ENGINE_KEYS);
    const at = `engine ${engines.length + 1}`;
    const nameNode = m.get('name');
    if (!nameNode) fail(item, `${at}: missing \`name\``);
    const name = str(nameNode, `${at}.name`);
    if (!ENGINE_NAME.test(name)) fail(nameNode, `engine name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-'`);
    if (engines.some((e) => e.name === name)) fail(nameNode, `engine name ${JSON.stringify(name)} is used twice; names must be unique`);
    const urlNode = m.get('url');
    if (!urlNode) fail(item, `engine ${name}: missing \`url\` (e.g. http://prometheus-dc1:9090)`);
    const url = str(urlNode, `engine ${name}.url`);
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      fail(urlNode, `engine ${name}: url ${JSON.stringify(url)} is not a URL (e.g. http://prometheus-dc1:9090)`);
    }
    if (parsed!.protocol !== 'http:' && parsed!.protocol !== 'https:') fail(urlNode, `engine ${name}: url must be http:// or https://`);
    if (parsed!.search || parsed!.hash) fail(urlNode, `engine ${name}: url must be a base URL without ?query or #fragment`);
    const labels = m.has('labels')
      ? strMap(m.get('labels'), `engine ${name}.labels`, (k, kn) => {
          if (!LABEL_NAME.test(k) || k.startsWith('__')) fail(kn, `engine ${name}: ${JSON.stringify(k)} is not a valid external label name`);
        })
      : {};
    const e: EngineConfig = { name, url: url.replace(/\/+$/, ''), labels };
    if (m.has('minTime')) e.minTime = timeBound(m.get('minTime'), `engine ${name}.minTime`);
    if (m.has('maxTime')) e.maxTime = timeBound(m.get('maxTime'), `engine ${name}.maxTime`);
    // Two bounds of the same kind compare without a clock; mixed kinds depend on "now".
    const min = e.minTime, max = e.maxTime;
    const empty = min && max && min.kind === max.kind && (min.kind === 'absolute' ? min.ms >= (max as { ms: number }).ms : min.offsetMs >= (max as { offsetMs: number }).offsetMs);
    if (empty) fail(m.get('maxTime'), `engine ${name}: maxTime must be after minTime (the range is empty); swap them if they are reversed`);
    if (m.has('headers')) e.headers = strMap(m.get('headers'), `engine ${name}.headers`);
    if (m.has('bearerToken') && m.has('bearerTokenFile')) fail(m.get('bearerTokenFile'), `engine ${name}: give bearerToken or bearerTokenFile, not both`);
    if (m.has('bearerToken')) e.bearerToken = str(m.get('bearerToken'), `engine ${name}.bearerToken`);
    if (m.has('bearerTokenFile')) {
      const p = resolve(dirname(file), str(m.get('bearerTokenFile'), `engine ${name}.bearerTokenFile`));
      try {
        e.bearerToken = readFileSync(p, 'utf8').trim();
      } catch (err) {
        fail(m.get('bearerTokenFile'), `engine ${name}: cannot read bearerTokenFile ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    if (e.bearerToken !== undefined && e.headers && Object.keys(e.headers).some((h) => h.toLowerCase() === 'authorization')) {
      fail(m.get('headers'), `engine ${name}: an Authorization header and a bearer token conflict; keep one`);
    }
    if (m.has('timeout')) e.timeoutMs = duration(m.get('timeout'), `engine ${name}.timeout`);
    if (m.has('connections')) {
      const n = m.get('connections');
      if (!isScalar(n) || typeof n.value !== 'number' || !Number.isInteger(n.value) || n.value <= 0) fail(n, `engine ${name}.connections: expected a positive integer`);
      e.connections = (n as { value: number }).value;
    }
    engines.push(e);
    nodes.push(item);
  }

  if (engines.length > 1) {
    const names = (e: EngineConfig) => Object.keys(e.labels).sort().join(',');
    for (let i = 0; i < engines.length; i++) {
      const e = engines[i]!;
      if (Object.keys(e.labels).length === 0) fail(nodes[i], `engine ${e.name}: with several engines, each must declare the external labels it owns (e.g. labels: {datacenter: dc1})`);
      if (names(e) !== names(engines[0]!)) {
        fail(nodes[i], `engine ${e.name}: declares labels {${names(e)}} but ${engines[0]!.name} declares {${names(engines[0]!)}}; every engine must declare the same label names`);
      }
      for (let j = 0; j < i; j++) {
        const o = engines[j]!;
        const same = Object.entries(e.labels).every(([k, v]) => o.labels[k] === v);
        const bounded = (x: EngineConfig) => x.minTime !== undefined || x.maxTime !== undefined;
        if (same && !(bounded(e) && bounded(o))) {
          const set = Object.entries(e.labels).map(([k, v]) => `${k}: ${v}`).join(', ');
          fail(nodes[i], `engines ${o.name} and ${e.name} own the same labels {${set}} and the same time range; give each a minTime/maxTime (one datacenter's history split by time), or different labels`);
        }
      }
    }
  }

  const query: QueryConfig = { partialResponse: false };
  const qn = top.get('query');
  if (qn) {
    const q = mapping(qn, 'query', QUERY_KEYS);
    if (q.has('partialResponse')) {
      query.partialResponse = y.bool(q.get('partialResponse'), 'query.partialResponse');
    }
    if (q.has('lookbackDelta')) query.lookbackDeltaMs = duration(q.get('lookbackDelta'), 'query.lookbackDelta');
    if (q.has('timeout')) query.timeoutMs = duration(q.get('timeout'), 'query.timeout');
  }
  const limiter: LimiterConfig = {};
  const ln = top.get('limiter');
  if (ln) {
    const l = mapping(ln, 'limiter', LIMITER_KEYS);
    const section = <K extends string>(n: Node | undefined, what: string, keys: Record<string, [K, Kind]>): Partial<Record<K, number>> => {
      const m = mapping(n as Node, what, Object.keys(keys));
      const out: Partial<Record<K, number>> = {};
      for (const [k, node] of m) {
        const [opt, kind] = keys[k]!;
        out[opt] = kind === 'duration' ? durationOrZero(node, `${what}.${k}`) : num(node, `${what}.${k}`, kind);
      }
      return out;
    };
    if (l.has('window')) limiter.window = section(l.get('window'), 'limiter.window', LIMITER_WINDOW_KEYS);
    if (l.has('retry')) limiter.retry = section(l.get('retry'), 'limiter.retry', LIMITER_RETRY_KEYS);
    if (l.has('minRatePerSec')) {
      limiter.minRatePerSec = num(l.get('minRatePerSec')!, 'limiter.minRatePerSec', 'number');
      if (!(limiter.minRatePerSec > 0)) fail(l.get('minRatePerSec'), 'limiter.minRatePerSec: must be above 0 (traffic never stops entirely)');
    }
    if (l.has('classes')) {
      const c = mapping(l.get('classes')!, 'limiter.classes', ['interactive', 'batch']);
      limiter.classes = {};
      for (const [k, node] of c) limiter.classes[k as 'interactive' | 'batch'] = section(node, `limiter.classes.${k}`, LIMITER_CLASS_KEYS);
    }
  }
  const proxy: ProxyConfig = { clients: [] };
  const pn = top.get('proxy');
  if (pn) {
    const pm = mapping(pn, 'proxy', PROXY_KEYS);
    const priority = (n: Node | undefined, what: string): 'interactive' | 'batch' => {
      const v = str(n, what);
      if (v !== 'interactive' && v !== 'batch') fail(n, `${what}: ${JSON.stringify(v)} is not a priority; use interactive or batch`);
      return v as 'interactive' | 'batch';
    };
    if (pm.has('defaultPriority')) proxy.defaultPriority = priority(pm.get('defaultPriority'), 'proxy.defaultPriority');
    if (pm.has('clients')) {
      const cn = pm.get('clients');
      if (!isSeq(cn)) fail(cn, 'proxy.clients: expected a list of {address, userAgent, priority}');
      for (const item of (cn as { items: Node[] }).items) {
        const m = mapping(item, 'a proxy client', ['address', 'userAgent', 'priority']);
        if (!m.has('priority')) fail(item, 'proxy client: missing `priority`');
        const rule: ProxyConfig['clients'][number] = { priority: priority(m.get('priority'), 'proxy client priority') };
        if (m.has('address')) rule.address = str(m.get('address'), 'proxy client address');
        if (m.has('userAgent')) {
          rule.userAgent = str(m.get('userAgent'), 'proxy client userAgent');
          try {
            new RegExp(rule.userAgent);
          } catch (err) {
            fail(m.get('userAgent'), `proxy client userAgent: ${(err as Error).message}`);
          }
        }
        proxy.clients.push(rule);
      }
    }
  }
  const daemon = parseDaemon(y, top.get('daemon'), file);
  return { file, engines, query, limiter, proxy, daemon };
}

/** hmd.yaml's daemon section (every key optional). */
function parseDaemon(y: YamlReader, n: Node | undefined, file: string): DaemonConfig {
  const { fail, str, mapping, duration, num, need } = y;
  const d: DaemonConfig = {
    listen: DAEMON_DEFAULTS.listen,
    db: resolve(dirname(file), DAEMON_DEFAULTS.db),
    tokens: [],
    protectReads: false,
    hooks: [],
    defaultHooks: {},
    maxBodyBytes: DAEMON_DEFAULTS.maxBodyBytes,
    catchUpMs: DAEMON_DEFAULTS.catchUpMs,
    concurrency: DAEMON_DEFAULTS.concurrency,
  };
  // `daemon:` with nothing under it (every key commented out) is the defaults.
  if (!n || (isScalar(n) && n.value === null)) return d;
  const m = mapping(n, 'daemon', DAEMON_KEYS);
  if (m.has('listen')) {
    d.listen = str(m.get('listen'), 'daemon.listen');
    if (!parseListen(d.listen)) fail(m.get('listen'), `daemon.listen: ${JSON.stringify(d.listen)} is not host:port (e.g. 127.0.0.1:9797, [::1]:9797, or :9797 for every interface)`);
  }
  if (m.has('db')) d.db = resolve(dirname(file), str(m.get('db'), 'daemon.db'));
  if (m.has('protectReads')) d.protectReads = y.bool(m.get('protectReads'), 'daemon.protectReads');
  if (m.has('maxBodyBytes')) {
    d.maxBodyBytes = num(m.get('maxBodyBytes'), 'daemon.maxBodyBytes', 'int');
    if (d.maxBodyBytes < 1024) fail(m.get('maxBodyBytes'), 'daemon.maxBodyBytes: at least 1024 (a rollout with its SLOs is a few KiB)');
  }
  if (m.has('catchUp')) d.catchUpMs = duration(m.get('catchUp'), 'daemon.catchUp');
  if (m.has('concurrency')) {
    d.concurrency = num(m.get('concurrency'), 'daemon.concurrency', 'int');
    if (d.concurrency < 1) fail(m.get('concurrency'), 'daemon.concurrency: at least 1');
  }
  if (m.has('tokens')) {
    for (const [i, item] of y.list(m.get('tokens'), 'daemon.tokens').entries()) {
      const what = `daemon.tokens[${i}]`;
      const t = mapping(item, what, DAEMON_TOKEN_KEYS);
      const name = str(need(t, 'name', item, what), `${what}.name`);
      if (d.tokens.some((x) => x.name === name)) fail(t.get('name'), `${what}.name: ${JSON.stringify(name)} is used twice`);
      const token = str(need(t, 'token', item, what), `${what}.token`, 'write token: "${HMD_TOKEN}" to read it from the environment');
      // A token written into the file would sit in version control: it must come from the environment.
      const raw = (t.get('token') as unknown as { value?: unknown }).value;
      if (typeof raw !== 'string' || !/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(raw.trim())) fail(t.get('token'), `${what}.token: write the token as \${VARIABLE} alone (from the environment), not in the file`);
      if (token.length < 16) fail(t.get('token'), `${what}.token: the token is ${token.length} characters; use at least 16 (e.g. openssl rand -hex 32)`);
      const same = d.tokens.find((x) => x.token === token);
      if (same) fail(t.get('token'), `${what}.token: the same token as ${same.name}'s; give each client its own, so that the audit trail tells them apart`);
      d.tokens.push({ name, token });
    }
  }
  if (m.has('hooks')) {
    for (const [i, item] of y.list(m.get('hooks'), 'daemon.hooks').entries()) d.hooks.push(parseHook(y, item, `daemon.hooks[${i}]`, d.hooks));
  }
  if (m.has('defaultHooks')) {
    const h = mapping(m.get('defaultHooks'), 'daemon.defaultHooks', ['promote', 'revert']);
    for (const k of ['promote', 'revert'] as const) {
      if (!h.has(k)) continue;
      const name = str(h.get(k), `daemon.defaultHooks.${k}`);
      if (!d.hooks.some((x) => x.name === name)) fail(h.get(k), `daemon.defaultHooks.${k}: no hook named ${JSON.stringify(name)} in daemon.hooks`);
      d.defaultHooks[k] = name;
    }
  }
  return d;
}

/** One hook: a webhook or a command. */
function parseHook(y: YamlReader, item: Node, what: string, earlier: readonly HookConfig[]): HookConfig {
  const { fail, str, mapping, duration, num, need, strMap } = y;
  const h = mapping(item, what, HOOK_KEYS);
  const name = str(need(h, 'name', item, what), `${what}.name`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) fail(h.get('name'), `${what}.name ${JSON.stringify(name)}: use letters, digits, '-', '_' and '.'`);
  if (earlier.some((x) => x.name === name)) fail(h.get('name'), `${what}.name: ${JSON.stringify(name)} is used twice`);
  if (h.has('webhook') === h.has('command')) fail(item, `${what}: give either \`webhook\` (an HTTP endpoint) or \`command\` (a program to run)`);
  const common = (m: Map<string, Node>, w: string) => ({
    ...(m.has('timeout') ? { timeoutMs: duration(m.get('timeout'), `${w}.timeout`) } : {}),
    ...(m.has('retries') ? { retries: num(m.get('retries'), `${w}.retries`, 'int') } : {}),
    ...(m.has('backoff') ? { backoffMs: duration(m.get('backoff'), `${w}.backoff`) } : {}),
  });
  if (h.has('webhook')) {
    const w = `${what}.webhook`;
    const m = mapping(h.get('webhook'), w, WEBHOOK_KEYS);
    const urlNode = need(m, 'url', h.get('webhook')!, w);
    const url = str(urlNode, `${w}.url`);
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      fail(urlNode, `${w}.url: ${JSON.stringify(url)} is not a URL (e.g. https://deploy.example.com/hooks/hmd)`);
    }
    if (parsed!.protocol !== 'http:' && parsed!.protocol !== 'https:') fail(urlNode, `${w}.url: must be http:// or https://`);
    return { name, webhook: { url, ...(m.has('headers') ? { headers: strMap(m.get('headers'), `${w}.headers`) } : {}), ...common(m, w) } };
  }
  const w = `${what}.command`;
  const m = mapping(h.get('command'), w, COMMAND_KEYS);
  const argv = y.list(need(m, 'argv', h.get('command')!, w), `${w}.argv`).map((x, i) => str(x, `${w}.argv[${i}]`));
  // ./script.sh means beside hmd.yaml, wherever the daemon was started from.
  if (/^\.\.?\//.test(argv[0]!)) argv[0] = resolve(dirname(y.file), argv[0]!);
  return {
    name,
    command: {
      argv,
      ...(m.has('env') ? { env: strMap(m.get('env'), `${w}.env`) } : {}),
      ...(m.has('cwd') ? { cwd: resolve(dirname(y.file), str(m.get('cwd'), `${w}.cwd`)) } : {}),
      ...common(m, w),
    },
  };
}
