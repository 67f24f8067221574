/**
 * PromQL's date functions (year, month, day_of_month, …), in UTC, bit-exact with Prometheus on
 * linux/amd64 for every input.
 *
 * Prometheus evaluates `time.Unix(int64(v), 0).UTC()` and asks Go's time package for the field.
 * Two Go details decide the unusual inputs:
 *  - int64(v) truncates towards zero (so 1.9 → 1 and -1.5 → -1, i.e. 23:59:59 on 1969-12-31);
 *    for NaN, ±Inf and values outside the int64 range the amd64 instruction (CVTTSD2SQ) yields
 *    the "integer indefinite" -2^63, so NaN, +Inf and -Inf all get the date of second -2^63.
 *  - Go (1.23+, which Prometheus 3.5 is built with) computes calendar fields from unsigned
 *    seconds since an absolute epoch in March of year -292277022400 with Neri–Schneider
 *    arithmetic; instants before that epoch (such as second -2^63) wrap around modulo 2^64.
 * Ordinary timestamps take a plain-number path; the rest replays Go's uint64 arithmetic in BigInt.
 */

const SECONDS_PER_DAY = 86400;
/** Years between the absolute epoch (March 1, -292277022400) and year 0. */
const ABSOLUTE_YEARS = 292277022400;
/** Days from the absolute epoch to 1970-01-01; Go's unixToAbsolute is exactly this many days. */
const UNIX_TO_ABSOLUTE_DAYS = 106751991073400;
/** Days from March 1 to the end of February (Go's marchThruDecember). */
const MARCH_THRU_DECEMBER = 306;

/** Calendar fields of one instant, as Go's time.Time reports them. */
interface Fields {
  year: number;
  month: number; // 1..12
  day: number; // 1..31
  yday: number; // 1..366
  weekday: number; // 0 = Sunday
  hour: number;
  minute: number;
}

const F: Fields = { year: 0, month: 0, day: 0, yday: 0, weekday: 0, hour: 0, minute: 0 };

/**
 * Splits absolute days (days since the absolute epoch) into year/month/day/yday as Go's
 * absDays.split / date / yearYday. `century` and the products stay below 2^53 for any day count
 * reached from int64 seconds, so plain numbers are exact here.
 */
function splitDays(days: number, out: Fields): void {
  // century := (4 days + 3) / 146097; cd := (4 days + 3) % 146097 | 3
  const d = 4 * days + 3;
  const century = Math.floor(d / 146097);
  const cd = (d - century * 146097) | 3;
  // cyear := hi32(2939745 cd); ayday := lo32(2939745 cd) / 2939745 / 4
  const prod = 2939745 * cd; // < 2^39, exact
  const cyear = Math.floor(prod / 4294967296);
  const lo = prod - cyear * 4294967296;
  const ayday = Math.floor(Math.floor(lo / 2939745) / 4);
  // amonth := (2141 ayday + 197913) >> 16; mday := ((2141 ayday + 197913) & 0xffff) / 2141
  const m = 2141 * ayday + 197913;
  const amonth = m >>> 16;
  const day = 1 + Math.floor((m & 0xffff) / 2141);
  const janFeb = ayday >= MARCH_THRU_DECEMBER ? 1 : 0;
  const leap = cyear % 4 === 0 && (cyear !== 0 || century % 4 === 0) ? 1 : 0;
  out.year = century * 100 - ABSOLUTE_YEARS + cyear + janFeb;
  out.month = amonth - janFeb * 12;
  out.day = day;
  out.yday = ayday + (1 + 31 + 28) + (leap & ~janFeb) - 365 * janFeb;
  out.weekday = (days + 3) % 7; // the absolute epoch, a March 1, was a Wednesday
}

// --- the exact (BigInt) path for seconds whose absolute-second count leaves 0..2^53 ---

const U64 = 1n << 64n;
const UNIX_TO_ABSOLUTE = BigInt(UNIX_TO_ABSOLUTE_DAYS) * 86400n;

/** Absolute days and seconds-of-day of Unix second `sec` (an int64), with Go's uint64 wrap-around. */
function absOfUnixBig(sec: bigint): { days: number; secOfDay: number } {
  const abs = (((sec + UNIX_TO_ABSOLUTE) % U64) + U64) % U64;
  return { days: Number(abs / 86400n), secOfDay: Number(abs % 86400n) };
}

