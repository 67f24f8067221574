/**
 * `hmd serve`: the Prometheus HTTP query API (src/server/api.ts on src/server/http.ts).
 *
 * 1. parity: generated SLI data (off the query grid, test/helpers/sli-data.ts) goes into an hmd
 *    server (in-process, MemoryStore) and, backfilled with promtool, into Debian's Prometheus 2.42;
 *    both run on 127.0.0.1. Every endpoint, by GET and by POST, and every error Prometheus 2.42
 *    also has must give the same status, Content-Type and body, byte for byte; float results
 *    that 2.42 sums differently (no Kahan) agree within 1e-9; promtool as a client prints the
 *    same for both. Skipped without the binaries, except under CI=true (a failure).
 * 2. hmd: what 2.42 cannot show (3.x parameters, the deliberate differences in docs/api.md),
 *    bad HTTP input, each errorType with its status, cancellation when the client goes away,
 *    timeouts, gzip, graceful close.
 * 3. cli: `hmd serve` as a child process: listens, logs a line per request, stops on SIGTERM;
 *    its usage errors.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PromQLError } from '../../src/promql/errors.js';
import { decodeQueryResponse } from '../../src/remote/json.js';
import { PrometheusApi, unescapeName, type ApiOptions } from '../../src/server/api.js';
import { startHttpServer, type RunningServer } from '../../src/server/http.js';
import type { MemoryStore } from '../../src/storage/memory.js';
import type { Queryable, SelectRequest, SelectResult } from '../../src/storage/queryable.js';
import { havePrometheus, prometheusTest, PROMTOOL_BIN, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { generateSliData, toMemoryStore, toOpenMetrics, type SliData } from '../helpers/sli-data.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// --- data -------------------------------------------------------------------------------------

const START = Date.UTC(2025, 5, 12, 10, 0, 0);
const at = (h: number, m: number) => Date.UTC(2025, 5, 12, h, m, 0) / 1000;
/** 10:00 to 11:10, two datacenters of two instances; dc2-a is not scraped 10:38:30-10:50:30. */
const DATA_OPTS = { seed: 424242, startMs: START, durationMs: 70 * 60_000, datacenters: 2, instancesPerDc: 2 } as const;
/** Before and after all the data: series and label queries over this range see everything in both. */
const ALL = { start: String(at(9, 0)), end: String(at(12, 0)) };

let data: SliData | undefined;
function sliData(): SliData {
  data ??= generateSliData(DATA_OPTS);
  return data;
}
let store: MemoryStore | undefined;
function memoryStore(): MemoryStore {
  store ??= toMemoryStore(sliData());
  return store;
}

// --- an hmd server in-process ------------------------------------------------------------------

interface Hmd {
  server: RunningServer;
  url: string;
  logs: string[];
}

async function startHmd(opts: Partial<ApiOptions> = {}, http: { maxBodyBytes?: number } = {}): Promise<Hmd> {
  const api = new PrometheusApi({ storage: memoryStore(), buildInfo: { version: '9.9.9-test' }, ...opts });
  const logs: string[] = [];
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, handler: (r) => api.handle(r), log: (l) => logs.push(l), ...http });
  return { server, url: server.url, logs };
}

// --- requests ---------------------------------------------------------------------------------

type Params = [string, string][];

interface Res {
  status: number;
  type: string | null;
  body: string;
  headers: Headers;
}

async function call(base: string, method: string, path: string, params: Params = [], init: RequestInit = {}): Promise<Res> {
  const qs = new URLSearchParams(params).toString();
  const res =
    method === 'GET' || method === 'HEAD'
      ? await fetch(`${base}${path}${qs ? '?' + qs : ''}`, { method, ...init })
      : await fetch(`${base}${path}`, {
          method,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: qs,
          ...init,
        });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text(), headers: res.headers };
}

/** An hmd response: always JSON. */
async function hmdCall(base: string, method: string, path: string, params: Params = [], init: RequestInit = {}): Promise<Res> {
  const r = await call(base, method, path, params, init);
  assert.is(r.type, 'application/json', `Content-Type of ${method} ${path}`);
  return r;
}

function json(r: Res): { status: string; data?: unknown; errorType?: string; error?: string; warnings?: string[] } {
  return JSON.parse(r.body);
}

function assertError(r: Res, status: number, errorType: string, message?: string | RegExp): void {
  assert.is(r.status, status, r.body);
  assert.is(r.type, 'application/json');
  const b = json(r);
  assert.is(b.status, 'error');
  assert.is(b.errorType, errorType, r.body);
  if (typeof message === 'string') assert.is(b.error, message);
  else if (message) assert.match(b.error!, message);
}

/** A raw HTTP/1.1 exchange on a socket, for what fetch will not send. */
function rawHttp(port: number, text: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    sock.on('data', (b) => (out += b.toString()));
    sock.on('end', () => resolve(out));
    sock.on('close', () => resolve(out));
    sock.on('error', (e) => (out ? resolve(out) : reject(e)));
    sock.write(text);
    setTimeout(() => sock.destroy(), 5000).unref();
  });
}

// --- stores that misbehave on purpose -----------------------------------------------------------

/** Waits `delayMs` in every select (cancellable), then answers from the SLI store. */
class SlowStore implements Queryable {
  aborted = 0;
  started = 0;
  constructor(private readonly delayMs: number) {}
  async select(req: SelectRequest, signal?: AbortSignal): Promise<SelectResult> {
    this.started++;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, this.delayMs);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          this.aborted++;
          reject(new Error('aborted'));
        },
        { once: true },
      );
    });
    return memoryStore().select(req);
  }
}

