/**
 * Which subtrees an engine can evaluate on its own. A subtree "keeps the partition" when
 * evaluating it on every engine separately and taking the union gives the global answer:
 * no series of one partition ever meets a series of another inside it, and every output
 * series still carries its partition's labels.
 */

import type { Expr, VectorSelector } from '../promql/ast.js';
import { walk } from '../promql/ast.js';
import { typeOf } from '../promql/signatures.js';

/** Functions whose output is not a per-series function of their input (or has no input series). */
const CROSS_SERIES_FUNCS = new Set([
  'absent',
  'absent_over_time',
  'scalar',
  'vector',
  'time',
  'pi',
  'sort',
  'sort_desc',
  'sort_by_label',
  'sort_by_label_desc',
]);

/** Every vector selector in the subtree (matrix selectors' inner selectors included). */
export function selectorsOf(e: Expr): VectorSelector[] {
  const out: VectorSelector[] = [];
  walk(e, (n) => {
    if (n.kind === 'VectorSelector') out.push(n);
  });
  return out;
}

/** True when the subtree reads no series (literals, time(), arithmetic on them). */
export function isConstant(e: Expr): boolean {
  return selectorsOf(e).length === 0;
}

const keepsLabels = (grouping: readonly string[], without: boolean, p: readonly string[]): boolean =>
  without ? p.every((l) => !grouping.includes(l)) : p.every((l) => grouping.includes(l));

/** True when per-engine evaluation of `e`, unioned, equals its global evaluation. */
export function keepsPartition(e: Expr, p: readonly string[]): boolean {
  switch (e.kind) {
    case 'VectorSelector':
    case 'MatrixSelector':
      return true;
    case 'NumberLiteral':
    case 'StringLiteral':
      return false;
    case 'ParenExpr':
    case 'UnaryExpr':
    case 'SubqueryExpr':
      return keepsPartition(e.expr, p);
    case 'Call': {
      if (CROSS_SERIES_FUNCS.has(e.func)) return false;
      if ((e.func === 'label_replace' || e.func === 'label_join') && e.args[1]?.kind === 'StringLiteral' && p.includes(e.args[1].value)) return false;
      let seriesArgs = 0;
      for (const a of e.args) {
        const t = typeOf(a);
        if (t === 'vector' || t === 'matrix') {
          if (!keepsPartition(a, p)) return false;
          seriesArgs++;
        } else if (!isConstant(a)) return false;
      }
      return seriesArgs > 0;
    }
    case 'AggregateExpr': {
      if (e.param && !isConstant(e.param)) return false;
      if (e.op === 'count_values' && e.param?.kind === 'StringLiteral' && p.includes(e.param.value)) return false;
      return keepsLabels(e.grouping, e.without, p) && keepsPartition(e.expr, p);
    }
    case 'BinaryExpr': {
      const lt = typeOf(e.lhs);
      const rt = typeOf(e.rhs);
      if (lt === 'scalar' && rt === 'scalar') return false;
      if (lt === 'scalar') return isConstant(e.lhs) && keepsPartition(e.rhs, p);
      if (rt === 'scalar') return isConstant(e.rhs) && keepsPartition(e.lhs, p);
      const m = e.matching;
      const matchKeeps = !m || (m.on ? p.every((l) => m.labels.includes(l)) : p.every((l) => !m.labels.includes(l)));
      return matchKeeps && keepsPartition(e.lhs, p) && keepsPartition(e.rhs, p);
    }
  }
}
