/**
 * A batch as one self-contained HTML page: the stats, a table of every run, the sweep per setting
 * (when there is more than one), and per run its SLIs over time as inline SVG charts, with the
 * moments that matter drawn on them: stage starts, the impact, when people noticed and reverted,
 * and when hmd would have reverted. No script, font, image or request leaves the page, so it can
 * be mailed, attached to a ticket or opened from a CI artifact years later; a Content-Security-Policy
 * says so to the browser as well.
 */

import type { Status } from '../slo/judge.js';
import type { BatchStats, RunOutcome } from './batch.js';
import type { ReplayResult } from './replay.js';
import type { SloInfo } from '../slo/info.js';
import { ms } from '../util/duration.js';
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
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // The page must stay complete offline: the browser refuses anything but its own inline CSS.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    header(title, opts.generatedAt ?? new Date(), batch.stats),
    '<main>',
    summaryTable(batch.runs, multi),
    multi ? sweepTable(summarizeSettings(batch.runs)) : '',
    LEGEND,
    ...batch.runs.map((r, i) => runSection(r, i, multi)),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

// ── text ─────────────────────────────────────────────────────────────────────────────────────

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text and attribute values alike: every string from a spec or a result passes here. */
function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]!);
}

const iso = (t: number) => new Date(t).toISOString();
const utc = (t: number) => `${iso(t).slice(0, 10)} ${iso(t).slice(11, 19)} UTC`;
const hhmm = (t: number) => iso(t).slice(11, 16);
const hhmmss = (t: number) => iso(t).slice(11, 19);

