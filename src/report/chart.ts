/**
 * One SLO over time as an inline SVG: the release SLI and its baseline, the levels they are
 * judged against, a band of statuses under the plot, and vertical markers at the moments that
 * matter. It takes plain data so that the backtest report and the daemon's status page draw the
 * same chart, and a reader who knows one knows the other.
 *
 * The geometry is in viewBox units and coordinates are rounded to 0.1, so the same data always
 * gives the same bytes (reports are diffed and cached).
 */

import type { SloInfo } from '../slo/info.js';
import type { Status } from '../slo/judge.js';
import { esc, hhmm, hhmmss, iso, num, utc } from './html.js';

/** An evaluation's status; `missing` when the evaluation did not include the SLO at all. */
export type PointStatus = Status | 'missing';

/** One time of the series: values left out (or not finite) are gaps. */
export interface ChartPoint {
  readonly at: number;
  readonly sli?: number;
  readonly baseline?: number;
  /** Colours the dot and the status band; `missing` when left out. */
  readonly status?: PointStatus;
}

/** A horizontal level the SLI is judged against. */
export interface ChartLevel {
  /** Thresholds are always drawn; burn-rate levels only when near the data. */
  readonly kind: 'threshold' | 'burn-rate';
  readonly severity: 'warn' | 'fail';
  readonly value: number;
  readonly label: string;
}

/** A moment drawn as a vertical line, e.g. a stage start or a revert. */
export interface ChartMarker {
  readonly at: number;
  /** Its class and `data-kind`, which the page's CSS colours (e.g. `revert`, `stage-start`). */
  readonly kind: string;
  readonly label: string;
  /** The tooltip (default: the label and the time). */
  readonly title?: string;
}

/** Everything one chart draws. */
export interface ChartData {
  /** The SLO's name: the svg's `data-slo` and its accessible label. */
  readonly slo: string;
  /** The evaluations: a line, a dot per value and a status cell each. */
  readonly points: readonly ChartPoint[];
  /** Context around the evaluations (before a release, after a revert): a faint line only. */
  readonly trace?: readonly ChartPoint[];
  readonly levels?: readonly ChartLevel[];
  /** Most telling first: earlier markers get the top row for their labels. */
  readonly markers?: readonly ChartMarker[];
  /** The evaluation interval: the width of a status cell. */
  readonly intervalMs: number;
  /** Times the x axis must span besides the points and markers (e.g. a run's start and end). */
  readonly span?: readonly number[];
}

/** Chart geometry in viewBox units; the plot is [left, right] × [top, bottom], labels of levels to its right. */
const G = { width: 760, height: 280, left: 64, right: 640, top: 12, bottom: 232, strip: 237, stripH: 6, axis: 258 } as const;
const CHAR_W = 6; // of the 10px labels, to keep marker labels from overlapping
const MINUTE = 60_000;

interface Frame {
  readonly t0: number;
  readonly t1: number;
  readonly v0: number;
  readonly v1: number;
}

const r1 = (n: number) => Math.round(n * 10) / 10;
const px = (f: Frame, t: number) => r1(G.left + ((t - f.t0) / (f.t1 - f.t0)) * (G.right - G.left));
const py = (f: Frame, v: number) => r1(G.bottom - ((v - f.v0) / (f.v1 - f.v0)) * (G.bottom - G.top));
const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);

/** The SLO's thresholds and burn-rate levels, as the chart draws them. */
export function sloLevels(slo: SloInfo): ChartLevel[] {
  const out: ChartLevel[] = [];
  const t = slo.thresholds;
  if (finite(t?.warn)) out.push({ kind: 'threshold', severity: 'warn', value: t.warn, label: `warn ${num(t.warn)}` });
  if (finite(t?.fail)) out.push({ kind: 'threshold', severity: 'fail', value: t.fail, label: `fail ${num(t.fail)}` });
  for (const b of slo.burnRates ?? []) {
    if (finite(b.level)) out.push({ kind: 'burn-rate', severity: b.severity, value: b.level, label: `burn ${num(b.factor)}× ${b.window}` });
  }
  return out;
}

/** How the SLO counts, in a few words for a caption: critical, dry run, which way is worse. */
export function sloTags(slo: SloInfo): string {
  return [slo.critical ? 'critical' : '', slo.dryRun ? 'dry run' : '', `worse when ${slo.worse}`].filter(Boolean).join(', ');
}

