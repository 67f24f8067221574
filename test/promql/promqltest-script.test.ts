import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  parseDuration,
  parseGoNumber,
  parseScript,
  parseSeriesDesc,
  ScriptError,
  type EvalCommand,
  type LoadCommand,
  type SequenceValue,
} from '../../src/promql/promqltest/script.js';
import type { Labels } from '../../src/storage/labels.js';
import { parseExpr } from '../../src/promql/parser.js';
import type { StringLiteral, VectorSelector } from '../../src/promql/ast.js';

const rec = (ls: Labels): Record<string, string> => Object.fromEntries(ls.map((l) => [l.name, l.value]));

/** Values as compact strings: numbers, '_' (omitted), 'stale', 'H' (histogram). */
const vals = (vs: SequenceValue[]): (number | string)[] =>
  vs.map((v) => (v.kind === 'float' ? v.value : v.kind === 'omitted' ? '_' : v.kind === 'stale' ? 'stale' : 'H'));

const seq = (s: string): (number | string)[] => vals(parseSeriesDesc(`m ${s}`).values);

const onlyEval = (text: string): EvalCommand => {
  const cmds = parseScript(text).commands;
  const e = cmds.find((c) => c.kind === 'eval');
  assert.ok(e, 'an eval command');
  return e as EvalCommand;
};

