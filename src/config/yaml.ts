/**
 * Reading YAML with every error located: file:line:column of the value at fault and what to
 * write instead. hmd.yaml and SLO specs both read through it, so their errors look alike.
 */

import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node } from 'yaml';
import { parseModelDuration } from '../util/duration.js';

/** A problem in a YAML file, located. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}:${column ?? 1}` : ''}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Milliseconds of an RFC3339 time (seconds and fraction optional), or undefined. */
export function rfc3339Ms(s: string): number | undefined {
  const ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(s) ? Date.parse(s) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

export type NumberKind = 'number' | 'int' | 'share';

/** One parsed YAML document and the readers that locate their errors in it. */
export class YamlReader {
  /** The first document's root node. */
  readonly root: Node;
  /** Every document's root node (a file may hold several, separated by ---). */
  readonly roots: Node[];
  private readonly lc = new LineCounter();

  /** Parses `text`; `emptyHint` tells what an empty file should start with. */
  constructor(
    text: string,
    readonly file: string,
    private readonly env: Record<string, string | undefined>,
    emptyHint: string,
  ) {
    const docs = parseAllDocuments(text, { lineCounter: this.lc, prettyErrors: false, uniqueKeys: true });
    const list = Array.isArray(docs) ? docs : [];
    for (const doc of list) {
      if (doc.errors.length === 0) continue;
      const e = doc.errors[0]!;
      const p = this.lc.linePos(e.pos[0]);
      // `{X-A: ${VAR}}` is the likeliest way to trip on YAML here: its braces are flow syntax.
      const flowVar = /[{[][^\n]*\$\{/.test(text.split('\n')[p.line - 1] ?? '');
      const hint = flowVar ? '; inside {…} or […] quote a value holding ${VAR}: "${VAR}"' : '';
      throw new ConfigError(`YAML syntax: ${e.message.split('\n')[0]}${hint}`, file, p.line, p.col);
    }
    // An empty file has no node to point at; its first position is the honest place.
    const roots = list.map((d) => d.contents).filter((r): r is NonNullable<typeof r> => r !== null && !(isScalar(r) && r.value === null));
    if (roots.length === 0) throw new ConfigError(`the file is empty; ${emptyHint}`, file, 1, 1);
    this.roots = roots as Node[];
    this.root = this.roots[0]!;
  }

  /** Throws a ConfigError located at `node`. */
  fail = (node: Node | undefined | null, msg: string): never => {
    const off = node?.range?.[0];
    if (off === undefined) throw new ConfigError(msg, this.file);
    const p = this.lc.linePos(off);
    throw new ConfigError(msg, this.file, p.line, p.col);
  };

  /** `${VAR}` from the environment, `$$` for `$`. */
  private sub(s: string, where: Node): string {
    return s.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string | undefined) => {
      if (m === '$$') return '$';
      const v = this.env[name!];
      if (v === undefined) this.fail(where, `environment variable ${name} is not set (write $$ for a literal $)`);
      return v!;
    });
  }

  /**
   * A string value. YAML reads `dc: 1` or `canary: true` as a number or boolean; converting
   * silently would hide that `01` became 1, so ask for quotes instead.
   */
  str = (n: Node | undefined, what: string, hint?: string): string => {
    if (!isScalar(n) || typeof n.value !== 'string') {
      const typed = isScalar(n) && (typeof n.value === 'number' || typeof n.value === 'boolean');
      this.fail(n, `${what}: expected a string${typed ? ` (${hint ?? `quote it: "${String(isScalar(n) ? n.source ?? n.value : '')}"`})` : ''}`);
    }
    return this.sub((n as { value: string }).value, n!);
  };

  /** A string value as written, `${VAR}` and `$$` left alone (text that is itself read as YAML later). */
  rawStr = (n: Node | undefined, what: string): string => {
    if (!isScalar(n) || typeof n.value !== 'string') this.fail(n, `${what}: expected a string`);
    return (n as { value: string }).value;
  };

  /** A mapping of names to strings; `check` sees each key. */
  strMap = (n: Node | undefined, what: string, check?: (k: string, kn: Node) => void): Record<string, string> => {
    if (!isMap(n)) this.fail(n, `${what}: expected a mapping of names to strings`);
    const out: Record<string, string> = {};
    for (const it of (n as { items: { key: Node; value: Node }[] }).items) {
      const k = this.str(it.key, `${what} key`);
      check?.(k, it.key);
      out[k] = this.str(it.value ?? undefined, `${what}.${k}`);
    }
    return out;
  };

  /** A positive duration (30s, 2m, 1h30m). */
  duration = (n: Node | undefined, what: string): number => {
    const s = this.str(n, what, 'a duration needs a unit, e.g. 30s');
    const d = parseModelDuration(s);
    if (d === undefined || d <= 0) this.fail(n, `${what}: ${JSON.stringify(s)} is not a positive duration (e.g. 30s, 2m, 1h30m)`);
    return d!;
  };

  /** An RFC3339 time (2025-06-13T09:36:00Z), as ms since the epoch. */
  time = (n: Node | undefined, what: string): number => {
    const s = this.str(n, what, 'write an RFC3339 time, e.g. 2025-06-13T09:36:00Z').trim();
    const ms = rfc3339Ms(s);
    if (ms === undefined) this.fail(n, `${what}: ${JSON.stringify(s)} is not an RFC3339 time (e.g. 2025-06-13T09:36:00Z)`);
    return ms!;
  };

  /** A duration that may be 0 (written `0`). */
  durationOrZero = (n: Node, what: string): number => {
    const s = this.str(n, what);
    const d = s === '0' ? 0 : parseModelDuration(s);
    if (d === undefined) this.fail(n, `${what}: ${JSON.stringify(s)} is not a duration (e.g. 100ms, 10s; 0 for none)`);
    return d!;
  };

  /** A number >= 0: any, whole, or a share from 0 to 1. */
  num = (n: Node | undefined, what: string, kind: NumberKind): number => {
    const v = isScalar(n) ? n.value : undefined;
    const ok = typeof v === 'number' && Number.isFinite(v) && v >= 0 && (kind !== 'int' || Number.isInteger(v)) && (kind !== 'share' || v <= 1);
    if (!ok) this.fail(n, `${what}: expected ${kind === 'int' ? 'a whole number >= 0' : kind === 'share' ? 'a number from 0 to 1' : 'a number >= 0'}`);
    return v as number;
  };

  /** true or false. */
  bool = (n: Node | undefined, what: string): boolean => {
    if (!isScalar(n) || typeof n.value !== 'boolean') this.fail(n, `${what}: expected true or false`);
    return (n as { value: boolean }).value;
  };

  /** One of the given strings. */
  oneOf = <T extends string>(n: Node | undefined, what: string, choices: readonly T[]): T => {
    const v = this.str(n, what);
    if (!choices.includes(v as T)) this.fail(n, `${what}: ${JSON.stringify(v)} is not one of ${choices.join(', ')}`);
    return v as T;
  };

  /** The items of a list (non-empty unless `allowEmpty`). */
  list = (n: Node | undefined, what: string, allowEmpty = false): Node[] => {
    if (!isSeq(n) || (!allowEmpty && n.items.length === 0)) this.fail(n, `${what}: expected a ${allowEmpty ? '' : 'non-empty '}list`);
    return (n as { items: Node[] }).items;
  };

  /** The node under key `k`, or a located error saying `what` misses it. */
  need = (m: Map<string, Node>, k: string, where: Node, what: string): Node => m.get(k) ?? this.fail(where, `${what}: missing \`${k}\``);

  /**
   * The head every hmd document shares: one document, `apiVersion`, `kind`, `metadata` (a name
   * of lower-case letters, digits, '-', '_', '.' and an optional description) and `spec`.
   * `what` names the document in errors ("the spec"); `single` explains why only one may be here.
   */
  document = (o: { apiVersion: string; kind: string; what: string; single: string; topKeys: readonly string[]; metadataKeys: readonly string[]; specKeys: readonly string[] }) => {
    const { fail, str, mapping, need } = this;
    if (this.roots.length > 1) fail(this.roots[1], o.single);
    const top = mapping(this.root, o.what, o.topKeys);
    if (str(need(top, 'apiVersion', this.root, o.what), 'apiVersion') !== o.apiVersion) fail(top.get('apiVersion'), `apiVersion must be ${o.apiVersion}`);
    if (str(need(top, 'kind', this.root, o.what), 'kind') !== o.kind) fail(top.get('kind'), `kind must be ${o.kind}`);
    const meta = mapping(need(top, 'metadata', this.root, o.what), 'metadata', o.metadataKeys);
    const nameNode = need(meta, 'name', top.get('metadata')!, 'metadata');
    const name = str(nameNode, 'metadata.name');
    if (!/^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$/.test(name)) fail(nameNode, `metadata.name ${JSON.stringify(name)}: use lower-case letters, digits, '-', '_' and '.'`);
    const description = meta.has('description') ? str(meta.get('description'), 'metadata.description') : undefined;
    const specNode = need(top, 'spec', this.root, o.what);
    return { name, description, specNode, spec: mapping(specNode, 'spec', o.specKeys) };
  };

  /** The keys of a mapping, rejecting any not in `allowed` (a typo never falls back to a default). */
  mapping = (n: Node | undefined, what: string, allowed: readonly string[]): Map<string, Node> => {
    if (!isMap(n)) this.fail(n, `${what}: expected a mapping`);
    const out = new Map<string, Node>();
    for (const it of (n as unknown as { items: { key: Node; value: Node | null }[] }).items) {
      const k = isScalar(it.key) ? String(it.key.value) : '';
      if (!allowed.includes(k)) this.fail(it.key, `unknown key ${JSON.stringify(k)} in ${what}; allowed: ${allowed.join(', ')}`);
      out.set(k, it.value ?? (it.key as Node));
    }
    return out;
  };
}
