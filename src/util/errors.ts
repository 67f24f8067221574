/** What Node's errors carry, read the same way wherever a network call fails. */

/** The `code` of an error (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, …), looked for along its causes. */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 5; i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') return c;
    e = (e as { cause?: unknown }).cause;
  }
  // Connecting to every address of a name (happy eyeballs) fails with one error per address.
  if (err instanceof AggregateError) for (const e of err.errors) if (typeof (e as { code?: unknown }).code === 'string') return (e as { code: string }).code;
  return undefined;
}
