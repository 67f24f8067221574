import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CellFormatError,
  CHUNK_ENC_FLOAT_HISTOGRAM,
  CHUNK_ENC_XOR,
  chunksNumSamples,
  decodeCell,
  decodeCellSamples,
  decodeCfCell,
  decodeCfCellSamples,
  decodeCfMeta,
  decodeChunkSamples,
  decodeColIndexes,
  encodeCell,
  encodeCfCell,
  encodeCfMeta,
  encodeColIndexes,
  type CellChunk,
} from '../../src/storage/parquet/cells.js';
import { decodeXorChunk, encodeXorChunk, xorChunkNumSamples, XorChunkError, XOR_MAX_SAMPLES } from '../../src/storage/parquet/xor.js';
import { formatTimestampSeconds } from '../../src/storage/openmetrics.js';
import { formatShortest } from '../../src/util/gofloat.js';
import { prng, gauss } from '../../src/util/random.js';
import { backfill, prometheusTest } from '../helpers/prometheus.js';

// --- helpers ----------------------------------------------------------------------------------

/** A float64 from its bit pattern, written through an integer view (never a JS number NaN). */
function fromBits(hex: string): Float64Array {
  const a = new Float64Array(1);
  new DataView(a.buffer).setBigUint64(0, BigInt('0x' + hex), true);
  return a;
}

function setBits(vs: Float64Array, i: number, hex: string): void {
  new DataView(vs.buffer, vs.byteOffset).setBigUint64(i * 8, BigInt('0x' + hex), true);
}

function bitsAt(vs: Float64Array, i: number): string {
  return new DataView(vs.buffer, vs.byteOffset).getBigUint64(i * 8, true).toString(16).padStart(16, '0');
}

/** Decodes a whole chunk into fresh arrays. */
function decodeAll(bytes: Uint8Array, mint?: number, maxt?: number): { ts: Float64Array; vs: Float64Array } {
  const n = xorChunkNumSamples(bytes);
  const ts = new Float64Array(n);
  const vs = new Float64Array(n);
  const k = decodeXorChunk(bytes, ts, vs, 0, mint, maxt);
  return { ts: ts.subarray(0, k), vs: vs.subarray(0, k) };
}

/** Asserts that (ts, vs) decode back bit for bit, and that encoding is deterministic. */
function roundTrip(ts: Float64Array, vs: Float64Array, what: string): Uint8Array {
  const bytes = encodeXorChunk(ts, vs);
  assert.is(xorChunkNumSamples(bytes), ts.length, `${what}: count`);
  const got = decodeAll(bytes);
  assert.is(got.ts.length, ts.length, `${what}: decoded count`);
  for (let i = 0; i < ts.length; i++) {
    if (got.ts[i] !== ts[i]) assert.unreachable(`${what}: timestamp ${i}: ${got.ts[i]} != ${ts[i]}`);
    if (bitsAt(got.vs, i) !== bitsAt(vs, i)) assert.unreachable(`${what}: value ${i}: ${bitsAt(got.vs, i)} != ${bitsAt(vs, i)}`);
  }
  assert.equal(encodeXorChunk(got.ts, got.vs), bytes, `${what}: re-encoding gives the same bytes`);
  return bytes;
}

/** The bits of `bytes` from bit `from`, `n` of them, as a '0'/'1' string. */
function bitString(bytes: Uint8Array, from: number, n: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += (bytes[i >>> 3]! >>> (7 - (i & 7))) & 1;
  return s;
}

function twos(x: number, n: number): string {
  return BigInt.asUintN(n, BigInt(x)).toString(2).padStart(n, '0');
}

/** Prometheus's timestamp encoding of a delta of delta: control bits and payload. */
function expectedDod(dod: number): string {
  const inRange = (n: number) => -((1 << (n - 1)) - 1) <= dod && dod <= 1 << (n - 1);
  if (dod === 0) return '0';
  if (inRange(14)) return '10' + twos(dod, 14);
  if (inRange(17)) return '110' + twos(dod, 17);
  if (inRange(20)) return '1110' + twos(dod, 20);
  return '1111' + twos(dod, 64);
}

const T0 = Date.UTC(2025, 5, 12, 12); // 1749729600000, a 2h boundary

// --- XOR chunks -------------------------------------------------------------------------------

test('an empty chunk is the 2-byte header', () => {
  const bytes = encodeXorChunk(new Float64Array(0), new Float64Array(0));
  assert.equal([...bytes], [0, 0]);
  assert.is(xorChunkNumSamples(bytes), 0);
  assert.is(decodeXorChunk(bytes, new Float64Array(0), new Float64Array(0), 0), 0);
});

