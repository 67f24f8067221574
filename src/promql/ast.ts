/** The typed PromQL syntax tree that the parser builds and the evaluator walks. */

import type { LabelMatcher } from '../storage/matchers.js';

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** Character offsets [start, end) into the query text. */
export interface PosRange {
  readonly start: number;
  readonly end: number;
}

export type AggregateOp =
  | 'sum'
  | 'avg'
  | 'count'
  | 'min'
  | 'max'
  | 'group'
  | 'stddev'
  | 'stdvar'
  | 'topk'
  | 'bottomk'
  | 'limitk'
  | 'limit_ratio'
  | 'quantile'
  | 'count_values';

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '^' | 'atan2';
export type ComparisonOp = '==' | '!=' | '>' | '<' | '>=' | '<=';
export type SetOp = 'and' | 'or' | 'unless';
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;

/** `@` modifier: a fixed time in ms, or the query's start/end (resolved at evaluation). */
export type AtModifier = { readonly kind: 'time'; readonly ms: number } | { readonly kind: 'start' } | { readonly kind: 'end' };

export interface NumberLiteral {
  readonly kind: 'NumberLiteral';
  readonly value: number;
  readonly pos: PosRange;
}

export interface StringLiteral {
  readonly kind: 'StringLiteral';
  readonly value: string;
  readonly pos: PosRange;
}

export interface VectorSelector {
  readonly kind: 'VectorSelector';
  /** The metric name when given outside the braces (for printing). */
  readonly name: string | undefined;
  readonly matchers: readonly LabelMatcher[];
  /** Offset in ms (positive looks back). */
  offset: number;
  at: AtModifier | undefined;
  readonly pos: PosRange;
}

export interface MatrixSelector {
  readonly kind: 'MatrixSelector';
  readonly selector: VectorSelector;
  /** Range in ms. */
  readonly range: number;
  readonly pos: PosRange;
}

export interface SubqueryExpr {
  readonly kind: 'SubqueryExpr';
  readonly expr: Expr;
  readonly range: number;
  /** Resolution in ms; 0 means the engine's default. */
  readonly step: number;
  offset: number;
  at: AtModifier | undefined;
  readonly pos: PosRange;
}

export interface Call {
  readonly kind: 'Call';
  readonly func: string;
  readonly args: readonly Expr[];
  readonly pos: PosRange;
}

export interface AggregateExpr {
  readonly kind: 'AggregateExpr';
  readonly op: AggregateOp;
  readonly expr: Expr;
  readonly param: Expr | undefined;
  /** Grouping labels, sorted and unique. */
  readonly grouping: readonly string[];
  readonly without: boolean;
  /** True when `by`/`without` was written (even if empty), for printing. */
  readonly hasGrouping: boolean;
  readonly pos: PosRange;
}

export type Cardinality = 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';

export interface VectorMatching {
  readonly card: Cardinality;
  /** True for on(...), false for ignoring(...) or no clause. */
  readonly on: boolean;
  /** The on/ignoring labels, sorted and unique. */
  readonly labels: readonly string[];
  /** The group_left/group_right extra labels, in written order. */
  readonly include: readonly string[];
  /** True when on()/ignoring() was written, for printing. */
  readonly explicit: boolean;
}

export interface BinaryExpr {
  readonly kind: 'BinaryExpr';
  readonly op: BinaryOp;
  readonly lhs: Expr;
  readonly rhs: Expr;
  readonly returnBool: boolean;
  /** Set when both sides are vectors. */
  readonly matching: VectorMatching | undefined;
  readonly pos: PosRange;
}

export interface UnaryExpr {
  readonly kind: 'UnaryExpr';
  readonly op: '+' | '-';
  readonly expr: Expr;
  readonly pos: PosRange;
}

export interface ParenExpr {
  readonly kind: 'ParenExpr';
  readonly expr: Expr;
  readonly pos: PosRange;
}

export type Expr =
  | NumberLiteral
  | StringLiteral
  | VectorSelector
  | MatrixSelector
  | SubqueryExpr
  | Call
  | AggregateExpr
  | BinaryExpr
  | UnaryExpr
  | ParenExpr;

/** Every aggregation operator. */
export const AGGREGATE_OPS: ReadonlySet<string> = new Set<AggregateOp>([
  'sum',
  'avg',
  'count',
  'min',
  'max',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'limitk',
  'limit_ratio',
  'quantile',
  'count_values',
]);

export const COMPARISON_OPS: ReadonlySet<string> = new Set(['==', '!=', '>', '<', '>=', '<=']);
export const SET_OPS: ReadonlySet<string> = new Set(['and', 'or', 'unless']);

/** True for ==, !=, >, <, >=, <=. */
export function isComparison(op: BinaryOp): op is ComparisonOp {
  return COMPARISON_OPS.has(op);
}

/** True for and, or, unless. */
export function isSetOp(op: BinaryOp): op is SetOp {
  return SET_OPS.has(op);
}

/** Calls `fn` on every node, parents before children; `path` holds the ancestors. */
export function walk(e: Expr, fn: (e: Expr, path: readonly Expr[]) => void, path: Expr[] = []): void {
  fn(e, path);
  path.push(e);
  for (const c of children(e)) walk(c, fn, path);
  path.pop();
}

/** The direct children of a node, in source order. */
export function children(e: Expr): Expr[] {
  switch (e.kind) {
    case 'MatrixSelector':
      return [e.selector];
    case 'SubqueryExpr':
    case 'UnaryExpr':
    case 'ParenExpr':
      return [e.expr];
    case 'Call':
      return [...e.args];
    case 'AggregateExpr':
      return e.param ? [e.param, e.expr] : [e.expr];
    case 'BinaryExpr':
      return [e.lhs, e.rhs];
    default:
      return [];
  }
}

/** Rebuilds the tree bottom-up where `fn` returns a replacement; untouched subtrees are shared. */
export function mapExpr(e: Expr, fn: (e: Expr) => Expr | undefined): Expr {
  const r = fn(e);
  if (r) return r;
  switch (e.kind) {
    case 'MatrixSelector': {
      const s = mapExpr(e.selector, fn);
      return s === e.selector ? e : ({ ...e, selector: s as VectorSelector } satisfies MatrixSelector);
    }
    case 'SubqueryExpr':
    case 'ParenExpr':
    case 'UnaryExpr': {
      const x = mapExpr(e.expr, fn);
      return x === e.expr ? e : ({ ...e, expr: x } as typeof e);
    }
    case 'Call': {
      const args = e.args.map((a) => mapExpr(a, fn));
      return args.every((a, i) => a === e.args[i]) ? e : { ...e, args };
    }
    case 'AggregateExpr': {
      const x = mapExpr(e.expr, fn);
      const param = e.param && mapExpr(e.param, fn);
      return x === e.expr && param === e.param ? e : { ...e, expr: x, param };
    }
    case 'BinaryExpr': {
      const lhs = mapExpr(e.lhs, fn);
      const rhs = mapExpr(e.rhs, fn);
      return lhs === e.lhs && rhs === e.rhs ? e : { ...e, lhs, rhs };
    }
    default:
      return e;
  }
}
