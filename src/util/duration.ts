/** Prometheus's duration syntax (common/model.ParseDuration): units y w d h m s ms, largest first, each once. */

const PATTERN = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Milliseconds per unit, in the order the pattern captures them. */
export const DURATION_UNIT_MS: readonly number[] = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];

/** Largest duration Go's time.Duration holds (math.MaxInt64 ns), in ms. */
export const MAX_DURATION_MS = 9_223_372_036_854;

/** Parses a Prometheus duration (`1h30m`, `90s`, `0`) to ms; undefined when it is not one or overflows. */
export function parseModelDuration(s: string): number | undefined {
  if (s === '0') return 0;
  if (s === '') return undefined;
  const m = PATTERN.exec(s);
  if (!m) return undefined;
  let ms = 0;
  for (let k = 0; k < DURATION_UNIT_MS.length; k++) if (m[k + 1] !== undefined) ms += Number(m[k + 1]) * DURATION_UNIT_MS[k]!;
  return ms <= MAX_DURATION_MS ? ms : undefined;
}

/** Milliseconds as people read a lead or a delay: 4m30s, -2m. */
export function ms(v: number): string {
  const sign = v < 0 ? '-' : '';
  let s = Math.round(Math.abs(v) / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const out = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`;
  return sign + out;
}
