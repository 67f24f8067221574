/** Across evaluations (delay, consecutive limits) and across SLOs (weights, critical, dry run). */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Status } from '../../src/slo/judge.js';
import { DEFAULT_RUN_LIMITS, stageVerdict, summarizeRun, type RunSummary, type SloOutcome } from '../../src/slo/verdict.js';

const S = suite('slo verdict');
const evals = (...ss: Status[]) => ss.map((status, i) => ({ at: (i + 1) * 60_000, status, reasons: [{ check: 'threshold' as const, status, message: `m${i}`, values: {} }] }));

S('initial delay: evaluations before it do not count', () => {
  const limits = { ...DEFAULT_RUN_LIMITS, initialDelayMs: 150_000 };
  assert.is(summarizeRun(limits, evals('fail', 'fail'), 0, 120_000).status, 'pending');
  assert.match(summarizeRun(limits, [], 0, 100_000).message, /first counted evaluation in 50s/);
  assert.is(summarizeRun(limits, evals('fail', 'fail', 'pass'), 0, 180_000).status, 'pass');
});

S('consecutive failures beyond the limit decide fail; fewer are inconclusive; a pass resets', () => {
  const limits = { ...DEFAULT_RUN_LIMITS, failureLimit: 2 };
  assert.is(summarizeRun(limits, evals('fail', 'fail'), 0, 1e9).status, 'inconclusive');
  const f = summarizeRun(limits, evals('pass', 'fail', 'fail', 'fail'), 0, 1e9);
  assert.is(f.status, 'fail');
  assert.match(f.message, /3 consecutive failure\(s\), more than the 2 tolerated/);
  assert.equal(f.reasons.map((r) => r.message), ['m3']);
  assert.is(summarizeRun(limits, evals('fail', 'fail', 'pass', 'fail'), 0, 1e9).status, 'inconclusive');
  assert.is(summarizeRun(DEFAULT_RUN_LIMITS, evals('fail'), 0, 1e9).status, 'fail', 'by default the first failure decides');
});

S('errors and no-data are never passing', () => {
  assert.is(summarizeRun({ ...DEFAULT_RUN_LIMITS, errorLimit: 1 }, evals('error'), 0, 1e9).status, 'inconclusive');
  assert.is(summarizeRun({ ...DEFAULT_RUN_LIMITS, errorLimit: 1 }, evals('error', 'error'), 0, 1e9).status, 'error');
  assert.is(summarizeRun(DEFAULT_RUN_LIMITS, evals('pass', 'no-data'), 0, 1e9).status, 'inconclusive');
  assert.is(summarizeRun(DEFAULT_RUN_LIMITS, evals('warn'), 0, 1e9).status, 'pass');
});

const run = (status: RunSummary['status']): RunSummary => ({ status, message: status, reasons: [{ check: 'threshold', status: status === 'fail' ? 'fail' : 'pass', message: `${status}-reason`, values: {} }] });

S('stage verdict: critical fail reverts; weighted failures revert at the threshold; else pause; all pass continues', () => {
  const o = (name: string, status: RunSummary['status'], extra: Partial<SloOutcome> = {}): SloOutcome => ({ name, summary: run(status), ...extra });
  const crit = stageVerdict([o('5xx', 'fail', { critical: true }), o('latency', 'pass', { weight: 10 })]);
  assert.is(crit.verdict, 'revert');
  assert.match(crit.reasons[0]!, /critical SLO 5xx failed/);
  assert.match(crit.reasons[1]!, /^5xx: fail \(fail\): fail-reason/);
  assert.is(stageVerdict([o('a', 'fail', { weight: 1 }), o('b', 'pass', { weight: 3 })]).verdict, 'pause');
  assert.is(stageVerdict([o('a', 'fail', { weight: 1 }), o('b', 'pass', { weight: 1 })]).verdict, 'revert');
  assert.is(stageVerdict([o('a', 'pass'), o('b', 'inconclusive')]).verdict, 'pause');
  assert.is(stageVerdict([o('a', 'pass'), o('b', 'error')]).verdict, 'pause');
  assert.is(stageVerdict([o('a', 'pass'), o('b', 'pending')]).verdict, 'pause');
  const ok = stageVerdict([o('a', 'pass'), o('b', 'pass')]);
  assert.is(ok.verdict, 'continue');
  assert.is(ok.reasons.length, 3);
});

S('dry-run SLOs are reported but never decide', () => {
  const v = stageVerdict([
    { name: 'new-latency', summary: run('fail'), dryRun: true, critical: true },
    { name: '5xx', summary: run('pass') },
  ]);
  assert.is(v.verdict, 'continue');
  assert.ok(v.reasons.some((r) => r.startsWith('[dry-run] new-latency: fail')));
  assert.is(stageVerdict([{ name: 'x', summary: run('pass'), dryRun: true }]).verdict, 'pause');
});

S.run();
