/**
 * `hmd validate` on rollout plans: told apart from SLO specs and backtests by their `kind`,
 * summarised on success, and reported like every other kind (one located line, exit 1).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runValidate } from '../../src/cli/validate.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/rollout.yaml');
const S = suite<{ dir: string }>('hmd validate: rollouts', { dir: '' });
S.before((ctx) => void (ctx.dir = mkdtempSync(join(tmpdir(), 'hmd-validate-rollout-'))));
S.after((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

/** `s` as a literal inside a RegExp (paths hold dots). */
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function validate(files: string[]): { code: number; out: string; err: string } {
  const o = { out: '', err: '' };
  const code = runValidate(files, (s) => void (o.out += s), (s) => void (o.err += s));
  return { code, ...o };
}

/** The example rewritten into `dir`, its SLO paths made absolute so that it reads from anywhere. */
function exampleIn(dir: string, name: string, edit: (text: string) => string = (t) => t): string {
  const f = join(dir, name);
  writeFileSync(f, edit(readFileSync(EXAMPLE, 'utf8').replace(/\.\.\/slo-specs\//g, join(ROOT, 'slo-specs') + '/')));
  return f;
}

S('the bundled rollout is valid, summarised by its name, stages and SLOs', () => {
  const r = validate([EXAMPLE]);
  assert.is(r.code, 0, r.err);
  assert.is(r.err, '');
  assert.is(r.out, `${EXAMPLE}: ok (rollout checkout-v1.6.0: 3 stage(s), 2 SLO(s))\n`);
});

S('a broken rollout: exit 1 with one located line saying what to write', (ctx) => {
  const bad = exampleIn(ctx.dir, 'bad.yaml', (t) => t.replace('      bake: 1h\n', ''));
  const r = validate([bad]);
  assert.is(r.code, 1);
  assert.is(r.out, '');
  const text = readFileSync(bad, 'utf8');
  // The stage that lost its bake: `- name: dc2-tier3` opens it.
  const line = text.slice(0, text.indexOf('name: dc2-tier3')).split('\n').length;
  assert.is(r.err, `${bad}:${line}:7: spec.stages[1]: missing \`bake\`\n`);
});

S('a rollout is read as a rollout even with a quoted kind and a trailing comment', (ctx) => {
  const f = exampleIn(ctx.dir, 'quoted.yaml', (t) => t.replace('kind: Rollout', 'kind: "Rollout"  # a plan'));
  const r = validate([f]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /: ok \(rollout checkout-v1\.6\.0: 3 stage\(s\), 2 SLO\(s\)\)\n$/);
});

S("a rollout's SLO errors and unreadable SLO files come out the same way", (ctx) => {
  const missing = exampleIn(ctx.dir, 'missing-slo.yaml', (t) => t.replace('latency-p99.yaml', 'latency-p100.yaml'));
  const r = validate([missing]);
  assert.is(r.code, 1);
  assert.match(r.err, /latency-p100\.yaml: cannot read the SLO spec: ENOENT\n$/);
  const broken = join(ctx.dir, 'broken-slo.yaml');
  writeFileSync(broken, readFileSync(join(ROOT, 'slo-specs/latency-p99.yaml'), 'utf8').replace('worse: higher', 'worse: sideways'));
  const uses = exampleIn(ctx.dir, 'uses-broken.yaml', (t) => t.replace(join(ROOT, 'slo-specs/latency-p99.yaml'), broken));
  const u = validate([uses]);
  assert.is(u.code, 1);
  // Located in the rollout (the list item), then in the SLO spec itself.
  assert.match(u.err, new RegExp(`^${esc(uses)}:\\d+:7: spec\\.slos\\[1\\]: .*broken-slo\\.yaml:\\d+:\\d+: .*sideways`));
});

S('an SLO spec, a backtest and a rollout in one call; a bad one does not hide the others', (ctx) => {
  const slo = join(ROOT, 'slo-specs/http-5xx-ratio.yaml');
  const backtest = join(ROOT, 'backtests/v1.6.0-bad-canary.yaml');
  const r = validate([slo, backtest, EXAMPLE]);
  assert.is(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.is(lines.length, 3, r.out);
  assert.match(lines[0]!, new RegExp(`^${esc(slo)}: ok \\(http-5xx-ratio`));
  assert.match(lines[1]!, new RegExp(`^${esc(backtest)}: ok \\(backtest v1\\.6\\.0-bad-canary: `));
  assert.is(lines[2], `${EXAMPLE}: ok (rollout checkout-v1.6.0: 3 stage(s), 2 SLO(s))`);
  // A broken rollout between them: the others are still reported ok, and the call fails.
  const bad = exampleIn(ctx.dir, 'mixed-bad.yaml', (t) => t.replace('scope: tier=tier3\n', 'scope: tier\n'));
  const m = validate([slo, bad, backtest]);
  assert.is(m.code, 1);
  assert.is(m.out.trimEnd().split('\n').length, 2, m.out);
  assert.match(m.err, new RegExp(`^${esc(bad)}:\\d+:\\d+: spec\\.stages\\[2\\]\\.scope: `));
  assert.is(m.err.trimEnd().split('\n').length, 1);
});

S('the binary documents rollouts in its help and exits 1 on a bad one', (ctx) => {
  const h = spawnSync(process.execPath, ['bin/hmd.js', 'validate', '--help'], { cwd: ROOT, encoding: 'utf8' });
  assert.is(h.status, 0, h.stderr);
  assert.match(h.stdout, /rollout plan/);
  assert.match(h.stdout, /kind: Rollout/);
  const bad = exampleIn(ctx.dir, 'bin-bad.yaml', (t) => t.replace('kind: Rollout', 'kind: Rollout\nstatus: done'));
  const r = spawnSync(process.execPath, ['bin/hmd.js', 'validate', EXAMPLE, bad], { cwd: ROOT, encoding: 'utf8' });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stdout, /examples\/rollout\.yaml: ok \(rollout checkout-v1\.6\.0/);
  assert.match(r.stderr, /bin-bad\.yaml:9:1: unknown key "status" in the rollout; allowed: apiVersion, kind, metadata, spec\n$/);
});

S.run();
