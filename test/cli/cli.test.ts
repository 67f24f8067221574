/**
 * The `hmd` command as a user runs it: `node bin/hmd.js ...` in a child process, from the
 * repository root. The queries on fixtures/demo.om need the evaluator and the OpenMetrics
 * loader; the rest needs neither.
 */

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatStats, formatTable } from '../../src/cli/table.js';
import { labelsFromRecord } from '../../src/storage/labels.js';

// dist/test/cli/cli.test.js -> repository root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function hmd(...args: string[]): Run {
  const r = spawnSync(process.execPath, ['bin/hmd.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const DEMO_SLI = 'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (datacenter) (rate(http_requests_total[5m]))';

test('hmd --help lists the commands and the exit codes', () => {
  const r = hmd('--help');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /hmd query <expr>/);
  assert.match(r.stdout, /hmd promqltest/);
  assert.match(r.stdout, /Exit codes:/);
  assert.match(r.stdout, /2 {2}usage error/);
});

test('hmd --version prints the package version', () => {
  const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string };
  const r = hmd('--version');
  assert.is(r.code, 0);
  assert.is(r.stdout.trim(), pkg.version);
});

test('hmd query --help documents every flag', () => {
  const r = hmd('query', '--help');
  assert.is(r.code, 0, r.stderr);
  for (const flag of ['--data', '--time', '--start', '--end', '--step', '--output', '--lookback-delta', '--max-samples', '--timeout', '--stats']) {
    assert.ok(r.stdout.includes(flag), `missing ${flag}`);
  }
  assert.match(r.stdout, /lookbackDelta of hmd.yaml, else 5m/);
  assert.match(r.stdout, /default: 50000000/);
  assert.match(r.stdout, /query.timeout of hmd.yaml, else 2m/);
});

