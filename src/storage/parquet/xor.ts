/**
 * Prometheus XOR ("Gorilla") chunks: the float chunk format of Prometheus's TSDB
 * (`tsdb/chunkenc/xor.go`), which the Parquet data cells of both layouts hold.
 * docs/parquet-format.md gives the bit layout; in short:
 *
 *   u16 BE   number of samples
 *   varint   t0 (signed, zigzag)            ┐ byte-aligned
 *   64 bits  v0 (IEEE-754 bits)             ┘
 *   uvarint  t1 - t0 (as uint64)               byte-aligned
 *   xor(v1)
 *   then per sample: dod(t) xor(v)             bit-packed, most significant bit first
 *
 *   dod  '0' (0) | '10'+14 bits | '110'+17 bits | '1110'+20 bits | '1111'+64 bits
 *        (two's complement; n bits hold -(2^(n-1)-1) .. 2^(n-1), a raw value above 2^(n-1) is negative)
 *   xor  '0' (same bits) | '10' + the significant bits in the previous window
 *        | '11' + 5 bits leading zeros + 6 bits significant-bit count (0 = 64) + the bits
 *
 * Speed without an object per sample: the decoder copies the chunk once into a scratch array of
 * big-endian 32-bit words and reads any 1..32 bits at a bit position with two word loads; value
 * bits travel as two int32 halves and are stored through an Int32Array view over the output
 * Float64Array, so NaN payloads (the staleness marker 0x7ff0000000000002 included) come out bit
 * for bit, never through a JS number. No BigInt anywhere.
 *
 * Timestamps are integer milliseconds held in doubles; they (and every delta between them) must
 * be safe integers (|t| < 2^53), which covers every real timestamp. Both directions throw
 * otherwise rather than round.
 */

import { STALE_HI, STALE_LO } from '../stale.js';
import { readUvarint64, varint } from './varint.js';

/** Index of the low/high 32-bit half of a float64 in an Int32Array view (platform byte order). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;

const TWO32 = 4294967296;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Most samples one chunk can hold: the count is a big-endian uint16. */
export const XOR_MAX_SAMPLES = 0xffff;

/** Whether a chunk decoded since the last takeStaleSeen() held a staleness marker (anywhere in it). */
let staleSeen = false;

/**
 * Whether the chunks decoded since the last call held a staleness marker, and starts over: a
 * reader that saw none declares its series free of them, so that no query scans them again.
 */
export function takeStaleSeen(): boolean {
  const s = staleSeen;
  staleSeen = false;
  return s;
}

/** A chunk that cannot be decoded (truncated, corrupt) or samples that cannot be encoded. */
export class XorChunkError extends Error {
  override name = 'XorChunkError';
}

// --- decoding -------------------------------------------------------------------------------

/** Scratch words: the chunk's bytes after the header, big-endian, zero-padded. Grown on demand. */
let scratch = new Int32Array(1024);

/** Words read past the data at most: a sample is at most 4+64 + 2+5+6+64 = 145 bits. */
const PAD_WORDS = 8;

