/**
 * Many backtests at once: every spec under every setting of the `--set` grid, replayed in
 * parallel over shared sources. Each distinct source is opened once; its queries pass one
 * adaptive limiter at batch priority, are shared among backtests and settings (SharedQueries)
 * and, for stores, read each window of data once (WindowCache). Finished backtests are kept by
 * content hash in a state directory, so a re-run (after a crash, or with one spec added) skips
 * them. All specs are read and checked before anything runs: a typo fails the batch at once.
 */

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import pLimit from 'p-limit';
import { loadConfig, type HmdConfig } from '../config/config.js';
import { DistributedEngine } from '../distributed/engine.js';
import { engineSpec, openSource } from '../distributed/sources.js';
import { AdaptiveLimiter } from '../limiter/limiter.js';
import { DEFAULT_LOOKBACK_MS, Engine } from '../promql/engine.js';
import { measuredExprs, scopesFor, type QueryFn } from '../slo/measure.js';
import type { Expr } from '../promql/ast.js';
import { grid, settingLabel, type SetFlag } from './overrides.js';
import { replay, replayInterval, replayWindow, type ReplayResult } from './replay.js';
import { SharedQueries } from './shared.js';
import { loadBacktest, sloReads, type LoadedBacktest, type SourceSpec } from './spec.js';
import { WindowCache, type WindowCacheOptions } from './window-cache.js';

/** Bumped when a replay's result changes meaning: older stored results are then not reused. */
export const RESULT_FORMAT = 1;

export interface BatchOptions {
  /** Backtest spec files. */
  readonly files: readonly string[];
  /** `--set` flags: every backtest runs under every combination of their values. */
  readonly sets?: readonly SetFlag[];
  /** Backtests replayed at once (default 4). */
  readonly concurrency?: number;
  /** Where finished backtests are kept by content hash; undefined: nothing is kept. */
  readonly stateDir?: string;
  /** Re-run backtests even when a result is kept. */
  readonly force?: boolean;
  /** Replaces every spec's source (e.g. the same backtests against a copy in R2). */
  readonly source?: SourceSpec;
  /** hmd.yaml: limiter and query settings. */
  readonly config?: HmdConfig;
  /** Limiter every query passes (default: one from config.limiter). */
  readonly limiter?: AdaptiveLimiter;
  /** Told of progress. */
  readonly onEvent?: (e: BatchEvent) => void;
  /** Window cache settings of store sources (block span, sample budget, a fetch hook). */
  readonly cache?: WindowCacheOptions;
}

/** One backtest under one setting, finished. */
export interface RunOutcome {
  /** Content hash: the spec, its SLOs and the setting, as read. */
  readonly id: string;
  readonly name: string;
  readonly file: string;
  readonly setting: string;
  /** ok: every expectation met; missed: some not met; error: the replay could not run. */
  readonly status: 'ok' | 'missed' | 'error';
  /** Served from the state directory. */
  readonly cached: boolean;
  readonly durationMs: number;
  readonly result?: ReplayResult;
  readonly error?: string;
}

export type BatchEvent =
  | { readonly type: 'start'; readonly total: number; readonly cached: number }
  | { readonly type: 'done'; readonly run: RunOutcome; readonly done: number; readonly total: number; readonly elapsedMs: number; readonly etaMs?: number };

export interface BatchStats {
  readonly backtests: number;
  readonly cached: number;
  readonly evaluations: number;
  /** Queries the evaluations asked; chunk range queries actually run; queries answered directly. */
  readonly queriesAsked: number;
  readonly queriesSent: number;
  readonly queriesDirect: number;
  /** Storage: selects asked, fetches sent below the window cache, bytes read. */
  readonly selects: number;
  readonly fetches: number;
  readonly bytesRead: number;
  readonly wallMs: number;
}

export interface BatchResult {
  readonly runs: readonly RunOutcome[];
  readonly stats: BatchStats;
}

interface Job {
  readonly loaded: LoadedBacktest;
  readonly id: string;
  readonly source: SourceSpec;
}

interface OpenSource {
  readonly shared: SharedQueries;
  readonly cache?: WindowCache;
  /** Starts reading what a range query of `expr` will select (sources that keep what they read). */
  readonly prefetch?: (expr: Expr, start: number, end: number, step: number) => void;
  close(): Promise<void>;
}

/** Reads every spec under every setting (throws on the first bad one), without running anything. */
export function loadJobs(files: readonly string[], sets: readonly SetFlag[] = [], source?: SourceSpec, reads = sloReads()): Job[] {
  const settings = grid(sets);
  const jobs: Job[] = [];
  for (const f of files) {
    for (const s of settings) {
      const loaded = loadBacktest(f, s, process.env, reads);
      const src = source ?? loaded.spec.source;
      jobs.push({ loaded, source: src, id: contentHash(loaded, src) });
    }
  }
  return jobs;
}

