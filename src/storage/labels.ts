/**
 * Label sets. A series is identified by its labels, kept sorted by name so that
 * equality, hashing and printing need no re-sorting on the hot path.
 */

export interface Label {
  readonly name: string;
  readonly value: string;
}

/** A label set, sorted by name, with unique names and no empty values. */
export type Labels = readonly Label[];

export const METRIC_NAME = '__name__';

const SEP_NAME = '\u0000';
const SEP_PAIR = '\u0001';

/** Builds a sorted label set from a plain record, dropping empty values as Prometheus does. */
export function labelsFromRecord(rec: Record<string, string>): Labels {
  const out: Label[] = [];
  for (const name of Object.keys(rec)) {
    const value = rec[name];
    if (value !== undefined && value !== '') out.push({ name, value });
  }
  out.sort(compareNames);
  return out;
}

/** Builds a sorted label set from pairs (later duplicates win), dropping empty values. */
export function labelsFromPairs(pairs: Iterable<readonly [string, string]>): Labels {
  const m = new Map<string, string>();
  for (const [n, v] of pairs) m.set(n, v);
  const out: Label[] = [];
  for (const [name, value] of m) if (value !== '') out.push({ name, value });
  out.sort(compareNames);
  return out;
}

/** Converts a label set to a plain record. */
export function labelsToRecord(ls: Labels): Record<string, string> {
  const rec: Record<string, string> = {};
  for (const l of ls) rec[l.name] = l.value;
  return rec;
}

function compareNames(a: Label, b: Label): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** A string that is equal for two label sets exactly when the sets are equal. */
export function labelsKey(ls: Labels): string {
  let s = '';
  for (let i = 0; i < ls.length; i++) s += ls[i]!.name + SEP_NAME + ls[i]!.value + SEP_PAIR;
  return s;
}

/** Key over only the named labels (the `on(...)`/`by(...)` signature). `names` must be sorted. */
export function keyOn(ls: Labels, names: readonly string[]): string {
  let s = '';
  let j = 0;
  for (let i = 0; i < ls.length && j < names.length; ) {
    const n = ls[i]!.name;
    const m = names[j]!;
    if (n === m) {
      s += n + SEP_NAME + ls[i]!.value + SEP_PAIR;
      i++;
      j++;
    } else if (n < m) i++;
    else j++;
  }
  return s;
}

/** Key over all labels except the named ones (the `ignoring(...)`/`without(...)` signature). `names` must be sorted. */
export function keyWithout(ls: Labels, names: readonly string[], alsoDropName: boolean): string {
  let s = '';
  let j = 0;
  for (let i = 0; i < ls.length; i++) {
    const n = ls[i]!.name;
    if (alsoDropName && n === METRIC_NAME) continue;
    while (j < names.length && names[j]! < n) j++;
    if (j < names.length && names[j] === n) continue;
    s += n + SEP_NAME + ls[i]!.value + SEP_PAIR;
  }
  return s;
}

/** Returns the value of a label, or '' when absent (Prometheus treats absent and empty alike). */
export function getLabel(ls: Labels, name: string): string {
  for (let i = 0; i < ls.length; i++) if (ls[i]!.name === name) return ls[i]!.value;
  return '';
}

/** Returns a copy without `__name__` (or the same set when it has none). */
export function dropMetricName(ls: Labels): Labels {
  for (let i = 0; i < ls.length; i++) {
    if (ls[i]!.name === METRIC_NAME) return ls.slice(0, i).concat(ls.slice(i + 1));
  }
  return ls;
}

/** Keeps only the named labels. */
export function keepLabels(ls: Labels, names: ReadonlySet<string>): Labels {
  return ls.filter((l) => names.has(l.name));
}

/** Removes the named labels. */
export function removeLabels(ls: Labels, names: ReadonlySet<string>): Labels {
  return ls.filter((l) => !names.has(l.name));
}

/** Sets (or with an empty value, removes) one label, keeping the set sorted. */
export function setLabel(ls: Labels, name: string, value: string): Labels {
  const out: Label[] = [];
  let placed = false;
  for (const l of ls) {
    if (!placed && l.name >= name) {
      placed = true;
      if (value !== '') out.push({ name, value });
      if (l.name === name) continue;
    }
    out.push(l);
  }
  if (!placed && value !== '') out.push({ name, value });
  return out;
}

/** Orders label sets as Prometheus's labels.Compare does: pairwise by name, then value, then length. */
export function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.name !== y.name) return x.name < y.name ? -1 : 1;
    if (x.value !== y.value) return x.value < y.value ? -1 : 1;
  }
  return a.length - b.length;
}

/** True when both sets hold the same labels. */
export function labelsEqual(a: Labels, b: Labels): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.name !== b[i]!.name || a[i]!.value !== b[i]!.value) return false;
  }
  return true;
}

const LEGACY_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LEGACY_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Quotes a label value as PromQL and Prometheus's labels.String() do. */
export function quoteString(s: string): string {
  return JSON.stringify(s);
}

/** Formats as `name{a="b", c="d"}`, the notation of Prometheus's metric printing. */
export function formatLabels(ls: Labels): string {
  let name = '';
  const parts: string[] = [];
  for (const l of ls) {
    if (l.name === METRIC_NAME && LEGACY_NAME.test(l.value)) {
      name = l.value;
      continue;
    }
    if (l.name === METRIC_NAME) {
      parts.unshift(quoteString(l.value));
      continue;
    }
    const n = LEGACY_LABEL.test(l.name) ? l.name : quoteString(l.name);
    parts.push(`${n}=${quoteString(l.value)}`);
  }
  if (parts.length === 0) return name === '' ? '{}' : name;
  return `${name}{${parts.join(', ')}}`;
}

/** True when a name is valid in the legacy (non-UTF-8) metric-name charset. */
export function isLegacyMetricName(s: string): boolean {
  return LEGACY_NAME.test(s);
}

/** True when a name is valid in the legacy label-name charset. */
export function isLegacyLabelName(s: string): boolean {
  return LEGACY_LABEL.test(s);
}
