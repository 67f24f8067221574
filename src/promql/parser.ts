/**
 * PromQL parser: the Prometheus project's own Lezer grammar builds the concrete tree,
 * which is turned here into the typed AST and checked as Prometheus's parser checks it
 * (argument types, matching rules, modifiers), with positions and messages in its style.
 */

import { parser as lezer } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import type {
  AggregateExpr,
  AggregateOp,
  AtModifier,
  BinaryExpr,
  BinaryOp,
  Cardinality,
  Expr,
  PosRange,
  SubqueryExpr,
  VectorSelector,
} from './ast.js';
import { AGGREGATE_OPS, isComparison, isSetOp } from './ast.js';
import { ParseError } from './errors.js';
import { FUNCTIONS, typeName, typeOf } from './signatures.js';
import { LabelMatcher, type MatchType } from '../storage/matchers.js';
import { METRIC_NAME } from '../storage/labels.js';
import { RegexSyntaxError } from '../storage/regex.js';
import { parseFloatOrError, parseGoInt, type ParseFloatOptions } from '../util/gofloat.js';
import { parseModelDuration } from '../util/duration.js';
import { unescapeGo } from '../util/gostring.js';


const BINARY_TOKENS: Record<string, BinaryOp> = {
  Pow: '^',
  Mul: '*',
  Div: '/',
  Mod: '%',
  Add: '+',
  Sub: '-',
  Eql: '==',
  Neq: '!=',
  Gtr: '>',
  Lss: '<',
  Gte: '>=',
  Lte: '<=',
  And: 'and',
  Or: 'or',
  Unless: 'unless',
  Atan2: 'atan2',
};

/** Options for parsing. */
export interface ParseOptions {
  /** Allow experimental functions and aggregations (Prometheus's --enable-feature=promql-experimental-functions). Default true. */
  experimentalFunctions?: boolean;
}

const EXPERIMENTAL = new Set([
  'limitk',
  'limit_ratio',
  'sort_by_label',
  'sort_by_label_desc',
  'mad_over_time',
  'double_exponential_smoothing',
  'first_over_time',
  'ts_of_first_over_time',
  'ts_of_last_over_time',
  'ts_of_max_over_time',
  'ts_of_min_over_time',
]);

/** Parses a PromQL expression; throws ParseError with Prometheus's position and message. */
export function parseExpr(query: string, opts: ParseOptions = {}): Expr {
  return new Converter(query, opts).parse();
}

/** Parses a duration as Prometheus does (`1h30m`, `90s`, `1.5` seconds); returns ms. */
export function parseDuration(s: string): number {
  const d = tryParseDuration(s);
  if (d === undefined) throw new Error(`not a valid duration string: "${s}"`);
  return d;
}

function tryParseDuration(s: string): number | undefined {
  return parseModelDuration(s);
}

const NO_HEX_FLOAT: ParseFloatOptions = { hex: false };

/**
 * Parses a number literal as Prometheus's parser does (Go's ParseInt with base 0, so `010` is
 * octal and `0x1f` hex, then ParseFloat), or a duration literal as seconds. Returns a string
 * with Prometheus's message when the literal is out of range.
 */
export function parseNumber(text: string): number | string | undefined {
  let s = text.replace(/\s+/g, '');
  let sign = 1;
  if (s.startsWith('-')) {
    sign = -1;
    s = s.slice(1);
  } else if (s.startsWith('+')) s = s.slice(1);
  // Prometheus's lexer takes no digit separators, though Go's ParseInt would.
  const i = s.includes('_') ? undefined : parseGoInt(s);
  if (i !== undefined) return sign * i;
  // Hex integers beyond int64 fail in Prometheus too: its lexer reads no hex floats.
  if (/^0x/i.test(s)) return `error parsing number: strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax`;
  const f = parseFloatOrError(s, NO_HEX_FLOAT);
  if (typeof f === 'number') return sign * f;
  if (f === 'range') return `error parsing number: strconv.ParseFloat: parsing ${JSON.stringify(s)}: value out of range`;
  const d = tryParseDuration(s);
  if (d !== undefined) return (sign * d) / 1000;
  return undefined;
}

