/** Label matchers: the four PromQL match types, compiled once. */

import { compileAnchored } from './regex.js';
import { getLabel, type Labels } from './labels.js';

export type MatchType = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  readonly type: MatchType;
  readonly name: string;
  readonly value: string;
}

/** A matcher with its regex compiled. */
export class LabelMatcher implements Matcher {
  readonly re: RegExp | undefined;
  constructor(
    readonly type: MatchType,
    readonly name: string,
    readonly value: string,
  ) {
    this.re = type === '=~' || type === '!~' ? compileAnchored(value) : undefined;
  }

  /** Tests a label value ('' for an absent label). */
  matches(v: string): boolean {
    switch (this.type) {
      case '=':
        return v === this.value;
      case '!=':
        return v !== this.value;
      case '=~':
        return this.re!.test(v);
      case '!~':
        return !this.re!.test(v);
    }
  }

  /** True when the matcher also accepts series that lack the label. */
  matchesEmpty(): boolean {
    return this.matches('');
  }

  toString(): string {
    return `${this.name}${this.type}${JSON.stringify(this.value)}`;
  }
}

/** Creates a compiled matcher. */
export function matcher(type: MatchType, name: string, value: string): LabelMatcher {
  return new LabelMatcher(type, name, value);
}

/** Compiles plain matchers. */
export function compileMatchers(ms: readonly Matcher[]): LabelMatcher[] {
  return ms.map((m) => (m instanceof LabelMatcher ? m : new LabelMatcher(m.type, m.name, m.value)));
}

/** True when every matcher accepts the label set. */
export function matchesAll(ms: readonly LabelMatcher[], ls: Labels): boolean {
  for (const m of ms) if (!m.matches(getLabel(ls, m.name))) return false;
  return true;
}

/** Keys of matcher lists made before: a query's selectors are the same arrays at every query. */
const keys = new WeakMap<readonly LabelMatcher[], string>();

/** A key of a list of matchers: the same matchers in any order give the same key. */
export function matchersKey(ms: readonly LabelMatcher[]): string {
  let k = keys.get(ms);
  if (k === undefined) {
    k = ms
      .map((m) => m.toString())
      .sort()
      .join(',');
    keys.set(ms, k);
  }
  return k;
}
