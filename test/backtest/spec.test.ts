/**
 * Backtest specs and `--set` overrides: the bundled examples read; every mistake is located and
 * says what to write; overrides reach exactly what they name, span a grid, and an override that
 * reaches nothing is an error rather than a sweep that changes nothing.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyOverrides, grid, OverrideError, parseSetFlag, settingLabel } from '../../src/backtest/overrides.js';
import {
  BACKTEST_KEYS,
  BACKTEST_METADATA_KEYS,
  BACKTEST_SPEC_KEYS,
  EXPECT_KEYS,
  INCIDENT_KEYS,
  loadBacktest,
  parseBacktest,
  RELEASE_KEYS,
  SOURCE_KEYS,
  STAGE_KEYS,
} from '../../src/backtest/spec.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const S = suite<{ dir: string }>('backtest specs and overrides', { dir: '' });
S.before((ctx) => void (ctx.dir = mkdtempSync(join(tmpdir(), 'hmd-btspec-'))));
S.after((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

const EXAMPLES = readdirSync(join(ROOT, 'backtests'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(ROOT, 'backtests', f));

const BASE = `apiVersion: hmd.dev/v1
kind: Backtest
metadata: {name: t}
spec:
  source: {data: ../fixtures/history}
  slos: [../slo-specs/http-5xx-ratio.yaml]
  release:
    stages:
      - {name: canary, scope: 'datacenter=dc2,tier=tier3,color=green', baseline: 'datacenter=dc2,tier=tier3,color=blue', startedAt: 2025-06-13T09:36:00Z, bake: 1h}
  incident: {impactStart: 2025-06-13T09:37:00Z, reverted: 2025-06-13T11:36:00Z}
`;

S('every bundled example reads, with incidents and healthy releases among them', () => {
  assert.ok(EXAMPLES.length >= 6, `${EXAMPLES.length} examples`);
  const loaded = EXAMPLES.map((f) => loadBacktest(f));
  const kinds = loaded.map((l) => (l.spec.incident ? 'incident' : 'healthy'));
  assert.ok(kinds.filter((k) => k === 'incident').length >= 2);
  assert.ok(kinds.filter((k) => k === 'healthy').length >= 3);
  assert.ok(loaded.some((l) => l.spec.release.timeline === 'plan') && loaded.some((l) => l.spec.release.timeline === 'actual'));
  for (const l of loaded) {
    assert.ok(l.slos.length >= 1, l.spec.name);
    // Paths are relative to the spec, not to where hmd runs.
    assert.is(l.spec.source.kind === 'data' && l.spec.source.location, join(ROOT, 'fixtures/history'), l.spec.name);
    assert.is(l.spec.expect.revert, l.spec.incident !== undefined, `${l.spec.name}: the default expectation`);
  }
});

S('an actual timeline and a plan are read as such', () => {
  const a = parseBacktest(BASE, join(ROOT, 'backtests/t.yaml'));
  assert.is(a.release.timeline, 'actual');
  assert.is(a.release.start, Date.parse('2025-06-13T09:36:00Z'));
  assert.is(a.release.stages[0]!.bakeMs, 3_600_000);
  assert.equal(a.expect, { revert: true });
  const p = parseBacktest(
    BASE.replace(/stages:\n.*\n/, "start: 2025-06-13T09:36:00Z\n    maxPause: 15m\n    stages:\n      - {name: canary, scope: 'tier=tier3', bake: 30m}\n      - {name: all, scope: 'tier=~\"tier.*\"', bake: 1h}\n"),
    join(ROOT, 'backtests/t.yaml'),
  );
  assert.is(p.release.timeline, 'plan');
  assert.is(p.release.maxPauseMs, 15 * 60_000);
  assert.equal(
    p.release.stages.map((s) => [s.name, s.bakeMs]),
    [
      ['canary', 30 * 60_000],
      ['all', 3_600_000],
    ],
  );
});

const ERRORS: [string, string, RegExp, number][] = [
  ['unknown key', BASE.replace('  incident:', '  incidnet:'), /unknown key "incidnet" in spec; allowed: source, slos, release, incident, expect/, 10],
  ['both sources', BASE.replace('{data: ../fixtures/history}', '{data: x, engines: y.yaml}'), /give either `data`.*or `engines`/, 5],
  ['no slos', BASE.replace('slos: [../slo-specs/http-5xx-ratio.yaml]', 'slos: []'), /spec.slos: expected a non-empty list/, 6],
  ['mixed timeline', BASE.replace('bake: 1h}', "bake: 1h}\n      - {name: two, scope: 'tier=tier3', bake: 1h}"), /give every stage a startedAt .* or none/, 10],
  ['plan without start', BASE.replace(', startedAt: 2025-06-13T09:36:00Z', ''), /missing `start`/, 8],
  ['bad time', BASE.replace('startedAt: 2025-06-13T09:36:00Z', 'startedAt: yesterday'), /startedAt: "yesterday" is not an RFC3339 time/, 9],
  ['bad scope', BASE.replace("scope: 'datacenter=dc2,tier=tier3,color=green'", "scope: 'datacenter=dc2,,'"), /release.stages\[0\].scope: /, 9],
  ['last stage without bake', BASE.replace(', bake: 1h}', '}'), /the last stage needs a `bake`/, 9],
  ['reverted before impact', BASE.replace('reverted: 2025-06-13T11:36:00Z', 'reverted: 2025-06-13T09:00:00Z'), /incident.reverted: before the impact start/, 10],
  ['unknown expected stage', BASE + '  expect: {stage: tier1}\n', /expect.stage: no stage is named "tier1" \(stages: canary\)/, 11],
  ['within without incident', BASE.replace(/ {2}incident:.*\n/, '') + '  expect: {revert: true, within: 5m}\n', /expect.within counts from the impact start/, 10],
  ['no revert but within', BASE + '  expect: {revert: false, within: 5m}\n', /`within` and `stage` describe a revert/, 11],
  ['wrong kind', BASE.replace('kind: Backtest', 'kind: SLO'), /kind must be Backtest/, 2],
  ['duplicate stage', BASE.replace('bake: 1h}', "bake: 1h}\n      - {name: canary, scope: 'tier=tier3', startedAt: 2025-06-13T10:36:00Z, bake: 1h}"), /"canary" is used by an earlier stage/, 10],
];

for (const [name, text, re, line] of ERRORS) {
  S(`a located error: ${name}`, () => {
    const file = join(ROOT, 'backtests/bad.yaml');
    try {
      parseBacktest(text, file);
      assert.unreachable('no error');
    } catch (err) {
      const m = (err as Error).message;
      assert.match(m, re);
      assert.ok(m.startsWith(`${file}:${line}:`), m);
    }
  });
}

S('--set flags: paths, SLO names, typed values and mistakes', () => {
  const f = parseSetFlag('slo[http-5xx-ratio].judgement.burnRates[0].factor=10,14.4');
  assert.is(f.target, 'slo');
  assert.is(f.slo, 'http-5xx-ratio');
  assert.equal(f.path, ['judgement', 'burnRates', 0, 'factor']);
  assert.equal(f.values, [10, 14.4]);
  const b = parseSetFlag('release.stages[*].bake=10m,1h');
  assert.is(b.target, 'backtest');
  assert.equal(b.path, ['release', 'stages', '*', 'bake']);
  assert.equal(b.values, ['10m', '1h']);
  for (const [bad, re] of [
    ['slo.window', /no PATH=VALUE/],
    ['slo.window=', /an empty value/],
    ['slo.window=5m,5m', /repeated/],
    ['slo=1', /give a path after slo\./],
    ['a..b=1', /empty path segment/],
    ['a[x]=1', /cannot read the path/],
  ] as const) {
    assert.throws(() => parseSetFlag(bad), (e: Error) => e instanceof OverrideError && re.test(e.message), bad);
  }
});

S('a grid spans every combination, first flag slowest; a key given twice is refused', () => {
  const g = grid([parseSetFlag('slo.window=5m,10m'), parseSetFlag('slo.evaluation.failureLimit=0,1,2')]);
  assert.is(g.length, 6);
  assert.equal(g.map(settingLabel), [
    'slo.window=5m slo.evaluation.failureLimit=0',
    'slo.window=5m slo.evaluation.failureLimit=1',
    'slo.window=5m slo.evaluation.failureLimit=2',
    'slo.window=10m slo.evaluation.failureLimit=0',
    'slo.window=10m slo.evaluation.failureLimit=1',
    'slo.window=10m slo.evaluation.failureLimit=2',
  ]);
  assert.equal(grid([]), [[]]);
  assert.throws(() => grid([parseSetFlag('slo.window=5m'), parseSetFlag('slo.window=10m')]), /given twice/);
});

S('overrides write into the YAML: nested keys, wildcards, created mappings; nothing reached is an error', () => {
  const text = 'apiVersion: hmd.dev/v1\nkind: Backtest\nspec:\n  release:\n    stages:\n      - {name: a, bake: 5m}\n      - {name: b, bake: 5m}\n';
  const [s] = grid([parseSetFlag('release.stages[*].bake=30m')]);
  const out = applyOverrides(text, 'x.yaml', 'backtest', s!).text;
  assert.is(out.match(/bake: 30m/g)?.length, 2);
  const [one] = grid([parseSetFlag('release.stages[1].bake=1h')]);
  const o1 = applyOverrides(text, 'x.yaml', 'backtest', one!).text;
  assert.match(o1, /name: a, bake: 5m/);
  assert.match(o1, /name: b, bake: 1h/);
  const [created] = grid([parseSetFlag('expect.within=10m')]);
  assert.match(applyOverrides(text, 'x.yaml', 'backtest', created!).text, /expect:\n\s+within: 10m/);
  const [none] = grid([parseSetFlag('release.phases[*].bake=1h')]);
  assert.throws(() => applyOverrides(text, 'x.yaml', 'backtest', none!), /reaches nothing in x.yaml/);
  const [beyond] = grid([parseSetFlag('release.stages[5].bake=1h')]);
  assert.throws(() => applyOverrides(text, 'x.yaml', 'backtest', beyond!), /reaches nothing/);
  // SLO overrides leave the backtest document alone, and the other way round.
  assert.is(applyOverrides(text, 'x.yaml', 'slo', s!).text, text);
});

S('loading under a setting: the SLO specs change as named, and a bad value names the --set', (ctx) => {
  const file = join(ROOT, 'backtests/v1.6.0-bad-canary.yaml');
  const plain = loadBacktest(file);
  const [s] = grid([parseSetFlag('slo[http-5xx-ratio].judgement.thresholds.fail=0.02'), parseSetFlag('slo.evaluation.failureLimit=3')]);
  const l = loadBacktest(file, s!);
  const five = l.slos.find((x) => x.name === 'http-5xx-ratio')!;
  assert.is(five.judgement.thresholds!.fail, 0.02);
  assert.is(plain.slos.find((x) => x.name === 'http-5xx-ratio')!.judgement.thresholds!.fail, 0.01);
  // The unnamed override reached every SLO; the named one only its own.
  assert.ok(l.slos.every((x) => x.evaluation.failureLimit === 3));
  assert.equal(
    l.slos.filter((x) => x.name !== 'http-5xx-ratio').map((x) => x.judgement.thresholds?.fail),
    plain.slos.filter((x) => x.name !== 'http-5xx-ratio').map((x) => x.judgement.thresholds?.fail),
  );
  const [bad] = grid([parseSetFlag('slo.judgement.thresholds.fail=lots')]);
  assert.throws(
    () => loadBacktest(file, bad!),
    (e: Error) => /thresholds.fail: expected a number >= 0/.test(e.message) && /\(with --set slo.judgement.thresholds.fail=lots\)$/.test(e.message),
  );
  const [typo] = grid([parseSetFlag('slo.judgment.thresholds.fail=0.1')]);
  assert.throws(() => loadBacktest(file, typo!), /unknown key "judgment"/);
  // An SLO named by no spec of this backtest reaches nothing.
  const other = join(ctx.dir, 'other.yaml');
  writeFileSync(other, BASE.replace('../fixtures/history', join(ROOT, 'fixtures/history')).replace('../slo-specs/', join(ROOT, 'slo-specs') + '/'));
  const [unnamed] = grid([parseSetFlag('slo[latency-p99].window=10m')]);
  assert.not.throws(() => loadBacktest(other, unnamed!));
});

S('the published JSON schema names exactly the keys the loader accepts', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'schemas/backtest.schema.json'), 'utf8'));
  const keys = (o: { properties: object; additionalProperties: boolean }) => {
    assert.is(o.additionalProperties, false);
    return Object.keys(o.properties).sort();
  };
  assert.equal(keys(schema), [...BACKTEST_KEYS].sort());
  assert.equal(keys(schema.properties.metadata), [...BACKTEST_METADATA_KEYS].sort());
  const spec = schema.properties.spec;
  assert.equal(keys(spec), [...BACKTEST_SPEC_KEYS].sort());
  assert.equal(keys(spec.properties.source), [...SOURCE_KEYS].sort());
  assert.equal(keys(spec.properties.release), [...RELEASE_KEYS].sort());
  assert.equal(keys(spec.properties.release.properties.stages.items), [...STAGE_KEYS].sort());
  assert.equal(keys(spec.properties.incident), [...INCIDENT_KEYS].sort());
  assert.equal(keys(spec.properties.expect), [...EXPECT_KEYS].sort());
  // Every example points its editor at the schema.
  for (const f of EXAMPLES) assert.match(readFileSync(f, 'utf8'), /^# yaml-language-server: \$schema=\.\.\/schemas\/backtest\.schema\.json/, f);
});

S.run();
