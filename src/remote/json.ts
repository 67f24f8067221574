/**
 * The Prometheus HTTP API JSON codec: query results and errors as `/api/v1/query` and
 * `/api/v1/query_range` write them, and the way back from such a body to a `QueryValue`.
 * The CLI's `--output json`, `hmd serve` and the fan-out client all go through here, so the
 * bytes match Prometheus's (checked against Prometheus 2.42, the Debian 12 package):
 *
 * - sample values are strings: `strconv.FormatFloat(f, 'f', -1, 64)` except that values with
 *   |f| < 1e-6 or |f| >= 1e21 use `'e'` (`"1e-07"`, `"1e+21"`), as Prometheus's jsoniter
 *   encoder does; `NaN`, `+Inf`, `-Inf`, `-0`. A *scalar* result is always `'f'` (Prometheus's
 *   `Scalar.MarshalJSON`), so `1e-7` is `"0.0000001"` there;
 * - vector and matrix timestamps are seconds with the milliseconds written out (`1.500`,
 *   `1435781451.781`, `100`); scalar and string timestamps are plain JSON numbers (`1.5`);
 * - label objects keep the label set's order (sorted by name, as Go sorts map keys), and
 *   strings are escaped as Go's encoding/json does (`<`, `>`, `&`, U+2028, U+2029, `\b`, `\f`
 *   as `\u....`).
 */

import type { QueryResult, QueryStats, QueryValue, ResultSeries, Sample } from '../promql/result.js';
import { ParseError, PromQLError, type ErrorType } from '../promql/errors.js';
import { labelsFromRecord, type Labels } from '../storage/labels.js';
import { formatE, formatF, parseFloat } from '../util/gofloat.js';

// ---------------------------------------------------------------------------------------------
// Numbers

// The codec's number syntax is Go's, from util/gofloat; re-exported under the names the codec's tests use.
export { formatF as formatFloatF, parseFloat as parseGoFloat } from '../util/gofloat.js';

/**
 * A sample value as Prometheus writes it in vectors and matrices (its jsoniter encoder,
 * jsonutil.MarshalFloat): `'f'` formatting, but `'e'` with a two-digit exponent (`1e-07`,
 * `1.5e+300`) when |f| < 1e-6 or |f| >= 1e21.
 */
export function formatSampleValue(f: number): string {
  const a = Math.abs(f);
  return a !== 0 && (a < 1e-6 || a >= 1e21) ? formatE(f) : formatF(f);
}

/** A millisecond timestamp as Prometheus writes points: seconds, with `.mmm` when not whole. */
export function formatTimestamp(ms: number): string {
  let t = Math.round(ms);
  let sign = '';
  if (t < 0) {
    sign = '-';
    t = -t;
  }
  const frac = t % 1000;
  const secs = (t - frac) / 1000;
  if (frac === 0) return sign + secs;
  return sign + secs + '.' + (frac < 10 ? '00' : frac < 100 ? '0' : '') + frac;
}

// ---------------------------------------------------------------------------------------------
// Strings

const GO_ESCAPED = /[<>&\u2028\u2029\b\f]/;

/** A JSON string literal exactly as Go's encoding/json writes it (HTML-safe). */
export function goJSONString(s: string): string {
  // Invalid UTF-8 bytes travel as lone surrogates; Go's encoder writes U+FFFD for them.
  if (!s.isWellFormed()) s = s.toWellFormed();
  const json = JSON.stringify(s);
  if (!GO_ESCAPED.test(s)) return json;
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case '<':
        out += '\\u003c';
        break;
      case '>':
        out += '\\u003e';
        break;
      case '&':
        out += '\\u0026';
        break;
      case '\u2028':
        out += '\\u2028';
        break;
      case '\u2029':
        out += '\\u2029';
        break;
      case '\b':
        out += '\\u0008';
        break;
      case '\f':
        out += '\\u000c';
        break;
      default:
        out += JSON.stringify(ch).slice(1, -1);
    }
  }
  return out + '"';
}

function stringArray(a: readonly string[]): string {
  return '[' + a.map(goJSONString).join(',') + ']';
}

function labelsJSON(ls: Labels): string {
  // Label sets are sorted by name, which is the order Go gives map keys (it sorts by bytes;
  // the two differ only between a BMP character above U+E000 and an astral one).
  let out = '{';
  for (let i = 0; i < ls.length; i++) {
    if (i > 0) out += ',';
    out += goJSONString(ls[i]!.name) + ':' + goJSONString(ls[i]!.value);
  }
  return out + '}';
}

// ---------------------------------------------------------------------------------------------
// Encoding

export interface EncodeOptions {
  /** Add `data.stats` as Prometheus's `stats=all` does (plus hmd's storage counters). */
  stats?: boolean;
  /** Engines that did not answer a distributed query: adds `partialResponse` (the answer is incomplete). */
  missingEngines?: readonly string[];
}

