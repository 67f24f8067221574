/**
 * OpenMetrics 1.0 and Prometheus text exposition: reading into a MemoryStore, and writing
 * files that `promtool tsdb create-blocks-from openmetrics` accepts.
 *
 * Format rule (`format: 'auto'`, the default): the input is OpenMetrics when its last non-blank
 * line is `# EOF`, and the Prometheus text format otherwise. `format: 'openmetrics'` or
 * `'prometheus'` forces one. The two differ in what the parser accepts and, above all, in the unit
 * of timestamps:
 *   - OpenMetrics: timestamps are seconds in Go float syntax (`1749729600.015`, `1.7e9`); the
 *     millisecond timestamp is `Math.trunc(seconds * 1000)`, exactly Prometheus's
 *     `int64(ts * 1000)`. `# EOF` must be the last line; only `# HELP`, `# TYPE`, `# UNIT` and
 *     `# EOF` comments exist; exemplars (` # {...} value [ts]`) are checked and ignored.
 *   - Prometheus text: timestamps are integer milliseconds (digits only); any `#` line other than
 *     HELP/TYPE is a comment. When the format was guessed, errors about OpenMetrics-only syntax
 *     (fractional timestamps, exemplars, OpenMetrics types, `# EOF` followed by data) say so.
 * Both: values in Go float syntax without hex or `_` (as Prometheus's parser: `1`, `-0`, `.5`,
 * `1e-3`, `NaN`, `+Inf`, `-Inf`, `Inf`, case-insensitive `inf`/`infinity`/`nan`; an overflowing
 * literal such as `1e400` is an error); label values in double quotes with the escapes `\\`, `\"`
 * and `\n` only (other escapes are errors); UTF-8 names in quotes (`{"my.metric", "a.b"="c"}`);
 * a trailing comma in a label set; blank lines; spaces or tabs between tokens; CRLF line ends.
 * Empty label values are dropped (Prometheus treats them as absent); a label name given twice is
 * an error. Every sample becomes a plain float series: `_total`, `_created`, `_bucket{le}`,
 * `_sum`, `_count`, `_gsum`, `_gcount`, quantiles, info and stateset samples are all kept under
 * their own names, as Prometheus stores them (2.42 does not normalise `le`/`quantile` values).
 *
 * Samples of one series must come in time order. A repeated timestamp with the bit-identical value
 * is ignored; with another value it is an error, and so is a timestamp going backwards: that is
 * what promtool's TSDB appender reports ("duplicate sample for timestamp", "out of order sample"),
 * except that promtool silently keeps the first sample when both fall in one 5000-sample batch.
 * `outOfOrder: 'sort'` accepts backwards timestamps instead (the store sorts them and a repeated
 * timestamp among them keeps the last value). A sample without timestamp takes
 * `defaultTimestampMs`, or is an error. Neither format can express a staleness marker: the
 * reader never produces one and the writer refuses one unless told to drop it or write `NaN`
 * (`promtool tsdb dump-openmetrics` writes NaN, which reads back as an ordinary NaN).
 *
 * Against promtool 2.42 (the reference here): it reads every file this reader reads the same way,
 * sample for sample, except that this reader also accepts quoted UTF-8 names, whitespace inside
 * label sets, a trailing comma, blank lines and CRLF in OpenMetrics (Prometheus 3 syntax or plain
 * leniency, none of which can change a sample), and rejects what promtool lets through: escapes
 * other than `\\ \" \n` (promtool keeps them verbatim) and the silent per-batch drops above.
 * For backfilling, promtool requires `# EOF` last, a timestamp on every sample, per-series time
 * order, and legacy (unquoted) names; it does not check that a family's lines are contiguous,
 * which OpenMetrics requires and the writer does anyway.
 */

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { compareLabels, formatLabels, isLegacyLabelName, isLegacyMetricName, labelsKey, METRIC_NAME, type Label, type Labels } from './labels.js';
import { MemoryStore } from './memory.js';
import type { Series } from './queryable.js';
import { isStaleAt } from './stale.js';
import { formatShortest, parseFloat, parseFloatOrError, type ParseFloatOptions } from '../util/gofloat.js';

export type ExpositionFormat = 'openmetrics' | 'prometheus';

