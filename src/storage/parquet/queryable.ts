/**
 * A Queryable over Parquet history: daily blocks under a prefix in an object store. A select
 * maps its time range to day keys (no listing), reads each day's block as BlockReader does, and
 * concatenates each series' samples across days. A day inside the range without a block is an
 * error naming the missing object: missing data is never presented as complete.
 */

import { compareLabels, labelsKey } from '../labels.js';
import type { LabelMatcher } from '../matchers.js';
import { concatSamples, type Queryable, type SelectRequest, type SelectResult, type Series } from '../queryable.js';
import type { ObjectStore } from '../objstore/types.js';
import { isObjectStoreError } from '../objstore/types.js';
import { DAY_MS, daysBetween, dayDir, MARKER_FILE } from './layout.js';

/** Widest range of days a sample select reads (ten years). */
const MAX_SCAN_DAYS = 3660;
import { BlockReader } from './reader.js';
// Cloudflare parquet-tsdb-poc days (meta.pb instead of block.json): see cloudflare.ts.
import { CfBlockReader } from './cloudflare.js';
import { readMarker } from './writer.js';

export interface ParquetQueryableOptions {
  /** Key prefix of the blocks inside the store ('' for the store's root). */
  prefix?: string;
  /** Treat a missing day as empty (with a warning) instead of failing. Default false. */
  allowMissingDays?: boolean;
  /** Days whose block is opened at most once per this many ms (default: cached while the object lives). */
  cacheBlocks?: boolean;
}

/** Raised when a day in the queried range has no block. */
export class MissingBlockError extends Error {
  override name = 'MissingBlockError';
}

/** Parquet history as a Queryable. */
export class ParquetQueryable implements Queryable {
  private readonly blocks = new Map<number, Promise<BlockReader | CfBlockReader | undefined>>();
  readonly prefix: string;

  constructor(
    readonly store: ObjectStore,
    private readonly opts: ParquetQueryableOptions = {},
  ) {
    this.prefix = opts.prefix ?? '';
  }

  /** The opened block of a day, or undefined when the day has none. */
  private block(day: number, signal?: AbortSignal, io: ObjectStore = this.store): Promise<BlockReader | CfBlockReader | undefined> {
    let p = this.blocks.get(day);
    if (!p) {
      const dir = dayDir(this.prefix, day);
      // Opened through the view of the query that first needs it, which pays for the footers.
      // hmd's marker first; only a day without one is looked up in Cloudflare's layout (its
      // `meta.pb` in the same day directory), so native days cost no extra request.
      p = readMarker(io, dir, signal).then((m): Promise<BlockReader | CfBlockReader | undefined> =>
        m ? BlockReader.open(io, dir, m, day, signal) : CfBlockReader.openIfPresent(io, dir, signal),
      );
      // A failed open is not cached: the next query tries again.
      p.catch(() => this.blocks.delete(day));
      this.blocks.set(day, p);
    }
    return p;
  }

