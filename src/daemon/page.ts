/**
 * The daemon's status pages: the list of rollouts, and one rollout with its stages, its SLIs over
 * time against their thresholds, where hmd decided (promote, revert), its actions and its audit
 * trail. They are plain HTML documents with the same inline SVG charts as the backtest report, so
 * a reader who has seen a backtest reads a live rollout the same way. No script: a refresh meta
 * keeps them live, and a Content-Security-Policy refuses anything that is not the page itself,
 * so a name or message that slipped past escaping still could not run or fetch anything.
 *
 * Pure functions of the data and `now`: the daemon serves them, tests open them in a browser.
 */

import { ms } from '../util/duration.js';
import { CHART_CSS, renderChart, sloLevels, sloTags, type ChartMarker, type ChartPoint } from '../report/chart.js';
import { BASE_CSS, cells, esc, htmlPage, iso, num, utc } from '../report/html.js';
import type { SloInfo } from '../slo/info.js';
import { FINAL_STATES, type ActionView, type EvaluationView, type EventView, type RolloutDetail, type RolloutSummary } from './types.js';

/** Options both pages take. */
export interface PageOptions {
  /** The time the page is drawn at (default: the wall clock); ages and the live chart's right edge use it. */
  readonly now?: number;
  /** Have the browser reload the page every this many seconds. */
  readonly refreshSeconds?: number;
}

/** The list of rollouts, newest first. */
export function renderIndexPage(rollouts: readonly RolloutSummary[], opts: PageOptions & { readonly title?: string } = {}): string {
  const now = opts.now ?? Date.now();
  const title = opts.title ?? 'hmd rollouts';
  // Newest first by creation, then id, so that two pages drawn from the same list agree.
  const sorted = [...rollouts].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return htmlPage({
    title,
    css: CSS,
    ...(opts.refreshSeconds !== undefined ? { refreshSeconds: opts.refreshSeconds } : {}),
    body: [
      '<header>',
      `<h1>${esc(title)}</h1>`,
      asOf(now, opts.refreshSeconds),
      stateCounts(sorted),
      '</header>',
      '<main>',
      sorted.length ? rolloutsTable(sorted, now) : '<p class="note empty">No rollouts yet.</p>',
      '</main>',
    ],
  });
}

/** One rollout: its stages, its SLIs over time with thresholds and decision points, its actions and events. */
export function renderRolloutPage(r: RolloutDetail, opts: PageOptions = {}): string {
  const now = opts.now ?? Date.now();
  const title = `${r.name}${r.version ? ` ${r.version}` : ''} · hmd rollout`;
  return htmlPage({
    title,
    css: CSS,
    ...(opts.refreshSeconds !== undefined ? { refreshSeconds: opts.refreshSeconds } : {}),
    body: [
      rolloutHeader(r, now, opts.refreshSeconds),
      `<main data-rollout="${esc(r.id)}">`,
      stagesSection(r),
      chartsSection(r, now),
      latestSection(r),
      actionsSection(r),
      eventsSection(r.events),
      '</main>',
    ],
  });
}

// ── pieces both pages use ────────────────────────────────────────────────────────────────────

function badge(state: string): string {
  return `<span class="badge state-${esc(state)}" data-state="${esc(state)}">${esc(state)}</span>`;
}

function time(t: number | undefined, now?: number): string {
  if (t === undefined || !Number.isFinite(t)) return '–';
  const ago = now !== undefined && now >= t ? ` <span class="ago">(${esc(ms(now - t))} ago)</span>` : '';
  return `<time datetime="${esc(iso(t))}">${esc(utc(t))}</time>${ago}`;
}

function asOf(now: number, refreshSeconds: number | undefined): string {
  const live = refreshSeconds !== undefined && Number.isFinite(refreshSeconds) && refreshSeconds > 0 ? `, reloads every ${esc(ms(Math.max(1, Math.round(refreshSeconds)) * 1000))}` : '';
  return `<p class="generated">as of ${time(now)}${live}</p>`;
}

function stageLabel(s: { readonly index: number; readonly name: string }): string {
  return `${s.index + 1}. ${s.name}`;
}

const isFinal = (state: string) => (FINAL_STATES as readonly string[]).includes(state);

// ── the index ────────────────────────────────────────────────────────────────────────────────

function stateCounts(rollouts: readonly RolloutSummary[]): string {
  const counts = new Map<string, number>();
  for (const r of rollouts) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  const items = [...counts].map(([state, n]) => `<div><dt>${esc(state)}</dt><dd data-count="${esc(state)}">${n}</dd></div>`);
  return `<dl class="stats"><div><dt>rollouts</dt><dd data-count="all">${rollouts.length}</dd></div>${items.join('')}</dl>`;
}

