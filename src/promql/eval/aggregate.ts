/**
 * Aggregation operators. Groups are fixed per series, so accumulators are laid out
 * as typed arrays of (group × step) cells and filled series by series, in the same
 * order Prometheus adds samples, which keeps compensated sums bit-identical.
 */

import type { AggregateExpr } from '../ast.js';
import { PromQLError } from '../errors.js';
import { keyOn, keyWithout, labelsFromPairs, METRIC_NAME, setLabel, type Labels } from '../../storage/labels.js';
import { labelsHash } from '../../storage/hash.js';
import { quantile } from '../functions/quantile.js';
import { formatF, formatG } from '../../util/gofloat.js';
import type { Evaluator } from './evaluator.js';
import { mergeSameLabels } from './series.js';
import type { StepGrid, StepSeries, VectorValue } from './types.js';

const NO_CELLS = new Float64Array(0);
const MAX_INT64 = 9223372036854774784;
const MIN_INT64 = -9223372036854775808;

interface Grouping {
  /** Group index of each input series. */
  readonly groupOf: Int32Array;
  /** Output labels of each group. */
  readonly labels: Labels[];
  /** Whether any member of each group carries a pending name drop. */
  readonly dropName: boolean[];
}

function groupKeyFn(e: AggregateExpr, grouping: readonly string[]): (ls: Labels) => string {
  if (e.without) return (ls) => keyWithout(ls, grouping, true);
  if (grouping.length === 0) return () => '';
  return (ls) => keyOn(ls, grouping);
}

/** The labels of an output group, as Prometheus's generateGroupingLabels. */
function groupLabels(ls: Labels, e: AggregateExpr, grouping: readonly string[]): Labels {
  if (e.without) {
    const drop = new Set(grouping);
    return ls.filter((l) => !drop.has(l.name) && l.name !== METRIC_NAME);
  }
  if (grouping.length === 0) return [];
  const keep = new Set(grouping);
  return ls.filter((l) => keep.has(l.name));
}

function groupSeries(series: readonly StepSeries[], e: AggregateExpr, grouping: readonly string[]): Grouping {
  const key = groupKeyFn(e, grouping);
  const index = new Map<string, number>();
  const groupOf = new Int32Array(series.length);
  const labels: Labels[] = [];
  const dropName: boolean[] = [];
  series.forEach((s, i) => {
    const k = key(s.labels);
    let g = index.get(k);
    if (g === undefined) {
      g = labels.length;
      index.set(k, g);
      labels.push(groupLabels(s.labels, e, grouping));
      dropName.push(false);
    }
    groupOf[i] = g;
    if (s.dropName) dropName[g] = true;
  });
  return { groupOf, labels, dropName };
}

