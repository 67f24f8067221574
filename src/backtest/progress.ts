/**
 * Batch progress on stderr: a bar with an ETA redrawn in place on a terminal, one plain line per
 * finished backtest otherwise (CI logs, pipes), nothing when asked for quiet.
 */

import type { BatchEvent } from './batch.js';
import { ms } from '../util/duration.js';
import { outcomeText } from './summary.js';

export interface ProgressSink {
  write(s: string): void;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

/** A batch event listener drawing progress on `sink`; call `end()` once the batch is over. */
export function progressReporter(sink: ProgressSink, mode: ProgressMode = 'auto'): { onEvent: (e: BatchEvent) => void; end: () => void } {
  const m = mode === 'auto' ? (sink.isTTY ? 'bar' : 'lines') : mode;
  let drawn = false;
  const onEvent = (e: BatchEvent): void => {
    if (m === 'none') return;
    if (e.type === 'start') {
      const kept = e.cached ? `, ${e.cached} kept from an earlier run` : '';
      sink.write(`hmd backtest: ${e.total} backtest(s)${kept}\n`);
      return;
    }
    if (m === 'lines') {
      const r = e.run;
      const tag = r.status === 'ok' ? 'ok   ' : r.status === 'missed' ? 'FAIL ' : 'ERROR';
      sink.write(`[${e.done}/${e.total}] ${tag} ${r.name}${r.setting ? ` [${r.setting}]` : ''}: ${outcomeText(r)} (${(r.durationMs / 1000).toFixed(1)}s)\n`);
      return;
    }
    const width = Math.max(10, Math.min(40, (sink.columns ?? 80) - 50));
    const frac = e.total ? e.done / e.total : 1;
    const fill = Math.round(frac * width);
    const eta = e.done < e.total && e.etaMs !== undefined ? `  ETA ${ms(e.etaMs)}` : '';
    const line = `[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${e.done}/${e.total} ${(frac * 100).toFixed(0)}%${eta}  ${ms(e.elapsedMs)} elapsed`;
    sink.write(`\r\x1b[K${line}`);
    drawn = true;
  };
  return {
    onEvent,
    end: () => {
      if (drawn) sink.write('\n');
    },
  };
}
