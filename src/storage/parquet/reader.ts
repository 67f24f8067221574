/**
 * Reads one day's block. A select reads, in order and only as far as needed: the marker, the
 * two footers, the label columns its matchers name (row groups pruned by statistics and bloom
 * filters), the remaining label columns of the matching rows only, and the data columns that
 * overlap the time range, for those rows only. Every read is a ranged read.
 */

import { parquetMetadataAsync, parquetReadObjects, rowIndex, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { labelsFromPairs, METRIC_NAME, type Labels } from '../labels.js';
import type { LabelMatcher } from '../matchers.js';
import type { Series } from '../queryable.js';
import type { ObjectStore } from '../objstore/types.js';
import { isObjectStoreError } from '../objstore/types.js';
import { decodeCellSamples, decodeColIndexes } from './cells.js';
import { takeStaleSeen, xorChunkNumSamples } from './xor.js';
import { decodeCell } from './cells.js';
import { DATA_COLUMN_PREFIX, LABEL_COLUMN_PREFIX, dataColumn, labelColumn, type BlockMarker } from './layout.js';

/** A block file that cannot be read as the format says. */
export class BlockFormatError extends Error {
  override name = 'BlockFormatError';
}

/** An AsyncBuffer over one object, through the store's ranged reads. */
export function objectBuffer(store: ObjectStore, key: string, size: number, signal?: AbortSignal): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? size, size);
      if (stop <= start) return new ArrayBuffer(0);
      const b = await store.get(key, { range: [start, stop - 1] }, signal);
      return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b.buffer as ArrayBuffer) : (b.slice().buffer as ArrayBuffer);
    },
  };
}

/** First read of a footer: the footer length plus the footer, usually a few KiB. */
const FOOTER_FETCH_BYTES = 16 * 1024;

/** What a read error of a native block tells the user to do. */
const REIMPORT = 'the file is damaged; re-import that day';

/**
 * Runs a read of `key`, turning an error that does not say which object it concerns (hyparquet's,
 * a cell or XOR decode error) into a BlockFormatError that names it and says `remedy`.
 * Object-store errors already name their object and keep their kind.
 */
export async function naming<T>(store: ObjectStore, key: string, what: string, f: () => Promise<T> | T, remedy = REIMPORT): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isObjectStoreError(e) || e instanceof BlockFormatError) throw e;
    if ((e as Error)?.name === 'AbortError' || (e as Error)?.name === 'TimeoutError') throw e;
    throw new BlockFormatError(`${store.describe(key)}: cannot read ${what} (${(e as Error)?.message ?? String(e)}): ${remedy}`, { cause: e });
  }
}

export interface OpenFile {
  key: string;
  size: number;
  buf: AsyncBuffer;
  meta: FileMetaData;
}

/** The same opened file read through another store view (its footer stays parsed). */
export function rebind(f: OpenFile, store: ObjectStore): OpenFile {
  return { ...f, buf: objectBuffer(store, f.key, f.size) };
}

/** One day's block, opened (footers read). */
export class BlockReader {
  private constructor(
    readonly store: ObjectStore,
    readonly dir: string,
    readonly marker: BlockMarker,
    private readonly labels: OpenFile,
    private readonly chunks: OpenFile,
    /** Label names present in the labels file. */
    readonly labelNames: ReadonlySet<string>,
    readonly dayStart: number,
  ) {}

  /** This block read through `store` (a scoped view), so a query's reads are counted on its own. */
  withStore(store: ObjectStore): BlockReader {
    return new BlockReader(store, this.dir, this.marker, rebind(this.labels, store), rebind(this.chunks, store), this.labelNames, this.dayStart);
  }