/** A measured value in a few significant digits: SLIs span ratios of 1e-5 to latencies of seconds. */
function num(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

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

function cells(values: readonly string[], tag = 'td'): string {
  return values.map((v) => `<${tag}>${v}</${tag}>`).join('');
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

/** Chart geometry in viewBox units; the plot is [LEFT, RIGHT] × [TOP, BOTTOM], labels of levels to its right. */
const G = { width: 760, height: 280, left: 64, right: 640, top: 12, bottom: 232, strip: 237, stripH: 6, axis: 258 } as const;
const CHAR_W = 6; // of the 10px labels, to keep marker labels from overlapping

interface Frame {
  readonly t0: number;
  readonly t1: number;
  readonly v0: number;
  readonly v1: number;
}

interface Level {
  readonly cls: string;
  readonly value: number;
  readonly label: string;
}

interface Marker {
  readonly cls: string;
  readonly at: number;
  readonly label: string;
  readonly title: string;
}

interface Point {
  readonly at: number;
  readonly status: Status | 'missing';
  readonly sli?: number;
  readonly baseline?: number;
}

const r1 = (n: number) => Math.round(n * 10) / 10;
const px = (f: Frame, t: number) => r1(G.left + ((t - f.t0) / (f.t1 - f.t0)) * (G.right - G.left));
const py = (f: Frame, v: number) => r1(G.bottom - ((v - f.v0) / (f.v1 - f.v0)) * (G.bottom - G.top));
const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);

function chartFigure(x: ReplayResult, slo: SloInfo, id: string): string {
  const tags = [slo.critical ? 'critical' : '', slo.dryRun ? 'dry run' : '', `worse when ${slo.worse}`].filter(Boolean).join(', ');
  return [`<figure class="chart-wrap" id="${esc(id)}">`, `<figcaption><strong>${esc(slo.name)}</strong> <span class="tags">${esc(tags)}</span></figcaption>`, chartSvg(x, slo), '</figure>'].join('\n');
}

/** One SLO's release and baseline SLIs over the run, with thresholds and the run's moments. */
function chartSvg(x: ReplayResult, slo: SloInfo): string {
  const points = seriesOf(x, slo.name);
  const trace = traceOf(x, slo.name);
  const markers = markersOf(x);
  const values = [...points, ...trace].flatMap((p) => [p.sli, p.baseline]).filter(finite);
  const { shown, hidden } = levelsOf(slo, values);
  const yt = niceTicks(...valueRange([...values, ...shown.map((l) => l.value)]));
  const f: Frame = { ...timeRange(x, [...points, ...trace], markers), v0: yt.lo, v1: yt.hi };
  const label = `${slo.name}: release SLI${values.length ? '' : ' (no data)'} from ${hhmm(f.t0)} to ${hhmm(f.t1)} UTC`;
  return [
    `<svg class="chart" data-slo="${esc(slo.name)}" viewBox="0 0 ${G.width} ${G.height}" role="img" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg">`,
    `<title>${esc(label)}</title>`,
    axes(f, yt),
    levelLines(f, shown),
    statusStrip(f, points, x.intervalMs),
    // The trace is context (before the release, after hmd's revert): drawn faint, under the evaluations.
    polylines(f, trace, 'trace-baseline', (p) => p.baseline),
    polylines(f, trace, 'trace', (p) => p.sli),
    polylines(f, points, 'baseline', (p) => p.baseline),
    polylines(f, points, 'sli', (p) => p.sli),
    dots(f, points),
    values.length ? '' : `<text class="no-data" x="${(G.left + G.right) / 2}" y="${(G.top + G.bottom) / 2}" text-anchor="middle">no data for this SLO</text>`,
    markerLines(f, markers),
    hidden.length ? `<text class="off-chart" x="${G.left}" y="${G.height - 4}">off the chart: ${esc(hidden.map((l) => `${l.label} (${num(l.value)})`).join('; '))}</text>` : '',
    '</svg>',
  ].join('\n');
}

/** The SLO's traced values (the SLI around the replay), matched by name. */
function traceOf(x: ReplayResult, name: string): Point[] {
  return (x.trace ?? []).map((e) => {
    const s = e.slos.find((p) => p.name === name);
    return { at: e.at, status: 'missing', ...(s && finite(s.sli) ? { sli: s.sli } : {}), ...(s && finite(s.baseline) ? { baseline: s.baseline } : {}) };
  });
}

/** The SLO's value at every evaluation, matched by name (an evaluation may lack it). */
function seriesOf(x: ReplayResult, name: string): Point[] {
  return x.evaluations.map((e) => {
    const s = e.slos.find((p) => p.name === name);
    if (!s) return { at: e.at, status: 'missing' };
    return { at: e.at, status: s.status, ...(finite(s.sli) ? { sli: s.sli } : {}), ...(finite(s.baseline) ? { baseline: s.baseline } : {}) };
  });
}

/**
 * Thresholds are always drawn: they are what the line is judged against. Burn-rate levels only
 * when within 3x of the rest, lest a fast-burn level far above the data flatten the line.
 */
function levelsOf(slo: SloInfo, values: readonly number[]): { shown: Level[]; hidden: Level[] } {
  const th: Level[] = [];
  const t = slo.thresholds;
  if (finite(t?.warn)) th.push({ cls: 'threshold warn', value: t.warn, label: `warn ${num(t.warn)}` });
  if (finite(t?.fail)) th.push({ cls: 'threshold fail', value: t.fail, label: `fail ${num(t.fail)}` });
  const burns: Level[] = (slo.burnRates ?? []).filter((b) => finite(b.level)).map((b) => ({ cls: `burn-rate ${b.severity}`, value: b.level, label: `burn ${num(b.factor)}× ${b.window}` }));
  const top = Math.max(...values, ...th.map((l) => l.value));
  const fits = (l: Level) => !Number.isFinite(top) || top <= 0 || l.value <= 3 * top;
  return { shown: [...th, ...burns.filter(fits)], hidden: burns.filter((l) => !fits(l)) };
}

/** Values to fit: anchored at zero unless that would flatten the line; a constant gets some room. */
function valueRange(vals: readonly number[]): [number, number] {
  if (vals.length === 0) return [0, 1];
  let lo = Math.min(...vals);
  let hi = Math.max(...vals);
  const positive = lo >= 0;
  if (positive && lo <= hi - lo) lo = 0;
  if (hi === lo) {
    const pad = Math.abs(hi) * 0.1 || 1;
    lo = positive ? Math.max(0, lo - pad) : lo - pad;
    hi += pad;
  }
  return [lo, hi];
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Round bounds and ticks (1, 2 or 5 times a power of ten) around [lo, hi]. */
function niceTicks(lo: number, hi: number, count = 5): { lo: number; hi: number; ticks: number[]; decimals: number } {
  const step = niceStep((hi - lo) / count);
  const a = Math.floor(lo / step);
  const b = Math.ceil(hi / step);
  const ticks = Array.from({ length: b - a + 1 }, (_, i) => (a + i) * step);
  return { lo: a * step, hi: b * step, ticks, decimals: Math.max(0, -Math.floor(Math.log10(step))) };
}

function timeRange(x: ReplayResult, points: readonly Point[], markers: readonly Marker[]): { t0: number; t1: number } {
  const ts = [x.start, x.end, ...points.map((p) => p.at), ...markers.map((m) => m.at)].filter(Number.isFinite);
  const t0 = Math.min(...ts);
  const t1 = Math.max(...ts);
  // A run of one evaluation still needs a width to draw in.
  return t1 > t0 ? { t0, t1 } : { t0: t0 - (x.intervalMs || 60_000), t1: t1 + (x.intervalMs || 60_000) };
}

const MINUTE = 60_000;
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].map((m) => m * MINUTE);

/** Tick times at round UTC minutes, at most about eight of them. */
function timeTicks(t0: number, t1: number): { ticks: number[]; label: (t: number) => string } {
  const step = TIME_STEPS.find((s) => (t1 - t0) / s <= 8) ?? Math.ceil((t1 - t0) / 8 / TIME_STEPS.at(-1)!) * TIME_STEPS.at(-1)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t);
  // Whole days all read 00:00: they are told apart by their date.
  return { ticks, label: step >= 1440 * MINUTE ? (t) => iso(t).slice(5, 10) : hhmm };
}

