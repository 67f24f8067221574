/**
 * Where blocks live and what their files are called. One block per UTC day under a prefix
 * (`<prefix>/2025/06/12/`), so a time range maps to object keys without listing the bucket.
 * The exact schema is in docs/parquet-format.md.
 */

export const DAY_MS = 86_400_000;

/** Default time slice of one data column (`s_data_<i>`), as parquet-common uses. */
export const DEFAULT_DATA_COLUMN_MS = 8 * 3_600_000;

/** Written last: a block without it is incomplete (still being written, or a failed import). */
export const MARKER_FILE = 'block.json';

export const LABEL_COLUMN_PREFIX = 'l_';
export const DATA_COLUMN_PREFIX = 's_data_';
export const COL_INDEXES_COLUMN = 's_col_indexes';
export const SERIES_HASH_COLUMN = 's_series_hash';

/** Footer key-value metadata keys. */
export const META_MIN_T = 'minT';
export const META_MAX_T = 'maxT';
/** parquet-common's key; its readers derive each data column's time slice from minT and this. */
export const META_DATA_COL_DURATION = 'data_col_duration_ms';

/** Samples per XOR chunk inside a cell, as Prometheus and parquet-common cut them, so reads can skip whole chunks. */
export const CHUNK_SAMPLES = 120;

/** The start (UTC midnight, ms) of the day holding `t`. */
export function dayStart(t: number): number {
  return Math.floor(t / DAY_MS) * DAY_MS;
}

/** The key prefix of a day's block: `<prefix>/YYYY/MM/DD`. */
export function dayDir(prefix: string, dayStartMs: number): string {
  const d = new Date(dayStartMs);
  const y = String(d.getUTCFullYear()).padStart(4, '0');
  const m = String(d.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(d.getUTCDate()).padStart(2, '0');
  const p = prefix.replace(/\/+$/, '');
  return p === '' ? `${y}/${m}/${dd}` : `${p}/${y}/${m}/${dd}`;
}

/** Every day start overlapping [mint, maxt] (inclusive), in order. */
export function daysBetween(mint: number, maxt: number): number[] {
  const out: number[] = [];
  for (let d = dayStart(mint); d <= maxt; d += DAY_MS) out.push(d);
  return out;
}

/** The label column name for a label. */
export function labelColumn(name: string): string {
  return LABEL_COLUMN_PREFIX + name;
}

/** The data column name for slice i. */
export function dataColumn(i: number): string {
  return DATA_COLUMN_PREFIX + i;
}

/** Which data column of a block starting at `blockStart` holds time t. */
export function dataColumnIndex(t: number, blockStart: number, columnMs: number): number {
  return Math.floor((t - blockStart) / columnMs);
}

/** What the marker object holds: enough to check the two files belong together. */
export interface BlockMarker {
  readonly format: 'hmd-parquet-block';
  readonly version: 1;
  readonly minT: number;
  readonly maxT: number;
  readonly dataColumnMs: number;
  readonly series: number;
  readonly samples: number;
  /** The block's files (named by the generation that wrote them), by role: `labels`, `chunks`. */
  readonly files: { readonly [role: string]: { readonly name: string; readonly bytes: number } };
  readonly createdAt: string;
}
