/**
 * The range-vector functions of PromQL (rate … ts_of_first_over_time) over float samples, as
 * Prometheus 3.5's promql/functions.go computes them, operation for operation.
 *
 * Each kernel reads samples [w.lo, w.hi) of one series' typed arrays and returns the output
 * value, or undefined where Prometheus emits no sample. Nothing is allocated per sample.
 *
 * Argument conventions (`args`, in call order without the range vector):
 *  - quantile_over_time(q, v[r]):              args = [q]
 *  - double_exponential_smoothing(v[r], sf, tf): args = [sf, tf]
 *  - predict_linear(v[r], t):                  args = [t (seconds ahead), interceptTimeMs]
 *    where interceptTimeMs is the evaluation timestamp of the step (Prometheus's enh.Ts), in
 *    ms. It is not the window end: with `offset` or `@` the regression is still anchored at the
 *    step's own time, so predict_linear(x[5m] @ 3000, 3600) evaluated at 600s predicts for
 *    4200s. The evaluator appends it; if it is missing, w.end is used.
 *  - all others: no arguments.
 *
 * Left to the evaluator: annotations (the counter-name info for rate/increase, invalid
 * quantile warnings, mixed float/histogram warnings), native histograms, and whether
 * first_over_time/last_over_time keep the metric name.
 */
import { PromQLError } from '../errors.js';
import { formatF } from '../../util/gofloat.js';
import { kahanComp, kahanSum } from './kahan.js';
import { medianAbsoluteDeviation, quantile } from './quantile.js';
import type { RangeFunction, ResetIndex, Window } from './window.js';

/** Go's time.Duration.Seconds() for a duration of `ms` milliseconds: whole seconds plus nanoseconds / 1e9. */
export function durationSeconds(ms: number): number {
  const sec = Math.trunc(ms / 1000);
  const nsec = (ms - sec * 1000) * 1e6;
  return sec + nsec / 1e9;
}

/**
 * rate, increase and delta (Prometheus's extrapolatedRate): the change over the window, with
 * counter resets added back for counters, extrapolated to the window edges when the first/last
 * sample is within 1.1 average intervals of them (else by half an interval), never extrapolating
 * a counter below zero; per second when `isRate`.
 */
function extrapolatedRate(w: Window, isCounter: boolean, isRate: boolean, out: Float64Array, i: number): boolean {
  const { ts, vs, lo, hi } = w;
  if (hi - lo < 2) return false;
  const result = vs[hi - 1]! - vs[lo]! + (isCounter ? scannedResets(vs, lo, hi) : 0);
  out[i] = extrapolate(ts[lo]!, ts[hi - 1]!, vs[lo]!, result, hi - lo, w.start, w.end, isCounter, isRate, durationSeconds(w.range));
  return true;
}

/**
 * rate, increase or delta of one series at every window end of a range query (windows
 * (end - range, end]), written to `values`/`present`; the same arithmetic as the per-window
 * kernel, in one loop per series: the windows only slide forward, so their bounds and the
 * resets inside them are found by moving cursors, not per step. Returns the samples read.
 */
export function extrapolatedRateSeries(
  ts: Float64Array,
  vs: Float64Array,
  resets: ResetIndex | undefined,
  ends: Float64Array,
  range: number,
  isCounter: boolean,
  isRate: boolean,
  values: Float64Array,
  present: Uint8Array,
): number {
  const len = ts.length;
  // The range in seconds, once per series rather than per window.
  const seconds = durationSeconds(range);
  const r = isCounter ? (resets ?? (ends.length > 2 ? indexResets(vs) : undefined)) : undefined;
  const at = r?.at;
  const base = r?.base ?? 0;
  let lo = 0;
  let hi = 0;
  let k = 0;
  let processed = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    const start = end - range;
    while (hi < len && ts[hi]! <= end) hi++;
    while (lo < hi && ts[lo]! <= start) lo++;
    if (hi <= lo) continue;
    processed += hi - lo;
    if (hi - lo < 2) continue;
    let result = vs[hi - 1]! - vs[lo]!;
    if (isCounter) {
      if (at === undefined) result += scannedResets(vs, lo, hi);
      else if (at.length > 0) {
        // Ends ascend, so the first drop inside the window only moves forward.
        while (k < at.length && at[k]! < base + lo + 1) k++;
        result += indexedResets(vs, r!, k, hi);
      }
    }
    values[i] = extrapolate(ts[lo]!, ts[hi - 1]!, vs[lo]!, result, hi - lo, start, end, isCounter, isRate, seconds);
    present[i] = 1;
  }
  return processed;
}

