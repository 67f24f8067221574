/** The daemon's SQLite state (src/daemon/store.ts) on a real database file. */

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { idempotencyKey, Store, type Change, type StoredEvaluation } from '../../src/daemon/store.js';
import type { RolloutStatus } from '../../src/rollout/machine.js';

const T0 = Date.UTC(2025, 5, 13, 9, 0);
const running: RolloutStatus = { state: 'running', stage: 0, stageStartedAt: T0, reason: 'baking' };

function withStore(f: (s: Store, file: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-store-'));
  const file = join(dir, 'state.db');
  const s = new Store(file);
  try {
    f(s, file);
  } finally {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const evaluation = (id: string, at: number, stage = 0): StoredEvaluation & { rolloutId: string } => ({
  rolloutId: id,
  at,
  stage,
  verdict: 'pause',
  slos: [{ name: 'a', status: 'no-data', reasons: [{ check: 'data', status: 'no-data', message: 'SLI: no data', values: {} }] }],
  reasons: ['pause: a no-data', 'a: inconclusive'],
});

test('the database is in WAL mode, and what is committed is there when it is opened again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-store-'));
  const file = join(dir, 'state.db');
  try {
    const s = new Store(file);
    assert.is(s.journalMode(), 'wal');
    const id = s.createRollout({ name: 'x', version: 'v1', document: '{}', status: running, at: T0, by: 'ci' });
    assert.is(id, 'r-1');
    assert.ok(existsSync(`${file}-wal`), 'writes go to the write-ahead log');
    s.close();
    const again = new Store(file);
    const r = again.rollout('r-1')!;
    assert.equal([r.name, r.version, r.status.state, r.createdBy], ['x', 'v1', 'running', 'ci']);
    assert.equal(again.events('r-1').map((e) => e.kind), ['created']);
    assert.is(again.createRollout({ name: 'y', document: '{}', status: running, at: T0 }), 'r-2');
    again.close();
    // A database from another schema version is refused with what to do.
    const raw = new Database(file);
    raw.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    raw.close();
    assert.throws(() => new Store(file), /schema version 99, this hmd reads 1; use a new --db or the hmd that wrote it/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an evaluation is stored once: taken again (after a crash) it writes nothing', () =>
  withStore((s) => {
    const id = s.createRollout({ name: 'x', document: '{}', status: running, at: T0 });
    assert.ok(s.tx(() => s.insertEvaluation(evaluation(id, T0 + 60_000))));
    assert.not.ok(s.tx(() => s.insertEvaluation(evaluation(id, T0 + 60_000))));
    assert.ok(s.tx(() => s.insertEvaluation(evaluation(id, T0 + 120_000))));
    assert.equal(s.evaluations(id).map((e) => e.at), [T0 + 60_000, T0 + 120_000]);
    assert.is(s.lastEvaluationAt(id, 0), T0 + 120_000);
    assert.is(s.lastEvaluationAt(id, 1), undefined);
    // Stored reasons come back for a restarted stage to summarise its runs.
    assert.equal(s.evaluations(id, 0)[0]!.slos[0]!.reasons[0]!.message, 'SLI: no data');
  }));

test('a transaction that fails midway leaves nothing behind: no evaluation without its change', () =>
  withStore((s) => {
    const id = s.createRollout({ name: 'x', document: '{}', status: running, at: T0 });
    assert.throws(() =>
      s.tx(() => {
        s.insertEvaluation(evaluation(id, T0 + 60_000));
        s.applyChange({ rolloutId: id, at: T0 + 60_000, status: { ...running, state: 'reverting' }, actions: [{ kind: 'revert', stage: 0, reason: 'r' }], happened: [{ kind: 'revert', message: 'r' }] });
        throw new Error('the process died here');
      }),
    );
    assert.equal(s.evaluations(id), []);
    assert.is(s.rollout(id)!.status.state, 'running');
    assert.equal(s.actions(id), []);
    assert.equal(s.events(id).map((e) => e.kind), ['created']);
  }));

test('one action per rollout, stage and kind: a revert decided again is the same action; a failed promote decided again goes back to the queue with its key', () =>
  withStore((s) => {
    const id = s.createRollout({ name: 'x', document: '{}', status: running, at: T0 });
    const change = (at: number, kind: 'promote' | 'revert', state: RolloutStatus['state']): Change => ({
      rolloutId: id,
      at,
      status: { ...running, state },
      actions: [{ kind, stage: 0, reason: `${kind} at ${at}`, hook: 'h' }],
      happened: [],
    });
    s.tx(() => s.applyChange(change(T0 + 1, 'revert', 'reverting')));
    s.tx(() => s.applyChange(change(T0 + 2, 'revert', 'reverting')));
    assert.equal(s.actions(id).map((a) => [a.kind, a.idempotencyKey, a.reason]), [['revert', 'r-1/0/revert', 'revert at ' + (T0 + 1)]]);
    assert.is(idempotencyKey(id, 0, 'revert'), 'r-1/0/revert');

    s.tx(() => s.applyChange(change(T0 + 3, 'promote', 'promoting')));
    const p = s.actions(id).find((a) => a.kind === 'promote')!;
    assert.equal(s.pendingActions(T0 + 3).map((a) => a.id), [1, p.id]);
    assert.equal(s.pendingActions(T0 + 2).map((a) => a.id), [1], 'not due before its time');
    s.tx(() => s.finishAction({ id: p.id, at: T0 + 4, attempts: 3, outcome: 'failed', error: 'exit 1' }));
    assert.equal(s.pendingActions().map((a) => a.id), [1]);
    s.tx(() => s.applyChange(change(T0 + 5, 'promote', 'promoting')));
    const again = s.actions(id).find((a) => a.kind === 'promote')!;
    assert.equal([again.id, again.idempotencyKey, again.state, again.attempts, again.error], [p.id, 'r-1/0/promote', 'pending', 3, undefined]);
    // A revert to retry later: pending again, from `retryAt`, attempts adding up.
    s.tx(() => s.finishAction({ id: 1, at: T0 + 6, attempts: 2, outcome: 'retry', retryAt: T0 + 10_000, error: 'HTTP 503' }));
    const r = s.pendingActions().find((a) => a.id === 1)!;
    assert.equal([r.nextAttemptAt, r.attempts], [T0 + 10_000, 2]);
    assert.is(s.actions(id)[0]!.state, 'pending');
    assert.is(s.actions(id)[0]!.error, 'HTTP 503');
  }));

test('stage runs follow the status: a new stage starts when the stage changes, and the last ends with the rollout', () =>
  withStore((s) => {
    const id = s.createRollout({ name: 'x', document: '{}', status: running, at: T0 });
    s.tx(() => s.applyChange({ rolloutId: id, at: T0 + 1000, status: { state: 'running', stage: 1, stageStartedAt: T0 + 1000, reason: 'b' }, actions: [], happened: [] }));
    s.tx(() => s.applyChange({ rolloutId: id, at: T0 + 2000, status: { state: 'reverted', stage: 1, stageStartedAt: T0 + 1000, reason: 'r' }, actions: [], happened: [] }));
    assert.equal(s.stageRuns(id), [
      { stage: 0, startedAt: T0, endedAt: T0 + 1000, outcome: 'promoted' },
      { stage: 1, startedAt: T0 + 1000, endedAt: T0 + 2000, outcome: 'reverted' },
    ]);
    assert.equal(s.countByState(), { reverted: 1 });
    assert.ok(s.ping());
  }));

test.run();
