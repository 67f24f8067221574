/**
 * Imports raw samples from a Prometheus server's HTTP API into daily Parquet blocks.
 *
 * - `/api/v1/series` first, over the whole range: it checks every selector on the server and
 *   reports how many series the import will read.
 * - Then, for each UTC day of the range, the day is walked in slices of `windowMs`: each
 *   selector is queried as `/api/v1/query` of `{selector}[<slice>ms]` evaluated at the slice's
 *   last millisecond, which returns the raw samples of the slice (a range vector, not
 *   `query_range`'s evaluated steps). The window is one millisecond longer than the slice, so
 *   that both Prometheus 2.x (closed windows) and 3.x (left-open windows) return every sample
 *   of the slice; samples outside the slice are dropped, so slices never overlap.
 * - A series matched by two selectors is taken once. When a day is done its block is written
 *   and its samples dropped: memory holds one day of the selected series at most.
 *
 * Values travel as Prometheus formats them (Go's shortest round-trip formatting) and are read
 * back with Go's ParseFloat rules, so each sample comes back as the same double. Staleness
 * markers are not returned by the query API, so they are not imported.
 *
 * Errors name the server and the request: HTTP errors (with Prometheus's errorType and message
 * when the body has them), bodies that are not JSON or not a Prometheus answer, API error
 * bodies, timeouts and refused connections.
 */

import { labelsFromRecord, labelsKey, type Labels } from '../labels.js';
import type { Series } from '../queryable.js';
import type { ObjectStore } from '../objstore/types.js';
import { DAY_MS, dayStart } from '../parquet/layout.js';
import { writeDayBlock, type BlockWriteOptions, type BlockWriteResult } from '../parquet/writer.js';
import { parseFloat as parseGoFloat } from '../../util/gofloat.js';