/** Fails every call with `err`. */
function failingStore(err: Error): Queryable {
  return {
    select: async () => {
      throw err;
    },
    labelNames: async () => {
      throw err;
    },
    labelValues: async () => {
      throw err;
    },
  };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// =============================================================================================
// 1. Parity with Prometheus 2.42

interface Case {
  path: string;
  params: Params;
  /** GET, POST or both (default). */
  methods?: ('GET' | 'POST')[];
}

const T1 = String(at(10, 30));
const T2 = String(at(11, 0));
const T_GAP = String(at(10, 45));
const RANGE = { start: String(at(10, 20)), end: String(at(11, 0)), step: '60' };

const q = (query: string, time = T1, extra: Params = []): Case => ({ path: '/api/v1/query', params: [['query', query], ['time', time], ...extra] });
const qr = (query: string, extra: Params = []): Case => ({
  path: '/api/v1/query_range',
  params: [['query', query], ['start', RANGE.start], ['end', RANGE.end], ['step', RANGE.step], ...extra],
});
const series = (...params: Params): Case => ({ path: '/api/v1/series', params });
const labels = (...params: Params): Case => ({ path: '/api/v1/labels', params });
const values = (name: string, ...params: Params): Case => ({ path: `/api/v1/label/${name}/values`, params, methods: ['GET'] });

/** Deterministic answers: the same bytes from both (exact values, no float sums). */
const SUCCESS: Case[] = [
  q('http_requests_total{instance="dc1-a"}'),
  q('http_requests_total{instance="dc1-a",code="500"}[2m]'),
  q('count by (datacenter) (up)', T_GAP),
  q('up == 0', T_GAP),
  q('max by (code) (http_requests_total)', T2),
  q('sort_desc(topk(3, http_requests_total))', T2),
  q('timestamp(up{instance="dc2-b"})'),
  q('last_over_time(node_cpu_utilization{instance="dc1-b"}[1m])'),
  q('-app_queue_depth'),
  q('absent(nothing_here)'),
  q('time()', '1749724200.123'),
  q('1.5e-7'),
  q('"a string"'),
  q('http_requests_total{instance="dc1-a",code="500"}', '2025-06-12T10:30:00.5Z'),
  q('up', '2025-06-12T12:30:00+02:00'),
  q('http_requests_total{code="nope"}'),
  qr('up{datacenter="dc2"}'),
  qr('count(http_requests_total)'),
  qr('max_over_time(app_queue_depth{instance="dc1-a"}[5m])'),
  qr('5'),
  { path: '/api/v1/query_range', params: [['query', 'up{instance="dc1-a"}'], ['start', RANGE.start], ['end', String(at(10, 21) + 0.5)], ['step', '15.5']] },
  series(['match[]', 'up']),
  series(['match[]', 'http_requests_total{instance="dc1-a"}'], ['match[]', 'http_requests_total{code="500"}']),
  series(['match[]', 'up'], ['match[]', 'up{datacenter="dc1"}'], ['start', ALL.start], ['end', ALL.end]),
  series(['match[]', 'http_requests_total{instance="dc1-a"}'], ['start', T1], ['end', T2]),
  series(['match[]', '{__name__=~"node_.*|app_.*", instance=~"dc2.*"}']),
  series(['match[]', 'nothing_here']),
  series(['match[]', 'sum']),
  series(['match[]', 'up # a comment']),
  labels(),
  labels(['match[]', 'up']),
  labels(['match[]', 'http_request_duration_seconds_bucket'], ['match[]', 'service_build_info']),
  labels(['start', ALL.start], ['end', ALL.end]),
  labels(['match[]', 'nothing_here']),
  values('instance'),
  values('__name__'),
  values('%5F_name__'),
  values('code', ['match[]', 'http_requests_total{instance="dc2-b"}'], ['match[]', 'nothing']),
  values('le', ['start', ALL.start], ['end', ALL.end]),
  values('nope'),
  { path: '/api/v1/metadata', params: [], methods: ['GET'] },
  { path: '/api/v1/metadata', params: [['metric', 'up'], ['limit', '5']], methods: ['GET'] },
];

/** Errors Prometheus 2.42 has too: the same status and bytes. */
const ERRORS: Case[] = [
  q('up', 'x'),
  q('up', '2025-06-12 10:30:00'),
  { path: '/api/v1/query', params: [] },
  q(''),
  q('sum(', T1),
  q('rate(up)'),
  q('up{a="b"', T1),
  q('nope(up)'),
  q('up', T1, [['timeout', 'x']]),
  q('up', T1, [['timeout', '-1s']]),
  q('label_replace(http_requests_total, "instance", "x", "", "")'),
  { path: '/api/v1/query_range', params: [['query', 'up']] },
  { path: '/api/v1/query_range', params: [['query', 'up'], ['start', 'x'], ['end', T2], ['step', '60']] },
  { path: '/api/v1/query_range', params: [['query', 'up'], ['start', T1], ['end', '2025-13-01T00:00:00Z'], ['step', '60']] },
  { path: '/api/v1/query_range', params: [['query', 'up'], ['start', T2], ['end', T1], ['step', '60']] },
  { path: '/api/v1/query_range', params: [['query', 'up'], ['start', T1], ['end', T2], ['step', '0']] },
  { path: '/api/v1/query_range', params: [['query', 'up'], ['start', T1], ['end', T2], ['step', '-5']] },
  { path: '/api/v1/query_range', params: [['query', 'up'], ['start', T1], ['end', T2], ['step', 'x']] },
  { path: '/api/v1/query_range', params: [['query', 'up'], ['start', '0'], ['end', '11001'], ['step', '1']] },
  qr('sum('),
  qr('"a string"'),
  qr('up[5m]'),
  qr('up', [['timeout', 'soon']]),
  series(),
  series(['start', T1]),
  ...['', '  ', 'up[5m]', 'sum(up)', 'rate(up[5m])', '{}', '{a=~".*"}', 'up{', '1', '-up', '(up)', 'up offset 5m', 'up and up', 'up == 1',
    'up{a="b"}[5m]', 'sum by (a) (up)', 'up{a="x"} {b="c"}', 'up)', 'up,', 'up 5m', 'up "hello world"', 'up 123456789012', 'up .', 'up ]',
    'up }', 'up =', 'up =~', 'up !', 'a:b c:d', 'Inf', 'up AND', 'up{a=~"("}', 'foo bar', '"foo"', 'up{a="b"'].map((m) => series(['match[]', m])),
  series(['match[]', '{a=~".*"}'], ['match[]', 'up{']),
  series(['match[]', 'up'], ['match[]', '{a=""}']),
  series(['match[]', 'up'], ['start', 'x']),
  series(['match[]', 'up'], ['end', 'x']),
  labels(['match[]', '']),
  labels(['match[]', '{a=""}']),
  labels(['match[]', 'up offset 1m']),
  labels(['start', 'x']),
  labels(['end', 'tomorrow']),
  values('code', ['match[]', '']),
  values('code', ['match[]', 'up'], ['start', 'x']),
  values('code', ['end', '1e']),
  { path: '/api/v1/metadata', params: [['limit', 'x']], methods: ['GET'] },
];

/** Float answers 2.42 computes with other summation: decoded, values within a relative 1e-9. */
const NUMERIC: Case[] = [
  q('sum by (datacenter) (rate(http_requests_total[5m]))', T2),
  q('histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))', T2),
  qr('sum by (code) (rate(http_requests_total{code=~"5.."}[5m])) / ignoring(code) group_left sum(rate(http_requests_total[5m]))'),
  qr('avg(node_cpu_utilization)'),
];

function methodsOf(c: Case): ('GET' | 'POST')[] {
  return c.methods ?? ['GET', 'POST'];
}

function describe(method: string, c: Case): string {
  return `${method} ${c.path} ${new URLSearchParams(c.params).toString()}`;
}

const parity = suite('parity with Prometheus 2.42');
const P: { prom?: PrometheusServer; hmd?: Hmd } = {};

parity.before(async () => {
  if (!havePrometheus()) return;
  P.hmd = await startHmd();
  P.prom = await startPrometheus({ openMetrics: toOpenMetrics(sliData()) });
});

parity.after(async () => {
  await P.hmd?.server.close(1000);
  await P.prom?.stop();
});

async function compareBytes(c: Case): Promise<number> {
  let n = 0;
  for (const m of methodsOf(c)) {
    const [h, p] = await Promise.all([hmdCall(P.hmd!.url, m, c.path, c.params), call(P.prom!.url, m, c.path, c.params)]);
    const what = describe(m, c);
    assert.is(h.status, p.status, `${what}: status\n  hmd:  ${h.body}\n  prom: ${p.body}`);
    assert.is(h.type, p.type, `${what}: content type`);
    assert.is(h.body, p.body, `${what}: body`);
    n++;
  }
  return n;
}

prometheusTest(parity, 'successful answers are the same bytes (GET and POST)', async () => {
  let n = 0;
  for (const c of SUCCESS) n += await compareBytes(c);
  assert.ok(n > 70);
  // The cases do find data (not all empty answers).
  const r = json(await hmdCall(P.hmd!.url, 'GET', '/api/v1/series', [['match[]', 'up']]));
  assert.is((r.data as unknown[]).length, 4);
});

prometheusTest(parity, 'error answers are the same bytes: status, errorType, message', async () => {
  let n = 0;
  for (const c of ERRORS) {
    n += await compareBytes(c);
    const r = await hmdCall(P.hmd!.url, 'GET', c.path, c.params);
    assert.is(json(r).status, 'error', describe('GET', c));
  }
  assert.ok(n > 90);
});

prometheusTest(parity, 'form bodies and the URL: the body wins, match[] from both', async () => {
  const cases: [string, string, string][] = [
    ['/api/v1/query', 'query=2&time=5', 'query=1&time=7'],
    ['/api/v1/series', 'match[]=up{instance="dc1-a"}', 'match[]=up{instance="dc2-b"}'],
    ['/api/v1/labels', 'match[]=service_build_info', 'match[]=up'],
    ['/api/v1/series', 'match[]=%zz', ''],
    ['/api/v1/series', 'match[]=up;x', ''],
    ['/api/v1/series', '', 'match[]=up;x'],
    ['/api/v1/series', '', 'match[]=%7'],
  ];
  for (const [path, body, query] of cases) {
    const init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body };
    const url = `${path}${query ? '?' + query : ''}`;
    const [h, p] = await Promise.all([fetch(P.hmd!.url + url, init), fetch(P.prom!.url + url, init)]);
    const [hb, pb] = await Promise.all([h.text(), p.text()]);
    assert.is(h.status, p.status, `${url} ${body}: ${hb}`);
    assert.is(hb, pb, `${url} ${body}`);
  }
});

