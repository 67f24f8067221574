/**
 * A batch as one self-contained HTML page: the stats, a table of every run, the sweep per setting
 * (when there is more than one), and per run its SLIs over time as inline SVG charts, with the
 * moments that matter drawn on them: stage starts, the impact, when people noticed and reverted,
 * and when hmd would have reverted. No script, font, image or request leaves the page, so it can
 * be mailed, attached to a ticket or opened from a CI artifact years later; a Content-Security-Policy
 * says so to the browser as well.
 */

import type { BatchStats, RunOutcome } from './batch.js';
import type { ReplayResult } from './replay.js';
import type { SloInfo } from '../slo/info.js';
import { ms } from '../util/duration.js';
import { CHART_CSS, renderChart, sloLevels, sloTags, type ChartMarker, type ChartPoint } from '../report/chart.js';
import { BASE_CSS, cells, esc, htmlPage, hhmmss, utc } from '../report/html.js';
import { outcomeText, summarizeSettings, type SettingSummary } from './summary.js';

export interface HtmlReportOptions {
  readonly title?: string;
  /** Shown in the header (default: now). */
  readonly generatedAt?: Date;
}

/** The batch as one self-contained HTML document. */
export function renderHtmlReport(batch: { readonly runs: readonly RunOutcome[]; readonly stats: BatchStats }, opts: HtmlReportOptions = {}): string {
  const title = opts.title ?? 'hmd backtest report';
  const multi = new Set(batch.runs.map((r) => r.setting)).size > 1;
  return htmlPage({
    title,
    css: CSS,
    body: [
      header(title, opts.generatedAt ?? new Date(), batch.stats),
      '<main>',
      summaryTable(batch.runs, multi),
      multi ? sweepTable(summarizeSettings(batch.runs)) : '',
      LEGEND,
      ...batch.runs.map((r, i) => runSection(r, i, multi)),
      '</main>',
    ],
  });
}

// ── text ─────────────────────────────────────────────────────────────────────────────────────

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

const settingText = (s: string) => s || '(as written)';

/** How much earlier than people hmd would have reverted, in words. */
function savedText(x: ReplayResult): string {
  const saved = x.incident?.savedMs;
  if (saved !== undefined) return saved >= 0 ? `${ms(saved)} earlier` : `${ms(-saved)} later`;
  return x.missed ? 'missed' : '–';
}

// ── header and tables ────────────────────────────────────────────────────────────────────────

function header(title: string, at: Date, s: BatchStats): string {
  const stats: [string, string][] = [
    ['backtests', String(s.backtests)],
    ['cached', String(s.cached)],
    ['evaluations', String(s.evaluations)],
    ['queries asked / sent', `${s.queriesAsked} / ${s.queriesSent}`],
    ['bytes read', bytes(s.bytesRead)],
    ['wall time', ms(s.wallMs)],
  ];
  return [
    '<header id="top">',
    `<h1>${esc(title)}</h1>`,
    `<p class="generated">generated <time datetime="${esc(at.toISOString())}">${esc(utc(at.getTime()))}</time></p>`,
    `<dl class="stats">${stats.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl>`,
    '</header>',
  ].join('\n');
}

function summaryTable(runs: readonly RunOutcome[], multi: boolean): string {
  const head = ['backtest', ...(multi ? ['setting'] : []), 'kind', 'outcome', 'detection', 'vs actual revert', 'blast radius', 'expectations'];
  return [
    '<section class="summary">',
    '<h2>Runs</h2>',
    '<table class="runs">',
    `<thead><tr>${cells(head, 'th')}</tr></thead>`,
    '<tbody>',
    ...runs.map((r, i) => summaryRow(r, i, multi)),
    '</tbody>',
    '</table>',
    '</section>',
  ].join('\n');
}

function summaryRow(r: RunOutcome, i: number, multi: boolean): string {
  const x = r.result;
  const exp = x?.expectations ?? [];
  const met = exp.filter((e) => e.ok).length;
  const mark = x === undefined ? '✗ error' : `${x.ok ? '✓' : '✗'} ${met}/${exp.length}`;
  const row = [
    `<a href="#run-${i}">${esc(r.name)}</a>`,
    ...(multi ? [esc(settingText(r.setting))] : []),
    esc(x?.kind ?? '–'),
    esc(outcomeText(r)),
    esc(x?.detectionMs !== undefined ? ms(x.detectionMs) : '–'),
    esc(x ? savedText(x) : '–'),
    x ? `<span title="${esc(x.blastRadius.join('\n'))}">${x.blastRadius.length}</span>` : '–',
    `<span class="${x?.ok ? 'ok' : 'not-ok'}">${esc(mark)}</span>`,
  ];
  return `<tr class="run-row status-${esc(r.status)}" data-run="${i}">${cells(row)}</tr>`;
}

