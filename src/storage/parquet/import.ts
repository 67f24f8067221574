/** Writing history into daily blocks, whatever it was read from. */

import type { Series } from '../queryable.js';
import type { ObjectStore } from '../objstore/types.js';
import { dayStart, DAY_MS } from './layout.js';
import { writeDayBlock, type BlockWriteOptions, type BlockWriteResult } from './writer.js';

/** The UTC days (start ms) that hold at least one sample of `series`. */
export function daysOf(series: Iterable<Series>): number[] {
  const days = new Set<number>();
  for (const s of series) {
    const ts = s.timestamps;
    if (ts.length === 0) continue;
    for (let d = dayStart(ts[0]!); d <= ts[ts.length - 1]!; d += DAY_MS) days.add(d);
  }
  return [...days].sort((a, b) => a - b);
}

/** Writes one block per day that `series` covers, replacing those days' blocks; reports each. */
export async function writeBlocks(
  store: ObjectStore,
  prefix: string,
  series: readonly Series[],
  opts: BlockWriteOptions & { onBlock?: (r: BlockWriteResult) => void } = {},
): Promise<BlockWriteResult[]> {
  const out: BlockWriteResult[] = [];
  for (const day of daysOf(series)) {
    const r = await writeDayBlock(store, prefix, day, series, opts);
    if (r.series > 0) {
      out.push(r);
      opts.onBlock?.(r);
    }
  }
  return out;
}
