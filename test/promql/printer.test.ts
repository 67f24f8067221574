/**
 * exprToString: the AST printed back to PromQL parses to an equal tree and means the same.
 * Every expression of the PromQL test scripts (Prometheus's, in ../shared/conformance/promql,
 * and hmd's own) is round-tripped, the scripts are re-run with the printed expressions, and a
 * dozen tricky cases have their exact text pinned.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BinaryExpr, Expr } from '../../src/promql/ast.js';
import { Engine } from '../../src/promql/engine.js';
import { parseExpr } from '../../src/promql/parser.js';
import { exprToString, formatDuration, quoteGo } from '../../src/promql/printer.js';
import { parseScript } from '../../src/promql/promqltest/script.js';
import { runScript } from '../../src/promql/promqltest/run.js';
import { LabelMatcher } from '../../src/storage/matchers.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { labelsFromRecord } from '../../src/storage/labels.js';

// dist/test/promql -> repository root.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dirs = [resolve(root, '../shared/conformance/promql'), join(root, 'test/promql/scripts')].filter((d) => existsSync(d));
const files = dirs.flatMap((d) =>
  readdirSync(d)
    .filter((f) => f.endsWith('.test'))
    .sort()
    .map((f) => join(d, f)),
);

/** The tree as JSON without positions; matchers as type/name/value. */
function shape(e: Expr): string {
  return JSON.stringify(e, (k, v: unknown) => {
    if (k === 'pos') return undefined;
    if (v instanceof LabelMatcher) return { type: v.type, name: v.name, value: v.value };
    return v;
  });
}

/** The tree with every ParenExpr removed (for trees built by hand, which have none). */
function unparen(e: Expr): Expr {
  const c = (x: Expr): Expr => unparen(x);
  switch (e.kind) {
    case 'ParenExpr':
      return unparen(e.expr);
    case 'UnaryExpr':
      return { ...e, expr: c(e.expr) };
    case 'BinaryExpr':
      return { ...e, lhs: c(e.lhs), rhs: c(e.rhs) };
    case 'SubqueryExpr':
      return { ...e, expr: c(e.expr) };
    case 'Call':
      return { ...e, args: e.args.map(c) };
    case 'AggregateExpr':
      return { ...e, expr: c(e.expr), param: e.param && c(e.param) };
    default:
      return e;
  }
}

interface Found {
  readonly file: string;
  readonly line: number;
  readonly expr: string;
}

function collect(): Found[] {
  const out: Found[] = [];
  for (const f of files) {
    const script = parseScript(readFileSync(f, 'utf8'), { lenient: true });
    for (const c of script.commands) {
      if (c.kind === 'eval') out.push({ file: f, line: c.line, expr: c.expr });
      else if (c.kind === 'error' && c.command === 'eval' && c.expr !== undefined) out.push({ file: f, line: c.line, expr: c.expr });
    }
  }
  return out;
}

function tryParse(q: string): Expr | undefined {
  try {
    return parseExpr(q);
  } catch {
    return undefined;
  }
}

test('every expression of the test scripts round-trips: same tree, and printing is idempotent', () => {
  assert.ok(files.length >= 3, 'expected the PromQL test scripts');
  const all = collect();
  let parsed = 0;
  let unparsable = 0;
  const problems: string[] = [];
  for (const f of all) {
    const a = tryParse(f.expr);
    if (!a) {
      unparsable++;
      continue;
    }
    parsed++;
    const text = exprToString(a);
    let b: Expr;
    try {
      b = parseExpr(text);
    } catch (e) {
      problems.push(`${f.file}:${f.line}: ${f.expr}\n    printed ${text}\n    does not parse: ${(e as Error).message}`);
      continue;
    }
    if (shape(a) !== shape(b)) {
      problems.push(`${f.file}:${f.line}: ${f.expr}\n    printed ${text}\n    parses to another tree`);
      continue;
    }
    const again = exprToString(b);
    if (again !== text) problems.push(`${f.file}:${f.line}: ${f.expr}\n    printed ${text}\n    then ${again}`);
  }
  console.log(`  round-tripped ${parsed - problems.length} of ${parsed} parsable expressions (${unparsable} do not parse and were skipped)`);
  for (const p of problems) console.log('  ' + p);
  assert.ok(parsed > 900, `too few expressions found: ${parsed}`);
  assert.equal(problems, []);
});

