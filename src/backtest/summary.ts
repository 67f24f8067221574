/**
 * What a batch says, for people and for tuning: per setting of a sweep, how fast incidents were
 * reverted (median and maximum detection time), how many were missed, and how often healthy
 * releases were reverted; and the terminal table of every run.
 */

import type { RunOutcome } from './batch.js';
import { ms } from '../util/duration.js';

/** One setting's figures over its runs. */
export interface SettingSummary {
  readonly setting: string;
  readonly runs: number;
  readonly errors: number;
  readonly incidents: number;
  /** Incidents hmd would have reverted. */
  readonly reverted: number;
  readonly missed: number;
  /** Detection times of reverted incidents, ms (undefined when none was reverted). */
  readonly medianDetectionMs?: number;
  readonly maxDetectionMs?: number;
  readonly healthy: number;
  readonly falseReverts: number;
  /** False reverts over healthy releases (undefined without healthy releases). */
  readonly falseRevertRate?: number;
  /** Runs whose every expectation held. */
  readonly expectationsMet: number;
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Figures per setting, in the order settings first appear. */
export function summarizeSettings(runs: readonly RunOutcome[]): SettingSummary[] {
  const groups = new Map<string, RunOutcome[]>();
  for (const r of runs) {
    const g = groups.get(r.setting);
    if (g) g.push(r);
    else groups.set(r.setting, [r]);
  }
  return [...groups].map(([setting, rs]) => {
    const ok = rs.filter((r) => r.result);
    const inc = ok.filter((r) => r.result!.kind === 'incident');
    const det = inc.map((r) => r.result!.detectionMs).filter((d): d is number => d !== undefined);
    const healthy = ok.filter((r) => r.result!.kind === 'healthy');
    const falseReverts = healthy.filter((r) => r.result!.falseRevert).length;
    return {
      setting,
      runs: rs.length,
      errors: rs.length - ok.length,
      incidents: inc.length,
      reverted: inc.filter((r) => r.result!.revert).length,
      missed: inc.filter((r) => r.result!.missed).length,
      ...(det.length ? { medianDetectionMs: median(det), maxDetectionMs: Math.max(...det) } : {}),
      healthy: healthy.length,
      falseReverts,
      ...(healthy.length ? { falseRevertRate: falseReverts / healthy.length } : {}),
      expectationsMet: ok.filter((r) => r.result!.ok).length,
    };
  });
}

/** A plain text table: columns padded to their widest cell. */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (c ?? '').padEnd(w[i]!)).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n') + '\n';
}

/** What one run came to, in a few words. */
export function outcomeText(r: RunOutcome): string {
  if (r.status === 'error' || !r.result) return `error: ${r.error ?? 'no result'}`;
  const x = r.result;
  if (x.revert) {
    const after = x.detectionMs !== undefined ? ` ${ms(x.detectionMs)} after impact` : '';
    return `revert at ${x.revert.stage}${after}`;
  }
  // A pause on the way (missing data, an SLO failing below the revert weight) is worth saying.
  const paused = x.firstPause ? `, paused first at ${new Date(x.firstPause.at).toISOString().slice(11, 16)} in ${x.firstPause.stage}` : '';
  const held = x.stages.find((s) => s.outcome === 'held');
  if (held) return `held at ${held.name}${paused}`;
  const last = [...x.stages].reverse().find((s) => s.outcome !== 'not-reached');
  return (last?.outcome === 'completed' ? 'completed' : `no revert (${last?.name ?? '-'} ${last?.outcome ?? ''})`.trim()) + paused;
}

/** The terminal summary: every run, then the sweep (when there is more than one setting). */
export function formatSummary(runs: readonly RunOutcome[]): string {
  const multi = new Set(runs.map((r) => r.setting)).size > 1;
  const rows = runs.map((r) => {
    const x = r.result;
    const saved = x?.incident?.savedMs;
    return [
      r.status === 'ok' ? 'ok' : r.status === 'missed' ? 'FAIL' : 'ERROR',
      r.name,
      ...(multi ? [r.setting || '(as written)'] : []),
      x ? x.kind : '-',
      outcomeText(r),
      saved !== undefined ? `${ms(saved)} before people` : x?.missed ? 'missed' : '-',
      x ? String(x.blastRadius.length) : '-',
      r.cached ? 'kept' : `${(r.durationMs / 1000).toFixed(1)}s`,
    ];
  });
  let out = textTable(['', 'backtest', ...(multi ? ['setting'] : []), 'kind', 'outcome', 'vs actual revert', 'stages reached', 'time'], rows);
  const unmet = runs.filter((r) => r.status !== 'ok');
  for (const r of unmet) {
    const why = r.result ? r.result.expectations.filter((e) => !e.ok).map((e) => e.message).join('; ') : r.error;
    out += `\n${r.status === 'error' ? 'ERROR' : 'FAIL'} ${r.name}${r.setting ? ` [${r.setting}]` : ''}: ${why}`;
  }
  if (unmet.length) out += '\n';
  if (multi) out += '\n' + formatSweep(summarizeSettings(runs));
  return out;
}

/** The sweep table: one row per setting. */
export function formatSweep(sums: readonly SettingSummary[]): string {
  const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(0)}%`);
  return textTable(
    ['setting', 'incidents reverted', 'median detection', 'max detection', 'missed', 'false reverts', 'expectations met'],
    sums.map((s) => [
      s.setting || '(as written)',
      `${s.reverted}/${s.incidents}`,
      s.medianDetectionMs !== undefined ? ms(s.medianDetectionMs) : '-',
      s.maxDetectionMs !== undefined ? ms(s.maxDetectionMs) : '-',
      String(s.missed),
      `${s.falseReverts}/${s.healthy} (${pct(s.falseRevertRate)})`,
      `${s.expectationsMet}/${s.runs}${s.errors ? `, ${s.errors} error(s)` : ''}`,
    ]),
  );
}
