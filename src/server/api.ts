/**
 * The Prometheus HTTP query API over a `Queryable`, independent of the transport: a request
 * (method, path, raw query string, body) goes in, a status, headers and a JSON body come out.
 * `http.ts` puts it on node:http; tests may call `handle` directly.
 *
 * Endpoints (GET and form POST): /api/v1/query, /api/v1/query_range, /api/v1/series,
 * /api/v1/labels, /api/v1/label/<name>/values; GET: /api/v1/status/buildinfo,
 * /api/v1/metadata (always empty); GET and HEAD: /-/healthy, /-/ready.
 *
 * Parameters, defaults, error wording, errorTypes and status codes follow Prometheus's
 * web/api/v1 (checked byte for byte against Prometheus 2.42 in test/server/api.test.ts);
 * parameters 2.42 lacks (`lookback_delta`, `limit`) follow Prometheus 3. Deliberate
 * differences are listed in docs/api.md.
 */

import { Engine } from '../promql/engine.js';
import { ParseError, PromQLError, type ErrorType } from '../promql/errors.js';
import { parseExpr } from '../promql/parser.js';
import type { QueryResult } from '../promql/result.js';
import { compareLabels, labelsKey, METRIC_NAME, type Labels } from '../storage/labels.js';
import { matcher, type LabelMatcher } from '../storage/matchers.js';
import type { Queryable } from '../storage/queryable.js';
import { encodeError, encodeQueryResult, goJSONString, toApiError } from '../remote/json.js';
import { invalidParameter, parseDuration, parseTime } from '../cli/time.js';

// ---------------------------------------------------------------------------------------------
// Types

/** A request as the transport hands it over. */
export interface ApiRequest {
  /** HTTP method, upper case. */
  readonly method: string;
  /** The path as sent, percent-encoded, without the query string (`/api/v1/label/job/values`). */
  readonly path: string;
  /** The raw query string, without the `?` ('' when none). */
  readonly query: string;
  /** The Content-Type header, if any. */
  readonly contentType?: string;
  /** The request body (POST), already bounded in size by the transport. */
  readonly body?: Uint8Array;
  /** Aborted when the client goes away: the query is cancelled. */
  readonly signal?: AbortSignal;
  /** The Authorization header, if any (the daemon's API checks bearer tokens). */
  readonly authorization?: string;
  /** The client's address, for logs. */
  readonly remote?: string;
}

/** What to send back. `body` is '' for HEAD. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** For the request log: the errorType of an error response. */
  readonly errorType?: ErrorType;
  /** For the request log: the `query` or `match[]` parameters, when the endpoint has them. */
  readonly query?: string;
}

/** What `/api/v1/status/buildinfo` reports (Prometheus's field names). */
export interface BuildInfo {
  version: string;
  revision: string;
  branch: string;
  buildUser: string;
  buildDate: string;
  goVersion: string;
}

export interface ApiOptions {
  /** The data every endpoint reads. */
  readonly storage: Queryable;
  /** Default lookback delta, ms (5m). A request's `lookback_delta` overrides it. */
  readonly lookbackDeltaMs?: number;
  /** Most samples a query may hold (50 million). */
  readonly maxSamples?: number;
  /** Longest a query may run, ms (2m). A request's `timeout` can only shorten it. */
  readonly timeoutMs?: number;
  /** The clock: default query time and engine deadlines (Date.now). */
  readonly now?: () => number;
  /** Reported by /api/v1/status/buildinfo; missing fields are ''. */
  readonly buildInfo?: Partial<BuildInfo>;
}

// ---------------------------------------------------------------------------------------------
// Constants Prometheus's API uses

/** Most points per series a range query may ask for (`end.Sub(start)/step > 11000`). */
export const MAX_POINTS_PER_SERIES = 11_000;

/**
 * Prometheus's MinTime and MaxTime (web/api/v1), the default `start` and `end` of series and
 * label queries, in ms: `time.Unix(math.MinInt64/1000+62135596801, 0)` and
 * `time.Unix(math.MaxInt64/1000-62135596801, 999999999)`. Beyond 2^53, so approximate as
 * doubles; a store must treat them as "unbounded" rather than walk the range.
 */
export const MIN_TIME_MS = -9_223_309_901_257_974_000;
export const MAX_TIME_MS = 9_223_309_901_257_974_999;

