/**
 * `hmd gate` on the generated fixture history (fixtures/history, scenario.json): the bad release
 * reverts, a healthy one continues, the fleet-wide incident never reverts, missing data pauses;
 * JUnit XML and JSON are written; errors exit 3.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GATE_EXIT, runGate, type GateArgs, type GateIO } from '../../src/cli/gate.js';
import { PrometheusApi } from '../../src/server/api.js';
import { startHttpServer } from '../../src/server/http.js';
import { openObjectStore } from '../../src/storage/objstore/open.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SPECS = ['http-5xx-ratio', 'latency-p99', 'saturation'].map((n) => join(ROOT, 'slo-specs', `${n}.yaml`));
const DATA = join(ROOT, 'fixtures/history');
const scenario = JSON.parse(readFileSync(join(DATA, 'scenario.json'), 'utf8')) as {
  badRelease: { scope: Record<string, string>; release: string; revert: string };
  incident: { start: string; end: string };
};
const scopeText = (s: Record<string, string>) => Object.entries(s).map(([k, v]) => `${k}=${v}`).join(',');
const bad = scenario.badRelease.scope;
const BAD_SCOPE = scopeText(bad);
const BAD_BASELINE = scopeText({ ...bad, color: bad['color'] === 'green' ? 'blue' : 'green' });
const iso = (ms: number) => new Date(ms).toISOString();

const S = suite<{ dir: string }>('hmd gate', { dir: '' });
S.before((ctx) => void (ctx.dir = mkdtempSync(join(tmpdir(), 'hmd-gate-'))));
S.after((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

async function gate(args: Partial<GateArgs>): Promise<{ code: number; out: string; err: string }> {
  const o = { out: '', err: '' };
  const io: GateIO = { out: (s) => void (o.out += s), err: (s) => void (o.err += s), now: () => Date.parse('2025-06-14T00:00:00Z'), sleep: async () => {} };
  // `data: undefined` in `args` means "no --data" (the engines are the source).
  const merged: GateArgs = { spec: SPECS, output: 'table', ...('data' in args ? {} : { data: DATA }), ...args };
  if (merged.data === undefined) delete merged.data;
  const code = await runGate(merged, io);
  return { code, ...o };
}

S('the bad release reverts, one-shot and baking, with JUnit XML and JSON that say why', async (ctx) => {
  const at = iso(Date.parse(scenario.badRelease.release) + 50 * 60_000);
  const junit = join(ctx.dir, 'bad.xml');
  const json = join(ctx.dir, 'bad.json');
  const r = await gate({ scope: BAD_SCOPE, 'baseline-scope': BAD_BASELINE, at, junit, json });
  assert.is(r.code, GATE_EXIT.REVERT, r.out + r.err);
  assert.match(r.out, /^verdict: REVERT\n {2}revert: critical SLO http-5xx-ratio failed/);
  const x = readFileSync(junit, 'utf8');
  assert.match(x, /<testsuite name="hmd gate: revert" tests="3" failures="2" errors="0" skipped="1">/);
  assert.match(x, /<testcase classname="hmd.gate" name="http-5xx-ratio"><failure message="[^"]*" type="fail">/);
  assert.match(x, /name="cpu-saturation"><skipped message="dry run: fail/);
  const j = JSON.parse(readFileSync(json, 'utf8'));
  assert.is(j.verdict, 'revert');
  assert.equal(j.slos.map((s: { name: string; status: string }) => [s.name, s.status]), [
    ['http-5xx-ratio', 'fail'],
    ['latency-p99', 'fail'],
    ['cpu-saturation', 'fail'],
  ]);
  // Baking from 4 minutes after the release: reverts once the initial delay and limits allow.
  const bake = await gate({ scope: BAD_SCOPE, 'baseline-scope': BAD_BASELINE, at: iso(Date.parse(scenario.badRelease.release) + 4 * 60_000), for: '20m', output: 'json' });
  assert.is(bake.code, GATE_EXIT.REVERT, bake.out);
  const evals = JSON.parse(bake.out).slos[0].evaluations.length;
  assert.ok(evals >= 6 && evals <= 21, `${evals} evaluations: stops at the revert`);
});

S('a healthy release continues (one-shot and baking)', async () => {
  const at = iso(Date.parse(scenario.badRelease.release) - 60 * 60_000);
  const r = await gate({ scope: BAD_SCOPE, 'baseline-scope': BAD_BASELINE, at });
  assert.is(r.code, GATE_EXIT.CONTINUE, r.out);
  const b = await gate({ scope: 'datacenter=dc1,tier=tier3,color=green', 'baseline-scope': 'datacenter=dc1,tier=tier3,color=blue', at: '2025-06-13T04:00:00Z', for: '15m' });
  assert.is(b.code, GATE_EXIT.CONTINUE, b.out);
});

S('the fleet-wide incident pauses or continues, never reverts', async () => {
  const start = Date.parse(scenario.incident.start);
  const end = Date.parse(scenario.incident.end);
  for (const t of [start + 10 * 60_000, (start + end) / 2, end - 5 * 60_000]) {
    for (const color of ['green', 'blue']) {
      const other = color === 'green' ? 'blue' : 'green';
      const r = await gate({ scope: `datacenter=dc3,tier=tier2,color=${color}`, 'baseline-scope': `datacenter=dc3,tier=tier2,color=${other}`, at: iso(t) });
      assert.ok(r.code === GATE_EXIT.CONTINUE || r.code === GATE_EXIT.PAUSE, `${iso(t)} ${color}: exit ${r.code}\n${r.out}`);
      assert.match(r.out, /fleet-wide/);
    }
  }
});

S('missing data pauses: a scope with no machines, or no baseline to compare with', async () => {
  const r = await gate({ scope: 'datacenter=dc9', 'baseline-scope': 'datacenter=dc8', at: '2025-06-13T10:30:00Z' });
  assert.is(r.code, GATE_EXIT.PAUSE, r.out);
  assert.match(r.out, /^verdict: PAUSE/);
  assert.match(r.out, /no data/);
});

S('live baking waits on the clock between evaluations (injected clock)', async () => {
  let now = Date.parse('2025-06-13T04:00:00Z');
  const slept: number[] = [];
  const io: GateIO = { out: () => {}, err: () => {}, now: () => now, sleep: async (ms) => void (slept.push(ms), (now += ms)) };
  const code = await runGate({ spec: SPECS, data: DATA, output: 'table', scope: 'datacenter=dc1,tier=tier3,color=green', 'baseline-scope': 'datacenter=dc1,tier=tier3,color=blue', for: '4m' }, io);
  assert.is(code, GATE_EXIT.PAUSE, 'the specs\' 5 minute initial delays are not over after a 4 minute bake: pending');
  assert.equal(slept, [60_000, 60_000, 60_000, 60_000]);
  now = Date.parse('2025-06-13T04:00:00Z');
  slept.length = 0;
  const long = await runGate({ spec: SPECS.slice(0, 2), data: DATA, output: 'table', scope: 'datacenter=dc1,tier=tier3,color=green', 'baseline-scope': 'datacenter=dc1,tier=tier3,color=blue', for: '8m' }, io);
  assert.is(long, GATE_EXIT.CONTINUE);
  assert.is(slept.length, 8);
});

S('against remote engines: the same verdict through hmd serve; an engine that does not answer pauses (partial data is not healthy)', async (ctx) => {
  const api = new PrometheusApi({ storage: new ParquetQueryable(openObjectStore(DATA)), buildInfo: { version: 'test' } });
  const server = await startHttpServer({ port: 0, handler: (r) => api.handle(r) });
  try {
    const one = join(ctx.dir, 'one.yaml');
    writeFileSync(one, `engines:\n  - {name: history, url: "${server.url}"}\n`);
    const at = iso(Date.parse(scenario.badRelease.release) + 50 * 60_000);
    const r = await gate({ data: undefined, engines: one, scope: BAD_SCOPE, 'baseline-scope': BAD_BASELINE, at });
    assert.is(r.code, GATE_EXIT.REVERT, r.out + r.err);
    const two = join(ctx.dir, 'two.yaml');
    writeFileSync(two, `engines:\n  - {name: history, url: "${server.url}", labels: {region: eu}}\n  - {name: gone, url: "http://127.0.0.1:1", labels: {region: us}, timeout: 2s}\n`);
    const p = await gate({ data: undefined, engines: two, scope: 'datacenter=dc1,tier=tier3,color=green', 'baseline-scope': 'datacenter=dc1,tier=tier3,color=blue', at: '2025-06-13T04:00:00Z' });
    assert.is(p.code, GATE_EXIT.PAUSE, p.out + p.err);
    assert.match(p.out, /partial answer, engines gone missing/);
  } finally {
    await server.close(0);
  }
});

S('errors exit 3: a bad spec, a bad scope, an unreadable source, bad flags', async (ctx) => {
  const badSpec = join(ctx.dir, 'bad.yaml');
  writeFileSync(badSpec, 'apiVersion: hmd.dev/v1\nkind: SLO\nmetadata: {name: x}\nspec: {sli: {expr: "sum("}}\n');
  const a = await gate({ spec: [badSpec], scope: 'tier=tier3' });
  assert.is(a.code, GATE_EXIT.ERROR);
  assert.match(a.err, /bad.yaml:4:20: spec.sli.expr: .*unclosed left parenthesis/);
  const b = await gate({ scope: 'tier' });
  assert.is(b.code, GATE_EXIT.ERROR);
  assert.match(b.err, /cannot read "tier"/);
  const nb = await gate({ scope: 'tier=tier3' });
  assert.is(nb.code, GATE_EXIT.ERROR);
  assert.match(nb.err, /http-5xx-ratio compares the new code with the old: give --baseline-scope/);
  const c = await gate({ scope: 'tier=tier3', 'baseline-scope': 'tier=tier2', data: join(ctx.dir, 'nope.om') });
  assert.is(c.code, GATE_EXIT.ERROR);
  assert.match(c.err, /cannot open the source/);
  const d = spawnSync(process.execPath, ['bin/hmd.js', 'gate', '--spec', SPECS[0]!], { cwd: ROOT, encoding: 'utf8' });
  assert.is(d.status, GATE_EXIT.ERROR, 'a usage error is an error (3), not a pause (2)');
  assert.match(d.stderr, /Give a source/);
});

S.run();
