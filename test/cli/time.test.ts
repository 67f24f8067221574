import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PromQLError } from '../../src/promql/errors.js';
import { formatDuration, formatTime, invalidParameter, parseDuration, parseTime } from '../../src/cli/time.js';

function throwsBadData(f: () => unknown, message: string): void {
  try {
    f();
  } catch (err) {
    assert.instance(err, PromQLError);
    assert.is((err as PromQLError).errorType, 'bad_data');
    assert.is((err as PromQLError).message, message);
    return;
  }
  assert.unreachable(`expected an error: ${message}`);
}

test('parseTime: Unix seconds, rounded to the ms as Prometheus does', () => {
  assert.is(parseTime('1435781451.781'), 1435781451781);
  assert.is(parseTime('1435781451'), 1435781451000);
  assert.is(parseTime('0'), 0);
  assert.is(parseTime('-1.5'), -1500);
  assert.is(parseTime('0.0005'), 1); // halves round away from zero
  assert.is(parseTime('-0.0005'), -1);
  assert.is(parseTime('0.0004'), 0);
  assert.is(parseTime('12345.9995'), 12345999); // .9995 is .99949... in binary, as in Prometheus
  assert.is(parseTime('1e3'), 1_000_000);
  assert.is(parseTime('.5'), 500);
  assert.is(parseTime('+7'), 7000);
  assert.is(parseTime('0x1p4'), 16000);
  assert.ok(Object.is(parseTime('-0'), 0));
});

test('parseTime: RFC3339 with fraction (truncated to ms) and offsets', () => {
  assert.is(parseTime('2015-07-01T20:10:51.781Z'), 1435781451781);
  assert.is(parseTime('2015-07-01T20:10:51.7819Z'), 1435781451781);
  assert.is(parseTime('2015-07-01T20:10:51.999999999Z'), 1435781451999);
  assert.is(parseTime('2015-07-01T20:10:51.5Z'), 1435781451500);
  assert.is(parseTime('2015-07-01T20:10:51Z'), 1435781451000);
  assert.is(parseTime('2015-07-01T22:10:51+02:00'), 1435781451000);
  assert.is(parseTime('2015-07-01T19:40:51-00:30'), 1435781451000);
  assert.is(parseTime('2025-06-12T12:00:00Z'), Date.UTC(2025, 5, 12, 12));
  assert.is(parseTime('2016-02-29T00:00:00Z'), Date.UTC(2016, 1, 29));
  assert.is(parseTime('0099-01-01T00:00:00Z'), -59042995200000); // not 1999
  assert.is(parseTime('1969-12-31T23:59:59.999Z'), -1);
});

test('parseTime: errors as Prometheus words them', () => {
  for (const s of [
    'abc',
    '',
    'NaN',
    'Inf',
    '1e400',
    '2015-02-29T00:00:00Z',
    '2015-13-01T00:00:00Z',
    '2015-07-01t20:10:51Z',
    '2015-07-01T20:10:51z',
    '2015-07-01T20:10:60Z',
    '2015-07-01T24:00:00Z',
    '2015-07-01T20:10:51.Z',
    '2015-07-01T20:10:51.1234567891Z',
    '2015-07-01T20:10:51',
    '2015-07-01 20:10:51Z',
    '2015-07-01T20:10:51+0200',
    '2015-7-1T20:10:51Z',
    ' 1',
  ]) {
    throwsBadData(() => parseTime(s), `cannot parse ${JSON.stringify(s)} to a valid timestamp`);
  }
});

test('parseDuration: Prometheus notation and float seconds', () => {
  assert.is(parseDuration('5m'), 300_000);
  assert.is(parseDuration('1h30m'), 5_400_000);
  assert.is(parseDuration('1.5'), 1500);
  assert.is(parseDuration('30'), 30_000);
  assert.is(parseDuration('1e2'), 100_000);
  assert.is(parseDuration('1d'), 86_400_000);
  assert.is(parseDuration('1w2d'), 9 * 86_400_000);
  assert.is(parseDuration('1y'), 365 * 86_400_000);
  assert.is(parseDuration('10ms'), 10);
  assert.is(parseDuration('1m1ms'), 60_001);
  assert.is(parseDuration('01m'), 60_000);
  assert.is(parseDuration('1y2w3d4h5m6s7ms'), ((((365 + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7);
  assert.is(parseDuration('0'), 0);
  assert.is(parseDuration('0.0011'), 1); // truncated to the ms
  assert.is(parseDuration('2.0005'), 2000);
  assert.is(parseDuration('-1'), -1000); // the float form may be negative: callers check
  assert.is(parseDuration('0x10p0'), 16_000);
});

test('parseDuration: errors as Prometheus words them', () => {
  for (const s of ['', '5m10m', '1s1m', '-5m', '+1m', '5 m', '5M', '1.5m', 'm', 'NaN', '1e400', '10000000y']) {
    throwsBadData(() => parseDuration(s), `cannot parse ${JSON.stringify(s)} to a valid duration`);
  }
  for (const s of ['Inf', '-Inf', '1e30']) {
    throwsBadData(() => parseDuration(s), `cannot parse ${JSON.stringify(s)} to a valid duration. It overflows int64`);
  }
});

test('invalidParameter wraps as the API does', () => {
  let inner: unknown;
  try {
    parseDuration('x');
  } catch (err) {
    inner = err;
  }
  const e = invalidParameter('step', inner);
  assert.is(e.errorType, 'bad_data');
  assert.is(e.message, 'invalid parameter "step": cannot parse "x" to a valid duration');
  assert.is(invalidParameter('end', 'end timestamp must not be before start time').message, 'invalid parameter "end": end timestamp must not be before start time');
});

test('formatTime: RFC3339 UTC, ms only when present', () => {
  assert.is(formatTime(0), '1970-01-01T00:00:00Z');
  assert.is(formatTime(1435781451781), '2015-07-01T20:10:51.781Z');
  assert.is(formatTime(1435781451000), '2015-07-01T20:10:51Z');
  assert.is(formatTime(-1), '1969-12-31T23:59:59.999Z');
  assert.is(parseTime(formatTime(1749729600015)), 1749729600015);
});

test('formatDuration: as Prometheus prints durations', () => {
  assert.is(formatDuration(0), '0s');
  assert.is(formatDuration(300_000), '5m');
  assert.is(formatDuration(5_400_000), '1h30m');
  assert.is(formatDuration(1500), '1s500ms');
  assert.is(formatDuration(90 * 86_400_000), '90d'); // not 12w6d
  assert.is(formatDuration(14 * 86_400_000), '2w');
  assert.is(formatDuration(365 * 86_400_000), '1y');
  assert.is(formatDuration(-60_000), '-1m');
  for (const s of ['5m', '1h30m', '1d1h', '2w', '1y', '10ms']) assert.is(formatDuration(parseDuration(s)), s);
});

test.run();