  /** The days that have a block, found by listing the prefix (cached for a minute). */
  private async storedDays(signal?: AbortSignal): Promise<number[]> {
    const now = Date.now();
    if (this.dayList && now - this.dayList.at < 60_000) return this.dayList.days;
    const days: number[] = [];
    const base = this.prefix === '' ? '' : this.prefix.replace(/\/+$/, '') + '/';
    // A day is stored when it has hmd's marker or (Cloudflare's layout) a meta.pb.
    const re = /^(\d{4})\/(\d{2})\/(\d{2})\/(?:block\.json|meta\.pb)$/;
    for await (const o of this.store.list(base, signal)) {
      const m = re.exec(o.key.slice(base.length));
      if (m) days.push(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    }
    days.sort((a, b) => a - b);
    // A day with both files is listed once (block.json wins when it is opened).
    for (let i = days.length - 1; i > 0; i--) if (days[i] === days[i - 1]) days.splice(i, 1);
    this.dayList = { at: now, days };
    return days;
  }

  private dayList: { at: number; days: number[] } | undefined;

  /**
   * The days a select reads. Label-only requests (series, label names and values, whose
   * default range is all of time) read the days that exist; sample requests read every day of
   * their range, so that a missing day is reported rather than skipped.
   */
  private async daysFor(req: SelectRequest, signal?: AbortSignal): Promise<number[]> {
    const span = (req.maxt - req.mint) / DAY_MS;
    if (req.labelsOnly || span > MAX_SCAN_DAYS) {
      if (!req.labelsOnly) {
        throw new Error(`${this.store.describe(this.prefix || undefined)}: a time range of ${Math.ceil(span)} days is wider than Parquet history is read for (at most ${MAX_SCAN_DAYS}); narrow the query range`);
      }
      return (await this.storedDays(signal)).filter((d) => d + DAY_MS > req.mint && d <= req.maxt);
    }
    return daysBetween(req.mint, req.maxt);
  }

  async select(req: SelectRequest, signal?: AbortSignal): Promise<SelectResult> {
    // A view of the store with counters of its own: the bytes this select read, even while
    // other queries read the same store.
    const io = this.store.scoped();
    const days = await this.daysFor(req, signal);
    const warnings: string[] = [];
    const perDay = await Promise.all(
      days.map(async (day) => {
        const b = await this.block(day, signal, io);
        if (!b) {
          const what = `${this.store.describe(`${dayDir(this.prefix, day)}/${MARKER_FILE}`)}: no block for ${new Date(day).toISOString().slice(0, 10)}`;
          if (!this.opts.allowMissingDays) throw new MissingBlockError(`${what}: the store holds no data for that day (import it, or query a range the store covers)`);
          warnings.push(`${what}: results lack that day`);
          return [] as Series[];
        }
        try {
          return await b.withStore(io).select(req.matchers, req.mint, req.maxt, req.labelsOnly === true);
        } catch (e) {
          // The block was re-imported since it was opened: its files are gone. Open the new
          // generation (read its marker again) and read the day once more, from it alone.
          if (!isObjectStoreError(e, 'not_found') || this.blocks.get(day) === undefined) throw e;
          this.blocks.delete(day);
          const fresh = await this.block(day, signal, io);
          if (!fresh) throw e;
          return fresh.withStore(io).select(req.matchers, req.mint, req.maxt, req.labelsOnly === true);
        }
      }),
    );
    // Concatenate each series across days (days are in time order).
    const byKey = new Map<string, Series[]>();
    for (const list of perDay) {
      for (const s of list) {
        const k = labelsKey(s.labels);
        const g = byKey.get(k);
        if (g) g.push(s);
        else byKey.set(k, [s]);
      }
    }
    const series: Series[] = [];
    let samples = 0;
    for (const parts of byKey.values()) {
      const s = parts.length === 1 ? parts[0]! : concat(parts);
      samples += s.timestamps.length;
      series.push(s);
    }
    series.sort((a, b) => compareLabels(a.labels, b.labels));
    return {
      series,
      warnings,
      stats: { seriesFetched: series.length, samplesFetched: samples, bytesRead: io.stats.bytesRead },
    };
  }

  async labelNames(matchers: readonly LabelMatcher[], mint: number, maxt: number): Promise<string[]> {
    const r = await this.select({ matchers, mint, maxt, labelsOnly: true });
    const names = new Set<string>();
    for (const s of r.series) for (const l of s.labels) names.add(l.name);
    return [...names].sort();
  }

  async labelValues(name: string, matchers: readonly LabelMatcher[], mint: number, maxt: number): Promise<string[]> {
    const r = await this.select({ matchers, mint, maxt, labelsOnly: true });
    const vals = new Set<string>();
    for (const s of r.series) for (const l of s.labels) if (l.name === name) vals.add(l.value);
    return [...vals].sort();
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

function concat(parts: Series[]): Series {
  // Free of staleness markers when every day's part is.
  return { labels: parts[0]!.labels, ...concatSamples(parts), ...(parts.every((p) => p.mayHaveStale === false) ? { mayHaveStale: false } : {}) };
}