prometheusTest(parity, 'float answers agree within 1e-9 (2.42 sums without Kahan)', async () => {
  for (const c of NUMERIC) {
    for (const m of methodsOf(c)) {
      const [h, p] = await Promise.all([hmdCall(P.hmd!.url, m, c.path, c.params), call(P.prom!.url, m, c.path, c.params)]);
      assert.is(h.status, 200, h.body);
      assert.is(p.status, 200, p.body);
      const hv = decodeQueryResponse(h.body).value;
      const pv = decodeQueryResponse(p.body).value;
      assert.is(hv.type, pv.type);
      const flat = (v: typeof hv): [string, number, number][] => {
        if (v.type === 'vector') return v.samples.map((s) => [JSON.stringify(s.labels), s.t, s.v]);
        if (v.type === 'matrix') return v.series.flatMap((s) => [...s.timestamps].map((t, i): [string, number, number] => [JSON.stringify(s.labels), t, s.values[i]!]));
        return [];
      };
      const a = flat(hv);
      const b = flat(pv);
      assert.ok(a.length > 0, describe(m, c));
      assert.is(a.length, b.length, describe(m, c));
      for (let i = 0; i < a.length; i++) {
        assert.is(a[i]![0], b[i]![0]);
        assert.is(a[i]![1], b[i]![1]);
        const [x, y] = [a[i]![2], b[i]![2]];
        assert.ok(x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y)) || (Number.isNaN(x) && Number.isNaN(y)), `${describe(m, c)}: ${x} vs ${y}`);
      }
    }
  }
});