/** Decodes a PromQL string literal ("...", '...' or `...`) as Go's strconv.Unquote does. */
export function unquoteString(lit: string): string {
  const q = lit[0]!;
  if (lit.length < 2 || lit[lit.length - 1] !== q) throw new Error('unterminated quoted string');
  const body = lit.slice(1, -1);
  // Unlike a Go rune literal, PromQL's '...' holds a string, so the body is decoded as "..." is.
  return q === '`' ? body : unescapeGo(body, q);
}

class Converter {
  /** The query with Go-only number forms rewritten (same length, so offsets agree). */
  private readonly src: string;

  constructor(
    private readonly q: string,
    private readonly opts: ParseOptions,
  ) {
    this.src = normaliseNumbers(q);
  }

  private text(n: SyntaxNode): string {
    return this.src.slice(n.from, n.to);
  }

  private pos(n: SyntaxNode): PosRange {
    return { start: n.from, end: n.to };
  }

  private err(msg: string, from: number, to = from): never {
    throw new ParseError(msg, from, to, this.q);
  }

  parse(): Expr {
    if (this.q.trim() === '') this.err('no expression found in input', 0);
    const tree = lezer.parse(this.src);
    const top = tree.topNode;
    this.checkErrors(top);
    const first = this.exprChildren(top);
    if (first.length !== 1) this.err('unexpected expression', first[1]?.from ?? 0);
    const e = this.expr(first[0]!);
    return e;
  }