/** `{"status":"success","data":{"resultType":...,"result":...}}` for a query result. */
export function encodeQueryResult(result: QueryResult, opts: EncodeOptions = {}): string {
  const v = result.value;
  let out = '{"status":"success","data":{"resultType":"' + v.type + '","result":' + encodeValue(v);
  if (opts.stats) out += ',"stats":' + encodeStats(result.stats);
  out += '}';
  if (result.warnings.length > 0) out += ',"warnings":' + stringArray(result.warnings);
  if (result.infos.length > 0) out += ',"infos":' + stringArray(result.infos);
  // hmd's own member: clients that do not know it ignore it, the decision engine must not.
  if (opts.missingEngines && opts.missingEngines.length > 0) out += ',"partialResponse":{"missingEngines":' + stringArray(opts.missingEngines) + '}';
  return out + '}';
}

/** The `result` member alone, for one value. */
export function encodeValue(v: QueryValue): string {
  switch (v.type) {
    case 'scalar':
      return '[' + String(v.t / 1000) + ',"' + formatF(v.v) + '"]';
    case 'string':
      return '[' + String(v.t / 1000) + ',' + goJSONString(v.v) + ']';
    case 'vector':
      return '[' + v.samples.map(sampleJSON).join(',') + ']';
    case 'matrix':
      return '[' + v.series.map(seriesJSON).join(',') + ']';
  }
}

function sampleJSON(s: Sample): string {
  return '{"metric":' + labelsJSON(s.labels) + ',"value":[' + formatTimestamp(s.t) + ',"' + formatSampleValue(s.v) + '"]}';
}

function seriesJSON(s: ResultSeries): string {
  const { timestamps: ts, values: vs } = s;
  const points = new Array<string>(ts.length);
  for (let i = 0; i < ts.length; i++) points[i] = '[' + formatTimestamp(ts[i]!) + ',"' + formatSampleValue(vs[i]!) + '"]';
  return '{"metric":' + labelsJSON(s.labels) + ',"values":[' + points.join(',') + ']}';
}

/**
 * Prometheus's `stats=all` object. Its fields are filled from hmd's counters:
 * queryPreparationTime = storage selects, innerEvalTime = evaluation, evalTotalTime = both,
 * execTotalTime = parse + both; totalQueryableSamples = samples the evaluator scanned.
 * hmd's own counters (series and samples fetched from storage, bytes read, parse time) come
 * under `"hmd"`, which Prometheus clients ignore.
 */
export function encodeStats(s: QueryStats): string {
  const sec = (ms: number) => formatSampleValue(ms / 1000);
  const { parseMs, selectMs, evalMs } = s.timings;
  return (
    '{"timings":{' +
    `"evalTotalTime":${sec(selectMs + evalMs)},"resultSortTime":0,"queryPreparationTime":${sec(selectMs)},` +
    `"innerEvalTime":${sec(evalMs)},"execQueueTime":0,"execTotalTime":${sec(parseMs + selectMs + evalMs)}},` +
    `"samples":{"totalQueryableSamples":${s.totalSamples},"peakSamples":${s.peakSamples}},` +
    `"hmd":{"seriesFetched":${s.seriesFetched},"samplesFetched":${s.samplesFetched},"bytesRead":${s.bytesRead},"parseTime":${sec(parseMs)}}}`
  );
}

/** The errorType and message an API response carries for an exception. */
export interface ApiError {
  errorType: ErrorType;
  error: string;
}

