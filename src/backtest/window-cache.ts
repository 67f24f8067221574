/**
 * Storage read once per window: selects are served from blocks of time (8h by default, the
 * Parquet layout's data column span, so a block maps to whole column chunks) fetched once and
 * kept, so the many queries of a batch over the same window (every SLI window, every chunk, every
 * scope, every setting of a sweep) read the bytes once.
 *
 * A select naming its metric (`__name__="x"`) is served from the whole metric's block, fetched
 * once and filtered in memory by the other matchers: a scope's rows are spread through a day's
 * file, so selecting one scope reads nearly what the whole metric costs, and a batch over many
 * scopes would otherwise read the metric once per scope (the benchmark measured 30x the bytes).
 * Selects without a metric name are cached by their full set of matchers. Blocks asked for
 * during one turn of the event loop (a stage's queries ask at once) are read together, each run
 * of contiguous blocks with one select, so that a series spanning blocks lies in one buffer: a
 * select inside one such read is cut from its series, filtered once per read rather than per
 * block; only blocks read apart are joined. A select whose blocks are held is answered at once
 * (`selectHeld`). A query's signal ends its wait, not the read, which other queries share. Kept
 * blocks are bounded by a sample budget, least recently used first out.
 */

import { compareLabels } from '../storage/labels.js';
import { hasStale } from '../storage/stale.js';
import { matchersKey, matchesAll, type LabelMatcher } from '../storage/matchers.js';
import { METRIC_NAME } from '../storage/labels.js';
import { concatSamples, lowerBound, upperBound, type Queryable, type SelectRequest, type SelectResult, type Series } from '../storage/queryable.js';

export interface WindowCacheOptions {
  /** Span of one cached block, ms (default 8h; a divisor of a day keeps blocks inside days). */
  readonly blockMs?: number;
  /** Samples kept at most (default 64M, about 1 GiB); older blocks are dropped past it. */
  readonly maxSamples?: number;
  /** Told of every select sent below, with the bytes it read (benchmarks replay them uncached). */
  readonly onFetch?: (req: SelectRequest, bytesRead: number) => void;
}

export interface WindowCacheStats {
  /** Selects asked of the cache. */
  selects: number;
  /** Selects sent to the storage below. */
  fetches: number;
  /** Blocks fetched, and served from memory. */
  blocksFetched: number;
  blocksHit: number;
  /** Bytes the storage below read. */
  bytesRead: number;
  /** Samples held now. */
  samplesHeld: number;
}

/** Series with their filter memo and label postings: a block, or the run of blocks one select read. */
interface Indexed {
  readonly series: readonly Series[];
  /** The series matching each filter asked of it (a scope is asked for again and again). */
  readonly filtered: Map<string, readonly Series[]>;
  /** Per label name, the series holding each value, in order (made when first asked). */
  readonly postings: Map<string, Map<string, Series[]>>;
}

/**
 * One block of a read: its samples counted at once, its own series made only when a select
 * joins it with a block read apart (a select inside one read is cut from the read's series).
 */
class Block implements Indexed {
  readonly filtered = new Map<string, readonly Series[]>();
  readonly postings = new Map<string, Map<string, Series[]>>();
  private own: Series[] | undefined;
  constructor(
    /** Every series of the select that read this block, whole. */
    readonly run: Indexed,
    readonly samples: number,
    private readonly mint: number,
    private readonly maxt: number,
  ) {}
  get series(): readonly Series[] {
    return (this.own ??= cut(this.run.series, this.mint, this.maxt));
  }
}

/** The block's series with `name`=`value`, in order, from an index of that label made once. */
function posting(b: Indexed, name: string, value: string): readonly Series[] {
  let byValue = b.postings.get(name);
  if (!byValue) {
    byValue = new Map();
    for (const s of b.series) {
      const l = s.labels.find((x) => x.name === name);
      if (!l) continue;
      const list = byValue.get(l.value);
      if (list) list.push(s);
      else byValue.set(l.value, [s]);
    }
    b.postings.set(name, byValue);
  }
  return byValue.get(value) ?? [];
}

