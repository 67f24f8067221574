/**
 * The Prometheus HTTP API JSON codec. The last suite compares the bytes with a real
 * Prometheus (the Debian `prometheus` binary, started on 127.0.0.1 by test/helpers/prometheus.ts):
 * it is skipped when the binary is missing, except under CI=true, where that is a failure.
 */

import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { ParseError, PromQLError } from '../../src/promql/errors.js';
import type { QueryResult, QueryStats, QueryValue } from '../../src/promql/result.js';
import { labelsFromRecord } from '../../src/storage/labels.js';
import {
  BadResponseError,
  decodeQueryResponse,
  encodeError,
  encodeQueryResult,
  formatFloatF,
  formatSampleValue,
  formatTimestamp,
  goJSONString,
  parseGoFloat,
  toApiError,
} from '../../src/remote/json.js';
import { invalidParameter, parseDuration, parseTime } from '../../src/cli/time.js';
import { havePrometheus, prometheusTest, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';

const ZERO_STATS: QueryStats = {
  seriesFetched: 0,
  samplesFetched: 0,
  bytesRead: 0,
  peakSamples: 0,
  totalSamples: 0,
  timings: { parseMs: 0, selectMs: 0, evalMs: 0 },
};

function result(value: QueryValue, warnings: string[] = [], infos: string[] = []): QueryResult {
  return { value, warnings, infos, stats: ZERO_STATS };
}

const L = labelsFromRecord;

// --- float formatting ------------------------------------------------------------------------

test('formatFloatF: strconv.FormatFloat(f, f, -1, 64)', () => {
  assert.is(formatFloatF(0.1), '0.1');
  assert.is(formatFloatF(1e21), '1000000000000000000000');
  assert.is(formatFloatF(1e-7), '0.0000001');
  assert.is(formatFloatF(1e-6), '0.000001');
  assert.is(formatFloatF(-0), '-0');
  assert.is(formatFloatF(0), '0');
  assert.is(formatFloatF(NaN), 'NaN');
  assert.is(formatFloatF(Infinity), '+Inf');
  assert.is(formatFloatF(-Infinity), '-Inf');
  assert.is(formatFloatF(5e-324), '0.' + '0'.repeat(323) + '5');
  assert.is(formatFloatF(123456789012345678901), '123456789012345680000');
  assert.is(formatFloatF(-2.5e-8), '-0.000000025');
  assert.is(formatFloatF(1.7976931348623157e308), '17976931348623157' + '0'.repeat(292));
  assert.is(formatFloatF(100), '100');
  assert.is(formatFloatF(1 / 3), '0.3333333333333333');
});

test('formatSampleValue: e notation below 1e-6 and from 1e21, two-digit exponent', () => {
  assert.is(formatSampleValue(0.1), '0.1');
  assert.is(formatSampleValue(1e21), '1e+21');
  assert.is(formatSampleValue(1e-7), '1e-07');
  assert.is(formatSampleValue(1e-6), '0.000001');
  assert.is(formatSampleValue(9.99999e-7), '9.99999e-07');
  assert.is(formatSampleValue(-0), '-0');
  assert.is(formatSampleValue(NaN), 'NaN');
  assert.is(formatSampleValue(Infinity), '+Inf');
  assert.is(formatSampleValue(-Infinity), '-Inf');
  assert.is(formatSampleValue(5e-324), '5e-324');
  assert.is(formatSampleValue(1.5e300), '1.5e+300');
  assert.is(formatSampleValue(-2.5e-10), '-2.5e-10');
  assert.is(formatSampleValue(1e20), '100000000000000000000');
  assert.is(formatSampleValue(123456789012345678901), '123456789012345680000');
});

test('formatTimestamp: seconds with the milliseconds written out', () => {
  assert.is(formatTimestamp(1435781451781), '1435781451.781');
  assert.is(formatTimestamp(1500), '1.500');
  assert.is(formatTimestamp(10), '0.010');
  assert.is(formatTimestamp(1), '0.001');
  assert.is(formatTimestamp(100000), '100');
  assert.is(formatTimestamp(0), '0');
  assert.is(formatTimestamp(-1500), '-1.500');
});

test('parseGoFloat: Go ParseFloat syntax', () => {
  assert.is(parseGoFloat('1.5'), 1.5);
  assert.is(parseGoFloat('.5'), 0.5);
  assert.is(parseGoFloat('5.'), 5);
  assert.is(parseGoFloat('+1e3'), 1000);
  assert.is(parseGoFloat('0x1p4'), 16);
  assert.is(parseGoFloat('0x1.8p1'), 3);
  assert.is(parseGoFloat('-0x.8p1'), -1);
  assert.is(parseGoFloat('+Inf'), Infinity);
  assert.is(parseGoFloat('-inf'), -Infinity);
  assert.is(parseGoFloat('Infinity'), Infinity);
  assert.ok(Number.isNaN(parseGoFloat('NaN')));
  assert.ok(Object.is(parseGoFloat('-0'), -0));
  for (const bad of ['', ' 1', '1 ', '0x10', '1_000', 'abc', '1e400', '+NaN', '1e', '.', '--1']) {
    assert.is(parseGoFloat(bad), undefined, bad);
  }
});

test('goJSONString escapes as Go encoding/json', () => {
  assert.is(goJSONString('plain é'), '"plain é"');
  assert.is(goJSONString('<&>'), '"\\u003c\\u0026\\u003e"');
  assert.is(goJSONString('a\u2028b\u2029'), '"a\\u2028b\\u2029"');
  assert.is(goJSONString('\b\f\n\t"\\\u0001'), '"\\u0008\\u000c\\n\\t\\"\\\\\\u0001"');
  // An invalid UTF-8 byte (kept as a lone surrogate) is written as U+FFFD, as Go does.
  assert.is(goJSONString('a\udcffb'), '"a\ufffdb"');
});

// --- encoding --------------------------------------------------------------------------------

test('encode vector', () => {
  const v: QueryValue = {
    type: 'vector',
    samples: [
      { labels: L({ __name__: 'up', job: 'api', A: 'x' }), t: 1435781451781, v: 1 },
      { labels: L({ job: '<b>' }), t: 1435781451781, v: 1e-7 },
    ],
  };
  assert.is(
    encodeQueryResult(result(v)),
    '{"status":"success","data":{"resultType":"vector","result":[' +
      '{"metric":{"A":"x","__name__":"up","job":"api"},"value":[1435781451.781,"1"]},' +
      '{"metric":{"job":"\\u003cb\\u003e"},"value":[1435781451.781,"1e-07"]}]}}',
  );
  assert.is(encodeQueryResult(result({ type: 'vector', samples: [] })), '{"status":"success","data":{"resultType":"vector","result":[]}}');
});

test('encode matrix', () => {
  const v: QueryValue = {
    type: 'matrix',
    series: [
      { labels: L({ a: '1' }), timestamps: new Float64Array([0, 1500, 3000]), values: new Float64Array([NaN, -0, Infinity]) },
      { labels: [], timestamps: new Float64Array([]), values: new Float64Array([]) },
    ],
  };
  assert.is(
    encodeQueryResult(result(v)),
    '{"status":"success","data":{"resultType":"matrix","result":[' +
      '{"metric":{"a":"1"},"values":[[0,"NaN"],[1.500,"-0"],[3,"+Inf"]]},{"metric":{},"values":[]}]}}',
  );
});

test('encode scalar and string: plain number timestamps, f formatting', () => {
  assert.is(
    encodeQueryResult(result({ type: 'scalar', t: 1500, v: 1e-7 })),
    '{"status":"success","data":{"resultType":"scalar","result":[1.5,"0.0000001"]}}',
  );
  assert.is(
    encodeQueryResult(result({ type: 'scalar', t: 1435781451781, v: 1e21 })),
    '{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"1000000000000000000000"]}}',
  );
  assert.is(
    encodeQueryResult(result({ type: 'string', t: 1000, v: 'a "<b>"' })),
    '{"status":"success","data":{"resultType":"string","result":[1,"a \\"\\u003cb\\u003e\\""]}}',
  );
});

test('encode warnings, infos and stats', () => {
  const r: QueryResult = {
    value: { type: 'scalar', t: 0, v: 1 },
    warnings: ['w1'],
    infos: ['i1', 'i2'],
    stats: {
      seriesFetched: 2,
      samplesFetched: 30,
      bytesRead: 400,
      peakSamples: 5,
      totalSamples: 60,
      timings: { parseMs: 1, selectMs: 2, evalMs: 0.0005 },
    },
  };
  const body = encodeQueryResult(r, { stats: true });
  assert.is(
    body,
    '{"status":"success","data":{"resultType":"scalar","result":[0,"1"],"stats":{' +
      '"timings":{"evalTotalTime":0.0020005,"resultSortTime":0,"queryPreparationTime":0.002,"innerEvalTime":5e-07,' +
      '"execQueueTime":0,"execTotalTime":0.0030005},"samples":{"totalQueryableSamples":60,"peakSamples":5},' +
      '"hmd":{"seriesFetched":2,"samplesFetched":30,"bytesRead":400,"parseTime":0.001}}},' +
      '"warnings":["w1"],"infos":["i1","i2"]}',
  );
  JSON.parse(body);
  assert.not.match(encodeQueryResult(r), /stats/);
});

test('encodeError: errorType and message, parse errors as invalid parameter "query"', () => {
  assert.is(
    encodeError(new PromQLError('execution', 'query processing would load too many samples into memory in query execution')),
    '{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}',
  );
  const pe = new ParseError('unclosed left parenthesis', 4, 4, 'sum(');
  assert.is(
    encodeError(pe),
    '{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": 1:5: parse error: unclosed left parenthesis"}',
  );
  assert.equal(toApiError(new Error('boom')), { errorType: 'internal', error: 'boom' });
  assert.is(encodeError(new PromQLError('timeout', 'x'), { warnings: ['w'] }), '{"status":"error","errorType":"timeout","error":"x","warnings":["w"]}');
});

// --- decoding --------------------------------------------------------------------------------

function roundTrip(v: QueryValue): QueryValue {
  const body = encodeQueryResult(result(v, ['w'], ['i']));
  const d = decodeQueryResponse(body);
  assert.equal(d.warnings, ['w']);
  assert.equal(d.infos, ['i']);
  assert.is(encodeQueryResult(result(d.value, ['w'], ['i'])), body, 'decode then encode gives the same bytes');
  return d.value;
}

test('decode round trips every result type', () => {
  const vec = roundTrip({
    type: 'vector',
    samples: [{ labels: L({ __name__: 'x', a: '<&>' }), t: 1435781451781, v: 5e-324 }],
  });
  assert.is(vec.type, 'vector');
  if (vec.type === 'vector') {
    assert.equal(vec.samples[0]!.labels, L({ __name__: 'x', a: '<&>' }));
    assert.is(vec.samples[0]!.t, 1435781451781);
    assert.is(vec.samples[0]!.v, 5e-324);
  }
  const mat = roundTrip({
    type: 'matrix',
    series: [{ labels: L({ a: 'b' }), timestamps: new Float64Array([-1500, 1, 1e12]), values: new Float64Array([NaN, -0, -Infinity]) }],
  });
  assert.is(mat.type, 'matrix');
  if (mat.type === 'matrix') {
    const s = mat.series[0]!;
    assert.ok(s.timestamps instanceof Float64Array && s.values instanceof Float64Array);
    assert.equal(Array.from(s.timestamps), [-1500, 1, 1e12]);
    assert.ok(Number.isNaN(s.values[0]) && Object.is(s.values[1], -0) && s.values[2] === -Infinity);
  }
  assert.equal(roundTrip({ type: 'scalar', t: 1435781451781, v: 0.1 }), { type: 'scalar', t: 1435781451781, v: 0.1 });
  assert.equal(roundTrip({ type: 'string', t: 1500, v: 'hi "there"' }), { type: 'string', t: 1500, v: 'hi "there"' });
  // A parsed object works as well as text; stats are handed back as sent.
  const d = decodeQueryResponse({ status: 'success', data: { resultType: 'scalar', result: [1, 'Inf'], stats: { samples: {} } } });
  assert.equal(d.value, { type: 'scalar', t: 1000, v: Infinity });
  assert.equal(d.stats, { samples: {} });
});

test('decode: an error body throws PromQLError with its errorType', () => {
  try {
    decodeQueryResponse('{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": 1:5: parse error: x"}');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, PromQLError);
    assert.not.instance(err, BadResponseError);
    assert.is((err as PromQLError).errorType, 'bad_data');
    assert.is((err as PromQLError).message, 'invalid parameter "query": 1:5: parse error: x');
  }
  try {
    decodeQueryResponse({ status: 'error', errorType: 'bad_response', error: 'nope' });
    assert.unreachable();
  } catch (err) {
    assert.is((err as PromQLError).errorType, 'internal');
    assert.is((err as PromQLError).message, 'bad_response: nope');
  }
});