export interface PrometheusImportOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:9090` (a path prefix is kept). */
  url: string;
  /** Series selectors (instant vector selectors), as `match[]` takes them. */
  matchers: readonly string[];
  /** Inclusive time range, ms. */
  startMs: number;
  endMs: number;
  /** Length of one query slice, ms (default 2h). */
  windowMs?: number;
  /** Timeout of one HTTP request, ms (default 60s). */
  timeoutMs?: number;
  /** Key prefix of the blocks in the store (default ''). */
  prefix?: string;
  /** Block layout options. */
  dataColumnMs?: BlockWriteOptions['dataColumnMs'];
  rowGroupSize?: BlockWriteOptions['rowGroupSize'];
  /** Extra request headers (e.g. authorization). */
  headers?: Record<string, string>;
  /** Called after each block is written. */
  onBlock?: (r: BlockWriteResult, day: { startMs: number; partial: boolean }) => void;
  /** Called for a day in the range for which the server returned no samples (no block is written). */
  onEmptyDay?: (dayStartMs: number) => void;
  signal?: AbortSignal;
  /** The fetch to use (default the global one). */
  fetch?: typeof fetch;
  /** Admission point every request passes, as batch work (hmd's adaptive limiter); default none. */
  admit?: { run<T>(priority: 'interactive' | 'batch', fn: () => Promise<T>): Promise<T> };
}

export interface PrometheusImportResult {
  /** Series `/api/v1/series` reported for the range. */
  seriesListed: number;
  blocks: BlockWriteResult[];
  samples: number;
  requests: number;
}

/** A failure talking to the Prometheus server; the message names the server and the request. */
export class PrometheusImportError extends Error {
  override name = 'PrometheusImportError';
  constructor(
    message: string,
    readonly status?: number,
    readonly errorType?: string,
  ) {
    super(message);
  }
}

export const DEFAULT_IMPORT_WINDOW_MS = 2 * 3_600_000;
export const DEFAULT_IMPORT_TIMEOUT_MS = 60_000;

/** Seconds with milliseconds, as the API takes times (`1749686400.123`). */
function apiTime(ms: number): string {
  const neg = ms < 0;
  const a = Math.abs(Math.round(ms));
  const frac = a % 1000;
  const s = `${(a - frac) / 1000}.${String(frac).padStart(3, '0')}`;
  return neg ? `-${s}` : s;
}

class Client {
  requests = 0;
  private readonly base: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly opts: PrometheusImportOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new PrometheusImportError(`invalid Prometheus URL ${JSON.stringify(opts.url)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PrometheusImportError(`invalid Prometheus URL ${JSON.stringify(opts.url)}: expected http:// or https://`);
    this.base = u.toString().replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? fetch;
  }

  /** POSTs a form to an API path and returns the `data` of a success answer. */
  async call(path: string, form: [string, string][], what: string): Promise<unknown> {
    return this.opts.admit ? this.opts.admit.run('batch', () => this.send(path, form, what)) : this.send(path, form, what);
  }

  private async send(path: string, form: [string, string][], what: string): Promise<unknown> {
    const url = `${this.base}${path}`;
    const where = `Prometheus at ${this.base}: ${path} (${what})`;
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_IMPORT_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout;
    this.requests++;
    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...this.opts.headers },
        body: new URLSearchParams(form).toString(),
        signal,
      });
      text = await res.text();
    } catch (e) {
      if (this.opts.signal?.aborted) throw new PrometheusImportError(`${where}: canceled`);
      if (timeout.aborted) throw new PrometheusImportError(`${where}: no answer within ${timeoutMs / 1000}s`);
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new PrometheusImportError(`${where}: request failed: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
    let body: unknown;
    let jsonError: string | undefined;
    try {
      body = JSON.parse(text);
    } catch (e) {
      jsonError = (e as Error).message;
    }
    const apiErr = body && typeof body === 'object' && (body as { status?: unknown }).status === 'error' ? (body as { errorType?: unknown; error?: unknown }) : undefined;
    if (apiErr) {
      throw new PrometheusImportError(`${where}: HTTP ${res.status}: ${String(apiErr.errorType)}: ${String(apiErr.error)}`, res.status, String(apiErr.errorType));
    }
    if (!res.ok) {
      throw new PrometheusImportError(`${where}: HTTP ${res.status} ${res.statusText}${text ? `: ${snippet(text)}` : ''}`, res.status);
    }
    if (jsonError !== undefined) {
      throw new PrometheusImportError(`${where}: the answer is not JSON (${res.headers.get('content-type') ?? 'no content-type'}): ${snippet(text)}`, res.status);
    }
    if (!body || typeof body !== 'object' || (body as { status?: unknown }).status !== 'success' || !('data' in body)) {
      throw new PrometheusImportError(`${where}: not a Prometheus API answer: ${snippet(text)}`, res.status);
    }
    return (body as { data: unknown }).data;
  }
}

function snippet(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 197)}...` : t;
}

function bad(where: string, msg: string): PrometheusImportError {
  return new PrometheusImportError(`${where}: not a Prometheus API answer: ${msg}`);
}

function readLabels(x: unknown, where: string): Labels {
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw bad(where, 'a series without a metric object');
  const rec: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
    if (typeof v !== 'string') throw bad(where, `label ${k} is not a string`);
    rec[k] = v;
  }
  return labelsFromRecord(rec);
}

/** A range-vector answer: each series' samples inside [lo, hi]. */
function readMatrix(data: unknown, lo: number, hi: number, where: string): Series[] {
  const d = data as { resultType?: unknown; result?: unknown };
  if (!d || d.resultType !== 'matrix' || !Array.isArray(d.result)) throw bad(where, `expected a matrix, got ${JSON.stringify(d?.resultType)}`);
  const out: Series[] = [];
  for (const s of d.result as { metric?: unknown; values?: unknown; histograms?: unknown }[]) {
    const labels = readLabels(s?.metric, where);
    if (s.histograms !== undefined) throw new PrometheusImportError(`${where}: ${JSON.stringify(labels)} holds native histograms, which hmd's blocks do not store`);
    if (!Array.isArray(s.values)) throw bad(where, 'a series without values');
    const pts = s.values as unknown[];
    const ts = new Float64Array(pts.length);
    const vs = new Float64Array(pts.length);
    let n = 0;
    for (const p of pts) {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number' || typeof p[1] !== 'string') throw bad(where, `a sample is not [seconds, "value"]: ${JSON.stringify(p)}`);
      const t = Math.round(p[0] * 1000);
      const v = parseGoFloat(p[1]);
      if (v === undefined) throw bad(where, `a sample value is not a float: ${JSON.stringify(p[1])}`);
      if (t < lo || t > hi) continue;
      if (n > 0 && t <= ts[n - 1]!) throw bad(where, `samples out of order in ${JSON.stringify(labels)}`);
      ts[n] = t;
      vs[n] = v;
      n++;
    }
    if (n > 0) out.push({ labels, timestamps: ts.subarray(0, n), values: vs.subarray(0, n), mayHaveStale: false });
  }
  return out;
}

