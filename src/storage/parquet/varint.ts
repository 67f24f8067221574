/** Unsigned LEB128 varints of up to 64 bits, read without BigInt and without allocating. */

/** The last varint read: its high and low 32 bits, and the position after it. */
export const varint = { hi: 0, lo: 0, end: 0 };

/**
 * Reads the varint at `p` (before `end`) into `varint`. Returns undefined on success, or what
 * went wrong: 'eof' when `p` is already at the end, 'truncated' inside a varint, 'too long'
 * past 10 bytes.
 */
export function readUvarint64(b: Uint8Array, p: number, end: number = b.length): 'eof' | 'truncated' | 'too long' | undefined {
  if (p >= end) return 'eof';
  let lo = 0;
  let hi = 0;
  for (let i = 0, shift = 0; ; i++, shift += 7) {
    if (p >= end) return 'truncated';
    const x = b[p++]!;
    const v = x & 0x7f;
    if (shift < 32) {
      lo |= v << shift;
      if (shift > 25) hi |= v >>> (32 - shift);
    } else {
      hi |= v << (shift - 32);
    }
    if (x < 0x80) break;
    if (i === 9) return 'too long';
  }
  varint.hi = hi | 0;
  varint.lo = lo | 0;
  varint.end = p;
  return undefined;
}