/** How Go formats MinTime and MaxTime (RFC3339Nano); Prometheus's parseTime accepts these two. */
const MIN_TIME_FORMATTED = '-292273086-05-16T16:47:06Z';
const MAX_TIME_FORMATTED = '292277025-08-18T07:12:54.999999999Z';

/**
 * HTTP status per errorType: Prometheus 2.42's respondError, except `unavailable`, which
 * Prometheus sends as 500 (its default branch) and hmd as 503: for hmd it means that the store
 * could not be reached, which a retry may fix.
 */
export const STATUS_BY_ERROR_TYPE: Readonly<Record<ErrorType, number>> = {
  bad_data: 400,
  execution: 422,
  canceled: 503,
  timeout: 503,
  internal: 500,
  not_found: 404,
  unavailable: 503,
};

const JSON_HEADERS = { 'Content-Type': 'application/json' } as const;

const TRUNCATED = 'results truncated due to limit';

// ---------------------------------------------------------------------------------------------
// The API

type Handler = (form: Form, req: ApiRequest, route: Route) => Promise<Reply>;

interface Reply {
  /** The JSON body. */
  body: string;
  query?: string;
}

interface Route {
  handler: Handler;
  methods: readonly string[];
  /** The label name of /api/v1/label/<name>/values, percent-decoded. */
  param?: string;
}

/** The Prometheus query API over one store. */
export class PrometheusApi {
  private readonly storage: Queryable;
  private readonly lookbackDelta: number;
  private readonly maxSamples: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly buildInfo: BuildInfo;

  constructor(opts: ApiOptions) {
    this.storage = opts.storage;
    this.lookbackDelta = opts.lookbackDeltaMs ?? 5 * 60_000;
    this.maxSamples = opts.maxSamples ?? 50_000_000;
    this.timeoutMs = opts.timeoutMs ?? 2 * 60_000;
    this.now = opts.now ?? Date.now;
    this.buildInfo = { version: '', revision: '', branch: '', buildUser: '', buildDate: '', goVersion: '', ...opts.buildInfo };
  }

  /** Answers one request. Never throws: every failure becomes a JSON error response. */
  async handle(req: ApiRequest): Promise<ApiResponse> {
    const method = req.method.toUpperCase();
    let route: Route | undefined;
    try {
      route = this.route(req.path);
    } catch (err) {
      return errorResponse(err);
    }
    if (!route) {
      return errorResponse(new PromQLError('not_found', `no such endpoint: ${safeDecode(req.path)}`));
    }
    if (!route.methods.includes(method)) {
      const res = errorResponse(new PromQLError('bad_data', `method ${method} is not allowed for ${safeDecode(req.path)}; use ${route.methods.join(' or ')}`));
      return { ...res, status: 405, headers: { ...res.headers, Allow: route.methods.join(', ') } };
    }
    let form: Form | undefined;
    try {
      form = parseForm(method, req);
      const reply = await route.handler(form, req, route);
      return { status: 200, headers: JSON_HEADERS, body: method === 'HEAD' ? '' : reply.body, ...(reply.query !== undefined ? { query: reply.query } : {}) };
    } catch (e) {
      // Work cut short because the client went away is `canceled`, whatever the store threw.
      const cut = e instanceof PromQLError && (e.errorType === 'canceled' || e.errorType === 'timeout');
      const err = req.signal?.aborted && !cut ? new PromQLError('canceled', 'context canceled') : e;
      const res = errorResponse(err);
      const query = form ? logQuery(form) : undefined;
      return query !== undefined ? { ...res, query } : res;
    }
  }