/** The values lost at the drops of vs[lo..hi) (a drop is a reset: the counter restarted from 0). */
function scannedResets(vs: Float64Array, lo: number, hi: number): number {
  let add = 0;
  let prev = vs[lo]!;
  for (let i = lo + 1; i < hi; i++) {
    const cur = vs[i]!;
    if (cur < prev) add += prev;
    prev = cur;
  }
  return add;
}

/**
 * The values lost at the indexed drops from at[k] up to window index hi - 1, added one by one in
 * Prometheus's order (so that sums stay bit-identical to its scan).
 */
function indexedResets(vs: Float64Array, r: ResetIndex, k: number, hi: number): number {
  const { at, base } = r;
  let add = 0;
  for (const last = base + hi - 1; k < at.length && at[k]! <= last; k++) add += vs[at[k]! - base - 1]!;
  return add;
}

/**
 * The extrapolation of Prometheus's extrapolatedRate: `result` (the change over n samples from
 * firstT to lastT, resets added back) extended to the window (start, end] when the first/last
 * sample is within 1.1 average intervals of its edge (else by half an interval), never below a
 * counter's zero; per second of the range (`rangeSeconds`, as Go's Duration.Seconds()) when `isRate`.
 */
function extrapolate(firstT: number, lastT: number, first: number, result: number, n: number, start: number, end: number, isCounter: boolean, isRate: boolean, rangeSeconds: number): number {
  let durationToStart = (firstT - start) / 1000;
  let durationToEnd = (end - lastT) / 1000;
  const sampledInterval = (lastT - firstT) / 1000;
  const averageDurationBetweenSamples = sampledInterval / (n - 1);
  const extrapolationThreshold = averageDurationBetweenSamples * 1.1;
  if (durationToStart >= extrapolationThreshold) durationToStart = averageDurationBetweenSamples / 2;
  if (isCounter) {
    // Where the counter would have been zero, if that is closer than the chosen start.
    let durationToZero = durationToStart;
    if (result > 0 && first >= 0) durationToZero = sampledInterval * (first / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  if (durationToEnd >= extrapolationThreshold) durationToEnd = averageDurationBetweenSamples / 2;
  let factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval;
  if (isRate) factor /= rangeSeconds;
  return result * factor;
}

/** The index of a series without drops: most counters, most of the time. */
export const NO_RESETS: ResetIndex = { at: new Int32Array(0), base: 0 };

/** The drops of a series' values, indexed: the indexes j where vs[j] < vs[j-1], ascending. */
export function indexResets(vs: Float64Array): ResetIndex {
  const at = dropsIn(vs, 0, vs.length);
  return at.length > 0 ? { at, base: 0 } : NO_RESETS;
}

/** The indexes j with lo < j < hi where vs[j] < vs[j-1], ascending. */
export function dropsIn(vs: Float64Array, lo: number, hi: number): Int32Array {
  // Drops are few, so they are gathered in a plain array first.
  let drops: number[] | undefined;
  for (let j = lo + 1; j < hi; j++) if (vs[j]! < vs[j - 1]!) (drops ??= []).push(j);
  return drops ? Int32Array.from(drops) : NO_DROPS;
}

const NO_DROPS = new Int32Array(0);

/** irate and idelta (Prometheus's instantValue): the last two samples only; a drop counts as a reset for irate. */
function instantValue(w: Window, isRate: boolean): number | undefined {
  const { ts, vs, hi } = w;
  if (hi - w.lo < 2) return undefined;
  const t0 = ts[hi - 2]!;
  const t1 = ts[hi - 1]!;
  const sampledInterval = t1 - t0;
  if (sampledInterval === 0) return undefined;
  const v0 = vs[hi - 2]!;
  const v1 = vs[hi - 1]!;
  // On a counter reset the result is the new value itself; NaN compares false and subtracts.
  let r = v1;
  if (!isRate || !(v1 < v0)) r = v1 - v0;
  if (isRate) r /= sampledInterval / 1000;
  return r;
}

let regSlope = 0;
let regIntercept = 0;

/**
 * Least-squares fit of the window's samples against time in seconds relative to
 * `interceptTime` (ms), with compensated sums as Prometheus's linearRegression; sets regSlope
 * and regIntercept (the fitted value at interceptTime). A constant series gives slope 0, or NaN
 * for a constant infinity.
 */
function linearRegression(w: Window, interceptTime: number): void {
  const { ts, vs, lo, hi } = w;
  let n = 0;
  let sumX = 0;
  let cX = 0;
  let sumY = 0;
  let cY = 0;
  let sumXY = 0;
  let cXY = 0;
  let sumX2 = 0;
  let cX2 = 0;
  const initY = vs[lo]!;
  let constY = true;
  for (let i = lo; i < hi; i++) {
    const y = vs[i]!;
    if (constY && i > lo && y !== initY) constY = false;
    n += 1.0;
    const x = (ts[i]! - interceptTime) / 1e3;
    let t = sumX + x;
    cX = kahanComp(x, sumX, t, cX);
    sumX = t;
    t = sumY + y;
    cY = kahanComp(y, sumY, t, cY);
    sumY = t;
    const xy = x * y;
    t = sumXY + xy;
    cXY = kahanComp(xy, sumXY, t, cXY);
    sumXY = t;
    const x2 = x * x;
    t = sumX2 + x2;
    cX2 = kahanComp(x2, sumX2, t, cX2);
    sumX2 = t;
  }
  if (constY) {
    if (initY === Infinity || initY === -Infinity) {
      regSlope = NaN;
      regIntercept = NaN;
    } else {
      regSlope = 0;
      regIntercept = initY;
    }
    return;
  }
  sumX += cX;
  sumY += cY;
  sumXY += cXY;
  sumX2 += cX2;
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  regSlope = covXY / varX;
  regIntercept = sumY / n - (regSlope * sumX) / n;
}

/** deriv: the regression slope per second; anchored at the first sample for precision, as Prometheus. */
function deriv(w: Window): number | undefined {
  if (w.hi - w.lo < 2) return undefined;
  linearRegression(w, w.ts[w.lo]!);
  return regSlope;
}

/** predict_linear: the regression value `args[0]` seconds after the intercept time `args[1]` (ms). */
function predictLinear(w: Window, args: readonly number[]): number | undefined {
  if (w.hi - w.lo < 2) return undefined;
  const duration = args[0]!;
  const interceptTime = args.length > 1 ? args[1]! : w.end;
  linearRegression(w, interceptTime);
  return regSlope * duration + regIntercept;
}

/** resets: how many times a sample is lower than the one before it. */
function resets(w: Window): number | undefined {
  const { vs, lo, hi } = w;
  if (hi <= lo) return undefined;
  let r = 0;
  for (let i = lo + 1; i < hi; i++) if (vs[i]! < vs[i - 1]!) r++;
  return r;
}

/** changes: how many times a sample differs from the one before it (NaN after NaN is no change). */
function changes(w: Window): number | undefined {
  const { vs, lo, hi } = w;
  if (hi <= lo) return undefined;
  let c = 0;
  for (let i = lo + 1; i < hi; i++) {
    const cur = vs[i]!;
    const prev = vs[i - 1]!;
    if (cur !== prev && !(cur !== cur && prev !== prev)) c++;
  }
  return c;
}

/**
 * avg_over_time as Prometheus 3.5: a compensated direct sum divided by the count, which is the
 * more accurate method, until the running sum would overflow; from there on an incremental
 * (compensated) mean, which cannot overflow.
 */
function avgOverTime(w: Window): number | undefined {
  const { vs, lo, hi } = w;
  if (hi <= lo) return undefined;
  let sum = vs[lo]!;
  let count = 1;
  let mean = 0;
  let kahanC = 0;
  let incrementalMean = false;
  for (let i = lo + 1; i < hi; i++) {
    const f = vs[i]!;
    count = i - lo + 1;
    if (!incrementalMean) {
      const newSum = sum + f;
      const newC = kahanComp(f, sum, newSum, kahanC);
      if (newSum !== Infinity && newSum !== -Infinity) {
        sum = newSum;
        kahanC = newC;
        continue;
      }
      // The sum overflowed: continue from the mean so far.
      incrementalMean = true;
      mean = sum / (count - 1);
      kahanC /= count - 1;
    }
    const q = (count - 1) / count;
    const inc = f / count;
    const base = q * mean;
    const t = base + inc;
    kahanC = kahanComp(inc, base, t, q * kahanC);
    mean = t;
  }
  if (incrementalMean) return mean + kahanC;
  return sum / count + kahanC / count;
}

/** sum_over_time: the compensated sum (an infinite sum is returned without its compensation). */
function sumOverTime(w: Window): number | undefined {
  return w.hi > w.lo ? kahanSum(w.vs, w.lo, w.hi) : undefined;
}

/**
 * min_over_time / max_over_time and their ts_of_ variants (Prometheus's compareOverTime): a
 * running extreme that any sample replaces while it is NaN, so NaN results only when all samples
 * are NaN. `orEqual` makes later equal values win (for the timestamp variants).
 */
function extremeOverTime(w: Window, max: boolean, orEqual: boolean, timestamp: boolean): number | undefined {
  const { ts, vs, lo, hi } = w;
  if (hi <= lo) return undefined;
  let best = vs[lo]!;
  let bestT = ts[lo]!;
  for (let i = lo; i < hi; i++) {
    const cur = vs[i]!;
    let better: boolean;
    if (max) better = orEqual ? cur >= best : cur > best;
    else better = orEqual ? cur <= best : cur < best;
    if (better || best !== best) {
      best = cur;
      bestT = ts[i]!;
    }
  }
  return timestamp ? bestT / 1000 : best;
}

/** stddev_over_time / stdvar_over_time: Welford's online variance with compensated sums, as Prometheus. */
function varianceOverTime(w: Window, sqrt: boolean): number | undefined {
  const { vs, lo, hi } = w;
  if (hi <= lo) return undefined;
  let count = 0;
  let mean = 0;
  let cMean = 0;
  let aux = 0;
  let cAux = 0;
  for (let i = lo; i < hi; i++) {
    const f = vs[i]!;
    count++;
    const delta = f - (mean + cMean);
    const inc = delta / count;
    let t = mean + inc;
    cMean = kahanComp(inc, mean, t, cMean);
    mean = t;
    const incAux = delta * (f - (mean + cMean));
    t = aux + incAux;
    cAux = kahanComp(incAux, aux, t, cAux);
    aux = t;
  }
  const variance = (aux + cAux) / count;
  return sqrt ? Math.sqrt(variance) : variance;
}

/**
 * double_exponential_smoothing (Holt's linear method): the smoothed value after the last sample,
 * seeded with the first sample and the first difference. Factors outside (0, 1) fail the query
 * with Prometheus's message, even for a window too short to produce a value.
 */
function doubleExponentialSmoothing(w: Window, args: readonly number[]): number | undefined {
  const sf = args[0]!;
  const tf = args[1]!;
  // Prometheus prints the factor with fmt's %f, i.e. strconv 'f' with six decimals.
  if (sf <= 0 || sf >= 1) {
    throw new PromQLError('execution', `invalid smoothing factor. Expected: 0 < sf < 1, got: ${formatF(sf, 6)}`);
  }
  if (tf <= 0 || tf >= 1) {
    throw new PromQLError('execution', `invalid trend factor. Expected: 0 < tf < 1, got: ${formatF(tf, 6)}`);
  }
  const { vs, lo, hi } = w;
  const l = hi - lo;
  if (l < 2) return undefined;
  let s0 = 0;
  let s1 = vs[lo]!;
  let b = vs[lo + 1]! - vs[lo]!;
  for (let i = 1; i < l; i++) {
    const x = sf * vs[lo + i]!;
    // The trend: the seed difference for the first step, then tf·(s1−s0) + (1−tf)·b.
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
    const y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

const nonEmpty =
  (f: (w: Window) => number): RangeFunction =>
  (w) =>
    w.hi > w.lo ? f(w) : undefined;

const one = new Float64Array(1);

/** The range-vector functions by name; see the file header for the argument conventions. */
export const RANGE_FUNCTIONS: ReadonlyMap<string, RangeFunction> = new Map<string, RangeFunction>([
  ['rate', (w) => (extrapolatedRate(w, true, true, one, 0) ? one[0] : undefined)],
  ['increase', (w) => (extrapolatedRate(w, true, false, one, 0) ? one[0] : undefined)],
  ['delta', (w) => (extrapolatedRate(w, false, false, one, 0) ? one[0] : undefined)],
  ['irate', (w) => instantValue(w, true)],
  ['idelta', (w) => instantValue(w, false)],
  ['deriv', deriv],
  ['predict_linear', predictLinear],
  ['resets', resets],
  ['changes', changes],
  ['avg_over_time', avgOverTime],
  ['sum_over_time', sumOverTime],
  ['count_over_time', nonEmpty((w) => w.hi - w.lo)],
  ['min_over_time', (w) => extremeOverTime(w, false, false, false)],
  ['max_over_time', (w) => extremeOverTime(w, true, false, false)],
  ['ts_of_min_over_time', (w) => extremeOverTime(w, false, true, true)],
  ['ts_of_max_over_time', (w) => extremeOverTime(w, true, true, true)],
  ['last_over_time', nonEmpty((w) => w.vs[w.hi - 1]!)],
  ['first_over_time', nonEmpty((w) => w.vs[w.lo]!)],
  ['ts_of_last_over_time', nonEmpty((w) => w.ts[w.hi - 1]! / 1000)],
  ['ts_of_first_over_time', nonEmpty((w) => w.ts[w.lo]! / 1000)],
  ['present_over_time', nonEmpty(() => 1)],
  ['stddev_over_time', (w) => varianceOverTime(w, true)],
  ['stdvar_over_time', (w) => varianceOverTime(w, false)],
  ['quantile_over_time', (w, args) => (w.hi > w.lo ? quantile(args[0]!, w.vs, w.hi - w.lo, w.lo) : undefined)],
  ['mad_over_time', nonEmpty((w) => medianAbsoluteDeviation(w.vs, w.lo, w.hi))],
  ['double_exponential_smoothing', doubleExponentialSmoothing],
]);

/**
 * A range function that writes its output for step `i` into `out[i]` and says whether there is
 * one: the evaluator's form, which keeps a float result out of the heap (a kernel returning
 * `number | undefined` boxes every value, millions per backtest batch).
 */
export type RangeKernel = (w: Window, args: readonly number[], out: Float64Array, i: number) => boolean;

/** RANGE_FUNCTIONS in the evaluator's form (rate, increase and delta of a range query run as extrapolatedRateSeries instead). */
export const RANGE_KERNELS: ReadonlyMap<string, RangeKernel> = new Map(
  [...RANGE_FUNCTIONS].map(([name, f]): [string, RangeKernel] => {
    return [
      name,
      (w, args, out, i) => {
        const r = f(w, args);
        if (r === undefined) return false;
        out[i] = r;
        return true;
      },
    ];
  }),
);
