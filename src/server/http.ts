/**
 * The HTTP transport for the query API (`api.ts`): a node:http server that reads bounded
 * request bodies, cancels a request's work when its client goes away, compresses when asked,
 * logs one line per request and closes gracefully.
 *
 *   const srv = await startHttpServer({ host: '127.0.0.1', port: 9090, handler: (r) => api.handle(r) });
 *   ...
 *   await srv.close();   // stop accepting, let requests in flight finish (bounded), then close
 *
 * Every response is JSON, including the ones for requests node:http itself refuses
 * (malformed requests, oversized headers, request timeouts).
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { ApiRequest, ApiResponse } from './api.js';
import { goJSONString } from '../remote/json.js';

const gzip = promisify(gzipCb);

export interface HttpServerOptions {
  /** Address to bind, e.g. '127.0.0.1' (default), '::1', '0.0.0.0'; '' for every interface (IPv6 and IPv4 when available). */
  readonly host?: string;
  /** Port; 0 picks a free one (see `RunningServer.port`). */
  readonly port: number;
  /** Answers a request; must not throw (PrometheusApi.handle does not). */
  readonly handler: (req: ApiRequest) => Promise<ApiResponse>;
  /** Largest request body, bytes (default 10 MiB, Go's limit for form bodies). */
  readonly maxBodyBytes?: number;
  /** Time to receive the request headers, ms (default 60s). */
  readonly headersTimeoutMs?: number;
  /** Time to receive the whole request, ms (default 5m, Prometheus's --web.read-timeout). */
  readonly requestTimeoutMs?: number;
  /** Idle time before a keep-alive connection is closed, ms (default 5s). */
  readonly keepAliveTimeoutMs?: number;
  /** Most connections at once (default 512, Prometheus's --web.max-connections). */
  readonly maxConnections?: number;
  /** Largest request head (request line and headers), bytes (default 1 MiB, as Go). */
  readonly maxHeaderBytes?: number;
  /** Called with one line per request (no newline). Default: none. */
  readonly log?: (line: string) => void;
  /** Wall clock for the log, ms (default Date.now). */
  readonly now?: () => number;
  /** Called with each request's log fields (structured loggers), besides or instead of `log`. */
  readonly logFields?: (fields: Readonly<Record<string, string>>) => void;
  /** A body over maxBodyBytes: the status (default 400, as Prometheus) and the message around the detail. */
  readonly bodyLimit?: { readonly status: number; readonly message: (detail: string) => string };
}

export interface RunningServer {
  /** `http://127.0.0.1:9090` (IPv6 hosts in brackets). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Requests being answered now. */
  readonly inFlight: number;
  /**
   * Stops accepting connections, closes idle keep-alive connections, lets requests in flight
   * finish for up to `graceMs` (default 10s), then cancels what is left and closes every
   * connection. Resolves when the server is closed.
   */
  close(graceMs?: number): Promise<void>;
}

/** `host:port`, `[v6]:port` or `:port` (every interface, as Go reads it); undefined when malformed. */
export function parseListen(s: string): { host: string | undefined; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.%a-zA-Z]+)\]|([^:[\]\s]*)):([0-9]{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2]!;
  return { host: host === '' ? undefined : host, port };
}

const DEFAULT_MAX_BODY = 10 << 20;
const MIN_GZIP_BYTES = 1024;

/** A JSON error body of Prometheus's shape, for errors found before the API sees the request. */
function errorBody(errorType: string, message: string): string {
  return `{"status":"error","errorType":${goJSONString(errorType)},"error":${goJSONString(message)}}`;
}