/** The identity of a backtest: what it reads and how it judges, with paths relative to its spec. */
export function contentHash(l: LoadedBacktest, source: SourceSpec): string {
  const base = dirname(l.spec.file);
  const rel = (p: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : relative(base, p));
  const src = source.kind === 'data' ? { data: rel(source.location) } : { engines: rel(source.config) };
  const body = {
    format: RESULT_FORMAT,
    spec: { ...l.spec, file: rel(l.spec.file), source: src, sloFiles: l.spec.sloFiles.map(rel) },
    slos: l.slos.map((s) => ({ ...s, file: rel(s.file) })),
  };
  return createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 32);
}

/** Runs the batch. */
export async function runBatch(o: BatchOptions): Promise<BatchResult> {
  const t0 = performance.now();
  const limiter = o.limiter ?? new AdaptiveLimiter(o.config?.limiter ?? {});
  const sources = new Map<string, Promise<OpenSource>>();
  const closeSources = async () => {
    for (const p of sources.values()) await (await p.catch(() => undefined))?.close();
  };
  const open = (src: SourceSpec): Promise<OpenSource> => {
    const k = JSON.stringify(src);
    let p = sources.get(k);
    if (!p) {
      p = openShared(src, limiter, o.config, o.cache);
      sources.set(k, p);
    }
    return p;
  };
  const runsDir = o.stateDir !== undefined ? join(o.stateDir, 'runs') : undefined;
  if (runsDir) mkdirSync(runsDir, { recursive: true });
  let jobs: Job[];
  try {
    jobs = await loadReadingAhead(o, (j) => {
      if (!(runsDir && !o.force && readKept(runsDir, j.id))) readAhead(j, open);
    });
  } catch (err) {
    await closeSources();
    throw err;
  }
  const outcomes: RunOutcome[] = new Array(jobs.length);

  // Kept results first, so that progress counts only the work left.
  const todo: number[] = [];
  const seen = new Map<string, number>();
  const twins = new Map<number, number>();
  let cachedCount = 0;
  jobs.forEach((j, i) => {
    const kept = runsDir && !o.force ? readKept(runsDir, j.id) : undefined;
    if (kept) {
      // Kept under a hash of the content, not of the paths: name where it lives now.
      outcomes[i] = { ...kept, name: j.loaded.spec.name, file: j.loaded.spec.file, setting: settingLabel(j.loaded.setting), cached: true };
      cachedCount++;
      return;
    }
    // The same backtest twice (a file listed twice, a setting that changes nothing): run once.
    const twin = seen.get(j.id);
    if (twin !== undefined) twins.set(i, twin);
    else {
      seen.set(j.id, i);
      todo.push(i);
    }
  });
  const total = todo.length + cachedCount;
  o.onEvent?.({ type: 'start', total, cached: cachedCount });

  let done = cachedCount;
  const runTimes: number[] = [];
  const limit = pLimit(Math.max(1, o.concurrency ?? 4));
  let evaluations = 0;
  try {
    await Promise.all(
      todo.map((i) =>
        limit(async () => {
          const j = jobs[i]!;
          const start = performance.now();
          let out: RunOutcome;
          try {
            const src = await open(j.source);
            const q = src.shared.forStep(replayInterval(j.loaded.slos), replayWindow(j.loaded.spec, j.loaded.slos));
            const result = await replay(j.loaded.spec, j.loaded.slos, q);
            // Counted by stage: the records themselves are made only when read.
            for (const st of result.stages) evaluations += st.evaluations;
            out = { id: j.id, name: j.loaded.spec.name, file: j.loaded.spec.file, setting: settingLabel(j.loaded.setting), status: result.ok ? 'ok' : 'missed', cached: false, durationMs: performance.now() - start, result };
            if (runsDir) keep(runsDir, out);
          } catch (err) {
            out = { id: j.id, name: j.loaded.spec.name, file: j.loaded.spec.file, setting: settingLabel(j.loaded.setting), status: 'error', cached: false, durationMs: performance.now() - start, error: (err as Error).message };
          }
          outcomes[i] = out;
          runTimes.push(out.durationMs);
          done++;
          const left = todo.length - runTimes.length;
          const mean = runTimes.reduce((a, b) => a + b, 0) / runTimes.length;
          o.onEvent?.({ type: 'done', run: out, done, total, elapsedMs: performance.now() - t0, etaMs: (left * mean) / Math.max(1, Math.min(o.concurrency ?? 4, left)) });
        }),
      ),
    );
  } finally {
    await closeSources();
  }
  // Twins share the outcome of the run they repeat.
  for (const [i, twin] of twins) outcomes[i] = { ...outcomes[twin]!, setting: settingLabel(jobs[i]!.loaded.setting) };
  const opened = await Promise.all([...sources.values()].map((p) => p.catch(() => undefined)));
  const sum = (f: (s: OpenSource) => number) => opened.reduce((a, s) => a + (s ? f(s) : 0), 0);
  return {
    runs: outcomes,
    stats: {
      backtests: jobs.length,
      cached: outcomes.filter((r) => r.cached).length,
      evaluations,
      queriesAsked: sum((s) => s.shared.stats.asked),
      queriesSent: sum((s) => s.shared.stats.chunks + s.shared.stats.direct),
      queriesDirect: sum((s) => s.shared.stats.direct),
      selects: sum((s) => s.cache?.stats.selects ?? 0),
      fetches: sum((s) => s.cache?.stats.fetches ?? 0),
      bytesRead: sum((s) => s.cache?.stats.bytesRead ?? 0),
      wallMs: performance.now() - t0,
    },
  };
}

