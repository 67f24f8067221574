/** Binary operators: scalar/scalar, vector/scalar, vector/vector with matching, and set operators. */

import { isSetOp, type BinaryExpr, type BinaryOp, type VectorMatching } from '../ast.js';
import { PromQLError } from '../errors.js';
import { dropMetricName, formatLabels, keyOn, keyWithout, labelsFromPairs, labelsKey, METRIC_NAME, type Label, type Labels } from '../../storage/labels.js';
import type { Evaluator } from './evaluator.js';
import { mergeSameLabels, shareName } from './series.js';
import type { EvalValue, StepGrid, StepSeries, VectorValue } from './types.js';

/** Go's math.Pow, which differs from `**` for a base of ±1 and NaN or infinite exponents. */
export function goPow(x: number, y: number): number {
  if (x === 1 || y === 0) return 1;
  if (x === -1 && (y === Infinity || y === -Infinity)) return 1;
  return x ** y;
}

type Arith = (a: number, b: number) => number;
type Compare = (a: number, b: number) => boolean;

const ARITH: Record<string, Arith> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
  '^': goPow,
  atan2: Math.atan2,
};

const COMPARE: Record<string, Compare> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '>': (a, b) => a > b,
  '<': (a, b) => a < b,
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
};

/** True for the operators that change what a metric means (so its name goes). */
function changesMetric(op: BinaryOp): boolean {
  return op in ARITH;
}

/** Evaluates a binary expression over the grid. */
export function evalBinary(ev: Evaluator, e: BinaryExpr, grid: StepGrid): EvalValue {
  const l = ev.eval(e.lhs, grid);
  const r = ev.eval(e.rhs, grid);
  if (l.type === 'scalar' && r.type === 'scalar') {
    const out = new Float64Array(grid.n);
    const a = l.values;
    const b = r.values;
    const arith = ARITH[e.op];
    if (arith) for (let i = 0; i < out.length; i++) out[i] = arith(a[i]!, b[i]!);
    else {
      const cmp = COMPARE[e.op]!;
      for (let i = 0; i < out.length; i++) out[i] = cmp(a[i]!, b[i]!) ? 1 : 0;
    }
    return { type: 'scalar', values: out };
  }
  if (l.type === 'vector' && r.type === 'scalar') return vectorScalar(ev, e, l, r.values, false);
  if (l.type === 'scalar' && r.type === 'vector') return vectorScalar(ev, e, r, l.values, true);
  if (l.type === 'vector' && r.type === 'vector') {
    const matching = e.matching ?? { card: isSetOp(e.op) ? 'many-to-many' : 'one-to-one', on: false, labels: [], include: [], explicit: false };
    if (isSetOp(e.op)) return setOp(e.op, l, r, matching, grid.n);
    return vectorVector(ev, e, l, r, matching, grid.n);
  }
  throw new PromQLError('execution', 'binary expression must contain only scalar and instant vector types');
}

function vectorScalar(ev: Evaluator, e: BinaryExpr, vec: VectorValue, scalar: Float64Array, swap: boolean): VectorValue {
  const delayed = ev.ctx.opts.delayedNameRemoval;
  const arith = ARITH[e.op];
  const cmp = COMPARE[e.op];
  const dropsName = changesMetric(e.op) || e.returnBool;
  const out: StepSeries[] = [];
  for (const s of vec.series) {
    const n = s.values.length;
    const values = new Float64Array(n);
    const present = new Uint8Array(n);
    let any = false;
    // A loop of its own, not a callback per sample (as calls.ts's mapValues): that costs this
    // hot path about a third more time.
    for (let i = 0; i < n; i++) {
      if (!s.present[i]) continue;
      const v = s.values[i]!;
      const x = scalar[i]!;
      // A comparison keeps the vector element's own value, whichever side it is on.
      const r = swap ? applyOp(arith, cmp, e.returnBool, x, v, v) : applyOp(arith, cmp, e.returnBool, v, x, v);
      if (r === undefined) continue;
      values[i] = r;
      present[i] = 1;
      any = true;
    }
    if (!any) continue;
    out.push({
      labels: dropsName && !delayed ? dropMetricName(s.labels) : s.labels,
      values,
      present,
      dropName: dropsName || s.dropName,
    });
  }
  return { type: 'vector', series: delayed || !dropsName || shareName(vec.series) ? out : mergeSameLabels(out) };
}

