/**
 * Translation of Go RE2 syntax (what Prometheus accepts) into JavaScript RegExp.
 * Prometheus anchors every matcher and label_replace regex as ^(?s:re)$, so `.`
 * also matches a newline; we do the same with the `s` flag and explicit anchors.
 */

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const PERL_CLASSES: Record<string, string> = {
  d: '0-9',
  D: '^0-9',
  s: '\\t\\n\\f\\r ',
  S: '^\\t\\n\\f\\r ',
  w: '0-9A-Za-z_',
  W: '^0-9A-Za-z_',
};

// Characters that JS (in unicode mode) accepts after a backslash outside a class.
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));

export class RegexSyntaxError extends Error {}

interface Translated {
  source: string;
  flags: string;
}

/** The other-case forms of a character, for case-insensitive scopes (JS in Node 20 lacks (?i:...)). */
function caseVariants(ch: string): string[] {
  const u = ch.toUpperCase();
  const l = ch.toLowerCase();
  const out = [ch];
  if (u !== ch && [...u].length === 1) out.push(u);
  if (l !== ch && [...l].length === 1) out.push(l);
  return out;
}

/** Translates a Go RE2 pattern to a JS pattern body plus flags. Throws RegexSyntaxError. */
export function translateGoRegex(re: string): Translated {
  let flags = 's';
  let out = '';
  let inClass = false;
  let classStart = false;
  // Case-insensitivity is scoped by groups in RE2; it is applied by expanding letters.
  let ci = false;
  const groups: boolean[] = [];
  const n = re.length;
  let i = 0;

  const literal = (ch: string): void => {
    if (inClass) {
      for (const v of ci ? caseVariants(ch) : [ch]) out += escapeLiteral(v, true);
      return;
    }
    const vs = ci ? caseVariants(ch) : [ch];
    if (vs.length === 1) out += escapeLiteral(ch, false);
    else out += '[' + vs.map((v) => escapeLiteral(v, true)).join('') + ']';
  };

  while (i < n) {
    const c = re[i]!;
    if (c === '\\') {
      if (i + 1 >= n) throw new RegexSyntaxError('trailing backslash at end of expression');
      const d = re[i + 1]!;
      if (d === 'Q') {
        const end = re.indexOf('\\E', i + 2);
        const lit = end < 0 ? re.slice(i + 2) : re.slice(i + 2, end);
        for (const ch of lit) literal(ch);
        i = end < 0 ? n : end + 2;
        classStart = false;
        continue;
      }
      if (d === 'z') {
        out += '$';
        i += 2;
        continue;
      }
      if (d === 'A') {
        out += '^';
        i += 2;
        continue;
      }
      if (d === 'C') {
        out += inClass ? '\\s\\S' : '[\\s\\S]';
        i += 2;
        continue;
      }
      if (d in PERL_CLASSES) {
        const body = PERL_CLASSES[d]!;
        if (inClass) out += body.startsWith('^') ? '\\' + d : body;
        else out += `[${body}]`;
        i += 2;
        classStart = false;
        continue;
      }
      if (d === 'p' || d === 'P') {
        let name: string;
        let len: number;
        if (re[i + 2] === '{') {
          const end = re.indexOf('}', i + 3);
          if (end < 0) throw new RegexSyntaxError('invalid character class range');
          name = re.slice(i + 3, end);
          len = end + 1 - i;
        } else {
          name = re[i + 2] ?? '';
          len = 3;
        }
        let neg = d === 'P';
        if (name.startsWith('^')) {
          neg = !neg;
          name = name.slice(1);
        }
        const prop = name.length <= 2 || name === 'Any' ? name : `Script=${name}`;
        out += `\\${neg ? 'P' : 'p'}{${prop}}`;
        i += len;
        classStart = false;
        continue;
      }
      if (/[0-9]/.test(d)) {
        if (d === '0' || (d >= '1' && d <= '7' && /[0-7]/.test(re[i + 2] ?? ''))) {
          const m = /^[0-7]{1,3}/.exec(re.slice(i + 1))!;
          literal(String.fromCharCode(parseInt(m[0], 8)));
          i += 1 + m[0].length;
          continue;
        }
        throw new RegexSyntaxError(`invalid escape sequence: \`\\${d}\``);
      }
      if (d === 'x') {
        let cp: number;
        if (re[i + 2] === '{') {
          const end = re.indexOf('}', i + 3);
          if (end < 0) throw new RegexSyntaxError('invalid escape sequence: `\\x{`');
          cp = parseInt(re.slice(i + 3, end), 16);
          i = end + 1;
        } else {
          cp = parseInt(re.slice(i + 2, i + 4), 16);
          i += 4;
        }
        if (!(cp >= 0 && cp <= 0x10ffff)) throw new RegexSyntaxError('invalid escape sequence: `\\x`');
        literal(String.fromCodePoint(cp));
        continue;
      }
      if ('afnrtvbB'.includes(d)) {
        if (d === 'a') out += '\\x07';
        else if (d === 'b' && inClass) throw new RegexSyntaxError('invalid escape sequence: `\\b`');
        else out += '\\' + d;
        i += 2;
        continue;
      }
      if (/[A-Za-z]/.test(d)) throw new RegexSyntaxError(`invalid escape sequence: \`\\${d}\``);
      // Escaped punctuation is a literal in RE2.
      literal(d);
      i += 2;
      classStart = false;
      continue;
    }
    if (inClass) {
      if (c === '[' && re[i + 1] === ':') {
        const end = re.indexOf(':]', i + 2);
        if (end > 0) {
          let name = re.slice(i + 2, end);
          let neg = false;
          if (name.startsWith('^')) {
            neg = true;
            name = name.slice(1);
          }
          const body = POSIX_CLASSES[name];
          if (body === undefined) throw new RegexSyntaxError(`invalid character class range: \`[:${name}:]\``);
          if (neg) throw new RegexSyntaxError('negated POSIX classes are not supported');
          out += body;
          i = end + 2;
          classStart = false;
          continue;
        }
      }
      if (c === ']' && !classStart) {
        inClass = false;
        out += ']';
        i++;
        continue;
      }
      // A range a-b: under case-insensitivity add the other-case range too.
      const range = /^(.)-([^\]\\])/su.exec(re.slice(i));
      if (range && !(c === ']' && classStart)) {
        const [, a, b] = range as unknown as [string, string, string];
        out += escapeLiteral(a, true) + '-' + escapeLiteral(b, true);
        if (ci) {
          if (/[a-z]/.test(a) && /[a-z]/.test(b)) out += a.toUpperCase() + '-' + b.toUpperCase();
          else if (/[A-Z]/.test(a) && /[A-Z]/.test(b)) out += a.toLowerCase() + '-' + b.toLowerCase();
        }
        i += range[0].length;
        classStart = false;
        continue;
      }
      literal(c);
      classStart = false;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      classStart = true;
      out += '[';
      i++;
      if (re[i] === '^') {
        out += '^';
        i++;
      }
      continue;
    }
    if (c === '(') {
      const rest = re.slice(i);
      const flagOnly = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(rest);
      if (flagOnly && rest[1] === '?') {
        // (?i) etc.: applies to the rest of the enclosing group.
        if (flagOnly[1]!.includes('i')) ci = true;
        if (flagOnly[2]?.includes('i')) ci = false;
        if (flagOnly[1]!.includes('m')) flags += flags.includes('m') ? '' : 'm';
        if (flagOnly[1]!.includes('U') || flagOnly[2]?.includes('U')) throw new RegexSyntaxError('the U flag is not supported');
        i += flagOnly[0].length;
        continue;
      }
      groups.push(ci);
      const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      if (named) {
        out += `(?<${named[1]}>`;
        i += named[0].length;
        continue;
      }
      if (rest.startsWith('(?:')) {
        out += '(?:';
        i += 3;
        continue;
      }
      const fl = /^\(\?([imsU]*)(?:-([imsU]*))?:/.exec(rest);
      if (fl) {
        if (fl[1]!.includes('i')) ci = true;
        if (fl[2]?.includes('i')) ci = false;
        if (fl[1]!.includes('U') || fl[2]?.includes('U')) throw new RegexSyntaxError('the U flag is not supported');
        out += '(?:';
        i += fl[0].length;
        continue;
      }
      if (rest[1] === '?') throw new RegexSyntaxError(`invalid or unsupported Perl syntax: \`${rest.slice(0, 3)}\``);
      out += '(';
      i++;
      continue;
    }
    if (c === ')') {
      if (groups.length === 0) throw new RegexSyntaxError(`unexpected ): \`^(?:${re})$\``);
      ci = groups.pop()!;
      out += ')';
      i++;
      continue;
    }
    if (c === '{') {
      // A brace that does not start a valid repetition is a literal in RE2.
      const m = /^\{(\d+)(,(\d*))?\}/.exec(re.slice(i));
      if (!m || out === '' || /[|(]$/.test(out)) {
        out += '\\{';
        i++;
        continue;
      }
      if (Number(m[1]) > 1000 || (m[3] !== undefined && m[3] !== '' && Number(m[3]) > 1000)) {
        throw new RegexSyntaxError(`invalid repeat count: \`${m[0]}\``);
      }
      out += m[0];
      i += m[0].length;
      continue;
    }
    if (c === '}' || c === '/') {
      out += '\\' + c;
      i++;
      continue;
    }
    if (/[.*+?|^$]/.test(c)) {
      out += c;
      i++;
      continue;
    }
    const cp = re.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    literal(ch);
    i += ch.length;
  }
  if (inClass) throw new RegexSyntaxError(`missing closing ]: \`${re.slice(re.lastIndexOf('['))})$\``);
  if (groups.length > 0) throw new RegexSyntaxError(`missing closing ): \`^(?:${re})$\``);
  return { source: out, flags };
}

function escapeLiteral(s: string, inClass: boolean): string {
  let out = '';
  for (const ch of s) {
    if (inClass) out += /[\]\\^\-[]/.test(ch) ? '\\' + ch : ch;
    else if (JS_SYNTAX.has(ch)) out += '\\' + ch;
    else out += ch;
  }
  return out;
}

const cache = new Map<string, RegExp>();

/** Compiles a Go RE2 pattern anchored at both ends, as Prometheus does for matchers. */
export function compileAnchored(re: string): RegExp {
  let r = cache.get(re);
  if (r) return r;
  let t: Translated;
  try {
    t = translateGoRegex(re);
    r = new RegExp(`^(?:${t.source})$`, t.flags + 'u');
  } catch (e) {
    const msg = (e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '');
    throw new RegexSyntaxError(`error parsing regexp: ${msg}${e instanceof RegexSyntaxError ? '' : `: \`^(?:${re})$\``}`);
  }
  if (cache.size > 10000) cache.clear();
  cache.set(re, r);
  return r;
}

/**
 * Expands a Go regexp template ($1, ${1}, $name, ${name}, $$) against a match,
 * with Go's rule that `$name` takes the longest run of letters, digits and underscores.
 */
export function expandTemplate(template: string, m: RegExpExecArray): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = template[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string;
    if (next === '{') {
      const end = template.indexOf('}', i + 2);
      if (end < 0) {
        out += c;
        continue;
      }
      name = template.slice(i + 2, end);
      if (!/^[A-Za-z0-9_]+$/.test(name)) {
        out += c;
        continue;
      }
      i = end;
    } else {
      const mm = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
      if (!mm) {
        out += c;
        continue;
      }
      name = mm[0];
      i += name.length;
    }
    if (/^[0-9]+$/.test(name)) {
      const idx = Number(name);
      out += idx < m.length ? (m[idx] ?? '') : '';
    } else {
      out += m.groups?.[name] ?? '';
    }
  }
  return out;
}