function loadWords(bytes: Uint8Array, start: number): Int32Array {
  const n = bytes.length - start;
  const full = n >>> 2;
  const need = full + 1 + PAD_WORDS;
  if (scratch.length < need) scratch = new Int32Array(Math.max(need, scratch.length * 2));
  const w = scratch;
  let p = start;
  for (let i = 0; i < full; i++, p += 4) {
    w[i] = (bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!;
  }
  let last = 0;
  const rem = n & 3;
  for (let k = 0; k < rem; k++) last |= bytes[p + k]! << (24 - 8 * k);
  w[full] = last;
  w.fill(0, full + 1, full + 1 + PAD_WORDS);
  return w;
}

/** The 32 bits starting at bit `pos` (MSB first), as an int32. */
function peek(w: Int32Array, pos: number): number {
  const i = pos >>> 5;
  const s = pos & 31;
  // (x >>> 1) >>> (31 - s) is x >>> (32 - s) that also works for s = 0.
  return (w[i]! << s) | ((w[i + 1]! >>> 1) >>> (31 - s));
}

/** Reads a varint at `p` into `varint`, or throws XorChunkError. */
function readChunkVarint(bytes: Uint8Array, p: number): void {
  const err = readUvarint64(bytes, p);
  if (err === 'eof' || err === 'truncated') throw new XorChunkError('XOR chunk truncated inside a varint');
  if (err === 'too long') throw new XorChunkError('XOR chunk has a varint longer than 10 bytes');
}

/** The int64 (hi, lo) as a number; throws when it is not a safe integer. */
function int64ToNumber(hi: number, lo: number, what: string): number {
  const x = (hi | 0) * TWO32 + (lo >>> 0);
  if (!Number.isSafeInteger(x)) throw new XorChunkError(`XOR chunk ${what} ${x} is beyond ±2^53`);
  return x;
}

/** The number of samples in a chunk (its big-endian uint16 header). */
export function xorChunkNumSamples(bytes: Uint8Array): number {
  if (bytes.length < 2) throw new XorChunkError(`XOR chunk of ${bytes.length} bytes has no header`);
  return (bytes[0]! << 8) | bytes[1]!;
}

/**
 * Decodes the samples of a chunk with `mint <= t <= maxt` into `outTs`/`outVs` from index
 * `offset`, and returns how many it wrote. Samples before `mint` are decoded and skipped; the
 * first sample after `maxt` ends decoding (Prometheus's chunks hold increasing timestamps).
 * The output arrays need room for the samples written (`xorChunkNumSamples` bounds it);
 * values are copied bit for bit. Throws XorChunkError on a truncated or corrupt chunk.
 */
export function decodeXorChunk(
  bytes: Uint8Array,
  outTs: Float64Array,
  outVs: Float64Array,
  offset: number,
  mint = -Infinity,
  maxt = Infinity,
): number {
  const total = xorChunkNumSamples(bytes);
  if (total === 0) return 0;
  const cap = Math.min(outTs.length, outVs.length);
  const vout = new Int32Array(outVs.buffer, outVs.byteOffset, outVs.length * 2);
  let o = offset;

  // Sample 0: signed varint timestamp, then the 64 raw value bits; byte-aligned.
  readChunkVarint(bytes, 2);
  {
    // zigzag: n = (zz >>> 1) ^ -(zz & 1) over 64 bits
    const neg = varint.lo & 1;
    let lo = (varint.lo >>> 1) | (varint.hi << 31);
    let hi = varint.hi >>> 1;
    if (neg) {
      lo = ~lo;
      hi = ~hi;
    }
    varint.hi = hi;
    varint.lo = lo;
  }
  let t = int64ToNumber(varint.hi, varint.lo, 'timestamp');
  let p = varint.end;
  if (p + 8 > bytes.length) throw new XorChunkError('XOR chunk truncated in its first value');
  let vh = (bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!;
  let vl = (bytes[p + 4]! << 24) | (bytes[p + 5]! << 16) | (bytes[p + 6]! << 8) | bytes[p + 7]!;
  if (vh === STALE_HI && vl === STALE_LO) staleSeen = true;
  p += 8;
  if (t > maxt) return 0;
  if (t >= mint) {
    if (o >= cap) throw new RangeError(`decodeXorChunk: no room for sample ${o - offset + 1} at index ${o}`);
    outTs[o] = t;
    vout[2 * o + LO] = vl;
    vout[2 * o + HI] = vh;
    o++;
  }
  if (total === 1) return o - offset;

  // Sample 1: the first delta as a uvarint (uint64, so a negative delta reads back as such).
  readUvarint64(bytes, p);
  let tDelta = int64ToNumber(varint.hi, varint.lo, 'time delta');
  t += tDelta;
  if (!Number.isSafeInteger(t)) throw new XorChunkError(`XOR chunk timestamp ${t} is beyond ±2^53`);
  p = varint.end;

  // From here on, bits: words of the data after the 2-byte header, bit position relative to them.
  const w = loadWords(bytes, 2);
  const bitLen = (bytes.length - 2) * 8;
  let pos = (p - 2) * 8;
  // The value window: `leading` zero bits, `mbits` stored bits, then trailing zeros; the masks
  // keep the window's bits of a 64-bit read (hi and lo halves).
  let leading = 0;
  let mbits = 64;
  let maskHi = -1;
  let maskLo = -1;

  for (let k = 1; ; k++) {
    let x = peek(w, pos);
    if (k > 1) {
      // delta of delta
      if (x >= 0) {
        // '0'
        if ((x & 0x40000000) === 0) {
          // '0' and a '0' value: same step, same value (constant series)
          t += tDelta;
          pos += 2;
          if (t > MAX_SAFE || t < -MAX_SAFE) throw new XorChunkError(`XOR chunk timestamp ${t} is beyond ±2^53`);
          if (pos > bitLen) throw new XorChunkError(`XOR chunk truncated at sample ${k + 1} of ${total}`);
          if (t > maxt) break;
          if (t >= mint) {
            if (o >= cap) throw new RangeError(`decodeXorChunk: no room for sample ${o - offset + 1} at index ${o}`);
            outTs[o] = t;
            vout[2 * o + LO] = vl;
            vout[2 * o + HI] = vh;
            o++;
          }
          if (k + 1 === total) break;
          continue;
        }
        pos += 1;
        x <<= 1;
      } else {
        let dod: number;
        if ((x & 0x40000000) === 0) {
          // '10' + 14 bits
          const u = (x << 2) >>> 18;
          dod = u > 0x2000 ? u - 0x4000 : u;
          pos += 16;
        } else if ((x & 0x20000000) === 0) {
          // '110' + 17 bits
          const u = (x << 3) >>> 15;
          dod = u > 0x10000 ? u - 0x20000 : u;
          pos += 20;
        } else if ((x & 0x10000000) === 0) {
          // '1110' + 20 bits
          const u = (x << 4) >>> 12;
          dod = u > 0x80000 ? u - 0x100000 : u;
          pos += 24;
        } else {
          // '1111' + 64 bits
          dod = int64ToNumber(peek(w, pos + 4), peek(w, pos + 36), 'delta of delta');
          pos += 68;
        }
        tDelta += dod;
        x = peek(w, pos);
      }
      t += tDelta;
      if (t > MAX_SAFE || t < -MAX_SAFE) throw new XorChunkError(`XOR chunk timestamp ${t} is beyond ±2^53`);
    }

    // value; x holds the stream bits at pos
    if (x >= 0) {
      // '0': same value
      pos += 1;
    } else {
      if ((x & 0x40000000) !== 0) {
        // '11': a new window
        leading = (x >>> 25) & 31;
        mbits = (x >>> 19) & 63;
        if (mbits === 0) mbits = 64;
        const trailing = 64 - leading - mbits;
        if (trailing < 0) throw new XorChunkError(`XOR chunk is corrupt: ${leading} leading zeros and ${mbits} significant bits`);
        if (trailing >= 32) {
          maskLo = 0;
          maskHi = -1 << (trailing - 32);
        } else {
          maskLo = -1 << trailing;
          maskHi = -1;
        }
        pos += 13;
      } else {
        // '10': the previous window
        pos += 2;
      }
      // The xor delta is (the 64 stream bits at pos) >>> leading, masked to the window.
      const sh = peek(w, pos);
      const sl = peek(w, pos + 32);
      vh ^= (sh >>> leading) & maskHi;
      vl ^= ((sl >>> leading) | ((sh << (31 - leading)) << 1)) & maskLo;
      if (vh === STALE_HI && vl === STALE_LO) staleSeen = true;
      pos += mbits;
    }
    if (pos > bitLen) throw new XorChunkError(`XOR chunk truncated at sample ${k + 1} of ${total}`);

    if (t > maxt) break;
    if (t >= mint) {
      if (o >= cap) throw new RangeError(`decodeXorChunk: no room for sample ${o - offset + 1} at index ${o}`);
      outTs[o] = t;
      vout[2 * o + LO] = vl;
      vout[2 * o + HI] = vh;
      o++;
    }
    if (k + 1 === total) break;
  }
  return o - offset;
}

// --- encoding -------------------------------------------------------------------------------

/** The encoder's scratch buffer, reused across calls (finish() copies out the result). */
let encScratch = new Uint8Array(4096);

/** Appends bits MSB first; 32 at a time into a growing byte buffer. */
class BitWriter {
  buf: Uint8Array;
  len = 0; // bytes written to buf
  cur = 0; // pending bits, left-aligned
  used = 0; // number of pending bits (0..31)
  /**
   * Set by the encoder when its last write was a whole number of bytes (as Prometheus's
   * bstream.writeBits(u, n) with n % 8 == 0, or writeByte). Prometheus then leaves an empty byte
   * at the end of the stream when the stream is byte-aligned, and so does finish().
   */
  endsWithByte = false;

  constructor() {
    this.buf = encScratch;
  }

  /** Writes the low `n` bits of `v` (1 <= n <= 32; the bits above n must be zero). */
  write(v: number, n: number): void {
    const free = 32 - this.used;
    if (n < free) {
      this.cur |= v << (free - n);
      this.used += n;
      return;
    }
    const rest = n - free;
    this.cur |= v >>> rest;
    this.flush32();
    this.cur = rest === 0 ? 0 : v << (32 - rest);
    this.used = rest;
  }

  /** Writes the 64-bit (hi, lo) shifted right by `shift` (0..63), as `n` bits (1..64). */
  write64Shifted(hi: number, lo: number, shift: number, n: number): void {
    let sh: number;
    let sl: number;
    if (shift === 0) {
      sh = hi;
      sl = lo;
    } else if (shift < 32) {
      sl = (lo >>> shift) | (hi << (32 - shift));
      sh = hi >>> shift;
    } else {
      sl = hi >>> (shift - 32);
      sh = 0;
    }
    if (n > 32) {
      const m = n - 32;
      this.write(m === 32 ? sh : sh & ((1 << m) - 1), m);
      this.write(sl, 32);
    } else {
      this.write(n === 32 ? sl : sl & ((1 << n) - 1), n);
    }
  }

  private flush32(): void {
    if (this.len + 4 > this.buf.length) this.grow();
    const b = this.buf;
    const c = this.cur;
    b[this.len] = c >>> 24;
    b[this.len + 1] = c >>> 16;
    b[this.len + 2] = c >>> 8;
    b[this.len + 3] = c;
    this.len += 4;
  }

  private grow(): void {
    const nb = new Uint8Array(this.buf.length * 2);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    if (nb.length <= 1 << 20) encScratch = nb;
  }

  /**
   * The bytes written, the last partial byte zero-padded, plus the empty byte Prometheus's
   * bstream leaves after a byte-aligned whole-byte write; in an array of exactly that size.
   */
  finish(): Uint8Array {
    const tail = ((this.used + 7) >>> 3) + (this.endsWithByte && (this.used & 7) === 0 ? 1 : 0);
    const out = new Uint8Array(this.len + tail);
    out.set(this.buf.subarray(0, this.len));
    for (let k = 0; k < tail && k < 4; k++) out[this.len + k] = this.cur >>> (24 - 8 * k);
    return out;
  }
}

/** Writes the 64-bit (hi, lo) as an unsigned LEB128 varint. */
function writeUvarint64(bw: BitWriter, hi: number, lo: number): void {
  hi >>>= 0;
  lo >>>= 0;
  while (hi !== 0 || lo >= 0x80) {
    bw.write((lo & 0x7f) | 0x80, 8);
    lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
    hi >>>= 7;
  }
  bw.write(lo, 8);
}

/** High (int32) and low (uint32) halves of a safe integer, two's complement. */
function hiOf(x: number): number {
  return Math.floor(x / TWO32) | 0;
}
function loOf(x: number): number {
  return (x - Math.floor(x / TWO32) * TWO32) | 0;
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/**
 * Encodes samples `lo` (default 0) to `hi` (exclusive, default `ts.length`) as one XOR chunk,
 * byte for byte what Prometheus's appender writes for the same samples. Timestamps must be safe
 * integers; Prometheus's chunks hold increasing ones, but any order round-trips. Values are
 * taken bit for bit. At most 65535 samples. Throws XorChunkError or RangeError.
 */
export function encodeXorChunk(ts: Float64Array, vs: Float64Array, lo = 0, hi = ts.length): Uint8Array {
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && lo <= hi && hi <= ts.length && hi <= vs.length)) {
    throw new RangeError(`encodeXorChunk: bad range [${lo}, ${hi}) for ${ts.length} timestamps and ${vs.length} values`);
  }
  const n = hi - lo;
  if (n > XOR_MAX_SAMPLES) throw new XorChunkError(`a XOR chunk holds at most ${XOR_MAX_SAMPLES} samples, not ${n}`);
  const vin = new Int32Array(vs.buffer, vs.byteOffset, vs.length * 2);
  const bw = new BitWriter();
  bw.write(n >>> 8, 8);
  bw.write(n & 0xff, 8);
  if (n === 0) return bw.finish();

  // Sample 0.
  let t = ts[lo]!;
  if (!Number.isSafeInteger(t)) throw new XorChunkError(`timestamp ${t} at index ${lo} is not an integer within ±2^53`);
  {
    // zigzag over 64 bits: (x << 1) ^ (x >> 63)
    const h = hiOf(t);
    const l = loOf(t);
    const sign = h >> 31;
    writeUvarint64(bw, ((h << 1) | (l >>> 31)) ^ sign, (l << 1) ^ sign);
  }
  let ph = vin[2 * lo + HI]!;
  let pl = vin[2 * lo + LO]!;
  bw.write(ph, 32);
  bw.write(pl, 32);
  bw.endsWithByte = true;

  let tDelta = 0;
  let leading = 0xff; // no window yet
  let trailing = 0;
  for (let i = lo + 1; i < hi; i++) {
    const ti = ts[i]!;
    if (!Number.isSafeInteger(ti)) throw new XorChunkError(`timestamp ${ti} at index ${i} is not an integer within ±2^53`);
    const d = ti - t;
    if (!Number.isSafeInteger(d)) throw new XorChunkError(`time delta ${d} at index ${i} is beyond ±2^53`);
    if (i === lo + 1) {
      writeUvarint64(bw, hiOf(d), loOf(d));
    } else {
      const dod = d - tDelta;
      if (!Number.isSafeInteger(dod)) throw new XorChunkError(`delta of delta ${dod} at index ${i} is beyond ±2^53`);
      if (dod === 0) {
        bw.write(0, 1);
      } else if (dod >= -0x1fff && dod <= 0x2000) {
        bw.write(0b10, 2);
        bw.write(dod & 0x3fff, 14);
      } else if (dod >= -0xffff && dod <= 0x10000) {
        bw.write(0b110, 3);
        bw.write(dod & 0x1ffff, 17);
      } else if (dod >= -0x7ffff && dod <= 0x80000) {
        bw.write(0b1110, 4);
        bw.write(dod & 0xfffff, 20);
      } else {
        bw.write(0b1111, 4);
        bw.write(hiOf(dod), 32);
        bw.write(loOf(dod), 32);
      }
    }
    t = ti;
    tDelta = d;

    // value
    const vh = vin[2 * i + HI]!;
    const vl = vin[2 * i + LO]!;
    const dh = vh ^ ph;
    const dl = vl ^ pl;
    if ((dh | dl) === 0) {
      bw.write(0, 1);
      bw.endsWithByte = false;
    } else {
      let lead = dh !== 0 ? Math.clz32(dh) : 32 + Math.clz32(dl);
      const trail = dl !== 0 ? ctz32(dl) : 32 + ctz32(dh);
      if (lead >= 32) lead = 31;
      if (leading !== 0xff && lead >= leading && trail >= trailing) {
        const nb = 64 - leading - trailing;
        bw.write(0b10, 2);
        bw.write64Shifted(dh, dl, trailing, nb);
        bw.endsWithByte = (nb & 7) === 0;
      } else {
        leading = lead;
        trailing = trail;
        const sig = 64 - lead - trail;
        bw.write(0b11, 2);
        bw.write(lead, 5);
        bw.write(sig & 63, 6);
        bw.write64Shifted(dh, dl, trail, sig);
        bw.endsWithByte = (sig & 7) === 0;
      }
    }
    ph = vh;
    pl = vl;
  }
  return bw.finish();
}