function axes(f: Frame, yt: { ticks: number[]; decimals: number }): string {
  const out = [`<rect class="plot" x="${G.left}" y="${G.top}" width="${G.right - G.left}" height="${G.bottom - G.top}"/>`];
  for (const v of yt.ticks) {
    const y = py(f, v);
    out.push(`<line class="grid y" x1="${G.left}" x2="${G.right}" y1="${y}" y2="${y}"/>`);
    out.push(`<text class="tick y" x="${G.left - 4}" y="${y + 3}" text-anchor="end">${esc(v.toFixed(Math.min(yt.decimals, 12)))}</text>`);
  }
  const xt = timeTicks(f.t0, f.t1);
  for (const t of xt.ticks) {
    const x = px(f, t);
    out.push(`<line class="grid x" x1="${x}" x2="${x}" y1="${G.top}" y2="${G.bottom}"/>`);
    out.push(`<text class="tick x" x="${x}" y="${G.axis}" text-anchor="middle">${esc(xt.label(t))}</text>`);
  }
  out.push(`<text class="axis-label" x="${G.right}" y="${G.height - 4}" text-anchor="end">UTC</text>`);
  return `<g class="axes">${out.join('')}</g>`;
}

/** Horizontal levels, labelled in the right margin, nudged apart where they lie close. */
function levelLines(f: Frame, levels: readonly Level[]): string {
  const placed = levels.map((l) => ({ l, y: py(f, l.value) })).sort((a, b) => b.y - a.y);
  let prev = Infinity;
  const out: string[] = [];
  for (const { l, y } of placed) {
    const ly = Math.min(y + 3, prev - 11);
    prev = ly;
    out.push(`<line class="${esc(l.cls)}" x1="${G.left}" x2="${G.right}" y1="${y}" y2="${y}"><title>${esc(`${l.label}: ${num(l.value)}`)}</title></line>`);
    out.push(`<text class="level-label ${esc(l.cls)}" x="${G.right + 4}" y="${r1(ly)}">${esc(l.label)}</text>`);
  }
  return `<g class="levels">${out.join('')}</g>`;
}

