/**
 * What every evaluation step shares: options, limits, annotations, and the series
 * fetched for each selector before evaluation began.
 */

import type { Series } from '../../storage/queryable.js';
import type { VectorSelector } from '../ast.js';
import { PromQLError, positionString } from '../errors.js';
import type { PosRange } from '../ast.js';
import type { RangeMemo } from './range-memo.js';

/** Annotations collected during evaluation, as Prometheus reports them. */
export class Annotations {
  readonly warnings = new Set<string>();
  readonly infos = new Set<string>();
  constructor(private readonly query: string) {}

  /** Adds a warning, suffixed with the position of the expression it concerns. */
  warn(msg: string, pos?: PosRange): void {
    this.warnings.add(`PromQL warning: ${msg}${this.at(pos)}`);
  }

  /** Adds an info annotation, suffixed with the position of the expression it concerns. */
  info(msg: string, pos?: PosRange): void {
    this.infos.add(`PromQL info: ${msg}${this.at(pos)}`);
  }

  private at(pos?: PosRange): string {
    return pos ? ` (${positionString(this.query, pos.start)})` : '';
  }
}

export interface EvalOptions {
  readonly lookbackDelta: number;
  readonly delayedNameRemoval: boolean;
  readonly noStepSubqueryInterval: number;
  readonly maxSamples: number;
  /** Absolute deadline (Date.now() ms). */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  /** The clock the deadline is on. */
  readonly now: () => number;
  /** Where range-function outputs are remembered across queries (storage that never changes). */
  readonly rangeMemo?: RangeMemo;
}

/** Shared state of one query evaluation. */
export class EvalContext {
  /** Samples currently held, for the max-samples limit. */
  private held = 0;
  peak = 0;
  total = 0;

  constructor(
    readonly opts: EvalOptions,
    readonly selected: ReadonlyMap<VectorSelector, Series[]>,
    readonly annotations: Annotations,
  ) {}

  /** Samples currently held (vector points of live intermediate results). */
  get current(): number {
    return this.held;
  }

  /**
   * Records that a node finished: its inputs are released and its output of `size`
   * samples is held on top of what was held before it started; throws past the limit.
   */
  settle(before: number, size: number): void {
    this.held = before + size;
    if (this.held > this.peak) this.peak = this.held;
    if (this.held > this.opts.maxSamples) {
      throw new PromQLError('execution', 'query processing would load too many samples into memory in query execution');
    }
  }

  /**
   * Counts samples a selector or range function processed, as Prometheus's
   * totalQueryableSamples does: a vector selector's points, and every window's samples at
   * every step.
   */
  processed(n: number): void {
    this.total += n;
  }

  /** Throws when the query ran past its deadline or was cancelled; called once per series and node. */
  checkDeadline(): void {
    if (this.opts.signal?.aborted) throw new PromQLError('canceled', 'query was canceled in expression evaluation');
    if (this.opts.now() > this.opts.deadline) throw new PromQLError('timeout', 'query timed out in expression evaluation');
  }
}