test('usage errors exit 2', () => {
  const cases: [string[], RegExp][] = [
    [[], /Give a command/],
    [['frobnicate'], /Unknown argument: frobnicate/],
    [['query', '--data', 'fixtures/demo.om'], /Not enough non-option arguments/],
    [['query', 'up'], /Give a source: --data FILE\|DIR\|s3:\/\/\.\.\., or --engines hmd\.yaml/],
    [['query', '--data', 'fixtures/demo.om', '--bogus=1', 'up'], /Unknown argument: bogus/],
    [['query', '--data', 'fixtures/demo.om', '--time', '1', '--step', '1m', 'up'], /either --time .* or --start, --end and --step/],
    [['query', '--data', 'fixtures/demo.om', '--start', '1', '--end', '2', 'up'], /missing --step/],
    [['query', '--data', 'fixtures/demo.om', '-o', 'xml', 'up'], /Invalid values/],
    [['query', '--data', 'fixtures/demo.om', '--max-samples', '0', 'up'], /--max-samples must be a positive integer/],
    [['query', '-d', 'a.om', '-d', 'b.om', 'up'], /--data was given more than once/],
  ];
  for (const [args, re] of cases) {
    const r = hmd(...args);
    assert.is(r.code, 2, `hmd ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.is(r.stdout, '');
  }
});

test('malformed parameters exit 2 with the API error body (json when not a TTY)', () => {
  const r = hmd('query', '--data', 'fixtures/demo.om', '--time', 'yesterday', 'up');
  assert.is(r.code, 2);
  assert.equal(JSON.parse(r.stdout), {
    status: 'error',
    errorType: 'bad_data',
    error: `invalid parameter "time": Invalid time value for 'time': cannot parse "yesterday" to a valid timestamp`,
  });
  const r2 = hmd('query', '--data', 'fixtures/demo.om', '--start', '10', '--end', '0', '--step', '1', 'up');
  assert.is(r2.code, 2);
  assert.is(JSON.parse(r2.stdout).error, 'invalid parameter "end": end timestamp must not be before start time');
  const r3 = hmd('query', '--data', 'fixtures/demo.om', '-o', 'table', '--start', '0', '--end', '10', '--step', '0', 'up');
  assert.is(r3.code, 2);
  assert.is(r3.stdout, '');
  assert.match(r3.stderr, /^hmd query: bad_data: invalid parameter "step": zero or negative query resolution step widths/);
  const r4 = hmd('query', '--data', 'fixtures/demo.om', '--lookback-delta', '5x', 'up');
  assert.is(r4.code, 2);
  assert.is(JSON.parse(r4.stdout).error, 'invalid parameter "lookback-delta": cannot parse "5x" to a valid duration');
});

test('data sources: unknown kinds exit 2, unreadable files exit 3', () => {
  const r = hmd('query', '--data', 'history/', '--time', '0', 'up');
  assert.is(r.code, 2);
  assert.match(JSON.parse(r.stdout).error, /unknown kind; expected an OpenMetrics file ending in \.om, \.txt or \.prom, a directory of Parquet blocks, or s3:\/\/bucket\/prefix/);
  const r2 = hmd('query', '--data', 'ftp://host/prefix', '--time', '0', 'up');
  assert.is(r2.code, 2);
  assert.match(JSON.parse(r2.stdout).error, /ftp:\/\/ sources are not supported/);
  const r3 = hmd('query', '--data', 'fixtures/does-not-exist.om', '--time', '0', 'up');
  assert.is(r3.code, 3);
  const body = JSON.parse(r3.stdout);
  assert.is(body.status, 'error');
  assert.is(body.errorType, 'unavailable');
  assert.match(body.error, /fixtures\/does-not-exist\.om/);
});

test('table output: vectors, matrices, scalars, stats', () => {
  const vec = formatTable(
    {
      type: 'vector',
      samples: [
        { labels: labelsFromRecord({ datacenter: 'eu-west' }), t: 0, v: 0.25 },
        { labels: labelsFromRecord({ datacenter: 'us' }), t: 0, v: 1e-9 },
      ],
    },
    Date.UTC(2025, 5, 12, 12),
  );
  assert.is(
    vec,
    'SERIES                  VALUE\n{datacenter="eu-west"}  0.25\n{datacenter="us"}       1e-09\n2 series at 2025-06-12T12:00:00Z\n',
  );
  assert.is(formatTable({ type: 'vector', samples: [] }, 0), '(empty vector at 1970-01-01T00:00:00Z)\n');
  const mat = formatTable({
    type: 'matrix',
    series: [{ labels: labelsFromRecord({ __name__: 'up', job: 'a' }), timestamps: new Float64Array([0, 60_000]), values: new Float64Array([1, NaN]) }],
  });
  assert.is(mat, 'up{job="a"}  (2 points)\n  1970-01-01T00:00:00Z  1\n  1970-01-01T00:01:00Z  NaN\n\n1 series\n');
  assert.is(formatTable({ type: 'scalar', t: 1500, v: 2 }, 1500), 'scalar 2 at 1970-01-01T00:00:01.500Z\n');
  assert.is(formatTable({ type: 'string', t: 0, v: 'x' }), 'string "x" at 1970-01-01T00:00:00Z\n');
  const stats = formatStats({
    seriesFetched: 1,
    samplesFetched: 2,
    bytesRead: 3,
    peakSamples: 4,
    totalSamples: 5,
    timings: { parseMs: 0.5, selectMs: 1, evalMs: 2 },
  });
  assert.match(stats, /samples fetched 2, bytes read 3/);
  assert.match(stats, /total 3\.500ms/);
});

// --- these need the evaluator, the OpenMetrics loader and fixtures/demo.om -----------------------

test('demo: instant query prints the Prometheus API JSON', () => {
  const r = hmd('query', '--data', 'fixtures/demo.om', '--time', '2025-06-12T12:00:00Z', DEMO_SLI);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const body = JSON.parse(r.stdout);
  assert.is(body.status, 'success');
  assert.is(body.data.resultType, 'vector');
  assert.ok(Array.isArray(body.data.result) && body.data.result.length > 0, 'some datacenters');
  for (const s of body.data.result) {
    assert.equal(Object.keys(s), ['metric', 'value']);
    assert.equal(Object.keys(s.metric), ['datacenter']);
    assert.is(s.value[0], Date.UTC(2025, 5, 12, 12) / 1000);
    assert.type(s.value[1], 'string');
    const ratio = Number(s.value[1]);
    assert.ok(ratio >= 0 && ratio <= 1, `error ratio ${s.value[1]}`);
  }
});

test('demo: range query with stats', () => {
  const r = hmd('query', '-d', 'fixtures/demo.om', '--start', '2025-06-12T11:00:00Z', '--end', '2025-06-12T12:00:00Z', '--step', '15m', '--stats', DEMO_SLI);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const body = JSON.parse(r.stdout);
  assert.is(body.data.resultType, 'matrix');
  assert.ok(body.data.result.length > 0);
  for (const s of body.data.result) {
    assert.equal(Object.keys(s), ['metric', 'values']);
    for (const [t, v] of s.values) {
      assert.type(t, 'number');
      assert.type(v, 'string');
    }
  }
  assert.ok(body.data.stats.timings.execTotalTime >= 0);
  assert.ok(body.data.stats.hmd.samplesFetched > 0);
});

test('demo: table output and a query error', () => {
  const r = hmd('query', '-d', 'fixtures/demo.om', '-o', 'table', '--time', '2025-06-12T12:00:00Z', DEMO_SLI);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^SERIES +VALUE\n\{datacenter="/);
  const bad = hmd('query', '-d', 'fixtures/demo.om', '--time', '0', 'sum(');
  assert.is(bad.code, 1);
  assert.equal(JSON.parse(bad.stdout), {
    status: 'error',
    errorType: 'bad_data',
    error: 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis',
  });
});

test.run();
