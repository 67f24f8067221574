/**
 * Prometheus staleness markers: a NaN with a specific payload (0x7ff0000000000002).
 * The payload is checked through an integer view of the same buffer, never through a
 * JS number, because the language does not promise to keep NaN payloads intact.
 */

export const STALE_HI = 0x7ff00000;
export const STALE_LO = 0x00000002;

/** Writes a staleness marker into `values[i]`. */
export function setStale(values: Float64Array, i: number): void {
  const u = new Uint32Array(values.buffer, values.byteOffset + i * 8, 2);
  u[0] = STALE_LO;
  u[1] = STALE_HI;
}

/** True when `values[i]` holds a staleness marker (rather than an ordinary NaN). */
export function isStaleAt(values: Float64Array, i: number): boolean {
  const v = values[i]!;
  if (v === v) return false;
  const u = new Uint32Array(values.buffer, values.byteOffset + i * 8, 2);
  return u[0] === STALE_LO && u[1] === STALE_HI;
}

/** True when the array holds at least one staleness marker. */
export function hasStale(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== v && isStaleAt(values, i)) return true;
  }
  return false;
}