/** Go's int64(v) on amd64: truncation, with -2^63 for NaN, infinities and out-of-range values. */
function goInt64(v: number): bigint {
  if (v !== v || !(v >= -9223372036854775808 && v < 9223372036854775808)) return -(1n << 63n);
  return BigInt(Math.trunc(v));
}

/** Fills `F` with the UTC fields of Unix second int64(v), as Go computes them. */
function fieldsOf(v: number): void {
  const t = Math.trunc(v);
  if (t === t && Math.abs(t) < 9007199254740992) {
    // Fast path: |t| < 2^53, so floor division by 86400 can be corrected exactly.
    let days = Math.floor(t / SECONDS_PER_DAY);
    let rem = t - days * SECONDS_PER_DAY;
    if (rem < 0) {
      days--;
      rem += SECONDS_PER_DAY;
    } else if (rem >= SECONDS_PER_DAY) {
      days++;
      rem -= SECONDS_PER_DAY;
    }
    splitDays(days + UNIX_TO_ABSOLUTE_DAYS, F);
    F.hour = Math.floor(rem / 3600);
    F.minute = Math.floor((rem % 3600) / 60);
    return;
  }
  const { days, secOfDay } = absOfUnixBig(goInt64(v));
  splitDays(days, F);
  F.hour = Math.floor(secOfDay / 3600);
  F.minute = Math.floor((secOfDay % 3600) / 60);
}

/**
 * Go's dateToAbsDays(year, month, day) with its uint64 arithmetic (the year may be far outside
 * the usual range on the exact path), returned as a BigInt day count modulo 2^64.
 */
function dateToAbsDays(year: number, month: number, day: number): bigint {
  const janFeb = month < 3 ? 1 : 0;
  const amonth = month + 12 * janFeb;
  const y = BigInt.asUintN(64, BigInt(year) - BigInt(janFeb) + BigInt(ABSOLUTE_YEARS));
  const ayday = (979 * amonth - 2919) >>> 5;
  const century = y / 100n;
  const cyear = Number(y % 100n);
  const cday = Math.floor((1461 * cyear) / 4);
  const centurydays = BigInt.asUintN(64, 146097n * century) / 4n;
  return BigInt.asUintN(64, centurydays + BigInt(cday + ayday + day - 1));
}

/** days_in_month as Prometheus: 32 minus the day-of-month of "day 32" of the sample's month. */
function daysInMonth(v: number): number {
  fieldsOf(v);
  const { year, month } = F;
  if (Math.abs(year) < 1e9) {
    // Ordinary years: the Gregorian month length, which is what the Go expression yields.
    if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
    return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  }
  // time.Date(year, month, 32, 0, 0, 0, 0, UTC).Day(), replayed with Go's wrap-around: the
  // absolute seconds are days*86400 mod 2^64, and Day() splits them back into days.
  const d = dateToAbsDays(year, month, 32);
  const abs = BigInt.asUintN(64, d * 86400n);
  const probe: Fields = { year: 0, month: 0, day: 0, yday: 0, weekday: 0, hour: 0, minute: 0 };
  splitDays(Number(abs / 86400n), probe);
  return 32 - probe.day;
}

/** The date functions of PromQL, by name: seconds since the epoch → the UTC calendar field, as Prometheus. */
export const DATE_FUNCTIONS: ReadonlyMap<string, (secondsSinceEpoch: number) => number> = new Map<
  string,
  (secondsSinceEpoch: number) => number
>([
  ['days_in_month', daysInMonth],
  [
    'day_of_month',
    (v: number) => {
      fieldsOf(v);
      return F.day;
    },
  ],
  [
    'day_of_week',
    (v: number) => {
      fieldsOf(v);
      return F.weekday;
    },
  ],
  [
    'day_of_year',
    (v: number) => {
      fieldsOf(v);
      return F.yday;
    },
  ],
  [
    'hour',
    (v: number) => {
      fieldsOf(v);
      return F.hour;
    },
  ],
  [
    'minute',
    (v: number) => {
      fieldsOf(v);
      return F.minute;
    },
  ],
  [
    'month',
    (v: number) => {
      fieldsOf(v);
      return F.month;
    },
  ],
  [
    'year',
    (v: number) => {
      fieldsOf(v);
      return F.year;
    },
  ],
]);