function concat(parts: Float64Array[]): Float64Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Imports [startMs, endMs] of the selected series into one block per UTC day; see the module comment. */
export async function importPrometheus(store: ObjectStore, opts: PrometheusImportOptions): Promise<PrometheusImportResult> {
  const { startMs, endMs, matchers } = opts;
  const windowMs = opts.windowMs ?? DEFAULT_IMPORT_WINDOW_MS;
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || endMs < startMs) throw new PrometheusImportError('the end of the range must not be before its start');
  if (!(windowMs >= 1000)) throw new PrometheusImportError(`the step window must be at least 1s, got ${windowMs}ms`);
  if (matchers.length === 0) throw new PrometheusImportError('give at least one series selector (--match)');
  const client = new Client(opts);

  const listed = await client.call(
    '/api/v1/series',
    [...matchers.map((m): [string, string] => ['match[]', m]), ['start', apiTime(startMs)], ['end', apiTime(endMs)]],
    `${matchers.join(', ')} from ${new Date(startMs).toISOString()} to ${new Date(endMs).toISOString()}`,
  );
  if (!Array.isArray(listed)) throw bad(`Prometheus at ${opts.url}: /api/v1/series`, 'data is not a list of series');

  const blocks: BlockWriteResult[] = [];
  let samples = 0;
  for (let day = dayStart(startMs); day <= endMs; day += DAY_MS) {
    const lo = Math.max(startMs, day);
    const hi = Math.min(endMs, day + DAY_MS - 1);
    const acc = new Map<string, { labels: Labels; ts: Float64Array[]; vs: Float64Array[] }>();
    for (let wLo = lo; wLo <= hi; wLo += windowMs) {
      const wHi = Math.min(hi, wLo + windowMs - 1);
      const seen = new Set<string>();
      for (const m of matchers) {
        const query = `${m}[${wHi - wLo + 1}ms]`;
        const what = `${query} at ${new Date(wHi).toISOString()}`;
        const data = await client.call('/api/v1/query', [['query', query], ['time', apiTime(wHi)]], what);
        for (const s of readMatrix(data, wLo, wHi, `Prometheus at ${opts.url}: /api/v1/query (${what})`)) {
          const k = labelsKey(s.labels);
          if (seen.has(k)) continue; // matched by an earlier selector too
          seen.add(k);
          let a = acc.get(k);
          if (!a) acc.set(k, (a = { labels: s.labels, ts: [], vs: [] }));
          a.ts.push(s.timestamps);
          a.vs.push(s.values);
        }
      }
    }
    if (acc.size === 0) {
      opts.onEmptyDay?.(day);
      continue;
    }
    const series: Series[] = [];
    for (const a of acc.values()) series.push({ labels: a.labels, timestamps: concat(a.ts), values: concat(a.vs), mayHaveStale: false });
    acc.clear();
    const r = await writeDayBlock(store, opts.prefix ?? '', day, series, { dataColumnMs: opts.dataColumnMs, rowGroupSize: opts.rowGroupSize });
    blocks.push(r);
    samples += r.samples;
    opts.onBlock?.(r, { startMs: day, partial: lo !== day || hi !== day + DAY_MS - 1 });
  }
  return { seriesListed: listed.length, blocks, samples, requests: client.requests };
}