  private route(rawPath: string): Route | undefined {
    const GET_POST = ['GET', 'POST'];
    switch (rawPath) {
      case '/api/v1/query':
        return { handler: (f, r) => this.instantQuery(f, r), methods: GET_POST };
      case '/api/v1/query_range':
        return { handler: (f, r) => this.rangeQuery(f, r), methods: GET_POST };
      case '/api/v1/series':
        return { handler: (f, r) => this.series(f, r), methods: GET_POST };
      case '/api/v1/labels':
        return { handler: (f, r) => this.labelNames(f, r), methods: GET_POST };
      case '/api/v1/metadata':
        return { handler: async (f) => metadata(f), methods: ['GET'] };
      case '/api/v1/status/buildinfo':
        return { handler: async () => ({ body: success(buildInfoJSON(this.buildInfo)) }), methods: ['GET'] };
      case '/-/healthy':
        return { handler: async () => ({ body: success(goJSONString('hmd is Healthy.')) }), methods: ['GET', 'HEAD'] };
      case '/-/ready':
        return { handler: async () => ({ body: success(goJSONString('hmd is Ready.')) }), methods: ['GET', 'HEAD'] };
    }
    const m = /^\/api\/v1\/label\/([^/]*)\/values$/.exec(rawPath);
    if (m) {
      let name: string;
      try {
        name = decodePathSegment(m[1]!);
      } catch {
        // A malformed escape or invalid UTF-8: not a label name (Go's own words differ).
        throw new PromQLError('bad_data', `invalid label name: ${JSON.stringify(m[1]!)}`);
      }
      return { handler: (f, r, route) => this.labelValues(f, r, route.param!), methods: GET_POST, param: name };
    }
    return undefined;
  }

  // --- queries ---------------------------------------------------------------------------------

  private engine(timeoutParam: number | undefined): Engine {
    return new Engine({
      lookbackDelta: this.lookbackDelta,
      maxSamples: this.maxSamples,
      timeoutMs: timeoutParam === undefined ? this.timeoutMs : Math.min(this.timeoutMs, timeoutParam),
      // The API checks the points per series itself, with Go's integer division; the engine's
      // own (float) check must not refuse what Prometheus accepts, e.g. 11000.5 steps.
      maxPointsPerSeries: MAX_POINTS_PER_SERIES + 1,
      now: this.now,
    });
  }

  /** `/api/v1/query`: query, time, timeout, lookback_delta, stats. */
  private async instantQuery(form: Form, req: ApiRequest): Promise<Reply> {
    const query = form.get('query');
    const time = timeParam(form, 'time', this.now());
    const timeout = timeoutParam(form);
    const lookbackDelta = lookbackDeltaParam(form);
    const result = await this.engine(timeout).instantQuery(this.storage, query, time, queryOptions(req.signal, lookbackDelta));
    return { body: queryBody(result, form), query };
  }

