/**
 * A full rollout against a real Prometheus (Debian's prometheus 2.42, the fixture history
 * backfilled by promtool) queried through the configured engines, as in production: the bundled
 * bad release is reverted at its canary, at the same evaluation as over the local history.
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RolloutDetail } from '../../src/daemon/types.js';
import { generateFixture } from '../../src/fixtures/generate.js';
import { badRelease, call, finished, harness, waitFor } from '../helpers/daemon.js';
import { startPrometheusHistory } from '../helpers/history.js';
import { prometheusTest } from '../helpers/prometheus.js';

const S = suite('daemon over Prometheus');

/** Runs the bad release on a daemon (local history, or the given engines); returns its detail. */
async function badRollout(engines?: string): Promise<RolloutDetail> {
  const h = await harness('2025-06-13T09:34:00Z', '', undefined, undefined, engines ? { engines } : {});
  try {
    const c = await call(h.daemon.url, 'POST', '/api/v1/rollouts', { body: badRelease() });
    assert.is(c.status, 201, c.text);
    return await waitFor(h.daemon.url, 'r-1', finished);
  } finally {
    await h.stop();
  }
}

prometheusTest(S, 'the bad release is reverted at its canary through a real Prometheus, at the same evaluation as over the local history', async () => {
  const prom = await startPrometheusHistory(generateFixture());
  try {
    const viaProm = await badRollout(`engines:\n  - {name: prometheus, url: "${prom.server.url}"}\n`);
    const local = await badRollout();
    assert.is(viaProm.state, 'reverted', viaProm.reason);
    assert.is(viaProm.stage.name, 'canary');
    assert.equal(viaProm.actions.map((a) => [a.kind, a.stage, a.state]), [['revert', 0, 'succeeded']]);
    const last = (d: RolloutDetail) => d.evaluations[d.evaluations.length - 1]!;
    assert.is(last(viaProm).at, last(local).at, 'reverted at the same evaluation');
    // Every evaluation both took gave the same verdict either way (the two grids may start a
    // minute apart: each rollout starts when it is created, on a clock that runs on).
    const verdicts = new Map(local.evaluations.map((e) => [String(e.at), e.verdict]));
    const common = viaProm.evaluations.filter((e) => verdicts.has(String(e.at)));
    assert.ok(common.length >= viaProm.evaluations.length - 1 && common.length >= 4, `${common.length} evaluations in common`);
    for (const e of common) assert.is(e.verdict, verdicts.get(String(e.at)), `at ${e.at}`);
  } finally {
    await prom.stop();
  }
});

S.run();
