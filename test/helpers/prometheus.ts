/**
 * A real Prometheus for tests and benchmarks: the Debian `prometheus` and `promtool` binaries
 * (2.42 here), started on a free 127.0.0.1 port in a temporary directory, optionally with data
 * backfilled from OpenMetrics by `promtool tsdb create-blocks-from openmetrics`.
 *
 *   const prom = await startPrometheus({ openMetrics: text });
 *   const r = await prom.query('sum(up)', Date.UTC(2025, 5, 12, 12));   // decoded like hmd's results
 *   await prom.stop();
 *
 * Backfilled blocks hold old timestamps. Prometheus queries them as any other block; what keeps
 * them there is the retention, which is measured from the newest block's end (not the wall
 * clock), set here to 100y so that nothing is ever deleted. The lookback delta is passed
 * explicitly (5m, Prometheus's default and hmd's). The server keeps no scrape targets and
 * evaluates subqueries without a step at `evaluation_interval` (1m, hmd's default too).
 *
 * A server is stopped by `stop()`, and killed when the process exits (also on SIGINT/SIGTERM);
 * it is not detached, so a test runner that kills the test's process group kills it too.
 *
 * Tests that need the binaries use `prometheusTest(suite, name, fn)`: skipped when the binaries
 * are missing, except under CI=true, where that is a failure.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeQueryResponse, formatTimestamp, type DecodedQueryResponse } from '../../src/remote/json.js';

export const PROMETHEUS_BIN = process.env['HMD_PROMETHEUS'] ?? 'prometheus';
export const PROMTOOL_BIN = process.env['HMD_PROMTOOL'] ?? 'promtool';

let available: boolean | undefined;

/** True when both `prometheus` and `promtool` run (`--version`). */
export function havePrometheus(): boolean {
  if (available === undefined) {
    const ok = (bin: string) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0;
    available = ok(PROMETHEUS_BIN) && ok(PROMTOOL_BIN);
  }
  return available;
}