prometheusTest(parity, 'stats, buildinfo and timeouts have Prometheus shapes', async () => {
  const keys = (o: unknown): string => JSON.stringify(Object.keys(o as object));
  for (const stats of ['all', '1']) {
    const c = q('sum(http_requests_total)', T1, [['stats', stats]]);
    const [h, p] = await Promise.all([hmdCall(P.hmd!.url, 'GET', c.path, c.params), call(P.prom!.url, 'GET', c.path, c.params)]);
    const hs = (json(h).data as { stats: Record<string, Record<string, unknown>> }).stats;
    const ps = (json(p).data as { stats: Record<string, Record<string, unknown>> }).stats;
    assert.is(keys(hs['timings']), keys(ps['timings']));
    assert.is(keys(hs['samples']), keys(ps['samples']));
    assert.is(hs['samples']!['totalQueryableSamples'], ps['samples']!['totalQueryableSamples']);
  }
  const [hb, pb] = await Promise.all([hmdCall(P.hmd!.url, 'GET', '/api/v1/status/buildinfo'), call(P.prom!.url, 'GET', '/api/v1/status/buildinfo')]);
  assert.is(hb.status, pb.status);
  assert.is(keys(json(hb).data), keys(json(pb).data));
  assert.is((json(hb).data as { version: string }).version, '9.9.9-test');
  // A timeout of 0: both time out at once (Prometheus in its queue or in execution, by a race).
  for (const c of [q('up', T1, [['timeout', '0']]), qr('up', [['timeout', '0']])]) {
    const [h, p] = await Promise.all([hmdCall(P.hmd!.url, 'GET', c.path, c.params), call(P.prom!.url, 'GET', c.path, c.params)]);
    assertError(h, 503, 'timeout', 'query timed out in query execution');
    assertError(p, 503, 'timeout', /^query timed out in query (queue|execution)$/);
  }
});