/**
 * One step of an arithmetic or comparison operator, `a op b`: the result, or undefined where a
 * filtering comparison drops the sample, which otherwise keeps `kept` (the vector element's value).
 */
function applyOp(arith: Arith | undefined, cmp: Compare | undefined, returnBool: boolean, a: number, b: number, kept: number): number | undefined {
  if (arith) return arith(a, b);
  const keep = cmp!(a, b);
  if (returnBool) return keep ? 1 : 0;
  return keep ? kept : undefined;
}

/** The function computing the matching signature of a label set. */
export function signatureFn(m: VectorMatching): (ls: Labels) => string {
  const names = [...m.labels].sort();
  if (m.on) return (ls) => keyOn(ls, names);
  return (ls) => keyWithout(ls, names, true);
}

function setOp(op: BinaryOp, l: VectorValue, r: VectorValue, m: VectorMatching, n: number): VectorValue {
  const sig = signatureFn(m);
  const anyBySig = (series: StepSeries[]): Map<string, Uint8Array> => {
    const map = new Map<string, Uint8Array>();
    for (const s of series) {
      const k = sig(s.labels);
      let a = map.get(k);
      if (!a) {
        a = new Uint8Array(n);
        map.set(k, a);
      }
      for (let i = 0; i < n; i++) a[i]! |= s.present[i]!;
    }
    return map;
  };
  const out: StepSeries[] = [];
  const filtered = (s: StepSeries, other: Uint8Array | undefined, keepWhenOther: boolean): StepSeries | null => {
    const present = new Uint8Array(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      if (!s.present[i]) continue;
      const o = other ? other[i]! === 1 : false;
      if (o === keepWhenOther) {
        present[i] = 1;
        any = true;
      }
    }
    return any ? { labels: s.labels, values: s.values, present, dropName: s.dropName } : null;
  };
  if (op === 'and') {
    const rAny = anyBySig(r.series);
    for (const s of l.series) {
      const f = filtered(s, rAny.get(sig(s.labels)), true);
      if (f) out.push(f);
    }
  } else if (op === 'unless') {
    const rAny = anyBySig(r.series);
    for (const s of l.series) {
      const f = filtered(s, rAny.get(sig(s.labels)), false);
      if (f) out.push(f);
    }
  } else {
    const lAny = anyBySig(l.series);
    out.push(...l.series);
    for (const s of r.series) {
      const f = filtered(s, lAny.get(sig(s.labels)), false);
      if (f) out.push(f);
    }
  }
  return { type: 'vector', series: mergeSameLabels(out) };
}

/** Labels of a result element, as Prometheus's resultMetric builds them. */
function resultLabels(lhs: Labels, rhs: Labels, op: BinaryOp, m: VectorMatching, dropForBool: boolean): Labels {
  let ls: Label[] = lhs.slice();
  if (changesMetric(op) || dropForBool) ls = ls.filter((x) => x.name !== METRIC_NAME);
  if (m.card === 'one-to-one') {
    const names = new Set(m.labels);
    ls = m.on ? ls.filter((x) => names.has(x.name)) : ls.filter((x) => !names.has(x.name));
  }
  if (m.include.length === 0) return ls;
  const map = new Map<string, string>(ls.map((x) => [x.name, x.value]));
  for (const name of m.include) {
    let v = '';
    for (const x of rhs) if (x.name === name) v = x.value;
    if (v !== '') map.set(name, v);
    else map.delete(name);
  }
  return labelsFromPairs(map);
}

function matchGroupLabels(ls: Labels, m: VectorMatching): string {
  if (m.on) {
    const names = new Set(m.labels);
    return formatLabels(ls.filter((x) => names.has(x.name)));
  }
  const names = new Set(m.labels);
  return formatLabels(ls.filter((x) => !names.has(x.name) && x.name !== METRIC_NAME));
}

