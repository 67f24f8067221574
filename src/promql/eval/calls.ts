/** Function calls: range-vector kernels, element-wise math, and the functions that work on whole series. */

import type { Call, Expr, VectorSelector } from '../ast.js';
import { PromQLError } from '../errors.js';
import { compareLabels, dropMetricName, getLabel, labelsFromPairs, METRIC_NAME, setLabel, type Labels } from '../../storage/labels.js';
import { compileAnchored, expandTemplate } from '../../storage/regex.js';
import { DATE_FUNCTIONS } from '../functions/date.js';
import { bucketQuantile } from '../functions/histogram.js';
import { clampValue, MATH_FUNCTIONS, roundTo } from '../functions/math.js';
import { extrapolatedRateSeries, RANGE_FUNCTIONS, RANGE_KERNELS } from '../functions/range.js';
import { RangeMemo, type RangeOutput } from './range-memo.js';
import type { ResetIndex, Window } from '../functions/window.js';
import { FUNCTIONS } from '../signatures.js';
import { formatG } from '../../util/gofloat.js';
import type { Evaluator } from './evaluator.js';
import { assertDistinctLabels, dropName, mergeSameLabels, shareName } from './series.js';
import type { EvalValue, MatrixValue, RangeSeries, StepGrid, StepSeries, VectorValue } from './types.js';

function unwrap(e: Expr): Expr {
  while (e.kind === 'ParenExpr') e = e.expr;
  return e;
}

function stringArg(e: Expr): string {
  const x = unwrap(e);
  if (x.kind !== 'StringLiteral') throw new PromQLError('execution', 'expected a string literal argument');
  return x.value;
}

function vector(series: StepSeries[]): VectorValue {
  return { type: 'vector', series };
}

/** Evaluates a function call over the grid. */
export function evalCall(ev: Evaluator, e: Call, grid: StepGrid): EvalValue {
  const name = e.func;
  const n = grid.n;
  const delayed = ev.ctx.opts.delayedNameRemoval;
  const sig = FUNCTIONS.get(name);
  if (!sig) throw new PromQLError('bad_data', `unknown function with name "${name}"`);
  if (sig.nativeHistogram) {
    // These read native histograms only; float samples are ignored, as Prometheus does.
    for (const a of e.args) ev.eval(a, grid);
    return vector([]);
  }

  const rangeFn = RANGE_FUNCTIONS.get(name);
  if (rangeFn || name === 'absent_over_time') {
    const mi = sig.args.indexOf('matrix');
    const scalars = e.args.map((a, i) => (i === mi ? undefined : ev.evalScalar(a, grid).values));
    const m = ev.evalMatrix(e.args[mi]!, grid);
    if (name === 'absent_over_time') return absentOverTime(m, e.args[mi]!, n);
    return rangeCall(ev, e, m, scalars, grid);
  }

  const math = MATH_FUNCTIONS.get(name);
  if (math) return mapValues(ev, ev.evalVector(e.args[0]!, grid), (v) => math(v));

  switch (name) {
    case 'time': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = grid.times[i]! / 1000;
      return { type: 'scalar', values: out };
    }
    case 'pi':
      return { type: 'scalar', values: new Float64Array(n).fill(Math.PI) };
    case 'vector': {
      const s = ev.evalScalar(e.args[0]!, grid);
      return vector([{ labels: [], values: s.values, present: new Uint8Array(n).fill(1), dropName: false }]);
    }
    case 'scalar': {
      const v = ev.evalVector(e.args[0]!, grid);
      const out = new Float64Array(n).fill(NaN);
      for (let i = 0; i < n; i++) {
        let found = 0;
        let val = NaN;
        for (const s of v.series) {
          if (!s.present[i]) continue;
          found++;
          val = s.values[i]!;
          if (found > 1) break;
        }
        if (found === 1) out[i] = val;
      }
      return { type: 'scalar', values: out };
    }
    case 'timestamp':
      return timestampCall(ev, e, grid);
    case 'clamp':
    case 'clamp_min':
    case 'clamp_max': {
      const v = ev.evalVector(e.args[0]!, grid);
      const lo = name === 'clamp_max' ? undefined : ev.evalScalar(e.args[1]!, grid).values;
      const hi = name === 'clamp' ? ev.evalScalar(e.args[2]!, grid).values : name === 'clamp_max' ? ev.evalScalar(e.args[1]!, grid).values : undefined;
      return mapValues(ev, v, (x, i) => clampValue(x, lo ? lo[i]! : -Infinity, hi ? hi[i]! : Infinity, name));
    }
    case 'round': {
      const v = ev.evalVector(e.args[0]!, grid);
      const to = e.args[1] ? ev.evalScalar(e.args[1], grid).values : undefined;
      return mapValues(ev, v, (x, i) => roundTo(x, to ? to[i]! : 1));
    }
    case 'label_replace':
      return labelReplace(ev, e, grid);
    case 'label_join':
      return labelJoin(ev, e, grid);
    case 'sort':
    case 'sort_desc':
      return sortByValue(ev.evalVector(e.args[0]!, grid), name === 'sort_desc', n);
    case 'sort_by_label':
    case 'sort_by_label_desc':
      return sortByLabel(ev.evalVector(e.args[0]!, grid), e.args.slice(1).map(stringArg), name === 'sort_by_label_desc', n);
    case 'absent':
      return absent(ev.evalVector(e.args[0]!, grid), e.args[0]!, n);
    case 'histogram_quantile':
      return histogramQuantile(ev, e, grid);
    default:
      break;
  }

  const date = DATE_FUNCTIONS.get(name);
  if (date) {
    if (e.args.length === 0) {
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) values[i] = date(grid.times[i]! / 1000);
      return vector([{ labels: [], values, present: new Uint8Array(n).fill(1), dropName: false }]);
    }
    return mapValues(ev, ev.evalVector(e.args[0]!, grid), (v) => date(v));
  }
  throw new PromQLError('execution', `function "${name}" is not implemented`);
}