  /** Opens a block whose marker was read, reading both files' footers. */
  static async open(store: ObjectStore, dir: string, marker: BlockMarker, dayStart: number, signal?: AbortSignal): Promise<BlockReader> {
    const open = async (name: string, expectSize: number): Promise<OpenFile> => {
      const key = `${dir}/${name}`;
      const size = await store.size(key, signal);
      if (size !== expectSize) throw new BlockFormatError(`${store.describe(key)}: ${size} bytes, but the block marker says ${expectSize}: the block is damaged or half-replaced; re-import that day`);
      const buf = objectBuffer(store, key, size, signal);
      let meta: FileMetaData;
      try {
        // hyparquet's default first fetch is the last 512 KiB, most of a small chunks file: ask
        // for the tail only (it fetches again when the footer is longer).
        meta = await parquetMetadataAsync(buf, { initialFetchSize: Math.min(size, FOOTER_FETCH_BYTES) });
      } catch (e) {
        throw new BlockFormatError(`${store.describe(key)}: not a readable Parquet file (${(e as Error).message}): re-import that day`);
      }
      return { key, size, buf, meta };
    };
    const labels = await open(marker.files['labels']!.name, marker.files['labels']!.bytes);
    const chunks = await open(marker.files['chunks']!.name, marker.files['chunks']!.bytes);
    if (Number(labels.meta.num_rows) !== Number(chunks.meta.num_rows)) {
      throw new BlockFormatError(`${store.describe(dir)}: the labels file has ${labels.meta.num_rows} rows but the chunks file ${chunks.meta.num_rows}: re-import that day`);
    }
    const names = new Set<string>();
    for (const el of labels.meta.schema) if (el.name.startsWith(LABEL_COLUMN_PREFIX)) names.add(el.name.slice(LABEL_COLUMN_PREFIX.length));
    if (!names.has(METRIC_NAME) && Number(labels.meta.num_rows) > 0) {
      throw new BlockFormatError(`${store.describe(labels.key)}: no ${labelColumn(METRIC_NAME)} column: not an hmd/parquet-common labels file`);
    }
    for (let c = 0; c * marker.dataColumnMs < 86_400_000; c++) {
      if (!chunks.meta.schema.some((el) => el.name === dataColumn(c))) {
        throw new BlockFormatError(`${store.describe(chunks.key)}: missing column ${dataColumn(c)}: not a chunks file of this block`);
      }
    }
    return new BlockReader(store, dir, marker, labels, chunks, names, dayStart);
  }

  /** Number of rows (series) in the block. */
  get rows(): number {
    return Number(this.labels.meta.num_rows);
  }

  /** Rows whose labels satisfy every matcher, in row order. */
  matchingRows(matchers: readonly LabelMatcher[]): Promise<number[]> {
    return matchRows(this.store, this.labels, matchers, (n) => (this.labelNames.has(n) ? labelColumn(n) : undefined));
  }

  /** Full label sets of the given rows (sorted row indexes). */
  rowLabels(rows: readonly number[]): Promise<Labels[]> {
    const columns = [...this.labelNames].map(labelColumn);
    return readRowLabels(this.store, this.labels, rows, async () => columns, LABEL_COLUMN_PREFIX);
  }

  /** Samples in [mint, maxt] of the given rows, read from the data columns that overlap the range. */
  async rowSamples(rows: readonly number[], mint: number, maxt: number): Promise<{ ts: Float64Array; vs: Float64Array; stale: boolean }[]> {
    const colMs = this.marker.dataColumnMs;
    const first = Math.max(0, Math.floor((mint - this.dayStart) / colMs));
    const last = Math.min(86_400_000 / colMs - 1, Math.floor((maxt - this.dayStart) / colMs));
    const cols: string[] = [];
    for (let c = first; c <= last; c++) cols.push(dataColumn(c));
    const cells: Uint8Array[][] = rows.map(() => []);
    await forEachRowCell(this.store, this.chunks, rows, cols, (k, _c, cell) => {
      cells[k]!.push(cell);
    });
    // The series of one scrape target share their timestamps (a scrape stamps all its samples
    // at once): such rows are given one array, so that they take half the memory and a query
    // can find a window's bounds once for all of them.
    const seen = new Map<number, Float64Array<ArrayBuffer>>();
    const decode = (cs: Uint8Array[]) => {
      let n = 0;
      for (const c of cs) for (const ch of decodeCell(c, mint, maxt)) n += xorChunkNumSamples(ch.data);
      const all = new Float64Array(n);
      const vs = new Float64Array(n);
      let off = 0;
      takeStaleSeen();
      for (const c of cs) off += decodeCellSamples(c, all, vs, off, mint, maxt);
      let ts = all.subarray(0, off);
      if (off > 0) {
        const before = seen.get(ts[0]!);
        if (!before) seen.set(ts[0]!, ts);
        else if (sameTimes(before, ts)) ts = before;
      }
      return { ts, vs: vs.subarray(0, off), stale: takeStaleSeen() };
    };
    const out: { ts: Float64Array; vs: Float64Array; stale: boolean }[] = [];
    for (let k = 0; k < cells.length; k++) out.push(await naming(this.store, this.chunks.key, `the chunks of row ${rows[k]} (${cols.join(', ')})`, () => decode(cells[k]!)));
    return out;
  }