/**
 * How the API reports an exception: a `PromQLError` keeps its type, a parse error is
 * prefixed `invalid parameter "query": ` as Prometheus's API does, anything else is
 * `internal`.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ParseError) return { errorType: err.errorType, error: `invalid parameter "query": ${err.message}` };
  if (err instanceof PromQLError) return { errorType: err.errorType, error: err.message };
  return { errorType: 'internal', error: err instanceof Error ? err.message : String(err) };
}

/** `{"status":"error","errorType":...,"error":...}` for an exception. */
export function encodeError(err: unknown, extra: { warnings?: readonly string[]; infos?: readonly string[] } = {}): string {
  const e = toApiError(err);
  let out = '{"status":"error","errorType":' + goJSONString(e.errorType) + ',"error":' + goJSONString(e.error);
  if (extra.warnings && extra.warnings.length > 0) out += ',"warnings":' + stringArray(extra.warnings);
  if (extra.infos && extra.infos.length > 0) out += ',"infos":' + stringArray(extra.infos);
  return out + '}';
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** A response body that is not a well-formed Prometheus API answer. */
export class BadResponseError extends PromQLError {
  constructor(message: string) {
    super('internal', `bad response: ${message}`);
    this.name = 'BadResponseError';
  }
}

export interface DecodedQueryResponse {
  readonly value: QueryValue;
  readonly warnings: string[];
  readonly infos: string[];
  /** `data.stats` as sent, when present (not validated). */
  readonly stats?: unknown;
}

const ERROR_TYPES: ReadonlySet<string> = new Set<ErrorType>([
  'bad_data',
  'execution',
  'timeout',
  'canceled',
  'internal',
  'unavailable',
  'not_found',
]);

/**
 * Reads a `/api/v1/query` or `/api/v1/query_range` body (text or parsed JSON) back into a
 * value with typed arrays. A `"status":"error"` body is thrown as a `PromQLError` with the
 * server's errorType (an errorType hmd does not know becomes `internal`, named in the
 * message); a malformed body throws `BadResponseError` naming the offending path.
 * Native histograms are not supported yet and are rejected.
 */
export function decodeQueryResponse(body: unknown): DecodedQueryResponse {
  let doc = body;
  if (typeof body === 'string') {
    try {
      doc = JSON.parse(body);
    } catch (err) {
      throw new BadResponseError(`body is not JSON: ${(err as Error).message}`);
    }
  }
  const root = object(doc, 'body');
  const warnings = optionalStrings(root['warnings'], 'warnings');
  const infos = optionalStrings(root['infos'], 'infos');
  const status = root['status'];
  if (status === 'error') {
    const type = str(root['errorType'], 'errorType');
    const message = str(root['error'], 'error');
    if (ERROR_TYPES.has(type)) throw new PromQLError(type as ErrorType, message);
    throw new PromQLError('internal', `${type}: ${message}`);
  }
  if (status !== 'success') throw new BadResponseError(`status: expected "success" or "error", got ${show(status)}`);
  const data = object(root['data'], 'data');
  const resultType = data['resultType'];
  const result = data['result'];
  let value: QueryValue;
  switch (resultType) {
    case 'scalar': {
      const [t, v] = point(result, 'data.result');
      value = { type: 'scalar', t, v };
      break;
    }
    case 'string': {
      const p = array(result, 'data.result');
      if (p.length !== 2) throw new BadResponseError(`data.result: expected [timestamp, "string"], got ${show(p)}`);
      value = { type: 'string', t: timestamp(p[0], 'data.result[0]'), v: str(p[1], 'data.result[1]') };
      break;
    }
    case 'vector':
      value = { type: 'vector', samples: array(result, 'data.result').map(decodeSample) };
      break;
    case 'matrix':
      value = { type: 'matrix', series: array(result, 'data.result').map(decodeSeries) };
      break;
    default:
      throw new BadResponseError(`data.resultType: expected "vector", "matrix", "scalar" or "string", got ${show(resultType)}`);
  }
  const out: { value: QueryValue; warnings: string[]; infos: string[]; stats?: unknown } = { value, warnings, infos };
  if (data['stats'] !== undefined) out.stats = data['stats'];
  return out;
}

function decodeSample(x: unknown, i: number): Sample {
  const path = `data.result[${i}]`;
  const o = object(x, path);
  if (o['histogram'] !== undefined) throw new BadResponseError(`${path}: native histograms are not supported`);
  const [t, v] = point(o['value'], `${path}.value`);
  return { labels: metric(o['metric'], `${path}.metric`), t, v };
}

function decodeSeries(x: unknown, i: number): ResultSeries {
  const path = `data.result[${i}]`;
  const o = object(x, path);
  if (o['histograms'] !== undefined) throw new BadResponseError(`${path}: native histograms are not supported`);
  const pts = array(o['values'], `${path}.values`);
  const timestamps = new Float64Array(pts.length);
  const values = new Float64Array(pts.length);
  for (let j = 0; j < pts.length; j++) {
    const [t, v] = point(pts[j], `${path}.values[${j}]`);
    timestamps[j] = t;
    values[j] = v;
  }
  return { labels: metric(o['metric'], `${path}.metric`), timestamps, values };
}

function metric(x: unknown, path: string): Labels {
  const o = object(x, path);
  const rec: Record<string, string> = Object.create(null); // a label may be called __proto__
  for (const k of Object.keys(o)) rec[k] = str(o[k], `${path}.${k}`);
  return labelsFromRecord(rec);
}

function point(x: unknown, path: string): [number, number] {
  const p = array(x, path);
  if (p.length !== 2) throw new BadResponseError(`${path}: expected [timestamp, "value"], got ${show(p)}`);
  const s = p[1];
  const v = typeof s === 'string' ? parseFloat(s) : undefined;
  if (v === undefined) throw new BadResponseError(`${path}[1]: expected a string holding a float, got ${show(s)}`);
  return [timestamp(p[0], `${path}[0]`), v];
}

function timestamp(x: unknown, path: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new BadResponseError(`${path}: expected a timestamp in seconds, got ${show(x)}`);
  return Math.round(x * 1000);
}

function object(x: unknown, path: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new BadResponseError(`${path}: expected an object, got ${show(x)}`);
  return x as Record<string, unknown>;
}

function array(x: unknown, path: string): unknown[] {
  if (!Array.isArray(x)) throw new BadResponseError(`${path}: expected an array, got ${show(x)}`);
  return x;
}

function str(x: unknown, path: string): string {
  if (typeof x !== 'string') throw new BadResponseError(`${path}: expected a string, got ${show(x)}`);
  return x;
}

function optionalStrings(x: unknown, path: string): string[] {
  if (x === undefined || x === null) return [];
  return array(x, path).map((s, i) => str(s, `${path}[${i}]`));
}

function show(x: unknown): string {
  if (x === undefined) return 'nothing';
  const s = JSON.stringify(x);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}
