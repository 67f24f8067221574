/**
 * `hmd proxy` in front of a real Prometheus on 127.0.0.1: it forwards the query API only, sheds
 * with 429 + Retry-After, exposes /metrics and /healthz, and holds under a bounded load test.
 */

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AdaptiveLimiter } from '../../src/limiter/limiter.js';
import { startProxy, type RunningProxy } from '../../src/limiter/proxy.js';
import { freePort, prometheusTest, havePrometheus, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { generateSliData, toOpenMetrics } from '../helpers/sli-data.js';

const S = suite('hmd proxy');
const ctx: { prom?: PrometheusServer; proxy?: RunningProxy } = {};
const T = '2025-06-12T11:00:00Z';

S.before(async () => {
  if (!havePrometheus()) return;
  ctx.prom = await startPrometheus({ openMetrics: toOpenMetrics(generateSliData({ seed: 9, datacenters: 2, instancesPerDc: 2, durationMs: 3_600_000 })) });
  ctx.proxy = await startProxy({ upstream: ctx.prom.url, port: 0, clients: [{ userAgent: '^backtest/', priority: 'batch' }] });
});
S.after(async () => {
  await ctx.proxy?.close();
  await ctx.prom?.stop();
});

const post = (base: string, path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  request(base + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });

prometheusTest(S, 'queries through the proxy answer exactly as Prometheus does', async () => {
  const { prom, proxy } = ctx as Required<typeof ctx>;
  for (const q of ['sum by (code) (rate(http_requests_total[5m]))', 'up', 'sum(']) {
    const direct = await post(prom.url, '/api/v1/query', { query: q, time: T });
    const via = await post(proxy.url, '/api/v1/query', { query: q, time: T });
    assert.is(via.statusCode, direct.statusCode, q);
    assert.is(await via.body.text(), await direct.body.text(), q);
  }
  const get = await request(`${proxy.url}/api/v1/label/datacenter/values`);
  assert.is(get.statusCode, 200);
  assert.equal(JSON.parse(await get.body.text()).data, ['dc1', 'dc2']);
});

prometheusTest(S, 'only the query API is forwarded, only upstream: other paths and absolute URLs are refused', async () => {
  const { proxy } = ctx as Required<typeof ctx>;
  for (const path of ['/api/v1/admin/tsdb/delete_series', '/-/quit', '/graph', '/api/v1/write']) {
    const r = await request(proxy.url + path, { method: 'POST' });
    assert.is(r.statusCode, 404, path);
    assert.match(JSON.parse(await r.body.text()).error, /forwards only the Prometheus query API/);
  }
  // An open-proxy attempt: an absolute-form request target.
  const raw = await new Promise<string>((resolve, reject) => {
    import('node:net').then(({ connect }) => {
      const s = connect(proxy.port, '127.0.0.1', () => s.write('GET http://example.com/api/v1/query?query=up HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n'));
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    }, reject);
  });
  assert.match(raw, /^HTTP\/1.1 400/);
  const bad = await request(`${proxy.url}/api/v1/query?query=up`, { headers: { 'x-hmd-priority': 'urgent' } });
  assert.is(bad.statusCode, 400);
  assert.match(JSON.parse(await bad.body.text()).error, /"urgent" is not a priority; use one of interactive, batch/);
});

prometheusTest(S, '/healthz and /metrics, with the limiter metrics per class', async () => {
  const { proxy } = ctx as Required<typeof ctx>;
  await post(proxy.url, '/api/v1/query', { query: 'up', time: T }, { 'user-agent': 'backtest/1.0' });
  const h = await request(`${proxy.url}/healthz`);
  assert.is(h.statusCode, 200);
  await h.body.text();
  const m = await (await request(`${proxy.url}/metrics`)).body.text();
  assert.match(m, /hmd_limiter_window \d+/);
  assert.match(m, /hmd_limiter_admitted_total\{class="batch"\} [1-9]/, 'the User-Agent rule made it batch');
  assert.match(m, /hmd_limiter_admitted_total\{class="interactive"\} [1-9]/);
  assert.match(m, /hmd_limiter_request_duration_seconds_bucket\{le="0.005",class="interactive"\}/);
});

prometheusTest(S, 'load test: shedding shows as 429 with Retry-After, never as timeouts; no crash, bounded memory', async () => {
  const { prom } = ctx as Required<typeof ctx>;
  // A deliberately small window and queue, so that 2,000 requests 200 at a time must be shed.
  const limiter = new AdaptiveLimiter({ window: { initialLimit: 4, maxLimit: 8 }, classes: { batch: { maxQueue: 20, jitterMs: 0 } } });
  const proxy = await startProxy({ upstream: prom.url, port: 0, limiterInstance: limiter });
  try {
    const rss0 = process.memoryUsage().rss;
    const statuses: Record<number, number> = {};
    let retryAfterMissing = 0;
    let errors = 0;
    let next = 0;
    const TOTAL = 2000;
    const worker = async () => {
      while (next < TOTAL) {
        next++;
        try {
          const r = await request(`${proxy.url}/api/v1/query`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-hmd-priority': 'batch' },
            body: `query=${encodeURIComponent('sum by (instance) (rate(http_requests_total[5m]))')}&time=${T}`,
            headersTimeout: 20_000,
            bodyTimeout: 20_000,
          });
          statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
          if (r.statusCode === 429 && !r.headers['retry-after']) retryAfterMissing++;
          await r.body.text();
        } catch {
          errors++;
        }
      }
    };
    await Promise.all(Array.from({ length: 200 }, worker));
    const total = Object.values(statuses).reduce((a, b) => a + b, 0);
    assert.is(errors, 0, 'no request timed out or lost its connection');
    assert.is(total, TOTAL);
    assert.equal(Object.keys(statuses).sort(), ['200', '429'], JSON.stringify(statuses));
    assert.ok(statuses[429]! > 0 && statuses[200]! > 0, JSON.stringify(statuses));
    assert.is(retryAfterMissing, 0);
    assert.is(limiter.inFlightNow().total, 0);
    assert.ok(process.memoryUsage().rss - rss0 < 200 * 1024 * 1024, 'memory stayed bounded');
    // And the upstream is still healthy afterwards.
    assert.is((await post(proxy.url, '/api/v1/query', { query: 'up', time: T })).statusCode, 200);
  } finally {
    await proxy.close();
  }
});

prometheusTest(S, 'hmd proxy from the command line: listens, forwards, stops on SIGTERM with exit 0', async () => {
  const { prom } = ctx as Required<typeof ctx>;
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/hmd.js', 'proxy', '--upstream', prom.url, '--listen', `127.0.0.1:${port}`], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('listening on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    const r = await post(`http://127.0.0.1:${port}`, '/api/v1/query', { query: 'count(up)', time: T });
    assert.is(r.statusCode, 200);
    const direct = await post(prom.url, '/api/v1/query', { query: 'count(up)', time: T });
    assert.is(await r.body.text(), await direct.body.text());
  } finally {
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    child.kill('SIGTERM');
    assert.is(await exited, 0);
  }
});

S.run();
