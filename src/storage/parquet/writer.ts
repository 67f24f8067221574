/**
 * Writes one UTC day of series as a block: a labels file and a chunks file with aligned rows,
 * then the marker that makes the block visible. Files are named by a generation, so a re-import
 * writes new files, swaps the marker in one atomic put, and only then removes the old files:
 * readers see the old block or the new one, never a mix.
 */

import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import { compareLabels, getLabel, METRIC_NAME, type Labels } from '../labels.js';
import { labelsHash } from '../hash.js';
import type { Series } from '../queryable.js';
import { lowerBound } from '../queryable.js';
import type { ObjectStore } from '../objstore/types.js';
import { isObjectStoreError } from '../objstore/types.js';
import { CHUNK_ENC_XOR, encodeCell, encodeColIndexes, type CellChunk } from './cells.js';
import { encodeXorChunk } from './xor.js';
import {
  CHUNK_SAMPLES,
  COL_INDEXES_COLUMN,
  DAY_MS,
  DEFAULT_DATA_COLUMN_MS,
  MARKER_FILE,
  META_DATA_COL_DURATION,
  META_MAX_T,
  META_MIN_T,
  SERIES_HASH_COLUMN,
  dataColumn,
  dayDir,
  labelColumn,
  type BlockMarker,
} from './layout.js';

/** Target size of a data page in the chunks file. */
const DATA_PAGE_BYTES = 128 * 1024;

export interface BlockWriteOptions {
  /** Time slice per data column, ms (default 8h). Must divide a day. */
  dataColumnMs?: number;
  /** Rows per row group: smaller groups prune better, larger ones compress better (default 5,000). */
  rowGroupSize?: number;
  /** Label columns that get bloom filters (default: __name__). */
  bloomFilterLabels?: readonly string[];
  /** Clock for the generation name and the marker (injectable for tests). */
  now?: () => number;
  /**
   * Name of the generation folder (default: from the clock plus randomness). A fixed name makes
   * writing the same data twice give the same keys and bytes (bundled fixtures); it must look
   * like the generated ones: `g` then lowercase letters and digits.
   */
  generation?: string;
}

/** What a block write produced. */
export interface BlockWriteResult {
  readonly dir: string;
  readonly series: number;
  readonly samples: number;
  readonly bytes: number;
  readonly replaced: boolean;
}

/** Orders series by metric name first, then by all labels, as parquet-common sorts rows. */
export function compareByNameThenLabels(a: Labels, b: Labels): number {
  const na = getLabel(a, METRIC_NAME);
  const nb = getLabel(b, METRIC_NAME);
  if (na !== nb) return na < nb ? -1 : 1;
  return compareLabels(a, b);
}

/**
 * Writes the samples of `series` that fall in the day starting at `dayStartMs` as that day's
 * block under `prefix`, replacing any block already there. Series with no sample that day are
 * left out.
 */
