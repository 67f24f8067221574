/**
 * Parser of Prometheus's PromQL test language (promql/promqltest, v3.5) into commands:
 * `load`/`load_with_nhcb`, `clear` and `eval` (instant or range, the deprecated
 * `eval_fail|warn|info|ordered` forms, `expected_fail_message|regexp` and the `expect` lines).
 *
 * Series descriptions follow upstream's `parser.ParseSeriesDesc`: a label set in
 * `metric{a="b"}` / `{__name__="m"}` / `{"quoted.name"}` notation, then values in the
 * expanding notation (`1+2x3`, `1-2x3`, `1x3`, `_`, `_x3`, `stale`, `NaN`, `Inf`, `{{...}}`).
 * Native histogram samples are recognised and kept as text only (this engine does not
 * evaluate them); a command that holds one is marked so that the runner can skip it.
 */

import { labelsFromPairs, METRIC_NAME, type Labels } from '../../storage/labels.js';
import { translateGoRegex } from '../../storage/regex.js';
import { parseFloat, parseGoInt } from '../../util/gofloat.js';
import { parseModelDuration } from '../../util/duration.js';
import { unescapeGo, unquote } from '../../util/gostring.js';

/** One position of an expanded series description. */
export type SequenceValue =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'stale' }
  | { readonly kind: 'omitted' }
  | { readonly kind: 'histogram'; readonly text: string };

/** A parsed series description line: labels plus expanded values. */
export interface SeriesDesc {
  readonly labels: Labels;
  readonly values: SequenceValue[];
  /** 1-based line in the script. */
  readonly line: number;
}

export interface LoadCommand {
  readonly kind: 'load';
  readonly line: number;
  readonly intervalMs: number;
  /** `load_with_nhcb`: classic histograms are also loaded as native histograms with custom buckets. */
  readonly withNHCB: boolean;
  /** Series in written order; a series written twice keeps only its last line, as upstream. */
  readonly series: SeriesDesc[];
  /** True when some value is a native histogram. */
  readonly hasHistograms: boolean;
}

export interface ClearCommand {
  readonly kind: 'clear';
  readonly line: number;
}

/** One `expect <type> [msg|regex: ...]` line (or a deprecated equivalent). */
export interface Expectation {
  /** Exact message for `msg:`; undefined when a regex is used. */
  readonly message?: string;
  /** The pattern for `regex:` (or `^.*$` when neither was given). */
  readonly regex?: RegExp;
  /** The text as written, for messages. */
  readonly source: string;
}

export interface Expectations {
  readonly fail: Expectation[];
  readonly warn: Expectation[];
  readonly info: Expectation[];
  readonly noWarn: Expectation[];
  readonly noInfo: Expectation[];
  readonly ordered: Expectation[];
}

/** An expected series of an eval: labels, values and its 1-based position among the result lines. */
export interface ExpectedSeries {
  readonly labels: Labels;
  readonly values: SequenceValue[];
  readonly pos: number;
  readonly line: number;
}

export interface EvalCommand {
  readonly kind: 'eval';
  readonly line: number;
  readonly expr: string;
  /** 'instant' (`eval instant at T`) or 'range' (`eval range from S to E step D`). */
  readonly mode: 'instant' | 'range';
  /** Instant: the evaluation time; range: the end. ms. */
  evalMs: number;
  startMs: number;
  endMs: number;
  stepMs: number;
  /** Deprecated command suffixes: eval_fail, eval_warn, eval_info, eval_ordered. */
  readonly fail: boolean;
  readonly warn: boolean;
  readonly info: boolean;
  readonly ordered: boolean;
  expectedFailMessage: string | undefined;
  expectedFailRegexp: RegExp | undefined;
  readonly expects: Expectations;
  /** A bare number line: the query must return this scalar. */
  expectScalar: boolean;
  scalar: SequenceValue | undefined;
  /** Expected series by labels key (a repeated series keeps its last line). */
  readonly expected: Map<string, ExpectedSeries>;
  /** `expect string "..."`. */
  expectedString: string | undefined;
  /** `expect range vector from S to E step D`: an instant query returning a matrix. */
  rangeVector: boolean;
  /** Skip the range-mode re-check of an instant query. */
  excludeFromRangeQuery: boolean;
  /** True when an expected value is a native histogram. */
  hasHistograms: boolean;
}