/**
 * Applies a per-sample function, dropping the metric name; `fn` may return undefined
 * to drop a sample.
 */
function mapValues(ev: Evaluator, v: VectorValue, fn: (x: number, step: number) => number | undefined): VectorValue {
  const delayed = ev.ctx.opts.delayedNameRemoval;
  const out: StepSeries[] = [];
  for (const s of v.series) {
    const n = s.values.length;
    const values = new Float64Array(n);
    const present = new Uint8Array(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      if (!s.present[i]) continue;
      const r = fn(s.values[i]!, i);
      if (r === undefined) continue;
      values[i] = r;
      present[i] = 1;
      any = true;
    }
    if (any) out.push(dropName({ labels: s.labels, values, present, dropName: s.dropName }, delayed));
  }
  return vector(delayed || shareName(v.series) ? out : mergeSameLabels(out));
}

const KEEPS_NAME = new Set(['last_over_time', 'first_over_time']);
const COUNTER_SUFFIXES = ['_total', '_sum', '_count', '_bucket'];

/**
 * A series' labels without its name, made once per label set: storage that keeps its series
 * (the backtest window cache) hands out the same label arrays to query after query. Label sets
 * are never written after they are made.
 */
const namelessOf = new WeakMap<Labels, Labels>();
function nameless(ls: Labels): Labels {
  let out = namelessOf.get(ls);
  if (!out) namelessOf.set(ls, (out = dropMetricName(ls)));
  return out;
}

const NO_VALUES = new Float64Array(0);
const NO_PRESENT = new Uint8Array(0);

