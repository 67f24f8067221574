/**
 * The HTTP client for remote Prometheus-compatible engines (Prometheus, Thanos, Mimir/Cortex,
 * VictoriaMetrics, `hmd serve`): `/api/v1/query`, `/api/v1/query_range` and `/api/v1/series`.
 *
 * - one undici `Pool` (keep-alive) per engine; form bodies by POST, as Prometheus's own clients
 *   send them (times in seconds with millisecond precision, the step in seconds);
 * - every request passes through one `Admission` (the adaptive limiter plugs in there) and has
 *   a deadline covering headers and body (`timeoutMs`, default 2m, also sent as the query's
 *   `timeout` so the server stops too) besides the caller's AbortSignal;
 * - every failure is a `RemoteEngineError` naming the engine and URL. An API error body keeps
 *   the server's errorType (bad_data, execution, ...); a transport failure (refused, reset,
 *   timeout), a response without an API body (a 5xx from a proxy, an HTML page) or a body that
 *   is not JSON is `unavailable`; the caller's abort is `canceled`;
 * - bytes received (response bodies as sent on the wire, before gzip is undone) and requests are
 *   counted per engine.
 */

import { promisify } from 'node:util';
import { gunzip as gunzipCb } from 'node:zlib';
import { Pool } from 'undici';
import { PromQLError, type ErrorType } from '../promql/errors.js';
import type { QueryResult, QueryStats } from '../promql/result.js';
import { labelsFromRecord, type Labels } from '../storage/labels.js';
import { BadResponseError, decodeQueryResponse, formatTimestamp } from './json.js';
import type { Priority } from '../limiter/limiter.js';
import { errorCode } from '../util/errors.js';

const gunzip = promisify(gunzipCb);

export type { Priority };

/** The single admission point every request goes through (the adaptive limiter implements it). */
export interface Admission {
  run<T>(priority: Priority, fn: () => Promise<T>): Promise<T>;
}

/** Admits everything at once. */
export const passThroughAdmission: Admission = {
  run<T>(_priority: Priority, fn: () => Promise<T>): Promise<T> {
    return fn();
  },
};

export interface RemoteEngineOptions {
  /** The engine's name, used in errors and metrics. */
  name: string;
  /** Base URL of the Prometheus API, e.g. `http://prom-dc1:9090` or `http://mimir/prometheus`. */
  url: string;
  /** Extra headers sent with every request (e.g. `X-Scope-OrgID`). */
  headers?: Record<string, string>;
  /** Sent as `Authorization: Bearer <token>`. */
  bearerToken?: string;
  /** Deadline of one request, headers and body, ms (default 2m). */
  timeoutMs?: number;
  /** Most connections to the engine at once (default 16). */
  connections?: number;
  /** Admission point (default: admit at once). */
  admit?: Admission;
  /** Ask for gzip responses (default true). */
  compression?: boolean;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Admission class (default interactive). */
  priority?: Priority;
}

export interface QueryOptions extends RequestOptions {
  /** Ask for `stats=all`; the server's stats object comes back as `remoteStats`. */
  stats?: boolean;
}

export interface SeriesOptions extends RequestOptions {
  /** `limit` (Prometheus 3 and hmd serve; 0 or absent: none). */
  limit?: number;
}

/** A remote query's answer: a `QueryResult` plus where it came from and what it cost. */
export interface RemoteQueryResult extends QueryResult {
  readonly engine: string;
  /** Response body bytes received. Also in `stats.bytesRead`. */
  readonly bytes: number;
  /** `data.stats` as the server sent it (with `stats: true`). */
  readonly remoteStats?: unknown;
}

/** How a remote request failed. */
export type RemoteFailure =
  /** the server answered with an API error body */
  | 'api'
  /** an HTTP answer that is not an API body (5xx page, non-JSON, malformed) */
  | 'http'
  /** connection refused, reset, DNS, ... */
  | 'transport'
  /** the request's deadline passed */
  | 'timeout'
  /** the caller aborted */
  | 'canceled';

