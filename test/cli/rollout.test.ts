/**
 * `hmd rollout` and `hmd daemon` end to end: the client through runRollout (output and
 * environment captured) against a real daemon in this process on the simulated clock, and the
 * daemon as a child process (`node bin/hmd.js daemon`), stopped by a signal and started again on its database.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runRollout, type RolloutArgs } from '../../src/cli/rollout.js';
import type { RolloutDetail, RolloutSummary } from '../../src/daemon/types.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { call, finished, harness, HISTORY, ROOT, TOKEN, waitFor, type Harness } from '../helpers/daemon.js';

const BAD_RELEASE_FILE = join(ROOT, 'examples/rollout.yaml');
const SLO_5XX = join(ROOT, 'slo-specs/http-5xx-ratio.yaml');
const SLO_P99 = join(ROOT, 'slo-specs/latency-p99.yaml');
/** The bad release's history starts misbehaving a few minutes after this. */
const BAD_FROM = '2025-06-13T09:34:00Z';
/** tier1 in dc1 and dc2, green against blue, stays healthy in the fixture history from here. */
const HEALTHY_FROM = '2025-06-12T07:10:00Z';
/** The CLI's --wait polls; past this many we call it hung instead of waiting forever. */
const MAX_WAIT_POLLS = 600;

const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));

interface Ran {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  /** What the command asked to sleep, one entry per --wait poll. */
  readonly slept: readonly number[];
}

/** One `hmd rollout` against `server`; `env` replaces the environment whole (no HMD_TOKEN unless given). */
async function rollout(server: string, action: string, target?: string, more: Partial<RolloutArgs> = {}, env: Record<string, string | undefined> = { HMD_TOKEN: TOKEN }): Promise<Ran> {
  let out = '';
  let err = '';
  const slept: number[] = [];
  const args: RolloutArgs = { action, server, ...(target !== undefined ? { target } : {}), ...more };
  const code = await runRollout(args, {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env,
    // The daemon's clock runs fast; a short real pause keeps --wait from spinning while counting polls.
    sleep: async (ms) => {
      slept.push(ms);
      if (slept.length > MAX_WAIT_POLLS) throw new Error(`--wait still polling after ${MAX_WAIT_POLLS} polls:\n${err}`);
      await tick(20);
    },
  });
  return { code, out, err, slept };
}