function rangeCall(ev: Evaluator, e: Call, m: MatrixValue, scalars: (Float64Array | undefined)[], grid: StepGrid): VectorValue {
  const fn = RANGE_KERNELS.get(e.func)!;
  const n = grid.n;
  const delayed = ev.ctx.opts.delayedNameRemoval;
  const keepName = KEEPS_NAME.has(e.func);
  const scalarArgs = scalars.filter((s): s is Float64Array => s !== undefined);
  const args: number[] = new Array(scalarArgs.length + (e.func === 'predict_linear' ? 1 : 0)).fill(0);
  if (e.func === 'quantile_over_time') warnQuantile(ev, scalarArgs[0]!, e.args[0]!);
  const out: StepSeries[] = [];
  const ends = m.ends;
  const checkCounter = e.func === 'rate' || e.func === 'increase';
  const extrapolated = checkCounter || e.func === 'delta';
  let processed = 0;
  let points = 0;
  const checkName = (rs: RangeSeries) => {
    if (!checkCounter) return;
    const metric = getLabel(rs.labels, METRIC_NAME);
    if (metric !== '' && !COUNTER_SUFFIXES.some((s) => metric.endsWith(s))) {
      ev.ctx.annotations.info(`metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${JSON.stringify(metric)}`, e.args[0]!.pos);
    }
  };
  // One series' outputs at every step into values/present; returns the samples read. rate,
  // increase and delta, the most asked by far, run as one loop per series; the others step a
  // window through the series and call their kernel per step.
  const isRate = e.func === 'rate';
  const fill = extrapolated
    ? (rs: RangeSeries, resets: ResetIndex | undefined, values: Float64Array, present: Uint8Array) => extrapolatedRateSeries(rs.ts, rs.vs, resets, ends, m.range, checkCounter, isRate, values, present)
    : (rs: RangeSeries, _resets: ResetIndex | undefined, values: Float64Array, present: Uint8Array) => {
        const ts = rs.ts;
        const len = ts.length;
        // One window per series, moved from step to step.
        const w: Window = { ts, vs: rs.vs, lo: 0, hi: 0, start: 0, end: 0, range: m.range };
        let lo = 0;
        let hi = 0;
        let read = 0;
        for (let i = 0; i < n; i++) {
          const end = ends[i]!;
          const start = end - m.range;
          while (hi < len && ts[hi]! <= end) hi++;
          while (lo < hi && ts[lo]! <= start) lo++;
          if (hi <= lo) continue;
          w.lo = lo;
          w.hi = hi;
          w.start = start;
          w.end = end;
          for (let k = 0; k < scalarArgs.length; k++) args[k] = scalarArgs[k]![i]!;
          // predict_linear's regression is anchored at the evaluation time itself.
          if (e.func === 'predict_linear') args[scalarArgs.length] = grid.times[i]!;
          read += hi - lo;
          if (fn(w, args, values, i)) present[i] = 1;
        }
        return read;
      };
  // Functions of the samples alone (no scalar argument, no evaluation time) are remembered
  // across queries when the storage allows it.
  const memo = scalarArgs.length === 0 && e.func !== 'predict_linear' ? ev.ctx.opts.rangeMemo : undefined;
  const call = memo ? RangeMemo.callKey(e.func, m.range, ends) : '';
  // What is remembered first, so that one slab holds exactly the outputs computed here (views
  // of one buffer are far cheaper than a buffer per series).
  const S = m.series.length;
  const keys: string[] = memo ? new Array<string>(S) : [];
  const recalled: (RangeOutput | undefined)[] = memo ? new Array<RangeOutput | undefined>(S) : [];
  let misses = S;
  if (memo) {
    for (let si = 0; si < S; si++) {
      const rs = m.series[si]!;
      keys[si] = RangeMemo.key(call, rs.ts, rs.vs);
      if ((recalled[si] = memo.recall(rs.ts, rs.vs, keys[si]!))) misses--;
    }
  }
  const slabV = misses > 0 ? new Float64Array(n * misses) : NO_VALUES;
  const slabP = misses > 0 ? new Uint8Array(n * misses) : NO_PRESENT;
  let used = 0;
  for (let si = 0; si < S; si++) {
    const rs = m.series[si]!;
    ev.ctx.checkDeadline();
    const hit = recalled[si];
    if (hit) {
      processed += hit.processed;
      points += hit.points;
      if (!hit.any) continue;
      out.push({ labels: !keepName && !delayed ? nameless(rs.labels) : rs.labels, values: hit.values, present: hit.present, dropName: !keepName || rs.dropName });
      checkName(rs);
      continue;
    }
    const values = slabV.subarray(used, used + n);
    const present = slabP.subarray(used, used + n);
    // Over immutable samples a series' counter resets are indexed once for every call that reads it.
    const resets = memo && checkCounter ? memo.resetsOf(rs.vs) : undefined;
    const read = fill(rs, resets, values, present);
    processed += read;
    let count = 0;
    for (let i = 0; i < n; i++) count += present[i]!;
    const any = count > 0;
    points += count;
    // An empty output's room is used again by the next series: remembered without its arrays.
    memo?.remember(rs.ts, rs.vs, keys[si]!, any ? { values, present, any, processed: read, points: count } : { values: NO_VALUES, present: NO_PRESENT, any, processed: read, points: 0 });
    if (!any) continue;
    used += n;
    out.push({ labels: !keepName && !delayed ? nameless(rs.labels) : rs.labels, values, present, dropName: !keepName || rs.dropName });
    checkName(rs);
  }
  ev.ctx.processed(processed);
  if (!delayed && !keepName && !shareName(m.series)) assertDistinctLabels(out);
  return { type: 'vector', series: out, points };
}

