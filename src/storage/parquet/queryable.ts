/**
 * A Queryable over Parquet history: daily blocks under a prefix in an object store. A select
 * maps its time range to day keys (no listing), reads each day's block as BlockReader does, and
 * concatenates each series' samples across days. A day inside the range without a block is an
 * error naming the missing object: missing data is never presented as complete.
 */

import { compareLabels, labelsKey } from '../labels.js';
import type { LabelMatcher } from '../matchers.js';
import type { Queryable, SelectRequest, SelectResult, Series } from '../queryable.js';
import type { ObjectStore } from '../objstore/types.js';
import { daysBetween, dayDir, MARKER_FILE } from './layout.js';
import { BlockReader } from './reader.js';
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
  private readonly blocks = new Map<number, Promise<BlockReader | undefined>>();
  readonly prefix: string;

  constructor(
    readonly store: ObjectStore,
    private readonly opts: ParquetQueryableOptions = {},
  ) {
    this.prefix = opts.prefix ?? '';
  }

  /** The opened block of a day, or undefined when the day has none. */
  private block(day: number, signal?: AbortSignal): Promise<BlockReader | undefined> {
    let p = this.blocks.get(day);
    if (!p) {
      const dir = dayDir(this.prefix, day);
      p = readMarker(this.store, dir, signal).then((m) => (m ? BlockReader.open(this.store, dir, m, day, signal) : undefined));
      // A failed open is not cached: the next query tries again.
      p.catch(() => this.blocks.delete(day));
      this.blocks.set(day, p);
    }
    return p;
  }

  async select(req: SelectRequest, signal?: AbortSignal): Promise<SelectResult> {
    const before = { ...this.store.stats };
    const days = daysBetween(req.mint, req.maxt);
    const warnings: string[] = [];
    const perDay = await Promise.all(
      days.map(async (day) => {
        const b = await this.block(day, signal);
        if (!b) {
          const what = `${this.store.describe(`${dayDir(this.prefix, day)}/${MARKER_FILE}`)}: no block for ${new Date(day).toISOString().slice(0, 10)}`;
          if (!this.opts.allowMissingDays) throw new MissingBlockError(`${what}: the store holds no data for that day (import it, or query a range the store covers)`);
          warnings.push(`${what}: results lack that day`);
          return [] as Series[];
        }
        return b.select(req.matchers, req.mint, req.maxt, req.labelsOnly === true);
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
    const after = this.store.stats;
    return {
      series,
      warnings,
      stats: { seriesFetched: series.length, samplesFetched: samples, bytesRead: after.bytesRead - before.bytesRead },
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
  let n = 0;
  for (const p of parts) n += p.timestamps.length;
  const ts = new Float64Array(n);
  const vs = new Float64Array(n);
  let off = 0;
  for (const p of parts) {
    ts.set(p.timestamps, off);
    vs.set(p.values, off);
    off += p.timestamps.length;
  }
  return { labels: parts[0]!.labels, timestamps: ts, values: vs };
}
