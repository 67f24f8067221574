/**
 * Times and durations as Prometheus's HTTP API reads them (`parseTime`, `parseDuration` in
 * web/api/v1), with the same error messages, plus the formatting hmd prints for people.
 * All times here are integer milliseconds since the epoch.
 */

import { PromQLError } from '../promql/errors.js';
import { parseFloat } from '../util/gofloat.js';
import { DURATION_UNIT_MS, parseModelDuration } from '../util/duration.js';

/** Go's RFC3339Nano: `2006-01-02T15:04:05.999999999Z07:00` (1 to 9 fraction digits). */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses a time as Unix seconds (any Go float, rounded to the millisecond, halves away from
 * zero) or RFC3339 with an optional fraction (truncated to the millisecond). Returns ms.
 * Throws `PromQLError('bad_data', 'cannot parse "x" to a valid timestamp')`.
 */
export function parseTime(s: string): number {
  const f = parseFloat(s);
  if (f !== undefined && Number.isFinite(f)) {
    // Exactly Prometheus's arithmetic: math.Modf, round the fraction to ms, int64(ns), then
    // timestamp.FromTime (floor to the ms). Float steps included, so .57 gives what it gives.
    const whole = Math.trunc(f);
    const ns = Math.trunc((roundHalfAwayFromZero((f - whole) * 1000) / 1000) * 1e9);
    return whole * 1000 + Math.floor(ns / 1e6) || 0;
  }
  const ms = parseRFC3339(s);
  if (ms !== undefined) return ms;
  throw new PromQLError('bad_data', `cannot parse ${JSON.stringify(s)} to a valid timestamp`);
}

function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function parseRFC3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [year, month, day, hour, min, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || min > 59 || sec > 59) return undefined;
  let offsetMin = 0;
  if (m[8] !== undefined) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[8] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // Date.UTC would map years 0-99 to 1900-1999
  d.setUTCHours(hour, min, sec, 0);
  const fracMs = m[7] === undefined ? 0 : Number((m[7] + '00').slice(0, 3));
  return d.getTime() + fracMs - offsetMin * 60_000;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

const UNIT_MS = DURATION_UNIT_MS;

/**
 * Parses a duration as seconds (any Go float: `1.5`, `30`) or in Prometheus's notation
 * (`1h30m`, `5m`, `1d`, `2w`, `1y`, `100ms`; units in that order, each at most once).
 * Returns ms, truncated toward zero; a float may be negative (callers check the sign).
 * Throws `PromQLError('bad_data', 'cannot parse "x" to a valid duration')`.
 */
export function parseDuration(s: string): number {
  const f = parseFloat(s);
  if (f !== undefined && f === f) {
    const ns = f * 1e9;
    if (ns > 2 ** 63 || ns < -(2 ** 63)) {
      throw new PromQLError('bad_data', `cannot parse ${JSON.stringify(s)} to a valid duration. It overflows int64`);
    }
    return Math.trunc(Math.trunc(ns) / 1e6) || 0;
  }
  const ms = parseModelDuration(s);
  if (ms !== undefined) return ms;
  throw new PromQLError('bad_data', `cannot parse ${JSON.stringify(s)} to a valid duration`);
}

/**
 * The error Prometheus's API gives for a bad request parameter:
 * `invalid parameter "step": cannot parse "x" to a valid duration`.
 */
export function invalidParameter(name: string, err: unknown): PromQLError {
  const message = err instanceof Error ? err.message : String(err);
  return new PromQLError('bad_data', `invalid parameter ${JSON.stringify(name)}: ${message}`);
}

/** RFC3339 in UTC, with milliseconds only when there are some: `2025-06-12T12:00:00Z`. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  const iso = d.toISOString();
  return iso.endsWith('.000Z') ? iso.slice(0, -5) + 'Z' : iso;
}

/**
 * A duration as Prometheus prints one (`model.Duration.String`): `1h30m`, `5m`, `1d`, `0s`;
 * years and weeks only when they divide it exactly (`90d`, not `12w6d`).
 */
export function formatDuration(ms: number): string {
  if (ms < 0) return '-' + formatDuration(-ms);
  let rest = Math.trunc(ms);
  if (rest === 0) return '0s';
  let out = '';
  const units: [string, number, boolean][] = [
    ['y', UNIT_MS[0]!, true],
    ['w', UNIT_MS[1]!, true],
    ['d', UNIT_MS[2]!, false],
    ['h', UNIT_MS[3]!, false],
    ['m', UNIT_MS[4]!, false],
    ['s', UNIT_MS[5]!, false],
    ['ms', 1, false],
  ];
  for (const [unit, mult, exact] of units) {
    if (exact && rest % mult !== 0) continue;
    const v = Math.floor(rest / mult);
    if (v > 0) {
      out += v + unit;
      rest -= v * mult;
    }
  }
  return out;
}