function rolloutsTable(rollouts: readonly RolloutSummary[], now: number): string {
  const head = ['rollout', 'version', 'state', 'stage', 'reason', 'created', 'updated'];
  const rows = rollouts.map((r) => {
    // Relative, so the page works wherever the daemon is mounted (it serves this list at its root).
    const href = `rollouts/${encodeURIComponent(r.id)}`;
    const row = [`<a href="${esc(href)}">${esc(r.name)}</a>`, esc(r.version ?? '–'), badge(r.state), esc(stageLabel(r.stage)), esc(r.reason), time(r.createdAt), time(r.updatedAt, now)];
    return `<tr class="rollout" data-rollout="${esc(r.id)}" data-state="${esc(r.state)}">${cells(row)}</tr>`;
  });
  return ['<table class="rollouts">', `<thead><tr>${cells(head, 'th')}</tr></thead>`, '<tbody>', ...rows, '</tbody>', '</table>'].join('\n');
}

// ── one rollout ──────────────────────────────────────────────────────────────────────────────

function rolloutHeader(r: RolloutDetail, now: number, refreshSeconds: number | undefined): string {
  const facts: [string, string][] = [
    ['id', esc(r.id)],
    ['stage', esc(`${stageLabel(r.stage)} of ${r.stages.length}`)],
    ['created', time(r.createdAt)],
    ['updated', time(r.updatedAt, now)],
    ['evaluated every', esc(ms(r.intervalMs))],
    ['pauses after holding', esc(ms(r.maxPauseMs))],
  ];
  return [
    '<header>',
    '<p class="nav"><a href="../">← all rollouts</a></p>',
    `<h1><span class="name">${esc(r.name)}</span>${r.version ? ` <span class="version">${esc(r.version)}</span>` : ''} ${badge(r.state)}</h1>`,
    `<p class="reason">${esc(r.reason)}</p>`,
    asOf(now, refreshSeconds),
    `<dl class="facts">${facts.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${v}</dd></div>`).join('')}</dl>`,
    '</header>',
  ].join('\n');
}

function stagesSection(r: RolloutDetail): string {
  const head = ['#', 'stage', 'scope', 'baseline', 'bake', 'state', 'started', 'ended'];
  const rows = r.stages.map((s) => {
    const row = [esc(s.index + 1), esc(s.name), `<code>${esc(s.scope)}</code>`, s.baseline ? `<code>${esc(s.baseline)}</code>` : '–', esc(ms(s.bakeMs)), badge(s.state), time(s.startedAt), time(s.endedAt)];
    const current = s.index === r.stage.index && !isFinal(r.state) ? ' current' : '';
    return `<tr class="stage${current}" data-stage="${esc(s.index)}" data-state="${esc(s.state)}">${cells(row)}</tr>`;
  });
  return ['<section class="stages">', '<h2>Stages</h2>', '<table class="stages">', `<thead><tr>${cells(head, 'th')}</tr></thead>`, '<tbody>', ...rows, '</tbody>', '</table>', '</section>'].join('\n');
}

/** The SLOs to draw: the plan's, then any an evaluation names that the plan does not (drawn without levels). */
function sloList(r: RolloutDetail): { readonly name: string; readonly info?: SloInfo }[] {
  const known = new Set(r.slos.map((s) => s.name));
  const extra = new Set<string>();
  for (const e of r.evaluations) for (const s of e.slos) if (!known.has(s.name)) extra.add(s.name);
  return [...r.slos.map((info) => ({ name: info.name, info })), ...[...extra].map((name) => ({ name }))];
}

function chartsSection(r: RolloutDetail, now: number): string {
  const evaluations = [...r.evaluations].sort((a, b) => a.at - b.at);
  const markers = markersOf(r);
  // A live rollout's axis runs to now, so evaluations that stopped coming show as an empty stretch.
  const span = [r.createdAt, isFinal(r.state) ? r.updatedAt : Math.max(r.updatedAt, now)];
  const note = evaluations.length ? '' : '<p class="note no-evaluations">No evaluations yet: the charts fill in as the first stage bakes.</p>';
  const figures = sloList(r).map(({ name, info }) => {
    const latest = latestStatus(evaluations, name);
    const chart = renderChart({ slo: name, points: seriesOf(evaluations, name), levels: info ? sloLevels(info) : [], markers, intervalMs: r.intervalMs, span });
    const tags = info ? sloTags(info) : 'not in the plan';
    return [
      `<figure class="chart-wrap" data-slo="${esc(name)}">`,
      `<figcaption><strong>${esc(name)}</strong> ${latest ? `<span class="status s-${esc(latest)}" data-status="${esc(latest)}">${esc(latest)}</span> ` : ''}<span class="tags">${esc(tags)}</span></figcaption>`,
      chart,
      '</figure>',
    ].join('\n');
  });
  return ['<section class="charts">', '<h2>SLIs</h2>', note, LEGEND, ...figures, '</section>'].join('\n');
}

function seriesOf(evaluations: readonly EvaluationView[], name: string): ChartPoint[] {
  return evaluations.map((e) => {
    const s = e.slos.find((p) => p.name === name);
    if (!s) return { at: e.at, status: 'missing' };
    return { at: e.at, status: s.status, ...(s.sli !== undefined && Number.isFinite(s.sli) ? { sli: s.sli } : {}), ...(s.baseline !== undefined && Number.isFinite(s.baseline) ? { baseline: s.baseline } : {}) };
  });
}

function latestStatus(evaluations: readonly EvaluationView[], name: string): string | undefined {
  for (let i = evaluations.length - 1; i >= 0; i--) {
    const s = evaluations[i]!.slos.find((p) => p.name === name);
    if (s) return s.status;
  }
  return undefined;
}

/** Where hmd decided, reverts first (their labels get the top row), then promotes, then stage starts. */
function markersOf(r: RolloutDetail): ChartMarker[] {
  const name = (i: number) => r.stages.find((s) => s.index === i)?.name ?? `stage ${i + 1}`;
  const decision = (a: ActionView): ChartMarker => ({
    kind: a.kind,
    at: a.createdAt,
    label: `${a.kind} ${name(a.stage)}`,
    title: `${a.kind} of ${name(a.stage)} decided at ${utc(a.createdAt)}: ${a.reason}`,
  });
  const byTime = [...r.actions].sort((a, b) => a.createdAt - b.createdAt);
  return [
    ...byTime.filter((a) => a.kind === 'revert').map(decision),
    ...byTime.filter((a) => a.kind === 'promote').map(decision),
    ...r.stages.flatMap((s): ChartMarker[] => (s.startedAt === undefined ? [] : [{ kind: 'stage-start', at: s.startedAt, label: s.name, title: `stage ${s.name} (${s.scope}) started ${utc(s.startedAt)}` }])),
  ];
}

function latestSection(r: RolloutDetail): string {
  const last = r.evaluations.reduce<EvaluationView | undefined>((a, e) => (a === undefined || e.at >= a.at ? e : a), undefined);
  if (!last) return '';
  const stage = r.stages.find((s) => s.index === last.stage);
  const values = last.slos.map((s) => {
    const v = [s.sli !== undefined && Number.isFinite(s.sli) ? `SLI ${num(s.sli)}` : '', s.baseline !== undefined && Number.isFinite(s.baseline) ? `baseline ${num(s.baseline)}` : ''].filter(Boolean).join(', ');
    return `<li data-slo="${esc(s.name)}"><span class="status s-${esc(s.status)}">${esc(s.status)}</span> ${esc(s.name)}${v ? `: ${esc(v)}` : ''}</li>`;
  });
  return [
    `<section class="latest" data-at="${esc(iso(last.at))}">`,
    `<h2>Latest evaluation <span class="verdict verdict-${esc(last.verdict)}" data-verdict="${esc(last.verdict)}">${esc(last.verdict)}</span></h2>`,
    `<p class="sub">${time(last.at)}, stage ${esc(stage ? stageLabel(stage) : String(last.stage + 1))}</p>`,
    '<ul class="reasons">',
    ...last.reasons.map((s) => `<li>${esc(s)}</li>`),
    '</ul>',
    values.length ? ['<ul class="slo-values">', ...values, '</ul>'].join('\n') : '',
    '</section>',
  ].join('\n');
}

function actionsSection(r: RolloutDetail): string {
  if (r.actions.length === 0) return ['<section class="actions">', '<h2>Actions</h2>', '<p class="note">No promote or revert yet.</p>', '</section>'].join('\n');
  const head = ['#', 'kind', 'stage', 'state', 'attempts', 'hook', 'idempotency key', 'created', 'finished', 'reason', 'error'];
  const stageName = (i: number) => {
    const s = r.stages.find((x) => x.index === i);
    return s ? stageLabel(s) : String(i + 1);
  };
  const rows = r.actions.map((a) => {
    const row = [esc(a.id), esc(a.kind), esc(stageName(a.stage)), badge(a.state), esc(a.attempts), esc(a.hook ?? '(none: recorded only)'), `<code>${esc(a.idempotencyKey)}</code>`, time(a.createdAt), time(a.finishedAt), esc(a.reason), a.error ? `<span class="error">${esc(a.error)}</span>` : '–'];
    return `<tr class="action ${esc(a.kind)}" data-action="${esc(a.id)}" data-kind="${esc(a.kind)}" data-state="${esc(a.state)}">${cells(row)}</tr>`;
  });
  return ['<section class="actions">', '<h2>Actions</h2>', '<table class="actions">', `<thead><tr>${cells(head, 'th')}</tr></thead>`, '<tbody>', ...rows, '</tbody>', '</table>', '</section>'].join('\n');
}

function eventsSection(events: readonly EventView[]): string {
  // Stable sort: events recorded at the same millisecond keep the order they were recorded in.
  const sorted = [...events].sort((a, b) => a.at - b.at);
  const items = sorted.map(
    (e, i) =>
      `<li class="event" data-event="${i}" data-kind="${esc(e.kind)}" data-at="${esc(iso(e.at))}">${time(e.at)} <span class="kind">${esc(e.kind)}</span> <span class="message">${esc(e.message)}</span>${e.by ? ` <span class="by">by ${esc(e.by)}</span>` : ''}</li>`,
  );
  return ['<section class="events">', '<h2>Events</h2>', items.length ? ['<ol class="events">', ...items, '</ol>'].join('\n') : '<p class="note">No events.</p>', '</section>'].join('\n');
}

// ── style ────────────────────────────────────────────────────────────────────────────────────

const LEGEND = `<ul class="legend">
<li><span class="sw sli"></span>release SLI</li>
<li><span class="sw baseline"></span>baseline SLI</li>
<li><span class="sw fail"></span>fail · <span class="sw warn"></span>warn threshold · <span class="sw burn"></span>burn-rate level</li>
<li><span class="sw revert"></span>revert · <span class="sw promote"></span>promote · <span class="sw stage"></span>stage start</li>
<li><span class="dot s-pass"></span>pass <span class="dot s-warn"></span>warn <span class="dot s-fail"></span>fail <span class="dot s-no-data"></span>no data <span class="dot s-error"></span>error</li>
</ul>`;

const CSS = `${BASE_CSS}a { color: var(--sli); }
p.nav { margin: 0 0 6px; font-size: 13px; }
p.reason { margin: 2px 0 6px; }
.version { color: var(--muted); font-weight: 400; }
.ago, p.note { color: var(--muted); }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; color: #fff; background: var(--nodata); vertical-align: middle; }
.state-running, .state-baking { background: var(--sli); }
.state-paused { background: var(--warn); }
.state-promoting, .state-reverting { background: #6d4c9f; }
.state-completed, .state-promoted, .state-succeeded { background: var(--pass); }
.state-reverted, .state-aborted, .state-failed { background: var(--fail); }
tr.stage.current td { background: #f0f5fc; }
span.error { color: var(--fail); }
.status { display: inline-block; padding: 0 5px; border-radius: 3px; color: #fff; font-size: 12px; }
.verdict { font-size: 13px; font-weight: 600; }
.verdict-continue { color: var(--pass); } .verdict-pause { color: var(--warn); } .verdict-revert { color: var(--fail); }
ul.reasons, ul.slo-values { margin: 4px 0; padding-left: 20px; }
ul.slo-values { list-style: none; padding-left: 4px; }
ol.events { padding-left: 0; list-style: none; font-size: 13px; }
ol.events li { padding: 2px 0; border-bottom: 1px solid var(--line); }
ol.events .kind { font-weight: 600; } ol.events .by { color: var(--muted); }
figure { margin: 12px 0; }
figcaption { margin-bottom: 2px; }
${CHART_CSS}svg line.marker.promote { stroke: var(--pass); stroke-width: 2; }
svg text.marker-label.promote { fill: var(--pass); font-weight: 600; }
ul.legend { list-style: none; padding: 0; margin: 0 0 6px; color: var(--muted); display: flex; flex-wrap: wrap; gap: 0 14px; font-size: 12px; }
.sw { display: inline-block; width: 22px; height: 0; border-top: 2px solid; vertical-align: middle; margin: 0 4px 0 0; }
.sw.sli { border-color: var(--sli); } .sw.baseline { border-top-style: dashed; border-color: var(--base); }
.sw.fail { border-top-style: dashed; border-color: var(--fail); } .sw.warn { border-top-style: dashed; border-color: var(--warn); }
.sw.burn { border-top-style: dotted; border-color: #b06a00; } .sw.revert { border-top-width: 3px; border-color: var(--fail); }
.sw.promote { border-color: var(--pass); } .sw.stage { border-top-style: dashed; border-color: #7a8794; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin: 0 3px 0 6px; vertical-align: middle; }
`;
