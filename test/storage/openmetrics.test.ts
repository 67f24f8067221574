import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLabel, labelsFromRecord, type Labels } from '../../src/storage/labels.js';
import { MemoryStore } from '../../src/storage/memory.js';
import {
  detectFileFormat,
  detectFormat,
  formatTimestampSeconds,
  loadOpenMetricsFile,
  OpenMetricsError,
  parseExpositionFloat,
  parseOpenMetrics,
  writeOpenMetrics,
  type MetricMetadata,
  type ParseOptions,
  type WriteOptions,
} from '../../src/storage/openmetrics.js';
import type { Series } from '../../src/storage/queryable.js';
import { isStaleAt, setStale } from '../../src/storage/stale.js';
import { formatShortest } from '../../src/util/gofloat.js';
import { prng, type Rng } from '../../src/util/random.js';
import { DEMO_END_MS, DEMO_INCIDENT_START_MS, DEMO_POINTS, DEMO_STEP_MS, renderDemoFixture } from '../../scripts/gen-demo-fixture.js';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/demo.om', import.meta.url));

// ------------------------------------------------------------------------------------------
// helpers

/** `{__name__="a", b="c"}` as promtool's dump prints label sets (and a stable map key for us). */
function key(ls: Labels): string {
  return '{' + ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ') + '}';
}

interface Points {
  ts: number[];
  vs: number[];
}

function dump(store: MemoryStore): Map<string, Points> {
  const m = new Map<string, Points>();
  for (const s of store.allSeries()) m.set(key(s.labels), { ts: [...s.timestamps], vs: [...s.values] });
  return m;
}

function parse(text: string, opts: ParseOptions = {}): Map<string, Points> {
  return dump(parseOpenMetrics(text, undefined, opts));
}

function only(m: Map<string, Points>, k: string): Points {
  const p = m.get(k);
  assert.ok(p, `series ${k} missing; have ${[...m.keys()].join(' ')}`);
  return p;
}

/** Asserts that parsing fails with `file:line: ...` containing `fragment`. */
function failsAt(text: string, line: number, fragment: string | RegExp, opts: ParseOptions = {}): OpenMetricsError {
  try {
    parseOpenMetrics(text, undefined, { fileName: 'metrics.om', ...opts });
  } catch (e) {
    assert.instance(e, OpenMetricsError, `not an OpenMetricsError: ${String(e)}`);
    const err = e as OpenMetricsError;
    assert.is(err.line, line, `wrong line in: ${err.message}`);
    assert.ok(err.message.startsWith(`metrics.om:${line}: `), err.message);
    if (typeof fragment === 'string') assert.ok(err.message.includes(fragment), `"${err.message}" does not contain "${fragment}"`);
    else assert.match(err.message, fragment);
    return err;
  }
  assert.unreachable(`parsed without error:\n${text}`);
  throw new Error('unreachable');
}

function writeToString(series: Iterable<Series>, opts?: WriteOptions): string {
  let out = '';
  writeOpenMetrics(series, (c) => (out += c), opts);
  return out;
}

function ser(rec: Record<string, string>, ts: number[], vs: number[]): Series {
  return { labels: labelsFromRecord(rec), timestamps: Float64Array.from(ts), values: Float64Array.from(vs) };
}

function sameDouble(a: number, b: number): boolean {
  return Object.is(a, b) || (a !== a && b !== b);
}

/** A double with uniformly random bits: any finite value, NaN payloads, infinities, subnormals. */
function randomDouble(rnd: Rng): number {
  const buf = new Uint32Array(2);
  buf[0] = Math.floor(rnd() * 2 ** 32);
  buf[1] = Math.floor(rnd() * 2 ** 32);
  return new Float64Array(buf.buffer)[0]!;
}

const PROMTOOL = (() => {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error ? undefined : 'promtool';
})();

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hmd-om-'));
}

/** Backfills `file` with promtool into `dir`/out; returns the exit status and output. */
function promtoolBackfill(file: string, outDir: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL!, ['tsdb', 'create-blocks-from', 'openmetrics', file, outDir], { encoding: 'utf8' });
  return { status: r.status, output: (r.stdout ?? '') + (r.stderr ?? '') };
}

/** What promtool stored, read back with `promtool tsdb dump`. */
function promtoolDump(outDir: string): Map<string, Points> {
  mkdirSync(join(outDir, 'wal'), { recursive: true });
  const r = spawnSync(PROMTOOL!, ['tsdb', 'dump', outDir], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.is(r.status, 0, r.stderr);
  const m = new Map<string, Points>();
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const mm = /^(\{.*\}) (\S+) (-?\d+)$/.exec(line);
    assert.ok(mm, `unexpected dump line ${line}`);
    const v = parseExpositionFloat(mm[2]!);
    assert.ok(v !== undefined, line);
    let p = m.get(mm[1]!);
    if (!p) m.set(mm[1]!, (p = { ts: [], vs: [] }));
    p.ts.push(Number(mm[3]));
    p.vs.push(v);
  }
  return m;
}