test('decode: malformed bodies give BadResponseError naming the place', () => {
  const cases: [unknown, RegExp][] = [
    ['{"status":', /^bad response: body is not JSON/],
    ['[]', /^bad response: body: expected an object, got \[\]/],
    [{}, /^bad response: status: expected "success" or "error", got nothing/],
    [{ status: 'success' }, /^bad response: data: expected an object/],
    [{ status: 'success', data: { resultType: 'table', result: [] } }, /^bad response: data\.resultType: expected "vector"/],
    [{ status: 'success', data: { resultType: 'vector', result: {} } }, /^bad response: data\.result: expected an array/],
    [{ status: 'success', data: { resultType: 'vector', result: [{ metric: {} }] } }, /data\.result\[0\]\.value: expected an array/],
    [{ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, 2] }] } }, /data\.result\[0\]\.value\[1\]: expected a string holding a float, got 2/],
    [{ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, 'abc'] }] } }, /value\[1\]: expected a string holding a float, got "abc"/],
    [{ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: ['1', '1'] }] } }, /value\[0\]: expected a timestamp in seconds, got "1"/],
    [{ status: 'success', data: { resultType: 'vector', result: [{ metric: { a: 1 }, value: [1, '1'] }] } }, /data\.result\[0\]\.metric\.a: expected a string, got 1/],
    [{ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, histogram: [1, {}] }] } }, /data\.result\[0\]: native histograms are not supported/],
    [{ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[1, '1', 3]] }] } }, /data\.result\[0\]\.values\[0\]: expected \[timestamp, "value"\]/],
    [{ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, histograms: [] }] } }, /native histograms are not supported/],
    [{ status: 'success', data: { resultType: 'scalar', result: [1] } }, /data\.result: expected \[timestamp, "value"\]/],
    [{ status: 'success', data: { resultType: 'string', result: [1, 2] } }, /data\.result\[1\]: expected a string, got 2/],
    [{ status: 'success', data: { resultType: 'scalar', result: [1, '1'] }, warnings: 'w' }, /warnings: expected an array/],
    [{ status: 'error', error: 'x' }, /errorType: expected a string, got nothing/],
  ];
  for (const [body, re] of cases) {
    try {
      decodeQueryResponse(body);
      assert.unreachable(`accepted ${JSON.stringify(body)}`);
    } catch (err) {
      if (!(err instanceof BadResponseError)) throw err;
      assert.is(err.errorType, 'internal');
      assert.match(err.message, re);
    }
  }
});