/** The `prometheus --version` line, e.g. `prometheus, version 2.42.0+ds (...)`, or undefined. */
export function prometheusVersion(): string | undefined {
  const r = spawnSync(PROMETHEUS_BIN, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.split('\n')[0]?.trim();
}

export const MISSING_PROMETHEUS = 'the prometheus and promtool binaries are not installed (CI must install them: apt-get install prometheus)';

/**
 * Registers a test that needs Prometheus: it runs when the binaries are present, is skipped when
 * they are not, and fails under CI=true when they are not.
 */
export function prometheusTest<T>(s: Test<T>, name: string, fn: Parameters<Test<T>>[1]): void {
  if (havePrometheus()) s(name, fn);
  else if (process.env['CI'] && process.env['CI'] !== 'false') s(name, () => assert.unreachable(MISSING_PROMETHEUS));
  else s.skip(name, fn);
}

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it right away). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a command to its end; rejects with its output when it fails. */
function run(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (b: Buffer) => {
      out += b.toString();
      if (out.length > 1 << 20) out = out.slice(-(1 << 19));
    };
    p.stdout!.on('data', take);
    p.stderr!.on('data', take);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${bin} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${out.slice(-4000)}`));
    });
  });
}

/**
 * Writes TSDB blocks for an OpenMetrics file into `outDir` (created when missing), with
 * `promtool tsdb create-blocks-from openmetrics`. The file must end with `# EOF` and give every
 * sample a timestamp. Returns promtool's output.
 */
export async function backfill(openMetricsFile: string, outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  return run(PROMTOOL_BIN, ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', openMetricsFile, outDir]);
}

export interface StartOptions {
  /** OpenMetrics text to backfill; a string without a newline is taken as the path of a file. */
  openMetrics?: string;
  /** Path of an OpenMetrics file to backfill. */
  openMetricsFile?: string;
  /** A TSDB directory with blocks (e.g. written by `backfill`), copied into the server's data directory. */
  blocksFrom?: string;
  /** `--query.lookback-delta` (default 5m). */
  lookbackDelta?: string;
  /** More command-line flags. */
  extraArgs?: string[];
  /** How long to wait for /-/ready, ms (default 120s: large backfills take a while to open). */
  readyTimeoutMs?: number;
  /** `--log.level` (default warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** `global.external_labels` of the server's config (what federation and Thanos see it own). */
  externalLabels?: Record<string, string>;
}

export interface QueryParams {
  /** Adds `stats=all`: the response's `stats` then holds Prometheus's timings and sample counts. */
  stats?: boolean;
  /** `timeout` for this query (a Prometheus duration, e.g. `30s`). */
  timeout?: string;
}

export interface RawResponse {
  status: number;
  body: string;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The server's process id (e.g. to read its memory from /proc). */
  readonly pid: number;
  /** The temporary directory (config, data); removed by stop(). */
  readonly dir: string;
  /** Instant query at `time` (ms, or a string passed as is: RFC3339 or seconds). Throws PromQLError on an error response. */
  query(expr: string, time: number | string, params?: QueryParams): Promise<DecodedQueryResponse>;
  /** Range query; times and step in ms (or strings passed as is). Throws PromQLError on an error response. */
  queryRange(expr: string, start: number | string, end: number | string, step: number | string, params?: QueryParams): Promise<DecodedQueryResponse>;
  /** POSTs form parameters to an API path and returns the status and body undecoded. */
  api(path: string, params: Record<string, string>): Promise<RawResponse>;
  /** What the server has logged so far (stderr). */
  log(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 10s) and removes its directory. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const p of running) {
      try {
        p.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const p of running) {
        try {
          p.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

const toParam = (t: number | string): string => (typeof t === 'number' ? formatTimestamp(t) : t);
const stepParam = (s: number | string): string => (typeof s === 'number' ? String(s / 1000) : s);

/** Starts Prometheus on 127.0.0.1 with the given data; resolves once it is ready. */
export async function startPrometheus(opts: StartOptions = {}): Promise<PrometheusServer> {
  if (!havePrometheus()) throw new Error(MISSING_PROMETHEUS);
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), 'hmd-prom-'));
  const data = join(dir, 'data');
  let proc: ChildProcess | undefined;
  let log = '';
  try {
    mkdirSync(data, { recursive: true });
    if (opts.blocksFrom) {
      if (!existsSync(opts.blocksFrom)) throw new Error(`blocksFrom: no such directory: ${opts.blocksFrom}`);
      cpSync(opts.blocksFrom, data, { recursive: true });
    }
    let omFile = opts.openMetricsFile;
    if (opts.openMetrics !== undefined) {
      if (opts.openMetrics.includes('\n')) {
        omFile = join(dir, 'input.om');
        writeFileSync(omFile, opts.openMetrics);
      } else omFile = opts.openMetrics;
    }
    if (omFile !== undefined) await backfill(omFile, data);
    if (opts.openMetrics?.includes('\n')) rmSync(omFile!, { force: true });

    const config = join(dir, 'prometheus.yml');
    const external = Object.entries(opts.externalLabels ?? {});
    const externalYaml = external.length ? `  external_labels:\n${external.map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`).join('')}` : '';
    writeFileSync(config, `global:\n  scrape_interval: 1h\n  evaluation_interval: 1m\n${externalYaml}`);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const args = [
      `--config.file=${config}`,
      `--storage.tsdb.path=${data}`,
      '--storage.tsdb.retention.time=100y',
      `--web.listen-address=127.0.0.1:${port}`,
      `--query.lookback-delta=${opts.lookbackDelta ?? '5m'}`,
      `--log.level=${opts.logLevel ?? 'warn'}`,
      ...(opts.extraArgs ?? []),
    ];
    const p = spawn(PROMETHEUS_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc = p;
    running.add(p);
    p.on('exit', () => running.delete(p));
    p.stderr!.on('data', (b: Buffer) => {
      log += b.toString();
      if (log.length > 1 << 20) log = log.slice(-(1 << 19));
    });
    const spawnError = new Promise<Error>((resolve) => p.once('error', resolve));
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
    for (;;) {
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`prometheus exited (${p.signalCode ?? `exit ${p.exitCode}`}): ${log}`);
      const err = await Promise.race([spawnError, new Promise<undefined>((r) => setImmediate(r, undefined))]);
      if (err) throw err;
      try {
        if ((await fetch(`${url}/-/ready`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus did not become ready in ${opts.readyTimeoutMs ?? 120_000} ms: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const api = async (path: string, params: Record<string, string>): Promise<RawResponse> => {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
      });
      return { status: res.status, body: await res.text() };
    };
    const extra = (q: QueryParams | undefined): Record<string, string> => {
      const o: Record<string, string> = {};
      if (q?.stats) o['stats'] = 'all';
      if (q?.timeout) o['timeout'] = q.timeout;
      return o;
    };
    let stopped = false;
    return {
      url,
      port,
      pid: p.pid!,
      dir,
      api,
      log: () => log,
      async query(expr, time, q) {
        const r = await api('/api/v1/query', { query: expr, time: toParam(time), ...extra(q) });
        return decodeQueryResponse(r.body);
      },
      async queryRange(expr, start, end, step, q) {
        const r = await api('/api/v1/query_range', { query: expr, start: toParam(start), end: toParam(end), step: stepParam(step), ...extra(q) });
        return decodeQueryResponse(r.body);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopProcess(p);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (proc) await stopProcess(proc);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
  running.delete(p);
}