/** Evaluates an aggregation over the grid. */
export function evalAggregate(ev: Evaluator, e: AggregateExpr, grid: StepGrid): VectorValue {
  const grouping = [...e.grouping].sort();
  if (e.op === 'count_values') return countValues(ev, e, grid, grouping);
  const param = e.param ? ev.evalScalar(e.param, grid).values : undefined;
  const input = ev.evalVector(e.expr, grid).series;
  const n = grid.n;
  switch (e.op) {
    case 'topk':
    case 'bottomk':
    case 'limitk':
    case 'limit_ratio':
      return aggregateK(ev, e, input, param!, grouping, n);
    default:
      break;
  }
  if (e.op === 'quantile') checkQuantileParam(ev, e, param!);
  const g = groupSeries(input, e, grouping);
  const op = e.op;
  if (op === 'quantile') return quantileAgg(input, g, param!, n);
  const G = g.labels.length;
  const cells = G * n;
  const value = new Float64Array(cells);
  const comp = new Float64Array(cells);
  // sum alone counts nothing.
  const count = op === 'sum' ? NO_CELLS : new Float64Array(cells);
  const seen = new Uint8Array(cells);

  const mean = op === 'avg' || op === 'stddev' || op === 'stdvar' ? new Float64Array(cells) : undefined;
  const incremental = op === 'avg' ? new Uint8Array(cells) : undefined;
  // sum is most queries' outer operation: its own loop, without the per-sample switch.
  if (op === 'sum') sumInto(ev, input, g.groupOf, n, value, comp, seen);
  else for (let si = 0; si < input.length; si++) {
    ev.ctx.checkDeadline();
    const s = input[si]!;
    const base = g.groupOf[si]! * n;
    const vals = s.values;
    const pres = s.present;
    for (let i = 0; i < n; i++) {
      if (!pres[i]) continue;
      const f = vals[i]!;
      const c = base + i;
      if (!seen[c]) {
        seen[c] = 1;
        count[c] = 1;
        switch (op) {
          case 'stddev':
          case 'stdvar':
            value[c] = f !== f || f === Infinity || f === -Infinity ? NaN : 0;
            mean![c] = f;
            break;
          case 'group':
            value[c] = 1;
            break;
          case 'avg':
            value[c] = f;
            mean![c] = f;
            break;
          default:
            value[c] = f;
        }
        continue;
      }
      switch (op) {
        case 'avg': {
          const cnt = ++count[c]!;
          if (!incremental![c]) {
            const sum = value[c]!;
            const t = sum + f;
            if (t !== Infinity && t !== -Infinity) {
              if (Math.abs(sum) >= Math.abs(f)) comp[c]! += sum - t + f;
              else comp[c]! += f - t + sum;
              value[c] = t;
              break;
            }
            // The running sum would overflow: continue with an incremental mean.
            incremental![c] = 1;
            mean![c] = value[c]! / (cnt - 1);
            comp[c]! /= cnt - 1;
          }
          const q = (cnt - 1) / cnt;
          const inc = f / cnt;
          const sum = q * mean![c]!;
          let cc = q * comp[c]!;
          const t = sum + inc;
          if (t === Infinity || t === -Infinity) cc = 0;
          else if (Math.abs(sum) >= Math.abs(inc)) cc += sum - t + inc;
          else cc += inc - t + sum;
          mean![c] = t;
          comp[c] = cc;
          break;
        }
        case 'count':
          count[c]!++;
          break;
        case 'min':
          if (value[c]! > f || value[c] !== value[c]) value[c] = f;
          break;
        case 'max':
          if (value[c]! < f || value[c] !== value[c]) value[c] = f;
          break;
        case 'group':
          break;
        case 'stddev':
        case 'stdvar': {
          const cnt = ++count[c]!;
          const delta = f - mean![c]!;
          mean![c]! += delta / cnt;
          value[c]! += delta * (f - mean![c]!);
          break;
        }
        default:
          throw new PromQLError('internal', `unexpected aggregation ${op}`);
      }
    }
  }
  // Each cell's result is written over its accumulator, and a group's output is a view of its
  // cells: no arrays per group.
  const out: StepSeries[] = [];
  for (let gi = 0; gi < G; gi++) {
    const base = gi * n;
    let any = false;
    for (let c = base; c < base + n; c++) {
      if (!seen[c]) continue;
      any = true;
      switch (op) {
        case 'sum':
          value[c] = value[c]! + comp[c]!;
          break;
        case 'avg':
          value[c] = incremental![c] ? mean![c]! + comp[c]! : value[c]! / count[c]! + comp[c]! / count[c]!;
          break;
        case 'count':
          value[c] = count[c]!;
          break;
        case 'stdvar':
          value[c] = value[c]! / count[c]!;
          break;
        case 'stddev':
          value[c] = Math.sqrt(value[c]! / count[c]!);
          break;
        default:
          break;
      }
    }
    if (any) out.push({ labels: g.labels[gi]!, values: value.subarray(base, base + n), present: seen.subarray(base, base + n), dropName: g.dropName[gi]! });
  }
  return { type: 'vector', series: out };
}

/** Sums each series into its group's cells (Kahan-Neumaier compensated, as Prometheus's kahanSumInc). */
function sumInto(ev: Evaluator, input: readonly StepSeries[], groupOf: Int32Array, n: number, value: Float64Array, comp: Float64Array, seen: Uint8Array): void {
  for (let si = 0; si < input.length; si++) {
    ev.ctx.checkDeadline();
    const s = input[si]!;
    const base = groupOf[si]! * n;
    const vals = s.values;
    const pres = s.present;
    for (let i = 0; i < n; i++) {
      if (!pres[i]) continue;
      const f = vals[i]!;
      const c = base + i;
      if (!seen[c]) {
        seen[c] = 1;
        value[c] = f;
        continue;
      }
      const sum = value[c]!;
      const t = sum + f;
      if (t === Infinity || t === -Infinity) comp[c] = 0;
      else if (Math.abs(sum) >= Math.abs(f)) comp[c]! += sum - t + f;
      else comp[c]! += f - t + sum;
      value[c] = t;
    }
  }
}

function checkQuantileParam(ev: Evaluator, e: AggregateExpr, q: Float64Array): void {
  let nan = false;
  let max = -Infinity;
  let min = Infinity;
  for (const v of q) {
    if (v !== v) nan = true;
    else {
      if (v > max) max = v;
      if (v < min) min = v;
    }
  }
  const pos = e.param?.pos;
  if (nan) ev.ctx.annotations.warn('quantile value should be between 0 and 1, got NaN', pos);
  if (max > 1) ev.ctx.annotations.warn(`quantile value should be between 0 and 1, got ${formatG(max)}`, pos);
  if (min < 0) ev.ctx.annotations.warn(`quantile value should be between 0 and 1, got ${formatG(min)}`, pos);
}

