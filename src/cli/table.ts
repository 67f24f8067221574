/** Query results printed for people (`hmd query --output table`). */

import type { QueryStats, QueryValue } from '../promql/result.js';
import { formatLabels } from '../storage/labels.js';
import { formatSampleValue } from '../remote/json.js';
import { formatTime } from './time.js';

/**
 * A query value as text. `at` is the evaluation time of an instant query (for the footer).
 * Vectors are one row per series; matrices one block per series with a row per point;
 * scalars and strings one line.
 */
export function formatTable(value: QueryValue, at?: number): string {
  const when = at === undefined ? '' : ` at ${formatTime(at)}`;
  switch (value.type) {
    case 'scalar':
      return `scalar ${formatSampleValue(value.v)}${when || ` at ${formatTime(value.t)}`}\n`;
    case 'string':
      return `string ${JSON.stringify(value.v)}${when || ` at ${formatTime(value.t)}`}\n`;
    case 'vector': {
      const { samples } = value;
      if (samples.length === 0) return `(empty vector${when})\n`;
      const rows = samples.map((s) => [formatLabels(s.labels), formatSampleValue(s.v)]);
      return columns([['SERIES', 'VALUE'], ...rows]) + `${count(samples.length, 'series', 'series')}${when}\n`;
    }
    case 'matrix': {
      const { series } = value;
      if (series.length === 0) return '(empty matrix)\n';
      let out = '';
      for (const s of series) {
        const rows: string[][] = [];
        for (let i = 0; i < s.timestamps.length; i++) rows.push([formatTime(s.timestamps[i]!), formatSampleValue(s.values[i]!)]);
        out += `${formatLabels(s.labels)}  (${count(rows.length, 'point', 'points')})\n` + indent(columns(rows)) + '\n';
      }
      return out + `${count(series.length, 'series', 'series')}\n`;
    }
  }
}

/** Query stats as two lines (for stderr). */
export function formatStats(s: QueryStats): string {
  const { parseMs, selectMs, evalMs } = s.timings;
  const ms = (x: number) => `${x.toFixed(3)}ms`;
  return (
    `stats: series fetched ${s.seriesFetched}, samples fetched ${s.samplesFetched}, bytes read ${s.bytesRead}, ` +
    `peak samples ${s.peakSamples}, total samples ${s.totalSamples}\n` +
    `timings: parse ${ms(parseMs)}, select ${ms(selectMs)}, eval ${ms(evalMs)}, total ${ms(parseMs + selectMs + evalMs)}\n`
  );
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function indent(s: string): string {
  return s.replace(/^(?=.)/gm, '  ');
}