/**
 * The block's series matching `filter`, remembered per filter. A scope names labels by equality,
 * so the shortest of their postings is filtered, not the whole metric: a block of thousands of
 * series is asked for by every scope of a batch.
 */
function matching(b: Indexed, filter: readonly LabelMatcher[], key: string): readonly Series[] {
  if (filter.length === 0) return b.series;
  const memo = b.filtered;
  let out = memo.get(key);
  if (out) return out;
  let candidates = b.series;
  for (const m of filter) {
    if (m.type !== '=' || m.value === '') continue;
    const p = posting(b, m.name, m.value);
    if (p.length < candidates.length) candidates = p;
  }
  memo.set(key, (out = candidates.filter((s) => matchesAll(filter, s.labels))));
  return out;
}

const NOTHING = (): void => undefined;
/** A prefetch of blocks already held. */
const HELD: Promise<void> = Promise.resolve();

/** A Queryable caching the blocks of time its selects touch. */
export class WindowCache implements Queryable {
  /** Blocks are never written after they are read, and every select answers views of them. */
  readonly immutableSamples = true;
  readonly stats: WindowCacheStats = { selects: 0, fetches: 0, blocksFetched: 0, blocksHit: 0, bytesRead: 0, samplesHeld: 0 };
  private readonly blockMs: number;
  private readonly maxSamples: number;
  private readonly onFetch: WindowCacheOptions['onFetch'];
  private readonly blocks = new Map<string, Promise<Block>>();
  /** The blocks of `blocks` that have come. */
  private readonly held = new Map<string, Block>();
  private readonly sizes = new Map<string, number>();
  /** Blocks asked for and not yet sent for, by fetch key, read together at the end of the turn. */
  private readonly wanted = new Map<string, { matchers: readonly LabelMatcher[]; blocks: Map<number, { resolve: (b: Block) => void; reject: (e: unknown) => void }> }>();
  private flushing = false;

  constructor(
    private readonly inner: Queryable,
    opts: WindowCacheOptions = {},
  ) {
    this.blockMs = opts.blockMs ?? 8 * 3_600_000;
    this.maxSamples = opts.maxSamples ?? 64 * 1024 * 1024;
    this.onFetch = opts.onFetch;
  }

  async select(req: SelectRequest, signal?: AbortSignal): Promise<SelectResult> {
    if (req.labelsOnly) return this.inner.select(req, signal);
    const span = this.span(req);
    const held = this.heldOf(span);
    if (held && signal?.aborted) throw signal.reason;
    this.request(span);
    return this.serve(req, span, held ?? (await untilAborted(Promise.all(span.keys.map((k) => this.blocks.get(k)!)), signal)));
  }

  /** The answer to a select whose blocks are all held (a prefetched query's, always), else undefined; nothing is read. */
  selectHeld(req: SelectRequest): SelectResult | undefined {
    if (req.labelsOnly) return undefined;
    const span = this.span(req);
    const held = this.heldOf(span);
    if (!held) return undefined;
    this.request(span);
    return this.serve(req, span, held);
  }

  /** A select's blocks when every one of them is held. */
  private heldOf(span: Span): Block[] | undefined {
    const got: Block[] = [];
    for (const k of span.keys) {
      const h = this.held.get(k);
      if (!h) return undefined;
      got.push(h);
    }
    return got;
  }