function quantileAgg(input: StepSeries[], g: Grouping, q: Float64Array, n: number): VectorValue {
  const G = g.labels.length;
  const outValues = g.labels.map(() => new Float64Array(n));
  const outPresent = g.labels.map(() => new Uint8Array(n));
  const buckets: number[][] = Array.from({ length: G }, () => []);
  for (let i = 0; i < n; i++) {
    for (const b of buckets) b.length = 0;
    for (let si = 0; si < input.length; si++) {
      const s = input[si]!;
      if (s.present[i]) buckets[g.groupOf[si]!]!.push(s.values[i]!);
    }
    for (let gi = 0; gi < G; gi++) {
      const b = buckets[gi]!;
      if (b.length === 0) continue;
      outValues[gi]![i] = quantile(q[i]!, b);
      outPresent[gi]![i] = 1;
    }
  }
  const out: StepSeries[] = [];
  for (let gi = 0; gi < G; gi++) {
    if (outPresent[gi]!.some((x) => x)) out.push({ labels: g.labels[gi]!, values: outValues[gi]!, present: outPresent[gi]!, dropName: g.dropName[gi]! });
  }
  return { type: 'vector', series: out };
}

/** A binary heap with Go's container/heap operations, so ties resolve as in Prometheus. */
class GoHeap {
  readonly items: number[] = [];
  constructor(private readonly less: (a: number, b: number) => boolean) {}
  push(x: number): void {
    this.items.push(x);
    this.up(this.items.length - 1);
  }
  fix0(): void {
    if (!this.down(0, this.items.length)) this.up(0);
  }
  private up(j: number): void {
    const h = this.items;
    for (;;) {
      const i = (j - 1) >> 1;
      if (j <= 0 || i === j || !this.less(h[j]!, h[i]!)) break;
      [h[i], h[j]] = [h[j]!, h[i]!];
      j = i;
    }
  }
  private down(i0: number, n: number): boolean {
    const h = this.items;
    let i = i0;
    for (;;) {
      const j1 = 2 * i + 1;
      if (j1 >= n || j1 < 0) break;
      let j = j1;
      const j2 = j1 + 1;
      if (j2 < n && this.less(h[j2]!, h[j1]!)) j = j2;
      if (!this.less(h[j]!, h[i]!)) break;
      [h[i], h[j]] = [h[j]!, h[i]!];
      i = j;
    }
    return i > i0;
  }
}

