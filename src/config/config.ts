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

export interface HmdConfig {
  file: string;
  engines: EngineConfig[];
  query: QueryConfig;
  /** Limiter options as given (the rest are the limiter's defaults). */
  limiter: LimiterConfig;
  proxy: ProxyConfig;
}

export { ConfigError };

export const ENGINE_KEYS = ['name', 'url', 'labels', 'minTime', 'maxTime', 'headers', 'bearerToken', 'bearerTokenFile', 'timeout', 'connections'] as const;
export const QUERY_KEYS = ['partialResponse', 'lookbackDelta', 'timeout'] as const;
export const TOP_KEYS = ['engines', 'query', 'limiter', 'proxy'] as const;

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
  return { file, engines, query, limiter, proxy };
}