/** Polylines of one series, broken where a value is missing (a gap is not a straight line). */
function polylines(f: Frame, points: readonly Point[], cls: string, value: (p: Point) => number | undefined): string {
  const runs: string[][] = [];
  let cur: string[] | undefined;
  for (const p of points) {
    const v = value(p);
    if (!finite(v)) {
      cur = undefined;
      continue;
    }
    if (!cur) runs.push((cur = []));
    cur.push(`${px(f, p.at)},${py(f, v)}`);
  }
  return runs.map((r) => `<polyline class="${cls}" points="${r.join(' ')}"/>`).join('\n');
}

function dots(f: Frame, points: readonly Point[]): string {
  const out = points.flatMap((p) => {
    if (!finite(p.sli)) return [];
    const title = `${hhmmss(p.at)} UTC · ${p.status} · SLI ${num(p.sli)}${finite(p.baseline) ? ` · baseline ${num(p.baseline)}` : ''}`;
    return [`<circle class="point s-${p.status}" cx="${px(f, p.at)}" cy="${py(f, p.sli)}" r="2.5"><title>${esc(title)}</title></circle>`];
  });
  return `<g class="points">${out.join('')}</g>`;
}

/** A band under the plot, one cell per evaluation: statuses without a value (no data, error) show here too. */
function statusStrip(f: Frame, points: readonly Point[], intervalMs: number): string {
  const w = Math.max(1, r1(((intervalMs || MINUTE) / (f.t1 - f.t0)) * (G.right - G.left)));
  const out = points.map((p) => `<rect class="status s-${p.status}" x="${r1(px(f, p.at) - w / 2)}" y="${G.strip}" width="${w}" height="${G.stripH}"><title>${esc(`${hhmmss(p.at)} UTC: ${p.status}`)}</title></rect>`);
  return `<g class="status-strip">${out.join('')}</g>`;
}

/** The moments of a run, most telling first: that order decides whose label gets the top row. */
function markersOf(x: ReplayResult): Marker[] {
  const out: Marker[] = [];
  if (x.revert) out.push({ cls: 'revert', at: x.revert.at, label: 'hmd revert', title: `hmd would have reverted at ${utc(x.revert.at)} in stage ${x.revert.stage}` });
  const inc = x.incident;
  if (inc) out.push({ cls: 'impact', at: inc.impactStart, label: 'impact', title: `impact started ${utc(inc.impactStart)}` });
  if (inc?.reverted !== undefined) out.push({ cls: 'actual-revert', at: inc.reverted, label: 'people reverted', title: `people reverted at ${utc(inc.reverted)}` });
  if (inc?.noticed !== undefined) out.push({ cls: 'noticed', at: inc.noticed, label: 'noticed', title: `people noticed at ${utc(inc.noticed)}` });
  for (const s of x.stages) {
    if (s.start !== undefined) out.push({ cls: 'stage-start', at: s.start, label: s.name, title: `stage ${s.name} (${s.scope}) started ${utc(s.start)}` });
  }
  return out;
}

