/**
 * Go's string literal syntax (strconv.Unquote), as PromQL and the promqltest language use it.
 *
 * Go strings are bytes: `\xff` and octal escapes write single bytes that need not form UTF-8.
 * A JS string cannot hold such bytes, so each byte of an invalid sequence becomes a lone
 * surrogate U+DC80..U+DCFF (as Python's surrogateescape does). Two literals with the same bytes
 * still compare equal, and `isWellFormed()` tells that the text is not valid UTF-8, which is
 * what Prometheus checks label names and values for.
 */

const SIMPLE_ESCAPES: ReadonlyMap<string, number> = new Map([
  ['a', 7],
  ['b', 8],
  ['f', 12],
  ['n', 10],
  ['r', 13],
  ['t', 9],
  ['v', 11],
  ['\\', 92],
]);

const encoder = new TextEncoder();
// ignoreBOM: a decoder otherwise drops a leading U+FEFF, which Go keeps as part of the string.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes the escapes in the body of a "..." or '...' literal (`quote` is its quote character,
 * the only one that may be escaped) as Go does; throws an Error naming the first bad escape.
 */
export function unescapeGo(body: string, quote: string): string {
  // Without escapes the bytes are the text's own UTF-8: nothing to do unless it holds a lone
  // surrogate, which has no UTF-8 and becomes U+FFFD below.
  if (!body.includes('\\') && body.isWellFormed()) return body;
  const bytes: number[] = [];
  const pushText = (s: string): void => {
    for (const b of encoder.encode(s)) bytes.push(b);
  };
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') {
      const ch = String.fromCodePoint(body.codePointAt(i)!);
      pushText(ch);
      i += ch.length - 1;
      continue;
    }
    const d = body[++i];
    const simple = d === undefined ? undefined : SIMPLE_ESCAPES.get(d);
    if (simple !== undefined) {
      bytes.push(simple);
    } else if ((d === '"' || d === "'") && d === quote) {
      bytes.push(d.charCodeAt(0));
    } else if (d === 'x') {
      const h = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Error('invalid escape sequence \\x');
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (d === 'u' || d === 'U') {
      const n = d === 'u' ? 4 : 8;
      const h = body.slice(i + 1, i + 1 + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) throw new Error(`invalid escape sequence \\${d}`);
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) throw new Error(`invalid escape sequence \\${d}${h}`);
      pushText(String.fromCodePoint(cp));
      i += n;
    } else if (d !== undefined && d >= '0' && d <= '7') {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) throw new Error('invalid octal escape sequence');
      bytes.push(parseInt(o, 8));
      i += 2;
    } else {
      throw new Error(`unknown escape sequence \\${d ?? ''}`);
    }
  }
  return decodeUtf8Lossless(Uint8Array.from(bytes));
}

/**
 * Go's strconv.Unquote for a whole literal: "..." (one line, escapes decoded), `...` (as is;
 * unlike Go, carriage returns are kept) or '...' holding exactly one character. Undefined when
 * the literal is not valid.
 */
export function unquote(s: string): string | undefined {
  if (s.length < 2) return undefined;
  const q = s[0]!;
  if (s[s.length - 1] !== q) return undefined;
  const body = s.slice(1, -1);
  if (q === '`') return body.includes('`') ? undefined : body;
  if (q !== '"' && q !== "'") return undefined;
  if (body.includes('\n')) return undefined;
  // An unescaped quote inside the body ends the literal early: not one literal.
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\') i++;
    else if (body[i] === q) return undefined;
  }
  let v: string;
  try {
    v = unescapeGo(body, q);
  } catch {
    return undefined;
  }
  if (q === "'" && [...v].length !== 1) return undefined;
  return v;
}

/**
 * Decodes UTF-8, mapping each byte of an invalid sequence to a lone surrogate
 * (U+DC80..U+DCFF), so that `isWellFormed()` later tells the text is not valid UTF-8.
 */
function decodeUtf8Lossless(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    let out = '';
    for (let i = 0; i < bytes.length; ) {
      const b = bytes[i]!;
      const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
      if (len > 0 && i + len <= bytes.length) {
        try {
          out += strictUtf8.decode(bytes.subarray(i, i + len));
          i += len;
          continue;
        } catch {
          /* not a whole sequence: escape its first byte below, then resynchronise */
        }
      }
      out += String.fromCharCode(0xdc00 + b);
      i++;
    }
    return out;
  }
}
