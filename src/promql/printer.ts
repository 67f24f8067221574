/**
 * Prints the typed AST back to PromQL text, in the style of Prometheus's `expr.String()`
 * (promql/parser/printer.go): `sum by (a) (rate(foo{b="c"}[5m] offset 1m))`,
 * `a / on (b) group_left (c) d`, `x > bool 1`, `foo[5m:1m] @ 100.000 offset 1m`.
 *
 * The text parses back (with `parseExpr`) to an equal tree. Where Prometheus's printer loses
 * something the tree records, this one keeps it: `by ()`/`without ()` and `on ()`/`ignoring ()`
 * as written, matchers in their written order (Prometheus sorts them) and the metric name where
 * it was written (`foo{a="b"}`, `{a="b", "foo"}`, `{__name__="foo"}`). Parentheses are printed
 * where the tree has a ParenExpr, and otherwise only where precedence needs them (for trees
 * built by hand, such as a planner's rewrites).
 */

import type { AtModifier, BinaryExpr, BinaryOp, Expr, VectorMatching, VectorSelector } from './ast.js';
import { AGGREGATE_OPS } from './ast.js';
import { METRIC_NAME, isLegacyLabelName, isLegacyMetricName } from '../storage/labels.js';
import { formatShortest } from '../util/gofloat.js';
import { DURATION_UNIT_MS } from '../util/duration.js';

/** Prints an expression as PromQL text that parses back to the same tree. */
export function exprToString(e: Expr): string {
  switch (e.kind) {
    case 'NumberLiteral':
      return formatNumber(e.value);
    case 'StringLiteral':
      return quoteGo(e.value);
    case 'VectorSelector':
      return selectorText(e) + modifiers(e.at, e.offset);
    case 'MatrixSelector': {
      const s = e.selector;
      return `${selectorText(s)}[${formatDuration(e.range)}]${modifiers(s.at, s.offset)}`;
    }
    case 'SubqueryExpr': {
      const inner = exprToString(e.expr);
      const step = e.step !== 0 ? formatDuration(e.step) : '';
      return `${isPrimary(e.expr) ? inner : `(${inner})`}[${formatDuration(e.range)}:${step}]${modifiers(e.at, e.offset)}`;
    }
    case 'Call':
      return `${e.func}(${e.args.map(exprToString).join(', ')})`;
    case 'AggregateExpr': {
      const grouping = e.without || e.grouping.length > 0 || e.hasGrouping ? ` ${e.without ? 'without' : 'by'} (${labelList(e.grouping)}) ` : '';
      const args = e.param ? `${exprToString(e.param)}, ${exprToString(e.expr)}` : exprToString(e.expr);
      return `${e.op}${grouping}(${args})`;
    }
    case 'BinaryExpr':
      return binaryText(e);
    case 'UnaryExpr': {
      // Unary minus binds as tightly as `*`: looser than `^`, tighter than everything else.
      const inner = exprToString(e.expr);
      const needs = e.expr.kind === 'BinaryExpr' && PRECEDENCE[e.expr.op] < POW_PREC;
      return e.op + (needs ? `(${inner})` : inner);
    }
    case 'ParenExpr':
      return `(${exprToString(e.expr)})`;
  }
}

// Binding strength of the binary operators, loosest first (Prometheus's generated_parser.y).
const PRECEDENCE: Record<BinaryOp, number> = {
  or: 1,
  and: 2,
  unless: 2,
  '==': 3,
  '!=': 3,
  '>': 3,
  '<': 3,
  '>=': 3,
  '<=': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  atan2: 5,
  '^': 6,
};
const POW_PREC = 6;
/** Unary +/- binds like `*` (`%prec MUL` upstream). */
const UNARY_PREC = 5;

/** How tightly an expression's outermost operator binds, when it has one that precedence concerns. */
function precedence(e: Expr): number | undefined {
  if (e.kind === 'BinaryExpr') return PRECEDENCE[e.op];
  if (e.kind === 'UnaryExpr') return UNARY_PREC;
  // A negative literal prints with a sign that the grammar may treat as a unary minus.
  if (e.kind === 'NumberLiteral' && (e.value < 0 || Object.is(e.value, -0))) return UNARY_PREC;
  return undefined;
}

function binaryText(e: BinaryExpr): string {
  const p = PRECEDENCE[e.op];
  const rightAssoc = e.op === '^';
  const lp = precedence(e.lhs);
  const rp = e.rhs.kind === 'UnaryExpr' || e.rhs.kind === 'NumberLiteral' ? undefined : precedence(e.rhs);
  // A unary or negative literal on the left of `^` would take the whole power: -a ^ b is -(a ^ b).
  const lParen = lp !== undefined && (lp < p || (lp === p && rightAssoc) || (e.lhs.kind !== 'BinaryExpr' && p > UNARY_PREC));
  const rParen = rp !== undefined && (rp < p || (rp === p && !rightAssoc));
  const l = exprToString(e.lhs);
  const r = exprToString(e.rhs);
  const bool = e.returnBool ? ' bool' : '';
  return `${lParen ? `(${l})` : l} ${e.op}${bool}${matchingText(e.matching)} ${rParen ? `(${r})` : r}`;
}

