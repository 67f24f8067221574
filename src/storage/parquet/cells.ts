/**
 * The binary values inside the Parquet columns (docs/parquet-format.md):
 *
 * - parquet-common data cells (`s_data_<i>`): zero or more chunks, each
 *     uvarint encoding | uvarint minT | uvarint maxT | uvarint length | length bytes
 *   (minT/maxT as uint64 of the int64 milliseconds, so a negative time takes 10 bytes).
 * - Cloudflare data cells (`___cf_meta_chunk_<i>`): zero or more chunks, each with a 24-byte
 *   big-endian header
 *     u32 encoding | u64 zigzag(minT) | u64 zigzag(maxT) | u32 length | length bytes
 * - label column indexes (`s_col_indexes`, Cloudflare's `___cf_meta_index`): zigzag varints,
 *   the count then the indexes in ascending order.
 * - Cloudflare's per-day `meta.pb` (protobuf `meta.Metadata`).
 *
 * Chunk bytes are views into the cell (no copy). Samples are decoded into typed arrays.
 */

import { decodeXorChunk, xorChunkNumSamples } from './xor.js';
import { readUvarint64, varint } from './varint.js';

/** Prometheus's chunk encodings (chunkenc.Encoding). hmd decodes XOR only. */
export const CHUNK_ENC_NONE = 0;
export const CHUNK_ENC_XOR = 1;
export const CHUNK_ENC_HISTOGRAM = 2;
export const CHUNK_ENC_FLOAT_HISTOGRAM = 3;

const ENC_NAMES = ['none', 'XOR', 'histogram', 'float histogram'];

/** One chunk of a cell. `data` is the chunk as Prometheus stores it (XOR: see xor.ts). */
export interface CellChunk {
  encoding: number;
  /** Time of the chunk's first and last sample, ms, inclusive. */
  minT: number;
  maxT: number;
  data: Uint8Array;
}

/** A cell (or meta.pb, or an index list) that cannot be parsed. */
export class CellFormatError extends Error {
  override name = 'CellFormatError';
}

const TWO32 = 4294967296;

// --- varints --------------------------------------------------------------------------------

