/**
 * Rollout plans: the bundled example reads; the request body the CLI builds reads back as the
 * same plan; every mistake is located and says what to write; `${VAR}` is taken from the
 * environment for files only; and the published schema names exactly the keys the loader takes.
 */

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError } from '../../src/config/yaml.js';
import {
  DEFAULT_MAX_PAUSE_MS,
  INLINE_SLO_KEYS,
  loadRollout,
  parseRollout,
  ROLLOUT_HOOK_KEYS,
  ROLLOUT_KEYS,
  ROLLOUT_METADATA_KEYS,
  ROLLOUT_SPEC_KEYS,
  ROLLOUT_STAGE_KEYS,
  rolloutDocument,
  type InlineSlo,
  type ParseRolloutOptions,
  type RolloutPlan,
} from '../../src/rollout/spec.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/rollout.yaml');
/** A file beside the example, so that `../slo-specs/...` means what it does there. */
const FILE = join(ROOT, 'examples/t.yaml');
const S = suite<{ dir: string }>('rollout plans', { dir: '' });
S.before((ctx) => void (ctx.dir = mkdtempSync(join(tmpdir(), 'hmd-rollout-spec-'))));
S.after((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

const sloText = (name: string) => readFileSync(join(ROOT, 'slo-specs', name), 'utf8');
/** What loadRollout gives parseRollout for a file in examples/. */
const readSlo = (p: string): InlineSlo => ({ file: p, text: readFileSync(join(ROOT, 'examples', p), 'utf8') });
const asFile = (env: Record<string, string> = {}): ParseRolloutOptions => ({ readSlo, env });

const BASE = `apiVersion: hmd.dev/v1
kind: Rollout
metadata: {name: t}
spec:
  slos: [../slo-specs/http-5xx-ratio.yaml]
  stages:
    - {name: canary, scope: 'datacenter=dc2,tier=tier3', baseline: 'datacenter=dc3,tier=tier3', bake: 30m}
    - {name: all, scope: 'tier=tier3', bake: 1h}
`;

/** A request body with the given inline SLOs and stages, as a client would send it. */
function body(slos: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify(
    {
      apiVersion: 'hmd.dev/v1',
      kind: 'Rollout',
      metadata: { name: 'from-a-client' },
      spec: { stages: [{ name: 'canary', scope: 'tier=tier3', bake: '10m' }], slos, ...extra },
    },
    null,
    2,
  );
}

/** 1-based line and column of the first `needle` in `text`: where an error about it must point. */
function at(text: string, needle: string): [number, number] {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`${JSON.stringify(needle)} is not in the text`);
  const before = text.slice(0, i).split('\n');
  return [before.length, before[before.length - 1]!.length + 1];
}

/** The error parseRollout throws, checked to be a ConfigError. */
function failure(text: string, file: string, o: ParseRolloutOptions): ConfigError {
  try {
    parseRollout(text, file, o);
  } catch (err) {
    assert.instance(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected an error for:\n${text}`);
}

const summary = (p: RolloutPlan) => ({
  name: p.name,
  description: p.description,
  version: p.version,
  stages: p.stages,
  maxPauseMs: p.maxPauseMs,
  hooks: p.hooks,
  slos: p.slos.map((s) => s.name),
  sloTexts: p.sloTexts,
});

S('the bundled example reads: stages, bakes in ms, maxPause, hooks and both SLOs as written', () => {
  const p = loadRollout(EXAMPLE, {});
  assert.is(p.name, 'checkout-v1.6.0');
  assert.is(p.version, 'v1.6.0');
  assert.equal(p.stages, [
    { name: 'canary', scope: 'datacenter=dc2,tier=tier3,color=green', baseline: 'datacenter=dc2,tier=tier3,color=blue', bakeMs: 30 * 60_000 },
    { name: 'dc2-tier3', scope: 'datacenter=dc2,tier=tier3', baseline: 'datacenter=dc3,tier=tier3', bakeMs: 3_600_000 },
    { name: 'tier3', scope: 'tier=tier3', baseline: 'tier=tier2', bakeMs: 2 * 3_600_000 },
  ]);
  assert.is(p.maxPauseMs, 30 * 60_000);
  assert.equal(p.hooks, { promote: 'deploy', revert: 'rollback' });
  assert.equal(
    p.slos.map((s) => s.name),
    ['http-5xx-ratio', 'latency-p99'],
  );
  // The path is kept as written (relative to the rollout), and the text is the SLO file's own.
  assert.equal(p.sloTexts, [
    { file: '../slo-specs/http-5xx-ratio.yaml', text: sloText('http-5xx-ratio.yaml') },
    { file: '../slo-specs/latency-p99.yaml', text: sloText('latency-p99.yaml') },
  ]);
});

S('SLO paths are read relative to the rollout file, not to where hmd runs', (ctx) => {
  const f = join(ctx.dir, 'plan.yaml');
  writeFileSync(f, BASE.replace('../slo-specs/', 'slos/'));
  // Before the SLO file exists beside the plan, the error names the path as resolved from the plan.
  // The error is located at the entry of the plan that names it.
  assert.throws(() => loadRollout(f, {}), (e: Error) => e instanceof ConfigError && e.message.startsWith(`${f}:`) && e.message.includes(`spec.slos[0]: ${join(ctx.dir, 'slos/http-5xx-ratio.yaml')}: cannot read the SLO spec: ENOENT`));
  mkdirSync(join(ctx.dir, 'slos'));
  writeFileSync(join(ctx.dir, 'slos/http-5xx-ratio.yaml'), sloText('http-5xx-ratio.yaml'));
  const p = loadRollout(f, {});
  assert.equal(p.slos.map((s) => s.name), ['http-5xx-ratio']);
  assert.is(p.sloTexts[0]!.file, 'slos/http-5xx-ratio.yaml');
  assert.throws(() => loadRollout(join(ctx.dir, 'nope.yaml'), {}), /nope\.yaml: cannot read the rollout file: ENOENT/);
});

S('a plan reads back from its request body unchanged', () => {
  const p = loadRollout(EXAMPLE, {});
  const doc = rolloutDocument(p);
  const back = parseRollout(JSON.stringify(doc), 'request body');
  assert.equal(summary(back), summary(p));
  // The daemon's copy never names a path: every SLO travels as text.
  assert.ok((doc as { spec: { slos: unknown[] } }).spec.slos.every((x) => typeof x === 'object'));
});

S('a $ reads back as written: plan values escaped for the daemon, SLO texts sent as they are', () => {
  // $$ in the file is a literal $; an SLO's own $$ is the SLO's business.
  const slo = sloText('latency-p99.yaml').replace(/description: .*/, 'description: "costs $$5 per breach"');
  const text = BASE.replace('{name: t}', '{name: t, description: "v1 $$ build"}');
  const p = parseRollout(text, FILE, { env: {}, readSlo: (f) => ({ file: f, text: slo }) });
  assert.is(p.description, 'v1 $ build');
  assert.is(p.slos[0]!.description, 'costs $5 per breach');
  const back = parseRollout(JSON.stringify(rolloutDocument(p)), 'request body');
  assert.is(back.description, 'v1 $ build');
  assert.is(back.slos[0]!.description, 'costs $5 per breach');
  assert.is(back.sloTexts[0]!.text, slo, 'the SLO text travels untouched');
  // An SLO spec needing the environment is refused here as the daemon would refuse it.
  const needsEnv = sloText('latency-p99.yaml').replace(/description: .*/, 'description: "${HMD_TEST_DESC}"');
  assert.throws(() => parseRollout(text, FILE, { env: { HMD_TEST_DESC: 'x' }, readSlo: (f) => ({ file: f, text: needsEnv }) }), /spec\.slos\[0\]: .*environment variable HMD_TEST_DESC is not set/);
});

S('defaults and odd durations survive the round trip; no hooks means no hooks key', () => {
  const text = BASE.replace('bake: 1h}', 'bake: 1500ms}');
  const p = parseRollout(text, FILE, asFile());
  assert.is(p.maxPauseMs, DEFAULT_MAX_PAUSE_MS);
  assert.equal(p.hooks, {});
  assert.is(p.stages[1]!.bakeMs, 1500);
  const doc = rolloutDocument(p) as { spec: Record<string, unknown> };
  assert.not.ok('hooks' in doc.spec, 'no hooks: the daemon falls back to daemon.defaultHooks');
  const back = parseRollout(JSON.stringify(doc), 'request body');
  assert.equal(summary(back), summary(p));
  assert.is(back.stages[1]!.bakeMs, 1500);
  // One hook alone stays one hook.
  const one = parseRollout(BASE + '  hooks: {revert: rollback}\n', FILE, asFile());
  assert.equal(parseRollout(JSON.stringify(rolloutDocument(one)), 'request body').hooks, { revert: 'rollback' });
});

/** [what, text, options, message, the text the error must point at (or its line and column)]. */
const ERRORS: [string, string, ParseRolloutOptions, RegExp, string | [number, number]][] = [
  ['missing stages', BASE.replace(/ {2}stages:\n.*\n.*\n/, ''), asFile(), /spec: missing `stages`/, 'slos:'],
  ['empty stages', BASE.replace(/stages:\n.*\n.*\n/, 'stages: []\n'), asFile(), /spec\.stages: expected a non-empty list/, '[]'],
  ['a bad scope matcher', BASE.replace("scope: 'tier=tier3'", "scope: 'tier=~\"(\"'"), asFile(), /spec\.stages\[1\]\.scope: /, `'tier=~"("'`],
  ['a bad baseline matcher', BASE.replace("baseline: 'datacenter=dc3,tier=tier3'", "baseline: 'dc3'"), asFile(), /spec\.stages\[0\]\.baseline: /, "'dc3'"],
  ['a duplicate stage name', BASE.replace('name: all', 'name: canary'), asFile(), /spec\.stages\[1\]\.name: "canary" is used by an earlier stage/, "canary, scope: 'tier"],
  ['a bad stage name', BASE.replace('name: all', 'name: "all stages"'), asFile(), /spec\.stages\[1\]\.name "all stages": use letters, digits, '-', '_' and '\.'/, '"all stages"'],
  ['a missing bake', BASE.replace(', bake: 1h}', '}'), asFile(), /spec\.stages\[1\]: missing `bake`/, "{name: all"],
  ['a bake without a unit', BASE.replace('bake: 1h}', 'bake: 60}'), asFile(), /spec\.stages\[1\]\.bake: expected a string \(a duration needs a unit, e\.g\. 30s\)/, '60}'],
  ['a missing scope', BASE.replace("scope: 'tier=tier3', ", ''), asFile(), /spec\.stages\[1\]: missing `scope`/, '{name: all'],
  ['an unknown stage key', BASE.replace('bake: 1h}', 'bake: 1h, canary: true}'), asFile(), /unknown key "canary" in spec\.stages\[1\]; allowed: name, scope, baseline, bake/, 'canary: true'],
  ['an unknown spec key', BASE + '  maxPuase: 1h\n', asFile(), /unknown key "maxPuase" in spec; allowed: version, slos, stages, maxPause, hooks/, 'maxPuase'],
  ['an unknown hook key', BASE + '  hooks: {promte: deploy}\n', asFile(), /unknown key "promte" in spec\.hooks; allowed: promote, revert/, 'promte'],
  ['an unknown top-level key', BASE + 'status: {}\n', asFile(), /unknown key "status" in the rollout; allowed: apiVersion, kind, metadata, spec/, 'status'],
  ['a zero maxPause', BASE + '  maxPause: "0"\n', asFile(), /spec\.maxPause: "0" is not a positive duration/, '"0"'],
  ['no SLOs', BASE.replace('[../slo-specs/http-5xx-ratio.yaml]', '[]'), asFile(), /spec\.slos: expected a non-empty list/, '[]'],
  ['two SLOs of one name', BASE.replace('[../slo-specs/http-5xx-ratio.yaml]', '[../slo-specs/http-5xx-ratio.yaml, ../slo-specs/http-5xx-ratio.yaml]'), asFile(), /spec\.slos: two SLOs are named "http-5xx-ratio"; names must be unique within a rollout/, '[../'],
  ['an SLO path in a request body', BASE, {}, /spec\.slos\[0\]: the daemon does not read files; send the SLO spec inline as \{file, text\}/, '../slo-specs/http-5xx-ratio.yaml]'],
  ['an SLO that is neither a path nor {file, text}', BASE.replace('[../slo-specs/http-5xx-ratio.yaml]', '[[a]]'), asFile(), /spec\.slos\[0\]: expected a path, or \{file, text\}/, '[a]'],
  ['wrong kind', BASE.replace('kind: Rollout', 'kind: Backtest'), asFile(), /kind must be Rollout/, 'Backtest'],
  ['wrong apiVersion', BASE.replace('hmd.dev/v1', 'hmd.dev/v2'), asFile(), /apiVersion must be hmd\.dev\/v1/, 'hmd.dev/v2'],
  ['an upper-case rollout name', BASE.replace('{name: t}', '{name: Checkout}'), asFile(), /metadata\.name "Checkout": use lower-case letters/, 'Checkout'],
  // The second document's root: line 10, after the first (8 lines) and its `---`.
  ['two documents', BASE + '---\n' + BASE, asFile(), /a rollout document holds one rollout; send each on its own/, [10, 1]],
];

for (const [name, text, o, re, target] of ERRORS) {
  S(`a located error: ${name}`, () => {
    const file = o.readSlo ? FILE : 'request body';
    const e = failure(text, file, o);
    assert.match(e.message, re);
    const [line, col] = typeof target === 'string' ? at(text, target) : target;
    assert.is(e.line, line, `line of: ${e.message}`);
    assert.is(e.column, col, `column of: ${e.message}`);
    assert.ok(e.message.startsWith(`${file}:${line}:${col}: `), e.message);
  });
}

S("an inline SLO's own error names spec.slos[i] and the line in the SLO's text", () => {
  const good = sloText('latency-p99.yaml');
  const broken = sloText('http-5xx-ratio.yaml').replace('total: sum(rate(http_requests_total[$window]))', 'total: sum(rate(http_requests_total[$window])');
  const text = body([
    { file: 'slo-specs/latency-p99.yaml', text: good },
    { file: 'slo-specs/http-5xx-ratio.yaml', text: broken },
  ]);
  const e = failure(text, 'request body', {});
  const [sloLine, sloCol] = at(broken, 'sum(rate(http_requests_total[$window])\n');
  assert.match(e.message, new RegExp(`^request body:\\d+:\\d+: spec\\.slos\\[1\\]: slo-specs/http-5xx-ratio\\.yaml:${sloLine}:${sloCol}: spec\\.sli\\.ratio\\.total: .*unclosed left parenthesis`));
  // The outer position is the second item of spec.slos in the body.
  const [line] = at(text, '"file": "slo-specs/http-5xx-ratio.yaml"');
  assert.is(e.line, line - 1, 'the item opens on the line before its first key');
  // Missing halves of {file, text} are named.
  assert.match(failure(body([{ file: 'x.yaml' }]), 'request body', {}).message, /spec\.slos\[0\]: missing `text`/);
  assert.match(failure(body([{ file: 'x.yaml', text: good, path: 'y' }]), 'request body', {}).message, /unknown key "path" in spec\.slos\[0\]; allowed: file, text/);
});

S('two inline SLOs of one name are refused in a request body too', () => {
  const t = sloText('latency-p99.yaml');
  const e = failure(
    body([
      { file: 'a.yaml', text: t },
      { file: 'b.yaml', text: t },
    ]),
    'request body',
    {},
  );
  assert.match(e.message, /^request body:\d+:\d+: spec\.slos: two SLOs are named "latency-p99"/);
});

S('${VAR} comes from the env given for a file, and never for a request body', () => {
  const text = BASE.replace("scope: 'tier=tier3'", "scope: 'tier=${HMD_TEST_TIER}'").replace('{name: t}', '{name: "${HMD_TEST_NAME}"}');
  const p = parseRollout(text, FILE, asFile({ HMD_TEST_TIER: 'tier3', HMD_TEST_NAME: 'from-env' }));
  assert.is(p.name, 'from-env');
  assert.is(p.stages[1]!.scope, 'tier=tier3');
  // $$ is a literal dollar in a file.
  assert.is(parseRollout(BASE + "  version: 'v$$1'\n", FILE, asFile()).version, 'v$1');
  // The env given is the only source: the process's is not consulted for a file either.
  process.env['HMD_TEST_TIER'] = 'tier3';
  try {
    const unset = failure(text, FILE, asFile({ HMD_TEST_NAME: 'x' }));
    assert.match(unset.message, /environment variable HMD_TEST_TIER is not set \(write \$\$ for a literal \$\)/);
    assert.equal([unset.line, unset.column], at(text, "'tier=${HMD_TEST_TIER}'"));
    // A client must not read the daemon's environment, even a variable the daemon has.
    const req = body([{ file: 'a.yaml', text: sloText('latency-p99.yaml') }], { version: '${HMD_TEST_TIER}' });
    const e = failure(req, 'request body', {});
    assert.match(e.message, /^request body:\d+:\d+: environment variable HMD_TEST_TIER is not set/);
    assert.equal([e.line, e.column], at(req, '"${HMD_TEST_TIER}"'));
  } finally {
    delete process.env['HMD_TEST_TIER'];
  }
});

S('loadRollout takes ${VAR} from the env it is given', (ctx) => {
  const f = join(ctx.dir, 'env.yaml');
  writeFileSync(f, BASE.replace('../slo-specs/http-5xx-ratio.yaml', join(ROOT, 'slo-specs/http-5xx-ratio.yaml')).replace('bake: 30m', 'bake: "${HMD_TEST_BAKE}"'));
  assert.is(loadRollout(f, { HMD_TEST_BAKE: '45m' }).stages[0]!.bakeMs, 45 * 60_000);
  assert.throws(() => loadRollout(f, {}), /env\.yaml:7:\d+: environment variable HMD_TEST_BAKE is not set/);
});

S('the published JSON schema names exactly the keys the loader accepts, each described', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'schemas/rollout.schema.json'), 'utf8'));
  type Obj = { properties: Record<string, { description?: string }>; additionalProperties: boolean; required?: string[] };
  const keys = (o: Obj) => {
    assert.is(o.additionalProperties, false);
    return Object.keys(o.properties).sort();
  };
  assert.is(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(keys(schema), [...ROLLOUT_KEYS].sort());
  assert.equal(keys(schema.properties.metadata), [...ROLLOUT_METADATA_KEYS].sort());
  const spec = schema.properties.spec;
  assert.equal(keys(spec), [...ROLLOUT_SPEC_KEYS].sort());
  const stage = spec.properties.stages.items;
  assert.equal(keys(stage), [...ROLLOUT_STAGE_KEYS].sort());
  assert.equal(keys(spec.properties.hooks), [...ROLLOUT_HOOK_KEYS].sort());
  const forms = spec.properties.slos.items.oneOf as { type: string }[];
  assert.equal(forms.map((f) => f.type).sort(), ['object', 'string']);
  const inline = forms.find((f) => f.type === 'object') as unknown as Obj;
  assert.equal(keys(inline), [...INLINE_SLO_KEYS].sort());
  // What the loader insists on, the schema requires.
  assert.equal([...spec.required].sort(), ['slos', 'stages']);
  assert.equal([...stage.required].sort(), ['bake', 'name', 'scope']);
  assert.equal([...inline.required!].sort(), ['file', 'text']);

  // Every property, at every depth, tells an editor's user what it is for.
  const undescribed: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o['properties']) {
      for (const [k, v] of Object.entries(o['properties'] as Record<string, { description?: string }>)) {
        if (!v.description) undescribed.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
    }
    if (o['items']) walk(o['items'], `${path}[]`);
    for (const [i, b] of ((o['oneOf'] as unknown[]) ?? []).entries()) {
      if (!(b as { description?: string }).description) undescribed.push(`${path}|${i}`);
      walk(b, `${path}|${i}`);
    }
  };
  walk(schema, '');
  assert.equal(undescribed, []);

  // The schema's patterns accept what the example writes, so an editor does not flag it.
  const p = loadRollout(EXAMPLE, {});
  const pattern = (o: { pattern: string }) => new RegExp(o.pattern);
  assert.ok(pattern(schema.properties.metadata.properties.name).test(p.name));
  for (const st of p.stages) assert.ok(pattern(stage.properties.name).test(st.name), st.name);
  for (const b of readFileSync(EXAMPLE, 'utf8').matchAll(/^\s*(?:bake|maxPause): (\S+)/gm)) assert.ok(pattern(stage.properties.bake).test(b[1]!), b[1]);
  assert.not.ok(pattern(stage.properties.name).test('-canary'));
  assert.match(readFileSync(EXAMPLE, 'utf8'), /^# yaml-language-server: \$schema=\.\.\/schemas\/rollout\.schema\.json/);
});

S.run();
