/**
 * `--set` overrides and the grids they span. A flag names a path into the backtest spec or the
 * SLO specs and one or more values (`slo.judgement.thresholds.fail=0.01,0.02`); several flags
 * span their cartesian product, one setting per combination. Overrides are written into the YAML
 * documents before they are read, so an overridden spec is checked exactly like a written one,
 * and a path that reaches nothing is an error rather than a sweep that silently changes nothing.
 */

import { isMap, isScalar, isSeq, parse as parseYaml, parseDocument, type Document, type Node } from 'yaml';

export type PathPart = string | number | '*';

/** One `--set` flag, parsed. */
export interface SetFlag {
  /** The flag as written. */
  readonly text: string;
  /** `slo`: every SLO spec (or the one named), under `spec:`; `backtest`: the backtest spec, under `spec:`. */
  readonly target: 'backtest' | 'slo';
  /** Only the SLO with this metadata.name. */
  readonly slo?: string;
  readonly key: string;
  readonly path: readonly PathPart[];
  /** The values as written, and as YAML reads them. */
  readonly raw: readonly string[];
  readonly values: readonly unknown[];
}

/** One value of one flag. */
export interface Assignment {
  readonly flag: SetFlag;
  readonly raw: string;
  readonly value: unknown;
}

/** One point of the grid: a value for every flag. */
export type Setting = readonly Assignment[];

/** A flag that cannot be read, or an override that reaches nothing. */
export class OverrideError extends Error {
  override name = 'OverrideError';
}

const HELP = 'write --set PATH=VALUE[,VALUE...], e.g. --set slo.judgement.thresholds.fail=0.01,0.02 or --set release.stages[*].bake=10m,30m';

/** Parses `PATH=V1,V2`: `slo.PATH`, `slo[NAME].PATH` or a path into the backtest spec. */
export function parseSetFlag(text: string): SetFlag {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new OverrideError(`--set ${JSON.stringify(text)}: no PATH=VALUE; ${HELP}`);
  const key = text.slice(0, eq).trim();
  const rest = text.slice(eq + 1);
  let target: 'backtest' | 'slo' = 'backtest';
  let slo: string | undefined;
  let pathText = key;
  const m = /^slo(?:\[([^\]]+)\])?\.(.+)$/.exec(key);
  if (m) {
    target = 'slo';
    slo = m[1];
    pathText = m[2]!;
  } else if (key === 'slo' || key.startsWith('slo[')) throw new OverrideError(`--set ${JSON.stringify(text)}: give a path after slo. (e.g. slo.window); ${HELP}`);
  const path = parsePath(pathText, text);
  const raw = rest.split(',').map((v) => v.trim());
  if (raw.some((v) => v === '')) throw new OverrideError(`--set ${JSON.stringify(text)}: an empty value; ${HELP}`);
  if (new Set(raw).size !== raw.length) throw new OverrideError(`--set ${JSON.stringify(text)}: a value is repeated`);
  const values = raw.map((v) => {
    try {
      return parseYaml(v) as unknown;
    } catch {
      return v;
    }
  });
  return { text, target, ...(slo !== undefined ? { slo } : {}), key, path, raw, values };
}

function parsePath(s: string, flag: string): PathPart[] {
  const parts: PathPart[] = [];
  const re = /([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+|\*)\]|(\.)/y;
  let expectName = true;
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) throw new OverrideError(`--set ${JSON.stringify(flag)}: cannot read the path at ${JSON.stringify(s.slice(i))}; ${HELP}`);
    if (m[1] !== undefined) {
      if (!expectName) throw new OverrideError(`--set ${JSON.stringify(flag)}: a '.' is missing before ${JSON.stringify(m[1])}`);
      parts.push(m[1]);
      expectName = false;
    } else if (m[2] !== undefined) {
      if (expectName) throw new OverrideError(`--set ${JSON.stringify(flag)}: an index must follow a name`);
      parts.push(m[2] === '*' ? '*' : Number(m[2]));
    } else {
      if (expectName) throw new OverrideError(`--set ${JSON.stringify(flag)}: an empty path segment`);
      expectName = true;
    }
    i = re.lastIndex;
  }
  if (expectName) throw new OverrideError(`--set ${JSON.stringify(flag)}: the path ends with '.'`);
  return parts;
}