function warnQuantile(ev: Evaluator, q: Float64Array, arg: Expr): void {
  const bad = new Set<string>();
  for (const v of q) if (v !== v || v < 0 || v > 1) bad.add(formatG(v));
  for (const b of bad) ev.ctx.annotations.warn(`quantile value should be between 0 and 1, got ${b}`, arg.pos);
}

/** Labels that absent() and absent_over_time() give their output: the selector's equality matchers. */
export function absentLabels(arg: Expr): Labels {
  const x = unwrap(arg);
  const vs: VectorSelector | undefined = x.kind === 'VectorSelector' ? x : x.kind === 'MatrixSelector' ? x.selector : undefined;
  if (!vs) return [];
  const m = new Map<string, string>();
  const has = new Set<string>();
  for (const ma of vs.matchers) {
    if (ma.name === METRIC_NAME) continue;
    if (ma.type === '=' && !has.has(ma.name)) {
      m.set(ma.name, ma.value);
      has.add(ma.name);
    } else m.delete(ma.name);
  }
  return labelsFromPairs(m);
}

function absent(v: VectorValue, arg: Expr, n: number): VectorValue {
  const values = new Float64Array(n);
  const present = new Uint8Array(n).fill(1);
  for (const s of v.series) for (let i = 0; i < n; i++) if (s.present[i]) present[i] = 0;
  if (!present.some((x) => x)) return vector([]);
  values.fill(1);
  return vector([{ labels: absentLabels(arg), values, present, dropName: false }]);
}

function absentOverTime(m: MatrixValue, arg: Expr, n: number): VectorValue {
  const present = new Uint8Array(n).fill(1);
  for (const rs of m.series) {
    const ts = rs.ts;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < n; i++) {
      const end = m.ends[i]!;
      while (hi < ts.length && ts[hi]! <= end) hi++;
      while (lo < hi && ts[lo]! <= end - m.range) lo++;
      if (hi > lo) present[i] = 0;
    }
  }
  if (!present.some((x) => x)) return vector([]);
  return vector([{ labels: absentLabels(arg), values: new Float64Array(n).fill(1), present, dropName: true }]);
}

function timestampCall(ev: Evaluator, e: Call, grid: StepGrid): VectorValue {
  const arg = unwrap(e.args[0]!);
  const delayed = ev.ctx.opts.delayedNameRemoval;
  if (arg.kind === 'VectorSelector') {
    // The sample's own timestamp, not the evaluation time.
    const v = ev.vectorSelector(arg, grid, true);
    return vector(mergeSameLabels(v.series.map((s) => dropName(s, delayed))));
  }
  const v = ev.evalVector(arg, grid);
  return mapValues(ev, v, (_x, i) => grid.times[i]! / 1000);
}