test.run();

// --- against a real Prometheus ---------------------------------------------------------------

const real = suite('json: byte-equal with Prometheus');
const server: { prom?: PrometheusServer } = {};

real.before(async () => {
  if (havePrometheus()) server.prom = await startPrometheus();
});

real.after(async () => {
  await server.prom?.stop();
});

async function api(path: string, params: Record<string, string>): Promise<string> {
  const res = await fetch(`${server.prom!.url}${path}?${new URLSearchParams(params)}`);
  return res.text();
}

const realTest = (name: string, fn: () => Promise<void>) => prometheusTest(real, name, fn);

const VALUES = ['0.1', '1e21', '1e-7', '-0', 'NaN', '+Inf', '-Inf', '5e-324', '1e-6', '9.99999e-7', '123456789012345678901', '1.7976931348623157e308', '-2.5e-10', '1/3'];

realTest('scalars and vectors, every float edge case', async () => {
  for (const lit of VALUES) {
    const v = lit === '1/3' ? 1 / 3 : parseGoFloat(lit)!;
    const t = parseTime('1435781451.781');
    assert.is(encodeQueryResult(result({ type: 'scalar', t, v })), await api('/api/v1/query', { query: lit, time: '1435781451.781' }), `scalar ${lit}`);
    assert.is(
      encodeQueryResult(result({ type: 'vector', samples: [{ labels: [], t, v }] })),
      await api('/api/v1/query', { query: `vector(${lit})`, time: '1435781451.781' }),
      `vector ${lit}`,
    );
  }
});

