/**
 * `hmd import prometheus`: raw samples read from a real Prometheus 2.42 (on 127.0.0.1, holding
 * generated fixture data backfilled by promtool) come back from the Parquet store bit for bit,
 * over a range that crosses a UTC day boundary, in slices that do not line up with anything;
 * and the failures (HTTP errors, bodies that are not JSON, API errors, refused connections,
 * timeouts) are clear errors naming the server.
 */

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFixture } from '../../src/fixtures/generate.js';
import { importPrometheus, PrometheusImportError } from '../../src/storage/importers/prometheus.js';
import { LocalObjectStore } from '../../src/storage/objstore/local.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';
import { matcher } from '../../src/storage/matchers.js';
import { getLabel, labelsKey } from '../../src/storage/labels.js';
import { writeOpenMetrics } from '../../src/storage/openmetrics.js';
import type { Series } from '../../src/storage/queryable.js';
import { lowerBound } from '../../src/storage/queryable.js';
import { isStaleAt } from '../../src/storage/stale.js';
import { decodeQueryResponse } from '../../src/remote/json.js';
import { main } from '../../src/cli/main.js';
import { freePort, prometheusTest, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';

const START = Date.UTC(2025, 5, 12, 22, 13, 7, 250);
const END = Date.UTC(2025, 5, 13, 1, 47, 0, 0);
const WINDOW = 37 * 60_000;

/** dc2's series and the release info of dc2's scopes, from 21:00 to 03:00 (stale markers dropped). */
function sourceData(): Series[] {
  const fx = generateFixture({ days: 2, datacenters: 2 });
  const lo = Date.UTC(2025, 5, 12, 21);
  const hi = Date.UTC(2025, 5, 13, 3);
  const out: Series[] = [];
  for (const s of fx.series) {
    if (getLabel(s.labels, 'datacenter') !== 'dc2') continue;
    const a = lowerBound(s.timestamps, lo);
    const b = lowerBound(s.timestamps, hi);
    const ts: number[] = [];
    const vs: number[] = [];
    for (let i = a; i < b; i++) {
      if (isStaleAt(s.values, i)) continue;
      ts.push(s.timestamps[i]!);
      vs.push(s.values[i]!);
    }
    if (ts.length) out.push({ labels: s.labels, timestamps: Float64Array.from(ts), values: Float64Array.from(vs) });
  }
  return out;
}

/** Each series' samples inside [lo, hi], by labels key. */
function clip(series: readonly { labels: Series['labels']; timestamps: Float64Array; values: Float64Array }[], lo: number, hi: number): Map<string, { ts: Float64Array; vs: Float64Array }> {
  const out = new Map<string, { ts: Float64Array; vs: Float64Array }>();
  for (const s of series) {
    const a = lowerBound(s.timestamps, lo);
    const b = lowerBound(s.timestamps, hi + 1);
    if (b > a) out.set(labelsKey(s.labels), { ts: s.timestamps.slice(a, b), vs: s.values.slice(a, b) });
  }
  return out;
}

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function sameSamples(got: Map<string, { ts: Float64Array; vs: Float64Array }>, want: Map<string, { ts: Float64Array; vs: Float64Array }>, what: string): number {
  assert.equal([...got.keys()].sort(), [...want.keys()].sort(), `${what}: same series`);
  let n = 0;
  for (const [k, w] of want) {
    const g = got.get(k)!;
    assert.is(g.ts.length, w.ts.length, `${what}: ${k}: sample count`);
    assert.ok(bits(g.ts).equals(bits(w.ts)), `${what}: ${k}: timestamps`);
    assert.ok(bits(g.vs).equals(bits(w.vs)), `${what}: ${k}: values, bit for bit`);
    n += w.ts.length;
  }
  return n;
}

let prom: PrometheusServer | undefined;
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'hmd-import-prom-'));
  dirs.push(d);
  return d;
};

