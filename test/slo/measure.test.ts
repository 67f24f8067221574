/**
 * Measuring and judging the bundled SLO specs on the generated fixture history (Parquet, hmd's
 * engine): the bad release is failed, a healthy release is not, the fleet-wide incident is never
 * blamed on the release, and missing or partial data is never healthy.
 */

import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../../src/promql/engine.js';
import { evaluateSlo, scopesFor, type QueryFn } from '../../src/slo/measure.js';
import { loadSpec } from '../../src/slo/spec.js';
import { openObjectStore } from '../../src/storage/objstore/open.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const S = suite('slo measure on the fixture history');
const store = new ParquetQueryable(openObjectStore(join(ROOT, 'fixtures/history')));
const engine = new Engine();
const local: QueryFn = { instant: (e, t) => engine.instantQuery(store, e, t), range: (e, s, en, st) => engine.rangeQuery(store, e, s, en, st) };
const spec = (name: string) => loadSpec(join(ROOT, 'slo-specs', `${name}.yaml`));
const at = (iso: string) => Date.parse(iso);

const BAD = ['datacenter=dc2,tier=tier3,color=green', 'datacenter=dc2,tier=tier3,color=blue', '2025-06-13T10:30:00Z'] as const;
const HEALTHY = ['datacenter=dc1,tier=tier3,color=green', 'datacenter=dc1,tier=tier3,color=blue', '2025-06-13T04:00:00Z'] as const;
const FLEET = ['datacenter=dc1,tier=tier2,color=green', 'datacenter=dc1,tier=tier2,color=blue', '2025-06-12T20:40:00Z'] as const;

S('the bad release (v1.6.0 on dc2/tier3/green) fails the 5xx, latency and saturation SLOs, against its baseline', async () => {
  for (const name of ['http-5xx-ratio', 'latency-p99', 'saturation']) {
    const s = spec(name);
    const r = await evaluateSlo(s, scopesFor(s, BAD[0], BAD[1]), at(BAD[2]), local);
    assert.is(r.status, 'fail', `${name}: ${JSON.stringify(r.reasons)}`);
    assert.is(r.reasons.find((x) => x.check === 'comparison')!.status, 'fail', name);
  }
  const s = spec('http-5xx-ratio');
  const r = await evaluateSlo(s, scopesFor(s, BAD[0], BAD[1]), at(BAD[2]), local);
  assert.ok(r.reasons.some((x) => x.check === 'burn-rate' && x.status === 'fail'), 'the fast burn fires');
});

S('the same release selected through hmd:release_scopes:info{version=...} fails too', async () => {
  const s = spec('http-5xx-by-release-scope');
  const r = await evaluateSlo(s, scopesFor(s, 'version=v1.6.0', 'version=v1.5.0'), at(BAD[2]), local);
  assert.is(r.status, 'fail', JSON.stringify(r.reasons));
  const sli = r.measurements.sli;
  assert.ok(typeof sli === 'number' && sli > 0.05, JSON.stringify(sli));
});

S('a healthy release is not failed', async () => {
  for (const name of ['http-5xx-ratio', 'latency-p99', 'saturation']) {
    const s = spec(name);
    const r = await evaluateSlo(s, scopesFor(s, HEALTHY[0], HEALTHY[1]), at(HEALTHY[2]), local);
    assert.ok(r.status === 'pass' || r.status === 'warn', `${name}: ${r.status}: ${JSON.stringify(r.reasons)}`);
  }
});

S('the fleet-wide incident fails the absolute checks but is not blamed on the release', async () => {
  const s = spec('http-5xx-ratio');
  const r = await evaluateSlo(s, scopesFor(s, FLEET[0], FLEET[1]), at(FLEET[2]), local);
  assert.is(r.status, 'warn', JSON.stringify(r.reasons));
  assert.ok(r.reasons.some((x) => x.check === 'threshold' && /fleet-wide/.test(x.message)));
  const sli = r.measurements.sli;
  assert.ok(typeof sli === 'number' && sli > 0.01, 'the incident is visible in the SLI');
});

S('missing data (a scope with no machines) is no-data; a partial answer is no-data; a query error is error', async () => {
  const s = spec('http-5xx-ratio');
  const none = await evaluateSlo(s, scopesFor(s, 'datacenter=dc9', 'datacenter=dc8'), at(BAD[2]), local);
  assert.is(none.status, 'no-data', JSON.stringify(none.reasons));
  const partial: QueryFn = {
    instant: async (e, t) => ({ ...(await local.instant(e, t)), missingEngines: ['dc2'] }),
    range: async (e, a, b, c) => ({ ...(await local.range(e, a, b, c)), missingEngines: ['dc2'] }),
  };
  const p = await evaluateSlo(s, scopesFor(s, HEALTHY[0], HEALTHY[1]), at(HEALTHY[2]), partial);
  assert.is(p.status, 'no-data');
  assert.ok(p.reasons.some((x) => /partial answer, engines dc2 missing/.test(x.message)));
  const failing: QueryFn = { instant: () => Promise.reject(new Error('remote engine "dc1": timeout')), range: () => Promise.reject(new Error('boom')) };
  const err = await evaluateSlo(s, scopesFor(s, HEALTHY[0], HEALTHY[1]), at(HEALTHY[2]), failing);
  assert.is(err.status, 'error');
});

S('an SLI that returns several series is an error that says to aggregate', async () => {
  const s = { ...spec('latency-p99'), sli: { kind: 'expr' as const, expr: 'rate(http_requests_total[$window])' } };
  const r = await evaluateSlo(s, scopesFor(s, HEALTHY[0], HEALTHY[1]), at(HEALTHY[2]), local);
  assert.is(r.status, 'error');
  assert.match(r.reasons[0]!.message, /returned \d+ series; aggregate it to one/);
});

S.run();
