/** Placeholder until the evaluator lands; the API below is the contract. */
import type { Expr } from './ast.js';
import type { Queryable } from '../storage/queryable.js';
import type { QueryResult } from './result.js';

export interface EngineOptions {
  /** How far back an instant selector looks for a sample, ms (default 5m). */
  lookbackDelta?: number;
  /** Most samples a query may hold (default 50 million, as Prometheus). */
  maxSamples?: number;
  /** Query timeout in ms (default 2m, as Prometheus). */
  timeoutMs?: number;
  /** Most points per series in a range query (default 11,000, as Prometheus's API). */
  maxPointsPerSeries?: number;
  /** Subquery step when none is written, ms (default 1m). */
  noStepSubqueryIntervalMs?: number;
  /** Keep __name__ until the end of evaluation (Prometheus's promql-delayed-name-removal). */
  delayedNameRemoval?: boolean;
}

export interface QueryOptions {
  signal?: AbortSignal;
  lookbackDelta?: number;
}

export class Engine {
  constructor(readonly opts: EngineOptions = {}) {}
  async instantQuery(_s: Queryable, _q: string | Expr, _t: number, _o?: QueryOptions): Promise<QueryResult> {
    throw new Error('not implemented');
  }
  async rangeQuery(_s: Queryable, _q: string | Expr, _a: number, _b: number, _step: number, _o?: QueryOptions): Promise<QueryResult> {
    throw new Error('not implemented');
  }
}
