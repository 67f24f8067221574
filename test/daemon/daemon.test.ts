/**
 * The rollout daemon in-process, end to end: real HTTP, real SQLite, real webhooks (a receiver
 * on 127.0.0.1), over the bundled fixture history on a simulated clock (600x: a minute in 0.1s).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DAEMON_DEFAULTS, parseConfig } from '../../src/config/config.js';
import type { ActionView, RolloutDetail, RolloutSummary } from '../../src/daemon/types.js';
import { startReceiver } from '../helpers/receiver.js';
import { badRelease, call, DEPLOY_SECRET, evaluationTimes, finished, harness, rolloutBody, TOKEN, waitFor } from '../helpers/daemon.js';

const S = suite('daemon');
const MIN = 60_000;

/** Evaluations of every stage lie on the 1m grid, one per minute, none missing or twice. */
function assertGrid(d: RolloutDetail): void {
  for (const [stage, times] of evaluationTimes(d)) {
    assert.ok(times.length > 0, `stage ${stage} evaluated`);
    for (let i = 1; i < times.length; i++) assert.is(times[i]! - times[i - 1]!, MIN, `stage ${stage}: evaluations a minute apart, none missing or repeated (at ${new Date(times[i]!).toISOString()})`);
    for (const t of times) assert.is(t % MIN, 0, 'on the grid');
  }
}

S('the bundled bad release is reverted at its canary, once, through the revert webhook', async () => {
  const h = await harness('2025-06-13T09:34:00Z');
  try {
    const created = await call(h.daemon.url, 'POST', '/api/v1/rollouts', { body: badRelease() });
    assert.is(created.status, 201, created.text);
    assert.is(created.headers['location'], '/api/v1/rollouts/r-1');
    const d = await waitFor(h.daemon.url, 'r-1', finished);
    assert.is(d.state, 'reverted');
    assert.is(d.stage.name, 'canary');
    assert.match(d.reason, /^reverted at stage canary: revert: critical SLO http-5xx-ratio failed$/);
    assert.equal(d.stages.map((s) => s.state), ['reverted', 'pending', 'pending']);
    // The impact starts 09:37; the canary is reverted within 5 minutes of it.
    const last = d.evaluations[d.evaluations.length - 1]!;
    assert.is(last.verdict, 'revert');
    const revertAt = Date.parse(last.at as unknown as string);
    assert.ok(revertAt - Date.parse('2025-06-13T09:37:00Z') <= 5 * MIN, `reverted at ${last.at}`);
    assertGrid(d);
    // One revert, carried out once; the deploy system saw one call with the key and the secret.
    assert.equal(d.actions.map((a: ActionView) => [a.kind, a.stage, a.state, a.idempotencyKey]), [['revert', 0, 'succeeded', 'r-1/0/revert']]);
    assert.is(h.receiver.acted.length, 1);
    const c = h.receiver.acted[0]!;
    assert.is(c.path, '/revert');
    assert.is(c.key, 'r-1/0/revert');
    assert.is(c.authorization, `Bearer ${DEPLOY_SECRET}`);
    assert.equal([c.body['kind'], (c.body['stage'] as { name: string }).name, (c.body['rollout'] as { version: string }).version], ['revert', 'canary', 'v1.6.0']);
    assert.equal(d.events.map((e) => e.kind), ['created', 'revert', 'action-succeeded', 'reverted']);
    assert.is(d.events[0]!.by, 'ci');
    // The deploy secret and the API token appear in no answer and no log line.
    const page = await call(h.daemon.url, 'GET', '/rollouts/r-1');
    assert.is(page.status, 200);
    assert.match(page.text, /checkout-v1\.6\.0/);
    for (const text of [JSON.stringify(d), page.text, ...h.logs]) {
      assert.not.ok(text.includes(DEPLOY_SECRET), 'the deploy secret never shows');
      assert.not.ok(text.includes(TOKEN), 'the API token never shows');
    }
    assert.ok(h.logs.some((l) => /"msg":"action revert succeeded"/.test(l) && /"key":"r-1\/0\/revert"/.test(l)), 'the action is logged as JSON');
    // Metrics: the rollout by state, verdicts, actions.
    const m = (await call(h.daemon.url, 'GET', '/metrics')).text;
    assert.match(m, /^hmd_rollouts\{state="reverted"\} 1$/m);
    assert.match(m, /^hmd_rollouts\{state="running"\} 0$/m);
    assert.match(m, /^hmd_evaluations_total\{verdict="revert"\} 1$/m);
    assert.match(m, /^hmd_actions_total\{kind="revert",outcome="succeeded"\} 1$/m);
    assert.match(m, /^hmd_action_duration_seconds_count\{kind="revert",outcome="succeeded"\} 1$/m);
    assert.match(m, /^hmd_query_errors_total\{reason="failed"\} 0$/m);
    assert.match(m, /^hmd_query_errors_total\{reason="partial"\} 0$/m);
  } finally {
    await h.stop();
  }
});