test('the scripts give the same outcome, case by case, with the printed expressions', async () => {
  let compared = 0;
  let changed = 0;
  const diffs: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const lines = text.split('\n');
    for (const c of parseScript(text, { lenient: true }).commands) {
      if (c.kind !== 'eval') continue;
      const a = tryParse(c.expr);
      if (!a) continue;
      const printed = exprToString(a);
      const i = c.line - 1;
      const at = lines[i]!.lastIndexOf(c.expr);
      if (at < 0 || printed === c.expr) continue;
      lines[i] = lines[i]!.slice(0, at) + printed;
      changed++;
    }
    const before = await runScript(text, f);
    const after = await runScript(lines.join('\n'), f);
    assert.is(after.cases.length, before.cases.length, f);
    before.cases.forEach((b, k) => {
      const x = after.cases[k]!;
      compared++;
      if (b.status !== x.status) diffs.push(`${f}:${b.line}: ${b.expr} (${b.status}) vs ${x.expr} (${x.status}: ${x.message ?? ''})`);
    });
  }
  console.log(`  ${compared} cases re-run, ${changed} with a printed text that differs from the written one`);
  assert.ok(changed > 150, `too few rewritten expressions: ${changed}`);
  assert.equal(diffs, []);
});

test('written and printed forms evaluate to the same result on a small store', async () => {
  const s = new MemoryStore();
  for (let i = 0; i < 6; i++) {
    const ls = labelsFromRecord({ __name__: 'req_total', job: `j${i % 2}`, instance: `i${i}`, 'dc.name': i < 3 ? 'eu' : 'us' });
    for (let t = 0; t <= 60; t++) s.append(ls, t * 60_000, t * (i + 1) + (i === 2 && t === 30 ? -100 : 0));
    const info = labelsFromRecord({ __name__: 'build_info', job: `j${i % 2}`, instance: `i${i}`, version: `v${i % 3}` });
    for (let t = 0; t <= 60; t++) s.append(info, t * 60_000, 1);
  }
  const queries = [
    'sum by (job) (rate(req_total[5m] offset 1m))',
    'sum without (instance) (rate(req_total{job=~"j.*"}[10m]))',
    '-2 ^ 2 * req_total',
    'req_total / on (instance) group_left (version) build_info',
    'req_total > bool 100',
    'max_over_time(rate(req_total[5m])[30m:90s] @ 3000 offset -5m)',
    'topk by (job) (2, req_total)',
    'count by ("dc.name") (req_total)',
    'req_total{"dc.name"="eu"} unless on (job) build_info{version="v1"}',
    'quantile(0.9, delta(req_total[1h30m]))',
    'histogram_quantile(0.5, req_total) or vector(-Inf)',
    '(req_total - req_total offset 1h) % 7 atan2 -req_total',
    'label_replace(req_total, "x", "$1\\n", "job", "(.*)")',
  ];
  const engine = new Engine();
  for (const q of queries) {
    const printed = exprToString(parseExpr(q));
    const inst = [await engine.instantQuery(s, q, 50 * 60_000), await engine.instantQuery(s, printed, 50 * 60_000)];
    assert.equal(JSON.stringify(inst[1]!.value), JSON.stringify(inst[0]!.value), `instant: ${q} / ${printed}`);
    const range = [await engine.rangeQuery(s, q, 0, 60 * 60_000, 5 * 60_000), await engine.rangeQuery(s, printed, 0, 60 * 60_000, 5 * 60_000)];
    assert.equal(JSON.stringify(range[1]!.value), JSON.stringify(range[0]!.value), `range: ${q} / ${printed}`);
  }
});

const EXACT: Array<[string, string]> = [
  ['SUM BY (b, a) (rate(foo{b="c"}[300s] offset 60s))', 'sum by (a, b) (rate(foo{b="c"}[5m] offset 1m))'],
  ['a / on(b) group_left(c) d', 'a / on (b) group_left (c) d'],
  ['a / ignoring(b) group_right d', 'a / ignoring (b) group_right d'],
  ['a + on() b', 'a + on () b'],
  ['a and ignoring() b', 'a and ignoring () b'],
  ['sum by () (x)', 'sum by () (x)'],
  ['count(x) without ()', 'count without () (x)'],
  ['x > bool 1', 'x > bool 1'],
  ['foo[5m:1m] @ 100 offset -90s', 'foo[5m:1m] @ 100.000 offset -1m30s'],
  ['foo offset 1w @ 1.5', 'foo @ 1.500 offset 1w'],
  ['rate(foo[5400000ms] @ end())', 'rate(foo[1h30m] @ end())'],
  ['bar[1ms] @ start()', 'bar[1ms] @ start()'],
  ['foo[14d]', 'foo[2w]'],
  ['foo[365d]', 'foo[1y]'],
  ['foo[400d]', 'foo[400d]'],
  ['-2 ^ 2', '-2 ^ 2'],
  ['(-2) ^ 2', '(-2) ^ 2'],
  ['-foo ^ 2 * - - 3', '-foo ^ 2 * 3'],
  ['2 ^ 3 ^ 2', '2 ^ 3 ^ 2'],
  ['(2 ^ 3) ^ 2', '(2 ^ 3) ^ 2'],
  ['{"my.metric", "a.b"="c"}', '{"my.metric", "a.b"="c"}'],
  ['{"foo", a="b"}', 'foo{a="b"}'],
  ['{__name__="foo", a!~"b|c"}', '{__name__="foo", a!~"b|c"}'],
  ['foo{z="1", a="2", __name__!=""}', 'foo{z="1", a="2", __name__!=""}'],
  ["foo{a='it\\'s \"q\"\\n\\t\\x00\\u00e9\\xff\\xfe ☃ \\u200b'}", 'foo{a="it\'s \\"q\\"\\n\\t\\x00é\\xff\\xfe ☃ \\u200b"}'],
  ['foo{a=`C:\\dir`}', 'foo{a="C:\\\\dir"}'],
  ['sum by ("a.b", c) ({"x-y"})', 'sum by ("a.b", c) ({"x-y"})'],
  ['0x1F + 1e3 + 1.5e-7 + .5 + 010', '31 + 1000 + 1.5e-7 + 0.5 + 8'],
  ['1.7976931348623157e308 - 0.1', '1.7976931348623157e+308 - 0.1'],
  ['+Inf + -inf + nan', 'Inf + -Inf + NaN'],
  ['topk(3, x) by (job)', 'topk by (job) (3, x)'],
  ['count_values without (a) ("v", x)', 'count_values without (a) ("v", x)'],
  ['a or b and c unless d', 'a or b and c unless d'],
  ['(a or b) and c', '(a or b) and c'],
  ['a - (b - c)', 'a - (b - c)'],
  ['max_over_time((a + b)[10m:])', 'max_over_time((a + b)[10m:])'],
  ['sum(rate(x[5m]))[1h:5m] offset 1d', 'sum(rate(x[5m]))[1h:5m] offset 1d'],
  ['a or b offset 5m', 'a or b offset 5m'],
];