/** Growing byte buffer for the encoders. */
class ByteWriter {
  buf: Uint8Array;
  len = 0;
  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const nb = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** Unsigned LEB128 of the 64-bit (hi, lo). */
  uvarint64(hi: number, lo: number): void {
    hi >>>= 0;
    lo >>>= 0;
    this.ensure(10);
    while (hi !== 0 || lo >= 0x80) {
      this.buf[this.len++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.len++] = lo;
  }
  /** Unsigned LEB128 of the int64 `x` taken as uint64 (a negative x takes 10 bytes). */
  uvarint(x: number): void {
    this.uvarint64(hiOf(x), loOf(x));
  }
  /** Signed (zigzag) LEB128 of `x`, Go's binary.PutVarint. */
  varint(x: number): void {
    const h = hiOf(x);
    const l = loOf(x);
    const sign = h >> 31;
    this.uvarint64(((h << 1) | (l >>> 31)) ^ sign, (l << 1) ^ sign);
  }
  u32be(x: number): void {
    this.ensure(4);
    const b = this.buf;
    b[this.len] = x >>> 24;
    b[this.len + 1] = x >>> 16;
    b[this.len + 2] = x >>> 8;
    b[this.len + 3] = x;
    this.len += 4;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function checkInt(x: number, what: string): void {
  if (!Number.isSafeInteger(x)) throw new CellFormatError(`${what} ${x} is not an integer within ±2^53`);
}

function hiOf(x: number): number {
  return Math.floor(x / TWO32) | 0;
}
function loOf(x: number): number {
  return (x - Math.floor(x / TWO32) * TWO32) | 0;
}

/** Reads a varint at `p` into `varint`; false at end of input, CellFormatError when malformed. */
function readCellVarint(b: Uint8Array, p: number, end: number, what: string): boolean {
  const err = readUvarint64(b, p, end);
  if (err === 'eof') return false;
  if (err === 'truncated') throw new CellFormatError(`truncated varint (${what})`);
  if (err === 'too long') throw new CellFormatError(`varint longer than 10 bytes (${what})`);
  return true;
}

/** varint.hi/varint.lo as a signed int64 number; throws when not a safe integer. */
function rdInt64(what: string): number {
  const x = varint.hi * TWO32 + (varint.lo >>> 0);
  if (!Number.isSafeInteger(x)) throw new CellFormatError(`${what} ${x} is beyond ±2^53`);
  return x;
}

/** varint.hi/varint.lo taken as zigzag, as a number. */
function rdZigzag(what: string): number {
  const neg = varint.lo & 1;
  let lo = (varint.lo >>> 1) | (varint.hi << 31);
  let hi = varint.hi >>> 1;
  if (neg) {
    lo = ~lo;
    hi = ~hi;
  }
  varint.hi = hi | 0;
  varint.lo = lo | 0;
  return rdInt64(what);
}

// --- parquet-common cells ---------------------------------------------------------------------

/** Encodes chunks as one parquet-common data cell (concatenated; empty list: empty cell). */
export function encodeCell(chunks: readonly CellChunk[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += c.data.length + 24;
  const w = new ByteWriter(Math.max(16, size));
  for (const c of chunks) {
    checkInt(c.encoding, 'chunk encoding');
    checkInt(c.minT, 'chunk minT');
    checkInt(c.maxT, 'chunk maxT');
    w.uvarint(c.encoding);
    w.uvarint(c.minT);
    w.uvarint(c.maxT);
    w.uvarint(c.data.length);
    w.bytes(c.data);
  }
  return w.done();
}

/**
 * The chunks of a parquet-common data cell that overlap [mint, maxt], in stored order (a chunk
 * is skipped when its minT > maxt or its maxT < mint, as parquet-common's decoder does). An empty
 * cell has none. `data` are views into `cell`. Throws CellFormatError on a malformed cell.
 */
export function decodeCell(cell: Uint8Array, mint = -Infinity, maxt = Infinity): CellChunk[] {
  const out: CellChunk[] = [];
  const end = cell.length;
  let p = 0;
  while (readCellVarint(cell, p, end, 'chunk encoding')) {
    const encoding = rdInt64('chunk encoding');
    if (!readCellVarint(cell, varint.end, end, 'chunk minT')) throw new CellFormatError('data cell truncated before a chunk minT');
    const minT = rdInt64('chunk minT');
    if (!readCellVarint(cell, varint.end, end, 'chunk maxT')) throw new CellFormatError('data cell truncated before a chunk maxT');
    const maxT = rdInt64('chunk maxT');
    if (!readCellVarint(cell, varint.end, end, 'chunk length')) throw new CellFormatError('data cell truncated before a chunk length');
    const len = rdInt64('chunk length');
    p = varint.end;
    if (len < 0 || p + len > end) {
      throw new CellFormatError(`data cell truncated: a chunk of ${len} bytes at offset ${p} of ${end}`);
    }
    if (minT <= maxt && maxT >= mint) out.push({ encoding, minT, maxT, data: cell.subarray(p, p + len) });
    p += len;
  }
  return out;
}

// --- Cloudflare cells -------------------------------------------------------------------------

const CF_HEADER = 24;

/** Encodes chunks as one Cloudflare (parquet-tsdb-poc / thanos-parquet-gateway) data cell. */
export function encodeCfCell(chunks: readonly CellChunk[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += c.data.length + CF_HEADER;
  const w = new ByteWriter(Math.max(16, size));
  for (const c of chunks) {
    checkInt(c.minT, 'chunk minT');
    checkInt(c.maxT, 'chunk maxT');
    if (!(c.encoding >= 0 && c.encoding <= 0xffffffff)) throw new CellFormatError(`chunk encoding ${c.encoding} does not fit 32 bits`);
    w.u32be(c.encoding);
    for (const t of [c.minT, c.maxT]) {
      // zigzag over 64 bits, big-endian
      const h = hiOf(t);
      const l = loOf(t);
      const sign = h >> 31;
      w.u32be(((h << 1) | (l >>> 31)) ^ sign);
      w.u32be((l << 1) ^ sign);
    }
    w.u32be(c.data.length);
    w.bytes(c.data);
  }
  return w.done();
}

function u32be(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/**
 * The chunks of a Cloudflare data cell that overlap [mint, maxt], in stored order. Throws
 * CellFormatError on a malformed cell (Cloudflare's own reader stops silently at a short header
 * or an overlong length; hmd reports it, since a partial series must not pass as whole).
 */
export function decodeCfCell(cell: Uint8Array, mint = -Infinity, maxt = Infinity): CellChunk[] {
  const out: CellChunk[] = [];
  const end = cell.length;
  let p = 0;
  while (p < end) {
    if (p + CF_HEADER > end) throw new CellFormatError(`Cloudflare data cell truncated: a ${end - p}-byte chunk header at offset ${p}`);
    const encoding = u32be(cell, p);
    varint.hi = u32be(cell, p + 4) | 0;
    varint.lo = u32be(cell, p + 8) | 0;
    const minT = rdZigzag('chunk minT');
    varint.hi = u32be(cell, p + 12) | 0;
    varint.lo = u32be(cell, p + 16) | 0;
    const maxT = rdZigzag('chunk maxT');
    const len = u32be(cell, p + 20);
    p += CF_HEADER;
    if (p + len > end) throw new CellFormatError(`Cloudflare data cell truncated: a chunk of ${len} bytes at offset ${p} of ${end}`);
    if (minT <= maxt && maxT >= mint) out.push({ encoding, minT, maxT, data: cell.subarray(p, p + len) });
    p += len;
  }
  return out;
}

// --- samples ----------------------------------------------------------------------------------

/** Most samples `decodeChunkSamples` can write for these chunks (the sum of their XOR counts). */
export function chunksNumSamples(chunks: readonly CellChunk[]): number {
  let n = 0;
  for (const c of chunks) if (c.encoding === CHUNK_ENC_XOR) n += xorChunkNumSamples(c.data);
  return n;
}

/**
 * Decodes the samples with `mint <= t <= maxt` of a series' chunks (from one cell, or several
 * cells of the same row, concatenated in column order) into `outTs`/`outVs` from `offset`, and
 * returns how many it wrote; the arrays need room for `chunksNumSamples(chunks)`. The result is
 * in increasing time order without duplicates: chunks out of order are sorted by minT, and a
 * sample whose time is not after the previous one (overlapping chunks) is dropped, keeping the
 * first, as Prometheus merges overlapping chunks. Throws CellFormatError for chunks that are
 * not XOR (native histograms are not supported).
 */
export function decodeChunkSamples(
  chunks: readonly CellChunk[],
  outTs: Float64Array,
  outVs: Float64Array,
  offset: number,
  mint = -Infinity,
  maxt = Infinity,
): number {
  let list = chunks;
  for (let i = 1; i < list.length; i++) {
    if (list[i]!.minT < list[i - 1]!.minT) {
      list = [...chunks].sort((a, b) => a.minT - b.minT);
      break;
    }
  }
  let o = offset;
  for (const c of list) {
    if (c.encoding !== CHUNK_ENC_XOR) {
      throw new CellFormatError(`unsupported chunk encoding ${c.encoding} (${ENC_NAMES[c.encoding] ?? 'unknown'}); hmd reads XOR (float) chunks only`);
    }
    if (c.minT > maxt || c.maxT < mint) continue;
    const n = decodeXorChunk(c.data, outTs, outVs, o, mint, maxt);
    if (n > 0 && o > offset && outTs[o]! <= outTs[o - 1]!) {
      // Overlap with what is already written: keep only samples after the last one.
      const last = outTs[o - 1]!;
      const bits = new Int32Array(outVs.buffer, outVs.byteOffset, outVs.length * 2);
      let k = o;
      for (let i = o; i < o + n; i++) {
        if (outTs[i]! > last) {
          outTs[k] = outTs[i]!;
          bits[2 * k] = bits[2 * i]!;
          bits[2 * k + 1] = bits[2 * i + 1]!;
          k++;
        }
      }
      o = k;
    } else {
      o += n;
    }
  }
  return o - offset;
}

/** Convenience: decode one parquet-common cell's samples in [mint, maxt] (see decodeChunkSamples). */
export function decodeCellSamples(cell: Uint8Array, outTs: Float64Array, outVs: Float64Array, offset: number, mint = -Infinity, maxt = Infinity): number {
  return decodeChunkSamples(decodeCell(cell, mint, maxt), outTs, outVs, offset, mint, maxt);
}

/** Convenience: decode one Cloudflare cell's samples in [mint, maxt] (see decodeChunkSamples). */
export function decodeCfCellSamples(cell: Uint8Array, outTs: Float64Array, outVs: Float64Array, offset: number, mint = -Infinity, maxt = Infinity): number {
  return decodeChunkSamples(decodeCfCell(cell, mint, maxt), outTs, outVs, offset, mint, maxt);
}

// --- label column indexes ---------------------------------------------------------------------

/**
 * Encodes the indexes of a row's non-null label columns (`s_col_indexes`, `___cf_meta_index`):
 * zigzag varint count, then each index as a zigzag varint, ascending (a sorted copy is taken).
 */
export function encodeColIndexes(indexes: ArrayLike<number>): Uint8Array {
  const sorted = Float64Array.from(indexes).sort();
  const w = new ByteWriter(2 + sorted.length * 2);
  w.varint(sorted.length);
  for (const x of sorted) {
    checkInt(x, 'column index');
    w.varint(x);
  }
  return w.done();
}

/** Decodes an `s_col_indexes` / `___cf_meta_index` value. */
export function decodeColIndexes(bytes: Uint8Array): number[] {
  const end = bytes.length;
  if (!readCellVarint(bytes, 0, end, 'index count')) throw new CellFormatError('empty column index list');
  const n = rdZigzag('index count');
  if (n < 0 || n > end) throw new CellFormatError(`column index list claims ${n} entries in ${end} bytes`);
  const out = new Array<number>(n);
  let p = varint.end;
  for (let i = 0; i < n; i++) {
    if (!readCellVarint(bytes, p, end, 'column index')) throw new CellFormatError(`column index list truncated after ${i} of ${n}`);
    out[i] = rdZigzag('column index');
    p = varint.end;
  }
  return out;
}

// --- Cloudflare meta.pb -----------------------------------------------------------------------

/**
 * Cloudflare's per-day `meta.pb`: protobuf (proto3) `meta.Metadata`
 * { int64 mint = 1; int64 maxt = 2; int64 shards = 3; map<string, Columns> columnsForName = 4;
 *   int64 version = 5 } with `Columns { repeated string columns = 1; }`.
 * mint is the day's start and maxt the next day's start (exclusive), in ms.
 */
export interface CfMeta {
  mint: number;
  maxt: number;
  shards: number;
  /** 0: columns per metric name in columnsForName; 1: `___cf_meta_index`; 2: also `___cf_meta_hash`. */
  version: number;
  columnsForName: Map<string, string[]>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8enc = new TextEncoder();

/** Parses a `meta.pb`. Unknown fields are skipped, as protobuf readers do. */
export function decodeCfMeta(bytes: Uint8Array): CfMeta {
  const meta: CfMeta = { mint: 0, maxt: 0, shards: 0, version: 0, columnsForName: new Map() };
  parseMessage(bytes, 0, bytes.length, (field, wire, p, end) => {
    if (wire === 0) {
      const v = rdInt64(`meta.pb field ${field}`);
      if (field === 1) meta.mint = v;
      else if (field === 2) meta.maxt = v;
      else if (field === 3) meta.shards = v;
      else if (field === 5) meta.version = v;
    } else if (wire === 2 && field === 4) {
      // map entry: key = 1 (string), value = 2 (Columns)
      let key = '';
      const cols: string[] = [];
      parseMessage(bytes, p, end, (f, w, q, e) => {
        if (w !== 2) return;
        if (f === 1) key = decodeString(bytes, q, e);
        else if (f === 2) {
          parseMessage(bytes, q, e, (f2, w2, r, e2) => {
            if (f2 === 1 && w2 === 2) cols.push(decodeString(bytes, r, e2));
          });
        }
      });
      meta.columnsForName.set(key, cols);
    }
  });
  return meta;
}

function decodeString(b: Uint8Array, p: number, end: number): string {
  try {
    return utf8.decode(b.subarray(p, end));
  } catch {
    throw new CellFormatError('meta.pb holds a string that is not UTF-8');
  }
}

/**
 * Walks the fields of a protobuf message in b[p, end). For varint fields (wire 0) the value is
 * in varint.hi/varint.lo when `fn` is called; for length-delimited fields (wire 2) `fn` gets its byte range.
 */
function parseMessage(b: Uint8Array, p: number, end: number, fn: (field: number, wire: number, p: number, end: number) => void): void {
  while (p < end) {
    readCellVarint(b, p, end, 'meta.pb tag');
    const tag = varint.lo >>> 0;
    const field = tag >>> 3;
    const wire = tag & 7;
    p = varint.end;
    if (field === 0) throw new CellFormatError('meta.pb has a field number 0');
    switch (wire) {
      case 0:
        if (!readCellVarint(b, p, end, 'meta.pb varint')) throw new CellFormatError('meta.pb truncated in a varint');
        p = varint.end;
        fn(field, 0, p, p);
        break;
      case 1:
        p += 8;
        break;
      case 2: {
        if (!readCellVarint(b, p, end, 'meta.pb length')) throw new CellFormatError('meta.pb truncated in a length');
        const len = rdInt64('meta.pb length');
        p = varint.end;
        if (len < 0 || p + len > end) throw new CellFormatError(`meta.pb truncated: a ${len}-byte field at offset ${p} of ${end}`);
        fn(field, 2, p, p + len);
        p += len;
        break;
      }
      case 5:
        p += 4;
        break;
      default:
        throw new CellFormatError(`meta.pb has an unsupported wire type ${wire}`);
    }
    if (p > end) throw new CellFormatError('meta.pb truncated');
  }
}

/** Writes a `meta.pb` as Cloudflare's converter does (fields in number order, zero values omitted). */
export function encodeCfMeta(meta: CfMeta): Uint8Array {
  const w = new ByteWriter(64);
  const int = (field: number, v: number) => {
    checkInt(v, `meta.pb field ${field}`);
    if (v === 0) return;
    w.uvarint(field << 3);
    w.uvarint(v); // proto3 int64: two's complement varint
  };
  const bytesField = (field: number, b: Uint8Array) => {
    w.uvarint((field << 3) | 2);
    w.uvarint(b.length);
    w.bytes(b);
  };
  int(1, meta.mint);
  int(2, meta.maxt);
  int(3, meta.shards);
  for (const [name, cols] of [...meta.columnsForName].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const colsMsg = new ByteWriter(32);
    for (const c of cols) {
      const s = utf8enc.encode(c);
      colsMsg.uvarint((1 << 3) | 2);
      colsMsg.uvarint(s.length);
      colsMsg.bytes(s);
    }
    const entry = new ByteWriter(32);
    const k = utf8enc.encode(name);
    entry.uvarint((1 << 3) | 2);
    entry.uvarint(k.length);
    entry.bytes(k);
    const v = colsMsg.done();
    entry.uvarint((2 << 3) | 2);
    entry.uvarint(v.length);
    entry.bytes(v);
    bytesField(4, entry.done());
  }
  int(5, meta.version);
  return w.done();
}