function matchingText(m: VectorMatching | undefined): string {
  if (!m) return '';
  let s = '';
  if (m.explicit || m.on || m.labels.length > 0 || m.card === 'many-to-one' || m.card === 'one-to-many') {
    s += ` ${m.on ? 'on' : 'ignoring'} (${labelList(m.labels)})`;
  }
  if (m.card === 'many-to-one' || m.card === 'one-to-many') {
    s += ` ${m.card === 'many-to-one' ? 'group_left' : 'group_right'}`;
    if (m.include.length > 0) s += ` (${labelList(m.include)})`;
  }
  return s;
}

/** Expressions that a following `[range:step]` applies to as a whole. */
function isPrimary(e: Expr): boolean {
  switch (e.kind) {
    case 'VectorSelector':
    case 'Call':
    case 'AggregateExpr':
    case 'ParenExpr':
      return true;
    default:
      return false;
  }
}

/** Words that must not print as a bare metric name, since they would read as something else. */
const RESERVED = new Set([
  'and',
  'or',
  'unless',
  'atan2',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'start',
  'end',
  'inf',
  'nan',
  ...AGGREGATE_OPS,
]);

/** True when `name` can be written before the braces and read back as the metric name. */
function bareName(name: string): boolean {
  return isLegacyMetricName(name) && !RESERVED.has(name.toLowerCase());
}

/** The selector without its modifiers: `name{matchers}` with matchers in their written order. */
function selectorText(s: VectorSelector): string {
  let prefix = '';
  const parts: string[] = [];
  let nameSeen = false;
  s.matchers.forEach((m, i) => {
    const isName = !nameSeen && s.name !== undefined && m.name === METRIC_NAME && m.type === '=' && m.value === s.name;
    if (isName) {
      nameSeen = true;
      if (i === 0 && bareName(m.value)) prefix = m.value;
      else parts.push(quoteGo(m.value));
      return;
    }
    parts.push(`${labelName(m.name)}${m.type}${quoteGo(m.value)}`);
  });
  if (parts.length === 0) return prefix === '' ? '{}' : prefix;
  return `${prefix}{${parts.join(', ')}}`;
}

function labelName(n: string): string {
  return isLegacyLabelName(n) ? n : quoteGo(n);
}

function labelList(ls: readonly string[]): string {
  return ls.map(labelName).join(', ');
}

function modifiers(at: AtModifier | undefined, offset: number): string {
  let s = '';
  if (at) s += at.kind === 'time' ? ` @ ${formatAtTime(at.ms)}` : at.kind === 'start' ? ' @ start()' : ' @ end()';
  if (offset > 0) s += ` offset ${formatDuration(offset)}`;
  else if (offset < 0) s += ` offset -${formatDuration(-offset)}`;
  return s;
}

/** An @ time in seconds with three decimals (`%.3f` upstream), written exactly from the ms. */
export function formatAtTime(ms: number): string {
  const neg = ms < 0;
  const a = Math.abs(ms);
  const frac = a % 1000;
  const s = `${Math.floor(a / 1000)}.${String(Math.round(frac)).padStart(3, '0')}`;
  return neg ? '-' + s : s;
}

const UNITS = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];

/**
 * A non-negative duration in ms as Prometheus's model.Duration prints it (`1h30m`, `5m`, `1ms`,
 * `0s`): years and weeks only when they divide it exactly. A duration that is not a whole
 * number of ms (only duration arithmetic makes one) prints as seconds, which reads back rounded
 * to the ms.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (!Number.isInteger(ms) || ms < 0) return formatShortest(ms / 1000);
  let rest = ms;
  let out = '';
  DURATION_UNIT_MS.forEach((mult, i) => {
    if (i < 2 && rest % mult !== 0) return;
    const v = Math.floor(rest / mult);
    if (v > 0) {
      out += `${v}${UNITS[i]}`;
      rest -= v * mult;
    }
  });
  return out;
}

/** A number literal: the shortest text that reads back as the same double; Inf, -Inf, NaN. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Inf';
  if (v === -Infinity) return '-Inf';
  return formatShortest(v);
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/**
 * Quotes a string as Go's strconv.Quote does, so that PromQL's parser reads it back: the
 * usual escapes, non-printable characters as \xNN, \uNNNN or \UNNNNNNNN, and the lone
 * surrogates U+DC80..U+DCFF that stand for bytes of invalid UTF-8 as the bytes, \xNN.
 */
export function quoteGo(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    const ch = String.fromCodePoint(cp);
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (cp >= 0xdc80 && cp <= 0xdcff) out += '\\x' + hex(cp - 0xdc00, 2);
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'; // no UTF-8 for it; Go would write U+FFFD
    else if (cp === 0x20 || PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x80) out += '\\x' + hex(cp, 2);
    else if (cp <= 0xffff) out += '\\u' + hex(cp, 4);
    else out += '\\U' + hex(cp, 8);
  }
  return out + '"';
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}
