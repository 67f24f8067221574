/**
 * The daemon killed with SIGKILL at random points of two rollouts, again and again, and started
 * again each time (`hmd daemon` in a child process, real SQLite file, real webhooks). In the end
 * both rollouts must have finished as they would have without a crash, with a complete history:
 * every evaluation on the grid, none missing or twice, one action per stage and kind, each acted
 * on once by the deploy system (calls repeated only with the same idempotency key, when a kill
 * came between the call and its record).
 *
 * The kill points come from a seeded generator (HMD_CRASH_SEED picks another run); the receiver
 * answers slowly, so some kills land while a hook is in flight.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RolloutDetail } from '../../src/daemon/types.js';
import { prng } from '../../src/util/random.js';
import { badRelease, call, daemonConfig, ENV, evaluationTimes, finished, HISTORY, ROOT, rolloutBody } from '../helpers/daemon.js';
import { startReceiver } from '../helpers/receiver.js';

const MIN = 60_000;
const SPEED = 120;
const KILLS = 14;
const SEED = Number(process.env['HMD_CRASH_SEED'] ?? 20251113);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** The rollout's detail, or undefined while the daemon is down. */
async function detail(base: string, id: string): Promise<RolloutDetail | undefined> {
  try {
    const a = await call(base, 'GET', `/api/v1/rollouts/${id}`);
    return a.status === 200 ? (a.json.data as RolloutDetail) : undefined;
  } catch {
    return undefined;
  }
}