/** OpenMetrics metric types; the Prometheus format's `untyped` is read as `unknown`. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'info' | 'stateset' | 'unknown';

export interface MetricMetadata {
  type?: MetricType;
  help?: string;
  unit?: string;
}

export interface ParseOptions {
  /** 'auto' (default): OpenMetrics when the last non-blank line is `# EOF`, Prometheus text otherwise. */
  format?: ExpositionFormat | 'auto';
  /** Timestamp (ms) for samples that carry none; without it such a sample is an error. */
  defaultTimestampMs?: number;
  /** Name used in error messages (default `<input>`; the path for files). */
  fileName?: string;
  /** 'error' (default): a sample older than its series' previous one is an error. 'sort': accept it. */
  outOfOrder?: 'error' | 'sort';
  /** Filled with HELP/TYPE/UNIT by metric family name, when given. */
  metadata?: Map<string, MetricMetadata>;
}

export interface LoadOptions extends ParseOptions {
  /** Store to append to (a new one otherwise). */
  store?: MemoryStore;
  /** Bytes per read (default 1 MiB). */
  chunkSize?: number;
}

/** A parse error, with the file and 1-based line number it concerns. */
export class OpenMetricsError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'OpenMetricsError';
  }
}

const OM_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown']);
const PROM_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

// ---------------------------------------------------------------------------------------------
// Numbers

// Prometheus's text parsers keep to the float syntax before Go 1.13: no hex, no underscores.
const EXPOSITION_FLOAT: ParseFloatOptions = { hex: false };

/** Go's strconv.ParseFloat as Prometheus's text parsers call it; a string describing the problem on failure. */
function goFloat(s: string): number | string {
  const v = parseFloatOrError(s, EXPOSITION_FLOAT);
  if (typeof v === 'number') return v;
  if (v === 'range') return 'out of range for a 64-bit float';
  return 'not a number in Go float syntax (e.g. 1, -0.5, 1e-3, NaN, +Inf, -Inf)';
}

/** Parses a float as Prometheus's exposition parsers do (Go syntax without hex and `_`); undefined when invalid. */
export function parseExpositionFloat(s: string): number | undefined {
  return parseFloat(s, EXPOSITION_FLOAT);
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** The double `steps` representable values away from `x` (towards +Inf when steps > 0); x finite and non-zero. */
function stepDouble(x: number, steps: number): number {
  f64[0] = x;
  const bits = u64[0]!;
  const neg = x < 0 || Object.is(x, -0);
  // Moving away from zero increases the magnitude bits.
  const away = (steps > 0) !== neg;
  const n = BigInt(Math.abs(steps));
  u64[0] = away ? bits + n : bits - n;
  return f64[0]!;
}

/**
 * Formats a millisecond timestamp as OpenMetrics seconds such that Prometheus reads back exactly
 * `ms`: it computes `int64(seconds * 1000)`, which truncates, and `ms / 1000` printed plainly does
 * not always survive that (e.g. -1048572 ms). The shortest decimal of the nearest double that does
 * is returned ("1749729600", "1749729600.015", "-1048.5720000000001").
 */
export function formatTimestampSeconds(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new RangeError(`timestamp ${ms} is not an integer number of milliseconds`);
  const d = ms / 1000;
  if (Math.trunc(d * 1000) === ms) return formatShortest(d === 0 ? 0 : d);
  // Truncation goes towards zero, so look away from zero first.
  const dir = ms > 0 ? 1 : -1;
  for (let k = 1; k <= 8; k++) {
    for (const c of [stepDouble(d, dir * k), stepDouble(d, -dir * k)]) {
      if (Math.trunc(c * 1000) === ms) return formatShortest(c);
    }
  }
  throw new RangeError(`no decimal seconds value reads back as ${ms} ms`);
}

/** Reads an OpenMetrics timestamp (seconds) into milliseconds exactly as Prometheus does. */
export function secondsToMs(seconds: number): number {
  const ms = Math.trunc(seconds * 1000);
  return ms === 0 ? 0 : ms;
}

// ---------------------------------------------------------------------------------------------
// Reading

function isWs(c: number): boolean {
  return c === 32 || c === 9;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && isWs(s.charCodeAt(i))) i++;
  return i;
}

function tokenEnd(s: string, i: number): number {
  while (i < s.length && !isWs(s.charCodeAt(i))) i++;
  return i;
}

function isNameStart(c: number, colon: boolean): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (colon && c === 58);
}

function isNameChar(c: number, colon: boolean): boolean {
  return isNameStart(c, colon) || (c >= 48 && c <= 57);
}

/** End of a legacy metric name (colon allowed) or label name starting at i; i when none. */
function nameEnd(s: string, i: number, colon: boolean): number {
  if (i >= s.length || !isNameStart(s.charCodeAt(i), colon)) return i;
  i++;
  while (i < s.length && isNameChar(s.charCodeAt(i), colon)) i++;
  return i;
}