  /** Series matching the matchers with their samples in [mint, maxt]. */
  async select(matchers: readonly LabelMatcher[], mint: number, maxt: number, labelsOnly = false): Promise<Series[]> {
    const rows = await this.matchingRows(matchers);
    const labels = await this.rowLabels(rows);
    if (labelsOnly) return labels.map((l) => ({ labels: l, timestamps: new Float64Array(0), values: new Float64Array(0) }));
    const samples = await this.rowSamples(rows, mint, maxt);
    const out: Series[] = [];
    for (let i = 0; i < rows.length; i++) {
      const s = samples[i]!;
      // A row decoded without a staleness marker is declared so: queries then skip their scan.
      if (s.ts.length > 0) out.push({ labels: labels[i]!, timestamps: s.ts, values: s.vs, ...(s.stale ? {} : { mayHaveStale: false }) });
    }
    return out;
  }

  /** The data column names of this block (for checks and docs). */
  dataColumns(): string[] {
    return this.chunks.meta.schema.filter((e) => e.name.startsWith(DATA_COLUMN_PREFIX)).map((e) => e.name);
  }

  /** Decodes the label column indexes of a row group (parquet-common's s_col_indexes), for consistency checks. */
  static colIndexes(bytes: Uint8Array): number[] {
    return decodeColIndexes(bytes);
  }
}

/**
 * Rows of a labels file whose labels satisfy every matcher, in row order. `column` gives a label
 * name's column, or undefined when the file has none: a matcher on such a label sees '' for every
 * row. Only the matchers' columns are read; equality matchers let hyparquet skip row groups by
 * statistics and bloom filters.
 */