/** A Rollout file judged by the bundled 5xx and latency SLOs (absolute paths, so the file can live anywhere). */
function rolloutFile(dir: string, name: string, stages: readonly { name: string; dc: string; bake: string }[]): string {
  const file = join(dir, `${name}.yaml`);
  const lines = [
    'apiVersion: hmd.dev/v1',
    'kind: Rollout',
    `metadata: {name: ${name}}`,
    'spec:',
    '  version: v1.5.0',
    `  slos: ["${SLO_5XX}", "${SLO_P99}"]`,
    '  stages:',
    ...stages.map((s) => `    - {name: ${s.name}, scope: "datacenter=${s.dc},tier=tier1,color=green", baseline: "datacenter=${s.dc},tier=tier1,color=blue", bake: ${s.bake}}`),
    '  maxPause: 30m',
  ];
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function list(h: Harness): Promise<RolloutSummary[]> {
  return (await call(h.daemon.url, 'GET', '/api/v1/rollouts')).json.data as RolloutSummary[];
}

const R = suite<{ dirs: string[]; daemons: Harness[] }>('hmd rollout', { dirs: [], daemons: [] });

/** A fresh temp dir, removed after the suite whatever happens. */
function tempDir(ctx: { dirs: string[] }, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  ctx.dirs.push(d);
  return d;
}

/** A daemon that the suite stops after each test, even one that failed halfway. */
async function daemon(ctx: { dirs: string[]; daemons: Harness[] }, from: string, speed = 600): Promise<Harness> {
  const h = await harness(from, '', tempDir(ctx, 'hmd-cli-daemon-'), undefined, { speed });
  ctx.daemons.push(h);
  return h;
}

R.after.each(async (ctx) => {
  for (const h of ctx.daemons.splice(0)) await h.stop();
});
R.after((ctx) => {
  for (const d of ctx.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

R('create prints the id and the status page; list filters and prints JSON; status shows stages, the last evaluation and actions', async (ctx) => {
  const h = await daemon(ctx, BAD_FROM);
  const u = h.daemon.url;
  const c = await rollout(u, 'create', BAD_RELEASE_FILE);
  assert.is(c.code, 0, c.err);
  assert.is(c.out, `created r-1: checkout-v1.6.0 v1.6.0, 3 stages; ${u}/rollouts/r-1\n`);
  assert.is(c.slept.length, 0, 'without --wait, create does not poll');
  assert.is((await call(u, 'GET', '/rollouts/r-1')).status, 200, 'the printed page exists');
  const d = await waitFor(u, 'r-1', finished);
  assert.is(d.state, 'reverted');

  const all = await rollout(u, 'list');
  assert.is(all.code, 0, all.err);
  const [header, row, ...rest] = all.out.trimEnd().split('\n');
  assert.match(header!, /^ID\s+NAME\s+VERSION\s+STATE\s+STAGE\s+UPDATED\s+REASON$/);
  assert.match(row!, /^r-1\s+checkout-v1\.6\.0\s+v1\.6\.0\s+reverted\s+canary\s+2025-06-13T\d\d:\d\d:\d\d(\.\d+)?Z\s+reverted at stage canary: /);
  assert.equal(rest, [], 'one rollout, one row');

  const running = await rollout(u, 'list', undefined, { state: 'running,paused' });
  assert.is(running.code, 0, running.err);
  assert.is(running.out, 'no rollouts\n');
  const reverted = await rollout(u, 'list', undefined, { state: 'reverted' });
  assert.is(reverted.code, 0);
  assert.match(reverted.out, /^r-1\s+checkout-v1\.6\.0\s/m);
  const sideways = await rollout(u, 'list', undefined, { state: 'sideways' });
  assert.is(sideways.code, 1, 'a state the daemon does not know is refused');
  assert.match(sideways.err, /^hmd rollout list: state=sideways: not a rollout state/);

  const j = await rollout(u, 'list', undefined, { json: true });
  assert.is(j.code, 0);
  const parsed = JSON.parse(j.out) as { id: string; state: string; stage: { name: string } }[];
  assert.equal(parsed.map((r) => [r.id, r.state, r.stage.name]), [['r-1', 'reverted', 'canary']]);

  const s = await rollout(u, 'status', 'r-1');
  assert.is(s.code, 0, s.err);
  const lines = s.out.split('\n');
  assert.is(lines[0], 'r-1 checkout-v1.6.0 v1.6.0: reverted at stage canary');
  assert.is(lines[1], `  ${d.reason}`);
  assert.match(s.out, /^STAGE\s+SCOPE\s+BASELINE\s+BAKE\s+STATE\s+STARTED\s+ENDED$/m);
  assert.match(s.out, /^canary\s+datacenter=dc2,tier=tier3,color=green\s+datacenter=dc2,tier=tier3,color=blue\s+30m\s+reverted\s+2025-06-13T09:3\d:\S+Z\s+2025-06-13T\S+Z$/m);
  assert.match(s.out, /^dc2-tier3\s+datacenter=dc2,tier=tier3\s+datacenter=dc3,tier=tier3\s+1h\s+pending\s*$/m);
  assert.match(s.out, /^tier3\s+tier=tier3\s+tier=tier2\s+2h\s+pending\s*$/m);
  const last = d.evaluations[d.evaluations.length - 1]!;
  const lastAt = String(last.at).replace('.000Z', 'Z');
  assert.ok(lines.includes(`last evaluation ${lastAt}: revert (${d.evaluations.length} in all)`), s.out);
  assert.ok(last.reasons.length > 0);
  const after = lines.slice(lines.indexOf(`last evaluation ${lastAt}: revert (${d.evaluations.length} in all)`) + 1);
  assert.equal(after.slice(0, last.reasons.length), last.reasons.map((r) => `  ${r}`), 'the reasons follow the evaluation, indented');
  assert.match(s.out, /^ACTION\s+STAGE\s+STATE\s+ATTEMPTS\s+KEY\s+ERROR$/m);
  assert.match(s.out, /^revert\s+canary\s+succeeded\s+1\s+r-1\/0\/revert\s*$/m);

  const sj = await rollout(u, 'status', 'r-1', { json: true });
  assert.is(sj.code, 0);
  const detail = JSON.parse(sj.out) as RolloutDetail;
  assert.equal([detail.id, detail.state, detail.actions.map((a) => a.idempotencyKey)], ['r-1', 'reverted', ['r-1/0/revert']]);
});

R('create --wait: exit 1 when the rollout ends reverted, 0 when it completes', async (ctx) => {
  const bad = await daemon(ctx, BAD_FROM);
  const r = await rollout(bad.daemon.url, 'create', BAD_RELEASE_FILE, { wait: true });
  assert.is(r.code, 1, r.out + r.err);
  assert.match(r.out, /^created r-1: checkout-v1\.6\.0/);
  assert.match(r.err, /^r-1: reverted at stage canary: reverted at stage canary: revert: critical SLO http-5xx-ratio failed$/m);
  assert.ok(r.slept.every((ms) => ms === 2000), `polls every 2s of real time: ${r.slept.join(',')}`);
  assert.is((await list(bad))[0]!.state, 'reverted', 'the exit code tells what the daemon holds');

  const good = await daemon(ctx, HEALTHY_FROM);
  const file = rolloutFile(tempDir(ctx, 'hmd-cli-rollout-'), 'v150-tier1', [
    { name: 'dc1-green', dc: 'dc1', bake: '5m' },
    { name: 'dc2-green', dc: 'dc2', bake: '5m' },
  ]);
  const g = await rollout(good.daemon.url, 'create', file, { wait: true });
  assert.is(g.code, 0, g.out + g.err);
  assert.match(g.out, /^created r-1: v150-tier1 v1\.5\.0, 2 stages; /);
  assert.match(g.err, /^r-1: completed at stage dc2-green: /m);
  assert.ok(g.slept.length > 0, 'it did wait');
  assert.equal((await list(good)).map((x) => x.state), ['completed']);
});

R('pause, resume and abort print the new state; requests the state refuses and unknown ids exit 1 with the daemon\'s message', async (ctx) => {
  // 60x and a 2h bake: the rollout stays running for the whole test unless told otherwise.
  const h = await daemon(ctx, HEALTHY_FROM, 60);
  const u = h.daemon.url;
  const file = rolloutFile(tempDir(ctx, 'hmd-cli-rollout-'), 'steady', [{ name: 'canary', dc: 'dc1', bake: '2h' }]);
  assert.is((await rollout(u, 'create', file)).code, 0);

  const early = await rollout(u, 'resume', 'r-1');
  assert.is(early.code, 1, early.out);
  assert.is(early.err, 'hmd rollout resume: cannot resume a rollout that is running\n');
  assert.is(early.out, '');

  const p = await rollout(u, 'pause', 'r-1');
  assert.is(p.code, 0, p.err);
  assert.match(p.out, /^r-1: paused at stage canary: .+\n$/);
  assert.is((await list(h))[0]!.state, 'paused');
  const again = await rollout(u, 'pause', 'r-1');
  assert.is(again.code, 1);
  assert.match(again.err, /cannot pause a rollout that is paused/);

  const res = await rollout(u, 'resume', 'r-1');
  assert.is(res.code, 0, res.err);
  assert.match(res.out, /^r-1: running at stage canary: /);

  const unknown = await rollout(u, 'status', 'r-99');
  assert.is(unknown.code, 1);
  assert.is(unknown.err, 'hmd rollout status: no rollout r-99\n');
  const unknownPause = await rollout(u, 'pause', 'r-99');
  assert.is(unknownPause.code, 1);
  assert.match(unknownPause.err, /no rollout r-99/);
  const notAnId = await rollout(u, 'status', 'latest');
  assert.is(notAnId.code, 1, 'an id of the wrong shape is not found either');

  const a = await rollout(u, 'abort', 'r-1', { wait: true });
  assert.is(a.code, 1, 'an aborted rollout is not a success: ' + a.out + a.err);
  assert.match(a.out, /^r-1: (reverting|aborted) at stage canary: /);
  assert.match(a.err, /^r-1: aborted at stage canary: /m);
  assert.equal(h.receiver.acted.map((x) => x.key), ['r-1/0/revert'], 'the abort went through the revert hook');
  const late = await rollout(u, 'abort', 'r-1');
  assert.is(late.code, 1);
  assert.match(late.err, /^hmd rollout abort: cannot abort a rollout that is aborted/);
});

R('tokens: none or a wrong one exits 2 and changes nothing; --token-file works; reads need none', async (ctx) => {
  const h = await daemon(ctx, HEALTHY_FROM, 60);
  const u = h.daemon.url;
  const dir = tempDir(ctx, 'hmd-cli-rollout-');
  const file = rolloutFile(dir, 'tokens', [{ name: 'canary', dc: 'dc1', bake: '2h' }]);

  const none = await rollout(u, 'create', file, {}, {});
  assert.is(none.code, 2);
  assert.match(none.err, /needs a token: set HMD_TOKEN or give --token-file/);
  assert.equal(await list(h), [], 'nothing created without a token');
  const wrong = await rollout(u, 'create', file, {}, { HMD_TOKEN: 'not-the-token-of-this-daemon' });
  assert.is(wrong.code, 2, wrong.err);
  assert.match(wrong.err, /unauthorized: the bearer token is not one of daemon\.tokens/);
  assert.equal(await list(h), [], 'nothing created with a wrong token');

  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const withFile = await rollout(u, 'create', file, { 'token-file': tokenFile }, {});
  assert.is(withFile.code, 0, withFile.err);
  assert.match(withFile.out, /^created r-1: tokens/);

  const pauseNone = await rollout(u, 'pause', 'r-1', {}, {});
  assert.is(pauseNone.code, 2);
  assert.match(pauseNone.err, /set HMD_TOKEN/);
  const pauseWrong = await rollout(u, 'pause', 'r-1', {}, { HMD_TOKEN: 'not-the-token-of-this-daemon' });
  assert.is(pauseWrong.code, 2);
  assert.is((await list(h))[0]!.state, 'running', 'refused requests changed nothing');
  const missing = await rollout(u, 'pause', 'r-1', { 'token-file': join(dir, 'no-such-token') }, { HMD_TOKEN: TOKEN });
  assert.is(missing.code, 2, 'a --token-file that cannot be read is not silently replaced by HMD_TOKEN');
  assert.match(missing.err, /cannot read --token-file .*no-such-token: ENOENT/);
  const pauseFile = await rollout(u, 'pause', 'r-1', { 'token-file': tokenFile }, {});
  assert.is(pauseFile.code, 0, pauseFile.err);
  assert.match(pauseFile.out, /^r-1: paused at stage canary/);

  const l = await rollout(u, 'list', undefined, {}, {});
  assert.is(l.code, 0, l.err);
  assert.match(l.out, /^r-1\s+tokens\s+v1\.5\.0\s+paused\s+canary\s/m);
  const s = await rollout(u, 'status', 'r-1', {}, {});
  assert.is(s.code, 0, s.err);
  assert.match(s.out, /^r-1 tokens v1\.5\.0: paused at stage canary$/m);
});

R('a daemon that cannot be reached exits 3; a --server that is not a URL exits 2', async () => {
  for (const [action, target] of [['list', undefined], ['status', 'r-1'], ['pause', 'r-1'], ['create', BAD_RELEASE_FILE]] as const) {
    const r = await rollout('http://127.0.0.1:1', action, target);
    assert.is(r.code, 3, `${action}: ${r.err}`);
    assert.match(r.err, new RegExp(`^hmd rollout ${action}: cannot reach the daemon at http://127\\.0\\.0\\.1:1: connection refused`));
  }
  const bad = await rollout('127.0.0.1 port 9797', 'list');
  assert.is(bad.code, 2);
  assert.match(bad.err, /--server "127\.0\.0\.1 port 9797" is not a URL/);
});

R('a Rollout file with an error exits 2 with its location, and nothing is created', async (ctx) => {
  const h = await daemon(ctx, HEALTHY_FROM);
  const dir = tempDir(ctx, 'hmd-cli-rollout-');
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, ['apiVersion: hmd.dev/v1', 'kind: Rollout', 'metadata: {name: broken}', 'spec:', `  slos: ["${SLO_5XX}"]`, '  stages:', '    - {name: canary, scope: "datacenter=dc1", bake: soon}', ''].join('\n'));
  const r = await rollout(h.daemon.url, 'create', broken);
  assert.is(r.code, 2, r.out + r.err);
  assert.match(r.err, /^hmd rollout create: \S*broken\.yaml:7:\d+: spec\.stages\[0\]\.bake: /);
  assert.is(r.out, '');
  const noSlo = join(dir, 'no-slo.yaml');
  writeFileSync(noSlo, ['apiVersion: hmd.dev/v1', 'kind: Rollout', 'metadata: {name: no-slo}', 'spec:', '  slos: [missing.yaml]', '  stages:', '    - {name: canary, scope: "datacenter=dc1", bake: 5m}', ''].join('\n'));
  const m = await rollout(h.daemon.url, 'create', noSlo);
  assert.is(m.code, 2, m.out + m.err);
  assert.match(m.err, /missing\.yaml.*ENOENT|ENOENT.*missing\.yaml/);
  assert.equal(await list(h), [], 'nothing was created');
});

// ---------------------------------------------------------------------------------------------

interface Child {
  readonly proc: ChildProcess;
  out: string;
  err: string;
  /** The exit code once the child has exited and its output is read; null for a signal. */
  code: number | null | undefined;
}

const D = suite<{ dirs: string[]; children: Child[]; receivers: Receiver[] }>('hmd daemon (child process)', { dirs: [], children: [], receivers: [] });

/** `node bin/hmd.js daemon ...`, with the token variable its config names. */
function hmdDaemon(ctx: { children: Child[] }, args: readonly string[]): Child {
  const proc = spawn(process.execPath, ['bin/hmd.js', 'daemon', ...args], { cwd: ROOT, env: { ...process.env, HMD_TEST_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
  const c: Child = { proc, out: '', err: '', code: undefined };
  proc.stdout!.on('data', (b: Buffer) => void (c.out += b.toString('utf8')));
  proc.stderr!.on('data', (b: Buffer) => void (c.err += b.toString('utf8')));
  proc.on('close', (code) => void (c.code = code));
  ctx.children.push(c);
  return c;
}

/** Waits (polls, 50ms apart) until `ok` holds; fails the test with `what` and the child's stderr otherwise. */
async function until(c: Child, ok: () => boolean, what: string, polls = 600): Promise<void> {
  for (let i = 0; i < polls; i++) {
    if (ok()) return;
    await tick();
  }
  assert.unreachable(`${what}; exit ${String(c.code)}, stderr:\n${c.err}`);
}

async function exited(c: Child): Promise<number | null> {
  await until(c, () => c.code !== undefined, 'the daemon did not exit');
  return c.code!;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function config(dir: string, daemonSection: string): string {
  const file = join(dir, 'hmd.yaml');
  writeFileSync(file, daemonSection);
  return file;
}

const GOOD_CONFIG = 'daemon:\n  listen: 127.0.0.1:0\n  tokens:\n    - {name: ci, token: "${HMD_TEST_TOKEN}"}\n';
/** With the hooks examples/rollout.yaml names, calling `receiver`. */
const withHooks = (receiver: string) => `${GOOD_CONFIG}  hooks:\n    - {name: deploy, webhook: {url: "${receiver}/promote"}}\n    - {name: rollback, webhook: {url: "${receiver}/revert"}}\n`;

D.after.each(async (ctx) => {
  // A test that failed halfway leaves no daemon behind.
  for (const c of ctx.children.splice(0)) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  for (const r of ctx.receivers.splice(0)) await r.close();
});
D.after((ctx) => {
  for (const d of ctx.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

D('a bad daemon section exits 2 with its location; --speed without --simulate-from is a usage error', async (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-cli-daemon-'));
  ctx.dirs.push(dir);
  const bad = config(dir, 'daemon:\n  listen: 127.0.0.1:0\n  tokens:\n    - {name: ci, token: "written-into-the-file-0123456789"}\n');
  const c = hmdDaemon(ctx, ['--config', bad, '--data', HISTORY, '--db', join(dir, 'state.db')]);
  assert.is(await exited(c), 2, c.err);
  assert.match(c.err, /^hmd daemon: \S*hmd\.yaml:4:\d+: daemon\.tokens\[0\]\.token: write the token as \$\{VARIABLE\}/m);
  assert.not.match(c.err, /listening on/);

  const good = config(dir, GOOD_CONFIG);
  const u = hmdDaemon(ctx, ['--config', good, '--data', HISTORY, '--db', join(dir, 'state.db'), '--speed', '600']);
  assert.is(await exited(u), 2, u.err);
  assert.match(u.err, /--speed needs --simulate-from/);
  assert.not.match(u.err, /listening on/);
});

D('started, it answers /readyz and logs JSON lines; SIGTERM stops it with 0; the same --db on another clock exits 3', async (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-cli-daemon-'));
  ctx.dirs.push(dir);
  const receiver = await startReceiver();
  ctx.receivers.push(receiver);
  const cfg = config(dir, withHooks(receiver.url));
  const db = join(dir, 'state.db');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const c = hmdDaemon(ctx, ['--config', cfg, '--data', HISTORY, '--simulate-from', BAD_FROM, '--speed', '600', '--db', db, '--listen', `127.0.0.1:${port}`]);
  await until(c, () => /listening on/.test(c.err) || c.code !== undefined, 'the daemon did not start');
  assert.is(c.code, undefined, `the daemon exited at start:\n${c.err}`);
  assert.match(c.err, new RegExp(`^hmd daemon: listening on ${url.replace(/\./g, '\\.')} `, 'm'));

  const ready = await request(`${url}/readyz`);
  assert.is(ready.statusCode, 200);
  assert.equal(await ready.body.json(), { status: 'success', data: 'ready' });
  // The token reached the child through the variable its config names: the CLI's requests go through.
  const created = await rollout(url, 'create', BAD_RELEASE_FILE);
  assert.is(created.code, 0, created.err);
  await until(c, () => c.out.includes('"msg":"rollout created"'), 'no log line for the created rollout');

  c.proc.kill('SIGTERM');
  assert.is(await exited(c), 0, c.err);
  assert.match(c.err, /SIGTERM, stopping/);
  assert.match(c.err, /^hmd daemon: stopped$/m);
  const logs = c.out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { msg?: unknown; level?: unknown; by?: unknown });
  assert.ok(logs.length >= 3, c.out);
  assert.ok(logs.every((l) => typeof l.msg === 'string' && typeof l.level === 'number'), 'every stdout line is a JSON log record');
  const msgs = logs.map((l) => l.msg);
  for (const m of ['runner started', 'daemon listening', 'rollout created', 'stopped']) assert.ok(msgs.includes(m), `logged "${m}": ${msgs.join(' | ')}`);
  assert.is(logs.find((l) => l.msg === 'rollout created')!.by, 'ci');
  assert.not.ok(c.out.includes(TOKEN) || c.err.includes(TOKEN), 'the token never shows in the logs');

  const other = hmdDaemon(ctx, ['--config', cfg, '--data', HISTORY, '--simulate-from', '2025-06-13T10:00:00Z', '--speed', '600', '--db', db, '--listen', `127.0.0.1:${port}`]);
  assert.is(await exited(other), 3, other.err);
  assert.match(other.err, /written on a clock simulated from 2025-06-13T09:34:00\.000Z at 600x; start again with --simulate-from 2025-06-13T09:34:00\.000Z --speed 600/);
  assert.not.match(other.err, /listening on/);
});

R.run();
D.run();
