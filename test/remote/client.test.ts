/**
 * src/remote/client.ts against real servers on 127.0.0.1:
 * 1. hmd serve (in-process, MemoryStore) and Debian's Prometheus 2.42 (backfilled with the same
 *    generated SLI data; skipped without the binaries, a failure under CI=true): instant, range
 *    and series answers equal the server's own JSON decoded; API errors keep their errorType.
 * 2. tiny node:http / node:net servers: refused port, a server that never answers, a 503 HTML
 *    page, a non-JSON 200, caller abort; headers and bearer token are sent; admission sees every
 *    request; bytes and requests are counted.
 */

import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type Socket, type Server as NetServer } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PromQLError } from '../../src/promql/errors.js';
import { RemoteEngine, RemoteEngineError, type Admission, type Priority } from '../../src/remote/client.js';
import { decodeQueryResponse } from '../../src/remote/json.js';
import { PrometheusApi } from '../../src/server/api.js';
import { startHttpServer, type RunningServer } from '../../src/server/http.js';
import { labelsFromRecord } from '../../src/storage/labels.js';
import { freePort, havePrometheus, prometheusTest, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { generateSliData, toMemoryStore, toOpenMetrics, type SliData } from '../helpers/sli-data.js';

const START = Date.UTC(2025, 5, 12, 10, 0, 0);
const DATA_OPTS = { seed: 777, startMs: START, durationMs: 40 * 60_000, datacenters: 2, instancesPerDc: 2 } as const;
const T = START + 30 * 60_000 + 7_250; // off the scrape grid, with milliseconds
const RANGE = { start: START + 5 * 60_000 + 500, end: START + 35 * 60_000, step: 37_500 } as const;

let data: SliData | undefined;
const sliData = () => (data ??= generateSliData(DATA_OPTS));

const INSTANT = [
  'up',
  'sum by (datacenter, code) (rate(http_requests_total[5m]))',
  'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
  'histogram_quantile(0.99, sum by (le, datacenter) (rate(http_request_duration_seconds_bucket[5m])))',
  'scalar(sum(up))',
  'http_requests_total{instance="dc1-a"}[1m]',
  'nothing_here',
];
const RANGED = INSTANT.filter((e) => !e.endsWith('[1m]'));

/** POSTs a form to a server and returns the raw body, the way the server's own JSON is read. */
async function raw(url: string, path: string, params: [string, string][]): Promise<{ status: number; body: string }> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: await res.text() };
}

const secs = (ms: number) => String(ms / 1000);

/** Checks instant, range and series answers of an engine against the server's own JSON. */
async function checkParity(url: string, name: string): Promise<void> {
  const engine = new RemoteEngine({ name, url });
  try {
    let bytes = 0;
    let requests = 0;
    for (const expr of INSTANT) {
      const r = await engine.query(expr, T);
      bytes += r.bytes;
      requests++;
      const own = decodeQueryResponse((await raw(url, '/api/v1/query', [['query', expr], ['time', secs(T)]])).body);
      assert.equal(r.value, own.value, `${name}: query ${expr}`);
      assert.equal(r.warnings, own.warnings, `${name}: warnings of ${expr}`);
      assert.equal(r.infos, own.infos);
      assert.is(r.engine, name);
    }
    for (const expr of RANGED) {
      const r = await engine.queryRange(expr, RANGE.start, RANGE.end, RANGE.step);
      bytes += r.bytes;
      requests++;
      const own = decodeQueryResponse(
        (
          await raw(url, '/api/v1/query_range', [
            ['query', expr],
            ['start', secs(RANGE.start)],
            ['end', secs(RANGE.end)],
            ['step', secs(RANGE.step)],
          ])
        ).body,
      );
      assert.equal(r.value, own.value, `${name}: query_range ${expr}`);
      assert.is(r.value.type, 'matrix');
    }
    // something non-trivial came back
    const v = await engine.query('sum by (datacenter) (rate(http_requests_total[5m]))', T);
    requests++;
    bytes += v.bytes;
    assert.ok(v.value.type === 'vector' && v.value.samples.length >= 1 && v.value.samples.every((x) => x.v > 0));

    const matchers = ['up', 'http_requests_total{code="500"}'];
    const series = await engine.series(matchers, START - 3_600_000, START + 3_600_000);
    requests++;
    const own = JSON.parse(
      (
        await raw(url, '/api/v1/series', [
          ...matchers.map((m): [string, string] => ['match[]', m]),
          ['start', secs(START - 3_600_000)],
          ['end', secs(START + 3_600_000)],
        ])
      ).body,
    ) as { data: Record<string, string>[] };
    assert.ok(series.length >= 8, `${series.length} series`);
    assert.equal(series, own.data.map(labelsFromRecord));

    const st = engine.stats();
    assert.is(st.requests, requests);
    assert.is(st.errors, 0);
    assert.ok(st.bytesReceived >= bytes && bytes > 0, `${st.bytesReceived} >= ${bytes}`);
  } finally {
    await engine.close();
  }
}

