/**
 * A full rollout against a real Prometheus (Debian's prometheus 2.42, the fixture history
 * backfilled by promtool) queried through the configured engines, as in production: the bundled
 * bad release is reverted at its canary, each evaluation deciding as the gate's code does over
 * the local history.
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RolloutDetail } from '../../src/daemon/types.js';
import { generateFixture } from '../../src/fixtures/generate.js';
import { join } from 'node:path';
import type { Expr } from '../../src/promql/ast.js';
import { Engine } from '../../src/promql/engine.js';
import { loadRollout } from '../../src/rollout/spec.js';
import { Stage } from '../../src/slo/stage.js';
import { openObjectStore } from '../../src/storage/objstore/open.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';
import { badRelease, call, finished, harness, HISTORY, ROOT, waitFor } from '../helpers/daemon.js';
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

prometheusTest(S, 'the bad release is reverted at its canary through a real Prometheus, each evaluation as the gate decides over the local history', async () => {
  const prom = await startPrometheusHistory(generateFixture());
  try {
    const d = await badRollout(`engines:\n  - {name: prometheus, url: "${prom.server.url}"}\n`);
    assert.is(d.state, 'reverted', d.reason);
    assert.is(d.stage.name, 'canary');
    assert.equal(d.actions.map((a) => [a.kind, a.stage, a.state]), [['revert', 0, 'succeeded']]);
    const revertAt = Date.parse(d.evaluations[d.evaluations.length - 1]!.at as unknown as string);
    assert.ok(revertAt - Date.parse('2025-06-13T09:37:00Z') <= 5 * 60_000, 'within 5 minutes of the impact');
    // The gate's code over the local history, for the same stage start and times, decides the
    // same at every evaluation (the stage start fixes when the SLOs' initial delays end).
    const plan = loadRollout(join(ROOT, 'examples/rollout.yaml'), {});
    const st = plan.stages[0]!;
    const gate = new Stage({ specs: plan.slos, scope: st.scope, baselineScope: st.baseline, startedAt: Date.parse(d.stages[0]!.startedAt as unknown as string) });
    const storage = new ParquetQueryable(openObjectStore(HISTORY));
    const engine = new Engine();
    const q = { instant: (e: Expr, t: number) => engine.instantQuery(storage, e, t), range: (e: Expr, s: number, en: number, step: number) => engine.rangeQuery(storage, e, s, en, step) };
    for (const e of d.evaluations) assert.is(e.verdict, (await gate.evaluate(Date.parse(e.at as unknown as string), q)).verdict, `at ${e.at}`);
    await storage.close?.();
  } finally {
    await prom.stop();
  }
});

S.run();
