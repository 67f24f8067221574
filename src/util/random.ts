/**
 * Seeded randomness for generated data (fixtures, tests, benchmarks). Deterministic by design:
 * integer arithmetic for the generator and + - only for the noise, so the same seed gives the
 * same numbers on every run and every Node version (no Math.random, no transcendental functions,
 * whose last bits may differ between engines).
 */

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32: a small seeded 32-bit PRNG with values in [0, 1). */
export function prng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Roughly normal noise with mean 0 and standard deviation 1 (Irwin-Hall of 12 uniforms). */
export function gauss(rnd: Rng): number {
  // The sum of 12 uniforms has variance 12 * 1/12 = 1; no sqrt or log keeps it exact everywhere.
  let s = 0;
  for (let i = 0; i < 12; i++) s += rnd();
  return s - 6;
}