export async function matchRows(
  store: ObjectStore,
  file: OpenFile,
  matchers: readonly LabelMatcher[],
  column: (name: string) => string | undefined,
  remedy?: string,
): Promise<number[]> {
  for (const m of matchers) if (column(m.name) === undefined && !m.matches('')) return [];
  const named = matchers.filter((m) => column(m.name) !== undefined);
  if (named.length === 0) return Array.from({ length: Number(file.meta.num_rows) }, (_, i) => i);
  const namedCols = named.map((m) => column(m.name)!);
  const columns = [...new Set(namedCols)];
  const filter: Record<string, unknown> = {};
  named.forEach((m, k) => {
    if (m.type === '=' && m.value !== '') filter[namedCols[k]!] = { $eq: m.value };
  });
  const rows = await naming(
    store,
    file.key,
    `label columns ${columns.join(', ')}`,
    () =>
      parquetReadObjects({
        file: file.buf,
        metadata: file.meta,
        columns,
        rowFormat: 'object',
        includeRowIndex: true,
        ...(Object.keys(filter).length ? { filter: filter as never, useBloomFilters: true } : {}),
        compressors,
      }),
    remedy,
  );
  const out: number[] = [];
  const memo = named.map(() => new Map<string, boolean>());
  for (const r of rows) {
    let ok = true;
    for (let k = 0; k < named.length && ok; k++) {
      const v = (r[namedCols[k]!] as string | null | undefined) ?? '';
      let hit = memo[k]!.get(v);
      if (hit === undefined) {
        hit = named[k]!.matches(v);
        memo[k]!.set(v, hit);
      }
      ok = hit;
    }
    if (ok) out.push((r as Record<symbol, number>)[rowIndex]!);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Full label sets of the given rows (sorted row indexes) of a labels file, a read per row group
 * of the label columns `columnsFor(start, end)` gives for that group; a label's name is its
 * column's name less `prefix`, and an empty or missing value is no label.
 */
export async function readRowLabels(
  store: ObjectStore,
  file: OpenFile,
  rows: readonly number[],
  columnsFor: (start: number, end: number) => Promise<string[]>,
  prefix: string,
  remedy?: string,
): Promise<Labels[]> {
  if (rows.length === 0) return [];
  const out: Labels[] = [];
  for (const [start, end] of groupRanges(rows, file.meta)) {
    const cols = await columnsFor(start, end);
    const objs =
      cols.length === 0
        ? []
        : await naming(
            store,
            file.key,
            `the labels of rows ${start}-${end - 1}`,
            () => parquetReadObjects({ file: file.buf, metadata: file.meta, columns: cols, rowFormat: 'object', rowStart: start, rowEnd: end, compressors }),
            remedy,
          );
    for (let i = start; i < end; i++) {
      if (!rowsHas(rows, i)) continue;
      const o = objs[i - start] ?? {};
      const pairs: [string, string][] = [];
      for (const c of cols) {
        const v = o[c] as string | null | undefined;
        if (v !== null && v !== undefined && v !== '') pairs.push([c.slice(prefix.length), v]);
      }
      out.push(labelsFromPairs(pairs));
    }
  }
  return out;
}

/**
 * Reads the columns `cols` of the given rows (sorted row indexes) of a chunks file, a read per row
 * group (pages outside it skipped through the offset index), and calls `each(k, column, cell, row)`
 * for every non-empty cell of the k-th of `rows`.
 */
export async function forEachRowCell(
  store: ObjectStore,
  file: OpenFile,
  rows: readonly number[],
  cols: readonly string[],
  each: (k: number, column: string, cell: Uint8Array, row: number) => void | Promise<void>,
  remedy?: string,
): Promise<void> {
  if (cols.length === 0 || rows.length === 0) return;
  let k = 0;
  for (const [start, end] of groupRanges(rows, file.meta)) {
    const objs = await naming(
      store,
      file.key,
      `${cols.join(', ')} of rows ${start}-${end - 1}`,
      () =>
        parquetReadObjects({
          file: file.buf,
          metadata: file.meta,
          columns: [...cols],
          rowFormat: 'object',
          rowStart: start,
          rowEnd: end,
          utf8: false,
          useOffsetIndex: true,
          compressors,
        }),
      remedy,
    );
    for (let i = start; i < end; i++) {
      if (!rowsHas(rows, i)) continue;
      const o = objs[i - start]!;
      for (const c of cols) {
        const cell = o[c] as Uint8Array | null | undefined;
        if (cell && cell.length) await each(k, c, cell, i);
      }
      k++;
    }
  }
}

/**
 * Sorted row indexes → one [start, end) range per row group they fall in. hyparquet fetches the
 * whole column chunk of a row group for any row of it (our pages span the chunk), so a read per
 * row group, rather than one per run of nearby rows, fetches each chunk once instead of once per
 * run: a matcher that picks rows spread through a group (one datacenter of every metric) read
 * the same chunks again and again.
 */
export function groupRanges(rows: readonly number[], meta: FileMetaData): [number, number][] {
  const out: [number, number][] = [];
  let g = 0;
  let gStart = 0;
  let gEnd = Number(meta.row_groups[0]?.num_rows ?? 0);
  let cur: [number, number] | undefined;
  for (const r of rows) {
    while (r >= gEnd && g < meta.row_groups.length - 1) {
      g++;
      gStart = gEnd;
      gEnd += Number(meta.row_groups[g]!.num_rows);
      cur = undefined;
    }
    if (cur && cur[0] >= gStart) cur[1] = r + 1;
    else out.push((cur = [r, r + 1]));
  }
  return out;
}

/** Sorted row indexes → [start, end) ranges, merging rows closer than `gap` so reads stay few. */
export function contiguousRanges(rows: readonly number[], gap = 64): [number, number][] {
  const out: [number, number][] = [];
  let start = rows[0]!;
  let prev = start;
  for (let i = 1; i < rows.length; i++) {
    const r = rows[i]!;
    if (r - prev > gap) {
      out.push([start, prev + 1]);
      start = r;
    }
    prev = r;
  }
  out.push([start, prev + 1]);
  return out;
}

/** Whether the sorted row indexes hold `i`. */
export function rowsHas(rows: readonly number[], i: number): boolean {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid]! < i) lo = mid + 1;
    else hi = mid;
  }
  return lo < rows.length && rows[lo] === i;
}

/** Whether two timestamp arrays hold the same times (compared as bytes: timestamps are never NaN or -0). */
function sameTimes(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length || a[a.length - 1] !== b[b.length - 1]) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