/** Runs promtool without blocking the event loop (the hmd server answers from this process). */
function promtool(...args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(PROMTOOL_BIN, ['query', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

prometheusTest(parity, 'promtool as a client prints the same for both', async () => {
  const runs: [string[], RegExp][] = [
    [['instant', '--time', T1, '@', 'http_requests_total{instance="dc1-a",code="500"}'], /^http_requests_total\{code="500", datacenter="dc1", instance="dc1-a", method="GET"\} => \d+ @\[1749724200\]$/m],
    [['instant', '-o', 'json', '--time', T_GAP, '@', 'up == 0'], /"instance":"dc2-a"/],
    [['instant', '--time', T1, '@', 'sum('], /^query error: bad_data: invalid parameter "query": 1:5: parse error: unclosed left parenthesis$/m],
    [['range', '--start', RANGE.start, '--end', RANGE.end, '--step', '5m', '@', 'count by (datacenter) (up)'], /^\{datacenter="dc2"\} =>\n(\d+ @\[\d+\]\n){9}/m],
    [['series', '--match', 'up{datacenter="dc1"}', '--match', 'datacenter_info', '--start', ALL.start, '--end', ALL.end, '@'], /^\{__name__="up", datacenter="dc1", instance="dc1-b", job="api"\}$/m],
    [['labels', '--start', ALL.start, '--end', ALL.end, '@', 'datacenter'], /^dc1\ndc2\n$/],
  ];
  for (const [args, expect] of runs) {
    const withUrl = (url: string) => args.map((a) => (a === '@' ? url : a));
    const [h, p] = await Promise.all([promtool(...withUrl(P.hmd!.url)), promtool(...withUrl(P.prom!.url))]);
    assert.is(h.code, p.code, `${args.join(' ')}: ${h.out}`);
    assert.is(h.out, p.out, args.join(' '));
    assert.match(h.out, expect, args.join(' '));
  }
  // promtool sent POST for queries and series, GET for label values: both reached hmd.
  assert.ok(P.hmd!.logs.some((l) => l.includes('method=POST path=/api/v1/query_range status=200')));
  assert.ok(P.hmd!.logs.some((l) => l.includes('method=GET path=/api/v1/label/datacenter/values status=200')));
});

parity.run();

// =============================================================================================
// 2. hmd's own behaviour

const own = suite('hmd serve API');
const H: { hmd?: Hmd } = {};

own.before(async () => {
  H.hmd = await startHmd();
});

own.after(async () => {
  await H.hmd?.server.close(1000);
});

own('every endpoint answers GET and POST with JSON (label values by POST too)', async () => {
  const u = H.hmd!.url;
  const cases: [string, Params, (d: unknown) => void][] = [
    ['/api/v1/query', [['query', 'count(up)'], ['time', T1]], (d) => assert.equal(d, { resultType: 'vector', result: [{ metric: {}, value: [Number(T1), '4'] }] })],
    ['/api/v1/query_range', [['query', 'count(up)'], ['start', T1], ['end', String(Number(T1) + 60)], ['step', '60']], (d) => assert.is((d as { resultType: string }).resultType, 'matrix')],
    ['/api/v1/series', [['match[]', 'datacenter_info']], (d) => {
      const list = d as Record<string, string>[];
      assert.equal(list.map((x) => [x['__name__'], x['datacenter']]), [['datacenter_info', 'dc1'], ['datacenter_info', 'dc2']]);
    }],
    ['/api/v1/labels', [['match[]', 'up']], (d) => assert.equal(d, ['__name__', 'datacenter', 'instance', 'job'])],
    ['/api/v1/label/datacenter/values', [], (d) => assert.equal(d, ['dc1', 'dc2'])],
    ['/api/v1/status/buildinfo', [], (d) => assert.is((d as { version: string }).version, '9.9.9-test')],
    ['/-/healthy', [], (d) => assert.is(d, 'hmd is Healthy.')],
    ['/-/ready', [], (d) => assert.is(d, 'hmd is Ready.')],
  ];
  for (const [path, params, check] of cases) {
    const methods = path.startsWith('/api/v1/status') || path.startsWith('/-/') ? ['GET'] : ['GET', 'POST'];
    for (const m of methods) {
      const r = await hmdCall(u, m, path, params);
      assert.is(r.status, 200, `${m} ${path}: ${r.body}`);
      const b = json(r);
      assert.is(b.status, 'success');
      check(b.data);
    }
  }
  const head = await hmdCall(u, 'HEAD', '/-/ready');
  assert.is(head.status, 200);
  assert.is(head.body, '');
});

own('unknown paths are 404 not_found, wrong methods 405 with Allow, all JSON', async () => {
  const u = H.hmd!.url;
  assertError(await hmdCall(u, 'GET', '/api/v1/nope'), 404, 'not_found', 'no such endpoint: /api/v1/nope');
  assertError(await hmdCall(u, 'GET', '/'), 404, 'not_found');
  assertError(await hmdCall(u, 'GET', '/api/v1/query/'), 404, 'not_found');
  assertError(await hmdCall(u, 'GET', '/api/v1/label/a/b/values'), 404, 'not_found');
  const put = await hmdCall(u, 'PUT', '/api/v1/query', [['query', '1']]);
  assertError(put, 405, 'bad_data', 'method PUT is not allowed for /api/v1/query; use GET or POST');
  assert.is(put.headers.get('allow'), 'GET, POST');
  assertError(await hmdCall(u, 'DELETE', '/api/v1/series'), 405, 'bad_data');
  assertError(await hmdCall(u, 'POST', '/api/v1/status/buildinfo'), 405, 'bad_data');
  assertError(await hmdCall(u, 'OPTIONS', '/api/v1/query'), 405, 'bad_data');
  const head = await hmdCall(u, 'HEAD', '/api/v1/query');
  assert.is(head.status, 405);
  assert.is(head.body, '');
});

own('limit (Prometheus 3): truncates with a warning; bad values are bad_data', async () => {
  const u = H.hmd!.url;
  let b = json(await hmdCall(u, 'GET', '/api/v1/series', [['match[]', 'up'], ['limit', '3']]));
  assert.is((b.data as unknown[]).length, 3);
  assert.equal(b.warnings, ['results truncated due to limit']);
  b = json(await hmdCall(u, 'POST', '/api/v1/series', [['match[]', 'up'], ['limit', '4']]));
  assert.is((b.data as unknown[]).length, 4);
  assert.is(b.warnings, undefined);
  b = json(await hmdCall(u, 'GET', '/api/v1/series', [['match[]', 'up'], ['limit', '0']]));
  assert.is((b.data as unknown[]).length, 4);
  b = json(await hmdCall(u, 'GET', '/api/v1/labels', [['limit', '2']]));
  assert.equal(b.data, ['__name__', 'code']);
  assert.equal(b.warnings, ['results truncated due to limit']);
  b = json(await hmdCall(u, 'POST', '/api/v1/label/instance/values', [['limit', '+1']]));
  assert.equal(b.data, ['dc1-a']);
  for (const path of ['/api/v1/series', '/api/v1/labels', '/api/v1/label/job/values']) {
    const base: Params = path === '/api/v1/series' ? [['match[]', 'up']] : [];
    assertError(await hmdCall(u, 'GET', path, [...base, ['limit', 'x']]), 400, 'bad_data', 'invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax');
    assertError(await hmdCall(u, 'GET', path, [...base, ['limit', '-1']]), 400, 'bad_data', 'invalid parameter "limit": limit must be non-negative');
    assertError(await hmdCall(u, 'GET', path, [...base, ['limit', '99999999999999999999']]), 400, 'bad_data', 'invalid parameter "limit": strconv.Atoi: parsing "99999999999999999999": value out of range');
  }
});

own('lookback_delta (Prometheus 3) changes what an instant selector sees', async () => {
  const u = H.hmd!.url;
  // dc2-a is not scraped from 10:38:30: at 10:45 only the lookback decides whether it shows.
  const count = async (lb?: string) => {
    const params: Params = [['query', 'count(node_cpu_utilization)'], ['time', T_GAP]];
    if (lb) params.push(['lookback_delta', lb]);
    const b = json(await hmdCall(u, 'GET', '/api/v1/query', params));
    return (b.data as { result: { value: [number, string] }[] }).result[0]!.value[1];
  };
  assert.is(await count(), '3');
  assert.is(await count('10m'), '4');
  assert.is(await count('0'), '3'); // 0: the server's default
  assertError(await hmdCall(u, 'GET', '/api/v1/query', [['query', 'up'], ['lookback_delta', 'x']]), 400, 'bad_data', 'error parsing lookback delta duration: cannot parse "x" to a valid duration');
  assertError(await hmdCall(u, 'POST', '/api/v1/query_range', [...qr('up').params, ['lookback_delta', '5 m']]), 400, 'bad_data', 'error parsing lookback delta duration: cannot parse "5 m" to a valid duration');
});

own('label names in the path: percent-decoded, U__ escaping, invalid ones refused', async () => {
  const u = H.hmd!.url;
  assert.equal(json(await hmdCall(u, 'GET', '/api/v1/label/U__data__center/values')).data, []); // data_center
  assert.equal(json(await hmdCall(u, 'GET', '/api/v1/label/U__datacent_65_r/values')).data, ['dc1', 'dc2']);
  assertError(await hmdCall(u, 'GET', '/api/v1/label/%FF/values'), 400, 'bad_data', 'invalid label name: "%FF"');
  assertError(await hmdCall(u, 'GET', '/api/v1/label/%zz/values'), 400, 'bad_data', 'invalid label name: "%zz"');
  assertError(await hmdCall(u, 'GET', '/api/v1/label//values'), 400, 'bad_data', 'invalid label name: ""');
  assert.is(unescapeName('U__a_2e_b'), 'a.b');
  assert.is(unescapeName('U__a__b'), 'a_b');
  assert.is(unescapeName('U___1F600_x'), '\u{1F600}x');
  assert.is(unescapeName('U__bad_zz_'), 'U__bad_zz_');
  assert.is(unescapeName('U__open_2e'), 'U__open_2e');
  assert.is(unescapeName('plain'), 'plain');
});

own('bad bodies get a clear 400, never a crash', async () => {
  const u = H.hmd!.url;
  const post = (body: NonNullable<RequestInit['body']>, headers: Record<string, string>) => fetch(`${u}/api/v1/query`, { method: 'POST', body, headers });
  const check = async (r: Response, message: RegExp) => {
    const res: Res = { status: r.status, type: r.headers.get('content-type'), body: await r.text(), headers: r.headers };
    assertError(res, 400, 'bad_data', message);
  };
  await check(await post('{"query":"1"}', { 'content-type': 'application/json' }), /^error parsing form values: unsupported Content-Type "application\/json": send application\/x-www-form-urlencoded$/);
  await check(await post('query=1', { 'content-type': 'text/plain' }), /unsupported Content-Type "text\/plain"/);
  const fd = new FormData();
  fd.set('query', '1');
  await check(await fetch(`${u}/api/v1/query`, { method: 'POST', body: fd }), /unsupported Content-Type "multipart\/form-data; boundary=/);
  await check(await post(new Blob(['query=1']), {}), /^error parsing form values: a POST body needs Content-Type: application\/x-www-form-urlencoded$/);
  await check(await post('query=1', { 'content-type': 'application/x-www-form-urlencoded; charset=latin1' }), /unsupported charset "latin1"/);
  await check(await post('query=%zz', { 'content-type': 'application/x-www-form-urlencoded' }), /^error parsing form values: invalid URL escape "%zz"$/);
  await check(await post('query=%4', { 'content-type': 'application/x-www-form-urlencoded' }), /^error parsing form values: invalid URL escape "%4"$/);
  await check(await post('query=1;time=2', { 'content-type': 'application/x-www-form-urlencoded' }), /^error parsing form values: invalid semicolon separator in query$/);
  await check(await post(Buffer.from([0x71, 0x3d, 0xff]), { 'content-type': 'application/x-www-form-urlencoded' }), /^error parsing form values: the body is not valid UTF-8$/);
  await check(await post('query=%C3%28', { 'content-type': 'application/x-www-form-urlencoded' }), /^error parsing form values: invalid UTF-8 in "%C3%28"$/);
  await check(await fetch(`${u}/api/v1/query?query=%FF`), /invalid UTF-8/);
  // A charset of UTF-8 is fine, and an empty POST body needs no Content-Type.
  assert.is((await post('query=1&time=1', { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' })).status, 200);
  assert.is((await fetch(`${u}/api/v1/query?query=1&time=1`, { method: 'POST' })).status, 200);

  // Oversized: a small limit, announced by Content-Length and streamed in chunks.
  const small = await startHmd({}, { maxBodyBytes: 1000 });
  try {
    const big = 'query=' + 'x'.repeat(5000);
    const r1 = await fetch(`${small.url}/api/v1/query`, { method: 'POST', body: big, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    await check(r1, /^error parsing form values: request body too large: 5006 bytes, at most 1000 are accepted$/);
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${small.url}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
        let body = '';
        res.on('data', (b: Buffer) => (body += b.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.write('query=' + 'y'.repeat(600));
      setTimeout(() => req.end('y'.repeat(600)), 50);
    });
    assert.is(chunked.status, 400);
    assert.match(chunked.body, /request body too large: more than 1000 bytes/);
    assert.is((await fetch(`${small.url}/api/v1/query?query=1&time=1`)).status, 200, 'still serving');
  } finally {
    await small.server.close(1000);
  }
  // The default limit is 10 MiB, as Go's for form bodies.
  const r2 = await fetch(`${u}/api/v1/series`, { method: 'POST', body: 'match[]=' + 'z'.repeat(10 << 20), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  await check(r2, /request body too large: 10485768 bytes, at most 10485760 are accepted/);
  assert.is((await hmdCall(u, 'GET', '/-/healthy')).status, 200, 'still serving');
});

own('requests node:http refuses itself get JSON errors too', async () => {
  const port = H.hmd!.server.port;
  const garbage = await rawHttp(port, 'THIS IS NOT HTTP\r\n\r\n');
  assert.match(garbage, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(garbage, /Content-Type: application\/json/);
  assert.match(garbage, /"errorType":"bad_data","error":"malformed HTTP request/);
  const huge = await rawHttp(port, `GET /api/v1/query?query=${'a'.repeat(2 << 20)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.match(huge, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  assert.match(huge, /"errorType":"bad_data","error":"request line and headers too large"/);
  // A long GET query under 1 MiB is fine (Go's limit; node's default is 16 KiB).
  const long = `count(up{job=~"${'a|'.repeat(20_000)}api"})`;
  const r = await hmdCall(H.hmd!.url, 'GET', '/api/v1/query', [['query', long], ['time', T1]]);
  assert.is(r.status, 200, r.body);
  assert.is((await hmdCall(H.hmd!.url, 'GET', '/-/healthy')).status, 200, 'still serving');
});

own('each errorType with its status: execution 422, timeout 503, unavailable 503, internal 500', async () => {
  const tight = await startHmd({ maxSamples: 10 });
  const slow = new SlowStore(5_000);
  const timed = await startHmd({ storage: slow, timeoutMs: 200 });
  const broken = await startHmd({ storage: failingStore(new Error('disk on fire')) });
  const down = await startHmd({ storage: failingStore(new PromQLError('unavailable', 'data source "s3://b/p": connection refused')) });
  // A store that breaks its contract (no series array) is a bug: internal.
  const buggy = await startHmd({ storage: { select: async () => ({}) as SelectResult } });
  try {
    assertError(await hmdCall(tight.url, 'GET', '/api/v1/query', [['query', 'sum(http_requests_total)'], ['time', T1]]), 422, 'execution', /too many samples/);
    assertError(await hmdCall(tight.url, 'POST', '/api/v1/query_range', qr('sum(http_requests_total)').params), 422, 'execution', /too many samples/);
    assertError(await hmdCall(timed.url, 'GET', '/api/v1/query', [['query', 'up'], ['time', T1]]), 503, 'timeout', 'query timed out in query execution');
    // A request's timeout shortens the server's, never lengthens it.
    const t0 = Date.now();
    assertError(await hmdCall(timed.url, 'GET', '/api/v1/query', [['query', 'up'], ['time', T1], ['timeout', '1h']]), 503, 'timeout');
    assert.ok(Date.now() - t0 < 3000);
    assertError(await hmdCall(H.hmd!.url, 'GET', '/api/v1/query', [['query', 'up'], ['time', T1], ['timeout', '-1']]), 503, 'timeout', 'query timed out in query execution');
    for (const [path, params] of [
      ['/api/v1/query', [['query', 'up'], ['time', T1]]],
      ['/api/v1/series', [['match[]', 'up']]],
      ['/api/v1/labels', []],
      ['/api/v1/label/job/values', []],
    ] as [string, Params][]) {
      // A store's own failure: unavailable, 503, whether or not it gave an errorType.
      assertError(await hmdCall(broken.url, 'GET', path, params), 503, 'unavailable', 'disk on fire');
      assertError(await hmdCall(down.url, 'POST', path, params), 503, 'unavailable', 'data source "s3://b/p": connection refused');
      assertError(await hmdCall(buggy.url, 'GET', path, params), 500, 'internal', /undefined|not iterable/);
    }
    assert.ok(buggy.logs.some((l) => l.includes('status=500') && l.includes('error_type=internal')));
  } finally {
    await Promise.all([tight, timed, broken, down, buggy].map((h) => h.server.close(500)));
  }
});

own('a client that goes away cancels its query', async () => {
  const slow = new SlowStore(10_000);
  const h = await startHmd({ storage: slow });
  try {
    for (const path of ['/api/v1/query?query=up&time=' + T1, '/api/v1/series?match[]=up']) {
      const before = slow.aborted;
      const req = httpRequest(`${h.url}${path}`);
      req.on('error', () => {});
      req.end();
      await until(() => slow.started > before && h.server.inFlight === 1);
      req.destroy();
      await until(() => slow.aborted === before + 1);
      await until(() => h.server.inFlight === 0);
    }
    await until(() => h.logs.length >= 2);
    for (const l of h.logs) {
      assert.match(l, /status=none/);
      assert.match(l, /error_type=canceled client=gone/);
    }
    // Through the API directly: an aborted signal is canceled, 503.
    const api = new PrometheusApi({ storage: slow });
    const ac = new AbortController();
    const p = api.handle({ method: 'GET', path: '/api/v1/query', query: 'query=up&time=' + T1, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const res = await p;
    assert.is(res.status, 503);
    assert.is(res.body, '{"status":"error","errorType":"canceled","error":"query was canceled in query execution"}');
  } finally {
    await h.server.close(500);
  }
});

own('gzip when the client asks for it', async () => {
  const u = H.hmd!.url;
  const res = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    httpRequest(`${u}/api/v1/series?match[]=http_requests_total`, { headers: { 'accept-encoding': 'gzip, deflate' } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (b: Buffer) => chunks.push(b));
      r.on('end', () => resolve({ headers: r.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
  assert.is(res.headers['content-encoding'], 'gzip');
  assert.is(res.headers['content-type'], 'application/json');
  const plain = await hmdCall(u, 'GET', '/api/v1/series', [['match[]', 'http_requests_total']], { headers: { 'accept-encoding': 'identity' } });
  assert.is(plain.headers.get('content-encoding'), null);
  assert.is(gunzipSync(res.body).toString(), plain.body);
});

own('close() lets requests in flight finish, then refuses new connections', async () => {
  const slow = new SlowStore(400);
  const h = await startHmd({ storage: slow });
  const pending = hmdCall(h.url, 'GET', '/api/v1/query', [['query', 'count(up)'], ['time', T1]]);
  await until(() => h.server.inFlight === 1);
  const closed = h.server.close(5000);
  const r = await pending;
  assert.is(r.status, 200, r.body);
  assert.is(r.headers.get('connection'), 'close');
  await closed;
  try {
    await fetch(`${h.url}/-/healthy`);
    assert.unreachable('the server still accepts connections');
  } catch (err) {
    assert.instance(err, TypeError); // fetch failed: connection refused
  }
  // The grace period bounds the wait: what is left is cancelled.
  const slower = new SlowStore(30_000);
  const h2 = await startHmd({ storage: slower });
  const stuck = call(h2.url, 'GET', '/api/v1/query', [['query', 'up'], ['time', T1]]).catch((e: unknown) => e);
  await until(() => h2.server.inFlight === 1);
  const t0 = Date.now();
  await h2.server.close(200);
  assert.ok(Date.now() - t0 < 3000);
  await stuck;
  assert.is(slower.aborted, 1);
});

own('the request log: one logfmt line per request', async () => {
  const h = await startHmd();
  try {
    await hmdCall(h.url, 'POST', '/api/v1/query', [['query', 'sum(up) by (job)\n'], ['time', T1]]);
    await hmdCall(h.url, 'GET', '/api/v1/query', [['query', 'sum(']]);
    await hmdCall(h.url, 'GET', '/api/v1/labels');
    await until(() => h.logs.length === 3);
    assert.match(h.logs[0]!, /^ts=\d{4}-\d\d-\d\dT[\d:.]+Z remote=127\.0\.0\.1:\d+ method=POST path=\/api\/v1\/query status=200 bytes=\d+ duration=\d+\.\d{3}s query="sum\(up\) by \(job\)\\n"$/);
    assert.match(h.logs[1]!, / method=GET path=\/api\/v1\/query status=400 bytes=\d+ duration=\S+ error_type=bad_data query=sum\($/);
    assert.match(h.logs[2]!, / path=\/api\/v1\/labels status=200 bytes=\d+ duration=\S+$/);
    for (const l of h.logs) assert.not.match(l, /\n/);
  } finally {
    await h.server.close(500);
  }
});

own.run();

// =============================================================================================
// 3. The CLI

const cli = suite('hmd serve (CLI)');

function hmd(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/hmd.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

cli('serves fixtures/demo.om, logs each request, stops on SIGTERM', async () => {
  const child: ChildProcess = spawn(process.execPath, ['bin/hmd.js', 'serve', '--data', 'fixtures/demo.om', '--listen', '127.0.0.1:0', '--timeout', '30s'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await until(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(stderr), 30_000);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+) \(data: fixtures\/demo\.om\)/.exec(stderr)![1]!;
    const r = await hmdCall(url, 'GET', '/api/v1/query', [['query', 'count(http_requests_total)'], ['time', '1749729600']]);
    assert.is(r.body, '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1749729600,"18"]}]}}');
    const b = json(await hmdCall(url, 'GET', '/api/v1/status/buildinfo')).data as { version: string; goVersion: string };
    const pkg = (await import('node:fs')).readFileSync(`${ROOT}/package.json`, 'utf8');
    assert.is(b.version, (JSON.parse(pkg) as { version: string }).version);
    assert.match(b.goVersion, /^node v\d+/);
    await until(() => stderr.split('\n').filter((l) => l.startsWith('ts=')).length === 2);
    assert.match(stderr, /method=GET path=\/api\/v1\/query status=200 .* query=count\(http_requests_total\)\n/);
    child.kill('SIGTERM');
    assert.is(await exited, 0);
    assert.match(stderr, /hmd serve: SIGTERM, stopping/);
    assert.match(stderr, /hmd serve: stopped\n$/);
    assert.is(stdout, '');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

cli('usage errors exit 2, an unreadable source 3, a taken port 1', async () => {
  let r = hmd('serve', '--data', 'fixtures/demo.om', '--listen', 'nonsense');
  assert.is(r.code, 2);
  assert.match(r.stderr, /--listen "nonsense": expected host:port/);
  r = hmd('serve', '--data', 'fixtures/demo.om', '--listen', '127.0.0.1:70000');
  assert.is(r.code, 2);
  r = hmd('serve', '--data', 'fixtures/demo.om', '--timeout', '0s');
  assert.is(r.code, 2);
  assert.match(r.stderr, /--timeout "0s": expected a positive duration/);
  r = hmd('serve');
  assert.is(r.code, 2);
  assert.match(r.stderr, /Missing required argument: data/);
  r = hmd('serve', '--data', 'no/such/file.om');
  assert.is(r.code, 3);
  assert.match(r.stderr, /^hmd serve: unavailable: data source "no\/such\/file\.om": /);
  r = hmd('serve', '--data', 'history.parquet');
  assert.is(r.code, 2);
  const taken = await startHmd();
  try {
    const port = taken.server.port;
    r = hmd('serve', '--data', 'fixtures/demo.om', '--listen', `127.0.0.1:${port}`);
    assert.is(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  } finally {
    await taken.server.close(100);
  }
  r = hmd('serve', '--help');
  assert.is(r.code, 0);
  for (const flag of ['--data', '--listen', '--lookback-delta', '--max-samples', '--timeout']) assert.ok(r.stdout.includes(flag), flag);
  assert.match(r.stdout, /default: "127\.0\.0\.1:9090"/);
});

cli.run();