/** `hmd daemon` as a child process on one database and clock, started and killed at will. */
function daemonProcess(cfg: string, db: string, port: number, from: string, output: string[]) {
  const base = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let starts = 0;
  return {
    base,
    get starts() {
      return starts;
    },
    /** Starts it and waits until it answers /readyz. */
    async start(): Promise<void> {
      starts++;
      child = spawn(
        process.execPath,
        [join(ROOT, 'bin/hmd.js'), 'daemon', '-c', cfg, '--data', HISTORY, '--db', db, '--listen', `127.0.0.1:${port}`, '--simulate-from', from, '--speed', String(SPEED)],
        { env: { ...process.env, ...ENV }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr!.on('data', (b: Buffer) => output.push(b.toString()));
      for (let i = 0; i < 400; i++) {
        if ((await call(base, 'GET', '/readyz').catch(() => undefined))?.status === 200) return;
        await sleep(25);
      }
      throw new Error(`the daemon did not start: ${output.join('')}`);
    },
    /** SIGKILL: no handler runs, nothing is flushed but what SQLite committed. */
    async kill(): Promise<void> {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    },
  };
}

/** Kills and restarts the daemon at random moments (up to `max` times) until rollout r-1 finishes; returns the kills. */
async function crashUntilDone(d: ReturnType<typeof daemonProcess>, rnd: () => number, max: number, spanMs: number): Promise<{ kills: number; detail: RolloutDetail }> {
  let kills = 0;
  for (; kills < max; kills++) {
    await sleep(100 + Math.floor(rnd() * spanMs));
    const x = await detail(d.base, 'r-1');
    if (x && finished(x)) break;
    await d.kill();
    await d.start();
  }
  for (let i = 0; i < 2400; i++) {
    const x = await detail(d.base, 'r-1');
    if (x && finished(x)) return { kills, detail: x };
    await sleep(50);
  }
  throw new Error('the rollout did not finish');
}

test('killed with SIGKILL at random points many times, the daemon finishes every rollout with a complete history and no duplicate action', async () => {
  const rnd = prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'hmd-crash-'));
  const receiver = await startReceiver();
  receiver.delayMs = 150;
  const cfg = join(dir, 'hmd.yaml');
  writeFileSync(cfg, daemonConfig(receiver.url));
  const output: string[] = [];
  const port = await freePort();
  // A healthy release promoted through three stages, and the bundled bad release, which must be
  // reverted at its canary: each on a daemon database of its own (their histories start apart).
  const healthy = daemonProcess(cfg, join(dir, 'healthy.db'), port, '2025-06-12T07:10:00Z', output);
  const bad = daemonProcess(cfg, join(dir, 'bad.db'), port, '2025-06-13T09:34:00Z', output);
  try {
    await healthy.start();
    const body = rolloutBody('healthy', [
      { name: 'dc1-green', scope: 'datacenter=dc1,tier=tier1,color=green', baseline: 'datacenter=dc1,tier=tier1,color=blue', bake: '10m' },
      { name: 'dc2-green', scope: 'datacenter=dc2,tier=tier1,color=green', baseline: 'datacenter=dc2,tier=tier1,color=blue', bake: '10m' },
      { name: 'dc3-green', scope: 'datacenter=dc3,tier=tier1,color=green', baseline: 'datacenter=dc3,tier=tier1,color=blue', bake: '10m' },
    ], { version: 'v1.5.0' });
    assert.is((await call(healthy.base, 'POST', '/api/v1/rollouts', { body })).status, 201);
    const h = await crashUntilDone(healthy, rnd, KILLS, 900);
    assert.ok(h.kills >= 5, `killed ${h.kills} times before it finished (seed ${SEED})`);
    assert.is(h.detail.state, 'completed', h.detail.reason);
    assert.equal(h.detail.actions.map((a) => [a.kind, a.stage, a.state]), [
      ['promote', 0, 'succeeded'],
      ['promote', 1, 'succeeded'],
      ['promote', 2, 'succeeded'],
    ]);
    checkHistory(h.detail);
    await healthy.kill();

    await bad.start();
    assert.is((await call(bad.base, 'POST', '/api/v1/rollouts', { body: badRelease() })).status, 201);
    const b = await crashUntilDone(bad, rnd, 6, 500);
    assert.is(b.detail.state, 'reverted', b.detail.reason);
    assert.is(b.detail.stage.name, 'canary');
    assert.equal(b.detail.actions.map((a) => [a.kind, a.stage, a.state]), [['revert', 0, 'succeeded']]);
    checkHistory(b.detail);

    // The deploy system acted once per key; a repeat (a kill between the call and its record) carries the same key.
    assert.equal([...new Set(receiver.calls.map((c) => `${c.path} ${c.key}`))].sort(), ['/promote r-1/0/promote', '/promote r-1/1/promote', '/promote r-1/2/promote', '/revert r-1/0/revert']);
    assert.equal(receiver.acted.map((c) => c.key), ['r-1/0/promote', 'r-1/1/promote', 'r-1/2/promote', 'r-1/0/revert']);
    const repeats = receiver.calls.length - receiver.acted.length;
    process.stdout.write(`  crash test (seed ${SEED}): ${h.kills + b.kills} kills, ${healthy.starts + bad.starts} starts, ${receiver.calls.length} hook calls for ${receiver.acted.length} actions (${repeats} repeated after a kill mid-call)\n`);
  } finally {
    await healthy.kill();
    await bad.kill();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Every stage evaluated on the 1m grid from its start, none missing or twice; one event per transition. */
function checkHistory(d: RolloutDetail): void {
  const times = evaluationTimes(d);
  for (const [stage, ts] of times) {
    for (let i = 1; i < ts.length; i++) assert.is(ts[i]! - ts[i - 1]!, MIN, `${d.name} stage ${stage}: evaluations a minute apart (at ${new Date(ts[i]!).toISOString()})`);
    const st = d.stages[stage]!;
    const startedAt = Date.parse(st.startedAt as unknown as string);
    assert.ok(ts[0]! - startedAt < MIN && ts[0]! >= startedAt, `${d.name} stage ${st.name}: first evaluation at its start`);
  }
  const count = (k: string) => d.events.filter((e) => e.kind === k).length;
  assert.is(count('created'), 1);
  assert.is(count('stage-started'), d.stages.filter((s) => s.startedAt !== undefined).length - 1);
  assert.is(count('action-succeeded'), d.actions.length);
  assert.is(count('completed') + count('reverted'), 1);
}

test.run();