/** A command that failed to parse (only in lenient mode). */
export interface ErrorCommand {
  readonly kind: 'error';
  readonly line: number;
  readonly message: string;
  /** What the broken command was: data for `load`, otherwise an eval or unknown line. */
  readonly command: 'load' | 'eval' | 'other';
  /** The eval's expression when known. */
  readonly expr?: string;
}

export type Command = LoadCommand | ClearCommand | EvalCommand | ErrorCommand;

export interface Script {
  readonly commands: Command[];
}

/** A malformed script, with the 1-based line of the offending command. */
export class ScriptError extends Error {
  constructor(
    readonly line: number,
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}`);
    this.name = 'ScriptError';
  }
}

export interface ParseScriptOptions {
  /**
   * Record a malformed command as an `error` command and continue after its block,
   * instead of throwing a ScriptError for the whole script.
   */
  lenient?: boolean;
}

const PAT_SPACE = /[\t ]+/;
const PAT_LOAD = /^load(?:_(with_nhcb))?\s+(.+?)$/;
const PAT_EVAL_INSTANT = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$/;
const PAT_EVAL_RANGE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$/;
const PAT_EXPECT = /^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$/;
const RANGE_VECTOR_PREFIX = 'expect range vector';
const PAT_EXPECT_RANGE = /^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$/;
const EXPECT_STRING_PREFIX = 'expect string';
const PAT_MATCH_ANY = /^.*$/;

/** Parses a whole test script. Throws ScriptError unless `lenient`. */
export function parseScript(text: string, opts: ParseScriptOptions = {}): Script {
  const lines = getLines(text);
  const commands: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '') continue;
    const c = l.split(PAT_SPACE, 1)[0]!.toLowerCase();
    const kind: ErrorCommand['command'] = c.startsWith('load') ? 'load' : c.startsWith('eval') ? 'eval' : 'other';
    try {
      if (c === 'clear') {
        commands.push({ kind: 'clear', line: i + 1 });
      } else if (kind === 'load') {
        const [next, cmd] = parseLoad(lines, i);
        i = next;
        commands.push(cmd);
      } else if (kind === 'eval') {
        const [next, cmd] = parseEval(lines, i);
        i = next;
        commands.push(cmd);
      } else {
        throw new ScriptError(i + 1, `invalid command ${JSON.stringify(l)}`);
      }
    } catch (e) {
      if (!(e instanceof ScriptError) || !opts.lenient) throw e;
      const m = kind === 'eval' ? (PAT_EVAL_INSTANT.exec(l) ?? PAT_EVAL_RANGE.exec(l)) : null;
      const expr = m ? m[m.length - 1] : undefined;
      commands.push({ kind: 'error', line: e.line, message: e.detail, command: kind, ...(expr !== undefined ? { expr } : {}) });
      // Resume after the block of the broken command.
      while (i + 1 < lines.length && lines[i + 1] !== '') i++;
    }
  }
  return { commands };
}

/** Lines trimmed, with comment lines blanked (a comment ends a block, as upstream). */
function getLines(text: string): string[] {
  return text.split('\n').map((l) => {
    const t = l.trim();
    return t.startsWith('#') ? '' : t;
  });
}

function parseLoad(lines: string[], i: number): [number, LoadCommand] {
  const m = PAT_LOAD.exec(lines[i]!);
  if (!m) throw new ScriptError(i + 1, 'invalid load command. (load[_with_nhcb] <step:duration>)');
  let intervalMs: number;
  try {
    intervalMs = parseDuration(m[2]!);
  } catch (e) {
    throw new ScriptError(i + 1, `invalid step definition ${JSON.stringify(m[2])}: ${(e as Error).message}`);
  }
  const line = i + 1;
  const byKey = new Map<string, SeriesDesc>();
  let hasHistograms = false;
  while (i + 1 < lines.length) {
    i++;
    const def = lines[i]!;
    if (def === '') {
      i--;
      break;
    }
    const s = parseSeriesLine(def, i + 1);
    if (s.values.some((v) => v.kind === 'histogram')) hasHistograms = true;
    const key = seriesKey(s.labels);
    byKey.delete(key);
    byKey.set(key, s);
  }
  return [i, { kind: 'load', line, intervalMs, withNHCB: m[1] === 'with_nhcb', series: [...byKey.values()], hasHistograms }];
}

function seriesKey(ls: Labels): string {
  return ls.map((l) => `${l.name}\u0000${l.value}`).join('\u0001');
}

function parseEval(lines: string[], i: number): [number, EvalCommand] {
  const l = lines[i]!;
  const im = PAT_EVAL_INSTANT.exec(l);
  const rm = im ? null : PAT_EVAL_RANGE.exec(l);
  if (!im && !rm) {
    throw new ScriptError(
      i + 1,
      "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered] instant [at <offset:duration>] <query>' or 'eval[_fail|_warn] range from <from> to <to> step <step> <query>'",
    );
  }
  const line = i + 1;
  const mod = (im ? im[1] : rm![1]) ?? '';
  const expr = im ? im[3]! : rm![5]!;
  const err = (msg: string, at = line): ScriptError => new ScriptError(at, `error in eval ${expr} (line ${line}): ${msg}`);
  let evalMs = 0;
  let startMs = 0;
  let endMs = 0;
  let stepMs = 0;
  if (im) {
    const at = im[2] ?? '';
    try {
      evalMs = parseDuration(at);
    } catch (e) {
      throw err(`invalid timestamp definition ${JSON.stringify(at)}: ${(e as Error).message}`);
    }
    startMs = evalMs;
  } else {
    try {
      [startMs, endMs, stepMs] = parseRangeDurations(rm![2]!, rm![3]!, rm![4]!);
    } catch (e) {
      throw err((e as Error).message);
    }
    evalMs = endMs;
  }
  const cmd: EvalCommand = {
    kind: 'eval',
    line,
    expr,
    mode: im ? 'instant' : 'range',
    evalMs,
    startMs,
    endMs,
    stepMs,
    fail: mod === 'fail',
    warn: mod === 'warn',
    info: mod === 'info',
    ordered: mod === 'ordered',
    expectedFailMessage: undefined,
    expectedFailRegexp: undefined,
    expects: { fail: [], warn: [], info: [], noWarn: [], noInfo: [], ordered: [] },
    expectScalar: false,
    scalar: undefined,
    expected: new Map(),
    expectedString: undefined,
    rangeVector: false,
    excludeFromRangeQuery: false,
    hasHistograms: false,
  };
  // `pos` mirrors upstream's line counter j: every line of the block counts except `expect` lines.
  for (let pos = 1; i + 1 < lines.length; pos++) {
    i++;
    const def = lines[i]!;
    if (def === '') {
      i--;
      break;
    }
    if (cmd.fail && def.startsWith('expected_fail_message')) {
      cmd.expectedFailMessage = def.slice('expected_fail_message'.length).trim();
      break;
    }
    if (cmd.fail && def.startsWith('expected_fail_regexp')) {
      const pattern = def.slice('expected_fail_regexp'.length).trim();
      try {
        cmd.expectedFailRegexp = compileGoRegex(pattern);
      } catch (e) {
        throw err(`invalid regexp '${pattern}' for expected_fail_regexp: ${(e as Error).message}`, i + 1);
      }
      break;
    }
    if (def.startsWith(RANGE_VECTOR_PREFIX)) {
      const m = PAT_EXPECT_RANGE.exec(def);
      if (!m) throw err(`invalid range vector definition ${JSON.stringify(def)}`, i + 1);
      try {
        [cmd.startMs, cmd.endMs, cmd.stepMs] = parseRangeDurations(m[1]!, m[2]!, m[3]!);
      } catch (e) {
        throw err((e as Error).message, i + 1);
      }
      cmd.evalMs = cmd.endMs;
      cmd.rangeVector = true;
      cmd.excludeFromRangeQuery = true;
      continue;
    }
    if (def.startsWith(EXPECT_STRING_PREFIX)) {
      const rest = def === EXPECT_STRING_PREFIX ? '' : def.startsWith(EXPECT_STRING_PREFIX + ' ') ? def.slice(EXPECT_STRING_PREFIX.length + 1) : '';
      if (rest === '') throw err('expected string literal not valid - a quoted string literal is required', i + 1);
      const s = unquote(rest);
      if (s === undefined) throw err('expected string literal not valid - check that the string is correctly quoted', i + 1);
      cmd.expectedString = s;
      cmd.excludeFromRangeQuery = true;
      continue;
    }
    if (def.split(' ', 1)[0] === 'expect') {
      addExpect(cmd, def, (m) => err(m, i + 1));
      pos--;
      continue;
    }
    const f = parseGoNumber(def);
    if (f !== undefined) {
      cmd.expectScalar = true;
      cmd.scalar = { kind: 'float', value: f };
      break;
    }
    const s = parseSeriesLine(def, i + 1);
    if (s.values.length > 1 && cmd.mode === 'instant' && !cmd.rangeVector) {
      throw err(
        "expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' directive to enable a range vector result for an instant query",
        i + 1,
      );
    }
    if (s.values.some((v) => v.kind === 'histogram')) cmd.hasHistograms = true;
    cmd.expectScalar = false;
    const key = seriesKey(s.labels);
    cmd.expected.delete(key);
    cmd.expected.set(key, { labels: s.labels, values: s.values, pos, line: i + 1 });
  }
  return [i, cmd];
}

function parseRangeDurations(from: string, to: string, step: string): [number, number, number] {
  let a: number;
  let b: number;
  let s: number;
  try {
    a = parseDuration(from);
  } catch (e) {
    throw new Error(`invalid start timestamp definition ${JSON.stringify(from)}: ${(e as Error).message}`);
  }
  try {
    b = parseDuration(to);
  } catch (e) {
    throw new Error(`invalid end timestamp definition ${JSON.stringify(to)}: ${(e as Error).message}`);
  }
  if (b < a) throw new Error(`invalid test definition, end timestamp (${to}) is before start timestamp (${from})`);
  try {
    s = parseDuration(step);
  } catch (e) {
    throw new Error(`invalid step definition ${JSON.stringify(step)}: ${(e as Error).message}`);
  }
  return [a, b, s];
}

function addExpect(cmd: EvalCommand, def: string, err: (m: string) => ScriptError): void {
  const m = PAT_EXPECT.exec(def.trim());
  if (!m) throw err('invalid expect statement, must match `expect <type> <match_type>: <string>` format');
  const mode = m[1]!;
  let exp: Expectation;
  if (m[2] !== undefined) {
    const body = m[3]!.trim();
    if (m[2] === 'msg') exp = { message: body, source: body };
    else {
      try {
        exp = { regex: compileGoRegex(body), source: body };
      } catch {
        throw err(`invalid regex ${body} for ${mode}`);
      }
    }
  } else {
    exp = { regex: PAT_MATCH_ANY, source: PAT_MATCH_ANY.source };
  }
  const key = ({ fail: 'fail', warn: 'warn', info: 'info', no_warn: 'noWarn', no_info: 'noInfo', ordered: 'ordered' } as const)[
    mode as 'fail' | 'warn' | 'info' | 'no_warn' | 'no_info' | 'ordered'
  ];
  cmd.expects[key].push(exp);
  const e = cmd.expects;
  if (e.info.length > 0 && e.noInfo.length > 0) throw err('invalid expect lines, info and no_info cannot be used together');
  if (e.warn.length > 0 && e.noWarn.length > 0) throw err('invalid expect lines, warn and no_warn cannot be used together');
  if (e.fail.length > 1) throw err('invalid expect lines, multiple expect fail lines are not allowed');
}

/**
 * Compiles a Go RE2 pattern for an unanchored search (as Go's MatchString).
 * Unlike label matchers, `.` does not match a newline unless the pattern says (?s).
 */
export function compileGoRegex(pattern: string): RegExp {
  const t = translateGoRegex(pattern);
  const lead = /^(?:\(\?[imsU]+\))+/.exec(pattern)?.[0] ?? '';
  const flags = lead.includes('s') ? t.flags : t.flags.replace('s', '');
  try {
    return new RegExp(t.source, flags + 'u');
  } catch {
    return new RegExp(t.source, flags);
  }
}

// ---------------------------------------------------------------------------
// Durations and numbers, as Go parses them.


/** Prometheus's model.ParseDuration: `1h30m`, `5m`, `0`, ..., in ms. Throws on bad input. */
export function parseDuration(s: string): number {
  if (s === '') throw new Error('empty duration string');
  const ms = parseModelDuration(s);
  if (ms === undefined) throw new Error(`not a valid duration string: ${JSON.stringify(s)}`);
  return ms;
}

/**
 * Go's `strconv.ParseInt(s, 0, 64)` falling back to `strconv.ParseFloat(s, 64)`, as upstream's
 * parseNumber (scalar result lines) and the parser's number(). Returns undefined when neither parses.
 */
export function parseGoNumber(s: string): number | undefined {
  const i = parseGoInt(s);
  if (i !== undefined) return i;
  return parseFloat(s);
}

// ---------------------------------------------------------------------------
// Series descriptions: `metric{labels} values...`.

/** Parses one series description line; throws ScriptError with `line`. */
export function parseSeriesLine(def: string, line: number): SeriesDesc {
  try {
    const { labels, rest } = parseMetric(def);
    return { labels, values: parseSequence(rest), line };
  } catch (e) {
    if (e instanceof SeriesSyntaxError) throw new ScriptError(line, `parse error in series description ${JSON.stringify(def)}: ${e.message}`);
    throw e;
  }
}

/** Parses a series description (labels and values), as upstream's parser.ParseSeriesDesc. */
export function parseSeriesDesc(def: string): { labels: Labels; values: SequenceValue[] } {
  const { labels, rest } = parseMetric(def.trim());
  return { labels, values: parseSequence(rest) };
}

/** A syntax error in a series description or label set. */
export class SeriesSyntaxError extends Error {
  override name = 'SeriesSyntaxError';
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const isAlpha = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z_]$/.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlphaNumeric = (c: string | undefined): boolean => isAlpha(c) || isDigit(c);

/**
 * Parses the label set at the start of `s`: `name`, `name{...}` or `{...}`.
 * Returns the labels and the text after it (which must start with whitespace or be empty).
 */
export function parseMetric(s: string): { labels: Labels; rest: string } {
  let i = 0;
  let name: string | undefined;
  if (isAlpha(s[0]) || s[0] === ':') {
    while (i < s.length && (isAlphaNumeric(s[i]) || s[i] === ':')) i++;
    name = s.slice(0, i);
  }
  const pairs: [string, string][] = [];
  if (s[i] === '{') {
    i = parseLabelSet(s, i, pairs);
  } else if (name === undefined) {
    throw new SeriesSyntaxError(`unexpected ${describe(s, i)}, expected metric name or label set`);
  }
  if (i < s.length && !isSpace(s[i])) throw new SeriesSyntaxError(`unexpected ${describe(s, i)} after the label set`);
  if (name !== undefined) pairs.push([METRIC_NAME, name]);
  return { labels: labelsFromPairs(pairs), rest: s.slice(i) };
}

function describe(s: string, i: number): string {
  return i >= s.length ? 'end of input' : `character ${JSON.stringify(s[i])}`;
}

/** Parses `{a="b", "c"="d", "metric.name"}` starting at s[i] === '{'; returns the index after '}'. */
function parseLabelSet(s: string, i: number, out: [string, string][]): number {
  i++;
  const skip = (): void => {
    while (isSpace(s[i])) i++;
  };
  skip();
  if (s[i] === '}') return i + 1;
  for (;;) {
    skip();
    let name: string;
    let quoted = false;
    if (s[i] === '"' || s[i] === "'" || s[i] === '`') {
      const r = readString(s, i);
      name = r.value;
      i = r.end;
      quoted = true;
    } else if (isAlpha(s[i])) {
      const st = i;
      while (isAlphaNumeric(s[i])) i++;
      name = s.slice(st, i);
    } else {
      throw new SeriesSyntaxError(`unexpected ${describe(s, i)} in label set, expected identifier or "}"`);
    }
    skip();
    if (s[i] === '=') {
      i++;
      skip();
      if (s[i] !== '"' && s[i] !== "'" && s[i] !== '`') throw new SeriesSyntaxError(`unexpected ${describe(s, i)} in label set, expected string`);
      const r = readString(s, i);
      out.push([name, r.value]);
      i = r.end;
    } else if (quoted) {
      out.push([METRIC_NAME, name]);
    } else {
      throw new SeriesSyntaxError(`unexpected ${describe(s, i)} in label set, expected "="`);
    }
    skip();
    if (s[i] === ',') {
      i++;
      skip();
      if (s[i] === '}') return i + 1;
      continue;
    }
    if (s[i] === '}') return i + 1;
    throw new SeriesSyntaxError(`unexpected ${describe(s, i)} in label set, expected "," or "}"`);
  }
}