/** bad_data and execution errors keep their type, named by engine and URL. */
async function checkApiErrors(url: string, name: string): Promise<void> {
  const engine = new RemoteEngine({ name, url });
  try {
    const cases: [() => Promise<unknown>, string, number][] = [
      [() => engine.query('sum(', T), 'bad_data', 400],
      [() => engine.queryRange('up', T, T - 60_000, 15_000), 'bad_data', 400],
      [() => engine.query('label_replace(up, "instance", "x", "", "")', T), 'execution', 422],
    ];
    for (const [fn, type, status] of cases) {
      const err = await fn().then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.instance(err, RemoteEngineError, String(err));
      assert.instance(err, PromQLError);
      const e = err as RemoteEngineError;
      assert.is(e.errorType, type, e.message);
      assert.is(e.status, status, e.message);
      assert.is(e.kind, 'api');
      assert.is(e.engine, name);
      assert.ok(e.message.includes(`"${name}"`) && e.message.includes(url), e.message);
    }
    assert.is(engine.stats().errors, 3);
  } finally {
    await engine.close();
  }
}

// --- hmd serve -------------------------------------------------------------------------------

const hmd = suite('hmd serve');
const H: { server?: RunningServer } = {};

hmd.before(async () => {
  const api = new PrometheusApi({ storage: toMemoryStore(sliData()), buildInfo: { version: '9.9.9-test' } });
  H.server = await startHttpServer({ host: '127.0.0.1', port: 0, handler: (r) => api.handle(r) });
});
hmd.after(async () => {
  await H.server?.close(1000);
});

hmd('instant, range and series answers equal the server JSON', () => checkParity(H.server!.url, 'hmd-local'));
hmd('API errors keep their errorType', () => checkApiErrors(H.server!.url, 'hmd-local'));
hmd('stats: true returns the server stats', async () => {
  const engine = new RemoteEngine({ name: 'hmd-local', url: H.server!.url + '/' });
  try {
    const r = await engine.query('sum(rate(http_requests_total[5m]))', T, { stats: true });
    assert.ok(r.remoteStats !== undefined);
    assert.ok(r.stats.totalSamples > 0);
    assert.is(r.stats.bytesRead, r.bytes);
  } finally {
    await engine.close();
  }
});
hmd.run();

// --- Prometheus 2.42 --------------------------------------------------------------------------

const prom = suite('Prometheus 2.42');
const P: { prom?: PrometheusServer } = {};

prom.before(async () => {
  if (!havePrometheus()) return;
  P.prom = await startPrometheus({ openMetrics: toOpenMetrics(sliData()) });
});
prom.after(async () => {
  await P.prom?.stop();
});