  /** `/api/v1/query_range`: query, start, end, step, timeout, lookback_delta, stats. */
  private async rangeQuery(form: Form, req: ApiRequest): Promise<Reply> {
    const query = form.get('query');
    const start = param('start', () => parseApiTime(form.get('start')));
    const end = param('end', () => parseApiTime(form.get('end')));
    if (end < start) throw invalidParameter('end', 'end timestamp must not be before start time');
    const step = param('step', () => parseDuration(form.get('step')));
    if (step <= 0) throw invalidParameter('step', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
    if (Math.trunc((end - start) / step) > MAX_POINTS_PER_SERIES) {
      throw new PromQLError('bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
    }
    const timeout = timeoutParam(form);
    const lookbackDelta = lookbackDeltaParam(form);
    let result: QueryResult;
    try {
      result = await this.engine(timeout).rangeQuery(this.storage, query, start, end, step, queryOptions(req.signal, lookbackDelta));
    } catch (err) {
      // Prometheus 2.42 reports a range query's parse errors without `invalid parameter "query": `.
      if (err instanceof ParseError) throw new PromQLError('bad_data', err.message);
      throw err;
    }
    return { body: queryBody(result, form), query };
  }

  // --- series and labels -----------------------------------------------------------------------

  /** `/api/v1/series`: match[] (required), start, end, limit. */
  private async series(form: Form, req: ApiRequest): Promise<Reply> {
    const matches = form.all('match[]');
    if (matches.length === 0) throw new PromQLError('bad_data', 'no match[] parameter provided');
    const limit = limitParam(form);
    const start = timeParam(form, 'start', MIN_TIME_MS);
    const end = timeParam(form, 'end', MAX_TIME_MS);
    let sets: LabelMatcher[][];
    try {
      sets = parseMatchersParam(matches);
    } catch (err) {
      throw invalidParameter('match[]', err);
    }
    const byKey = new Map<string, Labels>();
    const warnings: string[] = [];
    for (const matchers of sets) {
      checkSignal(req.signal);
      const res = await fromStore(this.storage.select({ matchers, mint: start, maxt: end, labelsOnly: true }, req.signal));
      if (res.warnings) warnings.push(...res.warnings);
      for (const s of res.series) byKey.set(labelsKey(s.labels), s.labels);
    }
    checkSignal(req.signal);
    let series = [...byKey.values()].sort(compareLabels);
    if (limit > 0 && series.length > limit) {
      series = series.slice(0, limit);
      warnings.push(TRUNCATED);
    }
    return { body: success('[' + series.map(labelsJSON).join(',') + ']', warnings), query: matches.join(' ') };
  }

  /** `/api/v1/labels`: match[], start, end, limit. */
  private async labelNames(form: Form, req: ApiRequest): Promise<Reply> {
    const limit = limitParam(form);
    const start = timeParam(form, 'start', MIN_TIME_MS);
    const end = timeParam(form, 'end', MAX_TIME_MS);
    return this.collect(form, req, limit, (matchers) => this.namesOf(matchers, start, end, req.signal));
  }

  /** `/api/v1/label/<name>/values`: match[], start, end, limit. */
  private async labelValues(form: Form, req: ApiRequest, rawName: string): Promise<Reply> {
    const name = rawName.startsWith('U__') ? unescapeName(rawName) : rawName;
    if (name === '' || !name.isWellFormed()) throw new PromQLError('bad_data', `invalid label name: ${JSON.stringify(name)}`);
    const limit = limitParam(form);
    const start = timeParam(form, 'start', MIN_TIME_MS);
    const end = timeParam(form, 'end', MAX_TIME_MS);
    return this.collect(form, req, limit, (matchers) => this.valuesOf(name, matchers, start, end, req.signal));
  }

  /** The union of `lookup` over each match[] selector (or over all series without one), as a sorted list. */
  private async collect(form: Form, req: ApiRequest, limit: number, lookup: (matchers: LabelMatcher[]) => Promise<Iterable<string>>): Promise<Reply> {
    const matches = form.all('match[]');
    const sets = bareMatchersParam(matches);
    const out = new Set<string>();
    for (const matchers of sets.length > 0 ? sets : [[]]) {
      checkSignal(req.signal);
      for (const x of await lookup(matchers)) out.add(x);
    }
    checkSignal(req.signal);
    return { body: stringList(out, limit), ...(matches.length > 0 ? { query: matches.join(' ') } : {}) };
  }

  /** Label names of the series matching `matchers`: the store's own lookup when it has one. */
  private async namesOf(matchers: LabelMatcher[], mint: number, maxt: number, signal: AbortSignal | undefined): Promise<Iterable<string>> {
    if (this.storage.labelNames) return fromStore(this.storage.labelNames(matchers, mint, maxt));
    const res = await fromStore(this.storage.select({ matchers, mint, maxt, labelsOnly: true }, signal));
    const out = new Set<string>();
    for (const s of res.series) for (const l of s.labels) out.add(l.name);
    return out;
  }

  private async valuesOf(name: string, matchers: LabelMatcher[], mint: number, maxt: number, signal: AbortSignal | undefined): Promise<Iterable<string>> {
    if (this.storage.labelValues) return fromStore(this.storage.labelValues(name, matchers, mint, maxt));
    // Without matchers, select the series that have the label at all.
    const ms = matchers.length > 0 ? matchers : [matcher('!=', name, '')];
    const res = await fromStore(this.storage.select({ matchers: ms, mint, maxt, labelsOnly: true }, signal));
    const out = new Set<string>();
    for (const s of res.series) for (const l of s.labels) if (l.name === name) out.add(l.value);
    return out;
  }
}

/**
 * `/api/v1/metadata` (GET; limit, limit_per_metric, metric): hmd keeps no metric metadata (TYPE,
 * HELP, UNIT), so the answer is always empty, as Prometheus's is for series it never scraped.
 * Here so that clients that ask (Grafana's metric browser) get an answer rather than a 404.
 */
async function metadata(form: Form): Promise<Reply> {
  for (const name of ['limit', 'limit_per_metric']) {
    const v = form.get(name);
    if (v !== '' && !/^[+-]?[0-9]+$/.test(v)) throw new PromQLError('bad_data', `${name} must be a number`);
  }
  return { body: success('{}') };
}

/**
 * A store's failure is the data's fault: `unavailable` naming what failed (as the engine reports
 * it for queries), unless the store gave an errorType itself.
 */
async function fromStore<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof PromQLError) throw e;
    throw new PromQLError('unavailable', e instanceof Error ? e.message : String(e));
  }
}

// ---------------------------------------------------------------------------------------------
// Responses

