import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { unescapeGo, unquote } from '../../src/util/gostring.js';

test('unescapeGo: the single-character escapes', () => {
  assert.is(unescapeGo('\\a\\b\\f\\n\\r\\t\\v\\\\', '"'), '\x07\b\f\n\r\t\v\\');
  assert.is(unescapeGo('say \\"hi\\"', '"'), 'say "hi"');
  assert.is(unescapeGo("it\\'s", "'"), "it's");
});

test('unescapeGo: only the literal’s own quote may be escaped', () => {
  assert.throws(() => unescapeGo("\\'", '"'), /^unknown escape sequence \\'$/);
  assert.throws(() => unescapeGo('\\"', "'"), /unknown escape sequence \\"/);
});

test('unescapeGo: byte, code point and octal escapes', () => {
  assert.is(unescapeGo('\\x41\\101\\u00e9\\U0001F600', '"'), 'AAé😀');
  assert.is(unescapeGo('\\xc3\\xa9', '"'), 'é'); // bytes that form UTF-8 decode as one character
  assert.is(unescapeGo('\\303\\251', '"'), 'é');
  assert.is(unescapeGo('\\x00\\000', '"'), '\0\0');
  assert.is(unescapeGo('\\377', '"'), '\udcff');
});

test('unescapeGo: bytes that are not UTF-8 become lone surrogates, one per byte', () => {
  const v = unescapeGo('a\\xffb', '"');
  assert.is(v, 'a\udcffb');
  assert.not.ok(v.isWellFormed());
  assert.is(unescapeGo('\\xe2\\x82', '"'), '\udce2\udc82'); // a truncated sequence
  assert.is(unescapeGo('\\xe2\\x82\\xac\\xff', '"'), '€\udcff'); // valid bytes around an invalid one stay text
  assert.is(unescapeGo('\\xed\\xa0\\x80', '"'), '\udced\udca0\udc80'); // an encoded surrogate is not UTF-8
  assert.is(unescapeGo('\\xc0\\x80', '"'), '\udcc0\udc80'); // nor is an overlong encoding
  // The same bytes give the same text, however they were written.
  assert.is(unescapeGo('\\xff', '"'), unescapeGo('\\377', "'"));
});

test('unescapeGo: text around escapes passes through, a byte-order mark included', () => {
  assert.is(unescapeGo('héllo 😀 \\n', '"'), 'héllo 😀 \n');
  assert.is(unescapeGo('\ufeffx', '"'), '\ufeffx');
  assert.is(unescapeGo('\\ufeffx', '"'), '\ufeffx');
  assert.is(unescapeGo('x\\xef\\xbb\\xbf\\xff', '"'), 'x\ufeff\udcff');
  assert.is(unescapeGo('', '"'), '');
  // A lone surrogate in the source has no UTF-8: it becomes U+FFFD, as Go's conversion does.
  assert.is(unescapeGo('a\ud800', '"'), 'a\ufffd');
  assert.is(unescapeGo('a\ud800\\n', '"'), 'a\ufffd\n');
});

test('unescapeGo: bad escapes fail with Prometheus-style messages', () => {
  const bad: [string, string][] = [
    ['\\x4', 'invalid escape sequence \\x'],
    ['\\xg0', 'invalid escape sequence \\x'],
    ['\\u12', 'invalid escape sequence \\u'],
    ['\\U0001F60', 'invalid escape sequence \\U'],
    ['\\ud800', 'invalid escape sequence \\ud800'],
    ['\\U00110000', 'invalid escape sequence \\U00110000'],
    ['\\400', 'invalid octal escape sequence'],
    ['\\08', 'invalid octal escape sequence'],
    ['\\0', 'invalid octal escape sequence'],
    ['\\q', 'unknown escape sequence \\q'],
    ['\\`', 'unknown escape sequence \\`'],
    ['abc\\', 'unknown escape sequence \\'],
  ];
  for (const [body, msg] of bad) {
    try {
      unescapeGo(body, '"');
      assert.unreachable(`${body} decoded`);
    } catch (e) {
      assert.is((e as Error).message, msg, body);
    }
  }
});

test('unquote: strconv.Unquote for whole literals', () => {
  assert.is(unquote('"a\\nb"'), 'a\nb');
  assert.is(unquote('`a\\nb`'), 'a\\nb');
  assert.is(unquote('``'), '');
  assert.is(unquote('""'), '');
  assert.is(unquote("'x'"), 'x');
  assert.is(unquote("'\\n'"), '\n');
  assert.is(unquote("'😀'"), '😀'); // one character, two UTF-16 units
  assert.is(unquote('"\\xff"'), '\udcff');
});

test('unquote: what is not one valid literal is undefined', () => {
  for (const s of ['', '"', '"abc', 'abc"', '"a"b"', '`a`b`', "'xy'", "''", '"a\nb"', '"\\q"', 'abc', "'a\"", '"\\"']) {
    assert.is(unquote(s), undefined, JSON.stringify(s));
  }
  // A raw string may span lines.
  assert.is(unquote('`a\nb`'), 'a\nb');
});

test.run();