/** One SLO's release and baseline SLIs over time, with its levels, statuses and markers, as an `<svg class="chart">`. */
export function renderChart(d: ChartData): string {
  const points = d.points;
  const trace = d.trace ?? [];
  const markers = d.markers ?? [];
  const values = [...points, ...trace].flatMap((p) => [p.sli, p.baseline]).filter(finite);
  const { shown, hidden } = placeLevels(d.levels ?? [], values);
  const yt = niceTicks(...valueRange([...values, ...shown.map((l) => l.value)]));
  const f: Frame = { ...timeRange(d, [...points, ...trace], markers), v0: yt.lo, v1: yt.hi };
  const label = `${d.slo}: release SLI${values.length ? '' : ' (no data)'} from ${hhmm(f.t0)} to ${hhmm(f.t1)} UTC`;
  return [
    `<svg class="chart" data-slo="${esc(d.slo)}" viewBox="0 0 ${G.width} ${G.height}" role="img" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg">`,
    `<title>${esc(label)}</title>`,
    axes(f, yt),
    levelLines(f, shown),
    statusStrip(f, points, d.intervalMs),
    // The trace is context, not evidence: drawn faint, under the evaluations.
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

/**
 * Thresholds are always drawn: they are what the line is judged against. Burn-rate levels only
 * when within 3x of the rest, lest a fast-burn level far above the data flatten the line; those
 * left off are named under the plot instead.
 */
function placeLevels(levels: readonly ChartLevel[], values: readonly number[]): { shown: ChartLevel[]; hidden: ChartLevel[] } {
  const usable = levels.filter((l) => finite(l.value));
  const top = Math.max(...values, ...usable.filter((l) => l.kind === 'threshold').map((l) => l.value));
  const fits = (l: ChartLevel) => l.kind === 'threshold' || !Number.isFinite(top) || top <= 0 || l.value <= 3 * top;
  return { shown: usable.filter(fits), hidden: usable.filter((l) => !fits(l)) };
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

function timeRange(d: ChartData, points: readonly ChartPoint[], markers: readonly ChartMarker[]): { t0: number; t1: number } {
  const ts = [...(d.span ?? []), ...points.map((p) => p.at), ...markers.map((m) => m.at)].filter(Number.isFinite);
  const pad = d.intervalMs || MINUTE;
  // Nothing at all to place (a rollout not yet evaluated, say): any honest width will do.
  if (ts.length === 0) return { t0: 0, t1: pad };
  const t0 = Math.min(...ts);
  const t1 = Math.max(...ts);
  // A single moment still needs a width to draw in.
  return t1 > t0 ? { t0, t1 } : { t0: t0 - pad, t1: t1 + pad };
}

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
function levelLines(f: Frame, levels: readonly ChartLevel[]): string {
  const placed = levels.map((l) => ({ l, cls: `${l.kind} ${l.severity}`, y: py(f, l.value) })).sort((a, b) => b.y - a.y);
  let prev = Infinity;
  const out: string[] = [];
  for (const { l, cls, y } of placed) {
    const ly = Math.min(y + 3, prev - 11);
    prev = ly;
    out.push(`<line class="${esc(cls)}" x1="${G.left}" x2="${G.right}" y1="${y}" y2="${y}"><title>${esc(`${l.label}: ${num(l.value)}`)}</title></line>`);
    out.push(`<text class="level-label ${esc(cls)}" x="${G.right + 4}" y="${r1(ly)}">${esc(l.label)}</text>`);
  }
  return `<g class="levels">${out.join('')}</g>`;
}

/** Polylines of one series, broken where a value is missing (a gap is not a straight line). */
function polylines(f: Frame, points: readonly ChartPoint[], cls: string, value: (p: ChartPoint) => number | undefined): string {
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

function dots(f: Frame, points: readonly ChartPoint[]): string {
  const out = points.flatMap((p) => {
    if (!finite(p.sli)) return [];
    const status = p.status ?? 'missing';
    const title = `${hhmmss(p.at)} UTC · ${status} · SLI ${num(p.sli)}${finite(p.baseline) ? ` · baseline ${num(p.baseline)}` : ''}`;
    return [`<circle class="point s-${esc(status)}" cx="${px(f, p.at)}" cy="${py(f, p.sli)}" r="2.5"><title>${esc(title)}</title></circle>`];
  });
  return `<g class="points">${out.join('')}</g>`;
}

/** A band under the plot, one cell per evaluation: statuses without a value (no data, error) show here too. */
function statusStrip(f: Frame, points: readonly ChartPoint[], intervalMs: number): string {
  const w = Math.max(1, r1(((intervalMs || MINUTE) / (f.t1 - f.t0)) * (G.right - G.left)));
  const out = points.map((p) => {
    const status = p.status ?? 'missing';
    return `<rect class="status s-${esc(status)}" x="${r1(px(f, p.at) - w / 2)}" y="${G.strip}" width="${w}" height="${G.stripH}"><title>${esc(`${hhmmss(p.at)} UTC: ${status}`)}</title></rect>`;
  });
  return `<g class="status-strip">${out.join('')}</g>`;
}

/** Vertical lines with labels stacked in rows so that close moments stay readable. */
function markerLines(f: Frame, markers: readonly ChartMarker[]): string {
  const rows: [number, number][][] = [];
  const out: string[] = [];
  for (const m of markers) {
    if (!Number.isFinite(m.at)) continue;
    const x = px(f, m.at);
    const w = m.label.length * CHAR_W;
    const end = x + 3 + w > G.right;
    const span: [number, number] = end ? [x - 3 - w, x] : [x, x + 3 + w];
    let row = rows.findIndex((r) => r.every(([a, b]) => span[1] < a || span[0] > b));
    if (row < 0) row = rows.push([]) - 1;
    rows[row]!.push(span);
    const y = G.top + 10 + row * 12;
    const kind = esc(m.kind);
    out.push(`<line class="marker ${kind}" data-kind="${kind}" data-at="${iso(m.at)}" x1="${x}" x2="${x}" y1="${G.top}" y2="${G.bottom}"><title>${esc(m.title ?? `${m.label} at ${utc(m.at)}`)}</title></line>`);
    out.push(`<text class="marker-label ${kind}" x="${end ? x - 3 : x + 3}" y="${y}"${end ? ' text-anchor="end"' : ''}>${esc(m.label)}</text>`);
  }
  return `<g class="markers">${out.join('')}</g>`;
}

/**
 * The chart's style: lines, levels, the status colours (on dots, band cells and any `.s-<status>`
 * element of the page, such as a legend) and the usual marker kinds; a page styles the kinds only
 * it places. It reads the palette that BASE_CSS (src/report/html.ts) defines, so it goes after it.
 */
export const CHART_CSS = `svg.chart { width: 100%; height: auto; max-width: 900px; display: block; font-size: 10px; }
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
`;