/** Describes what was found at i, for error messages. */
function got(s: string, i: number): string {
  if (i >= s.length) return 'end of line';
  const rest = s.slice(i, i + 24);
  return JSON.stringify(i + 24 < s.length ? rest + '…' : rest);
}

/**
 * Fast path: the end of the series part (name and label set) of a sample line starting at i,
 * or -1 when it is malformed (the full parser then reports why).
 */
function scanSeriesEnd(s: string, i: number): number {
  const n = s.length;
  if (s.charCodeAt(i) !== 123) {
    i = nameEnd(s, i, true);
    const k = skipWs(s, i);
    if (s.charCodeAt(k) !== 123) return i;
    i = k;
  }
  i++;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 125) return i + 1;
    if (c === 34) {
      i++;
      while (i < n) {
        const q = s.charCodeAt(i);
        if (q === 92) i += 2;
        else if (q === 34) break;
        else i++;
      }
      if (i >= n) return -1;
    }
    i++;
  }
  return -1;
}

/** A copy of a string that does not keep a larger parent string (a read chunk) alive. */
function detach(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

const KEYWORD = /#[ \t]+(HELP|TYPE|UNIT|EOF)(?=[ \t]|$)/y;

interface SeriesState {
  labels: Labels;
  has: boolean;
  lastT: number;
  lastV: number;
  lastLine: number;
}

interface LabelCtx {
  name: string | undefined;
  pairs: [string, string][];
  exemplar: boolean;
}

/** Parses exposition text line by line into a store. */
class LineParser {
  private lineNo = 0;
  private eof = false;
  private readonly byText = new Map<string, SeriesState>();
  private readonly byKey = new Map<string, SeriesState>();
  private readonly sortOutOfOrder: boolean;
  private readonly om: boolean;

  constructor(
    private readonly store: MemoryStore,
    private readonly format: ExpositionFormat,
    private readonly guessed: boolean,
    private readonly opts: ParseOptions,
    private readonly file: string,
  ) {
    this.om = format === 'openmetrics';
    this.sortOutOfOrder = opts.outOfOrder === 'sort';
    if (opts.defaultTimestampMs !== undefined && !Number.isSafeInteger(opts.defaultTimestampMs)) {
      throw new RangeError(`defaultTimestampMs must be an integer number of milliseconds, got ${opts.defaultTimestampMs}`);
    }
  }

  get lines(): number {
    return this.lineNo;
  }

  fail(detail: string, omHint = false, line = this.lineNo): never {
    let msg = detail;
    if (omHint && this.guessed && !this.om) {
      msg += ' (read as Prometheus text format because the input does not end with "# EOF"; OpenMetrics must end with it)';
    }
    throw new OpenMetricsError(this.file, Math.max(line, 1), msg);
  }

  line(raw: string): void {
    this.lineNo++;
    const s = raw.length > 0 && raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    const i = skipWs(s, 0);
    if (this.eof) {
      if (i === s.length) return;
      this.fail(`unexpected data after "# EOF", which must be the last line: ${got(s, i)}`);
    }
    if (i === s.length) return;
    if (s.charCodeAt(i) === 35) this.comment(s, i);
    else this.sample(s, i);
  }

  end(): void {
    if (this.om && !this.eof) this.fail('expected "# EOF" as the last line: OpenMetrics input must end with it');
  }

  private meta(name: string): MetricMetadata | undefined {
    const m = this.opts.metadata;
    if (!m) return undefined;
    let e = m.get(name);
    if (!e) {
      e = {};
      m.set(name, e);
    }
    return e;
  }

  private comment(s: string, i: number): void {
    KEYWORD.lastIndex = i;
    const m = KEYWORD.exec(s);
    if (!m) {
      if (this.om) this.fail(`expected "# HELP", "# TYPE", "# UNIT" or "# EOF": OpenMetrics has no other comment lines, got ${got(s, i)}`);
      return;
    }
    const kw = m[1]!;
    let j = i + m[0].length;
    if (kw === 'EOF') {
      const k = skipWs(s, j);
      if (!this.om) {
        if (this.guessed) this.fail('"# EOF" is followed by more lines, but it must be the last line', true);
        return;
      }
      if (k < s.length) this.fail(`unexpected text after "# EOF": ${got(s, k)}`);
      this.eof = true;
      return;
    }
    if (kw === 'UNIT' && !this.om) return; // just a comment in the Prometheus format
    j = skipWs(s, j);
    let name: string;
    if (s.charCodeAt(j) === 34) {
      const q = this.quoted(s, j, `the metric name after "# ${kw}"`);
      name = q.value;
      j = q.end;
    } else {
      const e = nameEnd(s, j, true);
      if (e === j) this.fail(`expected a metric name after "# ${kw}", got ${got(s, j)}`);
      name = s.slice(j, e);
      j = e;
    }
    if (j < s.length && !isWs(s.charCodeAt(j))) this.fail(`expected a space after the metric name in "# ${kw}", got ${got(s, j)}`);
    const text = s.slice(skipWs(s, j));
    const meta = this.meta(detach(name));
    if (kw === 'TYPE') {
      const t = text.trim();
      if (t === '') this.fail(`expected a metric type after "# TYPE ${name}"`);
      const ok = this.om ? OM_TYPES : PROM_TYPES;
      if (!ok.has(t)) {
        this.fail(`unknown metric type "${t}" for ${name}; expected one of ${[...ok].join(', ')}`, OM_TYPES.has(t));
      }
      if (meta) meta.type = (t === 'untyped' ? 'unknown' : t) as MetricType;
    } else if (kw === 'UNIT') {
      const u = text.trim();
      if (u !== '' && !name.endsWith('_' + u)) this.fail(`unit "${u}" is not a suffix of metric name "${name}" (OpenMetrics requires name_${u})`);
      if (meta) meta.unit = u;
    } else if (meta) {
      meta.help = text.replace(/\\(\\|n|")/g, (_, c: string) => (c === 'n' ? '\n' : c === '"' && !this.om ? '\\"' : c));
    }
  }

  /** Parses a double-quoted string at i (which holds the opening quote). */
  private quoted(s: string, i: number, what: string): { value: string; end: number; raw: string } {
    let out = '';
    let k = i + 1;
    let seg = k;
    for (;;) {
      if (k >= s.length) this.fail(`unterminated quoted string: ${what} has no closing quote`);
      const c = s.charCodeAt(k);
      if (c === 34) {
        out += s.slice(seg, k);
        return { value: out, end: k + 1, raw: s.slice(i + 1, k) };
      }
      if (c === 92) {
        out += s.slice(seg, k);
        const e = s[k + 1];
        if (e === '\\') out += '\\';
        else if (e === '"') out += '"';
        else if (e === 'n') out += '\n';
        else if (e === undefined) this.fail(`unterminated quoted string: ${what} has no closing quote`);
        else this.fail(`invalid escape "\\${e}" in ${what} (only \\\\, \\" and \\n are allowed)`);
        k += 2;
        seg = k;
        continue;
      }
      k++;
    }
  }

  /** Parses a label set at i (which holds `{`); returns the index after `}`. */
  private labelSet(s: string, i: number, ctx: LabelCtx): number {
    const what = ctx.exemplar ? 'exemplar label set' : 'label set';
    i++;
    for (;;) {
      i = skipWs(s, i);
      if (i >= s.length) this.fail(`expected a label name or "}" to close the ${what}, got end of line`);
      const c = s.charCodeAt(i);
      if (c === 125) return i + 1;
      let lname: string;
      let quoted = false;
      if (c === 34) {
        const q = this.quoted(s, i, 'a quoted name');
        lname = q.value;
        i = q.end;
        quoted = true;
      } else {
        const e = nameEnd(s, i, false);
        if (e === i) this.fail(`expected a label name or "}" in the ${what}, got ${got(s, i)}`);
        lname = s.slice(i, e);
        i = e;
      }
      i = skipWs(s, i);
      const d = s.charCodeAt(i);
      if (quoted && (d === 44 || d === 125 || i >= s.length)) {
        if (ctx.exemplar) this.fail(`an exemplar has no metric name: expected "=" after "${lname}"`);
        if (ctx.name !== undefined) this.fail(`metric name given twice ("${ctx.name}" and "${lname}")`);
        if (i >= s.length) this.fail(`expected "," or "}" after the metric name "${lname}", got end of line`);
        ctx.name = lname;
        if (d === 44) i++;
        continue;
      }
      if (d !== 61) this.fail(`expected "=" after label name "${lname}", got ${got(s, i)}`);
      i = skipWs(s, i + 1);
      if (s.charCodeAt(i) !== 34) this.fail(`expected a label value in quotes after "${lname}=", got ${got(s, i)}`);
      const q = this.quoted(s, i, `the value of label "${lname}"`);
      ctx.pairs.push([lname, q.value]);
      i = skipWs(s, q.end);
      const e = s.charCodeAt(i);
      if (e === 44) {
        i++;
        continue;
      }
      if (e === 125) return i + 1;
      this.fail(`expected "," or "}" after ${lname}="${q.raw}", got ${got(s, i)}`);
    }
  }

  /** Full parse of the series part of a sample line; returns its state and end index. */
  private series(s: string, start: number): { st: SeriesState; end: number } {
    const ctx: LabelCtx = { name: undefined, pairs: [], exemplar: false };
    let i = start;
    if (s.charCodeAt(i) !== 123) {
      const e = nameEnd(s, i, true);
      if (e === i) this.fail(`expected a metric name or "{" at the start of a sample, got ${got(s, i)}`);
      ctx.name = s.slice(i, e);
      i = e;
      const k = skipWs(s, i);
      if (s.charCodeAt(k) === 123) i = k;
    }
    if (s.charCodeAt(i) === 123) i = this.labelSet(s, i, ctx);
    if (ctx.name === undefined) this.fail('the sample has no metric name (put it before "{" or as a quoted string inside the braces)');
    if (ctx.name === '') this.fail('the metric name is empty');
    const labels: Label[] = [{ name: METRIC_NAME, value: detach(ctx.name) }];
    const seen = new Set<string>([METRIC_NAME]);
    for (const [n, v] of ctx.pairs) {
      if (seen.has(n)) this.fail(n === METRIC_NAME ? 'the metric name is given twice (as a name and as __name__)' : `label name "${n}" appears twice`);
      seen.add(n);
      if (n === '') this.fail('empty label name');
      if (v !== '') labels.push({ name: detach(n), value: detach(v) });
    }
    labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const key = labelsKey(labels);
    let st = this.byKey.get(key);
    if (!st) {
      st = { labels, has: false, lastT: 0, lastV: 0, lastLine: 0 };
      this.byKey.set(key, st);
    }
    return { st, end: i };
  }

  private timestamp(tok: string): number {
    if (this.om) {
      const f = goFloat(tok);
      if (typeof f === 'string' || !Number.isFinite(f)) {
        this.fail(`expected a timestamp in seconds after the value, got ${JSON.stringify(tok)}`);
      }
      const ms = secondsToMs(f);
      if (!Number.isSafeInteger(ms)) this.fail(`timestamp ${tok} is out of range`);
      return ms;
    }
    if (!/^[0-9]+$/.test(tok)) {
      // A decimal with a point or an exponent is an OpenMetrics timestamp (seconds) in the wrong format.
      const looksOm = /[.eE]/.test(tok) && parseFloatOrError(tok, EXPOSITION_FLOAT) !== 'syntax';
      this.fail(`expected a timestamp in integer milliseconds after the value, got ${JSON.stringify(tok)}`, looksOm);
    }
    const ms = Number(tok);
    if (!Number.isSafeInteger(ms)) this.fail(`timestamp ${tok} is out of range`);
    return ms;
  }

  private exemplar(s: string, i: number): void {
    // i holds '#'
    let k = i + 1;
    if (!isWs(s.charCodeAt(k))) this.fail(`expected " # {" to start an exemplar, got ${got(s, i)}`);
    k = skipWs(s, k);
    if (s.charCodeAt(k) !== 123) this.fail(`expected "{" to start the exemplar's labels, got ${got(s, k)}`);
    k = this.labelSet(s, k, { name: undefined, pairs: [], exemplar: true });
    if (k < s.length && !isWs(s.charCodeAt(k))) this.fail(`expected a space and a value after the exemplar's labels, got ${got(s, k)}`);
    k = skipWs(s, k);
    const ve = tokenEnd(s, k);
    if (ve === k) this.fail('expected a value after the exemplar labels, got end of line');
    const v = goFloat(s.slice(k, ve));
    if (typeof v === 'string') this.fail(`expected a number as the exemplar value, got ${JSON.stringify(s.slice(k, ve))}: ${v}`);
    k = skipWs(s, ve);
    if (k < s.length) {
      const te = tokenEnd(s, k);
      const t = goFloat(s.slice(k, te));
      if (typeof t === 'string' || !Number.isFinite(t)) this.fail(`expected a timestamp in seconds after the exemplar value, got ${JSON.stringify(s.slice(k, te))}`);
      k = skipWs(s, te);
      if (k < s.length) this.fail(`unexpected text after the exemplar: ${got(s, k)}`);
    }
  }

  private sample(s: string, start: number): void {
    let st: SeriesState | undefined;
    let pos = scanSeriesEnd(s, start);
    if (pos > start) st = this.byText.get(s.slice(start, pos));
    if (!st) {
      const r = this.series(s, start);
      st = r.st;
      pos = r.end;
      this.byText.set(detach(s.slice(start, pos)), st);
    }
    // value
    if (pos >= s.length) this.fail(`expected a value after ${formatLabels(st.labels)}, got end of line`);
    if (!isWs(s.charCodeAt(pos))) this.fail(`expected a space and a value after ${formatLabels(st.labels)}, got ${got(s, pos)}`);
    let j = skipWs(s, pos);
    const ve = tokenEnd(s, j);
    if (ve === j) this.fail(`expected a value after ${formatLabels(st.labels)}, got end of line`);
    const vtok = s.slice(j, ve);
    const v = goFloat(vtok);
    if (typeof v === 'string') this.fail(`expected a number as the sample value, got ${JSON.stringify(vtok)}: ${v}`);
    j = skipWs(s, ve);
    let t: number | undefined;
    if (j < s.length && s.charCodeAt(j) !== 35) {
      const te = tokenEnd(s, j);
      t = this.timestamp(s.slice(j, te));
      j = skipWs(s, te);
    }
    if (j < s.length) {
      if (s.charCodeAt(j) === 35) {
        if (!this.om) this.fail('exemplars (" # {...} value") are OpenMetrics syntax, not Prometheus text format', true);
        this.exemplar(s, j);
      } else {
        this.fail(`unexpected text after the timestamp: ${got(s, j)}`);
      }
    }
    if (t === undefined) {
      if (this.opts.defaultTimestampMs === undefined) {
        this.fail(
          `expected a timestamp after the value ${vtok} (${this.om ? 'seconds' : 'milliseconds'}): ` +
            'a sample without one can only be loaded with a default timestamp (defaultTimestampMs)',
        );
      }
      t = this.opts.defaultTimestampMs;
    }
    this.add(st, t, v);
  }

  private add(st: SeriesState, t: number, v: number): void {
    if (st.has) {
      if (t === st.lastT) {
        if (Object.is(v, st.lastV)) return;
        this.fail(
          `duplicate sample for ${formatLabels(st.labels)} at ${describeTime(t)}: ` +
            `value ${formatShortest(v)} here, ${formatShortest(st.lastV)} on line ${st.lastLine}`,
        );
      }
      if (t < st.lastT) {
        if (!this.sortOutOfOrder) {
          this.fail(
            `out-of-order sample for ${formatLabels(st.labels)}: ${describeTime(t)} is before ` +
              `${describeTime(st.lastT)} on line ${st.lastLine} (samples of a series must be in time order)`,
          );
        }
        this.store.append(st.labels, t, v);
        return;
      }
    }
    this.store.append(st.labels, t, v);
    st.has = true;
    st.lastT = t;
    st.lastV = v;
    st.lastLine = this.lineNo;
  }
}

function describeTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} ms` : `${ms} ms (${d.toISOString()})`;
}

/** The format `auto` picks for a text: OpenMetrics when its last non-blank line is `# EOF`. */
export function detectFormat(text: string): ExpositionFormat {
  let e = text.length;
  while (e > 0 && /\s/.test(text[e - 1]!)) e--;
  const ls = text.lastIndexOf('\n', e - 1) + 1;
  return text.slice(ls, e).trim() === '# EOF' ? 'openmetrics' : 'prometheus';
}

/** The format `auto` picks for a file, from its last bytes only. */
export async function detectFileFormat(path: string): Promise<ExpositionFormat> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let want = 4096;
    for (;;) {
      const len = Math.min(want, size);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      const tail = buf.toString('latin1');
      const trimmed = tail.replace(/\s+$/, '');
      if (trimmed === '' && len < size) {
        want *= 4;
        continue;
      }
      if (!trimmed.endsWith('# EOF')) return 'prometheus';
      const before = trimmed.slice(0, -5).replace(/[ \t]+$/, '');
      if (before === '' || before.endsWith('\n')) return 'openmetrics';
      return 'prometheus';
    }
  } finally {
    await fh.close();
  }
}

