/**
 * The runner driven directly (src/daemon/runner.ts), where the order of requests must be exact:
 * a promote decided and then overtaken by an abort, before the loop carried it out, is never
 * sent; the revert is.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simulatedClock } from '../../src/daemon/clock.js';
import { Runner, type Log } from '../../src/daemon/runner.js';
import { Store } from '../../src/daemon/store.js';
import { Engine } from '../../src/promql/engine.js';
import { openObjectStore } from '../../src/storage/objstore/open.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';
import { HISTORY, rolloutBody } from '../helpers/daemon.js';
import { startReceiver } from '../helpers/receiver.js';

const quiet: Log = { info: () => {}, warn: () => {}, error: () => {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a promote overtaken by an abort before it was carried out is cancelled, never sent; the revert is', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-runner-'));
  const receiver = await startReceiver();
  const storage = new ParquetQueryable(openObjectStore(HISTORY));
  const engine = new Engine();
  const store = new Store(join(dir, 'state.db'));
  const hooks = new Map([
    ['deploy', { name: 'deploy', webhook: { url: `${receiver.url}/promote`, retries: 0 } }],
    ['rollback', { name: 'rollback', webhook: { url: `${receiver.url}/revert`, retries: 0 } }],
  ]);
  const runner = new Runner({
    store,
    q: { instant: (e, t) => engine.instantQuery(storage, e, t), range: (e, s, en, st) => engine.rangeQuery(storage, e, s, en, st) },
    clock: simulatedClock({ simStart: Date.parse('2025-06-12T07:10:00Z'), wallStart: Date.now(), speed: 60 }),
    hooks,
    defaultHooks: { promote: 'deploy', revert: 'rollback' },
    log: quiet,
  });
  try {
    runner.start();
    const body = rolloutBody('overtaken', [
      { name: 'a', scope: 'datacenter=dc1,tier=tier1,color=green', baseline: 'datacenter=dc1,tier=tier1,color=blue', bake: '1h' },
      { name: 'b', scope: 'datacenter=dc1,tier=tier1', bake: '1h' },
    ]);
    // All in one turn of the event loop: the runner's loop cannot carry out the promote between.
    const id = runner.create(JSON.stringify(body), 'request body', 'ana');
    assert.is(runner.request(id, 'promote', 'ana').state, 'promoting');
    assert.is(runner.request(id, 'abort', 'bo').state, 'reverting');
    for (let i = 0; i < 400 && store.rollout(id)!.status.state !== 'aborted'; i++) await sleep(25);
    assert.is(store.rollout(id)!.status.state, 'aborted');
    const actions = store.actions(id);
    assert.equal(actions.map((a) => [a.kind, a.state, a.attempts]), [
      ['promote', 'failed', 0],
      ['revert', 'succeeded', 1],
    ]);
    assert.match(actions[0]!.error ?? '', /cancelled before it was sent: the rollout is (reverting|aborted) at stage a/);
    assert.equal(receiver.calls.map((c) => c.path), ['/revert'], 'the promote never reached the deploy system');
    assert.equal(store.events(id).map((e) => e.kind), ['created', 'promote', 'abort', 'action-failed', 'action-succeeded', 'aborted']);
  } finally {
    await runner.stop(1000);
    store.close();
    await storage.close?.();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A runner over the fixture history on a 60x clock, its hooks calling `receiver`. */
function runnerFor(store: Store, receiverUrl: string, storage: ParquetQueryable): Runner {
  const engine = new Engine();
  return new Runner({
    store,
    q: { instant: (e, t) => engine.instantQuery(storage, e, t), range: (e, s, en, st) => engine.rangeQuery(storage, e, s, en, st) },
    clock: simulatedClock({ simStart: Date.parse('2025-06-12T07:10:00Z'), wallStart: Date.now(), speed: 60 }),
    hooks: new Map([['rollback', { name: 'rollback', webhook: { url: `${receiverUrl}/revert`, retries: 0, timeoutMs: 10_000 } }]]),
    defaultHooks: { revert: 'rollback' },
    log: quiet,
  });
}

test('a graceful stop lets a hook in flight finish and stores its outcome; past the grace it is cut short and carried out at the next start, with the same key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-runner-'));
  const receiver = await startReceiver();
  const storage = new ParquetQueryable(openObjectStore(HISTORY));
  const store = new Store(join(dir, 'state.db'));
  const body = JSON.stringify(rolloutBody('stopping', [{ name: 'a', scope: 'datacenter=dc1,tier=tier1,color=green', baseline: 'datacenter=dc1,tier=tier1,color=blue', bake: '1h' }]));
  /** Waits until the receiver has `n` calls in hand (answered or not). */
  const arrived = async (n: number) => {
    for (let i = 0; i < 400 && receiver.arrived < n; i++) await sleep(10);
    assert.is(receiver.arrived, n, 'the hook is in flight');
  };
  try {
    // Within the grace: the answer (300ms later) is waited for and stored.
    receiver.delayMs = 300;
    let runner = runnerFor(store, receiver.url, storage);
    runner.start();
    const r1 = runner.create(body, 'request body', 'ana');
    runner.request(r1, 'abort', 'ana');
    await arrived(1);
    assert.is(receiver.calls.length, 0, 'not answered yet');
    await runner.stop(5_000);
    assert.equal([store.rollout(r1)!.status.state, store.actions(r1)[0]!.state], ['aborted', 'succeeded']);

    // Past the grace: cut short, nothing stored; the next start sends it again with the same key.
    receiver.delayMs = 2_000;
    runner = runnerFor(store, receiver.url, storage);
    runner.start();
    const r2 = runner.create(body, 'request body', 'ana');
    runner.request(r2, 'abort', 'ana');
    await arrived(2);
    await runner.stop(50);
    assert.equal([store.rollout(r2)!.status.state, store.actions(r2)[0]!.state, store.actions(r2)[0]!.attempts], ['reverting', 'pending', 0]);
    receiver.delayMs = 0;
    runner = runnerFor(store, receiver.url, storage);
    runner.start();
    for (let i = 0; i < 400 && store.rollout(r2)!.status.state !== 'aborted'; i++) await sleep(25);
    assert.is(store.rollout(r2)!.status.state, 'aborted');
    await runner.stop(1000);
    // Wait for the cut-short call's late answer, so that the receiver has seen both.
    for (let i = 0; i < 400 && receiver.calls.length < 3; i++) await sleep(10);
    assert.equal(receiver.calls.map((c) => c.key), ['r-1/0/revert', 'r-2/0/revert', 'r-2/0/revert']);
    assert.equal(receiver.acted.map((c) => c.key), ['r-1/0/revert', 'r-2/0/revert']);
  } finally {
    store.close();
    await storage.close?.();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
