/** Function signatures, used by the parser's type checks and by the evaluator's dispatch. */

import type { Expr, ValueType } from './ast.js';

export interface FunctionSignature {
  readonly name: string;
  readonly args: readonly ValueType[];
  /** 0: exact arity; n > 0: the last n args are optional; -1: the last arg repeats without bound. */
  readonly variadic: number;
  readonly returns: ValueType;
  /** Needs native histograms, which this engine does not evaluate yet. */
  readonly nativeHistogram?: boolean;
}

const V: ValueType = 'vector';
const M: ValueType = 'matrix';
const S: ValueType = 'scalar';
const STR: ValueType = 'string';

const defs: [string, ValueType[], number, ValueType, boolean?][] = [
  ['abs', [V], 0, V],
  ['absent', [V], 0, V],
  ['absent_over_time', [M], 0, V],
  ['acos', [V], 0, V],
  ['acosh', [V], 0, V],
  ['asin', [V], 0, V],
  ['asinh', [V], 0, V],
  ['atan', [V], 0, V],
  ['atanh', [V], 0, V],
  ['avg_over_time', [M], 0, V],
  ['ceil', [V], 0, V],
  ['changes', [M], 0, V],
  ['clamp', [V, S, S], 0, V],
  ['clamp_max', [V, S], 0, V],
  ['clamp_min', [V, S], 0, V],
  ['cos', [V], 0, V],
  ['cosh', [V], 0, V],
  ['count_over_time', [M], 0, V],
  ['days_in_month', [V], 1, V],
  ['day_of_month', [V], 1, V],
  ['day_of_week', [V], 1, V],
  ['day_of_year', [V], 1, V],
  ['deg', [V], 0, V],
  ['delta', [M], 0, V],
  ['deriv', [M], 0, V],
  ['double_exponential_smoothing', [M, S, S], 0, V],
  ['exp', [V], 0, V],
  ['first_over_time', [M], 0, V],
  ['floor', [V], 0, V],
  ['histogram_avg', [V], 0, V, true],
  ['histogram_count', [V], 0, V, true],
  ['histogram_fraction', [S, S, V], 0, V, true],
  ['histogram_quantile', [S, V], 0, V],
  ['histogram_stddev', [V], 0, V, true],
  ['histogram_stdvar', [V], 0, V, true],
  ['histogram_sum', [V], 0, V, true],
  ['hour', [V], 1, V],
  ['idelta', [M], 0, V],
  ['increase', [M], 0, V],
  ['irate', [M], 0, V],
  ['label_join', [V, STR, STR, STR], -1, V],
  ['label_replace', [V, STR, STR, STR, STR], 0, V],
  ['last_over_time', [M], 0, V],
  ['ln', [V], 0, V],
  ['log10', [V], 0, V],
  ['log2', [V], 0, V],
  ['mad_over_time', [M], 0, V],
  ['max_over_time', [M], 0, V],
  ['min_over_time', [M], 0, V],
  ['minute', [V], 1, V],
  ['month', [V], 1, V],
  ['pi', [], 0, S],
  ['predict_linear', [M, S], 0, V],
  ['present_over_time', [M], 0, V],
  ['quantile_over_time', [S, M], 0, V],
  ['rad', [V], 0, V],
  ['rate', [M], 0, V],
  ['resets', [M], 0, V],
  ['round', [V, S], 1, V],
  ['scalar', [V], 0, S],
  ['sgn', [V], 0, V],
  ['sin', [V], 0, V],
  ['sinh', [V], 0, V],
  ['sort', [V], 0, V],
  ['sort_by_label', [V, STR], -1, V],
  ['sort_by_label_desc', [V, STR], -1, V],
  ['sort_desc', [V], 0, V],
  ['sqrt', [V], 0, V],
  ['stddev_over_time', [M], 0, V],
  ['stdvar_over_time', [M], 0, V],
  ['sum_over_time', [M], 0, V],
  ['tan', [V], 0, V],
  ['tanh', [V], 0, V],
  ['time', [], 0, S],
  ['timestamp', [V], 0, V],
  ['ts_of_first_over_time', [M], 0, V],
  ['ts_of_last_over_time', [M], 0, V],
  ['ts_of_max_over_time', [M], 0, V],
  ['ts_of_min_over_time', [M], 0, V],
  ['vector', [S], 0, V],
  ['year', [V], 1, V],
];

/** All functions by name. */
export const FUNCTIONS: ReadonlyMap<string, FunctionSignature> = new Map(
  defs.map(([name, args, variadic, returns, nh]) => [name, { name, args, variadic, returns, nativeHistogram: nh === true }]),
);

/**
 * Functions whose value depends on the evaluation time even when their arguments do not
 * (so an expression using them is not step-invariant under `@`).
 */
export const AT_MODIFIER_UNSAFE_FUNCTIONS: ReadonlySet<string> = new Set([
  'days_in_month',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'hour',
  'minute',
  'month',
  'year',
  'predict_linear',
  'time',
  'timestamp',
]);

/** The value type an expression evaluates to. */
export function typeOf(e: Expr): ValueType {
  switch (e.kind) {
    case 'NumberLiteral':
      return 'scalar';
    case 'StringLiteral':
      return 'string';
    case 'VectorSelector':
      return 'vector';
    case 'MatrixSelector':
    case 'SubqueryExpr':
      return 'matrix';
    case 'Call':
      return FUNCTIONS.get(e.func)?.returns ?? 'vector';
    case 'AggregateExpr':
      return 'vector';
    case 'BinaryExpr':
      return typeOf(e.lhs) === 'scalar' && typeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'UnaryExpr':
    case 'ParenExpr':
      return typeOf(e.expr);
  }
}

/** Human name of a value type, as Prometheus prints it in errors. */
export function typeName(t: ValueType): string {
  switch (t) {
    case 'scalar':
      return 'scalar';
    case 'string':
      return 'string';
    case 'vector':
      return 'instant vector';
    case 'matrix':
      return 'range vector';
  }
}