  /** A select's answer from its blocks. */
  private serve(req: SelectRequest, { keys, first, last, filter, fk }: Span, got: readonly Block[]): SelectResult {
    this.stats.selects++;
    this.evict();
    // Blocks that one select read together are cut from that select's whole series: no joining.
    const run = got[0]!.run;
    if (got.every((b) => b.run === run)) return { series: cut(matching(run, filter, fk), req.mint, req.maxt) };
    // Blocks read apart are joined, and kept with the first block (and counted in its size): the
    // same scope over the same blocks is asked for by every chunk of every expression.
    const jk = `join|${last - first}|${fk}`;
    const memo = got[0]!.filtered;
    let joined = memo.get(jk);
    if (!joined) {
      joined = assemble(got.map((b) => matching(b, filter, fk)));
      memo.set(jk, joined);
      const n = joined.reduce((a, x) => a + x.timestamps.length, 0);
      const k0 = keys[0]!;
      if (this.sizes.has(k0)) {
        this.sizes.set(k0, this.sizes.get(k0)! + n);
        this.stats.samplesHeld += n;
      }
    }
    return { series: cut(joined, req.mint, req.maxt) };
  }

  /**
   * Starts fetching the blocks a select of `req` needs that are neither kept nor on their way;
   * settles once they are all held or failed (the select reports the failure).
   */
  prefetch(req: SelectRequest): Promise<void> {
    if (req.labelsOnly) return HELD;
    const span = this.span(req);
    this.request(span);
    return Promise.all(span.keys.map((k) => this.blocks.get(k)!)).then(NOTHING, NOTHING);
  }

  /** The plan, block numbers and block keys of a select. */
  private span(req: SelectRequest): Span {
    const plan = planOf(req.matchers);
    const first = Math.floor(req.mint / this.blockMs);
    const last = Math.floor(req.maxt / this.blockMs);
    const keys: string[] = [];
    for (let b = first; b <= last; b++) keys.push(`${plan.mk}|${b}`);
    return { ...plan, first, last, keys };
  }