realTest('label escaping and order, strings', async () => {
  const q = 'label_replace(label_replace(vector(1), "b", "<&>\\u2028é\\"x\\b", "", ""), "A", "z", "", "")';
  const labels = L({ b: '<&>\u2028é"x\b', A: 'z' });
  assert.is(encodeQueryResult(result({ type: 'vector', samples: [{ labels, t: 1500, v: 1 }] })), await api('/api/v1/query', { query: q, time: '1.5' }));
  assert.is(encodeQueryResult(result({ type: 'string', t: 1500, v: '<&>' })), await api('/api/v1/query', { query: '"<&>"', time: '1.5' }));
});

realTest('matrix timestamps and decode of the real body', async () => {
  const body = await api('/api/v1/query_range', { query: 'vector(1e-7)', start: '0', end: '10', step: '1.5' });
  const ts = [0, 1500, 3000, 4500, 6000, 7500, 9000];
  const v: QueryValue = { type: 'matrix', series: [{ labels: [], timestamps: new Float64Array(ts), values: new Float64Array(ts.length).fill(1e-7) }] };
  assert.is(encodeQueryResult(result(v)), body);
  assert.equal(decodeQueryResponse(body).value, v);
});

realTest('time and duration parameters parse to the same milliseconds', async () => {
  const times = ['1435781451.781', '-1.5', '0.0005', '-0.0005', '1.57', '12345.9995', '0x1p4', '1e3', '.5', '+7', '2015-07-01T20:10:51.7819Z', '2015-07-01T20:10:51+02:00', '2016-02-29T23:59:59.999999999-00:30'];
  for (const s of times) {
    const body = await api('/api/v1/query', { query: 'vector(1)', time: s });
    assert.is(encodeQueryResult(result({ type: 'vector', samples: [{ labels: [], t: parseTime(s), v: 1 }] })), body, s);
  }
  for (const s of ['abc', '2015-02-29T00:00:00Z', '2015-07-01t20:10:51Z', '2015-07-01T20:10:60Z', '1e400']) {
    const body = await api('/api/v1/query', { query: 'vector(1)', time: s });
    let err: unknown;
    try {
      parseTime(s);
    } catch (e) {
      err = invalidParameter('time', `Invalid time value for 'time': ${(e as Error).message}`);
    }
    assert.is(encodeError(err), body, s);
  }
  for (const s of ['1h30m', '1.5', '1w2d', '10ms', '01m', '2.0005']) {
    const step = parseDuration(s);
    const end = String((step * 2) / 1000);
    const body = await api('/api/v1/query_range', { query: '1', start: '0', end, step: s });
    const v: QueryValue = { type: 'matrix', series: [{ labels: [], timestamps: new Float64Array([0, step, 2 * step]), values: new Float64Array([1, 1, 1]) }] };
    assert.is(encodeQueryResult(result(v)), body, s);
  }
  for (const s of ['5m10m', '-5m', '1s1m', 'Inf', '1e30', '5 m', '']) {
    const body = await api('/api/v1/query_range', { query: '1', start: '0', end: '1', step: s });
    let err: unknown;
    try {
      parseDuration(s);
    } catch (e) {
      err = invalidParameter('step', e);
    }
    assert.is(encodeError(err), body, JSON.stringify(s));
  }
});

real.run();
