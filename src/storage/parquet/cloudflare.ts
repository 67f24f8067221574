/**
 * Reads one day in Cloudflare's parquet-tsdb-poc layout (continued as thanos-parquet-gateway),
 * so that history already exported with that tool works as is (docs/parquet-format.md,
 * "Cloudflare's layout"):
 *
 *   <prefix>/YYYY/MM/DD/meta.pb                  protobuf meta.Metadata (mint, maxt exclusive, shards, version)
 *   <prefix>/YYYY/MM/DD/<shard>.labels.parquet   `___cf_meta_index`, `___cf_meta_label_<name>`
 *   <prefix>/YYYY/MM/DD/<shard>.chunks.parquet   `___cf_meta_chunk_0..2` (8h each), v2: `___cf_meta_hash`
 *
 * `CfBlockReader` offers `ParquetQueryable` the same `select` as the native `BlockReader`, and reads
 * the same way: the footers of every shard, then per shard the label columns the matchers name
 * (row groups pruned by statistics and bloom filters), the label columns of the matching rows only
 * (guided by `___cf_meta_index` where it can be trusted), and the chunk columns overlapping the
 * time range, for those rows only. Every read is a ranged read through the object store.
 */

import { parquetMetadataAsync, parquetReadObjects, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { compareLabels, labelsKey, type Labels } from '../labels.js';
import type { LabelMatcher } from '../matchers.js';
import type { Series } from '../queryable.js';
import type { ObjectStore } from '../objstore/types.js';
import { isObjectStoreError } from '../objstore/types.js';
import { chunksNumSamples, decodeCfCell, decodeCfMeta, decodeChunkSamples, decodeColIndexes, type CellChunk, type CfMeta } from './cells.js';
import { BlockFormatError, forEachRowCell, matchRows, naming as nameErrors, objectBuffer, readRowLabels, rebind, rowsHas, type OpenFile } from './reader.js';

/** The per-day metadata object Cloudflare's converter writes last. */
export const CF_META_FILE = 'meta.pb';
export const CF_LABEL_COLUMN_PREFIX = '___cf_meta_label_';
export const CF_INDEX_COLUMN = '___cf_meta_index';
export const CF_HASH_COLUMN = '___cf_meta_hash';
export const CF_CHUNK_COLUMN_PREFIX = '___cf_meta_chunk_';
/** Cloudflare's chunk columns: three of 8 hours each per day. */
export const CF_CHUNK_COLUMNS = 3;
export const CF_CHUNK_COLUMN_MS = 8 * 3_600_000;

export function cfLabelColumn(name: string): string {
  return CF_LABEL_COLUMN_PREFIX + name;
}
export function cfChunkColumn(i: number): string {
  return CF_CHUNK_COLUMN_PREFIX + i;
}
export function cfLabelsFile(shard: number): string {
  return `${shard}.labels.parquet`;
}
export function cfChunksFile(shard: number): string {
  return `${shard}.chunks.parquet`;
}

const FOOTER_FETCH_BYTES = 16 * 1024;

/** Reads `meta.pb` of a day directory; undefined when there is none. */
export async function readCfMeta(store: ObjectStore, dir: string, signal?: AbortSignal): Promise<CfMeta | undefined> {
  const key = `${dir}/${CF_META_FILE}`;
  let bytes: Uint8Array;
  try {
    bytes = await store.get(key, undefined, signal);
  } catch (e) {
    if (isObjectStoreError(e, 'not_found') && e.code !== 'NoSuchBucket') return undefined;
    throw e;
  }
  let meta: CfMeta;
  try {
    meta = decodeCfMeta(bytes);
  } catch (e) {
    throw new BlockFormatError(`${store.describe(key)}: not a Cloudflare meta.pb (${(e as Error).message}): the day's export is damaged; re-export that day with parquet-tsdb-poc/thanos-parquet-gateway, or remove meta.pb`, { cause: e });
  }
  const problem =
    !Number.isSafeInteger(meta.mint) || !Number.isSafeInteger(meta.maxt) || meta.maxt <= meta.mint
      ? `mint ${meta.mint} and maxt ${meta.maxt} do not make a time range`
      : !(Number.isSafeInteger(meta.shards) && meta.shards >= 0 && meta.shards <= 100_000)
        ? `shards ${meta.shards} is not a shard count`
        : !(meta.version >= 0 && meta.version <= 2)
          ? `version ${meta.version} is not one hmd reads (0, 1 or 2)`
          : undefined;
  if (problem) throw new BlockFormatError(`${store.describe(key)}: not a usable Cloudflare meta.pb (${problem}): re-export that day, or remove meta.pb`);
  return meta;
}

/** What a read error of a Cloudflare export tells the user to do. */
const REEXPORT = 'the Cloudflare export is damaged; re-export that day';

/** Runs a read of `key`, turning an error that does not name its object into one that does. */
function naming<T>(store: ObjectStore, key: string, what: string, f: () => Promise<T> | T): Promise<T> {
  return nameErrors(store, key, what, f, REEXPORT);
}

/** One shard: a labels file and a chunks file with aligned rows. */
class CfShard {
  /** Label name → leaf column position in the labels file. */
  readonly labelCols = new Map<string, number>();
  /** Leaf column names of the labels file, by position. */
  readonly leaves: string[];
  readonly hasIndex: boolean;

  constructor(
    readonly store: ObjectStore,
    readonly labels: OpenFile,
    readonly chunks: OpenFile,
  ) {
    // Flat schemas: leaf i is schema element i+1.
    this.leaves = labels.meta.schema.slice(1).map((e) => e.name);
    this.leaves.forEach((n, i) => {
      if (n.startsWith(CF_LABEL_COLUMN_PREFIX)) this.labelCols.set(n.slice(CF_LABEL_COLUMN_PREFIX.length), i);
    });
    this.hasIndex = this.leaves.includes(CF_INDEX_COLUMN);
  }

  get rows(): number {
    return Number(this.labels.meta.num_rows);
  }

  matchingRows(matchers: readonly LabelMatcher[]): Promise<number[]> {
    return matchRows(this.store, this.labels, matchers, (n) => (this.labelCols.has(n) ? cfLabelColumn(n) : undefined), REEXPORT);
  }

  /**
   * The label columns the given rows of [start, end) use, from `___cf_meta_index`; undefined when
   * the file has no index (version 0) or a position does not name a label column of this file
   * (an older converter's offset): then the caller reads every label column.
   */
  private async indexedColumns(rows: readonly number[], start: number, end: number): Promise<string[] | undefined> {
    if (!this.hasIndex) return undefined;
    const objs = await naming(this.store, this.labels.key, `${CF_INDEX_COLUMN} of rows ${start}-${end - 1}`, () =>
      parquetReadObjects({ file: this.labels.buf, metadata: this.labels.meta, columns: [CF_INDEX_COLUMN], rowFormat: 'object', rowStart: start, rowEnd: end, utf8: false, compressors }),
    );
    const seen = new Set<string>();
    const positions = new Set<number>();
    for (let i = start; i < end; i++) {
      if (!rowsHas(rows, i)) continue;
      const raw = objs[i - start]![CF_INDEX_COLUMN] as Uint8Array | string | null | undefined;
      if (raw === null || raw === undefined) return undefined;
      const bytes = typeof raw === 'string' ? new TextEncoder().encode(raw) : raw;
      const key = Array.prototype.join.call(bytes, ',');
      if (seen.has(key)) continue;
      seen.add(key);
      let idx: number[];
      try {
        idx = decodeColIndexes(bytes);
      } catch {
        return undefined;
      }
      for (const p of idx) positions.add(p);
    }
    const cols: string[] = [];
    for (const p of positions) {
      const name = this.leaves[p];
      if (name === undefined || !name.startsWith(CF_LABEL_COLUMN_PREFIX)) return undefined;
      cols.push(name);
    }
    return cols;
  }

  rowLabels(rows: readonly number[]): Promise<Labels[]> {
    const all = [...this.labelCols.keys()].map(cfLabelColumn);
    return readRowLabels(this.store, this.labels, rows, async (start, end) => (await this.indexedColumns(rows, start, end)) ?? all, CF_LABEL_COLUMN_PREFIX, REEXPORT);
  }

  /** The chunks overlapping [mint, maxt] of the given rows, from the chunk columns `cols`. */
  async rowChunks(rows: readonly number[], cols: readonly string[], mint: number, maxt: number): Promise<CellChunk[][]> {
    const out: CellChunk[][] = rows.map(() => []);
    await forEachRowCell(
      this.store,
      this.chunks,
      rows,
      cols,
      async (k, c, cell, i) => {
        const list = await naming(this.store, this.chunks.key, `${c} of row ${i}`, () => decodeCfCell(cell, mint, maxt));
        for (const ch of list) out[k]!.push(ch);
      },
      REEXPORT,
    );
    return out;
  }
}

/** One day in Cloudflare's layout, opened (meta.pb and every shard's footers read). */
export class CfBlockReader {
  private constructor(
    readonly store: ObjectStore,
    readonly dir: string,
    readonly meta: CfMeta,
    private readonly shards: readonly CfShard[],
  ) {}

  /** This day read through `store` (a scoped view), so a query's reads are counted on its own. */
  withStore(store: ObjectStore): CfBlockReader {
    return new CfBlockReader(store, this.dir, this.meta, this.shards.map((sh) => new CfShard(store, rebind(sh.labels, store), rebind(sh.chunks, store))));
  }

  /** Opens the day in `dir` if it has a `meta.pb`; undefined when it has none. */
  static async openIfPresent(store: ObjectStore, dir: string, signal?: AbortSignal): Promise<CfBlockReader | undefined> {
    const meta = await readCfMeta(store, dir, signal);
    return meta ? CfBlockReader.open(store, dir, meta, signal) : undefined;
  }

  /** Opens a day whose meta.pb was read, reading the footers of all its shard files. */
  static async open(store: ObjectStore, dir: string, meta: CfMeta, signal?: AbortSignal): Promise<CfBlockReader> {
    const metaKey = store.describe(`${dir}/${CF_META_FILE}`);
    const openFile = async (name: string, shard: number): Promise<OpenFile> => {
      const key = `${dir}/${name}`;
      let size: number;
      try {
        size = await store.size(key, signal);
      } catch (e) {
        if (isObjectStoreError(e, 'not_found')) {
          throw new BlockFormatError(`${store.describe(key)}: missing: ${metaKey} lists ${meta.shards} shard(s), but shard ${shard} has no ${name.slice(name.indexOf('.') + 1)} file: the Cloudflare export of that day is incomplete; re-export that day`, { cause: e });
        }
        throw e;
      }
      const buf = objectBuffer(store, key, size, signal);
      let fm: FileMetaData;
      try {
        fm = await parquetMetadataAsync(buf, { initialFetchSize: Math.min(size, FOOTER_FETCH_BYTES) });
      } catch (e) {
        if (isObjectStoreError(e)) throw e;
        throw new BlockFormatError(`${store.describe(key)}: not a readable Parquet file (${(e as Error).message}): re-export that day`, { cause: e });
      }
      return { key, size, buf, meta: fm };
    };
    const shards = await Promise.all(
      Array.from({ length: meta.shards }, async (_, s) => {
        const labels = await openFile(cfLabelsFile(s), s);
        const chunks = await openFile(cfChunksFile(s), s);
        if (Number(labels.meta.num_rows) !== Number(chunks.meta.num_rows)) {
          throw new BlockFormatError(`${store.describe(chunks.key)}: ${chunks.meta.num_rows} rows, but ${store.describe(labels.key)} has ${labels.meta.num_rows}: the shard's files do not belong together; re-export that day`);
        }
        const names = new Set(chunks.meta.schema.map((e) => e.name));
        for (let c = 0; c < CF_CHUNK_COLUMNS; c++) {
          if (!names.has(cfChunkColumn(c))) throw new BlockFormatError(`${store.describe(chunks.key)}: missing column ${cfChunkColumn(c)}: not a Cloudflare chunks file`);
        }
        const shard = new CfShard(store, labels, chunks);
        if (shard.labelCols.size === 0 && shard.rows > 0) {
          throw new BlockFormatError(`${store.describe(labels.key)}: no ${CF_LABEL_COLUMN_PREFIX}* column: not a Cloudflare labels file`);
        }
        return shard;
      }),
    );
    return new CfBlockReader(store, dir, meta, shards);
  }

  /** The chunk columns whose 8h slice overlaps [mint, maxt] (Cloudflare's ChunkColumnIndex, capped at the last). */
  chunkColumns(mint: number, maxt: number): string[] {
    const idx = (t: number) => Math.min(CF_CHUNK_COLUMNS - 1, Math.max(0, Math.floor((t - this.meta.mint) / CF_CHUNK_COLUMN_MS)));
    if (maxt < this.meta.mint || mint >= this.meta.maxt) return [];
    const out: string[] = [];
    for (let c = idx(mint); c <= idx(maxt); c++) out.push(cfChunkColumn(c));
    return out;
  }

  /** Series matching the matchers with their samples in [mint, maxt] ∩ [meta.mint, meta.maxt). */
  async select(matchers: readonly LabelMatcher[], mint: number, maxt: number, labelsOnly = false): Promise<Series[]> {
    const lo = Math.max(mint, this.meta.mint);
    const hi = Math.min(maxt, this.meta.maxt - 1);
    if (!labelsOnly && lo > hi) return [];
    const cols = this.chunkColumns(lo, hi);
    const perShard = await Promise.all(
      this.shards.map(async (sh) => {
        const rows = await sh.matchingRows(matchers);
        const labels = await sh.rowLabels(rows);
        if (labelsOnly) return labels.map((l) => ({ labels: l, chunks: [] as CellChunk[], key: sh.chunks.key }));
        const chunks = await sh.rowChunks(rows, cols, lo, hi);
        return labels.map((l, i) => ({ labels: l, chunks: chunks[i]!, key: sh.chunks.key }));
      }),
    );
    // A series is normally in one shard; should it be in several, its chunks are merged.
    const byKey = new Map<string, { labels: Labels; chunks: CellChunk[]; key: string }>();
    for (const list of perShard) {
      for (const s of list) {
        const k = labelsKey(s.labels);
        const g = byKey.get(k);
        if (g) for (const c of s.chunks) g.chunks.push(c);
        else byKey.set(k, { labels: s.labels, chunks: [...s.chunks], key: s.key });
      }
    }
    const out: Series[] = [];
    for (const s of byKey.values()) {
      if (labelsOnly) {
        out.push({ labels: s.labels, timestamps: new Float64Array(0), values: new Float64Array(0) });
        continue;
      }
      const decoded = await naming(this.store, s.key, `the chunks of ${JSON.stringify(Object.fromEntries(s.labels.map((l) => [l.name, l.value])))}`, () => {
        const n = chunksNumSamples(s.chunks);
        const ts = new Float64Array(n);
        const vs = new Float64Array(n);
        const m = decodeChunkSamples(s.chunks, ts, vs, 0, lo, hi);
        return { ts: ts.subarray(0, m), vs: vs.subarray(0, m) };
      });
      if (decoded.ts.length > 0) out.push({ labels: s.labels, timestamps: decoded.ts, values: decoded.vs });
    }
    out.sort((a, b) => compareLabels(a.labels, b.labels));
    return out;
  }

  /** Number of shards. */
  get shardCount(): number {
    return this.shards.length;
  }

  /** The day's span per meta.pb (for checks). */
  get span(): { mint: number; maxt: number } {
    return { mint: this.meta.mint, maxt: this.meta.maxt };
  }
}