/** Vertical lines with labels stacked in rows so that close moments stay readable. */
function markerLines(f: Frame, markers: readonly Marker[]): string {
  const rows: [number, number][][] = [];
  const out: string[] = [];
  for (const m of markers) {
    const x = px(f, m.at);
    const w = m.label.length * CHAR_W;
    const end = x + 3 + w > G.right;
    const span: [number, number] = end ? [x - 3 - w, x] : [x, x + 3 + w];
    let row = rows.findIndex((r) => r.every(([a, b]) => span[1] < a || span[0] > b));
    if (row < 0) row = rows.push([]) - 1;
    rows[row]!.push(span);
    const y = G.top + 10 + row * 12;
    out.push(`<line class="marker ${m.cls}" x1="${x}" x2="${x}" y1="${G.top}" y2="${G.bottom}"><title>${esc(m.title)}</title></line>`);
    out.push(`<text class="marker-label ${m.cls}" x="${end ? x - 3 : x + 3}" y="${y}"${end ? ' text-anchor="end"' : ''}>${esc(m.label)}</text>`);
  }
  return `<g class="markers">${out.join('')}</g>`;
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

const CSS = `
:root { --fg: #1d232a; --muted: #5d6b79; --line: #d8dee4; --bg: #fff; --pass: #2e9e4f; --warn: #e08a00; --fail: #d22f27; --nodata: #9aa4ae; --error: #8a3ffc; --sli: #1f5fbf; --base: #6b7785; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 16px; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.generated, .sub, .tags { color: var(--muted); }
dl.stats, dl.facts { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 8px 0 14px; }
dl div { display: flex; flex-direction: column; }
dt { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
dd { margin: 0; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; background: #f5f7f9; }
td { font-variant-numeric: tabular-nums; }
tr.status-error td, p.error { color: var(--fail); }
span.ok, li.ok { color: var(--pass); } span.not-ok, li.not-ok { color: var(--fail); }
section.run { border-top: 2px solid var(--line); margin-top: 28px; }
section.run:target { border-top-color: var(--sli); }
a.top { font-size: 13px; text-decoration: none; }
figure { margin: 12px 0; }
figcaption { margin-bottom: 2px; }
svg.chart { width: 100%; height: auto; max-width: 900px; display: block; font-size: 10px; }
svg .plot { fill: #fbfcfd; stroke: var(--line); }
svg .grid { stroke: #eef1f4; }
svg .tick, svg .axis-label, svg .off-chart { fill: var(--muted); }
svg .sli { fill: none; stroke: var(--sli); stroke-width: 1.6; stroke-linejoin: round; }
svg .baseline { fill: none; stroke: var(--base); stroke-width: 1.2; stroke-dasharray: 5 3; }
svg .trace { fill: none; stroke: var(--sli); stroke-opacity: 0.3; stroke-width: 1.2; }
svg .trace-baseline { fill: none; stroke: var(--base); stroke-opacity: 0.35; stroke-width: 1; stroke-dasharray: 5 3; }
svg .threshold, svg .burn-rate { stroke-width: 1; }
svg line.threshold.fail { stroke: var(--fail); stroke-dasharray: 6 3; }
svg line.threshold.warn { stroke: var(--warn); stroke-dasharray: 6 3; }
svg line.burn-rate { stroke: #b06a00; stroke-dasharray: 2 3; }
svg text.level-label.fail { fill: var(--fail); } svg text.level-label.warn, svg text.level-label.burn-rate { fill: #9a5b00; }
svg line.marker { stroke-width: 1; }
svg line.marker.stage-start { stroke: #7a8794; stroke-dasharray: 3 3; }
svg line.marker.impact { stroke: #e08a00; stroke-width: 1.5; }
svg line.marker.noticed, svg line.marker.actual-revert { stroke: #6d4c9f; stroke-width: 1.5; }
svg line.marker.actual-revert { stroke-dasharray: 6 2; }
svg line.marker.revert { stroke: var(--fail); stroke-width: 3; }
svg text.marker-label { fill: var(--muted); paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg text.marker-label.revert { fill: var(--fail); font-weight: 700; font-size: 11px; }
svg text.no-data { fill: var(--muted); font-size: 13px; }
.s-pass { fill: var(--pass); background: var(--pass); } .s-warn { fill: var(--warn); background: var(--warn); }
.s-fail { fill: var(--fail); background: var(--fail); } .s-no-data, .s-missing { fill: var(--nodata); background: var(--nodata); }
.s-error { fill: var(--error); background: var(--error); }
.legend ul { list-style: none; padding: 0; margin: 0; color: var(--muted); }
.sw { display: inline-block; width: 22px; height: 0; border-top: 2px solid; vertical-align: middle; margin: 0 4px 0 8px; }
.sw.sli { border-color: var(--sli); } .sw.baseline { border-top-style: dashed; border-color: var(--base); }
.sw.fail { border-top-style: dashed; border-color: var(--fail); } .sw.warn { border-top-style: dashed; border-color: var(--warn); }
.sw.burn { border-top-style: dotted; border-color: #b06a00; } .sw.revert { border-top-width: 3px; border-color: var(--fail); }
.sw.impact { border-color: #e08a00; } .sw.people { border-color: #6d4c9f; } .sw.stage { border-top-style: dashed; border-color: #7a8794; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin: 0 3px 0 8px; vertical-align: middle; }
ul.reasons, ul.expectations { margin: 0; padding-left: 20px; }
ul.expectations { list-style: none; padding-left: 4px; }
`;