/**
 * loadJobs over the batch's files, one file per turn of the event loop, telling `first` of the
 * first backtest as soon as it is read: its data can be on its way while the other specs are read
 * and checked (every spec is still checked before anything runs).
 */
async function loadReadingAhead(o: BatchOptions, first: (j: Job) => void): Promise<Job[]> {
  const reads = sloReads();
  const jobs: Job[] = [];
  for (const f of o.files) {
    const told = jobs.length > 0;
    jobs.push(...loadJobs([f], o.sets ?? [], o.source, reads));
    if (!told && jobs.length > 0) first(jobs[0]!);
    await new Promise<void>((r) => setImmediate(r));
  }
  return jobs;
}

/**
 * Puts on its way the data a backtest's first stage will query over its window (when its source
 * can read ahead). Only a head start: whatever fails here is left for the replay to meet and report.
 */
function readAhead(j: Job, open: (src: SourceSpec) => Promise<OpenSource>): void {
  const { spec, slos } = j.loaded;
  const st = spec.release.stages[0];
  if (!st) return;
  const { from, to } = replayWindow(spec, slos);
  const step = replayInterval(slos);
  open(j.source).then(
    (src) => {
      if (!src.prefetch) return;
      for (const s of slos) {
        let exprs: Expr[];
        try {
          exprs = measuredExprs(s, scopesFor(s, st.scope, st.baseline));
        } catch {
          continue;
        }
        for (const e of exprs) src.prefetch(e, from, to, step);
      }
    },
    () => undefined,
  );
}

/** Opens a source once for the whole batch: every query through the limiter at batch priority. */
async function openShared(src: SourceSpec, limiter: AdaptiveLimiter, config?: HmdConfig, cacheOpts?: WindowCacheOptions): Promise<OpenSource> {
  if (src.kind === 'data') {
    const cache = new WindowCache(await openSource(src.location), cacheOpts);
    const engine = new Engine({ lookbackDelta: config?.query.lookbackDeltaMs ?? DEFAULT_LOOKBACK_MS });
    // A query's data is put on its way, and waited for, before the query takes a turn of the
    // limiter: queued behind others, it would start reading only when its turn came, and a query
    // holding a turn while its data is read keeps out others whose data is already there. The
    // turn then bounds evaluation in this process, so it is asked for without the batch jitter
    // (which spreads requests to a shared backend; here it only left the process idle, 73 ms of
    // a 0.5 s benchmark batch).
    const local = { jitter: false } as const;
    const q: QueryFn = {
      instant: (e, t) => engine.prefetch(cache, e, t, t, 0).then(() => limiter.run('batch', () => engine.instantQuery(cache, e, t), local)),
      range: (e, s, en, st) => engine.prefetch(cache, e, s, en, st).then(() => limiter.run('batch', () => engine.rangeQuery(cache, e, s, en, st), local)),
    };
    return { shared: new SharedQueries(q), cache, prefetch: (e, s, en, st) => void engine.prefetch(cache, e, s, en, st), close: () => cache.close() };
  }
  const cfg = loadConfig(src.config);
  if (cfg.engines.length === 0) throw new Error(`${src.config}: declares no engines; add an \`engines:\` list, or give the backtest a data source`);
  // Partial answers come back flagged; the judgement counts them as missing data.
  const de = new DistributedEngine({ engines: cfg.engines.map(engineSpec), partialResponse: true, admit: limiter, central: { lookbackDelta: cfg.query.lookbackDeltaMs ?? DEFAULT_LOOKBACK_MS } });
  const q: QueryFn = {
    instant: (e, t) => de.instantQuery(e, t, { priority: 'batch' }),
    range: (e, s, en, st) => de.rangeQuery(e, s, en, st, { priority: 'batch' }),
  };
  return { shared: new SharedQueries(q), close: () => de.close() };
}

function readKept(dir: string, id: string): RunOutcome | undefined {
  try {
    const r = JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as RunOutcome & { format?: number };
    return r.format === RESULT_FORMAT && r.id === id && r.result ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Writes a finished run atomically: a crash leaves either the whole result or none. */
function keep(dir: string, r: RunOutcome): void {
  const file = join(dir, `${r.id}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ format: RESULT_FORMAT, ...r }));
  renameSync(tmp, file);
}

/** The settings of a batch, in grid order, with their runs. */
export function bySetting(runs: readonly RunOutcome[]): Map<string, RunOutcome[]> {
  const m = new Map<string, RunOutcome[]>();
  for (const r of runs) {
    const l = m.get(r.setting);
    if (l) l.push(r);
    else m.set(r.setting, [r]);
  }
  return m;
}

