import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatE, formatF, formatG, formatShortest, parseFloat, parseFloatOrError } from '../../src/util/gofloat.js';
import { prng } from '../../src/util/random.js';

/** Same double, -0 and NaN included. */
function same(a: number | undefined, b: number): boolean {
  return a !== undefined && (Object.is(a, b) || (a !== a && b !== b));
}

function randomDouble(rnd: () => number): number {
  const u = new Uint32Array([Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * 2 ** 32)]);
  return new Float64Array(u.buffer)[0]!;
}

// ---------------------------------------------------------------------------------------------
// parseFloat

test('parseFloat: decimal syntax, correctly rounded, underflow to a signed zero', () => {
  const cases: [string, number][] = [
    ['1', 1], ['1.5', 1.5], ['.5', 0.5], ['5.', 5], ['+1e3', 1000], ['1E-3', 0.001], ['-2.5e+2', -250],
    ['-0', -0], ['007', 7], ['0.1', 0.1], ['123456789012345678901234567890', 1.2345678901234568e29],
    ['1e-400', 0], ['-1e-400', -0], ['4.9e-324', 5e-324], ['2.4e-324', 0],
    ['1.7976931348623157e308', Number.MAX_VALUE],
    // Exactly halfway between 1 and the next double: ties to even.
    ['1.00000000000000011102230246251565404236316680908203125', 1],
    ['1.00000000000000011102230246251565404236316680908203126', 1.0000000000000002],
  ];
  for (const [s, want] of cases) assert.ok(same(parseFloat(s), want), `${s}: got ${parseFloat(s)}, want ${want}`);
});

test('parseFloat: beyond float64 is ErrRange, not ±Inf', () => {
  for (const s of ['1e400', '-1e400', '1.7976931348623159e308', '0x1p1024', '-0x1p1024', '0x1.fffffffffffff8p1023']) {
    assert.is(parseFloat(s), undefined, s);
    assert.is(parseFloatOrError(s), 'range', s);
  }
  assert.is(parseFloatOrError('1e400', { hex: false }), 'range');
});

test('parseFloat: Inf and NaN in any case; NaN takes no sign', () => {
  const cases: [string, number][] = [
    ['Inf', Infinity], ['+Inf', Infinity], ['-Inf', -Infinity], ['inf', Infinity], ['INF', Infinity],
    ['Infinity', Infinity], ['-infinity', -Infinity], ['+INFINITY', Infinity], ['NaN', NaN], ['nan', NaN], ['NAN', NaN],
  ];
  for (const [s, want] of cases) assert.ok(same(parseFloat(s), want), s);
  for (const s of ['+NaN', '-nan', 'infin', 'infinityy', 'in', 'na', '+', '-']) assert.is(parseFloatOrError(s), 'syntax', s);
});

test('parseFloat: hexadecimal floats, rounded once to nearest even', () => {
  const cases: [string, number][] = [
    ['0x1p4', 16], ['0x1.8p1', 3], ['-0x.8p1', -1], ['0X1P-2', 0.25], ['0x1.p0', 1], ['0xA', NaN],
    ['0x1.fffffffffffffp1023', Number.MAX_VALUE], ['0x1p-1022', 2.2250738585072014e-308],
    ['0x1p-1074', 5e-324], ['0x1p-1075', 0], ['0x3p-1076', 5e-324], ['0x1p-2000', 0], ['-0x0p0', -0], ['0x0p99999', 0],
    ['0x1.00000000000008p0', 1], // halfway: to even
    ['0x1.00000000000018p0', 1.0000000000000004], // halfway: to even (up)
    ['0x1.000000000000081p0', 1.0000000000000002], // above halfway
    ['0x1.00000000000008' + '0'.repeat(1000) + '1p0', 1.0000000000000002], // above halfway, far out
    ['0x123456789abcdef0123p0', 0x123456789abcdef0123],
  ];
  for (const [s, want] of cases) {
    if (want !== want) assert.is(parseFloat(s), undefined, `${s} needs a p exponent`);
    else assert.ok(same(parseFloat(s), want), `${s}: got ${parseFloat(s)}, want ${want}`);
  }
  for (const s of ['0x1', '0x.p1', '0xp1', '0x1p', '0x1p+', '0x1.8', '0xgp1']) assert.is(parseFloatOrError(s), 'syntax', s);
});

test('parseFloat: hex: false refuses hex, as Prometheus text parsers do', () => {
  for (const s of ['0x1p4', '0x10', '0X1P-2']) assert.is(parseFloatOrError(s, { hex: false }), 'syntax', s);
  assert.is(parseFloat('1.5', { hex: false }), 1.5);
  assert.is(parseFloat('-Inf', { hex: false }), -Infinity);
});

test('parseFloat: bad syntax, underscores and spaces included', () => {
  for (const s of ['', '.', 'e5', '1e', '1e+', '--1', '+-1', '1.2.3', 'abc', ' 1', '1 ', '1_000', '1_0.5', '0x_1p4', '0b101', '1f', '١']) {
    assert.is(parseFloatOrError(s), 'syntax', JSON.stringify(s));
  }
});

// ---------------------------------------------------------------------------------------------
// Formatting

