/**
 * `hmd proxy`: a reverse proxy for the Prometheus query API that puts the adaptive limiter in
 * front of one upstream. Only the query API's paths are forwarded, only to the configured
 * upstream (it is not an open proxy). When the limiter sheds load the client gets 429 with
 * Retry-After at once, never a hung connection. The proxy does not retry: its clients do, and
 * retrying here as well would multiply load exactly when the backend is overloaded.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { Registry } from 'prom-client';
import { AdaptiveLimiter, LimiterRejectedError, PRIORITIES, type LimiterConfig, type Outcome, type Priority } from './limiter.js';
import { limiterMetrics } from './metrics.js';

/** A client whose requests get a priority when they carry no X-HMD-Priority header. */
export interface ClientRule {
  /** Remote address, exact (`10.1.2.3`) or an IPv4 prefix ending in a dot (`10.1.`). */
  address?: string;
  /** A regular expression the User-Agent must match. */
  userAgent?: string;
  priority: Priority;
}

export interface ProxyOptions {
  /** Base URL of the upstream Prometheus API (http or https). */
  upstream: string;
  /** Address to bind (default 127.0.0.1); '' for every interface. */
  host?: string;
  port: number;
  limiter?: LimiterConfig;
  /** Priority of requests no header or rule places (default interactive). */
  defaultPriority?: Priority;
  clients?: ClientRule[];
  /** Upstream request deadline, ms (default 2m). */
  upstreamTimeoutMs?: number;
  /** Largest request body, bytes (default 10 MiB). */
  maxBodyBytes?: number;
  /** Injected limiter (tests); default: one built from `limiter`. */
  limiterInstance?: AdaptiveLimiter;
}

export interface RunningProxy {
  readonly url: string;
  readonly port: number;
  readonly limiter: AdaptiveLimiter;
  readonly registry: Registry;
  /** Requests answered by the proxy itself (shed, refused), by status. */
  readonly refused: Record<number, number>;
  close(): Promise<void>;
}

export const PRIORITY_HEADER = 'x-hmd-priority';

/** The query API paths forwarded upstream. */
const API_PATHS = [
  /^\/api\/v1\/query$/,
  /^\/api\/v1\/query_range$/,
  /^\/api\/v1\/query_exemplars$/,
  /^\/api\/v1\/series$/,
  /^\/api\/v1\/labels$/,
  /^\/api\/v1\/label\/[^/]+\/values$/,
  /^\/api\/v1\/metadata$/,
  /^\/api\/v1\/format_query$/,
  /^\/api\/v1\/status\/buildinfo$/,
];

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

function apiError(res: ServerResponse, status: number, errorType: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ status: 'error', errorType, error: message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** The priority of a request: its header, else the first matching client rule, else the default. */
export function priorityOf(req: IncomingMessage, rules: readonly ClientRule[], fallback: Priority): Priority | { error: string } {
  const h = req.headers[PRIORITY_HEADER];
  if (h !== undefined) {
    const v = (Array.isArray(h) ? h[0] : h)!.trim().toLowerCase();
    if ((PRIORITIES as readonly string[]).includes(v)) return v as Priority;
    return { error: `${PRIORITY_HEADER}: ${JSON.stringify(v)} is not a priority; use one of ${PRIORITIES.join(', ')}` };
  }
  const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const ua = req.headers['user-agent'] ?? '';
  for (const r of rules) {
    if (r.address !== undefined && !(r.address.endsWith('.') ? addr.startsWith(r.address) : addr === r.address)) continue;
    if (r.userAgent !== undefined && !new RegExp(r.userAgent).test(ua)) continue;
    return r.priority;
  }
  return fallback;
}

/** How an upstream status reads to the limiter: 429 and 5xx are overload; 4xx (422: a bad query) neutral. */
function outcomeOf(status: number): Outcome {
  if (status === 429 || status >= 500) return 'overload';
  if (status >= 400) return 'neutral';
  return 'success';
}

/** Starts the proxy; resolves once it listens. */
export async function startProxy(o: ProxyOptions): Promise<RunningProxy> {
  const upstream = new URL(o.upstream);
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') throw new Error(`--upstream must be an http:// or https:// URL, got ${o.upstream}`);
  const prefix = upstream.pathname.replace(/\/+$/, '');
  const pool = new Pool(upstream.origin, { connections: 64, headersTimeout: o.upstreamTimeoutMs ?? 120_000, bodyTimeout: o.upstreamTimeoutMs ?? 120_000 });
  const registry = new Registry();
  const limiter = o.limiterInstance ?? new AdaptiveLimiter(o.limiter ?? {}, { metrics: limiterMetrics(registry) });
  const maxBody = o.maxBodyBytes ?? 10 << 20;
  const refused: Record<number, number> = {};
  const refuse = (res: ServerResponse, status: number, type: string, msg: string, headers?: Record<string, string>) => {
    refused[status] = (refused[status] ?? 0) + 1;
    apiError(res, status, type, msg, headers);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // An absolute-form target (GET http://elsewhere/ ...) is how an open proxy is asked; refuse it.
    if (!req.url || !req.url.startsWith('/')) return refuse(res, 400, 'bad_data', 'hmd proxy only serves paths of its own upstream; absolute URLs are refused');
    const url = new URL(req.url, 'http://proxy.invalid');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    if (url.pathname === '/metrics') {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
      return;
    }
    if (!API_PATHS.some((re) => re.test(url.pathname))) {
      return refuse(res, 404, 'not_found', `hmd proxy forwards only the Prometheus query API (/api/v1/query, /api/v1/query_range, /api/v1/series, ...), not ${url.pathname}`);
    }
    if (req.method !== 'GET' && req.method !== 'POST') return refuse(res, 405, 'bad_data', `method ${req.method} not allowed; use GET or POST`, { allow: 'GET, POST' });
    const pr = priorityOf(req, o.clients ?? [], o.defaultPriority ?? 'interactive');
    if (typeof pr !== 'string') return refuse(res, 400, 'bad_data', pr.error);

    // Read the body before taking a slot: a slow client must not hold the backend's window.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > maxBody) return refuse(res, 413, 'bad_data', `request body larger than ${maxBody} bytes`);
      chunks.push(c as Buffer);
    }

    let permit;
    try {
      permit = await limiter.acquire(pr);
    } catch (err) {
      if (err instanceof LimiterRejectedError) {
        return refuse(res, 429, 'unavailable', err.message, { 'retry-after': String(Math.ceil(err.retryAfterMs / 1000)) });
      }
      throw err;
    }
    let outcome: Outcome = 'overload';
    try {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && k !== PRIORITY_HEADER && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const up = await pool.request({
        method: req.method,
        path: prefix + url.pathname + url.search,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : null,
      });
      outcome = outcomeOf(up.statusCode);
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      res.writeHead(up.statusCode, out);
      for await (const c of up.body) res.write(c);
      res.end();
    } catch (err) {
      if (!res.headersSent) apiError(res, 502, 'unavailable', `upstream ${upstream.origin}: ${(err as Error).message}`);
      else res.destroy();
    } finally {
      permit.release(outcome);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) apiError(res, 500, 'internal', (err as Error).message);
      else res.destroy();
    });
  });
  server.headersTimeout = 60_000;
  server.requestTimeout = 300_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (o.host === '') server.listen(o.port, () => resolve());
    else server.listen(o.port, o.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host === '' ? '127.0.0.1' : (o.host ?? '127.0.0.1');
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    limiter,
    registry,
    refused,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
      await pool.close();
    },
  };
}