function sweepTable(sums: readonly SettingSummary[]): string {
  const head = ['setting', 'incidents', 'reverted', 'median detection', 'max detection', 'missed', 'healthy', 'false reverts', 'false-revert rate'];
  const opt = (v: number | undefined) => (v === undefined ? '–' : ms(v));
  const rows = sums.map((s) => {
    const row: [string, string][] = [
      ['setting', settingText(s.setting)],
      ['incidents', String(s.incidents)],
      ['reverted', String(s.reverted)],
      ['median-detection', opt(s.medianDetectionMs)],
      ['max-detection', opt(s.maxDetectionMs)],
      ['missed', String(s.missed)],
      ['healthy', String(s.healthy)],
      ['false-reverts', String(s.falseReverts)],
      ['false-revert-rate', s.falseRevertRate === undefined ? '–' : `${(s.falseRevertRate * 100).toFixed(0)}%`],
    ];
    return `<tr data-setting="${esc(s.setting)}">${row.map(([c, v]) => `<td class="${c}">${esc(v)}</td>`).join('')}</tr>`;
  });
  return ['<section class="sweep">', '<h2>Sweep</h2>', '<table class="sweep">', `<thead><tr>${cells(head, 'th')}</tr></thead>`, '<tbody>', ...rows, '</tbody>', '</table>', '</section>'].join('\n');
}

// ── one run ──────────────────────────────────────────────────────────────────────────────────

function runSection(r: RunOutcome, i: number, multi: boolean): string {
  const x = r.result;
  const sub = [r.file, multi ? settingText(r.setting) : ''].filter(Boolean).map(esc).join(' · ');
  const body =
    r.status === 'error' || x === undefined
      ? `<p class="error">${esc(r.error ?? 'no result')}</p>`
      : [facts(x), ...x.slos.map((s, j) => chartFigure(x, s, `run-${i}-slo-${j}`)), stagesTable(x), reasonsList(x), expectationsList(x)].join('\n');
  return [
    `<section class="run status-${esc(r.status)}" id="run-${i}" data-name="${esc(r.name)}" data-setting="${esc(r.setting)}">`,
    `<h2>${esc(r.name)} <a class="top" href="#top" title="back to the table">↑</a></h2>`,
    `<p class="sub">${sub}</p>`,
    x?.description ? `<p class="description">${esc(x.description)}</p>` : '',
    body,
    '</section>',
  ].join('\n');
}

function facts(x: ReplayResult): string {
  const list: [string, string][] = [
    ['kind', `${x.kind}${x.version ? ` (${x.version})` : ''}, ${x.timeline} timeline`],
    ['outcome', x.revert ? `hmd revert at ${utc(x.revert.at)} in stage ${x.revert.stage}` : 'not reverted'],
  ];
  if (x.incident) list.push(['impact', utc(x.incident.impactStart)]);
  if (x.detectionMs !== undefined) list.push(['detection', `${ms(x.detectionMs)} after the impact`]);
  if (x.incident) list.push(['vs actual revert', savedText(x)]);
  if (x.incident?.beforeNoticedMs !== undefined) list.push(['vs people noticing', `${ms(x.incident.beforeNoticedMs)} earlier`]);
  list.push(['blast radius', x.blastRadius.join(', ') || '–']);
  list.push(['evaluations', `${x.evaluations.length}, every ${ms(x.intervalMs)}`]);
  return `<dl class="facts">${list.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl>`;
}

function stagesTable(x: ReplayResult): string {
  const head = ['stage', 'scope', 'baseline', 'start', 'decision at', 'decision', 'outcome', 'evaluations'];
  const t = (v: number | undefined) => (v === undefined ? '–' : utc(v));
  const rows = x.stages.map((s) => {
    const row = [s.name, s.scope, s.baseline ?? '–', t(s.start), t(s.decisionAt), s.decision ?? '–', s.outcome, String(s.evaluations)];
    return `<tr class="stage ${esc(s.outcome)}">${cells(row.map(esc))}</tr>`;
  });
  return ['<table class="stages">', `<thead><tr>${cells(head, 'th')}</tr></thead>`, '<tbody>', ...rows, '</tbody>', '</table>'].join('\n');
}

function reasonsList(x: ReplayResult): string {
  if (!x.revert) return '';
  return [`<h3>Why hmd would have reverted (${esc(hhmmss(x.revert.at))} UTC, ${esc(x.revert.stage)})</h3>`, '<ul class="reasons">', ...x.revert.reasons.map((s) => `<li>${esc(s)}</li>`), '</ul>'].join('\n');
}

function expectationsList(x: ReplayResult): string {
  const items = x.expectations.map((e) => `<li class="${e.ok ? 'ok' : 'not-ok'}" data-check="${esc(e.check)}">${e.ok ? '✓' : '✗'} ${esc(e.message)}</li>`);
  return ['<h3>Expectations</h3>', '<ul class="expectations">', ...items, '</ul>'].join('\n');
}

// ── charts ───────────────────────────────────────────────────────────────────────────────────

function chartFigure(x: ReplayResult, slo: SloInfo, id: string): string {
  return [`<figure class="chart-wrap" id="${esc(id)}">`, `<figcaption><strong>${esc(slo.name)}</strong> <span class="tags">${esc(sloTags(slo))}</span></figcaption>`, chartSvg(x, slo), '</figure>'].join('\n');
}