function assertSameData(actual: Map<string, Points>, expected: Map<string, Points>, what: string): void {
  assert.equal([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: series differ`);
  for (const [k, e] of expected) {
    const a = actual.get(k)!;
    assert.equal(a.ts, e.ts, `${what}: timestamps of ${k}`);
    assert.is(a.vs.length, e.vs.length, `${what}: sample count of ${k}`);
    for (let i = 0; i < e.vs.length; i++) {
      assert.ok(sameDouble(a.vs[i]!, e.vs[i]!), `${what}: ${k} sample ${i}: ${a.vs[i]} vs ${e.vs[i]}`);
    }
  }
}

// ------------------------------------------------------------------------------------------
// reading OpenMetrics

test('OpenMetrics: counters, gauges, metadata, timestamps in seconds', () => {
  const md = new Map<string, MetricMetadata>();
  const m = parse(
    [
      '# HELP http_requests Requests with \\"quotes\\", a \\\\ and a\\nnewline.',
      '# TYPE http_requests counter',
      'http_requests_total{code="200",method="GET"} 10 1749729600',
      'http_requests_total{code="200",method="GET"} 25 1749729615.5',
      'http_requests_created{code="200",method="GET"} 1749720000 1749729600',
      '# TYPE temperature_celsius gauge',
      '# UNIT temperature_celsius celsius',
      'temperature_celsius -3.5 1749729600.001',
      '# EOF',
      '',
    ].join('\n'),
    { metadata: md },
  );
  assert.equal(only(m, '{__name__="http_requests_total", code="200", method="GET"}'), { ts: [1749729600000, 1749729615500], vs: [10, 25] });
  assert.equal(only(m, '{__name__="http_requests_created", code="200", method="GET"}'), { ts: [1749729600000], vs: [1749720000] });
  assert.equal(only(m, '{__name__="temperature_celsius"}'), { ts: [1749729600001], vs: [-3.5] });
  assert.is(m.size, 3);
  assert.equal(md.get('http_requests'), { help: 'Requests with "quotes", a \\ and a\nnewline.', type: 'counter' });
  assert.equal(md.get('temperature_celsius'), { type: 'gauge', unit: 'celsius' });
});

test('OpenMetrics: histogram, gaugehistogram, summary, info, stateset, unknown are plain series', () => {
  const m = parse(`# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 3 100
lat_seconds_bucket{le="1"} 5 100
lat_seconds_bucket{le="+Inf"} 6 100
lat_seconds_sum 2.5 100
lat_seconds_count 6 100
lat_seconds_created 90 100
# TYPE q_seconds gaugehistogram
q_seconds_bucket{le="+Inf"} 4 100
q_seconds_gcount 4 100
q_seconds_gsum 1.25 100
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.05 100
rpc_seconds{quantile="0.99"} 0.3 100
rpc_seconds_sum 12 100
rpc_seconds_count 200 100
# TYPE build info
build_info{version="1.2.3"} 1 100
# TYPE state stateset
state{state="a"} 1 100
state{state="b"} 0 100
# TYPE thing unknown
thing 7 100
# EOF
`);
  const names = [...m.keys()].map((k) => /__name__="([^"]+)"/.exec(k)![1]!);
  assert.equal(
    [...new Set(names)].sort(),
    ['build_info', 'lat_seconds_bucket', 'lat_seconds_count', 'lat_seconds_created', 'lat_seconds_sum', 'q_seconds_bucket', 'q_seconds_gcount', 'q_seconds_gsum', 'rpc_seconds', 'rpc_seconds_count', 'rpc_seconds_sum', 'state', 'thing'],
  );
  assert.equal(only(m, '{__name__="lat_seconds_bucket", le="+Inf"}'), { ts: [100000], vs: [6] });
  assert.equal(only(m, '{__name__="lat_seconds_bucket", le="0.1"}'), { ts: [100000], vs: [3] });
  assert.equal(only(m, '{__name__="rpc_seconds", quantile="0.99"}'), { ts: [100000], vs: [0.3] });
  assert.equal(only(m, '{__name__="state", state="b"}'), { ts: [100000], vs: [0] });
  assert.is(m.size, 17);
});

test('OpenMetrics: exemplars are checked and ignored', () => {
  const m = parse(`# TYPE h histogram
h_bucket{le="1"} 1 100 # {trace_id="abc"} 0.5 99.5
h_bucket{le="+Inf"} 2 100 # {trace_id="def",span="x"} 7
h_count 2 # {} 1
# EOF
`, { defaultTimestampMs: 5 });
  assert.equal(only(m, '{__name__="h_bucket", le="1"}'), { ts: [100000], vs: [1] });
  assert.equal(only(m, '{__name__="h_bucket", le="+Inf"}'), { ts: [100000], vs: [2] });
  assert.equal(only(m, '{__name__="h_count"}'), { ts: [5], vs: [2] });
  assert.is(m.size, 3);
  failsAt('a 1 1 # {x="1"}\n# EOF\n', 1, 'expected a value after the exemplar labels');
  failsAt('a 1 1 # x\n# EOF\n', 1, 'expected "{" to start the exemplar\'s labels');
  failsAt('a 1 1 # {x="1"} 1 abc\n# EOF\n', 1, 'expected a timestamp in seconds after the exemplar value');
});

test('label values: escapes, UTF-8, empty values dropped, label order irrelevant', () => {
  const m = parse(
    'a{p="back\\\\slash",q="say \\"hi\\"",r="line\\nbreak",s="日本 🚀",e=""} 1 1\n' + 'a{s="日本 🚀",r="line\\nbreak",q="say \\"hi\\"",p="back\\\\slash"} 2 2\n# EOF\n',
  );
  assert.is(m.size, 1);
  const [k, p] = [...m.entries()][0]!;
  assert.is(k, key(labelsFromRecord({ __name__: 'a', p: 'back\\slash', q: 'say "hi"', r: 'line\nbreak', s: '日本 🚀' })));
  assert.equal(p, { ts: [1000, 2000], vs: [1, 2] });
});

test('UTF-8 quoted metric and label names', () => {
  const md = new Map<string, MetricMetadata>();
  const m = parse(
    '# TYPE "my.metric" gauge\n{"my.metric", a="b"} 1 10\n{"my.metric",a="b","x.y"="z"} 2 10\nplain{"odd-name"="v"} 3 10\n{a="c","my.metric"} 4 10\n# EOF\n',
    { metadata: md },
  );
  assert.equal(only(m, '{__name__="my.metric", a="b"}'), { ts: [10000], vs: [1] });
  assert.equal(only(m, '{__name__="my.metric", a="b", x.y="z"}'), { ts: [10000], vs: [2] });
  assert.equal(only(m, '{__name__="plain", odd-name="v"}'), { ts: [10000], vs: [3] });
  assert.equal(only(m, '{__name__="my.metric", a="c"}'), { ts: [10000], vs: [4] });
  assert.equal(md.get('my.metric'), { type: 'gauge' });
  failsAt('{"a","b"} 1 1\n# EOF\n', 1, 'metric name given twice');
  failsAt('{x="1"} 1 1\n# EOF\n', 1, 'the sample has no metric name');
  failsAt('a{__name__="b"} 1 1\n# EOF\n', 1, 'the metric name is given twice');
});

test('values: Go float syntax as Prometheus accepts it', () => {
  const cases: [string, number][] = [
    ['1', 1], ['-0', -0], ['+1', 1], ['1.', 1], ['.5', 0.5], ['1e3', 1000], ['1E-3', 0.001], ['-2.5e+2', -250],
    ['NaN', NaN], ['nan', NaN], ['+Inf', Infinity], ['Inf', Infinity], ['inf', Infinity], ['-Inf', -Infinity],
    ['Infinity', Infinity], ['-infinity', -Infinity], ['1e-400', 0], ['4.9e-324', 5e-324], ['1.7976931348623157e308', Number.MAX_VALUE],
    ['0.1', 0.1], ['123456789012345678901234567890', 1.2345678901234568e29],
  ];
  const text = cases.map(([s], i) => `v{i="${i}"} ${s} 1`).join('\n') + '\n# EOF\n';
  const m = parse(text);
  cases.forEach(([s, want], i) => {
    const got = only(m, `{__name__="v", i="${i}"}`).vs[0]!;
    assert.ok(sameDouble(got, want), `${s}: got ${got}, want ${want}`);
    assert.ok(sameDouble(parseExpositionFloat(s)!, want), `parseExpositionFloat(${s})`);
  });
  for (const bad of ['0x1p3', '0x10', '1_000', '-nan', '+NaN', 'abc', '1e', '--1', '1.2.3', '', 'e5', '.', '1e400', '-1e400']) {
    assert.is(parseExpositionFloat(bad), undefined, `parseExpositionFloat(${JSON.stringify(bad)}) should fail`);
  }
  failsAt('ok 1 1\nv 0x1p3 1\n# EOF\n', 2, 'expected a number as the sample value, got "0x1p3"');
  failsAt('ok 1 1\nok 2 2\nv 1e400 1\n# EOF\n', 3, 'out of range');
});

test('OpenMetrics timestamps: read as Prometheus does, int64(seconds * 1000)', () => {
  const m = parse('a 1 1700000000.0009\nb 1 1700000000.1239\nc 1 1.7e9\nd 1 -1.5\ne 1 1.001\nf 1 0\n# EOF\n');
  assert.equal(only(m, '{__name__="a"}').ts, [1700000000000]);
  assert.equal(only(m, '{__name__="b"}').ts, [1700000000123]);
  assert.equal(only(m, '{__name__="c"}').ts, [1700000000000]);
  assert.equal(only(m, '{__name__="d"}').ts, [-1500]);
  // 1.001 * 1000 = 1000.9999999999999 in doubles: Prometheus stores 1000 ms, so must we.
  assert.equal(only(m, '{__name__="e"}').ts, [1000]);
  assert.equal(only(m, '{__name__="f"}').ts, [0]);
  failsAt('a 1 abc\n# EOF\n', 1, 'expected a timestamp in seconds after the value, got "abc"');
  failsAt('a 1 NaN\n# EOF\n', 1, 'expected a timestamp in seconds');
  failsAt('a 1 +Inf\n# EOF\n', 1, 'expected a timestamp in seconds');
  failsAt('a 1 1 2\n# EOF\n', 1, 'unexpected text after the timestamp: "2"');
});

test('samples without timestamp: default timestamp or an error', () => {
  assert.equal(only(parse('a 1\n# EOF\n', { defaultTimestampMs: 42 }), '{__name__="a"}'), { ts: [42], vs: [1] });
  assert.equal(only(parse('a 1\n', { defaultTimestampMs: 42 }), '{__name__="a"}'), { ts: [42], vs: [1] });
  failsAt('a 1 1\na 2\n# EOF\n', 2, 'expected a timestamp after the value 2 (seconds)');
  failsAt('a 1\n', 1, 'defaultTimestampMs');
});

test('OpenMetrics structure: # EOF last, no other comments', () => {
  failsAt('a 1 1\n# EOF\na 2 2\n', 3, 'unexpected data after "# EOF"', { format: 'openmetrics' });
  failsAt('a 1 1\n# EOF\na 2 2\n', 2, '"# EOF" is followed by more lines');
  failsAt('a 1 1\n# a comment\n# EOF\n', 2, 'OpenMetrics has no other comment lines');
  failsAt('a 1 1\nb 1 1\n', 2, 'expected "# EOF" as the last line', { format: 'openmetrics' });
  failsAt('# TYPE a foo\n# EOF\n', 1, 'unknown metric type "foo" for a');
  failsAt('# TYPE a\n# EOF\n', 1, 'expected a metric type after "# TYPE a"');
  failsAt('# UNIT a_bytes seconds\n# EOF\n', 1, 'unit "seconds" is not a suffix of metric name "a_bytes"');
  failsAt('# HELP\n# EOF\n', 1, 'expected a metric name after "# HELP"');
  // Blank lines and trailing blank lines after # EOF are accepted.
  assert.is(parse('a 1 1\n\n# EOF\n\n\n').size, 1);
});

// ------------------------------------------------------------------------------------------
// reading the Prometheus text format

test('Prometheus text format: ms timestamps, comments, whitespace, untyped', () => {
  const md = new Map<string, MetricMetadata>();
  const text = [
    '# A free comment',
    '# HELP rpc_total Total RPCs with a \\\\ and \\"quotes\\".',
    '# TYPE rpc_total counter',
    'rpc_total{code="200",} 5 1749729600000',
    '',
    '  rpc_total { code = "200" }\t7\t1749729615000  ',
    'rpc_total{code="500"} 1 1749729600000\r',
    '# TYPE up untyped',
    'up 1 1749729600000',
    '#UNIT up whatever',
    '# EOF (just a comment in this format when given explicitly)',
  ].join('\n');
  const m = parse(text, { format: 'prometheus', metadata: md });
  assert.equal(only(m, '{__name__="rpc_total", code="200"}'), { ts: [1749729600000, 1749729615000], vs: [5, 7] });
  assert.equal(only(m, '{__name__="rpc_total", code="500"}'), { ts: [1749729600000], vs: [1] });
  assert.equal(only(m, '{__name__="up"}'), { ts: [1749729600000], vs: [1] });
  assert.is(m.size, 3);
  assert.equal(md.get('rpc_total'), { help: 'Total RPCs with a \\ and \\"quotes\\".', type: 'counter' });
  assert.equal(md.get('up'), { type: 'unknown' });
});

test('format rule: # EOF last means OpenMetrics, else Prometheus text; explicit format wins', () => {
  assert.is(detectFormat('a 1 1\n# EOF\n'), 'openmetrics');
  assert.is(detectFormat('a 1 1\n# EOF'), 'openmetrics');
  assert.is(detectFormat('a 1 1\r\n# EOF\r\n\r\n  \n'), 'openmetrics');
  assert.is(detectFormat('a 1 1\n'), 'prometheus');
  assert.is(detectFormat('a 1 1 # EOF\n'), 'prometheus');
  assert.is(detectFormat(''), 'prometheus');
  assert.equal(only(parse('a 1 1700000000\n# EOF\n'), '{__name__="a"}').ts, [1700000000000]);
  assert.equal(only(parse('a 1 1700000000\n'), '{__name__="a"}').ts, [1700000000]);
  assert.equal(only(parse('a 1 1700000000\n# EOF\n', { format: 'prometheus' }), '{__name__="a"}').ts, [1700000000]);
  assert.throws(() => parse('a 1 1700000000\n', { format: 'openmetrics' }), /expected "# EOF" as the last line/);
});

test('guessed Prometheus format: OpenMetrics-only syntax gets a hint', () => {
  const e1 = failsAt('a 1 1\na 1 1700000000.5\n', 2, 'expected a timestamp in integer milliseconds after the value, got "1700000000.5"');
  assert.ok(e1.message.includes('does not end with "# EOF"'), e1.message);
  const e2 = failsAt('# TYPE i info\n', 1, 'unknown metric type "info"');
  assert.ok(e2.message.includes('does not end with "# EOF"'), e2.message);
  failsAt('a 1 1 # {x="y"} 1\n', 1, 'exemplars');
  // Explicit Prometheus format: no hint, since nothing was guessed.
  const e3 = failsAt('a 1 1.5\n', 1, 'integer milliseconds', { format: 'prometheus' });
  assert.not.ok(e3.message.includes('# EOF'), e3.message);
  failsAt('a 1 -5\n', 1, 'integer milliseconds');
});

// ------------------------------------------------------------------------------------------
// errors

test('errors: line numbers and what was expected', () => {
  const head = '# TYPE http_requests counter\nhttp_requests_total{code="200"} 1 1\n';
  failsAt(head + 'http_requests_total{code=200} 1 1\n# EOF\n', 3, 'expected a label value in quotes after "code=", got "200} 1 1"');
  failsAt(head + 'http_requests_total{code="500" 1 1\n# EOF\n', 3, 'expected "," or "}" after code="500", got "1 1"');
  failsAt(head + 'http_requests_total{code="500",\n# EOF\n', 3, 'expected a label name or "}" to close the label set, got end of line');
  failsAt(head + 'http_requests_total{code="500"\n# EOF\n', 3, 'expected "," or "}" after code="500", got end of line');
  failsAt(head + 'http_requests_total{code="500"} 1x 1\n# EOF\n', 3, 'expected a number as the sample value, got "1x"');
  failsAt(head + 'http_requests_total{code="5\\t0"} 1 1\n# EOF\n', 3, 'invalid escape "\\t" in the value of label "code"');
  failsAt(head + 'http_requests_total{code="500} 1 1\n# EOF\n', 3, 'unterminated quoted string: the value of label "code" has no closing quote');
  failsAt(head + 'http_requests_total{code="500\\\n# EOF\n', 3, 'unterminated quoted string');
  failsAt(head + 'http_requests_total{code"500"} 1 1\n# EOF\n', 3, 'expected "=" after label name "code"');
  failsAt(head + 'http_requests_total{code="1",code="2"} 1 1\n# EOF\n', 3, 'label name "code" appears twice');
  failsAt(head + 'http_requests_total{1code="1"} 1 1\n# EOF\n', 3, 'expected a label name or "}" in the label set, got "1code');
  failsAt(head + '9lives 1 1\n# EOF\n', 3, 'expected a metric name or "{" at the start of a sample');
  failsAt(head + 'http_requests_total{code="1"}\n# EOF\n', 3, 'expected a value after http_requests_total{code="1"}, got end of line');
  failsAt(head + 'http_requests_total{code="1"}1 1\n# EOF\n', 3, 'expected a space and a value');
  failsAt(head + 'http_requests_total{"x} 1 1\n# EOF\n', 3, 'unterminated quoted string: a quoted name has no closing quote');
});

test('errors: the file name and line come from loadOpenMetricsFile too', async () => {
  const dir = tempDir();
  try {
    const f = join(dir, 'bad.om');
    writeFileSync(f, 'a 1 1\na 2 2\na{x="1" 3 3\n# EOF\n');
    try {
      await loadOpenMetricsFile(f);
      assert.unreachable('no error');
    } catch (e) {
      assert.instance(e, OpenMetricsError);
      assert.ok((e as Error).message.startsWith(`${f}:3: expected "," or "}" after x="1"`), (e as Error).message);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------------------------------
// duplicates and order

test('duplicates: identical sample ignored, different value an error (as promtool)', () => {
  assert.equal(only(parse('a 1 10\na 1 10\na 2 20\n# EOF\n'), '{__name__="a"}'), { ts: [10000, 20000], vs: [1, 2] });
  assert.equal(only(parse('a NaN 10\na NaN 10\n# EOF\n'), '{__name__="a"}').ts, [10000]);
  failsAt('a 1 10\nb 1 10\na 2 10\n# EOF\n', 3, 'duplicate sample for a at 10000 ms (1970-01-01T00:00:10.000Z): value 2 here, 1 on line 1');
  failsAt('a 0 10\na -0 10\n# EOF\n', 2, 'duplicate sample');
  // The same series written differently is still the same series.
  failsAt('a{x="1",y="2"} 1 10\na{y="2",x="1"} 2 10\n# EOF\n', 2, 'duplicate sample for a{x="1", y="2"}');
});

test('out-of-order samples: an error by default, sorted with outOfOrder: "sort"', () => {
  failsAt('a 1 20\na 2 10\n# EOF\n', 2, 'out-of-order sample for a: 10000 ms (1970-01-01T00:00:10.000Z) is before 20000 ms (1970-01-01T00:00:20.000Z) on line 1');
  // Interleaved series are fine: only each series' own order matters.
  assert.is(parse('a 1 10\nb 1 5\na 2 20\nb 2 6\n# EOF\n').size, 2);
  assert.equal(only(parse('a 1 20\na 2 10\na 3 30\n# EOF\n', { outOfOrder: 'sort' }), '{__name__="a"}'), { ts: [10000, 20000, 30000], vs: [2, 1, 3] });
});

test('parseOpenMetrics appends to a given store', () => {
  const store = new MemoryStore();
  store.append(labelsFromRecord({ __name__: 'pre' }), 1, 1);
  const r = parseOpenMetrics('a 1 1\n# EOF\n', store);
  assert.is(r, store);
  assert.is(store.seriesCount, 2);
});

// ------------------------------------------------------------------------------------------
// streaming

test('loadOpenMetricsFile: streams in small chunks, multi-byte UTF-8 across chunk edges', async () => {
  const dir = tempDir();
  try {
    const lines: string[] = ['# TYPE temp_celsius gauge'];
    for (let i = 0; i < 300; i++) {
      lines.push(`temp_celsius{city="東京 ${i % 7} 🚀",note="a\\"b"} ${i * 0.25} ${1749729600 + i * 15}`);
    }
    lines.push('# EOF', '');
    const text = lines.join('\r\n');
    const f = join(dir, 'utf8.om');
    writeFileSync(f, text);
    const want = parse(text);
    for (const chunkSize of [1, 3, 7, 64, 1 << 20]) {
      const got = dump(await loadOpenMetricsFile(f, { chunkSize }));
      assertSameData(got, want, `chunkSize ${chunkSize}`);
    }
    assert.is(want.size, 7);
    assert.is([...want.values()].reduce((n, p) => n + p.ts.length, 0), 300);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadOpenMetricsFile: format from the file tail, options, invalid UTF-8', async () => {
  const dir = tempDir();
  try {
    const om = join(dir, 'a.om');
    writeFileSync(om, 'a 1 1700000000\n# EOF\n\n\n');
    const prom = join(dir, 'a.prom');
    writeFileSync(prom, 'a 1 1700000000\n');
    assert.is(await detectFileFormat(om), 'openmetrics');
    assert.is(await detectFileFormat(prom), 'prometheus');
    assert.equal(dump(await loadOpenMetricsFile(om)).get('{__name__="a"}')!.ts, [1700000000000]);
    assert.equal(dump(await loadOpenMetricsFile(prom)).get('{__name__="a"}')!.ts, [1700000000]);
    const store = new MemoryStore();
    const md = new Map<string, MetricMetadata>();
    const nots = join(dir, 'nots.om');
    writeFileSync(nots, '# TYPE a gauge\na 1\n# EOF\n');
    const r = await loadOpenMetricsFile(nots, { store, defaultTimestampMs: 7, metadata: md });
    assert.is(r, store);
    assert.equal(dump(store).get('{__name__="a"}'), { ts: [7], vs: [1] });
    assert.equal(md.get('a'), { type: 'gauge' });
    const bad = join(dir, 'bad.om');
    writeFileSync(bad, Buffer.concat([Buffer.from('a 1 1\nb{x="'), Buffer.from([0xff, 0xfe]), Buffer.from('"} 1 1\n# EOF\n')]));
    try {
      await loadOpenMetricsFile(bad, { chunkSize: 4 });
      assert.unreachable('no error');
    } catch (e) {
      assert.instance(e, OpenMetricsError);
      assert.is((e as Error).message, `${bad}:2: invalid UTF-8`);
    }
    try {
      await loadOpenMetricsFile(join(dir, 'missing.om'));
      assert.unreachable('no error for a missing file');
    } catch (e) {
      assert.match(String(e), /ENOENT/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------------------------------
// number formatting

test('written values: the shortest text that the exposition parser reads back as the same double', () => {
  const specials = [0, -0, 1, -1, 0.1, 0.1 + 0.2, 1 / 3, 5e-324, 2.2250738585072014e-308, Number.MAX_VALUE, -Number.MAX_VALUE, 1e21, 1e-7, 123456789.123, Infinity, -Infinity, NaN];
  assert.is(formatShortest(-0), '-0');
  assert.is(formatShortest(Infinity), '+Inf');
  assert.is(formatShortest(-Infinity), '-Inf');
  assert.is(formatShortest(NaN), 'NaN');
  assert.is(formatShortest(0.1 + 0.2), '0.30000000000000004');
  assert.is(formatShortest(1e21), '1e+21');
  const rnd = prng(7);
  const xs = [...specials];
  for (let i = 0; i < 50000; i++) xs.push(randomDouble(rnd));
  for (const x of xs) {
    const s = formatShortest(x);
    assert.ok(sameDouble(parseExpositionFloat(s)!, x), `${x} -> ${s} -> ${parseExpositionFloat(s)}`);
  }
});

test('formatTimestampSeconds: Prometheus reads back exactly the same milliseconds', () => {
  assert.is(formatTimestampSeconds(1749729600000), '1749729600');
  assert.is(formatTimestampSeconds(1749729600015), '1749729600.015');
  assert.is(formatTimestampSeconds(0), '0');
  // Printed plainly as "1.001", Prometheus would compute int64(1.001 * 1000) = 1000.
  assert.is(Math.trunc(1.001 * 1000), 1000);
  assert.is.not(formatTimestampSeconds(1001), '1.001');
  const check = (ms: number): void => {
    const s = formatTimestampSeconds(ms);
    const back = Math.trunc(parseExpositionFloat(s)! * 1000);
    if (back !== ms) assert.unreachable(`${ms} -> ${s} -> ${back}`);
  };
  for (let ms = -1_100_000; ms <= 1_100_000; ms++) check(ms);
  const rnd = prng(11);
  for (let i = 0; i < 200_000; i++) check(Math.floor((rnd() * 2 - 1) * 4e12));
  for (let i = 0; i < 20_000; i++) check(Math.floor((rnd() * 2 - 1) * 8e15));
  for (const ms of [17070220001, 1062072346, 253402300799999]) check(ms);
  assert.throws(() => formatTimestampSeconds(1.5), /not an integer/);
  assert.throws(() => formatTimestampSeconds(NaN), /not an integer/);
});

// ------------------------------------------------------------------------------------------
// writing

/** Lines of each metric family must form one block. */
function assertFamiliesContiguous(text: string, family: (name: string) => string): void {
  const seen = new Set<string>();
  let cur = '';
  for (const line of text.split('\n')) {
    if (line === '' || line === '# EOF') continue;
    const name = line.startsWith('# ') ? line.split(' ')[2]! : /^[^{ ]+/.exec(line)![0];
    const fam = family(name);
    if (fam !== cur) {
      assert.not.ok(seen.has(fam), `family ${fam} is split:\n${text}`);
      seen.add(fam);
      cur = fam;
    }
  }
}

test('writeOpenMetrics: families grouped with TYPE/HELP, series sorted, # EOF last', () => {
  const input: Series[] = [
    ser({ __name__: 'http_requests_total', code: '500' }, [1000, 2000], [1, 2]),
    ser({ __name__: 'up', job: 'x' }, [1000], [1]),
    ser({ __name__: 'lat_seconds_sum' }, [1000], [0.5]),
    ser({ __name__: 'http_requests_created', code: '500' }, [1000], [900]),
    ser({ __name__: 'lat_seconds_bucket', le: '+Inf' }, [1000], [3]),
    ser({ __name__: 'http_requests_total', code: '200' }, [1000, 2000], [10, 20]),
    ser({ __name__: 'lat_seconds_count' }, [1000], [3]),
    ser({ __name__: 'lat_seconds_bucket', le: '0.5' }, [1000], [2]),
  ];
  const text = writeToString(input, { types: { http_requests_total: 'counter', lat_seconds: 'histogram', up: 'untyped' }, help: { http_requests: 'Requests.\nAll "of" them \\ really.' } });
  assert.is(
    text,
    [
      '# HELP http_requests Requests.\\nAll \\"of\\" them \\\\ really.',
      '# TYPE http_requests counter',
      'http_requests_created{code="500"} 900 1',
      'http_requests_total{code="200"} 10 1',
      'http_requests_total{code="200"} 20 2',
      'http_requests_total{code="500"} 1 1',
      'http_requests_total{code="500"} 2 2',
      '# TYPE lat_seconds histogram',
      'lat_seconds_bucket{le="+Inf"} 3 1',
      'lat_seconds_bucket{le="0.5"} 2 1',
      'lat_seconds_count 3 1',
      'lat_seconds_sum 0.5 1',
      '# TYPE up unknown',
      'up{job="x"} 1 1',
      '# EOF',
      '',
    ].join('\n'),
  );
  const fam = (n: string): string => n.replace(/_(total|created|bucket|count|sum)$/, '');
  assertFamiliesContiguous(text, fam);
  // It reads back, metadata included.
  const md = new Map<string, MetricMetadata>();
  const m = parse(text, { metadata: md });
  assert.is(m.size, 8);
  assert.equal(md.get('http_requests'), { help: 'Requests.\nAll "of" them \\ really.', type: 'counter' });
  assert.equal(md.get('lat_seconds'), { type: 'histogram' });
});

test('writeOpenMetrics: names that fit no typed family get no TYPE line; UTF-8 names are quoted', () => {
  const text = writeToString(
    [
      ser({ __name__: 'jobs', x: '1' }, [5], [1]), // a Prometheus-style counter without _total
      ser({ __name__: 'my.metric', 'a.b': 'c"d', e: 'f' }, [5], [2]),
      ser({ __name__: 'temp' }, [5], [3]),
    ],
    { types: { jobs: 'counter', temp: 'gauge' } },
  );
  assert.is(text, 'jobs{x="1"} 1 0.005\n{"my.metric","a.b"="c\\"d",e="f"} 2 0.005\n# TYPE temp gauge\ntemp 3 0.005\n# EOF\n');
  assert.is(parse(text).size, 3);
  assert.ok(parse(text).has('{__name__="my.metric", a.b="c\\"d", e="f"}'));
});

test('writeOpenMetrics: staleness markers are refused unless dropped or written as NaN', () => {
  const vs = new Float64Array([1, 0, 3]);
  setStale(vs, 1);
  assert.ok(isStaleAt(vs, 1));
  const s: Series = { labels: labelsFromRecord({ __name__: 'a' }), timestamps: new Float64Array([1000, 2000, 3000]), values: vs };
  assert.throws(() => writeToString([s]), /staleness marker of a at 2000 ms .*stale: 'drop' or 'nan'/);
  assert.is(writeToString([s], { stale: 'drop' }), 'a 1 1\na 3 3\n# EOF\n');
  assert.is(writeToString([s], { stale: 'nan' }), 'a 1 1\na NaN 2\na 3 3\n# EOF\n');
  // An ordinary NaN is not a staleness marker.
  assert.is(writeToString([ser({ __name__: 'a' }, [1000], [NaN])]), 'a NaN 1\n# EOF\n');
});

test('writeOpenMetrics: bad input and chunked output', () => {
  assert.throws(() => writeToString([ser({ job: 'x' }, [1], [1])]), /without a metric name/);
  assert.throws(() => writeToString([ser({ __name__: 'a' }, [2, 1], [1, 1])]), /strictly increasing/);
  assert.throws(() => writeToString([ser({ __name__: 'a' }, [1.5], [1])]), /not an integer/);
  assert.throws(() => writeToString([], { types: { a: 'bogus' as never } }), /unknown metric type "bogus"/);
  assert.is(writeToString([]), '# EOF\n');
  const many = Array.from({ length: 50 }, (_, i) => ser({ __name__: 'm', i: String(i) }, [1000, 2000], [i, i + 1]));
  const chunks: string[] = [];
  const stats = writeOpenMetrics(many, (c) => chunks.push(c), { chunkSize: 100 });
  assert.ok(chunks.length > 10, `only ${chunks.length} chunks`);
  assert.is(chunks.join(''), writeToString(many));
  assert.equal(stats, { families: 1, series: 50, samples: 100 });
});

test('round trip: write then parse gives back the same series, bit for bit', () => {
  const rnd = prng(42);
  const input: Series[] = [];
  const odd = ['', 'plain', 'quote"', 'back\\slash', 'new\nline', 'ünïcödé 🚀', '{}=,# ', '\\n'];
  for (let s = 0; s < 40; s++) {
    const n = 1 + Math.floor(rnd() * 30);
    const ts: number[] = [];
    let t = Math.floor((rnd() * 2 - 1) * 2e12);
    for (let i = 0; i < n; i++) {
      ts.push(t);
      t += 1 + Math.floor(rnd() * 100_000);
    }
    const vs = ts.map(() => {
      const r = rnd();
      if (r < 0.05) return [NaN, Infinity, -Infinity, -0, 0, 5e-324][Math.floor(rnd() * 6)]!;
      if (r < 0.5) return Math.round(rnd() * 1e6) / 1000;
      return randomDouble(rnd);
    });
    const name = s % 5 === 0 ? `odd.name-${s}` : `metric_${s % 7}`;
    input.push(ser({ __name__: name, v: odd[s % odd.length]!, s: String(s) }, ts, vs));
  }
  // The timestamps that naive seconds formatting gets wrong.
  input.push(ser({ __name__: 'tricky' }, [-1048572, 1001, 1003, 17070220001], [1, 2, 3, 4]));
  const text = writeToString(input);
  const back = parse(text);
  const want = new Map<string, Points>();
  for (const s of input) want.set(key(s.labels), { ts: [...s.timestamps], vs: [...s.values] });
  assertSameData(back, want, 'round trip');
});

// ------------------------------------------------------------------------------------------
// promtool: the reference for what a backfill file is

test('promtool accepts what writeOpenMetrics writes and stores exactly those samples', () => {
  if (!PROMTOOL) {
    console.log('  skipped: promtool is not on PATH (Debian package "prometheus" provides it)');
    return;
  }
  const dir = tempDir();
  try {
    // 1970-07-17: a time where plainly printed seconds (17070220.001) read back 1 ms early.
    const base = 17070220000;
    const input: Series[] = [
      // Interleaved families in the input; the writer must group them.
      ser({ __name__: 'http_requests_total', code: '200', datacenter: 'dc1' }, [base, base + 15_000, base + 30_000], [1, 5, 9]),
      ser({ __name__: 'temperature', room: 'a "quoted" \\ one\nand newline' }, [base + 1, base + 15_001], [-0, 0.1 + 0.2]),
      ser({ __name__: 'http_requests_created', code: '200', datacenter: 'dc1' }, [base], [1749700000.123]),
      ser({ __name__: 'lat_seconds_bucket', le: '0.5' }, [base, base + 15_000], [1, 2]),
      ser({ __name__: 'http_requests_total', code: '500', datacenter: 'dc1' }, [base, base + 15_000], [0, 1]),
      ser({ __name__: 'lat_seconds_bucket', le: '+Inf' }, [base, base + 15_000], [2, 4]),
      ser({ __name__: 'lat_seconds_sum' }, [base, base + 15_000], [0.75, 1.5]),
      ser({ __name__: 'lat_seconds_count' }, [base, base + 15_000], [2, 4]),
      ser({ __name__: 'odd_values' }, [base + 7, base + 8, base + 9, base + 10, base + 11], [NaN, Infinity, -Infinity, 5e-324, Number.MAX_VALUE]),
      // Timestamps that only survive promtool's int64(seconds * 1000) when formatted with care.
      ser({ __name__: 'tricky_ts' }, [base + 1, base + 3, base + 5, base + 12], [1, 2, 3, 4]),
    ];
    const text = writeToString(input, { types: { http_requests: 'counter', lat_seconds: 'histogram', temperature: 'gauge' } });
    assert.match(text, /\ntricky_ts 1 17070220\.00100+\d+\n/);
    const file = join(dir, 'backfill.om');
    writeFileSync(file, text);
    const out = join(dir, 'out');
    const r = promtoolBackfill(file, out);
    assert.is(r.status, 0, r.output);
    const blocks = readdirSync(out).filter((d) => /^[0-9A-Z]{26}$/.test(d));
    assert.ok(blocks.length >= 1, `expected block dirs in ${out}: ${readdirSync(out).join(', ')}`);
    for (const b of blocks) assert.ok(existsSync(join(out, b, 'meta.json')), `${b} has no meta.json`);
    const want = new Map<string, Points>();
    for (const s of input) want.set(key(s.labels), { ts: [...s.timestamps], vs: [...s.values] });
    assertSameData(promtoolDump(out), want, 'promtool dump');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('promtool and parseOpenMetrics read the same OpenMetrics file the same way', () => {
  if (!PROMTOOL) {
    console.log('  skipped: promtool is not on PATH');
    return;
  }
  const text = `# HELP c A counter.
# TYPE c counter
c_total{a="x\\"y",b="p\\\\q",e=""} 1. 1749729600.0009
c_total{b="p\\\\q",a="x\\"y"} +2 1749729601.1239
c_created{a="x\\"y",b="p\\\\q"} 1.7e9 1.7496e9
# TYPE h histogram
h_bucket{le="0.1"} .5 1749729600.001 # {trace="t1"} 0.05 1749729599.5
h_bucket{le="+Inf"} 1E1 1749729600.001 # {trace="t2"} 3
h_sum Inf 1749729600.001
h_count 10 1749729600.001
# TYPE g gauge
g -Inf 1749729600.999
g nan 1749729601.999
g 1e-3 1749729602
g 123456789012345678901234567890 1749729603
g infinity 1749729604
g 1e-400 1749729605
g 2e-324 1749729606
g 4.9e-324 1749729607
# EOF
`;
  const dir = tempDir();
  try {
    const file = join(dir, 'in.om');
    writeFileSync(file, text);
    const out = join(dir, 'out');
    const r = promtoolBackfill(file, out);
    assert.is(r.status, 0, r.output);
    const ref = promtoolDump(out);
    assertSameData(parse(text), ref, 'parse vs promtool');
    assert.is(ref.size, 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------------------------------
// the demo fixture

test('fixtures/demo.om is what the generator writes', () => {
  assert.ok(existsSync(FIXTURE), `${FIXTURE} is missing: run node dist/scripts/gen-demo-fixture.js`);
  const onDisk = readFileSync(FIXTURE, 'utf8');
  assert.ok(onDisk === renderDemoFixture(), 'fixtures/demo.om is stale: run node dist/scripts/gen-demo-fixture.js');
  assert.ok(onDisk.length < 800_000, `fixture has grown to ${onDisk.length} bytes`);
});

test('fixtures/demo.om: shape, and dc2 with elevated 5xx in the last 20 minutes', async () => {
  const md = new Map<string, MetricMetadata>();
  const store = await loadOpenMetricsFile(FIXTURE, { metadata: md });
  assert.equal(md.get('http_requests')?.type, 'counter');
  assert.equal(md.get('http_request_duration_seconds')?.type, 'histogram');
  const all = store.allSeries();
  const start = DEMO_END_MS - (DEMO_POINTS - 1) * DEMO_STEP_MS;
  assert.is(start, Date.UTC(2025, 5, 12, 11, 0, 0));
  for (const s of all) {
    assert.is(s.timestamps.length, DEMO_POINTS);
    assert.is(s.timestamps[0], start);
    assert.is(s.timestamps[DEMO_POINTS - 1], Date.UTC(2025, 5, 12, 12, 0, 0));
    for (let i = 1; i < s.timestamps.length; i++) assert.is(s.timestamps[i]! - s.timestamps[i - 1]!, DEMO_STEP_MS);
  }
  const reqs = all.filter((s) => getLabel(s.labels, '__name__') === 'http_requests_total');
  assert.equal([...new Set(reqs.map((s) => getLabel(s.labels, 'datacenter')))].sort(), ['dc1', 'dc2', 'dc3']);
  assert.equal([...new Set(reqs.map((s) => getLabel(s.labels, 'code')))].sort(), ['200', '500']);
  assert.equal([...new Set(reqs.map((s) => getLabel(s.labels, 'method')))].sort(), ['GET', 'POST']);
  assert.is(new Set(reqs.map((s) => getLabel(s.labels, 'instance'))).size, 6);
  for (const n of ['http_request_duration_seconds_bucket', 'http_request_duration_seconds_sum', 'http_request_duration_seconds_count']) {
    assert.ok(all.some((s) => getLabel(s.labels, '__name__') === n), n);
  }
  // Reset-aware increase over (t - 5m, t], as a stand-in for rate(): 5xx share by datacenter.
  const increase = (s: Series, t: number): number => {
    let inc = 0;
    for (let i = 1; i < s.timestamps.length; i++) {
      if (s.timestamps[i]! <= t - 300_000 || s.timestamps[i]! > t) continue;
      const d = s.values[i]! - s.values[i - 1]!;
      inc += d >= 0 ? d : s.values[i]!;
    }
    return inc;
  };
  const ratio = (dc: string, t: number): number => {
    let err = 0;
    let tot = 0;
    for (const s of reqs) {
      if (getLabel(s.labels, 'datacenter') !== dc) continue;
      const inc = increase(s, t);
      tot += inc;
      if (getLabel(s.labels, 'code').startsWith('5')) err += inc;
    }
    return err / tot;
  };
  assert.ok(ratio('dc2', DEMO_END_MS) > 0.05, `dc2 at noon: ${ratio('dc2', DEMO_END_MS)}`);
  for (const dc of ['dc1', 'dc3']) assert.ok(ratio(dc, DEMO_END_MS) < 0.01, `${dc} at noon: ${ratio(dc, DEMO_END_MS)}`);
  assert.ok(ratio('dc2', DEMO_INCIDENT_START_MS - 60_000) < 0.01, 'dc2 before the incident');
  // Histogram counts agree with the requests served.
  const count2 = all.find((s) => getLabel(s.labels, '__name__') === 'http_request_duration_seconds_count' && getLabel(s.labels, 'datacenter') === 'dc2')!;
  const served2 = reqs.filter((s) => getLabel(s.labels, 'datacenter') === 'dc2').reduce((n, s) => n + increase(s, DEMO_END_MS), 0);
  assert.is(increase(count2, DEMO_END_MS), served2);
});

test('promtool backfills fixtures/demo.om', () => {
  if (!PROMTOOL) {
    console.log('  skipped: promtool is not on PATH');
    return;
  }
  const dir = tempDir();
  try {
    const r = promtoolBackfill(FIXTURE, join(dir, 'out'));
    assert.is(r.status, 0, r.output);
    assert.ok(readdirSync(join(dir, 'out')).some((d) => /^[0-9A-Z]{26}$/.test(d)), r.output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