  /** Reports the first syntax error node, as an "unexpected ..." message like Prometheus's. */
  private checkErrors(top: SyntaxNode): void {
    let errNode: SyntaxNode | null = null;
    top.cursor().iterate((c) => {
      if (errNode) return false;
      if (c.type.isError) {
        errNode = c.node;
        return false;
      }
      return true;
    });
    if (!errNode) return;
    const n = errNode as SyntaxNode;
    const at = n.from;
    // What follows the error point tells the story: a token, or the end of input.
    const rest = this.q.slice(at);
    const tok = /^\s*(\S+)/.exec(rest);
    if (n.from === n.to && (!tok || at >= this.q.trimEnd().length)) {
      // Prometheus's lexer names the bracket left open when the input ends.
      const open = unclosedBracket(this.src);
      if (open === '(') this.err('unclosed left parenthesis', this.q.length);
      if (open === '[') this.err('unclosed left bracket', this.q.length);
      if (open === '{') this.err('unexpected end of input inside braces', this.q.length);
      this.err('unexpected end of input', at);
    }
    // An identifier followed by '(' that the grammar rejected is a call to an unknown function:
    // the error sits either on the identifier itself or on the '(' right after it.
    const call = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\(/.exec(this.q.slice(at));
    const before = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(this.q.slice(0, at));
    const name = call ? call[1]! : before && this.q[at] === '(' ? before[1]! : undefined;
    if (name !== undefined && !FUNCTIONS.has(name) && !AGGREGATE_OPS.has(name.toLowerCase()) && !KEYWORDS.has(name.toLowerCase())) {
      this.err(`unknown function with name "${name}"`, call ? at : before!.index);
    }
    const bad = this.text(n) || tok?.[1] || '';
    const shown = bad.length > 20 ? bad.slice(0, 20) + '...' : bad;
    if (/^["'`]/.test(bad) && !/^(["'`]).*\1$/s.test(bad)) this.err('unterminated quoted string', at);
    this.err(`unexpected ${describeToken(shown)}`, at, n.to);
  }

  private exprChildren(n: SyntaxNode): SyntaxNode[] {
    const out: SyntaxNode[] = [];
    for (let c = n.firstChild; c; c = c.nextSibling) if (isExprNode(c.name)) out.push(c);
    return out;
  }

  private child(n: SyntaxNode, name: string): SyntaxNode | null {
    for (let c = n.firstChild; c; c = c.nextSibling) if (c.name === name) return c;
    return null;
  }

  private expr(n: SyntaxNode): Expr {
    switch (n.name) {
      case 'NumberDurationLiteral':
        return this.numberLiteral(n);
      case 'StringLiteral':
        return { kind: 'StringLiteral', value: this.stringValue(n), pos: this.pos(n) };
      case 'VectorSelector':
        return this.vectorSelector(n);
      case 'MatrixSelector':
        return this.matrixSelector(n);
      case 'SubqueryExpr':
        return this.subquery(n);
      case 'OffsetExpr':
        return this.offsetExpr(n);
      case 'StepInvariantExpr':
        return this.atExpr(n);
      case 'ParenExpr': {
        const inner = this.exprChildren(n);
        if (inner.length !== 1) this.err('unexpected expression in parentheses', n.from);
        return { kind: 'ParenExpr', expr: this.expr(inner[0]!), pos: this.pos(n) };
      }
      case 'UnaryExpr':
        return this.unary(n);
      case 'BinaryExpr':
        return this.binary(n);
      case 'FunctionCall':
        return this.call(n);
      case 'AggregateExpr':
        return this.aggregate(n);
      case 'AnchoredExpr':
      case 'SmoothedExpr':
        this.err(`the "${n.name === 'AnchoredExpr' ? 'anchored' : 'smoothed'}" modifier is not supported`, n.from, n.to);
      // eslint-disable-next-line no-fallthrough
      default:
        this.err(`unsupported expression ${n.name}`, n.from, n.to);
    }
  }

  /** The value of a number or duration literal node (or of `text` inside it); parse errors as Prometheus words them. */
  private num(n: SyntaxNode, text = this.text(n)): number {
    const v = parseNumber(text);
    if (v === undefined) this.err(`bad number or duration syntax: "${text}"`, n.from, n.to);
    if (typeof v === 'string') this.err(v, n.from, n.to);
    return v;
  }

  private numberLiteral(n: SyntaxNode): Expr {
    const v = this.num(n);
    // The grammar folds a sign into the literal; Prometheus binds unary minus looser than ^,
    // so `-2 ^ 2` is -(2^2). The binary handler rebuilds that case.
    return { kind: 'NumberLiteral', value: v, pos: this.pos(n) };
  }

  private stringValue(n: SyntaxNode): string {
    try {
      return unquoteString(this.text(n));
    } catch (e) {
      this.err((e as Error).message, n.from, n.to);
    }
  }

  private vectorSelector(n: SyntaxNode): VectorSelector {
    const ident = this.child(n, 'Identifier');
    const name = ident ? this.text(ident) : undefined;
    const matchers: LabelMatcher[] = [];
    const lm = this.child(n, 'LabelMatchers');
    let nameFromBraces: string | undefined;
    if (lm) {
      for (let c = lm.firstChild; c; c = c.nextSibling) {
        if (c.name === 'QuotedLabelName') {
          // A bare quoted string inside braces is the metric name: {"my.metric"}.
          const s = this.stringValue(c.firstChild ?? c);
          if (name !== undefined || nameFromBraces !== undefined) {
            this.err(`metric name must not be set twice: "${name ?? nameFromBraces}" or "${s}"`, c.from, c.to);
          }
          nameFromBraces = s;
          matchers.push(this.makeMatcher('=', METRIC_NAME, s, c));
          continue;
        }
        if (c.name !== 'UnquotedLabelMatcher' && c.name !== 'QuotedLabelMatcher') continue;
        const labelNode = this.child(c, 'LabelName') ?? this.child(c, 'QuotedLabelName');
        const opNode = this.child(c, 'MatchOp');
        let valueNode: SyntaxNode | null = null;
        for (let x = c.lastChild; x; x = x.prevSibling) {
          if (x.name === 'StringLiteral') {
            valueNode = x;
            break;
          }
        }
        if (!labelNode || !opNode || !valueNode) this.err('unexpected label matcher', c.from, c.to);
        const lname = labelNode.name === 'QuotedLabelName' ? this.stringValue(labelNode.firstChild ?? labelNode) : this.text(labelNode);
        const op = this.text(opNode) as MatchType;
        const value = this.stringValue(valueNode);
        matchers.push(this.makeMatcher(op, lname, value, c));
      }
    }
    if (name !== undefined) {
      for (const m of matchers) {
        if (m.name === METRIC_NAME && m.type === '=') this.err(`metric name must not be set twice: "${name}" or "${m.value}"`, n.from, n.to);
      }
      matchers.unshift(this.makeMatcher('=', METRIC_NAME, name, n));
    }
    // Prometheus requires at least one matcher that does not match the empty string.
    if (!matchers.some((m) => !m.matchesEmpty())) {
      this.err('vector selector must contain at least one non-empty matcher', n.from, n.to);
    }
    return { kind: 'VectorSelector', name: name ?? nameFromBraces, matchers, offset: 0, at: undefined, pos: this.pos(n) };
  }

  private makeMatcher(op: MatchType, name: string, value: string, n: SyntaxNode): LabelMatcher {
    try {
      return new LabelMatcher(op, name, value);
    } catch (e) {
      if (e instanceof RegexSyntaxError || e instanceof SyntaxError) {
        this.err((e as Error).message, n.from, n.to);
      }
      throw e;
    }
  }

  private durationOf(n: SyntaxNode): number {
    switch (n.name) {
      case 'DurationExpr':
      case 'OffsetDurationExpr': {
        const kids: SyntaxNode[] = [];
        for (let c = n.firstChild; c; c = c.nextSibling) kids.push(c);
        if (kids.length === 1) return this.durationOf(kids[0]!);
        if (kids.length === 2 && kids[0]!.name === 'UnaryOp') {
          const v = this.durationOf(kids[1]!);
          return this.text(kids[0]!) === '-' ? -v : v;
        }
        if (kids.length === 3) {
          const a = this.durationOf(kids[0]!);
          const b = this.durationOf(kids[2]!);
          switch (kids[1]!.name) {
            case 'Add':
              return a + b;
            case 'Sub':
              return a - b;
            case 'Mul':
              return (a * b) / 1000;
            case 'Div':
              if (b === 0) this.err('division by zero', kids[2]!.from);
              return (a / b) * 1000;
            case 'Mod':
              if (b === 0) this.err('modulo by zero', kids[2]!.from);
              return a % b;
            case 'Pow':
              return Math.pow(a / 1000, b / 1000) * 1000;
          }
        }
        if (kids[0]?.name === 'ParenExpr' || this.text(n).startsWith('(')) {
          const inner = kids.find((k) => k.name.includes('Duration') || k.name === 'ParenExpr');
          if (inner) return this.durationOf(inner);
        }
        this.err(`unexpected duration expression "${this.text(n)}"`, n.from, n.to);
      }
      // eslint-disable-next-line no-fallthrough
      case 'ParenExpr': {
        const inner = n.firstChild?.nextSibling ?? n.firstChild;
        for (let c = n.firstChild; c; c = c.nextSibling) if (c.name.includes('Duration') || c.name.includes('Literal')) return this.durationOf(c);
        if (inner) return this.durationOf(inner);
        this.err('bad duration', n.from);
      }
      // eslint-disable-next-line no-fallthrough
      case 'NumberDurationLiteralInDurationContext':
      case 'NumberDurationLiteral': {
        const v = this.num(n);
        if (!Number.isFinite(v)) this.err(`bad number or duration syntax: "${this.text(n)}"`, n.from, n.to);
        return Math.round(v * 1000);
      }
      case 'DurationStep':
      case 'DurationRange':
      case 'DurationMinOf':
      case 'DurationMaxOf':
        this.err(`duration function "${this.text(n)}" is not supported`, n.from, n.to);
      // eslint-disable-next-line no-fallthrough
      default:
        this.err(`unexpected duration "${this.text(n)}"`, n.from, n.to);
    }
  }

  private matrixSelector(n: SyntaxNode): Expr {
    const inner = this.exprChildren(n)[0];
    const dur = this.child(n, 'DurationExpr');
    if (!inner || !dur) this.err('unexpected range selector', n.from, n.to);
    const sel = this.expr(inner);
    if (sel.kind !== 'VectorSelector') {
      this.err('ranges only allowed for vector selectors', inner.from, inner.to);
    }
    if (sel.offset !== 0 || sel.at) this.err('no offset or @ modifiers allowed before range', inner.from, inner.to);
    const range = this.durationOf(dur);
    if (range <= 0) this.err(`duration must be greater than 0`, dur.from, dur.to);
    return { kind: 'MatrixSelector', selector: sel, range, pos: this.pos(n) };
  }

  private subquery(n: SyntaxNode): Expr {
    const inner = this.exprChildren(n)[0];
    const durs: SyntaxNode[] = [];
    for (let c = n.firstChild; c; c = c.nextSibling) if (c.name === 'DurationExpr') durs.push(c);
    if (!inner || durs.length === 0) this.err('unexpected subquery', n.from, n.to);
    const expr = this.expr(inner);
    const range = this.durationOf(durs[0]!);
    if (range <= 0) this.err('duration must be greater than 0', durs[0]!.from, durs[0]!.to);
    const step = durs[1] ? this.durationOf(durs[1]) : 0;
    if (durs[1] && step <= 0) this.err('duration must be greater than 0', durs[1].from, durs[1].to);
    if (typeOf(expr) !== 'vector') {
      this.err(`subquery is only allowed on instant vector, got ${typeName(typeOf(expr))} instead`, inner.from, inner.to);
    }
    return { kind: 'SubqueryExpr', expr, range, step, offset: 0, at: undefined, pos: this.pos(n) };
  }

  /** The selector or subquery a modifier applies to, looking through a matrix selector. */
  private modifierTarget(e: Expr, what: string, n: SyntaxNode): VectorSelector | SubqueryExpr {
    if (e.kind === 'VectorSelector' || e.kind === 'SubqueryExpr') return e;
    if (e.kind === 'MatrixSelector') return e.selector;
    this.err(`${what} modifier must be preceded by an instant vector selector or range vector selector or a subquery`, n.from, n.to);
  }

  /**
   * The grammar sometimes hangs a trailing modifier on a whole binary or unary
   * expression (`a or b offset 5m`); PromQL binds it to the rightmost operand.
   */
  private rightmost(e: Expr): Expr {
    let x = e;
    for (;;) {
      if (x.kind === 'BinaryExpr') x = x.rhs;
      else if (x.kind === 'UnaryExpr') x = x.expr;
      else return x;
    }
  }

  private offsetExpr(n: SyntaxNode): Expr {
    const inner = this.exprChildren(n)[0];
    const dur = this.child(n, 'OffsetDurationExpr');
    if (!inner || !dur) this.err('unexpected offset', n.from, n.to);
    const e = this.expr(inner);
    const target = this.modifierTarget(this.rightmost(e), 'offset', n);
    if (target.offset !== 0) this.err('offset may not be set multiple times', n.from, n.to);
    target.offset = this.durationOf(dur);
    return e.kind === 'BinaryExpr' || e.kind === 'UnaryExpr' ? e : withPos(e, this.pos(n));
  }

  private atExpr(n: SyntaxNode): Expr {
    const inner = this.exprChildren(n)[0];
    if (!inner) this.err('unexpected @ modifier', n.from, n.to);
    const e = this.expr(inner);
    const target = this.modifierTarget(this.rightmost(e), '@', n);
    if (target.at) this.err('@ <timestamp> may not be set multiple times', n.from, n.to);
    let at: AtModifier;
    const pre = this.child(n, 'AtModifierPreprocessors');
    if (pre) {
      at = this.text(pre).startsWith('start') ? { kind: 'start' } : { kind: 'end' };
    } else {
      let lit: SyntaxNode | null = null;
      for (let c = n.lastChild; c; c = c.prevSibling) {
        if (c.name === 'NumberDurationLiteral') {
          lit = c;
          break;
        }
      }
      if (!lit) this.err('unexpected @ modifier', n.from, n.to);
      const v = this.num(lit);
      if (!Number.isFinite(v)) this.err(`timestamp out of bounds for @ modifier: ${this.text(lit)}`, lit.from, lit.to);
      const ms = Math.round(v * 1000);
      if (Math.abs(ms) > 9223372036854775) this.err(`timestamp out of bounds for @ modifier: ${v}`, lit.from, lit.to);
      at = { kind: 'time', ms };
    }
    target.at = at;
    return e.kind === 'BinaryExpr' || e.kind === 'UnaryExpr' ? e : withPos(e, this.pos(n));
  }

  private unary(n: SyntaxNode): Expr {
    const opNode = this.child(n, 'UnaryOp');
    const inner = this.exprChildren(n)[0];
    if (!opNode || !inner) this.err('unexpected unary expression', n.from, n.to);
    const e = this.expr(inner);
    const op = this.text(opNode) === '-' ? '-' : '+';
    const t = typeOf(e);
    if (t !== 'scalar' && t !== 'vector') {
      this.err(`unary expression only allowed on expressions of type scalar or instant vector, got "${t}"`, n.from, n.to);
    }
    if (e.kind === 'NumberLiteral') {
      return { kind: 'NumberLiteral', value: op === '-' ? -e.value : e.value, pos: this.pos(n) };
    }
    return { kind: 'UnaryExpr', op, expr: e, pos: this.pos(n) };
  }

  private binary(n: SyntaxNode): Expr {
    const kids = this.exprChildren(n);
    if (kids.length !== 2) this.err('unexpected binary expression', n.from, n.to);
    let opTok: BinaryOp | undefined;
    let returnBool = false;
    let matchingNode: SyntaxNode | null = null;
    for (let c = n.firstChild; c; c = c.nextSibling) {
      if (c.name in BINARY_TOKENS && !opTok && c.from >= kids[0]!.to) opTok = BINARY_TOKENS[c.name];
      else if (c.name === 'BoolModifier') returnBool = true;
      else if (c.name === 'MatchingModifierClause') matchingNode = c;
      else if (c.name === 'FillModifier') this.err('fill modifiers are not supported', c.from, c.to);
    }
    if (!opTok) this.err('unexpected binary operator', n.from, n.to);
    const op: BinaryOp = opTok;
    let lhsNode = kids[0]!;
    const rhs = this.expr(kids[1]!);
    // `-a ^ b` in PromQL is -(a ^ b): the grammar folded the sign into the literal.
    if (op === '^' && lhsNode.name === 'NumberDurationLiteral' && /^[-+]/.test(this.text(lhsNode))) {
      const t = this.text(lhsNode);
      const sign = t[0] as '+' | '-';
      const inner: Expr = { kind: 'NumberLiteral', value: this.num(lhsNode, t.slice(1)), pos: { start: lhsNode.from + 1, end: lhsNode.to } };
      const pow = this.makeBinary(op, inner, rhs, returnBool, matchingNode, { start: lhsNode.from + 1, end: n.to });
      if (pow.kind === 'BinaryExpr' && typeOf(pow) === 'scalar') {
        return { kind: 'UnaryExpr', op: sign, expr: pow, pos: this.pos(n) };
      }
      return { kind: 'UnaryExpr', op: sign, expr: pow, pos: this.pos(n) };
    }
    const lhs = this.expr(lhsNode);
    return this.makeBinary(op, lhs, rhs, returnBool, matchingNode, this.pos(n));
  }

  private makeBinary(op: BinaryOp, lhs: Expr, rhs: Expr, returnBool: boolean, mNode: SyntaxNode | null, pos: PosRange): BinaryExpr {
    const lt = typeOf(lhs);
    const rt = typeOf(rhs);
    const at = pos.start;
    if ((lt !== 'scalar' && lt !== 'vector') || (rt !== 'scalar' && rt !== 'vector')) {
      this.err('binary expression must contain only scalar and instant vector types', at, pos.end);
    }
    if (returnBool && !isComparison(op)) this.err('bool modifier can only be used on comparison operators', at, pos.end);
    if (isComparison(op) && !returnBool && lt === 'scalar' && rt === 'scalar') {
      this.err('comparisons between scalars must use BOOL modifier', at, pos.end);
    }
    if (isSetOp(op) && (lt === 'scalar' || rt === 'scalar')) {
      this.err(`set operator "${op}" not allowed in binary scalar expression`, at, pos.end);
    }
    let matching: BinaryExpr['matching'];
    if (lt === 'vector' && rt === 'vector') {
      let card: Cardinality = isSetOp(op) ? 'many-to-many' : 'one-to-one';
      let on = false;
      let labels: string[] = [];
      let include: string[] = [];
      let explicit = false;
      if (mNode) {
        for (let c = mNode.firstChild; c; c = c.nextSibling) {
          if (c.name === 'On' || c.name === 'Ignoring') {
            explicit = true;
            on = c.name === 'On';
            const g = c.nextSibling;
            if (g && g.name === 'GroupingLabels') labels = this.groupingLabels(g);
          } else if (c.name === 'GroupLeft' || c.name === 'GroupRight') {
            if (isSetOp(op)) this.err(`no grouping allowed for "${op}" operation`, c.from, c.to);
            card = c.name === 'GroupLeft' ? 'many-to-one' : 'one-to-many';
            const g = c.nextSibling;
            if (g && g.name === 'GroupingLabels') include = this.groupingLabels(g, false);
          }
        }
      }
      if (isSetOp(op) && card !== 'many-to-many') this.err('set operations must always be many-to-many', at, pos.end);
      if (on) {
        for (const l of include) {
          if (labels.includes(l)) this.err(`label "${l}" must not occur in ON and GROUP clause at once`, at, pos.end);
        }
      }
      matching = { card, on, labels: [...new Set(labels)].sort(), include, explicit };
    } else if (mNode) {
      // Matching clauses on scalar operands are a type error in Prometheus.
      let hasGroup = false;
      for (let c = mNode.firstChild; c; c = c.nextSibling) if (c.name === 'GroupLeft' || c.name === 'GroupRight') hasGroup = true;
      if (hasGroup || this.q.slice(mNode.from, mNode.to).trim() !== '') {
        this.err('vector matching only allowed between instant vectors', at, pos.end);
      }
    }
    return { kind: 'BinaryExpr', op, lhs, rhs, returnBool, matching, pos };
  }

  private groupingLabels(g: SyntaxNode, sort = true): string[] {
    const out: string[] = [];
    for (let c = g.firstChild; c; c = c.nextSibling) {
      if (c.name === 'LabelName') out.push(this.text(c));
      else if (c.name === 'QuotedLabelName') out.push(this.stringValue(c.firstChild ?? c));
      else if (c.name === 'StringLiteral') out.push(this.stringValue(c));
    }
    return sort ? [...new Set(out)].sort() : out;
  }

  private callArgs(n: SyntaxNode): SyntaxNode[] {
    const body = this.child(n, 'FunctionCallBody');
    return body ? this.exprChildren(body) : [];
  }

  private call(n: SyntaxNode): Expr {
    const id = this.child(n, 'FunctionIdentifier');
    if (!id) this.err('unexpected function call', n.from, n.to);
    const name = this.text(id);
    const sig = FUNCTIONS.get(name);
    if (!sig) this.err(`unknown function with name "${name}"`, id.from, id.to);
    if (EXPERIMENTAL.has(name) && this.opts.experimentalFunctions === false) {
      this.err(`function "${name}" is not enabled`, id.from, id.to);
    }
    const argNodes = this.callArgs(n);
    const args = argNodes.map((a) => this.expr(a));
    const nargs = args.length;
    const min = sig.variadic > 0 ? sig.args.length - sig.variadic : sig.variadic < 0 ? sig.args.length - 1 : sig.args.length;
    const max = sig.variadic < 0 ? Infinity : sig.args.length;
    if (sig.variadic === 0 && nargs !== sig.args.length) {
      this.err(`expected ${sig.args.length} argument(s) in call to "${name}", got ${nargs}`, n.from, n.to);
    }
    if (nargs < min) this.err(`expected at least ${min} argument(s) in call to "${name}", got ${nargs}`, n.from, n.to);
    if (nargs > max) this.err(`expected at most ${max} argument(s) in call to "${name}", got ${nargs}`, n.from, n.to);
    args.forEach((a, i) => {
      const want = sig.args[Math.min(i, sig.args.length - 1)]!;
      const got = typeOf(a);
      if (got !== want) {
        this.err(`expected type ${typeName(want)} in call to function "${name}", got ${typeName(got)}`, argNodes[i]!.from, argNodes[i]!.to);
      }
    });
    return { kind: 'Call', func: name, args, pos: this.pos(n) };
  }

  private aggregate(n: SyntaxNode): AggregateExpr {
    const opNode = this.child(n, 'AggregateOp');
    if (!opNode) this.err('unexpected aggregation', n.from, n.to);
    const op = this.text(opNode).toLowerCase() as AggregateOp;
    if (!AGGREGATE_OPS.has(op)) this.err(`unknown aggregation "${op}"`, opNode.from, opNode.to);
    if (EXPERIMENTAL.has(op) && this.opts.experimentalFunctions === false) {
      this.err(`limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions`, n.from, n.to);
    }
    const mod = this.child(n, 'AggregateModifier');
    let grouping: string[] = [];
    let without = false;
    if (mod) {
      without = this.child(mod, 'Without') !== null;
      const g = this.child(mod, 'GroupingLabels');
      if (g) grouping = this.groupingLabels(g);
    }
    const argNodes = this.callArgs(n);
    const args = argNodes.map((a) => this.expr(a));
    const needsParam = op === 'topk' || op === 'bottomk' || op === 'limitk' || op === 'limit_ratio' || op === 'quantile' || op === 'count_values';
    const want = needsParam ? 2 : 1;
    if (args.length !== want) {
      if (args.length === 0) this.err('no arguments for aggregate expression provided', n.from, n.to);
      if (needsParam && args.length === 1) this.err(`wrong number of arguments for aggregate expression provided, expected 2, got 1`, n.from, n.to);
      this.err(`wrong number of arguments for aggregate expression provided, expected ${want}, got ${args.length}`, n.from, n.to);
    }
    const expr = args[args.length - 1]!;
    const param = needsParam ? args[0] : undefined;
    const et = typeOf(expr);
    if (et !== 'vector') {
      this.err(`expected type instant vector in aggregation expression, got ${typeName(et)}`, argNodes[args.length - 1]!.from, argNodes[args.length - 1]!.to);
    }
    if (param) {
      const pt = typeOf(param);
      const wantParam = op === 'count_values' ? 'string' : 'scalar';
      if (pt !== wantParam) {
        this.err(`expected type ${typeName(wantParam)} in aggregation parameter, got ${typeName(pt)}`, argNodes[0]!.from, argNodes[0]!.to);
      }
    }
    return { kind: 'AggregateExpr', op, expr, param, grouping, without, hasGrouping: mod !== null, pos: this.pos(n) };
  }

}

function withPos(e: Expr, pos: PosRange): Expr {
  return { ...e, pos } as Expr;
}

function isExprNode(name: string): boolean {
  switch (name) {
    case 'NumberDurationLiteral':
    case 'StringLiteral':
    case 'VectorSelector':
    case 'MatrixSelector':
    case 'SubqueryExpr':
    case 'OffsetExpr':
    case 'StepInvariantExpr':
    case 'ParenExpr':
    case 'UnaryExpr':
    case 'BinaryExpr':
    case 'FunctionCall':
    case 'AggregateExpr':
    case 'AnchoredExpr':
    case 'SmoothedExpr':
      return true;
    default:
      return false;
  }
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'atan2']);

function describeToken(t: string): string {
  if (t === '') return 'end of input';
  if (KEYWORDS.has(t.toLowerCase())) return `<${t.toLowerCase()}>`;
  if (/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(t)) return `identifier "${t}"`;
  if (/^[0-9.]/.test(t)) return `number "${t}"`;
  if (/^["'`]/.test(t)) return `string ${t}`;
  return `character ${JSON.stringify(t[0])}`.replace(/^character "(.)"$/, "character '$1'");
}

/**
 * Go accepts float literals with a trailing dot (`2.`, `1.e3`) that the Lezer grammar
 * rejects. Rewrite them, outside strings and comments, to an equivalent of the same length
 * so that every position reported stays right.
 */
function normaliseNumbers(q: string): string {
  let out = '';
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < q.length && q[j] !== c) j += q[j] === '\\' && c !== '`' ? 2 : 1;
      out += q.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '#') {
      const j = q.indexOf('\n', i);
      const end = j < 0 ? q.length : j;
      out += q.slice(i, end);
      i = end;
      continue;
    }
    if (/[0-9]/.test(c) && (i === 0 || !/[A-Za-z0-9_:.]/.test(q[i - 1]!))) {
      const m = /^[0-9]+\.(?![0-9])([eE][+-]?[0-9]+)?/.exec(q.slice(i));
      const after = m ? q[i + m[0].length] : undefined;
      if (m && (after === undefined || !/[A-Za-z_]/.test(after))) {
        const digits = m[0].slice(0, m[0].indexOf('.'));
        out += digits + (m[1] ?? '') + ' ';
        i += m[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return out;
}

/** The innermost bracket left open at the end of the query (outside strings), if any. */
function unclosedBracket(q: string): string | undefined {
  const stack: string[] = [];
  for (let i = 0; i < q.length; i++) {
    const c = q[i]!;
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < q.length && q[j] !== c) j += q[j] === '\\' && c !== '`' ? 2 : 1;
      i = j;
    } else if (c === '#') {
      while (i < q.length && q[i] !== '\n') i++;
    } else if (c === '(' || c === '[' || c === '{') stack.push(c);
    else if (c === ')' || c === ']' || c === '}') stack.pop();
  }
  return stack[stack.length - 1];
}