test.after(async () => {
  await prom?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

prometheusTest(test, 'every raw sample the server holds comes back from the Parquet store, across a day boundary', async () => {
  const source = sourceData();
  const parts: string[] = [];
  writeOpenMetrics(source, (c) => parts.push(c), { types: { http_requests: 'counter', http_request_duration_seconds: 'histogram', node_cpu_utilization: 'gauge', up: 'gauge' } });
  prom = await startPrometheus({ openMetrics: parts.join('') });

  // What the server holds in the range: one query of everything.
  const all = decodeQueryResponse(
    (await prom.api('/api/v1/query', { query: `{__name__=~".+"}[${END - START + 1}ms]`, time: (END / 1000).toFixed(3) })).body,
  );
  assert.is(all.value.type, 'matrix');
  const serverHolds = clip(all.value.type === 'matrix' ? all.value.series : [], START, END);
  const sourceHolds = clip(source, START, END);
  const total = sameSamples(serverHolds, sourceHolds, 'server vs generated');
  assert.ok(total > 40_000, `${total} samples`);

  const dir = tmp();
  const store = new LocalObjectStore(dir);
  const days: { start: number; partial: boolean }[] = [];
  const r = await importPrometheus(store, {
    url: prom.url,
    // Overlapping selectors: every series is taken once.
    matchers: ['{datacenter="dc2"}', 'up', 'hmd:release_scopes:info{tier=~"tier[13]"}'],
    startMs: START,
    endMs: END,
    windowMs: WINDOW,
    timeoutMs: 30_000,
    onBlock: (_b, d) => days.push({ start: d.startMs, partial: d.partial }),
  });
  assert.is(r.blocks.length, 2, 'one block per UTC day');
  assert.equal(days, [
    { start: Date.UTC(2025, 5, 12), partial: true },
    { start: Date.UTC(2025, 5, 13), partial: true },
  ]);
  assert.is(r.seriesListed, serverHolds.size);
  assert.is(r.samples, total);
  assert.is(r.requests, 1 + 6 * 3, 'series, then 3 slices a day for each of 3 selectors');

  const q = new ParquetQueryable(store);
  const got = await q.select({ matchers: [matcher('=~', '__name__', '.+')], mint: START, maxt: END });
  assert.is(sameSamples(clip(got.series, START, END), serverHolds, 'store vs server'), total);
  // Nothing outside the range was written.
  for (const s of got.series) assert.ok(s.timestamps[0]! >= START && s.timestamps[s.timestamps.length - 1]! <= END);

  // Importing again replaces the blocks with the same content.
  const again = await importPrometheus(store, { url: prom.url, matchers: ['{datacenter="dc2"}'], startMs: START, endMs: END, windowMs: 3 * 3_600_000 });
  assert.ok(again.blocks.every((b) => b.replaced));
  const q2 = new ParquetQueryable(store);
  const got2 = await q2.select({ matchers: [matcher('=~', '__name__', '.+')], mint: START, maxt: END });
  assert.is(sameSamples(clip(got2.series, START, END), serverHolds, 'store vs server, re-imported with other slices'), total);
});

prometheusTest(test, 'hmd import prometheus: the command, and a selector the server refuses', async () => {
  assert.ok(prom, 'the server of the previous test');
  const dir = tmp();
  const code = await main([
    'import', 'prometheus', '--url', prom!.url, '--match', 'up', 'node_cpu_utilization{tier="tier2"}',
    '--start', new Date(START).toISOString(), '--end', new Date(END).toISOString(), '--step-window', '90m', '--out', dir,
  ]);
  assert.is(code, 0);
  const got = await new ParquetQueryable(new LocalObjectStore(dir)).select({ matchers: [matcher('=~', '__name__', '.+')], mint: START, maxt: END });
  assert.is(got.series.length, 6 + 2, 'up of 6 instances, cpu of 2');

  try {
    await importPrometheus(new LocalObjectStore(tmp()), { url: prom!.url, matchers: ['rate(up[5m])'], startMs: START, endMs: END });
    assert.unreachable('a bad selector');
  } catch (e) {
    assert.instance(e, PrometheusImportError);
    const m = (e as Error).message;
    assert.ok(m.includes(prom!.url) && m.includes('/api/v1/series') && m.includes('bad_data'), m);
  }
  assert.is(await main(['import', 'prometheus', '--url', prom!.url, '--match', 'up', '--start', 'x', '--end', '1', '--out', tmp()]), 2);
});

// ---- failures, against small local servers ----

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

async function failure(url: string, extra: { timeoutMs?: number } = {}): Promise<string> {
  try {
    await importPrometheus(new LocalObjectStore(tmp()), { url, matchers: ['up'], startMs: START, endMs: END, ...extra });
  } catch (e) {
    assert.instance(e, PrometheusImportError);
    return (e as Error).message;
  }
  assert.unreachable('expected a failure');
  return '';
}

test('HTTP errors, bodies that are not JSON, API errors: named, with the server', async () => {
  const { url, server } = await serve((req, res) => {
    if (req.url === '/html/api/v1/series') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Sign in</body></html>');
    } else if (req.url === '/bad-gateway/api/v1/series') {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('upstream connect error');
    } else if (req.url === '/api-error/api/v1/series') {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"status":"error","errorType":"unavailable","error":"TSDB not ready"}');
    } else if (req.url === '/odd/api/v1/series') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"hello":"world"}');
    } else if (req.url === '/slow/api/v1/series') {
      // never answers
    } else {
      res.writeHead(404);
      res.end('not found');
    }
  });
  try {
    let m = await failure(`${url}/html`);
    assert.ok(m.includes(`${url}/html`) && m.includes('not JSON') && m.includes('text/html') && m.includes('Sign in'), m);
    m = await failure(`${url}/bad-gateway`);
    assert.ok(m.includes(`${url}/bad-gateway`) && m.includes('HTTP 502') && m.includes('upstream connect error'), m);
    m = await failure(`${url}/api-error`);
    assert.ok(m.includes('HTTP 503') && m.includes('unavailable: TSDB not ready'), m);
    m = await failure(`${url}/odd`);
    assert.ok(m.includes('not a Prometheus API answer'), m);
    m = await failure(`${url}/slow`, { timeoutMs: 300 });
    assert.ok(m.includes(`${url}/slow`) && m.includes('no answer within 0.3s'), m);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('a refused connection and a malformed URL', async () => {
  const port = await freePort();
  const m = await failure(`http://127.0.0.1:${port}`);
  assert.ok(m.includes(`http://127.0.0.1:${port}`) && m.includes('ECONNREFUSED'), m);
  assert.ok((await failure('ftp://127.0.0.1/')).includes('expected http'));
  assert.ok((await failure('not a url')).includes('invalid Prometheus URL'));
});

test.run();