S('a healthy release is promoted stage by stage to completion, each promote sent once with the next scope', async () => {
  const h = await harness('2025-06-12T07:10:00Z');
  try {
    const body = rolloutBody(
      'v150-tier1',
      [
        { name: 'dc1-green', scope: 'datacenter=dc1,tier=tier1,color=green', baseline: 'datacenter=dc1,tier=tier1,color=blue', bake: '10m' },
        { name: 'dc2-green', scope: 'datacenter=dc2,tier=tier1,color=green', baseline: 'datacenter=dc2,tier=tier1,color=blue', bake: '10m' },
        { name: 'dc3-green', scope: 'datacenter=dc3,tier=tier1,color=green', baseline: 'datacenter=dc3,tier=tier1,color=blue', bake: '10m' },
      ],
      { version: 'v1.5.0' },
    );
    const created = await call(h.daemon.url, 'POST', '/api/v1/rollouts', { body });
    assert.is(created.status, 201, created.text);
    const d = await waitFor(h.daemon.url, 'r-1', finished);
    assert.is(d.state, 'completed', d.reason);
    assert.equal(d.stages.map((s) => s.state), ['promoted', 'promoted', 'promoted']);
    assert.equal(d.actions.map((a) => [a.kind, a.stage, a.state, a.idempotencyKey]), [
      ['promote', 0, 'succeeded', 'r-1/0/promote'],
      ['promote', 1, 'succeeded', 'r-1/1/promote'],
      ['promote', 2, 'succeeded', 'r-1/2/promote'],
    ]);
    assert.equal(h.receiver.acted.map((c) => [c.path, c.key, (c.body['next'] as { scope?: string } | undefined)?.scope]), [
      ['/promote', 'r-1/0/promote', 'datacenter=dc2,tier=tier1,color=green'],
      ['/promote', 'r-1/1/promote', 'datacenter=dc3,tier=tier1,color=green'],
      ['/promote', 'r-1/2/promote', undefined],
    ]);
    // Each stage baked its 10 minutes (evaluated from its start to the end of its bake), one after the other.
    assertGrid(d);
    const times = evaluationTimes(d);
    for (const [i, st] of d.stages.entries()) {
      const start = Date.parse(st.startedAt as unknown as string);
      const ts = times.get(i)!;
      assert.ok(ts[0]! >= start && ts[0]! - start < MIN, `stage ${st.name} evaluated from its start`);
      assert.ok(ts[ts.length - 1]! >= start + 10 * MIN, `stage ${st.name} baked 10m`);
      if (i > 0) assert.ok(start >= Date.parse(d.stages[i - 1]!.endedAt as unknown as string), 'stages follow each other');
    }
    assert.equal(d.events.filter((e) => e.kind === 'stage-started').length, 2);
  } finally {
    await h.stop();
  }
});

