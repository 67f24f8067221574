/**
 * Release scopes: which machines an SLI is measured over. A scope is either label matchers
 * (`tier="tier3", color="green"`) added to every selector of the SLI, or an info-style series
 * that lists the machines (`hmd:release_scopes:info{tier="tier3",color="green"}`), joined onto
 * every selector's per-series value by the labels that identify a machine (`on (instance)`).
 */

import type { BinaryExpr, Call, Expr, VectorSelector } from '../promql/ast.js';
import { mapExpr } from '../promql/ast.js';
import { PromQLError } from '../promql/errors.js';
import { parseExpr } from '../promql/parser.js';
import { exprToString } from '../promql/printer.js';
import { typeOf } from '../promql/signatures.js';
import { isLegacyLabelName } from '../storage/labels.js';
import { matcher, type LabelMatcher, type MatchType } from '../storage/matchers.js';
import type { Node } from 'yaml';
import type { YamlReader } from '../config/yaml.js';

export type Scope =
  /** Matchers added to every selector. */
  | { readonly kind: 'matchers'; readonly matchers: readonly LabelMatcher[] }
  /** Keep only series whose `on` labels appear in the info selector's series. */
  | { readonly kind: 'info'; readonly selector: VectorSelector; readonly on: readonly string[] };

const POS = { start: 0, end: 0 } as const;

/**
 * Parses `tier=tier3,color=green` (also `!=`, `=~`, `!~`, and values in double quotes, which may
 * hold commas) into matchers. Throws with what is wrong and how to write it.
 */
export function parseScopeMatchers(text: string): LabelMatcher[] {
  const out: LabelMatcher[] = [];
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*(,|$)/y;
  let i = 0;
  const src = text.trim();
  if (src === '') throw new Error('empty scope: give label matchers such as tier=tier3,color=green');
  while (i < src.length) {
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw new Error(`scope ${JSON.stringify(text)}: cannot read ${JSON.stringify(src.slice(i))}; write label=value pairs separated by commas (tier=tier3,color=green; =~ for regexes)`);
    const [, name, op, raw] = m;
    const value = raw!.startsWith('"') ? (JSON.parse(raw!) as string) : raw!.trim();
    if (!isLegacyLabelName(name!)) throw new Error(`scope: ${JSON.stringify(name)} is not a label name`);
    try {
      out.push(matcher(op as MatchType, name!, value));
    } catch (err) {
      throw new Error(`scope: ${name}${op}${JSON.stringify(value)}: ${(err as Error).message}`);
    }
    i = re.lastIndex;
    if (m[4] === '') break;
  }
  return out;
}

/** A scope of matchers. */
export function matcherScope(matchers: readonly LabelMatcher[]): Scope {
  return { kind: 'matchers', matchers };
}

/** A scope given by an info-style selector, joined on the labels that name a machine. */
export function infoScope(selector: string, on: readonly string[]): Scope {
  const e = parseExpr(selector);
  if (e.kind !== 'VectorSelector') throw new PromQLError('bad_data', `scope selector ${JSON.stringify(selector)} must be an instant vector selector such as hmd:release_scopes:info{tier="tier3"}`);
  if (on.length === 0) throw new PromQLError('bad_data', 'an info scope needs the labels that identify a machine (e.g. on: [instance])');
  return { kind: 'info', selector: e, on: [...new Set(on)].sort() };
}

/** The scope as text, for reasons and reports. */
export function formatScope(s: Scope): string {
  return s.kind === 'matchers' ? s.matchers.map((m) => m.toString()).join(', ') : `${exprToString(s.selector)} on (${s.on.join(', ')})`;
}

/** The expression with the scope applied to every selector. */
export function applyScope(expr: Expr, scope: Scope): Expr {
  if (scope.kind === 'matchers') {
    return mapExpr(expr, (n) => (n.kind === 'VectorSelector' ? { ...n, matchers: [...n.matchers, ...scope.matchers] } : undefined));
  }
  // Range vectors cannot be joined: join the per-series value the range function makes of them.
  const join = (e: Expr): BinaryExpr => ({
    kind: 'BinaryExpr',
    op: 'and',
    lhs: e,
    rhs: scope.selector,
    returnBool: false,
    matching: { card: 'many-to-many', on: true, labels: scope.on, include: [], explicit: true },
    pos: POS,
  });
  const wrap = (e: Expr): Expr | undefined => {
    if (e.kind === 'VectorSelector') return join(e);
    if (e.kind === 'Call' && e.args.some((a) => typeOf(a) === 'matrix')) {
      // A subquery's inner expression is instant: scope it there. A range selector: scope the call.
      if (e.args.some((a) => a.kind === 'MatrixSelector')) return join(e);
      return { ...e, args: e.args.map((a) => (a.kind === 'SubqueryExpr' ? { ...a, expr: mapExpr(a.expr, wrap) } : a)) } satisfies Call;
    }
    return undefined;
  };
  return mapExpr(expr, wrap);
}

/** A scope written in a YAML value (a stage's scope or baseline), checked; errors point at the value. */
export function readScope(y: YamlReader, n: Node | undefined, what: string): string {
  const t = y.str(n, what);
  try {
    parseScopeMatchers(t);
  } catch (err) {
    y.fail(n, `${what}: ${(err as Error).message.replace(/^scope: /, '')}`);
  }
  return t;
}