/** One SLO's release and baseline SLIs over the run, with thresholds and the run's moments. */
function chartSvg(x: ReplayResult, slo: SloInfo): string {
  return renderChart({
    slo: slo.name,
    points: seriesOf(x, slo.name),
    trace: traceOf(x, slo.name),
    levels: sloLevels(slo),
    markers: markersOf(x),
    intervalMs: x.intervalMs,
    span: [x.start, x.end],
  });
}

const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);

/** The SLO's traced values (the SLI around the replay), matched by name. */
function traceOf(x: ReplayResult, name: string): ChartPoint[] {
  return (x.trace ?? []).map((e) => {
    const s = e.slos.find((p) => p.name === name);
    return { at: e.at, status: 'missing', ...(s && finite(s.sli) ? { sli: s.sli } : {}), ...(s && finite(s.baseline) ? { baseline: s.baseline } : {}) };
  });
}

/** The SLO's value at every evaluation, matched by name (an evaluation may lack it). */
function seriesOf(x: ReplayResult, name: string): ChartPoint[] {
  return x.evaluations.map((e) => {
    const s = e.slos.find((p) => p.name === name);
    if (!s) return { at: e.at, status: 'missing' };
    return { at: e.at, status: s.status, ...(finite(s.sli) ? { sli: s.sli } : {}), ...(finite(s.baseline) ? { baseline: s.baseline } : {}) };
  });
}

/** The moments of a run, most telling first: that order decides whose label gets the top row. */
function markersOf(x: ReplayResult): ChartMarker[] {
  const out: ChartMarker[] = [];
  if (x.revert) out.push({ kind: 'revert', at: x.revert.at, label: 'hmd revert', title: `hmd would have reverted at ${utc(x.revert.at)} in stage ${x.revert.stage}` });
  const inc = x.incident;
  if (inc) out.push({ kind: 'impact', at: inc.impactStart, label: 'impact', title: `impact started ${utc(inc.impactStart)}` });
  if (inc?.reverted !== undefined) out.push({ kind: 'actual-revert', at: inc.reverted, label: 'people reverted', title: `people reverted at ${utc(inc.reverted)}` });
  if (inc?.noticed !== undefined) out.push({ kind: 'noticed', at: inc.noticed, label: 'noticed', title: `people noticed at ${utc(inc.noticed)}` });
  for (const s of x.stages) {
    if (s.start !== undefined) out.push({ kind: 'stage-start', at: s.start, label: s.name, title: `stage ${s.name} (${s.scope}) started ${utc(s.start)}` });
  }
  return out;
}

// ── style ────────────────────────────────────────────────────────────────────────────────────

const LEGEND = `<section class="legend">
<h2>Reading the charts</h2>
<ul>
<li><span class="sw sli"></span>release SLI (gaps: no value)</li>
<li><span class="sw baseline"></span>baseline SLI</li>
<li><span class="sw fail"></span>fail threshold · <span class="sw warn"></span>warn threshold · <span class="sw burn"></span>burn-rate level</li>
<li><span class="sw revert"></span>hmd revert · <span class="sw impact"></span>impact · <span class="sw people"></span>people noticed / reverted · <span class="sw stage"></span>stage start</li>
<li>points and the band under each plot: <span class="dot s-pass"></span>pass <span class="dot s-warn"></span>warn <span class="dot s-fail"></span>fail <span class="dot s-no-data"></span>no data <span class="dot s-error"></span>error</li>
</ul>
</section>`;

const CSS = `${BASE_CSS}tr.status-error td, p.error { color: var(--fail); }
span.ok, li.ok { color: var(--pass); } span.not-ok, li.not-ok { color: var(--fail); }
section.run { border-top: 2px solid var(--line); margin-top: 28px; }
section.run:target { border-top-color: var(--sli); }
a.top { font-size: 13px; text-decoration: none; }
figure { margin: 12px 0; }
figcaption { margin-bottom: 2px; }
${CHART_CSS}.legend ul { list-style: none; padding: 0; margin: 0; color: var(--muted); }
.sw { display: inline-block; width: 22px; height: 0; border-top: 2px solid; vertical-align: middle; margin: 0 4px 0 8px; }
.sw.sli { border-color: var(--sli); } .sw.baseline { border-top-style: dashed; border-color: var(--base); }
.sw.fail { border-top-style: dashed; border-color: var(--fail); } .sw.warn { border-top-style: dashed; border-color: var(--warn); }
.sw.burn { border-top-style: dotted; border-color: #b06a00; } .sw.revert { border-top-width: 3px; border-color: var(--fail); }
.sw.impact { border-color: #e08a00; } .sw.people { border-color: #6d4c9f; } .sw.stage { border-top-style: dashed; border-color: #7a8794; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin: 0 3px 0 8px; vertical-align: middle; }
ul.reasons, ul.expectations { margin: 0; padding-left: 20px; }
ul.expectations { list-style: none; padding-left: 4px; }
`;