  /** Puts a select's missing blocks on their way; blocks asked for again move to the back of the eviction order. */
  private request({ fetchMatchers, mk, first, keys }: Span): void {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const hit = this.blocks.get(k);
      if (hit) {
        // Least recently used goes first: re-insert on use.
        this.blocks.delete(k);
        this.blocks.set(k, hit);
        this.stats.blocksHit++;
        continue;
      }
      let w = this.wanted.get(mk);
      if (!w) this.wanted.set(mk, (w = { matchers: fetchMatchers, blocks: new Map() }));
      let settle!: { resolve: (b: Block) => void; reject: (e: unknown) => void };
      this.remember(k, new Promise<Block>((resolve, reject) => (settle = { resolve, reject })));
      w.blocks.set(first + i, settle);
    }
    if (this.wanted.size > 0 && !this.flushing) {
      this.flushing = true;
      setImmediate(() => this.fetchWanted());
    }
  }

  /**
   * Reads the blocks asked for during this turn of the event loop: per metric, each run of
   * contiguous blocks with one select. The queries of a stage ask for their windows all at once,
   * some wider than others: read together, a metric's blocks come in one buffer per series, so
   * that series spanning blocks are views, not copies.
   */
  private fetchWanted(): void {
    this.flushing = false;
    const all = [...this.wanted.values()];
    this.wanted.clear();
    for (const w of all) {
      const ids = [...w.blocks.keys()].sort((a, b) => a - b);
      for (let i = 0; i < ids.length; ) {
        let j = i;
        while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
        const run = ids.slice(i, j + 1);
        this.fetch(w.matchers, run[0]!, run[run.length - 1]!).then(
          (blocks) => run.forEach((b, k) => w.blocks.get(b)!.resolve(blocks[k]!)),
          (err: unknown) => run.forEach((b) => w.blocks.get(b)!.reject(err)),
        );
        i = j + 1;
      }
    }
  }

  private remember(k: string, p: Promise<Block>): void {
    this.blocks.set(k, p);
    p.then(
      (b) => {
        // Still wanted (not evicted or cleared meanwhile).
        if (this.blocks.get(k) === p) this.held.set(k, b);
        this.sizes.set(k, b.samples);
        this.stats.samplesHeld += b.samples;
      },
      // A failed read is not kept: the next select tries again.
      () => this.blocks.delete(k),
    );
  }

  /** Reads blocks first..last with one select and cuts the answer into blocks. */
  private async fetch(matchers: readonly LabelMatcher[], first: number, last: number): Promise<Block[]> {
    this.stats.fetches++;
    this.stats.blocksFetched += last - first + 1;
    const req = { matchers, mint: first * this.blockMs, maxt: (last + 1) * this.blockMs - 1 };
    // No query's signal: the read is shared by every query that waits for these blocks.
    const r = await this.inner.select(req);
    this.stats.bytesRead += r.stats?.bytesRead ?? 0;
    this.onFetch?.(req, r.stats?.bytesRead ?? 0);
    if (r.warnings?.length) throw new Error(r.warnings.join('; '));
    const whole: Series[] = [];
    const run: Indexed = { series: whole, filtered: new Map(), postings: new Map() };
    const samples = new Array<number>(last - first + 1).fill(0);
    for (const s of r.series) {
      // Looked for once here, so that no query of the batch scans the series for staleness again.
      const clean = s.mayHaveStale === false || !hasStale(s.values);
      whole.push(piece(s, s.timestamps, s.values, clean));
      let a = 0;
      for (let b = first; b <= last; b++) {
        const end = upperBound(s.timestamps, (b + 1) * this.blockMs - 1, a);
        samples[b - first]! += end - a;
        a = end;
      }
    }
    return samples.map((n, k) => new Block(run, n, (first + k) * this.blockMs, (first + k + 1) * this.blockMs - 1));
  }

  /** Drops least recently used blocks past the sample budget. */
  private evict(): void {
    if (this.stats.samplesHeld <= this.maxSamples) return;
    for (const k of this.blocks.keys()) {
      if (this.stats.samplesHeld <= this.maxSamples) break;
      const n = this.sizes.get(k);
      if (n === undefined) continue; // still in flight
      this.blocks.delete(k);
      this.held.delete(k);
      this.sizes.delete(k);
      this.stats.samplesHeld -= n;
    }
  }

  labelNames(matchers: readonly LabelMatcher[], mint: number, maxt: number): Promise<string[]> {
    return this.inner.labelNames ? this.inner.labelNames(matchers, mint, maxt) : Promise.resolve([]);
  }

  labelValues(name: string, matchers: readonly LabelMatcher[], mint: number, maxt: number): Promise<string[]> {
    return this.inner.labelValues ? this.inner.labelValues(name, matchers, mint, maxt) : Promise.resolve([]);
  }

  async close(): Promise<void> {
    this.blocks.clear();
    this.held.clear();
    this.sizes.clear();
    this.stats.samplesHeld = 0;
    await this.inner.close?.();
  }
}

/** `p`, or the signal's reason once it aborts (the shared read goes on for the others). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(e);
      },
    );
  });
}

/** How the cache serves a selector's matchers: what it fetches, and what it filters the fetched series by. */
interface SelectPlan {
  readonly fetchMatchers: readonly LabelMatcher[];
  /** Key of the fetched blocks. */
  readonly mk: string;
  /** The matchers left to filter by, and their key. */
  readonly filter: readonly LabelMatcher[];
  readonly fk: string;
}

/** A select's plan with its blocks: numbers first..last, keys in order. */
type Span = SelectPlan & { readonly first: number; readonly last: number; readonly keys: readonly string[] };

/** Plans by matchers: a query's selectors are the same arrays at every select (expressions are parsed once). */
const plans = new WeakMap<readonly LabelMatcher[], SelectPlan>();

function planOf(matchers: readonly LabelMatcher[]): SelectPlan {
  let p = plans.get(matchers);
  if (!p) {
    // Fetch by metric name when there is one, and keep the other matchers for the filter.
    const name = matchers.find((m) => m.name === METRIC_NAME && m.type === '=' && m.value !== '');
    const fetchMatchers = name ? [name] : matchers;
    const filter = name ? matchers.filter((m) => m !== name) : [];
    p = { fetchMatchers, mk: matchersKey(fetchMatchers), filter, fk: matchersKey(filter) };
    plans.set(matchers, p);
  }
  return p;
}

