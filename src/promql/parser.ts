/** Placeholder until the parser lands; the API below is the contract. */
import type { Expr } from './ast.js';
/** Parses a PromQL expression; throws ParseError with Prometheus's position and message. */
export function parseExpr(_q: string): Expr {
  throw new Error('not implemented');
}
