/** SLO specs: the bundled examples load; every rule gives a located error; `hmd validate`. */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runValidate } from '../../src/cli/validate.js';
import { ConfigError } from '../../src/config/yaml.js';
import { EVALUATION_KEYS, fillWindow, JUDGEMENT_KEYS, loadSpec, METADATA_KEYS, parseSpec, SPEC_BODY_KEYS, SPEC_KEYS } from '../../src/slo/spec.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const S = suite('slo spec');

const HEAD = 'apiVersion: hmd.dev/v1\nkind: SLO\nmetadata: {name: x}\nspec:\n';
function error(body: string): ConfigError {
  try {
    parseSpec(HEAD + body, 's.yaml');
  } catch (e) {
    assert.instance(e, ConfigError);
    return e as ConfigError;
  }
  throw new Error(`expected an error for:\n${body}`);
}

S('the bundled examples load, with the values they declare', () => {
  const files = readdirSync(join(ROOT, 'slo-specs')).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 4);
  const specs = new Map(files.map((f) => [f, loadSpec(join(ROOT, 'slo-specs', f))]));
  const http = specs.get('http-5xx-ratio.yaml')!;
  assert.equal(http.sli, { kind: 'ratio', errors: 'sum(rate(http_requests_total{code=~"5.."}[$window]))', total: 'sum(rate(http_requests_total[$window]))' });
  assert.is(http.windowMs, 300_000);
  assert.equal(http.judgement.burnRates, [
    { longMs: 3_600_000, shortMs: 300_000, factor: 14.4, severity: 'fail' },
    { longMs: 21_600_000, shortMs: 1_800_000, factor: 6, severity: 'warn' },
  ]);
  assert.equal(http.judgement.comparison, { maxRelativeIncrease: 1, alpha: 0.01, minEffect: 0.2, minSamples: 10, severity: 'fail' });
  assert.is(http.judgement.minTraffic, 100);
  assert.equal(http.evaluation, { intervalMs: 60_000, initialDelayMs: 300_000, failureLimit: 1, inconclusiveLimit: 0, errorLimit: 0 });
  assert.is(http.critical, true);
  assert.is(specs.get('saturation.yaml')!.dryRun, true);
  assert.equal(specs.get('http-5xx-by-release-scope.yaml')!.scope.via, { metric: 'hmd:release_scopes:info', on: ['datacenter', 'tier', 'color'] });
  assert.is(specs.get('latency-p99.yaml')!.trafficQuery, 'sum(increase(http_request_duration_seconds_count[$window]))');
});

S('$window is filled with a PromQL duration', () => {
  assert.is(fillWindow('rate(x[$window]) + rate(y[${window}])', 90_000), 'rate(x[1m30s]) + rate(y[1m30s])');
});

S('errors are located and say what to write', () => {
  const cases: [string, RegExp, number, number][] = [
    ['  sli: {expr: "sum(rate(foo[$window])"}\n  judgement: {thresholds: {fail: 1}}\n', /spec.sli.expr: 1:\d+: parse error: unclosed left parenthesis/, 5, 15],
    ['  sli: {expr: "foo[$window]"}\n  judgement: {thresholds: {fail: 1}}\n', /must give an instant vector or a scalar, not a range vector/, 5, 15],
    ['  sli: {expr: up, ratio: {errors: a, total: b}}\n  judgement: {thresholds: {fail: 1}}\n', /give either `ratio: \{errors, total\}` or `expr`/, 5, 8],
    ['  sli: {expr: up}\n', /no judgement/, 5, 3],
    ['  sli: {expr: up}\n  judgement: {thresholds: {warn: 2, fail: 1}}\n', /warn 2 must come before fail 1/, 6, 27],
    ['  sli: {expr: up}\n  judgement: {burnRates: [{long: 1h, short: 5m, factor: 14.4}]}\n', /burnRates need a ratio SLI and an objective/, 6, 26],
    ['  sli: {ratio: {errors: a, total: b}}\n  objective: 99.9\n  judgement: {thresholds: {fail: 1}}\n', /spec.objective: expected a number from 0 to 1/, 6, 14],
    ['  sli: {ratio: {errors: a, total: b}}\n  objective: 0.999\n  judgement: {burnRates: [{long: 5m, short: 1h, factor: 2}]}\n', /short window must be shorter/, 7, 45],
    ['  sli: {expr: up}\n  judgement: {comparison: {window: 5m, step: 1m}}\n', /gives fewer than minSamples \(10\) samples/, 6, 27],
    ['  sli: {expr: up}\n  judgement: {thresholds: {fail: 1}, minTraffic: {min: 5}}\n', /only ratio SLIs have a default/, 6, 50],
    ['  sli: {expr: up}\n  judgement: {thresholds: {fail: 1}}\n  scope: {release: "tier"}\n', /scope.release: scope "tier": cannot read/, 7, 20],
    ['  sli: {expr: up}\n  judgement: {thresholds: {fail: 1}}\n  worse: bigger\n', /spec.worse: "bigger" is not one of higher, lower/, 7, 10],
    ['  sli: {expr: up}\n  judgement: {thresholds: {fail: 1}, polcy: {}}\n', /unknown key "polcy" in spec.judgement/, 6, 38],
  ];
  for (const [body, re, line, col] of cases) {
    const e = error(body);
    assert.match(e.message, re, body);
    assert.equal([e.line, e.column], [line, col], `${e.message}`);
  }
  assert.throws(() => parseSpec('apiVersion: v2\nkind: SLO\n', 's.yaml'), /s.yaml:1:13: apiVersion must be hmd.dev\/v1/);
  assert.throws(() => parseSpec(HEAD.replace('name: x', 'name: X Y') + '  sli: {expr: up}\n', 's.yaml'), /metadata.name "X Y": use lower-case/);
});

S('the published JSON schema names exactly the keys the loader accepts', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'schemas/slo-spec.schema.json'), 'utf8'));
  assert.equal(Object.keys(schema.properties).sort(), [...SPEC_KEYS].sort());
  assert.equal(Object.keys(schema.properties.metadata.properties).sort(), [...METADATA_KEYS].sort());
  const body = schema.properties.spec.properties;
  assert.equal(Object.keys(body).sort(), [...SPEC_BODY_KEYS].sort());
  assert.equal(Object.keys(body.judgement.properties).sort(), [...JUDGEMENT_KEYS].sort());
  assert.equal(Object.keys(body.evaluation.properties).sort(), [...EVALUATION_KEYS].sort());
  assert.is(schema.additionalProperties, false);
});

S('hmd validate: ok lines, located errors, duplicate names, exit codes', () => {
  const out: string[] = [];
  const err: string[] = [];
  const files = readdirSync(join(ROOT, 'slo-specs'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(ROOT, 'slo-specs', f));
  assert.is(runValidate(files, (s) => out.push(s), (s) => err.push(s)), 0);
  assert.is(out.length, files.length);
  assert.is(err.length, 0);
  const again = runValidate([files[0]!, files[0]!, join(ROOT, 'nope.yaml')], (s) => out.push(s), (s) => err.push(s));
  assert.is(again, 1);
  assert.match(err[0]!, /is also used by/);
  assert.match(err[1]!, /nope.yaml: cannot read the SLO spec: ENOENT/);
});

S.run();