/** Starts the server; resolves once it listens (rejects when it cannot, e.g. EADDRINUSE). */
export async function startHttpServer(opts: HttpServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const now = opts.now ?? Date.now;
  const log = opts.log;
  const inFlight = new Map<ServerResponse, AbortController>();
  let closing = false;
  let onIdle: (() => void) | undefined;

  const server: Server = createServer({
    maxHeaderSize: opts.maxHeaderBytes ?? 1 << 20,
    requestTimeout: opts.requestTimeoutMs ?? 300_000,
    headersTimeout: opts.headersTimeoutMs ?? 60_000,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
  });
  server.maxConnections = opts.maxConnections ?? 512;

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = now();
    const t0 = performance.now();
    const controller = new AbortController();
    inFlight.set(res, controller);
    let errorType: string | undefined;
    let query: string | undefined;
    let bytes = 0;
    let logged = false;
    const finish = (): void => {
      if (logged) return;
      logged = true;
      inFlight.delete(res);
      if (log || opts.logFields) {
        const gone = !res.writableFinished;
        const fields: Record<string, string> = {
            ts: new Date(started).toISOString(),
            remote: remoteOf(req.socket),
            method: req.method ?? '',
            path: (req.url ?? '').split('?')[0]!,
            status: gone ? 'none' : String(res.statusCode),
            bytes: String(bytes),
            duration: ((performance.now() - t0) / 1000).toFixed(3) + 's',
            ...(errorType ? { error_type: errorType } : {}),
            ...(gone ? { client: 'gone' } : {}),
            ...(query !== undefined ? { query: query.length > 500 ? query.slice(0, 500) + '...' : query } : {}),
        };
        log?.(logLine(fields));
        opts.logFields?.(fields);
      }
      if (inFlight.size === 0) onIdle?.();
    };
    let handling = false;
    // The client went away before the answer was written: cancel the work (which then logs).
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
      if (!handling) finish();
    });
    const send = (status: number, headers: Record<string, string>, body: string | Buffer): void => {
      if (res.destroyed) return;
      const h: Record<string, string | number> = { ...headers, 'Content-Length': Buffer.byteLength(body) };
      if (closing) h['Connection'] = 'close';
      bytes = Buffer.byteLength(body);
      res.writeHead(status, h);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const limit = opts.bodyLimit ?? { status: 400, message: (d: string) => `error parsing form values: ${d}` };
    const reject = (detail: string): void => {
      errorType = 'bad_data';
      // The rest of the body is not read: the connection closes after the answer.
      send(limit.status, { 'Content-Type': 'application/json', Connection: 'close' }, errorBody('bad_data', limit.message(detail)));
    };

    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBody) {
      reject(`request body too large: ${declared} bytes, at most ${maxBody} are accepted`);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > maxBody) {
        tooLarge = true;
        req.pause();
        reject(`request body too large: more than ${maxBody} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => controller.abort());
    req.on('end', () => {
      if (tooLarge) return;
      const url = req.url ?? '/';
      const rawTarget = /^https?:\/\//i.test(url) ? url.replace(/^https?:\/\/[^/?#]*/i, '') || '/' : url;
      const q = rawTarget.indexOf('?');
      const path = q < 0 ? rawTarget : rawTarget.slice(0, q);
      const apiReq: ApiRequest = {
        method: req.method ?? 'GET',
        path: path.split('#')[0]!,
        query: q < 0 ? '' : rawTarget.slice(q + 1).split('#')[0]!,
        ...(req.headers['content-type'] !== undefined ? { contentType: req.headers['content-type'] } : {}),
        ...(size > 0 ? { body: Buffer.concat(chunks, size) } : {}),
        ...(req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {}),
        remote: remoteOf(req.socket),
        signal: controller.signal,
      };
      void respond(apiReq);
    });

    const respond = async (apiReq: ApiRequest): Promise<void> => {
      let out: ApiResponse;
      handling = true;
      try {
        out = await opts.handler(apiReq);
      } catch (err) {
        out = {
          status: 500,
          headers: { 'Content-Type': 'application/json' },
          body: errorBody('internal', err instanceof Error ? err.message : String(err)),
          errorType: 'internal',
        };
      }
      handling = false;
      errorType = out.errorType;
      query = out.query;
      if (res.destroyed || controller.signal.aborted) {
        finish();
        return;
      }
      let body: string | Buffer = out.body;
      const headers: Record<string, string> = { ...out.headers };
      if (Buffer.byteLength(body) >= MIN_GZIP_BYTES && acceptsGzip(req.headers['accept-encoding'])) {
        try {
          body = await gzip(body);
          headers['Content-Encoding'] = 'gzip';
          headers['Vary'] = 'Accept-Encoding';
        } catch {
          // send it uncompressed
        }
      }
      send(out.status, headers, body);
    };
  });

  // Requests node:http refuses itself (malformed, oversized head, too slow): a JSON answer.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, reason, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'request line and headers too large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'request not received in time']
          : [400, 'Bad Request', `malformed HTTP request (${err.code ?? err.message})`];
    const body = errorBody('bad_data', message);
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    log?.(logLine({ ts: new Date(now()).toISOString(), remote: remoteOf(socket), method: '-', path: '-', status: String(status), error_type: 'bad_data', error: message }));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    const listening = () => {
      server.off('error', onError);
      resolve();
    };
    if (host === '') server.listen(opts.port, listening);
    else server.listen(opts.port, host, listening);
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    get inFlight() {
      return inFlight.size;
    },
    close(graceMs = 10_000): Promise<void> {
      if (closed) return closed;
      closing = true;
      closed = new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        const drained = new Promise<void>((r) => {
          if (inFlight.size === 0) r();
          else
            onIdle = () => {
              server.closeIdleConnections();
              r();
            };
        });
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<void>((r) => {
          timer = setTimeout(r, graceMs);
          timer.unref();
        });
        void Promise.race([drained, expired]).then(() => {
          clearTimeout(timer);
          for (const c of inFlight.values()) c.abort();
          server.closeAllConnections();
        });
      });
      return closed;
    },
  };
}

function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().split(';');
    if (coding!.trim().toLowerCase() !== 'gzip') continue;
    const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p)).find((m) => m);
    return !q || Number(q[1]) > 0;
  }
  return false;
}

function remoteOf(socket: Socket | undefined): string {
  if (!socket?.remoteAddress) return '-';
  const a = socket.remoteAddress.includes(':') ? `[${socket.remoteAddress}]` : socket.remoteAddress;
  return `${a}:${socket.remotePort}`;
}

/** logfmt: `key=value`, values quoted when they need it. */
function logLine(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v === '' || /[\s"=\\]/.test(v) || /[^\x21-\x7e]/.test(v) ? JSON.stringify(v) : v}`)
    .join(' ');
}