prometheusTest(prom, 'instant, range and series answers equal the server JSON', () => checkParity(P.prom!.url, 'prom-dc1'));
prometheusTest(prom, 'API errors keep their errorType', () => checkApiErrors(P.prom!.url, 'prom-dc1'));
prom.run();

// --- failures, headers, admission ---------------------------------------------------------------

const edge = suite('transport failures, headers and admission');
const E: { http?: Server; url?: string; hang?: NetServer; hangUrl?: string; sockets: Set<Socket>; seen: IncomingHttpHeaders[] } = {
  sockets: new Set(),
  seen: [],
};

const OK_BODY = '{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1.5,"2"]}]}}';

edge.before(async () => {
  E.http = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '';
      if (path.startsWith('/echo/')) {
        E.seen.push(req.headers);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(path.endsWith('/series') ? '{"status":"success","data":[{"__name__":"up"}]}' : OK_BODY);
      } else if (path.startsWith('/html503/')) {
        res.writeHead(503, { 'content-type': 'text/html' });
        res.end('<html><body><h1>503 Service Unavailable</h1>No server is available.</body></html>');
      } else if (path.startsWith('/text200/')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('OK but not JSON');
      } else if (path.startsWith('/json502/')) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end('{"message":"bad gateway"}');
      } else {
        res.writeHead(404);
        res.end('not found');
      }
    });
  });
  E.http.keepAliveTimeout = 1000;
  await new Promise<void>((r) => E.http!.listen(0, '127.0.0.1', r));
  E.url = `http://127.0.0.1:${(E.http.address() as { port: number }).port}`;
  // accepts connections and never answers
  E.hang = createNetServer((s) => {
    E.sockets.add(s);
    s.on('close', () => E.sockets.delete(s));
    s.on('error', () => {});
    s.resume();
  });
  await new Promise<void>((r) => E.hang!.listen(0, '127.0.0.1', r));
  E.hangUrl = `http://127.0.0.1:${(E.hang.address() as { port: number }).port}`;
});

edge.after(async () => {
  for (const s of E.sockets) s.destroy();
  E.http?.closeAllConnections();
  await new Promise((r) => E.http?.close(r));
  await new Promise((r) => E.hang?.close(r));
});

async function failure(p: Promise<unknown>): Promise<RemoteEngineError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, RemoteEngineError, `expected a RemoteEngineError, got ${String(err)}`);
  return err as RemoteEngineError;
}

function assertUnavailable(e: RemoteEngineError, name: string, url: string, message: RegExp): void {
  assert.is(e.errorType, 'unavailable', e.message);
  assert.is(e.engine, name);
  assert.is(e.url, url);
  assert.ok(e.message.startsWith(`remote engine "${name}" (${url}): `), e.message);
  assert.match(e.message, message);
}

edge('a refused port is unavailable, naming the engine', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const engine = new RemoteEngine({ name: 'gone', url });
  try {
    const e = await failure(engine.query('up', T));
    assertUnavailable(e, 'gone', url, /connection refused/);
    assert.is(e.kind, 'transport');
    assert.is(e.code, 'ECONNREFUSED');
    assert.is(e.status, undefined);
    assert.is(engine.stats().errors, 1);
  } finally {
    await engine.close();
  }
});

edge('a server that never answers times out, bounded', async () => {
  const engine = new RemoteEngine({ name: 'stuck', url: E.hangUrl!, timeoutMs: 300 });
  try {
    const t0 = Date.now();
    const e = await failure(engine.queryRange('up', T - 60_000, T, 15_000));
    const took = Date.now() - t0;
    assertUnavailable(e, 'stuck', E.hangUrl!, /timeout/);
    assert.is(e.kind, 'timeout');
    assert.ok(took >= 250 && took < 3000, `took ${took} ms`);
  } finally {
    await engine.close();
  }
});

