/**
 * erfc and the Mann-Whitney U test against reference values computed independently with
 * Python (math.erfc; scipy.stats.mannwhitneyu, method="asymptotic", use_continuity=True).
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { erfc, mannWhitneySorted, mannWhitneyU, normalCdf } from '../../src/slo/stats.js';

const S = suite('slo stats');
const close = (a: number, b: number, rel: number, what: string) => assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-300), `${what}: ${a} vs ${b}`);

S('erfc matches math.erfc across its ranges', () => {
  const ref: [number, number][] = [
    [-3, 1.9999779095030015],
    [-1.2, 1.9103139782296354],
    [0, 1.0],
    [0.3, 0.6713732405408726],
    [0.49, 0.4883317388114769],
    [0.51, 0.4707563801588296],
    [1.5, 0.033894853524689274],
    [3.9, 3.479224859723177e-8],
    [4.1, 6.700027654084918e-9],
    [6, 2.1519736712498916e-17],
  ];
  for (const [x, want] of ref) close(erfc(x), want, 1e-13, `erfc(${x})`);
  close(normalCdf(1.959963984540054), 0.975, 1e-12, 'Φ(1.96)');
  assert.ok(Number.isNaN(erfc(NaN)));
});

S('Mann-Whitney U, p-values one- and two-sided, with ties, as scipy computes them', () => {
  const ref: [number[], number[], number, number, number][] = [
    [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], 0, 0.9966923245172357, 0.012185780355344813],
    [[6, 7, 8, 9, 10, 11], [1, 2, 3, 4, 5], 30, 0.00405655863278289, 0.00811311726556578],
    [[1, 2, 2, 3, 3, 3, 4], [2, 3, 3, 4, 4, 5, 5, 6], 11, 0.98122802559914, 0.04988443697992588],
    [[0.01, 0.02, 0.015, 0.03, 0.011, 0.012, 0.05, 0.02], [0.01, 0.011, 0.012, 0.009, 0.013, 0.01, 0.011], 46.5, 0.017778952849960478, 0.035557905699920955],
  ];
  for (const [a, b, u, pg, pt] of ref) {
    const r = mannWhitneyU(a, b)!;
    assert.is(r.u, u);
    close(r.pGreater, pg, 1e-9, `pGreater ${a}`);
    close(r.pTwoSided, pt, 1e-9, `pTwoSided ${a}`);
    close(r.effect, u / (a.length * b.length), 1e-15, 'effect');
    // Given the same samples already sorted, the test skips its sort and answers the same.
    const asc = (xs: number[]) => [...xs].sort((x, y) => x - y);
    const s = mannWhitneySorted(asc(a), asc(b))!;
    assert.equal([s.u, s.z, s.pGreater, s.pTwoSided, s.effect], [r.u, r.z, r.pGreater, r.pTwoSided, r.effect]);
  }
});

S('degenerate samples: empty is undefined, all equal gives p = 1, NaNs are dropped', () => {
  assert.is(mannWhitneyU([], [1]), undefined);
  assert.is(mannWhitneyU([NaN], [1]), undefined);
  const same = mannWhitneyU([2, 2, 2], [2, 2])!;
  assert.is(same.pGreater, 1);
  assert.is(same.pTwoSided, 1);
  assert.is(same.effect, 0.5);
  assert.is(mannWhitneyU([1, NaN, 3], [2])!.n1, 2);
});

S.run();