/**
 * Parses OpenMetrics or Prometheus text (see the module comment for the rules) into `store`
 * (a new MemoryStore when absent) and returns the store. Throws OpenMetricsError on bad input.
 */
export function parseOpenMetrics(text: string, store: MemoryStore = new MemoryStore(), opts: ParseOptions = {}): MemoryStore {
  const fmt = opts.format ?? 'auto';
  const format = fmt === 'auto' ? detectFormat(text) : fmt;
  const p = new LineParser(store, format, fmt === 'auto', opts, opts.fileName ?? '<input>');
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      if (start < text.length) p.line(text.slice(start));
      break;
    }
    p.line(text.slice(start, nl));
    start = nl + 1;
  }
  p.end();
  return store;
}

/**
 * Streams a file into a MemoryStore, line by line, holding one chunk at a time. The format rule
 * looks at the file's last bytes. Errors name the path and the line.
 */
export async function loadOpenMetricsFile(path: string, opts: LoadOptions = {}): Promise<MemoryStore> {
  const store = opts.store ?? new MemoryStore();
  const fmt = opts.format ?? 'auto';
  const format = fmt === 'auto' ? await detectFileFormat(path) : fmt;
  const file = opts.fileName ?? path;
  const p = new LineParser(store, format, fmt === 'auto', opts, file);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const stream = createReadStream(path, { highWaterMark: opts.chunkSize ?? 1 << 20 });
  let carry = '';
  const feed = (text: string): void => {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      p.line(text.slice(start, nl));
      start = nl + 1;
    }
    carry = text.slice(start);
  };
  function badUtf8(chunk: Uint8Array | undefined): never {
    // Find the line: decode leniently and count newlines up to the first replacement character.
    const lenient = carry + (chunk ? new TextDecoder('utf-8').decode(chunk) : '');
    const at = lenient.indexOf('\uFFFD');
    let line = p.lines + 1;
    for (let i = lenient.indexOf('\n'); i >= 0 && (at < 0 || i < at); i = lenient.indexOf('\n', i + 1)) line++;
    stream.destroy();
    throw new OpenMetricsError(file, line, 'invalid UTF-8');
  }
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        badUtf8(chunk);
      }
      feed(carry + text);
    }
    let rest: string;
    try {
      rest = decoder.decode();
    } catch {
      badUtf8(undefined);
    }
    const last = carry + rest;
    if (last !== '') p.line(last);
    p.end();
  } finally {
    stream.destroy();
  }
  return store;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** The sample-name suffixes each OpenMetrics type allows ('' = the family name itself). */
