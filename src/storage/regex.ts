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

/** Translates a Go RE2 pattern to a JS pattern body plus flags. Throws RegexSyntaxError. */
export function translateGoRegex(re: string): Translated {
  let flags = 's';
  let i = 0;
  // Leading flag groups such as (?i) or (?is) become JS flags.
  for (;;) {
    const m = /^\(\?([imsU]+)\)/.exec(re.slice(i));
    if (!m) break;
    for (const f of m[1]!) {
      if (f === 'i' && !flags.includes('i')) flags += 'i';
      else if (f === 'm' && !flags.includes('m')) flags += 'm';
      else if (f === 'U') throw new RegexSyntaxError('the (?U) flag is not supported');
    }
    i += m[0].length;
  }
  let out = '';
  let inClass = false;
  let classStart = false;
  const n = re.length;
  while (i < n) {
    const c = re[i]!;
    if (c === '\\') {
      if (i + 1 >= n) throw new RegexSyntaxError('trailing backslash at end of expression');
      const d = re[i + 1]!;
      if (d === 'Q') {
        const end = re.indexOf('\\E', i + 2);
        const lit = end < 0 ? re.slice(i + 2) : re.slice(i + 2, end);
        out += escapeLiteral(lit, inClass);
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
        if (inClass) {
          if (body.startsWith('^')) out += '\\' + d; // negated perl class inside a class: let JS handle it.
          else out += body;
        } else out += body.startsWith('^') ? `[${body}]` : `[${body}]`;
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
        const prop = name.length <= 2 ? name : `Script=${name}`;
        out += `\\${neg ? 'P' : 'p'}{${prop === 'Any' ? 'Any' : prop}}`;
        i += len;
        classStart = false;
        continue;
      }
      if (/[0-9]/.test(d)) {
        if (d === '0' || (d >= '1' && d <= '7' && /[0-7]/.test(re[i + 2] ?? ''))) {
          // Octal escape.
          const m = /^[0-7]{1,3}/.exec(re.slice(i + 1))!;
          out += '\\x' + parseInt(m[0], 8).toString(16).padStart(2, '0');
          i += 1 + m[0].length;
          continue;
        }
        throw new RegexSyntaxError(`invalid escape sequence: \`\\${d}\``);
      }
      if (d === 'x') {
        if (re[i + 2] === '{') {
          const end = re.indexOf('}', i + 3);
          if (end < 0) throw new RegexSyntaxError('invalid escape sequence: `\\x{`');
          out += `\\u{${re.slice(i + 3, end)}}`;
          i = end + 1;
        } else {
          out += re.slice(i, i + 4);
          i += 4;
        }
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
      out += escapeLiteral(d, inClass);
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
      if (c === '[' || c === '/' || (c === ']' && classStart)) {
        out += '\\' + c;
        i++;
        classStart = false;
        continue;
      }
      if (c === '^' && classStart && out.endsWith('[')) {
        out += '^';
        i++;
        continue;
      }
      out += c;
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
    if (c === '(' && re[i + 1] === '?') {
      const rest = re.slice(i);
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
      const fl = /^\(\?([imsU-]*):/.exec(rest);
      if (fl) {
        // Scoped flags: only `s` (already on) can be honoured without inline-modifier support.
        if (/[imU]/.test(fl[1]!.replace(/-.*/, ''))) throw new RegexSyntaxError(`unsupported inline flags: ${fl[0]}`);
        out += '(?:';
        i += fl[0].length;
        continue;
      }
      throw new RegexSyntaxError(`invalid or unsupported Perl syntax: \`${rest.slice(0, 3)}\``);
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
    out += c;
    i++;
  }
  if (inClass) throw new RegexSyntaxError(`missing closing ]: \`${re}\``);
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
  const t = translateGoRegex(re);
  try {
    r = new RegExp(`^(?:${t.source})$`, t.flags + 'u');
  } catch (e) {
    throw new RegexSyntaxError(`error parsing regexp: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
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