function success(data: string, warnings: readonly string[] = []): string {
  let out = '{"status":"success","data":' + data;
  if (warnings.length > 0) out += ',"warnings":[' + warnings.map(goJSONString).join(',') + ']';
  return out + '}';
}

/** The error response for an exception: Prometheus's body, status by errorType. */
export function errorResponse(err: unknown): ApiResponse {
  const { errorType } = toApiError(err);
  return { status: STATUS_BY_ERROR_TYPE[errorType] ?? 500, headers: JSON_HEADERS, body: encodeError(err), errorType };
}

function queryBody(result: QueryResult, form: Form): string {
  // Any non-empty `stats` adds the stats, as Prometheus's DefaultStatsRenderer does.
  return encodeQueryResult(result, { stats: form.get('stats') !== '' });
}

function labelsJSON(ls: Labels): string {
  let out = '{';
  for (let i = 0; i < ls.length; i++) {
    if (i > 0) out += ',';
    out += goJSONString(ls[i]!.name) + ':' + goJSONString(ls[i]!.value);
  }
  return out + '}';
}

/** Sorted strings, cut to `limit` (0: no limit) with Prometheus's warning. */
function stringList(set: Set<string>, limit: number): string {
  let list = [...set].sort(compareGoStrings);
  const warnings: string[] = [];
  if (limit > 0 && list.length > limit) {
    list = list.slice(0, limit);
    warnings.push(TRUNCATED);
  }
  return success('[' + list.map(goJSONString).join(',') + ']', warnings);
}

/** Go's string order: by UTF-8 bytes (JS's < compares UTF-16 units; the two differ above U+FFFF). */
function compareGoStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function buildInfoJSON(b: BuildInfo): string {
  const keys: (keyof BuildInfo)[] = ['version', 'revision', 'branch', 'buildUser', 'buildDate', 'goVersion'];
  return '{' + keys.map((k) => `"${k}":${goJSONString(b[k])}`).join(',') + '}';
}

/** The text the request log shows for a request: its query or selectors. */
function logQuery(form: Form): string | undefined {
  const q = form.all('query');
  if (q.length > 0) return q[0];
  const m = form.all('match[]');
  return m.length > 0 ? m.join(' ') : undefined;
}

// ---------------------------------------------------------------------------------------------
// Parameters

function param<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw invalidParameter(name, err);
  }
}

/** Prometheus's parseTime, plus the two boundary strings Go cannot parse back. */
function parseApiTime(s: string): number {
  if (s === MIN_TIME_FORMATTED) return MIN_TIME_MS;
  if (s === MAX_TIME_FORMATTED) return MAX_TIME_MS;
  return parseTime(s);
}

/** Prometheus's parseTimeParam: the default when absent or empty. */
function timeParam(form: Form, name: string, dflt: number): number {
  const v = form.get(name);
  if (v === '') return dflt;
  try {
    return parseApiTime(v);
  } catch (err) {
    throw invalidParameter(name, `Invalid time value for '${name}': ${(err as Error).message}`);
  }
}

function timeoutParam(form: Form): number | undefined {
  const v = form.get('timeout');
  if (v === '') return undefined;
  return param('timeout', () => parseDuration(v));
}

function lookbackDeltaParam(form: Form): number | undefined {
  const v = form.get('lookback_delta');
  if (v === '') return undefined;
  try {
    return parseDuration(v);
  } catch (err) {
    throw new PromQLError('bad_data', `error parsing lookback delta duration: ${(err as Error).message}`);
  }
}