export class RemoteEngineError extends PromQLError {
  constructor(
    errorType: ErrorType,
    message: string,
    readonly engine: string,
    readonly url: string,
    readonly kind: RemoteFailure,
    /** HTTP status, when a response came back. */
    readonly status?: number,
    /** The transport error's code (e.g. ECONNREFUSED), when there is one. */
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(errorType, `remote engine "${engine}" (${url}): ${message}`);
    this.name = 'RemoteEngineError';
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

export interface RemoteEngineCounters {
  /** Requests sent (admitted), whatever their outcome. */
  requests: number;
  /** Requests that ended in an error. */
  errors: number;
  /** Response body bytes received (compressed, as on the wire). */
  bytesReceived: number;
  /** Request body bytes sent. */
  bytesSent: number;
}

const DEFAULT_TIMEOUT_MS = 2 * 60_000;
const DEFAULT_CONNECTIONS = 16;

interface RawResponse {
  status: number;
  body: string;
  bytes: number;
}

export class RemoteEngine {
  readonly name: string;
  readonly url: string;
  readonly timeoutMs: number;
  private readonly pool: Pool;
  private readonly prefix: string;
  private readonly headers: Record<string, string>;
  private readonly admit: Admission;
  private readonly counters: RemoteEngineCounters = { requests: 0, errors: 0, bytesReceived: 0, bytesSent: 0 };
  private closed = false;

  constructor(opts: RemoteEngineOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new Error(`remote engine "${opts.name}": invalid URL ${JSON.stringify(opts.url)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`remote engine "${opts.name}": URL must be http or https: ${opts.url}`);
    this.name = opts.name;
    this.url = opts.url;
    this.prefix = u.pathname.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new Error(`remote engine "${opts.name}": timeoutMs must be positive`);
    this.admit = opts.admit ?? passThroughAdmission;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
    if (opts.bearerToken !== undefined) headers['authorization'] = `Bearer ${opts.bearerToken}`;
    if (u.username || u.password) {
      headers['authorization'] ??= 'Basic ' + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
    }
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['accept'] = 'application/json';
    if (opts.compression ?? true) headers['accept-encoding'] = 'gzip';
    this.headers = headers;
    this.pool = new Pool(u.origin, {
      connections: opts.connections ?? DEFAULT_CONNECTIONS,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  /** Requests, errors and bytes so far. */
  stats(): Readonly<RemoteEngineCounters> {
    return { ...this.counters };
  }

  /** An instant query at `timeMs`. */
  async query(expr: string, timeMs: number, opts: QueryOptions = {}): Promise<RemoteQueryResult> {
    const params = new URLSearchParams({ query: expr, time: formatTimestamp(timeMs), timeout: this.timeoutParam() });
    if (opts.stats) params.set('stats', 'all');
    return this.decodeQuery(await this.post('/api/v1/query', params, opts));
  }

  /** A range query; times and step in ms. */
  async queryRange(expr: string, startMs: number, endMs: number, stepMs: number, opts: QueryOptions = {}): Promise<RemoteQueryResult> {
    const params = new URLSearchParams({
      query: expr,
      start: formatTimestamp(startMs),
      end: formatTimestamp(endMs),
      step: String(stepMs / 1000),
      timeout: this.timeoutParam(),
    });
    if (opts.stats) params.set('stats', 'all');
    return this.decodeQuery(await this.post('/api/v1/query_range', params, opts));
  }

  /** `/api/v1/series`: the label sets of the series matching any of `matchers` in the range. */
  async series(matchers: string[], startMs: number, endMs: number, opts: SeriesOptions = {}): Promise<Labels[]> {
    const params = new URLSearchParams();
    for (const m of matchers) params.append('match[]', m);
    params.set('start', formatTimestamp(startMs));
    params.set('end', formatTimestamp(endMs));
    if (opts.limit !== undefined && opts.limit > 0) params.set('limit', String(opts.limit));
    const raw = await this.post('/api/v1/series', params, opts);
    const doc = this.parse(raw);
    const data = (doc as { data?: unknown }).data;
    if (!Array.isArray(data)) throw this.malformed(raw, new BadResponseError('data: expected an array of label sets'));
    return data.map((x, i) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) throw this.malformed(raw, new BadResponseError(`data[${i}]: expected an object`));
      const rec: Record<string, string> = Object.create(null);
      for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
        if (typeof v !== 'string') throw this.malformed(raw, new BadResponseError(`data[${i}].${k}: expected a string`));
        rec[k] = v;
      }
      return labelsFromRecord(rec);
    });
  }

  /** Closes the pool's connections; later requests fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  // ---------------------------------------------------------------------------------------------

  private timeoutParam(): string {
    return String(this.timeoutMs / 1000);
  }

  private decodeQuery(raw: RawResponse): RemoteQueryResult {
    const doc = this.parse(raw);
    let d;
    try {
      d = decodeQueryResponse(doc);
    } catch (err) {
      throw this.malformed(raw, err);
    }
    return {
      value: d.value,
      warnings: d.warnings,
      infos: d.infos,
      stats: statsFrom(d.stats, raw.bytes),
      engine: this.name,
      bytes: raw.bytes,
      ...(d.stats !== undefined ? { remoteStats: d.stats } : {}),
    };
  }

  /**
   * The body as JSON. A body that is not JSON is `unavailable`; an API error body is thrown
   * with the server's errorType; a JSON body on a non-2xx status that is not an API error
   * is `unavailable`.
   */
  private parse(raw: RawResponse): unknown {
    let doc: unknown;
    try {
      doc = JSON.parse(raw.body);
    } catch {
      this.counters.errors++;
      throw this.error('unavailable', `HTTP ${raw.status}: response is not JSON: ${snippet(raw.body)}`, 'http', raw.status);
    }
    const status = typeof doc === 'object' && doc !== null ? (doc as { status?: unknown }).status : undefined;
    if (status === 'error') {
      try {
        decodeQueryResponse(doc); // throws the server's PromQLError (or BadResponseError)
      } catch (err) {
        throw this.malformed(raw, err);
      }
    }
    if (raw.status < 200 || raw.status >= 300 || status !== 'success') {
      this.counters.errors++;
      throw this.error('unavailable', `HTTP ${raw.status}: not a Prometheus API response: ${snippet(raw.body)}`, 'http', raw.status);
    }
    return doc;
  }

  /** An error from decoding: the server's own error keeps its type; a malformed body is internal on 2xx, unavailable otherwise. */
  private malformed(raw: RawResponse, err: unknown): RemoteEngineError {
    this.counters.errors++;
    if (err instanceof BadResponseError) {
      const ok = raw.status >= 200 && raw.status < 300;
      return this.error(ok ? 'internal' : 'unavailable', `HTTP ${raw.status}: ${err.message}`, 'http', raw.status, undefined, err);
    }
    if (err instanceof PromQLError) return this.error(err.errorType, err.message, 'api', raw.status, undefined, err);
    return this.error('internal', err instanceof Error ? err.message : String(err), 'http', raw.status, undefined, err);
  }

  private error(type: ErrorType, message: string, kind: RemoteFailure, status?: number, code?: string, cause?: unknown): RemoteEngineError {
    return new RemoteEngineError(type, message, this.name, this.url, kind, status, code, cause === undefined ? undefined : { cause });
  }

  /** POSTs a form through admission, with the deadline and the caller's signal. */
  private async post(path: string, params: URLSearchParams, opts: RequestOptions): Promise<RawResponse> {
    const signal = opts.signal;
    if (signal?.aborted) throw this.error('canceled', 'query canceled', 'canceled');
    if (this.closed) throw this.error('unavailable', 'client closed', 'transport');
    return this.admit.run(opts.priority ?? 'interactive', () => this.send(path, params.toString(), signal));
  }

  private async send(path: string, body: string, signal: AbortSignal | undefined): Promise<RawResponse> {
    if (signal?.aborted) throw this.error('canceled', 'query canceled', 'canceled');
    this.counters.requests++;
    const bodyBytes = Buffer.from(body);
    this.counters.bytesSent += bodyBytes.length;
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort(new Error('timeout'));
    }, this.timeoutMs);
    const onAbort = () => ac.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await this.pool.request({
        path: this.prefix + path,
        method: 'POST',
        headers: this.headers,
        body: bodyBytes,
        signal: ac.signal,
      });
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        chunks.push(b);
        bytes += b.length;
        this.counters.bytesReceived += b.length;
      }
      let buf = Buffer.concat(chunks, bytes);
      const enc = String(res.headers['content-encoding'] ?? '').toLowerCase();
      if (enc === 'gzip' || enc === 'x-gzip') {
        try {
          buf = await gunzip(buf);
        } catch (err) {
          throw this.error('unavailable', `HTTP ${res.statusCode}: bad gzip body: ${(err as Error).message}`, 'http', res.statusCode, undefined, err);
        }
      }
      return { status: res.statusCode, body: buf.toString('utf8'), bytes };
    } catch (err) {
      this.counters.errors++;
      if (err instanceof RemoteEngineError) throw err;
      if (timedOut) throw this.error('unavailable', `no complete answer within ${this.timeoutMs} ms (timeout)`, 'timeout', undefined, 'ETIMEDOUT', err);
      if (signal?.aborted) throw this.error('canceled', 'query canceled', 'canceled', undefined, undefined, err);
      const code = errorCode(err);
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw this.error('unavailable', `no complete answer within ${this.timeoutMs} ms (timeout)`, 'timeout', undefined, code, err);
      }
      const what =
        code === 'ECONNREFUSED'
          ? 'connection refused'
          : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
            ? 'connection reset'
            : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
              ? 'host not found'
              : 'request failed';
      const detail = err instanceof Error ? err.message : String(err);
      throw this.error('unavailable', `${what}${code ? ` (${code})` : ''}: ${detail}`, 'transport', undefined, code, err);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

function snippet(body: string): string {
  const s = body.replace(/\s+/g, ' ').trim();
  if (s === '') return '(empty body)';
  return JSON.stringify(s.length > 120 ? s.slice(0, 117) + '...' : s);
}

/** A `QueryStats` from Prometheus's `stats=all` object (and hmd's `hmd` counters) when sent; zeros otherwise. */
function statsFrom(remote: unknown, bytes: number): QueryStats {
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
  const o = (typeof remote === 'object' && remote !== null ? remote : {}) as Record<string, Record<string, unknown> | undefined>;
  const t = o['timings'] ?? {};
  const s = o['samples'] ?? {};
  const h = o['hmd'] ?? {};
  return {
    seriesFetched: num(h['seriesFetched']),
    samplesFetched: num(h['samplesFetched']),
    bytesRead: bytes,
    peakSamples: num(s['peakSamples']),
    totalSamples: num(s['totalQueryableSamples']),
    timings: {
      parseMs: num(h['parseTime']) * 1000,
      selectMs: num(t['queryPreparationTime']) * 1000,
      evalMs: num(t['innerEvalTime']) * 1000,
    },
  };
}
