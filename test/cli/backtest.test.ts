/**
 * `hmd backtest` from the command line: the summary table and exit codes, JSON and HTML files,
 * progress as plain lines off a terminal and as a bar with an ETA on one, a sweep table, a
 * re-run that keeps finished backtests, and errors that say what to do.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BACKTEST_EXIT, runBacktest, type BacktestArgs } from '../../src/cli/backtest.js';
import { runValidate } from '../../src/cli/validate.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const file = (n: string) => join(ROOT, 'backtests', `${n}.yaml`);
const S = suite<{ dir: string }>('hmd backtest', { dir: '' });
S.before((ctx) => void (ctx.dir = mkdtempSync(join(tmpdir(), 'hmd-bt-cli-'))));
S.after((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

async function bt(args: Partial<BacktestArgs> & { files: string[] }, tty = false): Promise<{ code: number; out: string; err: string }> {
  const o = { out: '', err: '' };
  const code = await runBacktest(
    { concurrency: 4, state: join(mkdtempSync(join(tmpdir(), 'hmd-bt-state-')), 's'), progress: 'auto', output: 'table', ...args },
    { out: (s) => void (o.out += s), err: { write: (s) => void (o.err += s), isTTY: tty, columns: 100 } },
  );
  return { code, ...o };
}

S('a summary table, plain progress lines off a terminal, JSON and HTML files; exit 0 when every expectation holds', async (ctx) => {
  const json = join(ctx.dir, 'r.json');
  const html = join(ctx.dir, 'r.html');
  const r = await bt({ files: [file('v1.6.0-bad-canary'), file('v1.5.1-tier1-blue')], json, html });
  assert.is(r.code, BACKTEST_EXIT.OK, r.out + r.err);
  assert.match(r.out, /ok\s+v1\.6\.0-bad-canary\s+incident\s+revert at canary 5m after impact\s+1h54m before people/);
  assert.match(r.out, /ok\s+v1\.5\.1-tier1-blue\s+healthy\s+completed/);
  assert.match(r.out, /2 backtest\(s\), 0 kept, \d+ evaluation\(s\); \d+ queries asked, \d+ sent; [\d.]+ MB read/);
  // Not a terminal: one line per backtest, no carriage returns.
  assert.match(r.err, /^hmd backtest: 2 backtest\(s\)\n/);
  assert.match(r.err, /\[1\/2\] ok {4}/);
  assert.match(r.err, /\[2\/2\] ok {4}/);
  assert.not.match(r.err, /\r/);
  const j = JSON.parse(readFileSync(json, 'utf8'));
  assert.is(j.runs.length, 2);
  assert.is(j.settings.length, 1);
  assert.is(j.settings[0].falseReverts, 0);
  assert.is(j.stats.backtests, 2);
  const page = readFileSync(html, 'utf8');
  assert.match(page, /^<!DOCTYPE html>/i);
  assert.match(page, /v1\.6\.0-bad-canary/);
});

S('on a terminal: a bar redrawn in place, with an ETA', async () => {
  const r = await bt({ files: [file('v1.6.0-bad-canary'), file('healthy-over-crash'), file('v1.6.0-planned-rollout')], concurrency: 1 }, true);
  assert.is(r.code, BACKTEST_EXIT.OK, r.err);
  assert.match(r.err, /\r\x1b\[K\[#+-+\] 1\/3 33% {2}ETA \d/);
  assert.match(r.err, /\r\x1b\[K\[#+\] 3\/3 100% {2}[\dms]+ elapsed\n$/);
});

S('a sweep prints one row per setting; a re-run keeps what finished', async (ctx) => {
  const state = join(ctx.dir, 'sweep-state');
  const args = { files: [file('v1.6.0-bad-canary'), file('v1.5.0-tier1-rollout')], state, set: ['slo[http-5xx-ratio].judgement.comparison.maxRelativeIncrease=0.5,1'] };
  const r = await bt(args);
  // Under 0.5 the healthy rollout is reverted on noise: an expectation fails, exit 1.
  assert.is(r.code, BACKTEST_EXIT.UNMET, r.out);
  assert.match(r.out, /FAIL v1\.5\.0-tier1-rollout \[slo\[http-5xx-ratio\]\.judgement\.comparison\.maxRelativeIncrease=0\.5\]: would have reverted/);
  const rows = r.out.split('\n').filter((l) => l.startsWith('slo[http-5xx-ratio].judgement.comparison.maxRelativeIncrease='));
  assert.is(rows.length, 2);
  assert.match(rows[0]!, /=0\.5\s+1\/1\s+5m\s+5m\s+0\s+1\/1 \(100%\)\s+1\/2/);
  assert.match(rows[1]!, /=1\s+1\/1\s+5m\s+5m\s+0\s+0\/1 \(0%\)\s+2\/2/);
  const again = await bt(args);
  assert.is(again.code, BACKTEST_EXIT.UNMET);
  assert.match(again.err, /4 backtest\(s\), 4 kept from an earlier run/);
  assert.match(again.out, /4 backtest\(s\), 4 kept, 0 evaluation\(s\); 0 queries asked, 0 sent/);
});

S('errors: a bad spec or --set is a usage error (2) located in the file; an unreadable source is 3', async (ctx) => {
  const bad = join(ctx.dir, 'bad.yaml');
  writeFileSync(bad, readFileSync(file('v1.6.0-bad-canary'), 'utf8').replace('bake: 2h', 'bake: soon'));
  const b = await bt({ files: [bad] });
  assert.is(b.code, BACKTEST_EXIT.USAGE);
  assert.match(b.err, /bad\.yaml:\d+:\d+: release\.stages\[0\]\.bake: "soon" is not a positive duration/);
  const s = await bt({ files: [file('v1.6.0-bad-canary')], set: ['slo.judgement.thresholds.fial=1'] });
  assert.is(s.code, BACKTEST_EXIT.USAGE);
  assert.match(s.err, /unknown key "fial".*\(with --set slo\.judgement\.thresholds\.fial=1\)/);
  const n = await bt({ files: [file('v1.6.0-bad-canary')], data: join(ctx.dir, 'nowhere') });
  assert.is(n.code, BACKTEST_EXIT.ERROR);
  assert.match(n.out, /ERROR v1\.6\.0-bad-canary: .*nowhere/);
  assert.not.ok(existsSync(join(ctx.dir, 'r2.json')));
});

S('hmd validate checks backtest specs and the SLO specs they name', (ctx) => {
  const out: string[] = [];
  const err: string[] = [];
  const ok = runValidate([file('v1.6.0-bad-canary'), file('healthy-over-crash')], (s) => void out.push(s), (s) => void err.push(s));
  assert.is(ok, 0, err.join(''));
  assert.match(out[0]!, /v1\.6\.0-bad-canary\.yaml: ok \(backtest v1\.6\.0-bad-canary: 1 stage\(s\), 3 SLO\(s\), an incident\)/);
  const bad = join(ctx.dir, 'missing-slo.yaml');
  writeFileSync(bad, readFileSync(file('healthy-over-crash'), 'utf8').replace(/\.\.\/slo-specs\//g, join(ROOT, 'slo-specs') + '/').replace('latency-p99.yaml', 'latency-p100.yaml'));
  err.length = 0;
  assert.is(runValidate([bad], () => {}, (s) => void err.push(s)), 1);
  assert.match(err.join(''), /latency-p100\.yaml: cannot read the SLO spec: ENOENT/);
});

S('the binary: --help documents the flags and exit codes; bad flags exit 2', () => {
  const h = spawnSync(process.execPath, ['bin/hmd.js', 'backtest', '--help'], { cwd: ROOT, encoding: 'utf8' });
  assert.is(h.status, 0);
  for (const flag of ['--set', '--concurrency', '--state', '--force', '--data', '--engines', '--json', '--html', '--progress']) assert.match(h.stdout, new RegExp(flag.replace(/-/g, '\\-')));
  assert.match(h.stdout, /Exit codes: 0 every expectation held, 1 some did not/);
  const u = spawnSync(process.execPath, ['bin/hmd.js', 'backtest', file('v1.6.0-bad-canary'), '--concurrency', '0'], { cwd: ROOT, encoding: 'utf8' });
  assert.is(u.status, 2);
  assert.match(u.stderr, /--concurrency must be a whole number >= 1/);
  const none = spawnSync(process.execPath, ['bin/hmd.js', 'backtest'], { cwd: ROOT, encoding: 'utf8' });
  assert.is(none.status, 2);
});

S.run();