edge('the caller aborting is canceled', async () => {
  const engine = new RemoteEngine({ name: 'stuck', url: E.hangUrl!, timeoutMs: 10_000 });
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const e = await failure(engine.query('up', T, { signal: ac.signal }));
    assert.ok(Date.now() - t0 < 3000);
    assert.is(e.errorType, 'canceled', e.message);
    assert.is(e.kind, 'canceled');
    // already aborted: not even sent
    const before = engine.stats().requests;
    const e2 = await failure(engine.query('up', T, { signal: AbortSignal.abort() }));
    assert.is(e2.errorType, 'canceled');
    assert.is(engine.stats().requests, before);
  } finally {
    await engine.close();
  }
});

edge('a 503 HTML page, a 502 without an API body and a non-JSON 200 are unavailable', async () => {
  for (const [path, status, msg] of [
    ['/html503', 503, /HTTP 503: response is not JSON: "<html>/],
    ['/text200', 200, /HTTP 200: response is not JSON: "OK but not JSON"/],
    ['/json502', 502, /HTTP 502: not a Prometheus API response/],
  ] as const) {
    const url = E.url! + path;
    const engine = new RemoteEngine({ name: 'proxy', url });
    try {
      for (const call of [() => engine.query('up', T), () => engine.queryRange('up', T - 60_000, T, 15_000), () => engine.series(['up'], T - 60_000, T)]) {
        const e = await failure(call());
        assertUnavailable(e, 'proxy', url, msg);
        assert.is(e.status, status);
        assert.is(e.kind, 'http');
      }
    } finally {
      await engine.close();
    }
  }
});

edge('headers and the bearer token are sent; the form is Prometheus-shaped', async () => {
  E.seen.length = 0;
  const engine = new RemoteEngine({ name: 'mimir', url: E.url! + '/echo', headers: { 'X-Scope-OrgID': 'tenant-1' }, bearerToken: 's3cr3t' });
  try {
    const r = await engine.query('up', T);
    assert.equal(r.value, { type: 'vector', samples: [{ labels: labelsFromRecord({ a: 'b' }), t: 1500, v: 2 }] });
    await engine.queryRange('up', T - 60_000, T, 15_000);
    assert.equal(await engine.series(['up'], T - 60_000, T), [labelsFromRecord({ __name__: 'up' })]);
    assert.is(E.seen.length, 3);
    for (const h of E.seen) {
      assert.is(h['x-scope-orgid'], 'tenant-1');
      assert.is(h['authorization'], 'Bearer s3cr3t');
      assert.is(h['content-type'], 'application/x-www-form-urlencoded');
    }
  } finally {
    await engine.close();
  }
});

edge('the admission hook sees every request, with its priority', async () => {
  const seen: Priority[] = [];
  let inside = 0;
  const admit: Admission = {
    async run<T>(priority: Priority, fn: () => Promise<T>): Promise<T> {
      seen.push(priority);
      inside++;
      try {
        return await fn();
      } finally {
        inside--;
      }
    },
  };
  const ok = new RemoteEngine({ name: 'ok', url: E.url! + '/echo', admit });
  const bad = new RemoteEngine({ name: 'bad', url: E.url! + '/html503', admit });
  try {
    await ok.query('up', T);
    await ok.queryRange('up', T - 60_000, T, 15_000, { priority: 'batch' });
    await ok.series(['up'], T - 60_000, T, { priority: 'batch' });
    await Promise.all([ok.query('up', T), ok.query('up', T, { priority: 'batch' })]);
    await failure(bad.query('up', T));
    assert.equal(seen, ['interactive', 'batch', 'batch', 'interactive', 'batch', 'interactive']);
    assert.is(inside, 0);
    assert.is(ok.stats().requests + bad.stats().requests, seen.length);
  } finally {
    await ok.close();
    await bad.close();
  }
});

edge('a closed engine fails at once', async () => {
  const engine = new RemoteEngine({ name: 'shut', url: E.url! + '/echo' });
  await engine.close();
  const e = await failure(engine.query('up', T));
  assert.is(e.errorType, 'unavailable');
});

edge.run();