function isValidLabelName(s: string): boolean {
  return s !== '' && s.isWellFormed();
}

function showString(s: string): string {
  return s.isWellFormed() ? s : s.replace(/[\udc80-\udcff]/g, (c) => '\\x' + (c.charCodeAt(0) - 0xdc00).toString(16));
}

function labelReplace(ev: Evaluator, e: Call, grid: StepGrid): VectorValue {
  const dst = stringArg(e.args[1]!);
  const repl = stringArg(e.args[2]!);
  const src = stringArg(e.args[3]!);
  const regexStr = stringArg(e.args[4]!);
  let re: RegExp;
  try {
    re = compileAnchored(regexStr);
  } catch {
    throw new PromQLError('execution', `invalid regular expression in label_replace(): ${regexStr}`);
  }
  if (!isValidLabelName(dst)) throw new PromQLError('execution', `invalid destination label name in label_replace(): ${showString(dst)}`);
  const v = ev.evalVector(e.args[0]!, grid);
  const out = v.series.map((s) => {
    const m = re.exec(getLabel(s.labels, src));
    if (!m) return s;
    const res = expandTemplate(repl, m);
    return { ...s, labels: setLabel(s.labels, dst, res), dropName: dst === METRIC_NAME ? false : s.dropName };
  });
  assertDistinctLabels(out);
  return vector(out);
}

function labelJoin(ev: Evaluator, e: Call, grid: StepGrid): VectorValue {
  const dst = stringArg(e.args[1]!);
  const sep = stringArg(e.args[2]!);
  const srcs = e.args.slice(3).map(stringArg);
  if (!isValidLabelName(dst)) throw new PromQLError('execution', `invalid destination label name in label_join(): ${showString(dst)}`);
  for (const s of srcs) if (!isValidLabelName(s)) throw new PromQLError('execution', `invalid source label name in label_join(): ${showString(s)}`);
  const v = ev.evalVector(e.args[0]!, grid);
  const out = v.series.map((s) => {
    const joined = srcs.map((l) => getLabel(s.labels, l)).join(sep);
    return { ...s, labels: setLabel(s.labels, dst, joined), dropName: dst === METRIC_NAME ? false : s.dropName };
  });
  assertDistinctLabels(out);
  return vector(out);
}

function sortByValue(v: VectorValue, desc: boolean, n: number): VectorValue {
  if (n !== 1) return v;
  const withIdx = v.series.map((s, i) => ({ s, i }));
  withIdx.sort((a, b) => {
    const x = a.s.values[0]!;
    const y = b.s.values[0]!;
    // NaN sorts last either way, as Prometheus's heap ordering does.
    if (x !== x) return y !== y ? a.i - b.i : 1;
    if (y !== y) return -1;
    if (x !== y) return desc ? y - x : x - y;
    return a.i - b.i;
  });
  return vector(withIdx.map((x) => x.s));
}

const CHUNK = /(\d+|\D+)/g;

/** Natural string order (facette.io/natsort), as sort_by_label uses. */
export function naturalLess(a: string, b: string): boolean {
  const ca = a.match(CHUNK) ?? [];
  const cb = b.match(CHUNK) ?? [];
  for (let i = 0; i < ca.length; i++) {
    if (i >= cb.length) return false;
    const x = ca[i]!;
    const y = cb[i]!;
    const xi = /^\d+$/.test(x) ? Number(x) : NaN;
    const yi = /^\d+$/.test(y) ? Number(y) : NaN;
    if (xi === xi && yi === yi) {
      if (xi === yi) {
        if (i === ca.length - 1) return true;
        if (i === cb.length - 1) return false;
        continue;
      }
      return xi < yi;
    }
    if (x === y) {
      if (i === ca.length - 1) return true;
      if (i === cb.length - 1) return false;
      continue;
    }
    return x < y;
  }
  return false;
}