test('one sample: signed varint time and raw value bits, also negative and zero times', () => {
  for (const t of [T0, 0, -1, -T0, 2 ** 53 - 1, -(2 ** 53 - 1), 63, 64, -64, -65]) {
    const bytes = roundTrip(Float64Array.of(t), Float64Array.of(Math.PI), `t=${t}`);
    // header 0x0001, zigzag varint, 8 value bytes, and the empty byte Prometheus's bstream
    // leaves after whole-byte writes that end on a byte boundary
    assert.equal([...bytes.subarray(0, 2)], [0, 1]);
    assert.is(bytes.length, 2 + varintLen(t) + 8 + 1, `length for t=${t}`);
    assert.is(bytes[bytes.length - 1], 0);
  }
  // Byte for byte: t = 1 → zigzag 2; value 1.0 = 3ff0000000000000.
  assert.equal([...encodeXorChunk(Float64Array.of(1), Float64Array.of(1))], [0, 1, 2, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal([...encodeXorChunk(Float64Array.of(-1), Float64Array.of(1))], [0, 1, 1, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0]);
  // The decoder does not need that byte.
  const { ts, vs } = decodeAll(new Uint8Array([0, 1, 1, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]));
  assert.equal([...ts, ...vs], [-1, 1]);
});

test('the empty last byte: only after whole-byte writes that end on a byte boundary', () => {
  // Sample 1 with a new window of 64 significant bits: 1 + 1 + 5 + 6 + 64 = 77 bits after the
  // aligned uvarint: not aligned, no empty byte.
  const a = encodeXorChunk(Float64Array.of(0, 1), Float64Array.of(1, -1.0000000000000002));
  assert.is(a.length, 2 + 1 + 8 + 1 + Math.ceil(77 / 8));
  // Small random chunks whose values differ in whole bytes: the rule is checked byte for byte
  // against Prometheus in the promtool test; here, every such chunk round-trips, with and
  // without the byte.
  const rnd = prng(9);
  let withByte = 0;
  for (let trial = 0; trial < 3000; trial++) {
    const n = 1 + Math.floor(rnd() * 6);
    const ts = new Float64Array(n).map((_, i) => i * 1000);
    const vs = new Float64Array(n);
    const dv = new DataView(vs.buffer);
    for (let i = 0; i < n; i++) {
      dv.setUint32(i * 8 + 4, 0x3ff00000 | (rnd() < 0.5 ? 0 : Math.floor(rnd() * 16) << 12), true);
      dv.setUint32(i * 8, rnd() < 0.5 ? 0 : (Math.floor(rnd() * 256) << (8 * Math.floor(rnd() * 4))) >>> 0, true);
    }
    const bytes = roundTrip(ts, vs, `trial ${trial}`);
    if (bytes[bytes.length - 1] === 0 && decodesAs(bytes.subarray(0, bytes.length - 1), n)) withByte++;
  }
  assert.ok(withByte > 100, `cases with the empty byte: ${withByte}`);
});

function varintLen(t: number): number {
  let zz = BigInt.asUintN(64, (BigInt(t) << 1n) ^ (BigInt(t) >> 63n));
  let n = 1;
  while (zz >= 0x80n) {
    zz >>= 7n;
    n++;
  }
  return n;
}

test('two samples: the first delta is a uvarint, negative deltas round-trip (10 bytes)', () => {
  roundTrip(Float64Array.of(T0, T0 + 15000), Float64Array.of(1, 2), 'positive');
  roundTrip(Float64Array.of(T0, T0), Float64Array.of(1, 1), 'zero delta');
  const neg = roundTrip(Float64Array.of(T0, T0 - 5), Float64Array.of(1, 1), 'negative delta');
  // 2 header + 6 varint(T0) + 8 value + 10 uvarint(2^64-5) + 1 byte for the '0' value bit
  assert.is(neg.length, 2 + varintLen(T0) + 8 + 10 + 1);
});

test('120, 121, 1000 and 65535 samples of counters and gauges round-trip; 65536 is refused', () => {
  const rnd = prng(1);
  for (const n of [120, 121, 1000, XOR_MAX_SAMPLES]) {
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    let t = T0;
    let c = 0;
    for (let i = 0; i < n; i++) {
      t += 15000 + Math.floor(rnd() * 5) - 2;
      ts[i] = t;
      c += Math.floor(rnd() * 20);
      vs[i] = i % 2 ? c : 0.25 + gauss(rnd);
    }
    roundTrip(ts, vs, `${n} samples`);
  }
  const big = new Float64Array(XOR_MAX_SAMPLES + 1).map((_, i) => i);
  assert.throws(() => encodeXorChunk(big, big), (e: unknown) => e instanceof XorChunkError);
});

test('regular 15s timestamps with equal values cost 2 bits per sample', () => {
  const n = 120;
  const ts = new Float64Array(n).map((_, i) => T0 + 15000 * i);
  const vs = new Float64Array(n).fill(7);
  const bytes = roundTrip(ts, vs, 'constant');
  // header 2 + varint 6 + value 8 + uvarint(15000) 2 + 1 bit + 118 * 2 bits
  assert.is(bytes.length, 2 + 6 + 8 + 2 + Math.ceil((1 + 118 * 2) / 8));
});

test('delta-of-delta buckets: every boundary of the 14/17/20/64-bit encodings, bit for bit', () => {
  const dods = [0, 1, -1];
  for (const n of [14, 17, 20]) {
    const h = 2 ** (n - 1);
    dods.push(h, h + 1, -(h - 1), -h, -(h + 1), h - 1);
  }
  dods.push(2 ** 31, -(2 ** 31), 2 ** 32 + 5, -(2 ** 40) + 3, 2 ** 52, -(2 ** 52), 86_400_000, -86_400_000);
  for (const dod of dods) {
    const D = 15000;
    const ts = Float64Array.of(0, D, D + D + dod);
    const vs = Float64Array.of(3, 3, 3);
    const three = roundTrip(ts, vs, `dod ${dod}`);
    const two = encodeXorChunk(ts.subarray(0, 2), vs.subarray(0, 2));
    // The 2-sample chunk ends with the single '0' value bit of sample 1; sample 2's dod follows.
    const start = (two.length - 1) * 8 + 1;
    const want = expectedDod(dod) + '0';
    assert.is(bitString(three, start, want.length), want, `dod ${dod}`);
    assert.is(three.length, two.length - 1 + Math.ceil((1 + want.length) / 8), `dod ${dod}: no extra bytes`);
  }
});

test('irregular timestamps: huge gaps, jitter and negative deltas-of-deltas round-trip', () => {
  const rnd = prng(2);
  const steps = [1, 15_000, 8_192, 8_193, 65_536, 65_537, 524_288, 524_289, 3_600_000, 86_400_000 * 30];
  for (let trial = 0; trial < 200; trial++) {
    const n = 2 + Math.floor(rnd() * 300);
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    let t = T0 - Math.floor(rnd() * 1e12);
    for (let i = 0; i < n; i++) {
      ts[i] = t;
      vs[i] = Math.floor(rnd() * 10);
      const base = steps[Math.floor(rnd() * steps.length)]!;
      t += rnd() < 0.5 ? base : Math.max(1, base + Math.floor((rnd() - 0.5) * 2 * base));
    }
    roundTrip(ts, vs, `trial ${trial}`);
  }
});

test('special values bit for bit: NaN payloads (staleness marker), ±Inf, -0, subnormals, extremes', () => {
  const hexes = [
    '7ff0000000000002', // Prometheus's staleness marker
    '7ff8000000000001', // Go's math.NaN()
    '7ff8000000000000', // JS NaN
    'fff8000000000000', // negative quiet NaN
    '7ff0000000000001', // signalling NaN, lowest payload
    '7fffffffffffffff', // all payload bits
    'ffffffffffffffff',
    '7ff0000000000000', // +Inf
    'fff0000000000000', // -Inf
    '0000000000000000', // +0
    '8000000000000000', // -0
    '0000000000000001', // smallest subnormal
    '800fffffffffffff', // largest negative subnormal
    '000fffffffffffff',
    '0010000000000000', // smallest normal
    '7fefffffffffffff', // max double
    'ffefffffffffffff',
    '3ff0000000000000', // 1
    '3ff0000000000001', // 1 + ulp: xor of 1 significant bit at the bottom (trailing 0)
    'bff0000000000001', // sign and bottom bit differ: 64 significant bits
    '3ff0000000000000',
    '3ff0000000000000', // equal values: the '0' case
    '4000000000000000',
    '4000000000000000',
  ];
  const n = hexes.length;
  // Every ordering of the list exercises other windows; check forward, backward and shuffled.
  const orders = [hexes, [...hexes].reverse()];
  const rnd = prng(3);
  for (let k = 0; k < 50; k++) orders.push([...hexes].sort(() => rnd() - 0.5));
  for (const order of orders) {
    const ts = new Float64Array(n).map((_, i) => T0 + 15000 * i);
    const vs = new Float64Array(n);
    order.forEach((h, i) => setBits(vs, i, h));
    roundTrip(ts, vs, order.join(','));
  }
  // The staleness marker as the very first value, and after itself.
  const vs = new Float64Array(3);
  for (let i = 0; i < 3; i++) setBits(vs, i, '7ff0000000000002');
  const got = decodeAll(encodeXorChunk(Float64Array.of(1, 2, 3), vs));
  for (let i = 0; i < 3; i++) assert.is(bitsAt(got.vs, i), '7ff0000000000002');
  assert.is(bitsAt(fromBits('7ff0000000000002'), 0), '7ff0000000000002');
});

test('random bit patterns and value windows: leading clamp (>=32), trailing >=32, reused windows', () => {
  const rnd = prng(4);
  const u32 = () => Math.floor(rnd() * 2 ** 32);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(rnd() * 200);
    const ts = new Float64Array(n).map((_, i) => T0 + 1000 * i);
    const vs = new Float64Array(n);
    const dv = new DataView(vs.buffer);
    let hi = u32();
    let lo = u32();
    for (let i = 0; i < n; i++) {
      const mode = Math.floor(rnd() * 6);
      if (mode === 0) {
        hi = u32();
        lo = u32();
      } else if (mode === 1) lo = (lo ^ (1 << Math.floor(rnd() * 32))) >>> 0; // low xor only: leading >= 32
      else if (mode === 2) hi = (hi ^ (1 << Math.floor(rnd() * 32))) >>> 0; // high xor only: trailing >= 32
      else if (mode === 3) lo = (lo ^ (u32() & 0xff00)) >>> 0; // a narrow window, often reused
      // mode 4, 5: equal value
      dv.setUint32(i * 8, lo, true);
      dv.setUint32(i * 8 + 4, hi, true);
    }
    roundTrip(ts, vs, `trial ${trial}`);
  }
});

test('inputs at an offset: subarrays and [lo, hi) ranges encode the same chunk', () => {
  const n = 300;
  const ts = new Float64Array(n).map((_, i) => T0 + 15000 * i + (i % 3));
  const vs = new Float64Array(n).map((_, i) => Math.sqrt(i));
  const a = encodeXorChunk(ts, vs, 100, 220);
  const b = encodeXorChunk(ts.subarray(100, 220), vs.subarray(100, 220));
  assert.equal(a, b);
  assert.is(xorChunkNumSamples(a), 120);
  // Output at an offset inside a larger array, leaving the rest alone.
  const outTs = new Float64Array(130).fill(-7);
  const outVs = new Float64Array(130).fill(-7);
  assert.is(decodeXorChunk(a, outTs, outVs, 5), 120);
  assert.is(outTs[4], -7);
  assert.is(outTs[125], -7);
  for (let i = 0; i < 120; i++) {
    assert.is(outTs[5 + i], ts[100 + i]);
    assert.is(outVs[5 + i], vs[100 + i]);
  }
  assert.throws(() => encodeXorChunk(ts, vs, 10, 5), RangeError);
  assert.throws(() => encodeXorChunk(ts, vs, 0, n + 1), RangeError);
  assert.throws(() => decodeXorChunk(a, new Float64Array(10), new Float64Array(10), 0), RangeError);
  assert.throws(() => encodeXorChunk(Float64Array.of(1.5), Float64Array.of(1)), (e: unknown) => e instanceof XorChunkError);
  assert.throws(() => encodeXorChunk(Float64Array.of(2 ** 53), Float64Array.of(1)), (e: unknown) => e instanceof XorChunkError);
});

test('decoding a time range skips samples before mint and stops after maxt', () => {
  const n = 120;
  const ts = new Float64Array(n).map((_, i) => T0 + 15000 * i);
  const vs = new Float64Array(n).map((_, i) => i);
  const bytes = encodeXorChunk(ts, vs);
  const cases: Array<[number, number, number, number]> = [
    // mint, maxt, first index, count
    [-Infinity, Infinity, 0, 120],
    [T0, T0, 0, 1],
    [T0 + 1, T0 + 15000, 1, 1],
    [T0 + 15000 * 10, T0 + 15000 * 20 - 1, 10, 10],
    [T0 + 15000 * 119, Infinity, 119, 1],
    [T0 + 15000 * 120, Infinity, 0, 0],
    [-Infinity, T0 - 1, 0, 0],
    [T0 + 5, T0 + 10, 0, 0],
  ];
  for (const [mint, maxt, first, count] of cases) {
    const got = decodeAll(bytes, mint, maxt);
    assert.is(got.ts.length, count, `[${mint}, ${maxt}]`);
    for (let i = 0; i < count; i++) {
      assert.is(got.ts[i], ts[first + i]);
      assert.is(got.vs[i], first + i);
    }
  }
  // A range only needs room for what it writes.
  assert.is(decodeXorChunk(bytes, new Float64Array(2), new Float64Array(2), 0, T0 + 15000, T0 + 30000), 2);
});

test('truncated and corrupt chunks are reported, never read as fewer samples', () => {
  const n = 120;
  const ts = new Float64Array(n).map((_, i) => T0 + 15000 * i + (i * i) % 7);
  const vs = new Float64Array(n).map((_, i) => Math.sin(i));
  const bytes = encodeXorChunk(ts, vs);
  const outT = new Float64Array(n);
  const outV = new Float64Array(n);
  // A chunk may end with Prometheus's empty byte (see the promtool test); all before it is needed.
  const needed = bytes[bytes.length - 1] === 0 && decodesAs(bytes.subarray(0, bytes.length - 1), n) ? bytes.length - 1 : bytes.length;
  for (let cut = 0; cut < needed; cut++) {
    const err = catchError(() => decodeXorChunk(bytes.subarray(0, cut), outT, outV, 0));
    assert.ok(err instanceof XorChunkError, `cut at ${cut} of ${bytes.length}: ${String(err)}`);
  }
  // A count above what the bytes hold.
  const more = bytes.slice();
  more[1] = more[1]! + 1;
  assert.ok(catchError(() => decodeXorChunk(more, new Float64Array(n + 1), new Float64Array(n + 1), 0)) instanceof XorChunkError);
  // leading + significant bits > 64 in a '11' header: 2 samples, second value header claims 31 + 63.
  const bad = new Uint8Array([0, 2, 2, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 1, 0b11111111, 0b11111110, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.ok(catchError(() => decodeXorChunk(bad, new Float64Array(2), new Float64Array(2), 0)) instanceof XorChunkError);
});

function decodesAs(bytes: Uint8Array, n: number): boolean {
  try {
    return decodeXorChunk(bytes, new Float64Array(n), new Float64Array(n), 0) === n;
  } catch {
    return false;
  }
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

// --- data cells -------------------------------------------------------------------------------

function chunkOf(ts: number[], vs: number[]): CellChunk {
  return { encoding: CHUNK_ENC_XOR, minT: ts[0]!, maxT: ts[ts.length - 1]!, data: encodeXorChunk(Float64Array.from(ts), Float64Array.from(vs)) };
}

test('parquet-common cell: uvarint encoding, minT, maxT, length, bytes; several chunks; byte for byte', () => {
  const c = { encoding: CHUNK_ENC_XOR, minT: 300, maxT: 1, data: new Uint8Array([9, 8, 7]) };
  // 300 = 0xac 0x02
  assert.equal([...encodeCell([c])], [1, 0xac, 0x02, 1, 3, 9, 8, 7]);
  assert.equal([...encodeCell([])], []);
  assert.equal(decodeCell(new Uint8Array(0)), []);
  const neg = encodeCell([{ encoding: 1, minT: -1, maxT: 0, data: new Uint8Array(0) }]);
  assert.equal([...neg], [1, ...Array(9).fill(0xff), 0x01, 0, 0]);
  assert.equal(decodeCell(neg), [{ encoding: 1, minT: -1, maxT: 0, data: new Uint8Array(0) }]);

  const a = chunkOf([T0, T0 + 15000, T0 + 30000], [1, 2, 3]);
  const b = chunkOf([T0 + 45000, T0 + 60000], [4, 5]);
  const cell = encodeCell([a, b]);
  const back = decodeCell(cell);
  assert.is(back.length, 2);
  assert.equal(back[0], a);
  assert.equal(back[1], b);
  assert.is(back[1]!.data.buffer, cell.buffer, 'chunk bytes are views into the cell');
  // Chunks outside [mint, maxt] are left out.
  assert.is(decodeCell(cell, T0 + 31000, T0 + 44000).length, 0);
  assert.is(decodeCell(cell, T0 + 30000, T0 + 30000).length, 1);
  assert.is(decodeCell(cell, T0 + 45000).length, 1);
  assert.is(chunksNumSamples(back), 5);
  const ts = new Float64Array(5);
  const vs = new Float64Array(5);
  assert.is(decodeCellSamples(cell, ts, vs, 0), 5);
  assert.equal([...vs], [1, 2, 3, 4, 5]);
  assert.is(decodeCellSamples(cell, ts, vs, 0, T0 + 15000, T0 + 45000), 3);
  assert.equal([...vs.subarray(0, 3)], [2, 3, 4]);
  const firstEnd = encodeCell([a]).length;
  for (let cut = 1; cut < cell.length; cut++) {
    if (cut === firstEnd) continue; // a whole first chunk is a valid cell
    assert.ok(catchError(() => decodeCell(cell.subarray(0, cut))) instanceof CellFormatError, `cut ${cut}`);
  }
});

test('Cloudflare cell: 24-byte big-endian header with zigzag times; byte for byte', () => {
  const c = { encoding: CHUNK_ENC_XOR, minT: 1, maxT: -1, data: new Uint8Array([0xaa]) };
  assert.equal(
    [...encodeCfCell([c])],
    [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa],
  );
  const a = chunkOf([T0, T0 + 15000], [1, 2]);
  const b = chunkOf([T0 + 3_600_000, T0 + 3_615_000, T0 + 3_630_000], [3, 4, 5]);
  const cell = encodeCfCell([a, b]);
  assert.is(cell.length, 2 * 24 + a.data.length + b.data.length);
  const back = decodeCfCell(cell);
  assert.equal(back, [a, b]);
  assert.equal(decodeCfCell(cell, T0 + 20000), [b]);
  assert.equal(decodeCfCell(cell, -Infinity, T0 + 20000), [a]);
  const ts = new Float64Array(5);
  const vs = new Float64Array(5);
  assert.is(decodeCfCellSamples(cell, ts, vs, 0), 5);
  assert.equal([...vs], [1, 2, 3, 4, 5]);
  assert.equal(decodeCfCell(encodeCfCell([{ ...c, minT: -T0, maxT: 2 ** 53 - 1 }])), [{ ...c, minT: -T0, maxT: 2 ** 53 - 1 }]);
  for (let cut = 1; cut < cell.length; cut++) {
    if (cut === 24 + a.data.length) continue; // a whole first chunk is a valid cell
    assert.ok(catchError(() => decodeCfCell(cell.subarray(0, cut))) instanceof CellFormatError, `cut ${cut}`);
  }
});

test('samples of several chunks: sorted, overlaps dropped keeping the first, non-XOR refused', () => {
  const a = chunkOf([10, 20, 30], [1, 2, 3]);
  const b = chunkOf([30, 40, 50], [99, 4, 5]); // overlaps a at 30
  const c = chunkOf([60, 70], [6, 7]);
  const ts = new Float64Array(8);
  const vs = new Float64Array(8);
  const n = decodeChunkSamples([c, a, b], ts, vs, 0);
  assert.is(n, 7);
  assert.equal([...ts.subarray(0, n)], [10, 20, 30, 40, 50, 60, 70]);
  assert.equal([...vs.subarray(0, n)], [1, 2, 3, 4, 5, 6, 7]);
  assert.is(decodeChunkSamples([a, b, c], ts, vs, 0, 25, 65), 4);
  assert.equal([...ts.subarray(0, 4)], [30, 40, 50, 60]);
  const hist = { encoding: CHUNK_ENC_FLOAT_HISTOGRAM, minT: 0, maxT: 5, data: new Uint8Array(4) };
  assert.throws(() => decodeChunkSamples([a, hist], ts, vs, 0), (e: unknown) => e instanceof CellFormatError && /float histogram/.test(String(e)));
});

test('label column indexes: zigzag varint count then ascending indexes', () => {
  assert.equal([...encodeColIndexes([3, 1, 2])], [6, 2, 4, 6]);
  assert.equal([...encodeColIndexes([])], [0]);
  assert.equal([...encodeColIndexes([64])], [2, 0x80, 0x01]);
  assert.equal(decodeColIndexes(encodeColIndexes([70, 0, 5, 1000, 3])), [0, 3, 5, 70, 1000]);
  assert.ok(catchError(() => decodeColIndexes(new Uint8Array([6, 2]))) instanceof CellFormatError);
  assert.ok(catchError(() => decodeColIndexes(new Uint8Array(0))) instanceof CellFormatError);
});

test('Cloudflare meta.pb: protobuf fields 1-5, byte for byte and back', () => {
  const meta = {
    mint: 1749686400000,
    maxt: 1749772800000,
    shards: 2,
    version: 2,
    columnsForName: new Map([['up', ['___cf_meta_label_job']]]),
  };
  const bytes = encodeCfMeta(meta);
  // field 1 varint: tag 0x08; 1749686400000 as a varint
  const v = (x: number) => {
    const out: number[] = [];
    let b = BigInt(x);
    while (b >= 0x80n) {
      out.push(Number(b & 0x7fn) | 0x80);
      b >>= 7n;
    }
    out.push(Number(b));
    return out;
  };
  const col = [...new TextEncoder().encode('___cf_meta_label_job')];
  const columns = [0x0a, col.length, ...col];
  const entry = [0x0a, 2, ...new TextEncoder().encode('up'), 0x12, columns.length, ...columns];
  assert.equal([...bytes], [0x08, ...v(meta.mint), 0x10, ...v(meta.maxt), 0x18, 2, 0x22, entry.length, ...entry, 0x28, 2]);
  assert.equal(decodeCfMeta(bytes), meta);
  // Unknown fields (here a fixed64 and a string) are skipped; absent fields are zero.
  const extra = new Uint8Array([0x31, 1, 2, 3, 4, 5, 6, 7, 8, 0x3a, 1, 0x41, 0x18, 7]);
  assert.equal(decodeCfMeta(extra), { mint: 0, maxt: 0, shards: 7, version: 0, columnsForName: new Map() });
  assert.ok(catchError(() => decodeCfMeta(bytes.subarray(0, bytes.length - 1))) instanceof CellFormatError);
});

// --- against real Prometheus ------------------------------------------------------------------

/** CRC-32C (Castagnoli), as Prometheus's chunk segments use. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
function crc32c(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface SegmentChunk {
  encoding: number;
  data: Uint8Array;
}

/** Reads a TSDB block chunk segment: magic 0x85BD40DD, version, 3 padding bytes, then chunks. */
function readSegment(file: string): SegmentChunk[] {
  const b = new Uint8Array(readFileSync(file));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.is(dv.getUint32(0), 0x85bd40dd, `${file}: magic`);
  assert.is(b[4], 1, `${file}: version`);
  const out: SegmentChunk[] = [];
  let p = 8;
  while (p < b.length) {
    let len = 0;
    let shift = 0;
    for (;;) {
      const x = b[p++]!;
      len += (x & 0x7f) * 2 ** shift;
      shift += 7;
      if (x < 0x80) break;
    }
    const encoding = b[p]!;
    const data = b.subarray(p + 1, p + 1 + len);
    assert.is(data.length, len, `${file}: chunk at ${p} truncated`);
    assert.is(dv.getUint32(p + 1 + len), crc32c(b.subarray(p, p + 1 + len)), `${file}: CRC of the chunk at ${p}`);
    out.push({ encoding, data });
    p += 1 + len + 4;
  }
  return out;
}

interface Expected {
  name: string;
  ts: number[];
  bits: string[]; // hex bit patterns as Prometheus stores them
}

/** Series for the backfill: bucket boundaries, special values, jitter and a long counter. */
function expectedSeries(): Expected[] {
  const series: Expected[] = [];
  const rnd = prng(11);
  const bitsOf = (v: number) => bitsAt(Float64Array.of(v), 0);
  const NAN_GO = '7ff8000000000001'; // what Go's ParseFloat gives for "NaN"

  // Deltas-of-deltas at every bucket boundary (and past it), each +x then back -x.
  {
    const ts: number[] = [];
    const base = 1000;
    let t = T0 + 1;
    ts.push(t);
    t += base;
    ts.push(t);
    for (const x of [1, 8191, 8192, 8193, 65535, 65536, 65537, 524287, 524288, 524289, 2_000_000]) {
      t += base + x;
      ts.push(t);
      t += base;
      ts.push(t);
    }
    series.push({ name: 'xor_test{case="dod"}', ts, bits: ts.map((_, i) => bitsOf(i % 3)) });
  }
  // A single sample (its chunk ends with the empty byte).
  series.push({ name: 'xor_test{case="single"}', ts: [T0 + 5], bits: [bitsOf(123.456)] });
  // Special values.
  {
    const vals = [0, -0, NaN, Infinity, -Infinity, 5e-324, -5e-324, 2.225073858507201e-308, 2.2250738585072014e-308,
      1.7976931348623157e308, -1.7976931348623157e308, 42, 42, 42, 1, 1.0000000000000002, -1.0000000000000002, 0.1, 1e-300,
      NaN, NaN, 7, Infinity, Infinity, -0, 0];
    const ts = vals.map((_, i) => T0 + 2 + 15000 * i);
    series.push({ name: 'xor_test{case="values"}', ts, bits: vals.map((v) => (v !== v ? NAN_GO : bitsOf(v))) });
  }
  // A scraped gauge: 15s ± up to 500ms, random magnitudes; spans blocks.
  {
    const ts: number[] = [];
    const bits: string[] = [];
    for (let i = 0; i < 700; i++) {
      ts.push(T0 + 3 + 15000 * i + Math.floor((rnd() - 0.5) * 1000));
      bits.push(bitsOf(gauss(rnd) * 10 ** Math.floor(rnd() * 12 - 6)));
    }
    series.push({ name: 'xor_test{case="gauge"}', ts, bits });
  }
  // A counter with a reset, every 15s; more than 120 samples per block, so chunks are cut.
  {
    const ts: number[] = [];
    const bits: string[] = [];
    let c = 1000;
    for (let i = 0; i < 1000; i++) {
      ts.push(T0 + 4 + 15000 * i);
      c = i === 500 ? 3 : c + Math.floor(rnd() * 50);
      bits.push(bitsOf(c));
    }
    series.push({ name: 'xor_test{case="counter"}', ts, bits });
  }
  return series;
}

function bitsToNumber(hex: string): number {
  return fromBits(hex)[0]!;
}

prometheusTest(test, 'decodes the XOR chunks of a block written by real Prometheus (promtool), bit for bit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-xor-'));
  try {
    const series = expectedSeries();
    let om = '# TYPE xor_test gauge\n';
    const lines: Array<[number, string]> = [];
    for (const s of series) {
      for (let i = 0; i < s.ts.length; i++) {
        lines.push([s.ts[i]!, `${s.name} ${formatShortest(bitsToNumber(s.bits[i]!))} ${formatTimestampSeconds(s.ts[i]!)}\n`]);
      }
    }
    // OpenMetrics wants a metric family's samples grouped by series, in time order within one.
    for (const [, line] of lines) om += line;
    om += '# EOF\n';
    const file = join(dir, 'in.om');
    writeFileSync(file, om);
    const out = join(dir, 'blocks');
    await backfill(file, out);

    const chunks: SegmentChunk[] = [];
    for (const block of readdirSync(out).sort()) {
      const cdir = join(out, block, 'chunks');
      if (!statSync(join(out, block)).isDirectory()) continue;
      for (const seg of readdirSync(cdir).sort()) chunks.push(...readSegment(join(cdir, seg)));
    }
    assert.ok(chunks.length >= 12, `expected many chunks, got ${chunks.length}`);

    const covered = series.map((s) => new Uint8Array(s.ts.length));
    let samples = 0;
    let reencoded = 0;
    let withEmptyByte = 0;
    for (const ch of chunks) {
      assert.is(ch.encoding, CHUNK_ENC_XOR);
      const got = decodeAll(ch.data);
      assert.ok(got.ts.length > 0);
      // Find the series and index holding this run of samples.
      let found = false;
      for (let s = 0; s < series.length && !found; s++) {
        const e = series[s]!;
        const i0 = e.ts.indexOf(got.ts[0]!);
        if (i0 < 0) continue;
        let ok = i0 + got.ts.length <= e.ts.length;
        for (let k = 0; ok && k < got.ts.length; k++) ok = e.ts[i0 + k] === got.ts[k] && e.bits[i0 + k] === bitsAt(got.vs, k);
        if (!ok) continue;
        found = true;
        for (let k = 0; k < got.ts.length; k++) {
          assert.is(covered[s]![i0 + k], 0, `${e.name} sample ${i0 + k} in two chunks`);
          covered[s]![i0 + k] = 1;
        }
      }
      if (!found) {
        assert.unreachable(`a chunk of ${got.ts.length} samples from ${got.ts[0]} matches no input series: ` +
          `${[...got.ts.subarray(0, 5)].join(',')} / ${[0, 1, 2, 3, 4].filter((k) => k < got.vs.length).map((k) => bitsAt(got.vs, k)).join(',')}`);
      }
      samples += got.ts.length;
      // hmd's encoder writes exactly Prometheus's bytes for the same samples.
      assert.equal(encodeXorChunk(got.ts, got.vs), ch.data, 'hmd encodes this chunk byte for byte as Prometheus did');
      reencoded++;
      if (ch.data[ch.data.length - 1] === 0 && decodesAs(ch.data.subarray(0, ch.data.length - 1), got.ts.length)) withEmptyByte++;
    }
    const total = series.reduce((n, s) => n + s.ts.length, 0);
    assert.is(samples, total, 'every input sample is in exactly one chunk');
    for (let s = 0; s < series.length; s++) assert.ok(covered[s]!.every((x) => x === 1), `${series[s]!.name}: all samples found`);
    assert.is(reencoded, chunks.length);
    assert.ok(withEmptyByte >= 1, 'some of Prometheus\'s chunks end with the empty byte');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