const throwsAt = (text: string, line: number, re?: RegExp): void => {
  try {
    parseScript(text);
  } catch (e) {
    assert.instance(e, ScriptError);
    assert.is((e as ScriptError).line, line, (e as Error).message);
    if (re) assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('expected a ScriptError');
};

test('series expansion: increments, decrements, repetition', () => {
  assert.equal(seq('1+2x3'), [1, 3, 5, 7]);
  assert.equal(seq('1-2x3'), [1, -1, -3, -5]);
  assert.equal(seq('-1-2x2'), [-1, -3, -5]);
  assert.equal(seq('+1+1x1'), [1, 2]);
  assert.equal(seq('1x3'), [1, 1, 1, 1]);
  assert.equal(seq('-5x2'), [-5, -5, -5]);
  assert.equal(seq('0+10x0'), [0]);
  assert.equal(seq('5 2+3x2 _ stale'), [5, 2, 5, 8, '_', 'stale']);
  assert.equal(seq('1e3 .5 2.'), [1000, 0.5, 2]);
  assert.equal(seq('1.5e-1+1e-1x1'), [0.15, 0.15 + 0.1]);
  assert.equal(seq(''), []);
});

test('series expansion accumulates like upstream (v += inc)', () => {
  const got = seq('0+0.1x10') as number[];
  let v = 0;
  const want: number[] = [];
  for (let i = 0; i <= 10; i++) {
    want.push(v);
    v += 0.1;
  }
  assert.equal(got, want);
});

test('series expansion: omitted values', () => {
  assert.equal(seq('_'), ['_']);
  assert.equal(seq('_x3'), ['_', '_', '_']);
  assert.equal(seq('1 _x2 2'), [1, '_', '_', 2]);
});

test('series expansion: special floats and number syntaxes', () => {
  const v = seq('NaN Inf -Inf +Inf nan inf') as number[];
  assert.ok(Number.isNaN(v[0]));
  assert.equal(v.slice(1, 4), [Infinity, -Infinity, Infinity]);
  assert.ok(Number.isNaN(v[4]));
  assert.is(v[5], Infinity);
  assert.equal(seq('010'), [8]); // Go's ParseInt(s, 0, 64): a leading 0 is octal
  assert.equal(seq('08'), [8]); // not octal: falls back to ParseFloat
  assert.equal(seq('0x2'), [0, 0, 0]); // no hex in series values: 0 repeated
  assert.equal(seq('NaN+1x1').length, 2);
});

test('series expansion: native histograms are kept as markers with the right count', () => {
  assert.equal(seq('{{schema:1 sum:3 count:22 buckets:[5 10 7]}}'), ['H']);
  assert.equal(seq('{{schema:0 sum:10 count:10}}x3'), ['H', 'H', 'H', 'H']);
  assert.equal(seq('{{sum:1 count:1}}+{{sum:1 count:1}}x2 5'), ['H', 'H', 'H', 5]);
  assert.equal(seq('1 {{schema:0 sum:1 count:1}} _ 2'), [1, 'H', '_', 2]);
});

test('series expansion: malformed values', () => {
  for (const bad of ['1+x3', '1x', 'foo', '1a', '1+2', 'stale+1', '_x', '1x2x3', '{{sum:1', '1 ~']) {
    assert.throws(() => parseSeriesDesc(`m ${bad}`), undefined, bad);
  }
});

test('labels: metric names, label sets, quoting', () => {
  assert.equal(rec(parseSeriesDesc('metric 1').labels), { __name__: 'metric' });
  assert.equal(rec(parseSeriesDesc('a:b_c{x="1", y=\'2\', z=`3\\n`} 1').labels), { __name__: 'a:b_c', x: '1', y: '2', z: '3\\n' });
  assert.equal(rec(parseSeriesDesc('{__name__="m", a="b",} 1').labels), { __name__: 'm', a: 'b' });
  assert.equal(rec(parseSeriesDesc('{"quoted.name"} 1').labels), { __name__: 'quoted.name' });
  assert.equal(rec(parseSeriesDesc('{"quoted.name", "label.x"="v"} 1').labels), { __name__: 'quoted.name', 'label.x': 'v' });
  assert.equal(rec(parseSeriesDesc('{} 1').labels), {});
  assert.equal(rec(parseSeriesDesc('m{a="x\\"y\\u00e9\\n"} 1').labels), { __name__: 'm', a: 'x"y\u00e9\n' });
  assert.equal(rec(parseSeriesDesc('m{ a = "b" , c="d" } 1').labels), { __name__: 'm', a: 'b', c: 'd' });
  // Labels come out sorted by name.
  assert.equal(
    parseSeriesDesc('m{z="1", a="2"}').labels.map((l) => l.name),
    ['__name__', 'a', 'z'],
  );
});

test('labels: malformed label sets', () => {
  for (const bad of ['m{a="b" 1', 'm{a=b} 1', 'm{a!="b"} 1', 'm{="b"} 1', '{a="b"}1', 'm{a="b}', '1 2', 'm{a="\\q"} 1']) {
    assert.throws(() => parseSeriesDesc(bad), undefined, bad);
  }
});

test('durations and numbers', () => {
  assert.is(parseDuration('0'), 0);
  assert.is(parseDuration('5m'), 300_000);
  assert.is(parseDuration('1h30m'), 5_400_000);
  assert.is(parseDuration('1d2h3m4s5ms'), 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5);
  assert.is(parseDuration('1w'), 7 * 86_400_000);
  assert.is(parseDuration('1y'), 365 * 86_400_000);
  assert.throws(() => parseDuration(''));
  assert.throws(() => parseDuration('5'));
  assert.throws(() => parseDuration('1m1h'));
  assert.throws(() => parseDuration('-1m'));
  assert.is(parseGoNumber('12340000'), 12340000);
  assert.is(parseGoNumber('0.00001234'), 0.00001234);
  assert.is(parseGoNumber('+Inf'), Infinity);
  assert.is(parseGoNumber('-Inf'), -Infinity);
  assert.ok(Number.isNaN(parseGoNumber('NaN')));
  assert.is(parseGoNumber('0x10'), 16);
  assert.is(parseGoNumber('-2.5e3'), -2500);
  assert.is(parseGoNumber('{} 1'), undefined);
  assert.is(parseGoNumber('foo'), undefined);
});

test('numbers follow Go: no signed NaN, nothing beyond float64', () => {
  // Upstream reads these with strconv.ParseInt, then ParseFloat, which fail on both.
  for (const s of ['-NaN', '+nan', '1e400', '-1e400', '0x1p1024']) assert.is(parseGoNumber(s), undefined, s);
  assert.is(parseGoNumber('0x1.8p1'), 3);
  assert.is(parseGoNumber('1_000'), 1000); // ParseInt with base 0 takes underscores
});

test('strings decode as the PromQL parser decodes them, bytes that are not UTF-8 included', () => {
  const text = '{a="\\xff", b="\\u00e9\\x41", c=\'\\303\\251\'}';
  const desc = rec(parseSeriesDesc(`m${text} 1`).labels);
  const sel = parseExpr(`m${text}`) as VectorSelector;
  const query = Object.fromEntries(sel.matchers.map((m) => [m.name, m.value]));
  assert.equal(desc, { __name__: 'm', a: '\udcff', b: 'éA', c: 'é' });
  for (const k of ['a', 'b', 'c']) assert.is(desc[k], query[k], k);
  const s = onlyEval('eval instant at 1m "\\xff"\n expect string "\\xff"\n');
  assert.is(s.expectedString, (parseExpr('"\\xff"') as StringLiteral).value);
});

test('load and clear commands', () => {
  const s = parseScript(`# comment
load 5m
  http_requests{job="api", instance="0"} 0+10x3
  other 1 _ stale

clear

load_with_nhcb 1m
  h_bucket{le="1"} 1 2
  h_bucket{le="+Inf"} 2 3

load 30s
  hist {{schema:0 sum:1 count:1}}x2
`);
  assert.equal(
    s.commands.map((c) => [c.kind, c.line]),
    [
      ['load', 2],
      ['clear', 6],
      ['load', 8],
      ['load', 12],
    ],
  );
  const l = s.commands[0] as LoadCommand;
  assert.is(l.intervalMs, 300_000);
  assert.is(l.withNHCB, false);
  assert.is(l.hasHistograms, false);
  assert.is(l.series.length, 2);
  assert.equal(rec(l.series[0]!.labels), { __name__: 'http_requests', job: 'api', instance: '0' });
  assert.equal(vals(l.series[0]!.values), [0, 10, 20, 30]);
  assert.is(l.series[0]!.line, 3);
  assert.equal(vals(l.series[1]!.values), [1, '_', 'stale']);
  assert.is((s.commands[2] as LoadCommand).withNHCB, true);
  assert.is((s.commands[3] as LoadCommand).hasHistograms, true);
});

test('load: a series written twice keeps its last line', () => {
  const l = parseScript('load 1m\n  m 1 2\n  m 3\n').commands[0] as LoadCommand;
  assert.is(l.series.length, 1);
  assert.equal(vals(l.series[0]!.values), [3]);
});

test('eval instant with expected series, scalar and comments ending the block', () => {
  const e = onlyEval(`load 1m
  m{a="1"} 1

eval instant at 1m m
  m{a="1"} 1
  {a="2"} NaN
  # a comment ends the block
`);
  assert.is(e.mode, 'instant');
  assert.is(e.expr, 'm');
  assert.is(e.evalMs, 60_000);
  assert.is(e.line, 4);
  assert.is(e.expected.size, 2);
  const [a, b] = [...e.expected.values()];
  assert.equal(rec(a!.labels), { __name__: 'm', a: '1' });
  assert.is(a!.pos, 1);
  assert.is(a!.line, 5);
  assert.equal(rec(b!.labels), { a: '2' });
  assert.ok(Number.isNaN((b!.values[0] as { value: number }).value));
  assert.is(b!.pos, 2);

  const sc = onlyEval('eval instant at 50m 1 / 0\n\t+Inf\n');
  assert.is(sc.expectScalar, true);
  assert.equal(sc.scalar, { kind: 'float', value: Infinity });
  assert.is(sc.expected.size, 0);
});

test('eval range', () => {
  const e = onlyEval('eval range from 0 to 10m step 5m sum(m)\n  {} 1 2 _\n');
  assert.is(e.mode, 'range');
  assert.equal([e.startMs, e.endMs, e.stepMs], [0, 600_000, 300_000]);
  assert.equal(vals([...e.expected.values()][0]!.values), [1, 2, '_']);
});

test('deprecated eval forms', () => {
  const f = onlyEval('eval_fail instant at 0 count_values("a\\xc5z", version)\n  expected_fail_message invalid label name "a\\xc5z"\n');
  assert.is(f.fail, true);
  assert.is(f.expr, 'count_values("a\\xc5z", version)');
  assert.is(f.expectedFailMessage, 'invalid label name "a\\xc5z"');
  const r = onlyEval('eval_fail instant at 0 foo\n  expected_fail_regexp vector cannot contain .*\n');
  assert.ok(r.expectedFailRegexp?.test('vector cannot contain metrics'));
  assert.is(onlyEval('eval_warn instant at 0 foo\n').warn, true);
  assert.is(onlyEval('eval_info instant at 0 foo\n').info, true);
  assert.is(onlyEval('eval_ordered instant at 0 sort(foo)\n').ordered, true);
  assert.is(onlyEval('eval_warn range from 0 to 1m step 1m foo\n').warn, true);
  // eval_ordered has no range form, as upstream.
  throwsAt('eval_ordered range from 0 to 1m step 1m foo\n', 1, /invalid evaluation command/);
  // expected_fail_message is a series line unless the command is eval_fail.
  throwsAt('eval instant at 0 foo\n  expected_fail_message boom\n', 2);
});

test('expect lines', () => {
  const e = onlyEval(`eval instant at 1m sum by (env) (my_metric)
    expect warn
    expect no_info
    expect warn msg: PromQL warning: something went wrong
    expect warn regex: something went (wrong|boom)
    {env="prod"} 5
    {env="test"} 20
`);
  assert.is(e.expects.warn.length, 3);
  assert.ok(e.expects.warn[0]!.regex!.test('anything'));
  assert.is(e.expects.warn[1]!.message, 'PromQL warning: something went wrong');
  assert.ok(e.expects.warn[2]!.regex!.test('x something went boom'));
  assert.is(e.expects.noInfo.length, 1);
  // Expect lines do not count as result positions.
  assert.equal(
    [...e.expected.values()].map((s) => s.pos),
    [1, 2],
  );
  const f = onlyEval('eval instant at 1m foo\nexpect fail msg: vector cannot contain metrics with the same labelset\n');
  assert.is(f.expects.fail[0]!.message, 'vector cannot contain metrics with the same labelset');
  const o = onlyEval('eval instant at 1m sort(foo)\n expect ordered\n foo{a="1"} 1\n');
  assert.is(o.expects.ordered.length, 1);
  const s = onlyEval('eval instant at 1m "x"\n expect string "x\\ty"\n');
  assert.is(s.expectedString, 'x\ty');
  assert.is(s.excludeFromRangeQuery, true);
  const rv = onlyEval('eval instant at 1m foo[1m]\n expect range vector from 0 to 1m step 30s\n foo 1 2 3\n');
  assert.is(rv.rangeVector, true);
  assert.equal([rv.startMs, rv.endMs, rv.stepMs, rv.evalMs], [0, 60_000, 30_000, 60_000]);
});

test('expected native histograms mark the eval', () => {
  const e = onlyEval('eval instant at 1m foo\n  {} {{schema:0 sum:1 count:1}}\n');
  assert.is(e.hasHistograms, true);
});

test('errors carry line numbers', () => {
  throwsAt('load 1m\n  m 1\n\nfoo bar\n', 4, /invalid command/);
  throwsAt('\n\nload xyz\n', 3, /invalid step definition/);
  throwsAt('load\n', 1, /invalid load command/);
  throwsAt('load 1m\n  m 1\n  m{a="b" 1\n', 3, /series description/);
  throwsAt('eval instant at 1m foo\n  m 1 2\n', 2, /multiple values in instant evaluation/);
  throwsAt('eval instant at xx foo\n', 1, /invalid timestamp definition/);
  throwsAt('eval range from 1m to 0 step 1m foo\n', 1, /end timestamp .* is before start/);
  throwsAt('eval instant at 1m foo\n  expect bogus\n', 2, /invalid expect statement/);
  throwsAt('eval instant at 1m foo\n  expect warn\n  expect no_warn\n', 3, /warn and no_warn/);
  throwsAt('eval instant at 1m foo\n  expect fail\n  expect fail\n', 3, /multiple expect fail/);
  throwsAt('eval foo\n', 1, /invalid evaluation command/);
});

test('lenient mode records broken commands and continues after their block', () => {
  const s = parseScript('load 1m\n  m 1\n  bad{ 1\n  n 2\n\neval instant at 0 m\n  m 1\n\neval instant at xx m\n\nclear\n', { lenient: true });
  assert.equal(
    s.commands.map((c) => [c.kind, c.line]),
    [
      ['error', 3],
      ['eval', 6],
      ['error', 9],
      ['clear', 11],
    ],
  );
  const e0 = s.commands[0]!;
  assert.ok(e0.kind === 'error' && e0.command === 'load');
  const e2 = s.commands[2]!;
  assert.ok(e2.kind === 'error' && e2.command === 'eval' && e2.expr === 'm');
});

test.run();
