/**
 * A real S3 server for tests: the npm package `s3rver`, run in a child process on 127.0.0.1 on a
 * free port (it binds port 0 and reports the port it got), storing into a temporary directory.
 *
 *   const s3 = await startS3rver({ buckets: ['test'] });
 *   const store = new S3ObjectStore({ bucket: 'test', endpoint: s3.endpoint, credentials: s3.credentials });
 *   ...
 *   await s3.stop();
 *
 * - Node runs it with `--openssl-legacy-provider`: s3rver encrypts ListObjectsV2 continuation
 *   tokens with DES, which OpenSSL 3 only has in its legacy provider; without it, paginated
 *   listings fail.
 * - It accepts only the credentials S3RVER/S3RVER (`S3RVER_CREDENTIALS`) and checks signatures;
 *   any region works (path-style addressing).
 * - Known quirk: a range ending at byte 0 (`bytes=0-0`, or `bytes=N-0`) is read as "to the end".
 *
 * Also here: `startFaultProxy`, an HTTP proxy that fails the first N requests with a status
 * (503 SlowDown by default) and forwards the rest, counting them; and `startBlackhole`, a TCP
 * server that accepts connections and never answers. All bind 127.0.0.1 only. Children are killed
 * when the test process exits.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3rverServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** The data directory (removed by stop()). */
  readonly dir: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** What the server wrote to stderr/stdout. */
  log(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const p of running) {
      try {
        p.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  });
}

/** The path of s3rver's command-line script. */
function s3rverBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
}

export interface StartS3rverOptions {
  /** Buckets created at start (default `['test']`). */
  buckets?: string[];
  /** How long to wait for it to listen (default 20 s). */
  readyTimeoutMs?: number;
}

export async function startS3rver(opts: StartS3rverOptions = {}): Promise<S3rverServer> {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), 'hmd-s3rver-'));
  const buckets = opts.buckets ?? ['test'];
  const args = ['--openssl-legacy-provider', s3rverBin(), '-d', dir, '-a', '127.0.0.1', '-p', '0', '--silent', '--no-vhost-buckets'];
  for (const b of buckets) args.push('--configure-bucket', b);
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(p);
  p.on('exit', () => running.delete(p));
  let log = '';
  const take = (b: Buffer) => {
    log += b.toString();
    if (log.length > 1 << 20) log = log.slice(-(1 << 19));
  };
  p.stderr!.on('data', take);
  const stop = async () => {
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    }
    running.delete(p);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3rver did not start in ${opts.readyTimeoutMs ?? 20_000} ms: ${log}`)), opts.readyTimeoutMs ?? 20_000);
      p.stdout!.on('data', (b: Buffer) => {
        take(b);
        const m = /S3rver listening on [^:\s]+:(\d+)/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      p.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      p.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited (${sig ?? `exit ${code}`}): ${log}`));
      });
    });
    let stopped = false;
    return {
      endpoint: `http://127.0.0.1:${port}`,
      port,
      dir,
      credentials: { ...S3RVER_CREDENTIALS },
      log: () => log,
      async stop() {
        if (stopped) return;
        stopped = true;
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** Requests received so far (failed and forwarded). */
  readonly requests: number;
  /** Requests answered with the fault status. */
  readonly failed: number;
  /** Every request received: method, URL and Range header (bounded to the last 10000). */
  readonly log: { method: string; url: string; range: string | undefined; failed: boolean }[];
  /** Fail the next `n` requests (resets the counters and the log). */
  reset(n: number): void;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Requests to fail before forwarding (default 0; `Infinity` fails them all). */
  failFirst?: number;
  /** Status of the failures (default 503). */
  status?: number;
  /** S3 error code in the failure's XML body (default SlowDown). */
  code?: string;
}

/** An HTTP proxy to `target` (`http://127.0.0.1:<port>`) that fails the first N requests. */
export async function startFaultProxy(target: string, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
  const t = new URL(target);
  let failLeft = opts.failFirst ?? 0;
  let requests = 0;
  let failed = 0;
  const log: FaultProxy['log'] = [];
  const status = opts.status ?? 503;
  const code = opts.code ?? 'SlowDown';
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    requests++;
    const range = req.headers['range'];
    log.push({ method: req.method ?? '', url: req.url ?? '', range: typeof range === 'string' ? range : undefined, failed: failLeft > 0 });
    if (log.length > 10_000) log.shift();
    if (failLeft > 0) {
      failLeft--;
      failed++;
      req.resume();
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected fault</Message></Error>`;
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const up = httpRequest(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
      (ures) => {
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        ures.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    get failed() {
      return failed;
    },
    log,
    reset(n: number) {
      failLeft = n;
      requests = 0;
      failed = 0;
      log.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Blackhole {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** Connections accepted so far. */
  readonly connections: number;
  stop(): Promise<void>;
}

/** A TCP server on 127.0.0.1 that accepts connections, reads, and never answers. */
export async function startBlackhole(): Promise<Blackhole> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createNetServer((s) => {
    connections++;
    sockets.add(s);
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
