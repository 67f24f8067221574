/**
 * `hmd query --engines`: in-process `hmd serve` engines, one per datacenter of the demo data,
 * and a bare HTTP server that records what an engine receives (auth headers).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT, runQuery, type QueryArgs, type QueryIO } from '../../src/cli/query.js';
import { PrometheusApi } from '../../src/server/api.js';
import { startHttpServer, type RunningServer } from '../../src/server/http.js';
import { getLabel } from '../../src/storage/labels.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { loadOpenMetricsFile } from '../../src/storage/openmetrics.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEMO = join(ROOT, 'fixtures/demo.om');
const TIME = '2025-06-12T12:00:00Z';
const SLI = 'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (datacenter) (rate(http_requests_total[5m]))';

interface Ctx {
  dir: string;
  servers: RunningServer[];
  config: string;
  recorder?: Server;
  seen: IncomingHttpHeaders[];
}
const S = suite<Ctx>('hmd query --engines', { dir: '', servers: [], config: '', seen: [] });

S.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'hmd-cli-dist-'));
  const all = await loadOpenMetricsFile(DEMO);
  const lines = ['engines:'];
  for (const dc of ['dc1', 'dc2', 'dc3']) {
    const store = new MemoryStore();
    for (const s of all.allSeries()) if (getLabel(s.labels, 'datacenter') === dc) store.appendSeries(s.labels, s.timestamps, s.values);
    const api = new PrometheusApi({ storage: store, buildInfo: { version: 'test' } });
    const server = await startHttpServer({ port: 0, handler: (r) => api.handle(r) });
    ctx.servers.push(server);
    lines.push(`  - name: ${dc}`, `    url: ${server.url}`, `    labels: {datacenter: ${dc}}`);
  }
  ctx.config = join(ctx.dir, 'hmd.yaml');
  writeFileSync(ctx.config, lines.join('\n') + '\n');
});
S.after(async (ctx) => {
  await Promise.all(ctx.servers.map((s) => s.close(0)));
  ctx.recorder?.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

interface Out {
  code: number;
  out: string;
  err: string;
}
async function run(args: Partial<QueryArgs> & { expr: string }): Promise<Out> {
  const o = { out: '', err: '' };
  const io: QueryIO = { out: (s) => void (o.out += s), err: (s) => void (o.err += s), isTTY: false, now: () => Date.parse(TIME) };
  const code = await runQuery({ 'max-samples': 50_000_000, stats: false, time: TIME, ...args } as QueryArgs, io);
  return { code, ...o };
}

S('runs distributed and prints the same JSON as the local evaluation', async (ctx) => {
  const local = await run({ expr: SLI, data: DEMO });
  const dist = await run({ expr: SLI, engines: ctx.config });
  assert.is(local.code, EXIT.OK, local.out);
  assert.is(dist.code, EXIT.OK, dist.out + dist.err);
  const a = JSON.parse(local.out);
  const b = JSON.parse(dist.out);
  assert.is(b.data.result.length, 3);
  assert.equal(b.data.result.map((r: { metric: unknown }) => r.metric), a.data.result.map((r: { metric: unknown }) => r.metric));
  b.data.result.forEach((r: { value: [number, string] }, i: number) => {
    const x = Number(r.value[1]);
    const y = Number(a.data.result[i].value[1]);
    assert.ok(Math.abs(x - y) <= 1e-12 * Math.abs(y), `${x} vs ${y}`);
  });
  assert.not.ok('partialResponse' in b);
});

S('--explain prints the remote queries per engine and the central plan, without running it', async (ctx) => {
  const r = await run({ expr: 'sum by (code) (rate(http_requests_total{datacenter!="dc3"}[5m]))', engines: ctx.config, explain: true });
  assert.is(r.code, EXIT.OK, r.err);
  assert.match(r.out, /plan: {4}distributed \(1 remote sub-query, merged centrally\)/);
  assert.match(r.out, /central: sum by \(code\) \(__hmd_remote_0\)/);
  assert.match(r.out, /dc1 \{datacenter="dc1"\}: instant at 2025-06-12T12:00:00.000Z {2}as: sum by \(code, datacenter\) \(rate\(http_requests_total\[5m\]\)\)/);
  assert.match(r.out, /pruned: {2}dc3/);
  const j = await run({ expr: 'sum(up{datacenter="dc2"})', engines: ctx.config, explain: true, output: 'json' });
  const plan = JSON.parse(j.out);
  assert.is(plan.mode, 'passthrough');
  assert.is(plan.passthrough.engine, 'dc2');
  assert.equal(plan.prunedEngines, ['dc1', 'dc3']);
});

S('an unreachable engine: exit 3 naming it; with --partial-response the rest, flagged', async (ctx) => {
  const cfg = join(ctx.dir, 'broken.yaml');
  writeFileSync(cfg, `engines:\n  - {name: dc1, url: "${ctx.servers[0]!.url}", labels: {datacenter: dc1}}\n  - {name: dc9, url: "http://127.0.0.1:1", labels: {datacenter: dc9}, timeout: 5s}\n`);
  const q = 'sum(rate(http_requests_total[5m]))';
  const failed = await run({ expr: q, engines: cfg, output: 'table' });
  assert.is(failed.code, EXIT.SOURCE);
  assert.match(failed.err, /remote engine "dc9" \(http:\/\/127.0.0.1:1\): connection refused/);
  const partial = await run({ expr: q, engines: cfg, 'partial-response': true });
  assert.is(partial.code, EXIT.OK);
  const j = JSON.parse(partial.out);
  assert.equal(j.partialResponse, { missingEngines: ['dc9'] });
  assert.match(j.warnings[0], /partial response: no answer from engine\(s\) dc9/);
  assert.is(j.data.result.length, 1);
  // The config's default applies when the flag is not given.
  const withDefault = join(ctx.dir, 'partial.yaml');
  writeFileSync(withDefault, readFileSync(cfg, 'utf8') + 'query:\n  partialResponse: true\n');
  const viaConfig = await run({ expr: q, config: withDefault });
  assert.is(viaConfig.code, EXIT.OK, viaConfig.out);
  assert.equal(JSON.parse(viaConfig.out).partialResponse, { missingEngines: ['dc9'] });
  const overridden = await run({ expr: q, config: withDefault, 'partial-response': false });
  assert.is(overridden.code, EXIT.SOURCE);
});

S('an invalid hmd.yaml is a usage error that points at the line', async (ctx) => {
  const cfg = join(ctx.dir, 'bad.yaml');
  writeFileSync(cfg, 'engines:\n  - name: dc1\n    url: http://x\n    timeout: forever\n');
  const r = await run({ expr: 'up', engines: cfg, output: 'table' });
  assert.is(r.code, EXIT.USAGE);
  assert.match(r.err, /bad\.yaml:4:14: engine dc1\.timeout: "forever" is not a positive duration/);
});

S('per-engine headers and bearer tokens reach that engine only', async (ctx) => {
  ctx.recorder = createServer((req, res) => {
    ctx.seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end('{"status":"success","data":{"resultType":"vector","result":[]}}');
    });
  });
  await new Promise<void>((r) => ctx.recorder!.listen(0, '127.0.0.1', r));
  const port = (ctx.recorder.address() as AddressInfo).port;
  writeFileSync(join(ctx.dir, 'token'), 'tok-123\n');
  const cfg = join(ctx.dir, 'auth.yaml');
  writeFileSync(
    cfg,
    `engines:\n  - name: a\n    url: http://127.0.0.1:${port}\n    labels: {dc: a}\n    bearerTokenFile: token\n    headers: {X-Scope-OrgID: tenant-a}\n` +
      `  - name: b\n    url: http://127.0.0.1:${port}\n    labels: {dc: b}\n`,
  );
  const r = await run({ expr: 'sum(up)', engines: cfg });
  assert.is(r.code, EXIT.OK, r.out);
  assert.is(ctx.seen.length, 2);
  const a = ctx.seen.find((h) => h['authorization'] !== undefined)!;
  assert.is(a['authorization'], 'Bearer tok-123');
  assert.is(a['x-scope-orgid'], 'tenant-a');
  const b = ctx.seen.find((h) => h['authorization'] === undefined)!;
  assert.is(b['x-scope-orgid'], undefined);
});

S('flags: a source is required, and --data and --engines exclude each other', () => {
  const hmd = (...args: string[]) => spawnSync(process.execPath, ['bin/hmd.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  const none = hmd('query', 'up');
  assert.is(none.status, EXIT.USAGE);
  assert.match(none.stderr, /Give a source: --data/);
  const both = hmd('query', '--data', DEMO, '--engines', 'x.yaml', 'up');
  assert.is(both.status, EXIT.USAGE);
  assert.match(both.stderr, /not both/);
  const help = hmd('query', '--help');
  assert.match(help.stdout, /--explain/);
  assert.match(help.stdout, /--partial-response/);
});

S.run();