/** Prometheus 3's parseLimitParam: strconv.Atoi, non-negative; 0 (or absent) is no limit. */
function limitParam(form: Form): number {
  const v = form.get('limit');
  if (v === '') return 0;
  if (!/^[+-]?[0-9]+$/.test(v)) throw invalidParameter('limit', `strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
  const n = BigInt(v);
  if (n > 9223372036854775807n || n < -9223372036854775808n) {
    throw invalidParameter('limit', `strconv.Atoi: parsing ${JSON.stringify(v)}: value out of range`);
  }
  if (n < 0n) throw invalidParameter('limit', 'limit must be non-negative');
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

function queryOptions(signal: AbortSignal | undefined, lookbackDelta: number | undefined): { signal?: AbortSignal; lookbackDelta?: number } {
  const o: { signal?: AbortSignal; lookbackDelta?: number } = {};
  if (signal) o.signal = signal;
  if (lookbackDelta !== undefined) o.lookbackDelta = lookbackDelta;
  return o;
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new PromQLError('canceled', 'context canceled');
}

// ---------------------------------------------------------------------------------------------
// Forms: Go's url.ParseQuery and Request.ParseForm, stricter about bodies

/** Decoded form values, in order: the POST body's first, then the URL's, as Go's r.Form. */
export class Form {
  private readonly values = new Map<string, string[]>();

  add(name: string, value: string): void {
    const list = this.values.get(name);
    if (list) list.push(value);
    else this.values.set(name, [value]);
  }

  /** The first value, or '' (Go's FormValue). */
  get(name: string): string {
    return this.values.get(name)?.[0] ?? '';
  }

  all(name: string): string[] {
    return this.values.get(name) ?? [];
  }
}

const FORM_TYPE = 'application/x-www-form-urlencoded';
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function formError(message: string): PromQLError {
  return new PromQLError('bad_data', `error parsing form values: ${message}`);
}

/**
 * Reads the URL's query string and, for POST, an `application/x-www-form-urlencoded` body.
 * Unlike Go (which skips what it cannot read), any malformed input is an error: a bad percent
 * escape or a `;` separator (Go's own errors), invalid UTF-8, or a body of another type.
 */
export function parseForm(method: string, req: Pick<ApiRequest, 'query' | 'contentType' | 'body'>): Form {
  const form = new Form();
  if (method === 'POST' && req.body && req.body.length > 0) {
    const ct = req.contentType ?? '';
    const [type, ...params] = ct.split(';').map((s) => s.trim());
    if (type!.toLowerCase() !== FORM_TYPE) {
      throw formError(
        ct === ''
          ? `a POST body needs Content-Type: ${FORM_TYPE}`
          : `unsupported Content-Type ${JSON.stringify(ct)}: send ${FORM_TYPE}`,
      );
    }
    for (const p of params) {
      const m = /^charset\s*=\s*"?([^"]*)"?$/i.exec(p);
      if (m && !/^utf-?8$/i.test(m[1]!)) throw formError(`unsupported charset ${JSON.stringify(m[1])}: send UTF-8`);
    }
    let text: string;
    try {
      text = utf8.decode(req.body);
    } catch {
      throw formError('the body is not valid UTF-8');
    }
    parseQueryInto(form, text);
  }
  parseQueryInto(form, req.query);
  return form;
}

/** Go's url.ParseQuery, appending to `form`; throws on the first malformed pair. */
function parseQueryInto(form: Form, query: string): void {
  for (const part of query.split('&')) {
    if (part === '') continue;
    if (part.includes(';')) throw formError('invalid semicolon separator in query');
    const eq = part.indexOf('=');
    const key = unescapeQuery(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : unescapeQuery(part.slice(eq + 1));
    form.add(key, value);
  }
}

/** Go's url.QueryUnescape (`+` is a space), then strict UTF-8. */
function unescapeQuery(s: string): string {
  if (!s.includes('%') && !s.includes('+')) {
    if (!s.isWellFormed()) throw formError('invalid UTF-8');
    return s;
  }
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw formError(`invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (c === '+') {
      bytes.push(0x20);
    } else {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of enc.encode(ch)) bytes.push(b);
      i += ch.length - 1;
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw formError(`invalid UTF-8 in ${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '...' : s)}`);
  }
}

/** Percent-decodes one path segment (Go decodes the path before routing); throws when malformed. */
function decodePathSegment(s: string): string {
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Error('bad escape');
      bytes.push(parseInt(h, 16));
      i += 2;
    } else {
      for (const b of enc.encode(c)) bytes.push(b);
    }
  }
  return utf8.decode(Uint8Array.from(bytes)); // throws on invalid UTF-8
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Prometheus 3's model.UnescapeName for the `U__` value-encoding escaping of UTF-8 label names
 * (`U__a_2e_b` is `a.b`, `__` is `_`); returns the name unchanged when it is not well formed.
 */