/** Every combination of the flags' values (the first flag varies slowest); one empty setting when none. */
export function grid(flags: readonly SetFlag[]): Setting[] {
  const keys = new Set<string>();
  for (const f of flags) {
    if (keys.has(f.key)) throw new OverrideError(`--set ${f.key} is given twice; list its values in one flag: --set ${f.key}=A,B`);
    keys.add(f.key);
  }
  let out: Assignment[][] = [[]];
  for (const f of flags) out = out.flatMap((prefix) => f.raw.map((raw, i) => [...prefix, { flag: f, raw, value: f.values[i] }]));
  return out;
}

/** A setting as people read it: `slo.window=10m release.stages[*].bake=30m` ('' for none). */
export function settingLabel(s: Setting): string {
  return s.map((a) => `${a.flag.key}=${a.raw}`).join(' ');
}

/**
 * Writes the assignments that concern this document into YAML text and returns the new text.
 * `kind` says which document it is; SLO assignments naming another SLO are skipped. Throws an
 * OverrideError when an assignment meant for this document reaches nothing.
 */
export function applyOverrides(text: string, file: string, kind: 'backtest' | 'slo', setting: Setting): { text: string; applied: Assignment[] } {
  const mine = setting.filter((a) => a.flag.target === kind);
  if (mine.length === 0) return { text, applied: [] };
  const doc = parseDocument(text);
  // A syntax error is the loader's to report, with its location.
  if (doc.errors.length > 0) return { text, applied: [] };
  const applied: Assignment[] = [];
  for (const a of mine) {
    if (a.flag.slo !== undefined && doc.getIn(['metadata', 'name']) !== a.flag.slo) continue;
    if (kind === 'slo' && doc.get('apiVersion') !== 'hmd.dev/v1') {
      throw new OverrideError(`--set ${a.flag.key}: ${file} is not an hmd.dev/v1 SLO spec; --set reaches hmd-format specs only (edit OpenSLO files, or convert them)`);
    }
    const n = assign(doc, doc.contents as Node | null, ['spec', ...a.flag.path], a.value);
    if (n === 0) throw new OverrideError(`--set ${a.flag.key}: reaches nothing in ${file} (a [*] or [N] over a list the spec does not have)`);
    applied.push(a);
  }
  return { text: doc.toString(), applied };
}

/** Sets `value` at `path` under `node`, creating mappings on the way; returns the places set. */
function assign(doc: Document, node: Node | null, path: readonly PathPart[], value: unknown): number {
  const [head, ...rest] = path;
  if (head === undefined) return 0;
  if (head === '*' || typeof head === 'number') {
    if (!isSeq(node)) return 0;
    const idx = head === '*' ? node.items.map((_, i) => i) : head < node.items.length ? [head] : [];
    let n = 0;
    for (const i of idx) {
      if (rest.length === 0) {
        node.set(i, doc.createNode(value));
        n++;
      } else n += assign(doc, node.items[i] as Node, rest, value);
    }
    return n;
  }
  if (!isMap(node)) return 0;
  if (rest.length === 0) {
    node.set(head, doc.createNode(value));
    return 1;
  }
  let child = node.get(head, true) as Node | undefined;
  if (child === undefined || (isScalar(child) && child.value === null)) {
    // A mapping the spec leaves out (e.g. evaluation:) is created; a list cannot be guessed.
    if (typeof rest[0] !== 'string') return 0;
    child = doc.createNode({}) as Node;
    node.set(head, child);
  }
  return assign(doc, child, rest, value);
}
