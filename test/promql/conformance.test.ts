/**
 * Prometheus's own PromQL test scripts (v3.5.0, in ../shared/conformance/promql beside the
 * clone) and hmd's scripts in the same language (test/promql/scripts). "Done" for the engine
 * means at least 98% of the upstream cases that need no native histograms pass.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCase, formatSummary, runFiles } from '../../src/promql/promqltest/run.js';

// dist/test/promql -> repository root.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const upstreamDir = resolve(root, '../shared/conformance/promql');
const ownDir = join(root, 'test/promql/scripts');

const scripts = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.test'))
    .sort()
    .map((f) => join(dir, f));

if (existsSync(upstreamDir)) {
  test('upstream Prometheus conformance scripts: at least 98% of float cases pass', async () => {
    const files = scripts(upstreamDir);
    assert.ok(files.length >= 10, `expected the upstream scripts in ${upstreamDir}`);
    const s = await runFiles(files);
    const failed = s.cases.filter((c) => c.status === 'failed');
    for (const c of failed) console.log('  ' + formatCase(c));
    console.log(`  upstream: ${formatSummary(s)}`);
    // Skips are only for native histograms; anything else skipped would hide a gap.
    for (const c of s.cases.filter((x) => x.status === 'skipped')) {
      assert.match(c.message ?? '', /histogram/i, `skipped for another reason: ${formatCase(c)}`);
    }
    const ratio = s.passed / (s.passed + s.failed);
    assert.ok(s.passed > 500, `too few cases ran: ${formatSummary(s)}`);
    assert.ok(ratio >= 0.98, `pass rate ${(ratio * 100).toFixed(2)}% is below 98%: ${formatSummary(s)}`);
  });
} else {
  const msg = `conformance scripts not found at ${upstreamDir} (they sit in ../shared beside the clone)`;
  if (process.env['CI']) test('upstream Prometheus conformance scripts are present', () => assert.unreachable(msg));
  else console.log(`  SKIPPED: ${msg}`);
}

test("hmd's own PromQL scripts all pass", async () => {
  const files = scripts(ownDir);
  assert.ok(files.length > 0, `no scripts in ${ownDir}`);
  const s = await runFiles(files);
  for (const c of s.cases.filter((x) => x.status !== 'passed')) console.log('  ' + formatCase(c));
  console.log(`  own scripts: ${formatSummary(s)}`);
  assert.is(s.failed, 0, formatSummary(s));
  assert.is(s.skipped, 0, formatSummary(s));
  assert.ok(s.passed >= 20, `expected at least 20 cases, got ${s.passed}`);
});

test.run();