const TYPE_SUFFIXES: Readonly<Record<MetricType, readonly string[]>> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
  summary: ['', '_count', '_sum', '_created'],
  info: ['_info'],
  stateset: [''],
  unknown: [''],
};
const ALL_SUFFIXES = [...new Set(Object.values(TYPE_SUFFIXES).flat())].filter((s) => s !== '');

export interface WriteOptions {
  /**
   * Metric type by family name (`http_requests`) or sample name (`http_requests_total`);
   * Prometheus's `untyped` is written as unknown. Samples whose names fit a typed family are
   * written under its `# TYPE` line; others are written without one.
   */
  types?: ReadonlyMap<string, MetricType | 'untyped'> | Readonly<Record<string, MetricType | 'untyped'>>;
  /** HELP text by family (or sample) name. */
  help?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** What to do with a staleness marker, which OpenMetrics cannot express: 'error' (default), 'drop', or 'nan' (as promtool's dump does). */
  stale?: 'error' | 'drop' | 'nan';
  /** Approximate characters per `out` call (default 64 KiB). */
  chunkSize?: number;
}

export interface WriteStats {
  families: number;
  series: number;
  samples: number;
}

function entries<V>(m: ReadonlyMap<string, V> | Readonly<Record<string, V>> | undefined): [string, V][] {
  if (!m) return [];
  if (m instanceof Map) return [...(m as ReadonlyMap<string, V>).entries()];
  return Object.entries(m as Record<string, V>);
}

/** Family name for a type map key: a sample name of a type without a bare-name sample is stripped. */
function familyKey(name: string, type: MetricType): string {
  const sfx = TYPE_SUFFIXES[type];
  if (sfx.includes('')) return name;
  for (const s of sfx) if (name.length > s.length && name.endsWith(s)) return name.slice(0, -s.length);
  return name;
}

function escapeValue(s: string): string {
  return /[\\"\n]/.test(s) ? s.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c)) : s;
}

function formatName(name: string): string {
  return isLegacyMetricName(name) ? name : `"${escapeValue(name)}"`;
}

/** `name{a="b"}` in OpenMetrics syntax; UTF-8 names are quoted (`{"my.metric",a="b"}`). */
export function formatSeriesName(labels: Labels): string {
  let name: string | undefined;
  const parts: string[] = [];
  for (const l of labels) {
    if (l.name === METRIC_NAME) {
      name = l.value;
      continue;
    }
    const n = isLegacyLabelName(l.name) ? l.name : `"${escapeValue(l.name)}"`;
    parts.push(`${n}="${escapeValue(l.value)}"`);
  }
  if (name === undefined || name === '') throw new Error(`cannot write a series without a metric name: ${formatLabels(labels)}`);
  if (isLegacyMetricName(name)) return parts.length ? `${name}{${parts.join(',')}}` : name;
  return `{"${escapeValue(name)}"${parts.length ? ',' + parts.join(',') : ''}}`;
}

/**
 * Writes series as OpenMetrics text: families sorted by name, each one's lines together (HELP,
 * TYPE, then its series sorted by labels, each series' samples in time order), timestamps in
 * seconds that read back as the same milliseconds, values that read back as the same doubles,
 * and `# EOF` last. promtool 2.42 accepts the output, except series with UTF-8 (quoted) names,
 * which its parser predates.
 */
export function writeOpenMetrics(series: Iterable<Series>, out: (chunk: string) => void, opts: WriteOptions = {}): WriteStats {
  const famTypes = new Map<string, MetricType>();
  for (const [k, t0] of entries(opts.types)) {
    const t = (t0 === 'untyped' ? 'unknown' : t0) as MetricType;
    if (!(t in TYPE_SUFFIXES)) throw new Error(`unknown metric type "${t0}" for ${k}`);
    famTypes.set(familyKey(k, t), t);
  }
  const resolve = (name: string): { family: string; type: MetricType | undefined } => {
    const t = famTypes.get(name);
    if (t && TYPE_SUFFIXES[t].includes('')) return { family: name, type: t };
    for (const s of ALL_SUFFIXES) {
      if (name.length > s.length && name.endsWith(s)) {
        const base = name.slice(0, -s.length);
        const bt = famTypes.get(base);
        if (bt && TYPE_SUFFIXES[bt].includes(s)) return { family: base, type: bt };
      }
    }
    return { family: name, type: undefined };
  };

  const help = new Map<string, string>();
  for (const [k, h] of entries(opts.help)) help.set(famTypes.has(k) ? familyKey(k, famTypes.get(k)!) : resolve(k).family, h);

  const fams = new Map<string, { type: MetricType | undefined; series: Series[] }>();
  for (const s of series) {
    let name = '';
    for (const l of s.labels) if (l.name === METRIC_NAME) name = l.value;
    if (name === '') throw new Error(`cannot write a series without a metric name: ${formatLabels(s.labels)}`);
    const r = resolve(name);
    let f = fams.get(r.family);
    if (!f) {
      f = { type: r.type, series: [] };
      fams.set(r.family, f);
    } else if (f.type === undefined && r.type !== undefined) {
      f.type = r.type;
    }
    f.series.push(s);
  }

  const stale = opts.stale ?? 'error';
  const chunkSize = opts.chunkSize ?? 1 << 16;
  let buf = '';
  const emit = (line: string): void => {
    buf += line;
    if (buf.length >= chunkSize) {
      out(buf);
      buf = '';
    }
  };
  const stats: WriteStats = { families: 0, series: 0, samples: 0 };
  for (const famName of [...fams.keys()].sort()) {
    const f = fams.get(famName)!;
    stats.families++;
    const h = help.get(famName);
    if (h !== undefined) emit(`# HELP ${formatName(famName)} ${escapeValue(h)}\n`);
    if (f.type !== undefined) emit(`# TYPE ${formatName(famName)} ${f.type}\n`);
    f.series.sort((a, b) => compareLabels(a.labels, b.labels));
    for (const s of f.series) {
      stats.series++;
      const prefix = formatSeriesName(s.labels) + ' ';
      const { timestamps: ts, values: vs } = s;
      let prev = -Infinity;
      for (let i = 0; i < ts.length; i++) {
        const t = ts[i]!;
        if (!(t > prev)) {
          throw new Error(`${formatLabels(s.labels)}: timestamps must be strictly increasing (${t} after ${prev})`);
        }
        prev = t;
        let v = vs[i]!;
        if (v !== v && isStaleAt(vs, i)) {
          if (stale === 'drop') continue;
          if (stale === 'error') {
            throw new Error(
              `cannot write the staleness marker of ${formatLabels(s.labels)} at ${describeTime(t)}: ` +
                "OpenMetrics has no way to express one (pass stale: 'drop' or 'nan')",
            );
          }
          v = NaN;
        }
        emit(prefix + formatShortest(v) + ' ' + formatTimestampSeconds(t) + '\n');
        stats.samples++;
      }
    }
  }
  buf += '# EOF\n';
  out(buf);
  return stats;
}