test('exact text of tricky cases', () => {
  for (const [q, want] of EXACT) {
    const text = exprToString(parseExpr(q));
    assert.is(text, want, q);
    assert.is(shape(parseExpr(text)), shape(parseExpr(q)), q);
  }
});

test('trees built by hand get the parentheses precedence needs', () => {
  const p = (q: string): Expr => unparen(parseExpr(q));
  const num = (value: number): Expr => ({ kind: 'NumberLiteral', value, pos: { start: 0, end: 0 } });
  const at = { start: 0, end: 0 };
  const cases: Array<[Expr, string]> = [
    [{ ...(p('x * c') as BinaryExpr), lhs: p('a + b') }, '(a + b) * c'],
    [{ kind: 'UnaryExpr', op: '-', expr: p('a + b'), pos: at }, '-(a + b)'],
    [{ kind: 'UnaryExpr', op: '-', expr: p('a * b'), pos: at }, '-(a * b)'],
    [{ kind: 'BinaryExpr', op: '^', lhs: num(-2), rhs: num(2), returnBool: false, matching: undefined, pos: at }, '(-2) ^ 2'],
    [{ kind: 'BinaryExpr', op: '^', lhs: { kind: 'UnaryExpr', op: '-', expr: p('a'), pos: at }, rhs: num(2), returnBool: false, matching: undefined, pos: at }, '(-a) ^ 2'],
    [{ kind: 'BinaryExpr', op: '-', lhs: num(1), rhs: p('2 - 3'), returnBool: false, matching: undefined, pos: at }, '1 - (2 - 3)'],
    [{ kind: 'BinaryExpr', op: '^', lhs: p('2 ^ 3'), rhs: num(2), returnBool: false, matching: undefined, pos: at }, '(2 ^ 3) ^ 2'],
    [{ kind: 'SubqueryExpr', expr: p('a + b'), range: 600_000, step: 0, offset: 0, at: undefined, pos: at }, '(a + b)[10m:]'],
    [{ kind: 'VectorSelector', name: undefined, matchers: [new LabelMatcher('=', '__name__', 'foo')], offset: -1, at: { kind: 'time', ms: -1 }, pos: at }, '{__name__="foo"} @ -0.001 offset -1ms'],
  ];
  for (const [e, want] of cases) {
    const text = exprToString(e);
    assert.is(text, want);
    assert.is(shape(unparen(parseExpr(text))), shape(e), want);
  }
});

test('durations print as model.Duration; strings as Go quotes them', () => {
  assert.is(formatDuration(0), '0s');
  assert.is(formatDuration(1), '1ms');
  assert.is(formatDuration(90 * 60_000), '1h30m');
  assert.is(formatDuration(8 * 86_400_000), '8d');
  assert.is(formatDuration(3 * 365 * 86_400_000), '3y');
  assert.is(formatDuration(86_400_000 + 1001), '1d1s1ms');
  assert.is(quoteGo('a\u0007\u007f\u0085\u00a0\u{1f600}\u{e0001}'), '"a\\a\\x7f\\u0085\\u00a0\u{1f600}\\U000e0001"');
  assert.is(quoteGo('\udcff\udc80'), '"\\xff\\x80"');
});

test.run();