function vectorVector(ev: Evaluator, e: BinaryExpr, lv: VectorValue, rv: VectorValue, m: VectorMatching, n: number): VectorValue {
  const delayed = ev.ctx.opts.delayedNameRemoval;
  const sig = signatureFn(m);
  const swap = m.card === 'one-to-many';
  // After the swap, `many` is the side whose series carry through, `one` the side matched once.
  const many = swap ? rv.series : lv.series;
  const one = swap ? lv.series : rv.series;
  if (many.length === 0 || one.length === 0) return { type: 'vector', series: [] };
  const arith = ARITH[e.op];
  const cmp = COMPARE[e.op];

  const oneBySig = new Map<string, StepSeries[]>();
  for (const s of one) {
    const k = sig(s.labels);
    const g = oneBySig.get(k);
    if (g) g.push(s);
    else oneBySig.set(k, [s]);
  }
  // The `one` side must be unique per signature at every step.
  for (const g of oneBySig.values()) {
    if (g.length < 2) continue;
    for (let i = 0; i < n; i++) {
      let first: StepSeries | undefined;
      for (const s of g) {
        if (!s.present[i]) continue;
        if (first) {
          const side = swap ? 'left' : 'right';
          throw new PromQLError(
            'execution',
            `found duplicate series for the match group ${matchGroupLabels(s.labels, m)} on the ${side} hand-side of the operation: [${formatLabels(s.labels)}, ${formatLabels(first.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`,
          );
        }
        first = s;
      }
    }
  }

  const manyBySig = new Map<string, StepSeries[]>();
  for (const s of many) {
    const k = sig(s.labels);
    if (!oneBySig.has(k)) continue;
    const g = manyBySig.get(k);
    if (g) g.push(s);
    else manyBySig.set(k, [s]);
  }

  const out: StepSeries[] = [];
  for (const [k, manyGroup] of manyBySig) {
    const oneGroup = oneBySig.get(k)!;
    // Result labels for every (many, one) pair in the group.
    const pairLabels: Labels[][] = manyGroup.map((ms) =>
      oneGroup.map((os) => {
        const ls = resultLabels(ms.labels, os.labels, e.op, m, e.returnBool && !delayed);
        return ls;
      }),
    );
    if (manyGroup.length > 1) checkGroupUniqueness(manyGroup, oneGroup, pairLabels, m, n);
    for (let a = 0; a < manyGroup.length; a++) {
      const ms = manyGroup[a]!;
      for (let b = 0; b < oneGroup.length; b++) {
        const os = oneGroup[b]!;
        const values = new Float64Array(n);
        const present = new Uint8Array(n);
        let any = false;
        for (let i = 0; i < n; i++) {
          if (!ms.present[i] || !os.present[i]) continue;
          const x = ms.values[i]!;
          const y = os.values[i]!;
          const fl = swap ? y : x;
          const r = applyOp(arith, cmp, e.returnBool, fl, swap ? x : y, fl);
          if (r === undefined) continue;
          values[i] = r;
          present[i] = 1;
          any = true;
        }
        if (any) out.push({ labels: pairLabels[a]![b]!, values, present, dropName: e.returnBool });
      }
    }
  }
  return { type: 'vector', series: mergeSameLabels(out) };
}

/**
 * One-to-one matching allows one `many` series per signature at a step; many-to-one
 * allows several as long as their result labels differ. Checked per step, as Prometheus does.
 */
function checkGroupUniqueness(manyGroup: StepSeries[], oneGroup: StepSeries[], pairLabels: Labels[][], m: VectorMatching, n: number): void {
  const oneToOne = m.card === 'one-to-one';
  if (!oneToOne) {
    // Fast path: result labels all distinct for each `one` series means no step can collide.
    let collide = false;
    for (let b = 0; b < oneGroup.length && !collide; b++) {
      const seen = new Set<string>();
      for (let a = 0; a < manyGroup.length; a++) {
        const key = labelsKey(pairLabels[a]![b]!);
        if (seen.has(key)) {
          collide = true;
          break;
        }
        seen.add(key);
      }
    }
    if (!collide) return;
  }
  for (let i = 0; i < n; i++) {
    let b = -1;
    for (let j = 0; j < oneGroup.length; j++) if (oneGroup[j]!.present[i]) b = j;
    if (b < 0) continue;
    let count = 0;
    const seen = new Set<string>();
    for (let a = 0; a < manyGroup.length; a++) {
      if (!manyGroup[a]!.present[i]) continue;
      count++;
      if (oneToOne) {
        if (count > 1) throw new PromQLError('execution', 'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
        continue;
      }
      const key = labelsKey(pairLabels[a]![b]!);
      if (seen.has(key)) throw new PromQLError('execution', 'multiple matches for labels: grouping labels must ensure unique matches');
      seen.add(key);
    }
  }
}