function sortByLabel(v: VectorValue, names: string[], desc: boolean, n: number): VectorValue {
  if (n !== 1) return v;
  const sorted = [...v.series].sort((a, b) => {
    for (const l of names) {
      const x = getLabel(a.labels, l);
      const y = getLabel(b.labels, l);
      if (x === y) continue;
      const lt = naturalLess(x, y);
      return desc ? (lt ? 1 : -1) : lt ? -1 : 1;
    }
    const c = compareLabels(a.labels, b.labels);
    return desc ? -c : c;
  });
  return vector(sorted);
}

function histogramQuantile(ev: Evaluator, e: Call, grid: StepGrid): VectorValue {
  const n = grid.n;
  const delayed = ev.ctx.opts.delayedNameRemoval;
  const q = ev.evalScalar(e.args[0]!, grid).values;
  const v = ev.evalVector(e.args[1]!, grid);
  warnQuantile(ev, q, e.args[0]!);
  interface Group {
    labels: Labels;
    name: string;
    members: { s: StepSeries; le: number }[];
  }
  const groups = new Map<string, Group>();
  const order: Group[] = [];
  for (const s of v.series) {
    const leStr = getLabel(s.labels, 'le');
    const le = parseLe(leStr);
    if (le === undefined) {
      const name = getLabel(s.labels, METRIC_NAME);
      ev.ctx.annotations.warn(`bucket label "le" is missing or has a malformed value of ${JSON.stringify(leStr)}${delayed ? ` for metric name ${JSON.stringify(name)}` : ''}`, e.args[1]!.pos);
      continue;
    }
    const rest = s.labels.filter((l) => l.name !== 'le');
    const key = rest.map((l) => `${l.name}\u0000${l.value}`).join('\u0001');
    let g = groups.get(key);
    if (!g) {
      g = { labels: rest, name: getLabel(s.labels, METRIC_NAME), members: [] };
      groups.set(key, g);
      order.push(g);
    }
    g.members.push({ s, le });
  }
  const out: StepSeries[] = [];
  for (const g of order) {
    const values = new Float64Array(n);
    const present = new Uint8Array(n);
    let any = false;
    // Sorted by bound once, stably, for every step: a step's buckets are then in the order
    // bucketQuantile would sort them into (equal bounds in input order), and it sorts nothing.
    // Bucket objects are reused from step to step.
    g.members.sort((a, b) => (a.le < b.le ? -1 : a.le > b.le ? 1 : 0));
    const pool = g.members.map((m) => ({ upperBound: m.le, count: 0 }));
    const buckets: { upperBound: number; count: number }[] = [];
    for (let i = 0; i < n; i++) {
      buckets.length = 0;
      for (let k = 0; k < g.members.length; k++) {
        const m = g.members[k]!;
        if (!m.s.present[i]) continue;
        const b = pool[k]!;
        b.count = m.s.values[i]!;
        buckets.push(b);
      }
      if (buckets.length === 0) continue;
      const r = bucketQuantile(q[i]!, buckets);
      if (r.forcedMonotonic) {
        ev.ctx.annotations.info(
          `input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name ${JSON.stringify(g.name)}`,
          e.args[1]!.pos,
        );
      }
      values[i] = r.value;
      present[i] = 1;
      any = true;
    }
    if (any) out.push(dropName({ labels: g.labels, values, present, dropName: false }, delayed));
  }
  return vector(mergeSameLabels(out));
}

/** Parses an `le` label value as Go's strconv.ParseFloat would. */
function parseLe(s: string): number | undefined {
  const t = s.trim();
  if (t !== s || s === '') return undefined;
  const lower = s.toLowerCase();
  if (lower === '+inf' || lower === 'inf' || lower === 'infinity' || lower === '+infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  if (lower === 'nan') return NaN;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(s)) return Number(s.replace(/^\+/, ''));
  return undefined;
}
