/**
 * Helpers shared by the tests that compare a store's query results with a MemoryStore holding the
 * same series (test/storage/parquet.test.ts, test/storage/cloudflare.test.ts).
 */

import type { QueryResult } from '../../src/promql/result.js';
import { formatLabels } from '../../src/storage/labels.js';
import { MemoryStore } from '../../src/storage/memory.js';
import type { Series } from '../../src/storage/queryable.js';

/** Bit-exact float equality (NaN payloads included). */
export function sameBits(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  const x = new BigUint64Array(a.buffer, a.byteOffset, a.length);
  const y = new BigUint64Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function fmtNum(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

/** A query result as text, bit-for-bit on values (the same evaluator runs on both sides). */
export function canon(r: QueryResult): string {
  const v = r.value;
  switch (v.type) {
    case 'vector':
      return `vector\n${v.samples.map((s) => `${formatLabels(s.labels)} @${s.t} ${fmtNum(s.v)}`).join('\n')}`;
    case 'matrix':
      return `matrix\n${v.series.map((s) => `${formatLabels(s.labels)} ${Array.from(s.timestamps, (t, i) => `${t}:${fmtNum(s.values[i]!)}`).join(' ')}`).join('\n')}`;
    case 'scalar':
      return `scalar @${v.t} ${fmtNum(v.v)}`;
    case 'string':
      return `string @${v.t} ${v.v}`;
  }
}

/** A MemoryStore holding `series`. */
export function memoryOf(series: readonly Series[]): MemoryStore {
  const m = new MemoryStore();
  for (const s of series) m.appendSeries(s.labels, s.timestamps, s.values);
  return m;
}

/**
 * Irregular scrape times from t0 to t1: ~60s apart with jitter, now and then a 20-minute gap,
 * and a 2-hour hole from `gapAt` when given.
 */
export function scrapeTimes(r: () => number, t0: number, t1: number, gapAt?: number): number[] {
  const out: number[] = [];
  let t = t0 + Math.floor(r() * 60_000);
  while (t <= t1) {
    if (!(gapAt !== undefined && t >= gapAt && t < gapAt + 2 * 3_600_000)) out.push(t);
    t += 45_000 + Math.floor(r() * 30_000) + (r() < 0.002 ? 20 * 60_000 : 0);
  }
  return out;
}

/** Points of a result by series (labels as text): [t0, v0, t1, v1, ...]. */
function pointsBySeries(v: QueryResult['value']): Map<string, number[]> {
  const m = new Map<string, number[]>();
  if (v.type === 'vector') for (const s of v.samples) m.set(formatLabels(s.labels), [s.t, s.v]);
  else if (v.type === 'matrix') for (const s of v.series) m.set(formatLabels(s.labels), Array.from(s.timestamps, (t, i) => [t, s.values[i]!]).flat());
  else if (v.type === 'scalar') m.set('scalar', [v.t, v.v]);
  return m;
}

/**
 * Differences between two results compared as sets of series (order ignored), values within
 * `tol` relative (NaN equals NaN, infinities must match exactly). Empty when they agree.
 */
export function diffResults(got: QueryResult['value'], want: QueryResult['value'], tol = 1e-9): string[] {
  const out: string[] = [];
  if (got.type !== want.type) return [`type ${got.type}, want ${want.type}`];
  const g = pointsBySeries(got);
  const w = pointsBySeries(want);
  for (const k of w.keys()) if (!g.has(k)) out.push(`missing series ${k}`);
  for (const k of g.keys()) if (!w.has(k)) out.push(`extra series ${k}`);
  for (const [k, wv] of w) {
    const gv = g.get(k);
    if (!gv) continue;
    if (gv.length !== wv.length) {
      out.push(`${k}: ${gv.length / 2} points, want ${wv.length / 2}`);
      continue;
    }
    for (let i = 0; i < wv.length; i++) {
      const a = gv[i]!;
      const b = wv[i]!;
      const same = a === b || (Number.isNaN(a) && Number.isNaN(b)) || (Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b)));
      if (!same) {
        out.push(`${k}: ${i % 2 ? 'value' : 'time'} #${i >> 1} = ${a}, want ${b}`);
        break;
      }
    }
  }
  return out.slice(0, 10);
}
