import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  almostEqual,
  atModifierEvalTimes,
  atModifierVariant,
  formatCase,
  formatSummary,
  runFiles,
  runScript,
  type CaseResult,
} from '../../src/promql/promqltest/run.js';
import { parseExpr } from '../../src/promql/parser.js';
import { walk, type Expr } from '../../src/promql/ast.js';

const LOAD = `load 1m
  http_requests{job="api", instance="0"} 0+10x10
  http_requests{job="api", instance="1"} 0+20x10
`;

const statuses = (cases: CaseResult[]): string[] => cases.map((c) => c.status);

const explain = (cases: CaseResult[]): string => cases.map(formatCase).join('\n');

test('almostEqual follows util/almost.Equal', () => {
  assert.ok(almostEqual(1, 1));
  assert.ok(almostEqual(NaN, NaN));
  assert.ok(almostEqual(Infinity, Infinity));
  assert.not.ok(almostEqual(Infinity, -Infinity));
  assert.ok(almostEqual(1, 1 + 1e-7));
  assert.not.ok(almostEqual(1, 1 + 1e-5));
  assert.not.ok(almostEqual(0, 1e-300));
  assert.not.ok(almostEqual(NaN, 1));
  assert.not.ok(almostEqual(NaN, NaN, 1e-6, true, false)); // a staleness marker only equals another
});

test('@ modifier variants: times and AST transform', () => {
  assert.equal(atModifierEvalTimes(0), [-1000, 0, 1000]);
  assert.equal(atModifierEvalTimes(600_000), [-6_000_000, 0, 120_000, 600_000, 6_000_000]);
  assert.equal(atModifierEvalTimes(7), [-70, 0, 1, 7, 70]);

  let ast: Expr;
  try {
    ast = parseExpr('sum(rate(foo[5m] @ 100)) + bar + max_over_time(baz[10m:1m])');
  } catch {
    return; // parser not available yet
  }
  const v = atModifierVariant(ast, 60_000)!;
  assert.ok(v);
  const ats: string[] = [];
  walk(v, (e, path) => {
    if (e.kind === 'VectorSelector' || e.kind === 'SubqueryExpr') {
      const under = path.some((p) => p.kind === 'SubqueryExpr');
      ats.push(`${e.kind === 'VectorSelector' ? e.name : 'subquery'}:${under ? 'in-sq:' : ''}${e.at?.kind === 'time' ? e.at.ms : '-'}`);
    }
  });
  assert.equal(ats, ['foo:100000', 'bar:60000', 'subquery:60000', 'baz:in-sq:-']);
  // The original AST is untouched.
  const orig: string[] = [];
  walk(ast, (e) => {
    if (e.kind === 'VectorSelector') orig.push(`${e.name}:${e.at?.kind === 'time' ? e.at.ms : '-'}`);
  });
  assert.equal(orig, ['foo:100000', 'bar:-', 'baz:-']);
  // Expressions with @-unsafe functions get no variants (outside subqueries).
  assert.is(atModifierVariant(parseExpr('time() + foo'), 60_000), undefined);
  assert.is(atModifierVariant(parseExpr('timestamp(foo)'), 60_000), undefined);
  assert.ok(atModifierVariant(parseExpr('max_over_time(timestamp(foo)[5m:1m])'), 60_000));
});

test('a correct selector eval passes (instant, range and @ variants)', async () => {
  const { cases } = await runScript(
    `${LOAD}
eval instant at 5m http_requests
  http_requests{job="api", instance="0"} 50
  http_requests{job="api", instance="1"} 100

eval instant at 5m sum(http_requests)
  {} 150

eval range from 0 to 10m step 5m http_requests{instance="0"}
  http_requests{job="api", instance="0"} 0 50 100

eval instant at 1m 1 + 1
  2
`,
    'ok.test',
  );
  assert.equal(statuses(cases), ['passed', 'passed', 'passed', 'passed'], explain(cases));
});

test('a wrong expected value fails with a failure line', async () => {
  const { cases } = await runScript(
    `${LOAD}
eval instant at 5m http_requests
  http_requests{job="api", instance="0"} 51
  http_requests{job="api", instance="1"} 100
  http_requests{job="api", instance="2"} 7
`,
    'bad.test',
  );
  assert.equal(statuses(cases), ['failed']);
  const line = formatCase(cases[0]!);
  assert.ok(line.startsWith('bad.test:5: http_requests: '), line);
  assert.match(line, /different: http_requests\{instance="0", job="api"\} expected 51 got 50/);
  assert.match(line, /missing: http_requests\{instance="2", job="api"\} 7/);
});

test('range evals compare every point', async () => {
  const { cases } = await runScript(`${LOAD}\neval range from 0 to 10m step 5m http_requests{instance="1"}\n  http_requests{job="api", instance="1"} 0 100 201\n`, 'r.test');
  assert.equal(statuses(cases), ['failed']);
  assert.match(cases[0]!.message!, /expected 0 100 201 got 0 100 200/);
});

test('expected failures, annotations and native histogram skips', async () => {
  const { cases } = await runScript(
    `load 1m
  testmetric1{src="a",dst="b"} 0
  testmetric2{src="a",dst="b"} 1
  hist {{schema:0 sum:1 count:1}}x2

eval_fail instant at 0m ceil({__name__=~'testmetric1|testmetric2'})

eval instant at 0m ceil({__name__=~'testmetric1|testmetric2'})
  expect fail regex: same labelset

eval instant at 0m testmetric1
  expect fail

eval instant at 0m quantile(2, testmetric1)
  expect warn
  {} +Inf

eval instant at 0m hist

eval instant at 0m histogram_count(testmetric1)

eval instant at 0m testmetric1
  testmetric1{src="a",dst="b"} 0
`,
    'x.test',
  );
  assert.equal(statuses(cases), ['passed', 'passed', 'failed', 'passed', 'skipped', 'skipped', 'passed'], explain(cases));
  assert.match(cases[2]!.message!, /expected an error/);
  assert.match(cases[4]!.message!, /native histograms/);
  assert.match(cases[5]!.message!, /histogram_count/);
});

test('clear resets data; filter selects evals', async () => {
  const { cases } = await runScript(`${LOAD}\nclear\n\neval instant at 5m http_requests\n\neval instant at 5m count(http_requests)\n`, 'c.test', {
    filter: /^http/,
  });
  assert.equal(statuses(cases), ['passed'], explain(cases));
});

test('runFiles sums up and a script error is one failed case', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hmd-promqltest-'));
  try {
    const a = join(dir, 'a.test');
    const b = join(dir, 'b.test');
    await writeFile(a, `${LOAD}\neval instant at 5m sum(http_requests)\n  {} 150\n\neval instant at 5m sum(http_requests)\n  {} 1\n`);
    await writeFile(b, 'load 1m\n  m{ 1\n\neval instant at 0 m\n  m 1\n');
    const s = await runFiles([a, b]);
    assert.equal([s.passed, s.failed, s.skipped], [1, 2, 1], explain(s.cases));
    assert.is(formatSummary(s), '1 passed, 2 failed, 1 skipped');
    assert.match(formatCase(s.cases[2]!), /b\.test:2: script error: /);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