export function unescapeName(name: string): string {
  if (!name.startsWith('U__')) return name;
  const s = name.slice(3);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '_') {
      out += s[i];
      continue;
    }
    i++;
    if (i >= s.length) return name;
    if (s[i] === '_') {
      out += '_';
      continue;
    }
    let cp = 0;
    let j = 0;
    for (;;) {
      if (i >= s.length || j >= 6) return name;
      const c = s[i]!.toLowerCase();
      if (c === '_') break;
      const d = parseInt(c, 16);
      if (!/^[0-9a-f]$/.test(c)) return name;
      cp = cp * 16 + d;
      i++;
      j++;
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return name;
    out += String.fromCodePoint(cp);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// match[]: Prometheus's parser.ParseMetricSelector, on hmd's expression parser

const AGGREGATORS = new Set(['sum', 'avg', 'count', 'min', 'max', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'count_values', 'quantile', 'limitk', 'limit_ratio']);
const KEYWORDS = new Set(['offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'start', 'end']);
const WORD_OPERATORS = new Set(['and', 'or', 'unless', 'atan2']);
const EMPTY_SELECTOR = 'vector selector must contain at least one non-empty matcher';

/**
 * Parses every `match[]` value as a series selector (`metric{label="v"}`: no offset, @ or
 * range), then requires each to hold a matcher that does not match the empty string, as
 * Prometheus's parseMatchersParam does. Errors carry Prometheus's wording and positions.
 */
export function parseMatchersParam(values: readonly string[]): LabelMatcher[][] {
  const sets: LabelMatcher[][] = [];
  let empty = false;
  for (const v of values) {
    const ms = parseMetricSelector(v);
    if (ms === undefined) empty = true;
    else sets.push(ms);
  }
  if (!empty) {
    for (const ms of sets) if (ms.every((m) => m.matches(''))) empty = true;
  }
  if (empty) throw new PromQLError('bad_data', 'match[] must contain at least one non-empty matcher');
  return sets;
}

/** parseMatchersParam for /labels and /label/<name>/values, whose errors Prometheus does not prefix. */
function bareMatchersParam(values: readonly string[]): LabelMatcher[][] {
  try {
    return parseMatchersParam(values);
  } catch (err) {
    if (err instanceof ParseError) throw new PromQLError('bad_data', err.message);
    throw err;
  }
}

/**
 * One series selector. Returns undefined for a selector whose matchers all match the empty
 * string (`{}`, `{a=~".*"}`): Prometheus's metric-selector grammar accepts those and the API
 * then refuses them.
 */
export function parseMetricSelector(q: string): LabelMatcher[] | undefined {
  let i = skipSpace(q, 0);
  let name: { text: string; start: number } | undefined;
  const word = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(q.slice(i));
  if (word) {
    const lower = word[0].toLowerCase();
    if (lower === 'inf' || lower === 'nan') throw unexpectedAt(q, i);
    name = { text: word[0], start: i };
    i += word[0].length;
  }
  const j = skipSpace(q, i);
  if (q[j] === '{') {
    const close = closingBrace(q, j);
    if (close < 0) return selectorMatchers(q, name); // let the parser name what is unterminated
    i = close + 1;
  } else if (!name) {
    throw unexpectedAt(q, j);
  }
  const rest = skipSpace(q, i);
  if (rest < q.length) {
    selectorMatchers(q.slice(0, i), name); // errors inside the selector come first
    throw unexpectedAt(q, rest);
  }
  return selectorMatchers(q, name);
}

/** Parses a plain selector with the expression parser; a keyword as metric name is allowed. */
function selectorMatchers(src: string, name: { text: string; start: number } | undefined): LabelMatcher[] | undefined {
  let e;
  try {
    e = parseExpr(src);
  } catch (err) {
    if (err instanceof ParseError && err.message.endsWith(EMPTY_SELECTOR)) return undefined;
    const lower = name?.text.toLowerCase() ?? '';
    if (!name || !(AGGREGATORS.has(lower) || KEYWORDS.has(lower) || WORD_OPERATORS.has(lower))) throw err;
    // `sum{job="a"}` or `offset` name a metric here; parse with a plain name of the same length
    // (positions stay right), then put the real name back.
    const placeholder = 'x'.repeat(name.text.length);
    const alt = src.slice(0, name.start) + placeholder + src.slice(name.start + name.text.length);
    try {
      e = parseExpr(alt);
    } catch (err2) {
      if (err2 instanceof ParseError && err2.message.endsWith(EMPTY_SELECTOR)) return undefined;
      throw err2;
    }
    if (e.kind === 'VectorSelector') {
      return e.matchers.map((m) => (m.name === METRIC_NAME && m.type === '=' && m.value === placeholder ? matcher('=', METRIC_NAME, name.text) : m));
    }
  }
  if (e.kind !== 'VectorSelector' || e.offset !== 0 || e.at !== undefined) {
    // Not reached: the scan above keeps anything but a plain selector out.
    throw new ParseError('unexpected expression', 0, src.length, src);
  }
  return [...e.matchers];
}

function skipSpace(q: string, i: number): number {
  for (;;) {
    while (i < q.length && (q[i] === ' ' || q[i] === '\t' || q[i] === '\n' || q[i] === '\r')) i++;
    if (q[i] !== '#') return i;
    while (i < q.length && q[i] !== '\n') i++;
  }
}

/** Index of the `}` closing the brace at `open`, skipping quoted strings; -1 when none. */
function closingBrace(q: string, open: number): number {
  for (let i = open + 1; i < q.length; i++) {
    const c = q[i]!;
    if (c === '}') return i;
    if (c === '"' || c === "'" || c === '`') {
      const end = closingQuote(q, i);
      if (end < 0) return -1;
      i = end;
    }
  }
  return -1;
}

function closingQuote(q: string, open: number): number {
  const quote = q[open]!;
  for (let i = open + 1; i < q.length; i++) {
    if (q[i] === '\\' && quote !== '`') i++;
    else if (q[i] === quote) return i;
  }
  return -1;
}

/** Prometheus's "unexpected <token>" error (or its lexer's error) for the token at `i`. */
function unexpectedAt(q: string, i: number): ParseError {
  const err = (msg: string, len = 1) => new ParseError(msg, i, i + len, q);
  if (i >= q.length) return err('unexpected end of input', 0);
  const rest = q.slice(i);
  const c = rest[0]!;
  const word = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest)?.[0];
  if (word !== undefined) {
    const lower = word.toLowerCase();
    if (WORD_OPERATORS.has(lower)) return err(`unexpected <op:${word}>`, word.length);
    if (AGGREGATORS.has(lower)) return err(`unexpected <aggr:${word}>`, word.length);
    if (KEYWORDS.has(lower)) return err(`unexpected <${word}>`, word.length);
    if (lower === 'inf' || lower === 'nan') return err(`unexpected number ${goQuoteToken(word)}`, word.length);
    return err(`unexpected ${word.includes(':') ? 'metric identifier' : 'identifier'} ${JSON.stringify(word)}`, word.length);
  }
  const duration = /^[0-9]+(?:ms|[smhdwy])(?:[0-9]+(?:ms|[smhdwy]))*(?![a-zA-Z0-9_])/.exec(rest)?.[0];
  if (duration !== undefined) return err(`unexpected duration ${goQuoteToken(duration)}`, duration.length);
  const num = /^(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)/.exec(rest)?.[0];
  if (num !== undefined && num !== '') return err(`unexpected number ${goQuoteToken(num)}`, num.length);
  if (c === '"' || c === "'" || c === '`') {
    const end = closingQuote(q, i);
    if (end < 0) return err('unterminated quoted string');
    const tok = q.slice(i, end + 1);
    return err(`unexpected string ${goQuoteToken(tok)}`, tok.length);
  }
  const two = rest.slice(0, 2);
  if (two === '==' || two === '!=' || two === '<=' || two === '>=') return err(`unexpected <op:${two}>`, 2);
  if (c === '=' && rest[1] === '~') return err("unexpected character after '=': '~'");
  if (c === '!') return err(`unexpected character after '!': '${rest[1] ?? '\ufffd'}'`);
  if ('+-*/%^<>@'.includes(c)) return err(`unexpected <op:${c}>`);
  if ('([{,='.includes(c)) return err(`unexpected "${c}"`);
  // Prometheus's lexer reports an unbalanced ')' just after it.
  if (c === ')') return new ParseError("unexpected right parenthesis ')'", i + 1, i + 1, q);
  if (c === ']') return err("unexpected right bracket ']'");
  const ch = String.fromCodePoint(rest.codePointAt(0)!);
  return err(`unexpected character: '${ch}'`, ch.length);
}

/** Go's Item.String for a token: quoted, and cut to 10 characters with `...` when longer. */
function goQuoteToken(tok: string): string {
  const chars = [...tok];
  return chars.length > 10 ? JSON.stringify(chars.slice(0, 10).join('')) + '...' : JSON.stringify(tok);
}