/**
 * Each series' samples across consecutive blocks, joined; sorted by labels. Every block's list
 * is sorted by labels, so the lists are merged (no string keys, no final sort).
 */
function assemble(blocks: readonly (readonly Series[])[]): Series[] {
  const out: Series[] = [];
  const pos = blocks.map(() => 0);
  for (;;) {
    // The smallest label set at the head of any list, and the blocks that hold it, in time order.
    let head: Series | undefined;
    for (let b = 0; b < blocks.length; b++) {
      const s = blocks[b]![pos[b]!];
      if (s && (!head || compareLabels(s.labels, head.labels) < 0)) head = s;
    }
    if (!head) return out;
    const parts: Series[] = [];
    for (let b = 0; b < blocks.length; b++) {
      const s = blocks[b]![pos[b]!];
      if (s && (s === head || compareLabels(s.labels, head.labels) === 0)) {
        parts.push(s);
        pos[b]!++;
      }
    }
    out.push(parts.length === 1 ? parts[0]! : join(parts));
  }
}

/** One series from its consecutive pieces: a view when they lie side by side in one buffer (read by one select), else a copy. */
function join(parts: readonly Series[]): Series {
  const n = parts.reduce((a, p) => a + p.timestamps.length, 0);
  const stale = parts.some((p) => p.mayHaveStale !== false);
  const adjacent = (get: (p: Series) => Float64Array) =>
    parts.every((p, i) => i === 0 || (get(p).buffer === get(parts[0]!).buffer && get(p).byteOffset === get(parts[i - 1]!).byteOffset + get(parts[i - 1]!).byteLength));
  if (adjacent((p) => p.timestamps) && adjacent((p) => p.values)) {
    const t0 = parts[0]!.timestamps;
    const v0 = parts[0]!.values;
    return { labels: parts[0]!.labels, timestamps: new Float64Array(t0.buffer, t0.byteOffset, n), values: new Float64Array(v0.buffer, v0.byteOffset, n), ...(stale ? {} : { mayHaveStale: false }) };
  }
  return { labels: parts[0]!.labels, ...concatSamples(parts), ...(stale ? {} : { mayHaveStale: false }) };
}

/** A series of `s`'s labels over the given samples, declared free of staleness markers when `clean`. */
function piece(s: Series, timestamps: Float64Array, values: Float64Array, clean: boolean): Series {
  // Built field by field: spreading an optional field made a temporary object per series and select.
  const out: { labels: Series['labels']; timestamps: Float64Array; values: Float64Array; mayHaveStale?: boolean } = { labels: s.labels, timestamps, values };
  if (clean) out.mayHaveStale = false;
  return out;
}

/**
 * Series cut to [mint, maxt] (views, no copies); already sorted by labels. Series that share
 * their timestamps (one scrape target's) share the bounds and the timestamps view: the search is
 * made once per target, and a query sees them as one array.
 */
function cut(series: readonly Series[], mint: number, maxt: number): Series[] {
  const out: Series[] = [];
  let cuts: Map<Float64Array, Float64Array> | undefined;
  for (const s of series) {
    const all = s.timestamps;
    let ts = cuts?.get(all);
    if (!ts) {
      const a = lowerBound(all, mint);
      const b = upperBound(all, maxt);
      ts = a === 0 && b === all.length ? all : all.subarray(a, b);
      (cuts ??= new Map()).set(all, ts);
    }
    if (ts.length === 0) continue;
    if (ts === all) out.push(s);
    else {
      const a = (ts.byteOffset - all.byteOffset) >> 3;
      out.push(piece(s, ts, s.values.subarray(a, a + ts.length), s.mayHaveStale === false));
    }
  }
  return out;
}
