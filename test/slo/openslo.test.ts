/** OpenSLO v1 input: SLO and SLI documents mapped to hmd specs, located errors, and a gate on the fixture history. */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GATE_EXIT, runGate } from '../../src/cli/gate.js';
import { loadSpecs } from '../../src/slo/spec.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = join(ROOT, 'slo-specs/openslo/web-availability.yaml');
const S = suite<{ dir: string }>('openslo', { dir: '' });
S.before((ctx) => void (ctx.dir = mkdtempSync(join(tmpdir(), 'hmd-openslo-'))));
S.after((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

S('a ratioMetric (good/total counters, via indicatorRef) and a thresholdMetric (inline) map to hmd specs', () => {
  const [avail, lat] = loadSpecs(EXAMPLE);
  assert.is(avail!.name, 'web-availability');
  assert.equal(avail!.sli, {
    kind: 'ratio',
    errors: 'sum(rate(http_requests_total[$window])) - sum(rate(http_requests_total{code!~"5.."}[$window]))',
    total: 'sum(rate(http_requests_total[$window]))',
  });
  assert.is(avail!.judgement.objective, 0.99);
  assert.equal(avail!.judgement.thresholds, { fail: 0.01 });
  assert.is(avail!.judgement.burnRates!.length, 2);
  assert.is(lat!.name, 'web-latency-p99');
  assert.equal(lat!.sli, { kind: 'expr', expr: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))' });
  assert.equal(lat!.judgement, { worse: 'higher', thresholds: { fail: 1.5 } });
});

S('OpenSLO problems are located', (ctx) => {
  const doc = (spec: string, extra = '') => `apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec:\n${spec}${extra}`;
  const cases: [string, RegExp][] = [
    [doc('  indicatorRef: nope\n  objectives: [{target: 0.99}]\n'), /:5:17: spec.indicatorRef: no SLI document named "nope" in this file/],
    [doc('  indicator: {metadata: {name: i}, spec: {thresholdMetric: {metricSource: {type: Datadog, spec: {query: x}}}}}\n  objectives: [{op: lt, value: 1, target: 0.9}]\n'), /metric source type "Datadog"; hmd reads Prometheus sources/],
    [doc('  indicator: {metadata: {name: i}, spec: {ratioMetric: {counter: true, bad: {metricSource: {type: Prometheus, spec: {query: "sum(x)"}}}, total: {metricSource: {type: Prometheus, spec: {query: y}}}}}}\n  objectives: [{target: 0.9}]\n'), /with counter: true the query must be a selector/],
    [doc('  indicator: {metadata: {name: i}, spec: {thresholdMetric: {metricSource: {type: Prometheus, spec: {query: "up"}}}}}\n  objectives: [{target: 0.9}]\n'), /a threshold SLI needs op and value/],
    ['apiVersion: openslo/v1\nkind: Service\nmetadata: {name: x}\nspec: {}\n', /:2:7: kind "Service": hmd reads OpenSLO SLO and SLI documents/],
  ];
  for (const [i, [text, re]] of cases.entries()) {
    const f = join(ctx.dir, `c${i}.yaml`);
    writeFileSync(f, text);
    assert.throws(() => loadSpecs(f), re, text);
  }
});

S('hmd gate reads OpenSLO files: the bad release reverts, a healthy one continues', async () => {
  const io = { out: () => {}, err: () => {}, now: () => 0, sleep: async () => {} };
  const data = join(ROOT, 'fixtures/history');
  assert.is(await runGate({ spec: [EXAMPLE], data, scope: 'datacenter=dc2,tier=tier3,color=green', at: '2025-06-13T10:30:00Z' }, io), GATE_EXIT.REVERT);
  assert.is(await runGate({ spec: [EXAMPLE], data, scope: 'datacenter=dc1,tier=tier3,color=green', at: '2025-06-13T04:00:00Z' }, io), GATE_EXIT.CONTINUE);
});

S.run();