function aggregateK(ev: Evaluator, e: AggregateExpr, input: StepSeries[], param: Float64Array, grouping: readonly string[], n: number): VectorValue {
  const op = e.op;
  let max = -Infinity;
  let min = Infinity;
  let nan = false;
  for (const v of param) {
    if (v !== v) nan = true;
    if (v > max) max = v;
    if (v < min) min = v;
  }
  if (op === 'limit_ratio') {
    if (max === 0 && min === 0) return { type: 'vector', series: [] };
    if (nan) throw new PromQLError('execution', 'Ratio value is NaN');
    if (max > 1) ev.ctx.annotations.warn(`ratio value should be between -1 and 1, got ${formatG(max)}, capping to 1`, e.param?.pos);
    if (min < -1) ev.ctx.annotations.warn(`ratio value should be between -1 and 1, got ${formatG(min)}, capping to -1`, e.param?.pos);
  } else {
    if (max < 1) return { type: 'vector', series: [] };
    if (nan) throw new PromQLError('execution', 'Parameter value is NaN');
    if (min <= MIN_INT64) throw new PromQLError('execution', `Scalar value ${formatG(min)} underflows int64`);
    if (max >= MAX_INT64) throw new PromQLError('execution', `Scalar value ${formatG(max)} overflows int64`);
  }
  const g = groupSeries(input, e, grouping);
  const G = g.labels.length;
  // Each selected (series, step) goes to the output series of that input series.
  const outValues: (Float64Array | undefined)[] = new Array(input.length);
  const outPresent: (Uint8Array | undefined)[] = new Array(input.length);
  const order: number[] = [];
  const mark = (si: number, i: number) => {
    let p = outPresent[si];
    if (!p) {
      p = new Uint8Array(n);
      outPresent[si] = p;
      outValues[si] = new Float64Array(n);
      order.push(si);
    }
    p[i] = 1;
    outValues[si]![i] = input[si]!.values[i]!;
  };
  const sampleOffset = op === 'limit_ratio' ? input.map((s) => Number(labelsHash(s.labels)) / 18446744073709551615) : [];
  const val = (si: number, i: number) => input[si]!.values[i]!;
  for (let i = 0; i < n; i++) {
    ev.ctx.checkDeadline();
    const fParam = param[i]!;
    if (op === 'limit_ratio') {
      if (fParam === 0) continue;
      const r = fParam < -1 ? -1 : fParam > 1 ? 1 : fParam;
      for (let si = 0; si < input.length; si++) {
        if (!input[si]!.present[i]) continue;
        const off = sampleOffset[si]!;
        if ((r >= 0 && off < r) || (r < 0 && off >= 1 + r)) mark(si, i);
      }
      continue;
    }
    const k = Math.min(Math.trunc(fParam), input.length);
    if (k < 1) continue;
    if (op === 'limitk') {
      const taken = new Int32Array(G);
      for (let si = 0; si < input.length; si++) {
        if (!input[si]!.present[i]) continue;
        const gi = g.groupOf[si]!;
        if (taken[gi]! < k) {
          taken[gi]!++;
          mark(si, i);
        }
      }
      continue;
    }
    // topk keeps the k largest with the smallest on top; bottomk the reverse. NaN always sorts "first" (out).
    const less =
      op === 'topk'
        ? (a: number, b: number) => {
            const x = val(a, i);
            return x !== x || x < val(b, i);
          }
        : (a: number, b: number) => {
            const x = val(a, i);
            return x !== x || x > val(b, i);
          };
    const heaps: (GoHeap | undefined)[] = new Array(G);
    for (let si = 0; si < input.length; si++) {
      if (!input[si]!.present[i]) continue;
      const gi = g.groupOf[si]!;
      let h = heaps[gi];
      if (!h) {
        h = new GoHeap(less);
        heaps[gi] = h;
        h.push(si);
        continue;
      }
      if (h.items.length < k) {
        h.push(si);
        continue;
      }
      const top = val(h.items[0]!, i);
      const f = val(si, i);
      const better = op === 'topk' ? top < f || (top !== top && f === f) : top > f || (top !== top && f === f);
      if (better) {
        h.items[0] = si;
        if (k > 1) h.fix0();
      }
    }
    for (const h of heaps) {
      if (!h) continue;
      // Prometheus sorts the heap in reverse for output; an insertion sort is stable as Go's is for small k.
      const items = h.items;
      for (let a = 1; a < items.length; a++) {
        for (let b = a; b > 0 && less(items[b - 1]!, items[b]!); b--) {
          [items[b - 1], items[b]] = [items[b]!, items[b - 1]!];
        }
      }
      for (const si of items) mark(si, i);
    }
  }
  const out: StepSeries[] = order.map((si) => ({
    labels: input[si]!.labels,
    values: outValues[si]!,
    present: outPresent[si]!,
    dropName: input[si]!.dropName,
  }));
  // For an instant query this is Prometheus's order: by group, then sorted within each heap.
  return { type: 'vector', series: out };
}

function countValues(ev: Evaluator, e: AggregateExpr, grid: StepGrid, grouping: string[]): VectorValue {
  const valueLabel = e.param?.kind === 'StringLiteral' ? e.param.value : '';
  if (valueLabel === '' || !valueLabel.isWellFormed()) {
    throw new PromQLError('execution', `invalid label name ${JSON.stringify(valueLabel).replace(/\\udc([89a-f][0-9a-f])/g, '\\x$1')}`);
  }
  const groupingWith = e.without ? grouping : [...new Set([...grouping, valueLabel])].sort();
  const input = ev.evalVector(e.expr, grid).series;
  const n = grid.n;
  const key = groupKeyFn({ ...e }, groupingWith);
  const outIndex = new Map<string, number>();
  const out: StepSeries[] = [];
  for (let i = 0; i < n; i++) {
    for (const s of input) {
      if (!s.present[i]) continue;
      const metric = setLabel(s.labels, valueLabel, formatF(s.values[i]!));
      const k = key(metric);
      let oi = outIndex.get(k);
      if (oi === undefined) {
        oi = out.length;
        outIndex.set(k, oi);
        out.push({ labels: labelsFromPairs(groupLabels(metric, e, groupingWith).map((l) => [l.name, l.value] as const)), values: new Float64Array(n), present: new Uint8Array(n), dropName: false });
      }
      const o = out[oi]!;
      if (!o.present[i]) {
        o.present[i] = 1;
        o.values[i] = 0;
      }
      o.values[i]!++;
    }
  }
  return { type: 'vector', series: mergeSameLabels(out) };
}
