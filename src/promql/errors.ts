/** Errors carrying the Prometheus HTTP API errorType, so every front end reports them alike. */

export type ErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'internal' | 'unavailable' | 'not_found';

/** A query failure with Prometheus's errorType. */
export class PromQLError extends Error {
  constructor(
    readonly errorType: ErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'PromQLError';
  }
}

/** A parse or type-check error at a position in the query text. */
export class ParseError extends PromQLError {
  constructor(
    message: string,
    readonly start: number,
    readonly end: number,
    readonly query: string,
  ) {
    super('bad_data', `${positionString(query, start)}: parse error: ${message}`);
    this.name = 'ParseError';
  }
}

/** "line:column" (both 1-based) of a character offset, as Prometheus prints positions. */
export function positionString(query: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < query.length; i++) {
    if (query[i] === '\n') {
      line++;
      col = 1;
    } else col++;
  }
  return `${line}:${col}`;
}

/** Raised when a query exceeds one of the engine's limits. */
export function limitError(message: string): PromQLError {
  return new PromQLError('execution', message);
}