/** Reads a quoted string at s[i] ("...", '...' or `...`), decoding Go escapes. */
function readString(s: string, i: number): { value: string; end: number } {
  const q = s[i]!;
  let j = i + 1;
  if (q === '`') {
    const end = s.indexOf('`', j);
    if (end < 0) throw new SeriesSyntaxError('unterminated raw string');
    return { value: s.slice(j, end), end: end + 1 };
  }
  while (j < s.length && s[j] !== q) {
    if (s[j] === '\\') j++;
    j++;
  }
  if (j >= s.length) throw new SeriesSyntaxError('unterminated quoted string');
  try {
    return { value: unescapeGo(s.slice(i + 1, j), q), end: j + 1 };
  } catch {
    throw new SeriesSyntaxError(`invalid escape sequence in string ${s.slice(i, j + 1)}`);
  }
}

type Tok =
  | { t: 'num'; v: number; text: string }
  | { t: 'stale' }
  | { t: '+' }
  | { t: '-' }
  | { t: 'x' }
  | { t: '_' }
  | { t: 'hist'; text: string };

/** Splits the value part of a series description into items (each a list of tokens). */
function lexSequence(s: string): Tok[][] {
  const items: Tok[][] = [];
  let cur: Tok[] = [];
  let i = 0;
  const flush = (): void => {
    if (cur.length) items.push(cur);
    cur = [];
  };
  while (i < s.length) {
    const c = s[i]!;
    if (isSpace(c)) {
      flush();
      i++;
      continue;
    }
    if (c === '{' && s[i + 1] === '{') {
      const end = s.indexOf('}}', i + 2);
      if (end < 0) throw new SeriesSyntaxError('unterminated native histogram description, expected "}}"');
      cur.push({ t: 'hist', text: s.slice(i, end + 2) });
      i = end + 2;
      continue;
    }
    if (c === '+' || c === '-' || c === 'x' || c === '_') {
      cur.push({ t: c });
      i++;
      continue;
    }
    if (isDigit(c) || (c === '.' && isDigit(s[i + 1]))) {
      const st = i;
      while (isDigit(s[i]) || (s[i] === '_' && isDigit(s[i + 1]) && isDigit(s[i - 1]))) i++;
      if (s[i] === '.') {
        i++;
        while (isDigit(s[i])) i++;
      }
      if ((s[i] === 'e' || s[i] === 'E') && (isDigit(s[i + 1]) || ((s[i + 1] === '+' || s[i + 1] === '-') && isDigit(s[i + 2])))) {
        i += 2;
        while (isDigit(s[i])) i++;
      }
      const text = s.slice(st, i);
      // The next thing must not be alphanumeric unless it is the repetition `x`.
      if (s[i] !== 'x' && isAlphaNumeric(s[i])) throw new SeriesSyntaxError(`bad number syntax: ${JSON.stringify(s.slice(st, i + 1))}`);
      const v = parseGoNumber(text);
      if (v === undefined) throw new SeriesSyntaxError(`bad number syntax: ${JSON.stringify(text)}`);
      cur.push({ t: 'num', v, text });
      continue;
    }
    if (isAlpha(c)) {
      const st = i;
      while (i < s.length && (isAlphaNumeric(s[i]) || s[i] === ':')) i++;
      const w = s.slice(st, i);
      const lw = w.toLowerCase();
      if (lw === 'inf') cur.push({ t: 'num', v: Infinity, text: w });
      else if (lw === 'nan') cur.push({ t: 'num', v: NaN, text: w });
      else if (w === 'stale') cur.push({ t: 'stale' });
      else throw new SeriesSyntaxError(`unexpected identifier ${JSON.stringify(w)} in series values, expected number or "stale"`);
      continue;
    }
    throw new SeriesSyntaxError(`unexpected character in series sequence: ${JSON.stringify(c)}`);
  }
  flush();
  return items;
}

