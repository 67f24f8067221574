import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lowerBound, upperBound } from '../../src/storage/queryable.js';
import { prng } from '../../src/util/random.js';

test('lowerBound/upperBound agree with a linear scan on irregular series', () => {
  const rnd = prng(7);
  let checks = 0;
  for (let trial = 0; trial < 5000; trial++) {
    const n = Math.floor(rnd() * 80);
    const ts = new Float64Array(n);
    let t = Math.floor(rnd() * 100);
    for (let i = 0; i < n; i++) {
      // Mostly regular spacing with occasional gaps, as scraped series look.
      t += 1 + Math.floor(rnd() * (rnd() < 0.1 ? 1000 : 10));
      ts[i] = t;
    }
    for (let q = 0; q < 10; q++) {
      const x = Math.floor(rnd() * (t + 200)) - 100;
      const from = Math.floor(rnd() * (n + 1));
      let lo = from;
      while (lo < n && ts[lo]! < x) lo++;
      let hi = from;
      while (hi < n && ts[hi]! <= x) hi++;
      assert.is(lowerBound(ts, x, from), lo, `lowerBound(${x}) from ${from} in [${ts.join(',')}]`);
      assert.is(upperBound(ts, x, from), hi, `upperBound(${x}) from ${from}`);
      checks++;
    }
  }
  assert.is(checks, 50000);
});

test('bounds at the edges and on empty arrays', () => {
  const ts = Float64Array.from([10, 20, 30]);
  assert.is(lowerBound(ts, 10), 0);
  assert.is(upperBound(ts, 10), 1);
  assert.is(lowerBound(ts, 31), 3);
  assert.is(upperBound(ts, 9), 0);
  assert.is(lowerBound(new Float64Array(0), 5), 0);
});

test.run();