export async function writeDayBlock(store: ObjectStore, prefix: string, dayStartMs: number, series: readonly Series[], opts: BlockWriteOptions = {}): Promise<BlockWriteResult> {
  const colMs = opts.dataColumnMs ?? DEFAULT_DATA_COLUMN_MS;
  if (!(colMs > 0) || DAY_MS % colMs !== 0) throw new Error(`dataColumnMs must divide a day, got ${colMs}`);
  const nCols = DAY_MS / colMs;
  const dayEnd = dayStartMs + DAY_MS; // exclusive

  // The part of each series inside the day, sorted as the rows will be.
  const rows: { labels: Labels; ts: Float64Array; vs: Float64Array }[] = [];
  for (const s of series) {
    const lo = lowerBound(s.timestamps, dayStartMs);
    const hi = lowerBound(s.timestamps, dayEnd, lo);
    if (hi > lo) rows.push({ labels: s.labels, ts: s.timestamps.subarray(lo, hi), vs: s.values.subarray(lo, hi) });
  }
  rows.sort((a, b) => compareByNameThenLabels(a.labels, b.labels));
  for (let i = 1; i < rows.length; i++) {
    if (compareLabels(rows[i - 1]!.labels, rows[i]!.labels) === 0) throw new Error(`duplicate series in one block: ${JSON.stringify(rows[i]!.labels)}`);
  }

  // Label columns: one per label name, in name order; s_col_indexes lists which a row has.
  const names = [...new Set(rows.flatMap((r) => r.labels.map((l) => l.name)))].sort();
  const nameIndex = new Map(names.map((n, i) => [n, i]));
  const labelData = names.map(() => new Array<string | null>(rows.length).fill(null));
  const colIndexes: Uint8Array[] = [];
  const hashes: Uint8Array[] = [];
  let minT = Infinity;
  let maxT = -Infinity;
  let samples = 0;
  rows.forEach((r, i) => {
    const idx: number[] = [];
    for (const l of r.labels) {
      const c = nameIndex.get(l.name)!;
      labelData[c]![i] = l.value;
      idx.push(c);
    }
    colIndexes.push(encodeColIndexes(idx));
    // parquet-common keeps the hash as 8 big-endian bytes.
    const h = new Uint8Array(8);
    new DataView(h.buffer).setBigUint64(0, labelsHash(r.labels));
    hashes.push(h);
    minT = Math.min(minT, r.ts[0]!);
    maxT = Math.max(maxT, r.ts[r.ts.length - 1]!);
    samples += r.ts.length;
  });

  // Chunks: each data column holds the row's samples of its time slice as XOR chunks.
  const dataCols: Uint8Array[][] = Array.from({ length: nCols }, () => []);
  for (const r of rows) {
    let lo = 0;
    for (let c = 0; c < nCols; c++) {
      const sliceEnd = dayStartMs + (c + 1) * colMs;
      const hi = lowerBound(r.ts, sliceEnd, lo);
      const chunks: CellChunk[] = [];
      for (let a = lo; a < hi; a += CHUNK_SAMPLES) {
        const b = Math.min(hi, a + CHUNK_SAMPLES);
        chunks.push({ encoding: CHUNK_ENC_XOR, minT: r.ts[a]!, maxT: r.ts[b - 1]!, data: encodeXorChunk(r.ts, r.vs, a, b) });
      }
      dataCols[c]!.push(encodeCell(chunks));
      lo = hi;
    }
  }

  const rowGroupSize = opts.rowGroupSize ?? 5000;
  const bloom = new Set(opts.bloomFilterLabels ?? [METRIC_NAME]);
  // The footer's minT/maxT are the block's bounds (parquet-common derives column slices from
  // them); the samples' own first and last times go into the marker.
  const meta = [
    { key: META_MIN_T, value: String(dayStartMs) },
    { key: META_MAX_T, value: String(dayEnd - 1) },
    { key: META_DATA_COL_DURATION, value: String(colMs) },
  ];
  const labelColumns: ColumnSource[] = names.map((n, c) => ({
    name: labelColumn(n),
    data: labelData[c]!,
    type: 'STRING',
    nullable: true,
    columnIndex: true,
    bloomFilter: bloom.has(n),
  }));
  labelColumns.push({ name: COL_INDEXES_COLUMN, data: colIndexes, type: 'BYTE_ARRAY', nullable: false, statistics: false });
  labelColumns.push({ name: SERIES_HASH_COLUMN, data: hashes, type: 'BYTE_ARRAY', nullable: false, statistics: false });
  const labelsBuf = new Uint8Array(parquetWriteBuffer({ columnData: labelColumns, rowGroupSize, kvMetadata: meta, createdBy: 'hmd' }));
  const chunkColumns: ColumnSource[] = dataCols.map((cells, c) => ({
    name: dataColumn(c),
    data: cells,
    type: 'BYTE_ARRAY',
    nullable: false,
    statistics: false,
    encoding: 'DELTA_LENGTH_BYTE_ARRAY',
  }));
  // Small data pages plus the offset index let a read of a few rows fetch a few pages, not a row group.
  const chunksBuf = new Uint8Array(parquetWriteBuffer({ columnData: chunkColumns, rowGroupSize, pageSize: DATA_PAGE_BYTES, kvMetadata: meta, createdBy: 'hmd' }));

  const now = opts.now ?? Date.now;
  if (opts.generation !== undefined && !/^g[0-9a-z]+$/.test(opts.generation)) {
    throw new Error(`generation ${JSON.stringify(opts.generation)}: must be g followed by lowercase letters and digits`);
  }
  const gen = opts.generation ?? `g${now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0')}`;
  const dir = dayDir(prefix, dayStartMs);
  // Each generation in a folder of its own, with parquet-common's file names inside.
  const labelsName = `${gen}/0.labels.parquet`;
  const chunksName = `${gen}/0.chunks.parquet`;
  const previous = await readMarker(store, dir);
  await store.put(`${dir}/${labelsName}`, labelsBuf);
  await store.put(`${dir}/${chunksName}`, chunksBuf);
  const marker: BlockMarker = {
    format: 'hmd-parquet-block',
    version: 1,
    minT: rows.length ? minT : dayStartMs,
    maxT: rows.length ? maxT : dayEnd - 1,
    dataColumnMs: colMs,
    series: rows.length,
    samples,
    files: { labels: { name: labelsName, bytes: labelsBuf.length }, chunks: { name: chunksName, bytes: chunksBuf.length } },
    createdAt: new Date(now()).toISOString(),
  };
  // The marker is the commit point: one atomic put switches readers to the new files.
  await store.put(`${dir}/${MARKER_FILE}`, new TextEncoder().encode(JSON.stringify(marker, null, 2) + '\n'));
  // Then the files no marker points at any more: the previous generation's, and those of any
  // import that crashed before its marker (they would otherwise stay forever).
  const keep = new Set([`${dir}/${MARKER_FILE}`, `${dir}/${labelsName}`, `${dir}/${chunksName}`]);
  const stale = new Set<string>();
  if (previous) for (const f of Object.values(previous.files)) stale.add(`${dir}/${f.name}`);
  for await (const o of store.list(`${dir}/`)) if (/^g[0-9a-z]+\//.test(o.key.slice(dir.length + 1))) stale.add(o.key);
  for (const k of stale) if (!keep.has(k)) await store.delete(k);
  return { dir, series: rows.length, samples, bytes: labelsBuf.length + chunksBuf.length, replaced: previous !== undefined };
}

/** Reads and checks a block's marker; undefined when the day has no (complete) block. */
export async function readMarker(store: ObjectStore, dir: string, signal?: AbortSignal): Promise<BlockMarker | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(`${dir}/${MARKER_FILE}`, undefined, signal);
  } catch (e) {
    // A missing bucket is not a missing day: say so, rather than "no block for <day>".
    if (isObjectStoreError(e, 'not_found') && e.code !== 'NoSuchBucket') return undefined;
    throw e;
  }
  let m: BlockMarker;
  try {
    m = JSON.parse(new TextDecoder().decode(bytes)) as BlockMarker;
  } catch (e) {
    throw new Error(`${store.describe(`${dir}/${MARKER_FILE}`)}: not a block marker (invalid JSON: ${(e as Error).message})`);
  }
  if (m?.format !== 'hmd-parquet-block' || m.version !== 1 || !m.files?.['labels']?.name || !m.files?.['chunks']?.name) {
    throw new Error(`${store.describe(`${dir}/${MARKER_FILE}`)}: not an hmd block marker (format ${JSON.stringify(m?.format)}, version ${JSON.stringify(m?.version)})`);
  }
  return m;
}