S('the API refuses what it must: tokens, content types, sizes, bad documents (located), unknown ids, requests the state forbids', async () => {
  const h = await harness('2025-06-12T07:10:00Z');
  const u = h.daemon.url;
  try {
    const body = rolloutBody('api', [{ name: 'canary', scope: 'datacenter=dc1,tier=tier1,color=green', baseline: 'datacenter=dc1,tier=tier1,color=blue', bake: '2h' }]);
    const none = await call(u, 'POST', '/api/v1/rollouts', { body, token: '' });
    assert.is(none.status, 401);
    assert.is(none.headers['www-authenticate'], 'Bearer realm="hmd"');
    assert.is((await call(u, 'POST', '/api/v1/rollouts', { body, token: 'not-a-token-of-this-daemon' })).status, 401);
    assert.is((await call(u, 'POST', '/api/v1/rollouts', { body, contentType: 'text/plain' })).status, 415);
    const big = await call(u, 'POST', '/api/v1/rollouts', { body: { ...body, padding: 'x'.repeat(70_000) } });
    assert.is(big.status, 413);
    assert.match(big.json.error ?? '', /request body too large/);
    const yamlBad = await call(u, 'POST', '/api/v1/rollouts', { body: 'apiVersion: hmd.dev/v1\nkind: Rollout\nmetadata: {name: x}\nspec:\n  stages: []\n', contentType: 'application/yaml' });
    assert.is(yamlBad.status, 400);
    assert.match(yamlBad.json.error ?? '', /^request body:5:\d+: spec\.stages: expected a non-empty list/);
    const paths = await call(u, 'POST', '/api/v1/rollouts', { body: { ...(body as { spec: object }), spec: { ...(body as { spec: object }).spec, slos: ['slo-specs/http-5xx-ratio.yaml'] } } });
    assert.is(paths.status, 400);
    assert.match(paths.json.error ?? '', /the daemon does not read files; send the SLO spec inline/);
    // ${VAR} in a body is never filled from the daemon's environment.
    const leak = await call(u, 'POST', '/api/v1/rollouts', { body: { ...(body as object), metadata: { name: 'x', description: '${HMD_TEST_TOKEN}' } } });
    assert.is(leak.status, 400);
    assert.match(leak.json.error ?? '', /environment variable HMD_TEST_TOKEN is not set/);
    assert.not.ok(leak.text.includes(TOKEN));
    const hook = await call(u, 'POST', '/api/v1/rollouts', { body: { ...(body as { spec: object }), spec: { ...(body as { spec: object }).spec, hooks: { revert: 'nope' } } } });
    assert.is(hook.status, 400);
    assert.match(hook.json.error ?? '', /spec\.hooks\.revert: no hook named "nope" in the daemon's config \(it has: deploy, rollback\)/);
    assert.equal((await call(u, 'GET', '/api/v1/rollouts')).json.data, [], 'nothing was stored by the refused requests');

    assert.is((await call(u, 'POST', '/api/v1/rollouts', { body })).status, 201);
    await waitFor(u, 'r-1', (d) => d.evaluations.length >= 2);
    assert.is((await call(u, 'GET', '/api/v1/rollouts/r-9')).status, 404);
    assert.is((await call(u, 'POST', '/api/v1/rollouts/r-1/resume')).status, 409);
    assert.is((await call(u, 'DELETE', '/api/v1/rollouts/r-1')).status, 405);
    assert.is((await call(u, 'GET', '/api/v1/nope')).status, 404);
    assert.is((await call(u, 'GET', '/api/v1/rollouts?state=sideways')).status, 400);
    // Reads are open; the list filters by state.
    assert.equal(((await call(u, 'GET', '/api/v1/rollouts?state=running', { token: '' })).json.data as RolloutSummary[]).map((r) => r.id), ['r-1']);
    assert.equal((await call(u, 'GET', '/api/v1/rollouts?state=completed,reverted')).json.data, []);
    // Pause, resume, abort: the abort reverts through the hook, once.
    const p = await call(u, 'POST', '/api/v1/rollouts/r-1/pause');
    assert.is(p.status, 200);
    assert.is((p.json.data as RolloutSummary).state, 'paused');
    assert.is((await call(u, 'POST', '/api/v1/rollouts/r-1/pause')).status, 409);
    assert.is(((await call(u, 'POST', '/api/v1/rollouts/r-1/resume')).json.data as RolloutSummary).state, 'running');
    assert.is((await call(u, 'POST', '/api/v1/rollouts/r-1/abort')).status, 200);
    const d = await waitFor(u, 'r-1', finished);
    assert.is(d.state, 'aborted');
    assert.equal(d.events.map((e) => [e.kind, e.by ?? '']), [
      ['created', 'ci'],
      ['paused', 'ci'],
      ['resumed', 'ci'],
      ['abort', 'ci'],
      ['action-succeeded', ''],
      ['aborted', ''],
    ]);
    assert.equal(h.receiver.acted.map((c) => c.key), ['r-1/0/revert']);
    assert.is((await call(u, 'POST', '/api/v1/rollouts/r-1/abort')).status, 409);
    assert.equal((await call(u, 'GET', '/healthz')).json.data, 'ok');
    assert.equal((await call(u, 'GET', '/readyz')).json.data, 'ready');
  } finally {
    await h.stop();
  }
  // The daemon listens on loopback unless told otherwise.
  assert.is(parseConfig('daemon: {}\n', '/x/hmd.yaml', {}).daemon.listen, DAEMON_DEFAULTS.listen);
  assert.match(DAEMON_DEFAULTS.listen, /^127\.0\.0\.1:/);
});

S('a revert whose hook keeps failing is retried until it goes through, never dropped', async () => {
  const h = await harness('2025-06-13T09:34:00Z');
  try {
    // The rollback hook makes 2 attempts per round; fail 5 calls: 3 rounds, the third succeeds.
    h.receiver.failNext(5);
    assert.is((await call(h.daemon.url, 'POST', '/api/v1/rollouts', { body: badRelease() })).status, 201);
    const d = await waitFor(h.daemon.url, 'r-1', finished);
    assert.is(d.state, 'reverted');
    assert.is(d.actions.length, 1);
    assert.is(d.actions[0]!.attempts, 6);
    assert.is(h.receiver.calls.length, 6);
    assert.ok(h.receiver.calls.every((c) => c.key === 'r-1/0/revert'), 'one key for every attempt');
    assert.is(h.receiver.acted.length, 1);
    assert.equal(d.events.map((e) => e.kind), ['created', 'revert', 'action-failed', 'action-failed', 'action-succeeded', 'reverted']);
    assert.match(d.events[2]!.message, /the revert hook failed at stage canary \(retrying\): gave up after 2 attempts: HTTP 503/);
  } finally {
    await h.stop();
  }
});

S('an engine that cannot be reached never passes: the stage holds, then pauses for a person; query errors are counted', async () => {
  // No retries and a high rate floor: the limiter would rightly slow queries to a failing engine,
  // and on a 600x clock that would skip evaluations (tested elsewhere).
  const engines = 'engines:\n  - {name: gone, url: "http://127.0.0.1:1", timeout: 1s}\nlimiter: {retry: {maxRetries: 0}, minRatePerSec: 10000}\n';
  const h = await harness('2025-06-12T07:10:00Z', '', undefined, undefined, { engines, speed: 120 });
  try {
    const body = rolloutBody('blind', [{ name: 'canary', scope: 'datacenter=dc1,tier=tier1,color=green', baseline: 'datacenter=dc1,tier=tier1,color=blue', bake: '6m' }], { maxPause: '3m' });
    assert.is((await call(h.daemon.url, 'POST', '/api/v1/rollouts', { body })).status, 201);
    const d = await waitFor(h.daemon.url, 'r-1', (x) => x.state === 'paused');
    assert.match(d.reason, /held past maxPause 3m at the end of stage canary: pause: /);
    assert.equal(d.actions, [], 'nothing promoted on unknown health');
    assert.ok(d.evaluations.length >= 9, `${d.evaluations.length} evaluations`);
    // With one engine, its failure is a partial answer with nothing in it: no data, never a pass.
    assert.ok(d.evaluations.every((e) => e.verdict === 'pause' && e.slos.every((x) => x.status === 'no-data')), JSON.stringify(d.evaluations.map((e) => [e.verdict, e.slos.map((x) => x.status)])));
    assert.match(d.evaluations[d.evaluations.length - 1]!.reasons.join('\n'), /partial answer, engines gone missing; not judged as healthy/);
    const m = (await call(h.daemon.url, 'GET', '/metrics')).text;
    const partial = Number(/^hmd_query_errors_total\{reason="partial"\} (\d+)$/m.exec(m)?.[1]);
    assert.ok(partial >= d.evaluations.length * 2, `${partial} partial answers counted for ${d.evaluations.length} evaluations of 2 SLOs`);
    assert.match(m, /^hmd_slo_results_total\{slo="latency-p99",status="no-data"\} \d+$/m);
  } finally {
    await h.stop();
  }
});

S('stopped gracefully and started again, a rollout goes on where it was; a different clock is refused', async () => {
  const receiver = await startReceiver();
  const dir = mkdtempSync(join(tmpdir(), 'hmd-daemon-'));
  try {
    const body = rolloutBody('restart', [
      { name: 'a', scope: 'datacenter=dc1,tier=tier1,color=green', baseline: 'datacenter=dc1,tier=tier1,color=blue', bake: '8m' },
      { name: 'b', scope: 'datacenter=dc2,tier=tier1,color=green', baseline: 'datacenter=dc2,tier=tier1,color=blue', bake: '8m' },
    ], { version: 'v1.5.0' });
    let h = await harness('2025-06-12T07:10:00Z', '', dir, receiver);
    assert.is((await call(h.daemon.url, 'POST', '/api/v1/rollouts', { body })).status, 201);
    await waitFor(h.daemon.url, 'r-1', (d) => d.evaluations.length >= 4);
    await h.stop();
    const refused = await harness('2025-06-12T08:00:00Z', '', dir, receiver).then(
      async (x) => (await x.stop(), undefined),
      (e: Error) => e,
    );
    assert.match(refused?.message ?? 'started', /written on a clock simulated from 2025-06-12T07:10:00\.000Z at 600x; start again with --simulate-from/);
    h = await harness('2025-06-12T07:10:00Z', '', dir, receiver);
    try {
      const d = await waitFor(h.daemon.url, 'r-1', finished);
      assert.is(d.state, 'completed', d.reason);
      assertGrid(d);
      assert.equal(receiver.acted.map((c) => c.key), ['r-1/0/promote', 'r-1/1/promote']);
    } finally {
      await h.stop();
    }
  } finally {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

S.run();