test("formatF: strconv 'f' with the shortest digits, never an exponent", () => {
  const cases: [number, string][] = [
    [0.1, '0.1'], [1e21, '1000000000000000000000'], [1e23, '100000000000000000000000'], [1e-7, '0.0000001'],
    [1e-6, '0.000001'], [-0, '-0'], [0, '0'], [NaN, 'NaN'], [Infinity, '+Inf'], [-Infinity, '-Inf'],
    [5e-324, '0.' + '0'.repeat(323) + '5'], [123456789012345678901, '123456789012345680000'], [-2.5e-8, '-0.000000025'],
    [Number.MAX_VALUE, '17976931348623157' + '0'.repeat(292)], [100, '100'], [1 / 3, '0.3333333333333333'],
    [498484681984085570, '498484681984085570'], [-1.5e-300, '-0.' + '0'.repeat(299) + '15'],
  ];
  for (const [f, want] of cases) assert.is(formatF(f), want, String(f));
});

test("formatF with a precision: strconv 'f' rounded half to even (prec 6 is fmt's %f)", () => {
  const cases: [number, number, string][] = [
    [0, 6, '0.000000'], [-0, 6, '-0.000000'], [1.5, 6, '1.500000'], [2 / 3, 6, '0.666667'],
    [0.0078125, 6, '0.007812'], [0.0234375, 6, '0.023438'], [-0.0078125, 6, '-0.007812'], // exact ties
    [-1e-9, 6, '-0.000000'], [1e21, 6, '1000000000000000000000.000000'], [NaN, 6, 'NaN'], [Infinity, 6, '+Inf'], [-Infinity, 6, '-Inf'],
    [0.5, 0, '0'], [1.5, 0, '2'], [2.5, 0, '2'], [3.5, 0, '4'], [-2.5, 0, '-2'], [0.25, 1, '0.2'], [0.75, 1, '0.8'],
    [1e23, 17, '99999999999999991611392.00000000000000000'], [1e21, 0, '1000000000000000000000'],
    [383260575764816448, 0, '383260575764816448'], [1, 5, '1.00000'], [0.1, 20, '0.10000000000000000555'],
  ];
  for (const [f, prec, want] of cases) assert.is(formatF(f, prec), want, `${f} prec ${prec}`);
});

test("formatE: strconv 'e' with the shortest digits and a two-digit exponent at least", () => {
  const cases: [number, string][] = [
    [1, '1e+00'], [0, '0e+00'], [-0, '-0e+00'], [12, '1.2e+01'], [1e-7, '1e-07'], [1.5e300, '1.5e+300'], [-2.5e-10, '-2.5e-10'],
    [5e-324, '5e-324'], [1e23, '1e+23'], [123456, '1.23456e+05'], [NaN, 'NaN'], [Infinity, '+Inf'], [-Infinity, '-Inf'],
    [Number.MAX_VALUE, '1.7976931348623157e+308'],
  ];
  for (const [f, want] of cases) assert.is(formatE(f), want, String(f));
});

test("formatG: %g, the 'e' form for an exponent below -4 or from 6 up", () => {
  const cases: [number, string][] = [
    [1, '1'], [20, '20'], [200000, '200000'], [2000000, '2e+06'], [1234567.8, '1.2345678e+06'], [1e10, '1e+10'],
    [0.0001, '0.0001'], [0.00012, '0.00012'], [0.00004, '4e-05'], [1e-5, '1e-05'], [0, '0'], [-0, '-0'], [-1.5, '-1.5'],
    [5e-324, '5e-324'], [-5e-324, '-5e-324'], [1e23, '1e+23'], [383260575764816448, '3.8326057576481645e+17'],
    [9223372036854775807, '9.223372036854776e+18'], [NaN, 'NaN'], [Infinity, '+Inf'], [-Infinity, '-Inf'],
  ];
  for (const [f, want] of cases) assert.is(formatG(f), want, String(f));
});

test('formatShortest: JS notation with Go spellings', () => {
  const cases: [number, string][] = [
    [-0, '-0'], [0, '0'], [NaN, 'NaN'], [Infinity, '+Inf'], [-Infinity, '-Inf'], [0.1 + 0.2, '0.30000000000000004'],
    [1e21, '1e+21'], [1e-7, '1e-7'], [1e20, '100000000000000000000'], [1e-6, '0.000001'],
  ];
  for (const [f, want] of cases) assert.is(formatShortest(f), want, String(f));
});

test('every formatter reads back through parseFloat as the same double', () => {
  const rnd = prng(5);
  const xs = [0, -0, 1, -1, 0.1, 1 / 3, 5e-324, -5e-324, 2.2250738585072014e-308, Number.MAX_VALUE, 1e21, 1e-7, 123456789.123];
  for (let i = 0; i < 20000; i++) xs.push(randomDouble(rnd));
  for (const x of xs) {
    if (x !== x || !Number.isFinite(x)) continue;
    for (const [name, fmt] of [['f', formatF], ['e', formatE], ['g', formatG], ['shortest', formatShortest]] as const) {
      const s = fmt(x);
      if (!same(parseFloat(s), x)) assert.unreachable(`${name}: ${x} -> ${s} -> ${parseFloat(s)}`);
    }
  }
});

test.run();