/** Expands the value part of a series description. */
export function parseSequence(s: string): SequenceValue[] {
  const out: SequenceValue[] = [];
  for (const item of lexSequence(s)) out.push(...expandItem(item));
  return out;
}

function expandItem(toks: Tok[]): SequenceValue[] {
  const bad = (): SeriesSyntaxError =>
    new SeriesSyntaxError(`unexpected series value item ${JSON.stringify(toks.map(tokText).join(''))}`);
  let k = 0;
  const uint = (): number => {
    const t = toks[k++];
    if (!t || t.t !== 'num' || !/^[0-9]+$/.test(t.text)) throw new SeriesSyntaxError(`invalid repetition in series values: ${t ? JSON.stringify(tokText(t)) : 'missing count'}`);
    return Number(t.text);
  };
  const end = (): void => {
    if (k !== toks.length) throw bad();
  };
  const first = toks[0]!;
  if (first.t === '_') {
    k = 1;
    if (k === toks.length) return [{ kind: 'omitted' }];
    if (toks[k]!.t !== 'x') throw bad();
    k++;
    const n = uint();
    end();
    return Array.from({ length: n }, () => ({ kind: 'omitted' }) as const);
  }
  if (first.t === 'hist') {
    k = 1;
    const h: SequenceValue = { kind: 'histogram', text: first.text };
    if (k === toks.length) return [h];
    const op = toks[k]!;
    if (op.t === 'x') {
      k++;
      const n = uint();
      end();
      return Array.from({ length: n + 1 }, () => h);
    }
    if (op.t === '+' || op.t === '-') {
      k++;
      const inc = toks[k++];
      if (!inc || inc.t !== 'hist' || toks[k]?.t !== 'x') throw bad();
      k++;
      const n = uint();
      end();
      // The values are not computed (native histograms are not evaluated); keep the count right.
      return Array.from({ length: n + 1 }, (_, i) => ({ kind: 'histogram', text: i === 0 ? first.text : `${first.text}${op.t}${i}*${inc.text}` }) as const);
    }
    throw bad();
  }
  // series_value: number | signed number | stale.
  const value = (): SequenceValue => {
    const t = toks[k++];
    if (!t) throw bad();
    if (t.t === 'stale') return { kind: 'stale' };
    if (t.t === 'num') return { kind: 'float', value: t.v };
    if (t.t === '+' || t.t === '-') {
      const n = toks[k++];
      if (!n || n.t !== 'num') throw bad();
      return { kind: 'float', value: t.t === '-' ? -n.v : n.v };
    }
    throw bad();
  };
  const base = value();
  if (k === toks.length) return [base];
  const op = toks[k]!;
  if (op.t === 'x') {
    k++;
    const n = uint();
    end();
    return Array.from({ length: n + 1 }, () => base);
  }
  if (op.t === '+' || op.t === '-') {
    k++;
    const n0 = toks[k++];
    if (!n0 || n0.t !== 'num' || toks[k]?.t !== 'x') throw bad();
    k++;
    const n = uint();
    end();
    const inc = op.t === '-' ? -n0.v : n0.v;
    // Upstream accumulates (v += inc) rather than computing base + i*inc; keep its rounding.
    let v = base.kind === 'float' ? base.value : NaN;
    const out: SequenceValue[] = [];
    for (let i = 0; i <= n; i++) {
      out.push(base.kind === 'stale' ? base : { kind: 'float', value: v });
      v += inc;
    }
    return out;
  }
  throw bad();
}

function tokText(t: Tok): string {
  switch (t.t) {
    case 'num':
      return t.text;
    case 'stale':
      return 'stale';
    case 'hist':
      return t.text;
    default:
      return t.t;
  }
}
