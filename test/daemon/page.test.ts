/**
 * The daemon's status pages, opened from a file in headless Chromium: a rollout of three stages
 * (canary → tier → world) whose 5xx ratio climbs in the second stage until hmd reverts it. The
 * page must show each stage in its state, one chart per SLO whose points lie at their values and
 * times, the thresholds, the promote and the revert where they were decided, the actions and the
 * audit trail; a rollout not yet evaluated must still draw; hostile names stay text; and the
 * index lists rollouts newest first with links and state badges. Nothing is fetched, nothing logged.
 */

import type { Browser } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { renderIndexPage, renderRolloutPage } from '../../src/daemon/page.js';
import { renderChart } from '../../src/report/chart.js';
import type { ActionView, EvaluationView, EventView, RolloutDetail, RolloutSummary, SloEvaluationView, StageView } from '../../src/daemon/types.js';
import type { SloInfo } from '../../src/slo/info.js';
import type { Status } from '../../src/slo/judge.js';
import { chromiumTest, launchChromium, openHtml, type OpenedPage } from '../helpers/chromium.js';

const M = 60_000;
const T0 = Date.UTC(2025, 6, 1, 9, 0);
const CSP = "default-src 'none'; style-src 'unsafe-inline'";

// ── a rollout, as the daemon would report it ─────────────────────────────────────────────────

const SLOS: SloInfo[] = [
  {
    name: 'http-5xx-ratio',
    worse: 'higher',
    thresholds: { warn: 0.01, fail: 0.02 },
    objective: 0.999,
    burnRates: [
      { level: 14.4 * 0.001, factor: 14.4, severity: 'fail', window: '1h/5m' },
      { level: 6 * 0.001, factor: 6, severity: 'warn', window: '6h/30m' },
    ],
    critical: true,
    dryRun: false,
    weight: 1,
  },
  { name: 'latency-p99', worse: 'higher', thresholds: { warn: 0.5, fail: 0.8 }, critical: true, dryRun: false, weight: 1 },
  { name: 'success-ratio', worse: 'lower', thresholds: { warn: 0.995, fail: 0.99 }, critical: false, dryRun: true, weight: 0.5 },
];

/** The values at minute m after T0 (m = 1..20 canary, 21..40 tier): flat in the canary, climbing late in the tier. */
function values(m: number): Record<string, { sli?: number; baseline: number }> {
  const late = Math.max(0, m - 27);
  return {
    'http-5xx-ratio': { sli: 0.001 + 0.0001 * ((m * 7) % 5) + late * 0.003, baseline: 0.0009 + 0.0001 * (m % 3) },
    // One scrape gap in the canary: the latency line breaks there.
    'latency-p99': { ...(m === 15 ? {} : { sli: 0.25 + 0.01 * (m % 4) + Math.max(0, m - 30) * 0.05 }), baseline: 0.25 },
    'success-ratio': { sli: 0.9993 + 0.00001 * ((m * 3) % 7) - Math.max(0, m - 30) * 0.0008, baseline: 0.9994 },
  };
}

function status(slo: SloInfo, v: number | undefined): Status {
  if (v === undefined) return 'no-data';
  const t = slo.thresholds!;
  const worse = (a: number, b: number) => (slo.worse === 'higher' ? a >= b : a <= b);
  return worse(v, t.fail!) ? 'fail' : worse(v, t.warn!) ? 'warn' : 'pass';
}

const STAGE1_START = T0 + 20 * M + 4_000;
const REVERT_AT = T0 + 40 * M;
const ENDED = REVERT_AT + 30_000;

function evaluations(): EvaluationView[] {
  return Array.from({ length: 40 }, (_, k) => {
    const m = k + 1;
    const vals = values(m);
    const slos: SloEvaluationView[] = SLOS.map((s) => {
      const v = vals[s.name]!;
      return { name: s.name, status: status(s, v.sli), ...(v.sli !== undefined ? { sli: v.sli } : {}), baseline: v.baseline };
    });
    const bad = slos.filter((s) => s.status !== 'pass');
    const verdict = m === 40 ? 'revert' : bad.length ? 'pause' : 'continue';
    return {
      at: T0 + m * M,
      stage: m <= 20 ? 0 : 1,
      verdict,
      slos,
      reasons: [`${verdict}: ${bad.length} of ${slos.length} SLOs not passing`, ...slos.map((s) => `${s.name}: ${s.status}${s.sli !== undefined ? ` (SLI ${s.sli.toFixed(4)})` : ''}`)],
    };
  });
}

const ID = 'r-20250701-0859-checkout';

const STAGES: StageView[] = [
  { index: 0, name: 'canary', scope: 'datacenter=dc1,tier=canary', baseline: 'datacenter=dc1,tier=canary-old', bakeMs: 20 * M, state: 'promoted', startedAt: T0, endedAt: STAGE1_START },
  { index: 1, name: 'tier', scope: 'datacenter=dc1,tier=tier3', baseline: 'datacenter=dc1,tier=tier3-old', bakeMs: 30 * M, state: 'reverted', startedAt: STAGE1_START, endedAt: ENDED },
  { index: 2, name: 'world', scope: 'tier=~.+', bakeMs: 60 * M, state: 'pending' },
];

const ACTIONS: ActionView[] = [
  { id: 1, kind: 'promote', stage: 0, idempotencyKey: `${ID}/0/promote`, hook: 'deploy-next', state: 'succeeded', attempts: 1, reason: 'canary baked 20m: every SLO passed', createdAt: T0 + 20 * M, finishedAt: STAGE1_START },
  { id: 2, kind: 'revert', stage: 1, idempotencyKey: `${ID}/1/revert`, hook: 'rollback', state: 'succeeded', attempts: 2, reason: 'http-5xx-ratio failed: 0.04 above 0.02', createdAt: REVERT_AT, finishedAt: ENDED },
];

const EVENTS: EventView[] = [
  { at: T0 - 10_000, kind: 'created', message: 'checkout-api v2.14.0: 3 stages, 3 SLOs', by: 'deploy-bot' },
  { at: T0, kind: 'stage-started', message: 'stage canary (datacenter=dc1,tier=canary)' },
  { at: T0 + 20 * M, kind: 'promote', message: 'canary baked 20m: every SLO passed' },
  { at: STAGE1_START, kind: 'action-succeeded', message: 'promote canary: deploy-next succeeded' },
  { at: STAGE1_START, kind: 'stage-started', message: 'stage tier (datacenter=dc1,tier=tier3)' },
  { at: T0 + 33 * M, kind: 'paused', message: 'paused to look at the 5xx ratio', by: 'alice' },
  { at: T0 + 35 * M, kind: 'resumed', message: 'resumed', by: 'alice' },
  { at: REVERT_AT, kind: 'revert', message: 'http-5xx-ratio failed: 0.04 above 0.02' },
  { at: REVERT_AT + 10_000, kind: 'action-failed', message: 'rollback: HTTP 502, retrying' },
  { at: ENDED, kind: 'action-succeeded', message: 'revert tier: rollback succeeded' },
  { at: ENDED, kind: 'reverted', message: 'reverted at tier' },
];

const DETAIL: RolloutDetail = {
  id: ID,
  name: 'checkout-api',
  version: 'v2.14.0',
  state: 'reverted',
  stage: { index: 1, name: 'tier' },
  reason: 'reverted at tier: http-5xx-ratio failed 0.04 > 0.02',
  createdAt: T0 - 10_000,
  updatedAt: ENDED,
  stages: STAGES,
  slos: SLOS,
  intervalMs: M,
  maxPauseMs: 60 * M,
  evaluations: evaluations(),
  actions: ACTIONS,
  events: EVENTS,
};

/** A rollout that has only just started: no evaluation, action or decision yet. */
const FRESH: RolloutDetail = {
  ...DETAIL,
  id: 'r-20250701-0944-search',
  name: 'search-indexer',
  version: 'v5.1.0',
  state: 'running',
  stage: { index: 0, name: 'canary' },
  reason: 'baking canary',
  createdAt: T0 + 44 * M,
  updatedAt: T0 + 45 * M,
  stages: STAGES.map((s, i): StageView => ({ index: s.index, name: s.name, scope: s.scope, bakeMs: s.bakeMs, state: i === 0 ? 'baking' : 'pending', ...(i === 0 ? { startedAt: T0 + 45 * M } : {}) })),
  evaluations: [],
  actions: [],
  events: [
    { at: T0 + 44 * M, kind: 'created', message: 'search-indexer v5.1.0' },
    { at: T0 + 45 * M, kind: 'stage-started', message: 'stage canary' },
  ],
};

const summary = (r: RolloutDetail): RolloutSummary => ({ id: r.id, name: r.name, ...(r.version ? { version: r.version } : {}), state: r.state, stage: r.stage, reason: r.reason, createdAt: r.createdAt, updatedAt: r.updatedAt });

// ── what the page shows, read in the browser ─────────────────────────────────────────────────

/** The little of the DOM the reader uses (the project compiles without the DOM library). */
interface El {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  getAttributeNames(): string[];
  querySelector(sel: string): El | null;
  querySelectorAll(sel: string): ArrayLike<El>;
  getBoundingClientRect(): { x: number; y: number; width: number; height: number };
  readonly points?: { readonly numberOfItems: number; getItem(i: number): { x: number; y: number } };
}

interface FigureModel {
  slo: string | null;
  svgSlo: string | null;
  caption: string;
  plot: { x: number; y: number; width: number; height: number };
  circles: { cx: number; cy: number; clientX: number; clientY: number; cls: string }[];
  sli: [number, number][][];
  baseline: [number, number][][];
  status: string[];
  levels: { cls: string; y: number }[];
  yTicks: { text: string; y: number }[];
  markers: { kind: string | null; at: string | null; x: number; clientX: number }[];
  markerLabels: { cls: string; text: string }[];
  noData: boolean;
  attrs: string[];
  renderedWidth: number;
}

interface RolloutModel {
  title: string;
  csp: string | null;
  refresh: string | null;
  h1: string;
  state: string | null;
  reason: string;
  back: string | null;
  stages: { index: string | null; state: string | null; badge: string | null; current: boolean; cells: string[] }[];
  figures: FigureModel[];
  noEvaluations: boolean;
  verdict: string | null;
  reasons: string[];
  /** Each action's cells by their column's heading. */
  actions: { id: string | null; kind: string | null; state: string | null; badge: string | null; cells: Record<string, string> }[];
  events: { index: string | null; kind: string | null; at: string | null; message: string; by: string }[];
  scripts: number;
  images: number;
  bold: number;
  pwned: boolean;
}

/** Runs in the page: self-contained, as Playwright sends it over as source. */
function readRollout(): RolloutModel {
  const g = globalThis as unknown as { document: El & { title: string }; __pwned?: unknown };
  const doc = g.document;
  const all = (root: El, sel: string) => Array.from(root.querySelectorAll(sel));
  const text = (e: El | null) => (e?.textContent ?? '').trim();
  const num = (e: El, a: string) => Number(e.getAttribute(a));
  const center = (e: El) => {
    const b = e.getBoundingClientRect();
    return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
  };
  const pts = (e: El): [number, number][] =>
    Array.from({ length: e.points!.numberOfItems }, (_, i) => {
      const p = e.points!.getItem(i);
      return [p.x, p.y];
    });
  const figure = (f: El): FigureModel => {
    const svg = f.querySelector('svg.chart')!;
    const plot = svg.querySelector('rect.plot')!;
    const gridY = all(svg, 'line.grid.y');
    return {
      slo: f.getAttribute('data-slo'),
      svgSlo: svg.getAttribute('data-slo'),
      caption: text(f.querySelector('figcaption')),
      plot: { x: num(plot, 'x'), y: num(plot, 'y'), width: num(plot, 'width'), height: num(plot, 'height') },
      circles: all(svg, 'circle.point').map((c) => ({ cx: num(c, 'cx'), cy: num(c, 'cy'), clientX: center(c).x, clientY: center(c).y, cls: c.getAttribute('class') ?? '' })),
      sli: all(svg, 'polyline.sli').map(pts),
      baseline: all(svg, 'polyline.baseline').map(pts),
      status: all(svg, 'rect.status').map((r) => r.getAttribute('class') ?? ''),
      levels: all(svg, 'line.threshold, line.burn-rate').map((l) => ({ cls: l.getAttribute('class') ?? '', y: num(l, 'y1') })),
      yTicks: all(svg, 'text.tick.y').map((t, i) => ({ text: text(t), y: num(gridY[i]!, 'y1') })),
      markers: all(svg, '.marker').map((m) => ({ kind: m.getAttribute('data-kind'), at: m.getAttribute('data-at'), x: num(m, 'x1'), clientX: center(m).x })),
      markerLabels: all(svg, 'text.marker-label').map((t) => ({ cls: t.getAttribute('class') ?? '', text: text(t) })),
      noData: svg.querySelector('text.no-data') !== null,
      attrs: all(svg, '*').flatMap((e) => e.getAttributeNames().map((n) => e.getAttribute(n) ?? '')),
      renderedWidth: svg.getBoundingClientRect().width,
    };
  };
  const header = doc.querySelector('header')!;
  const actionHead = all(doc, 'table.actions thead th').map(text);
  return {
    title: doc.title,
    csp: doc.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? null,
    refresh: doc.querySelector('meta[http-equiv="refresh"]')?.getAttribute('content') ?? null,
    h1: text(header.querySelector('h1')),
    state: header.querySelector('h1 [data-state]')?.getAttribute('data-state') ?? null,
    reason: text(header.querySelector('.reason')),
    back: header.querySelector('.nav a')?.getAttribute('href') ?? null,
    stages: all(doc, '[data-stage]').map((tr) => ({
      index: tr.getAttribute('data-stage'),
      state: tr.getAttribute('data-state'),
      badge: tr.querySelector('.badge')?.getAttribute('data-state') ?? null,
      current: (tr.getAttribute('class') ?? '').split(' ').includes('current'),
      cells: all(tr, 'td').map(text),
    })),
    figures: all(doc, 'figure[data-slo]').map(figure),
    noEvaluations: doc.querySelector('.no-evaluations') !== null,
    verdict: doc.querySelector('section.latest [data-verdict]')?.getAttribute('data-verdict') ?? null,
    reasons: all(doc, 'section.latest ul.reasons li').map(text),
    actions: all(doc, '[data-action]').map((tr) => ({
      id: tr.getAttribute('data-action'),
      kind: tr.getAttribute('data-kind'),
      state: tr.getAttribute('data-state'),
      badge: tr.querySelector('.badge')?.getAttribute('data-state') ?? null,
      cells: Object.fromEntries(all(tr, 'td').map((td, i) => [actionHead[i] ?? String(i), text(td)])),
    })),
    events: all(doc, '[data-event]').map((li) => ({ index: li.getAttribute('data-event'), kind: li.getAttribute('data-kind'), at: li.getAttribute('data-at'), message: text(li.querySelector('.message')), by: text(li.querySelector('.by')) })),
    scripts: all(doc, 'script').length,
    images: all(doc, 'img').length,
    bold: all(doc, 'b').length,
    pwned: g.__pwned !== undefined,
  };
}

interface IndexModel {
  title: string;
  refresh: string | null;
  rows: { id: string | null; state: string | null; href: string | null; link: string; badge: string | null; cells: string[] }[];
  counts: Record<string, string>;
  empty: boolean;
  scripts: number;
  images: number;
  pwned: boolean;
}

/** Runs in the page: the index's table. */
function readIndex(): IndexModel {
  const g = globalThis as unknown as { document: El & { title: string }; __pwned?: unknown };
  const doc = g.document;
  const all = (root: El, sel: string) => Array.from(root.querySelectorAll(sel));
  const text = (e: El | null) => (e?.textContent ?? '').trim();
  return {
    title: doc.title,
    refresh: doc.querySelector('meta[http-equiv="refresh"]')?.getAttribute('content') ?? null,
    rows: all(doc, 'table.rollouts tbody tr').map((tr) => ({
      id: tr.getAttribute('data-rollout'),
      state: tr.getAttribute('data-state'),
      href: tr.querySelector('a')?.getAttribute('href') ?? null,
      link: text(tr.querySelector('a')),
      badge: tr.querySelector('.badge[data-state]')?.getAttribute('data-state') ?? null,
      cells: all(tr, 'td').map(text),
    })),
    counts: Object.fromEntries(all(doc, '[data-count]').map((d) => [d.getAttribute('data-count') ?? '', text(d)])),
    empty: doc.querySelector('.empty') !== null,
    scripts: all(doc, 'script').length,
    images: all(doc, 'img').length,
    pwned: g.__pwned !== undefined,
  };
}

// ── reading values back ──────────────────────────────────────────────────────────────────────

/** The value at a height, read off the chart's own y tick labels. */
function readY(f: FigureModel, y: number): number {
  const [a, b] = [f.yTicks[0]!, f.yTicks.at(-1)!];
  return Number(a.text) + ((y - a.y) * (Number(b.text) - Number(a.text))) / (b.y - a.y);
}

function axisSpan(f: FigureModel): number {
  return Math.abs(Number(f.yTicks.at(-1)!.text) - Number(f.yTicks[0]!.text));
}

/** The evaluations that have a value for the SLO, in time order: one dot each. */
function valued(r: RolloutDetail, slo: string): { at: number; sli: number; status: Status }[] {
  return r.evaluations.flatMap((e) => {
    const s = e.slos.find((p) => p.name === slo);
    return s?.sli !== undefined ? [{ at: e.at, sli: s.sli, status: s.status }] : [];
  });
}

const iso = (t: number) => new Date(t).toISOString();

// ── the suite ────────────────────────────────────────────────────────────────────────────────

interface Ctx {
  browser?: Browser;
}

const S = suite<Ctx>('daemon status pages', {});

S.after(async (ctx) => {
  await ctx.browser?.close();
});

/** Opens a page and reads it; the page must ask for nothing but its own file and log no error. */
async function show<T>(ctx: Ctx, html: string, read: () => T, check = true): Promise<{ model: T; opened: OpenedPage }> {
  ctx.browser ??= await launchChromium();
  const opened = await openHtml(ctx.browser, html);
  try {
    const model = await opened.page.evaluate(read);
    if (check) {
      assert.equal(opened.requests, [opened.url], 'the page requests nothing beyond itself');
      assert.equal(opened.consoleErrors, [], 'no console errors');
    }
    return { model, opened };
  } finally {
    await opened.close();
  }
}

S('the rollout page is a self-contained document, live only when asked', () => {
  const html = renderRolloutPage(DETAIL, { now: ENDED + M, refreshSeconds: 15 });
  assert.ok(html.startsWith('<!doctype html>'));
  assert.not.match(html, /<script/i, 'no script');
  assert.not.match(html, /\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i, 'nothing fetched from elsewhere');
  assert.not.match(html, /NaN|Infinity|undefined/, 'no value gone wrong');
  assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${CSP}">`));
  assert.ok(html.includes('<meta http-equiv="refresh" content="15">'));
  assert.not.match(renderRolloutPage(DETAIL, { now: ENDED + M }), /http-equiv="refresh"/, 'no refresh unless asked');
  assert.is(renderRolloutPage(DETAIL, { now: ENDED + M }), renderRolloutPage(DETAIL, { now: ENDED + M }), 'the same data draws the same bytes');
});

S('the shared chart with nothing at all to place still draws an axis, with no number gone wrong', () => {
  const svg = renderChart({ slo: 'empty', points: [], intervalMs: M });
  assert.match(svg, /<text class="no-data"[^>]*>no data for this SLO<\/text>/);
  assert.match(svg, /aria-label="empty: release SLI \(no data\) from 00:00 to 00:01 UTC"/);
  assert.not.match(svg, /NaN|Infinity|undefined/);
});

chromiumTest(S, 'header and stages: each stage in its state, with its scope, bake and times', async (ctx) => {
  const { model } = await show(ctx, renderRolloutPage(DETAIL, { now: ENDED + M, refreshSeconds: 15 }), readRollout);
  assert.is(model.csp, CSP);
  assert.is(model.refresh, '15');
  assert.is(model.scripts, 0);
  assert.is(model.title, 'checkout-api v2.14.0 · hmd rollout');
  assert.ok(model.h1.includes('checkout-api') && model.h1.includes('v2.14.0'), model.h1);
  assert.is(model.state, 'reverted');
  assert.is(model.reason, DETAIL.reason);
  assert.is(model.back, '../', 'back to the index, which the daemon serves at its root');
  assert.equal(
    model.stages.map((s) => [s.index, s.state, s.badge]),
    [
      ['0', 'promoted', 'promoted'],
      ['1', 'reverted', 'reverted'],
      ['2', 'pending', 'pending'],
    ],
  );
  STAGES.forEach((st, i) => {
    const cells = model.stages[i]!.cells;
    assert.is(cells[1], st.name);
    assert.is(cells[2], st.scope);
    assert.is(cells[3], st.baseline ?? '–');
    assert.ok(st.startedAt === undefined ? cells[6] === '–' : cells[6]!.startsWith(`${iso(st.startedAt).slice(0, 10)} ${iso(st.startedAt).slice(11, 19)} UTC`), `${st.name} started: ${cells[6]}`);
  });
  assert.is(model.stages[0]!.cells[4], '20m', 'the bake');
  assert.not.ok(
    model.stages.some((s) => s.current),
    'a finished rollout has no current stage',
  );
  const live = await show(ctx, renderRolloutPage(FRESH, { now: T0 + 46 * M }), readRollout);
  assert.equal(
    live.model.stages.map((s) => s.current),
    [true, false, false],
    'a running rollout marks the stage it is in',
  );
});

chromiumTest(S, 'one chart per SLO, a dot per value at its height and time, the status band, thresholds', async (ctx) => {
  const { model } = await show(ctx, renderRolloutPage(DETAIL, { now: ENDED + M }), readRollout);
  assert.equal(
    model.figures.map((f) => f.slo),
    SLOS.map((s) => s.name),
  );
  assert.equal(
    model.figures.map((f) => f.svgSlo),
    SLOS.map((s) => s.name),
  );
  assert.not.ok(model.noEvaluations, 'no empty note when there are evaluations');
  model.figures.forEach((f, j) => {
    const slo = SLOS[j]!;
    const pts = valued(DETAIL, slo.name);
    const where = slo.name;
    assert.ok(f.renderedWidth > 300, `${where}: drawn at a readable width`);
    assert.ok(f.caption.includes(slo.dryRun ? 'dry run' : slo.critical ? 'critical' : slo.name), `${where}: tags in the caption`);
    assert.is(f.circles.length, pts.length, `${where}: a dot per value`);
    assert.is(f.sli.flat().length, pts.length, `${where}: line points`);
    assert.is(f.sli.length, slo.name === 'latency-p99' ? 2 : 1, `${where}: the line breaks at the scrape gap only`);
    assert.is(f.baseline.flat().length, DETAIL.evaluations.length, `${where}: baseline points`);
    // The status band: a cell per evaluation, coloured by that SLO's status there.
    assert.equal(
      f.status.map((c) => c.split(' ').find((x) => x.startsWith('s-'))),
      DETAIL.evaluations.map((e) => `s-${e.slos.find((p) => p.name === slo.name)!.status}`),
      `${where}: status band`,
    );
    f.circles.forEach((c, k) => {
      assert.ok(c.cls.includes(`s-${pts[k]!.status}`), `${where}: dot ${k} coloured ${pts[k]!.status}`);
      assert.ok(c.cx >= f.plot.x && c.cx <= f.plot.x + f.plot.width && c.cy >= f.plot.y && c.cy <= f.plot.y + f.plot.height, `${where}: dot ${k} inside the plot`);
      assert.ok(Math.abs(readY(f, c.cy) - pts[k]!.sli) <= axisSpan(f) * 0.01, `${where}: dot ${k} at ${pts[k]!.sli} reads ${readY(f, c.cy)}`);
      if (k > 0) assert.ok(c.clientX > f.circles[k - 1]!.clientX, `${where}: time runs left to right`);
    });
    // The highest value is the topmost dot, the lowest the bottommost.
    const hi = pts.reduce((a, p, k) => (p.sli > pts[a]!.sli ? k : a), 0);
    const lo = pts.reduce((a, p, k) => (p.sli < pts[a]!.sli ? k : a), 0);
    const ys = f.circles.map((c) => c.clientY);
    assert.is(f.circles[hi]!.clientY, Math.min(...ys), `${where}: the highest SLI (${pts[hi]!.sli}) is the topmost dot`);
    assert.is(f.circles[lo]!.clientY, Math.max(...ys), `${where}: the lowest SLI (${pts[lo]!.sli}) is the bottommost dot`);
    const at = (y: number) => ys.flatMap((v, k) => (v === y ? [k] : []));
    const max = pts.flatMap((p, k) => (p.sli === pts[hi]!.sli ? [k] : []));
    assert.equal(at(Math.min(...ys)), max, `${where}: and only the dots of that value`);
    // Dots evenly a minute apart are evenly spaced: x is time.
    const dx = (a: number, b: number) => (f.circles[b]!.clientX - f.circles[a]!.clientX) / ((pts[b]!.at - pts[a]!.at) / M);
    assert.ok(Math.abs(dx(0, 1) - dx(0, pts.length - 1)) < 0.5, `${where}: x proportional to time (${dx(0, 1)} vs ${dx(0, pts.length - 1)} px/min)`);
    for (const level of ['warn', 'fail'] as const) {
      const lines = f.levels.filter((l) => l.cls === `threshold ${level}`);
      assert.is(lines.length, 1, `${where}: one ${level} threshold`);
      assert.ok(Math.abs(readY(f, lines[0]!.y) - slo.thresholds![level]!) <= axisSpan(f) * 0.01, `${where}: ${level} line at ${slo.thresholds![level]}`);
    }
    const burns = f.levels.filter((l) => l.cls.startsWith('burn-rate'));
    assert.is(burns.length, slo.burnRates?.length ?? 0, `${where}: burn-rate levels near the data are drawn`);
    for (const b of slo.burnRates ?? []) assert.ok(burns.some((l) => Math.abs(readY(f, l.y) - b.level) <= axisSpan(f) * 0.01), `${where}: burn-rate line at ${b.level}`);
    assert.not.ok(f.attrs.some((a) => /NaN|Infinity|undefined/.test(a)), `${where}: no attribute gone wrong`);
  });
});

chromiumTest(S, 'decision points: the promote and the revert where hmd decided, stage starts where stages started', async (ctx) => {
  const { model } = await show(ctx, renderRolloutPage(DETAIL, { now: ENDED + M }), readRollout);
  const revertAction = ACTIONS.find((a) => a.kind === 'revert')!;
  const promoteAction = ACTIONS.find((a) => a.kind === 'promote')!;
  for (const f of model.figures) {
    const where = f.slo;
    const of = (kind: string) => f.markers.filter((m) => m.kind === kind);
    const [revert, promote, starts] = [of('revert'), of('promote'), of('stage-start')];
    assert.is(revert.length, 1, `${where}: one revert marker`);
    assert.is(promote.length, 1, `${where}: one promote marker`);
    assert.is(f.markers.length, 4, `${where}: no other marker`);
    assert.is(revert[0]!.at, iso(revertAction.createdAt), `${where}: the revert marker's time`);
    assert.is(promote[0]!.at, iso(promoteAction.createdAt), `${where}: the promote marker's time`);
    assert.equal(
      starts.map((m) => m.at),
      STAGES.filter((s) => s.startedAt !== undefined).map((s) => iso(s.startedAt!)),
      `${where}: a line per stage started`,
    );
    // The revert was decided at the evaluation of REVERT_AT: its line goes through that dot.
    const pts = valued(DETAIL, f.slo!);
    const k = pts.findIndex((p) => p.at === revertAction.createdAt);
    assert.ok(k > 0, `${where}: an evaluation at the revert`);
    assert.ok(Math.abs(revert[0]!.clientX - f.circles[k]!.clientX) <= 1, `${where}: revert at x ${revert[0]!.clientX}, its evaluation at ${f.circles[k]!.clientX}`);
    // ...which the 1px tolerance can tell from the evaluation a minute before.
    assert.ok(Math.abs(revert[0]!.clientX - f.circles[k - 1]!.clientX) > 1, `${where}: the previous evaluation is elsewhere`);
    const p = pts.findIndex((q) => q.at === promoteAction.createdAt);
    assert.ok(Math.abs(promote[0]!.clientX - f.circles[p]!.clientX) <= 1, `${where}: the promote at its evaluation`);
    assert.ok(promote[0]!.clientX < revert[0]!.clientX, `${where}: promote before revert`);
    for (const m of f.markers) assert.ok(m.x >= f.plot.x && m.x <= f.plot.x + f.plot.width, `${where}: ${m.kind} inside the plot`);
    assert.ok(
      f.markerLabels.some((l) => l.cls.includes('revert') && l.text === 'revert tier'),
      `${where}: labelled with the stage reverted`,
    );
  }
});

chromiumTest(S, 'actions, the audit trail and the latest reasons', async (ctx) => {
  const { model } = await show(ctx, renderRolloutPage(DETAIL, { now: ENDED + M }), readRollout);
  assert.equal(
    model.actions.map((a) => [a.id, a.kind, a.state, a.badge]),
    ACTIONS.map((a) => [String(a.id), a.kind, a.state, a.state]),
  );
  ACTIONS.forEach((a, i) => {
    const cells = model.actions[i]!.cells;
    assert.is(cells['kind'], a.kind);
    assert.is(cells['idempotency key'], a.idempotencyKey, `action ${a.id}: idempotency key`);
    assert.is(cells['attempts'], String(a.attempts), `action ${a.id}: attempts`);
    assert.is(cells['stage'], `${a.stage + 1}. ${STAGES[a.stage]!.name}`, `action ${a.id}: stage`);
    assert.is(cells['hook'], a.hook);
    assert.is(cells['reason'], a.reason, `action ${a.id}: reason`);
    assert.is(cells['error'], '–', `action ${a.id}: no error`);
  });
  const sorted = [...EVENTS].sort((a, b) => a.at - b.at);
  assert.equal(
    model.events.map((e) => [e.index, e.kind, e.at, e.message]),
    sorted.map((e, i) => [String(i), e.kind, iso(e.at), e.message]),
  );
  assert.equal(
    model.events.map((e) => e.by),
    sorted.map((e) => (e.by ? `by ${e.by}` : '')),
  );
  const last = DETAIL.evaluations.at(-1)!;
  assert.is(model.verdict, 'revert');
  assert.equal(model.reasons, [...last.reasons]);
});

chromiumTest(S, 'a rollout not yet evaluated still draws: empty charts, a note, the stage start', async (ctx) => {
  const { model } = await show(ctx, renderRolloutPage(FRESH, { now: T0 + 46 * M, refreshSeconds: 5 }), readRollout);
  assert.ok(model.noEvaluations, 'the page says there is nothing yet');
  assert.is(model.refresh, '5');
  assert.is(model.figures.length, SLOS.length, 'a chart per SLO all the same');
  for (const f of model.figures) {
    assert.ok(f.noData, `${f.slo}: the chart says so`);
    assert.is(f.circles.length + f.sli.length + f.baseline.length + f.status.length, 0, `${f.slo}: nothing plotted`);
    assert.equal(
      f.markers.map((m) => [m.kind, m.at]),
      [['stage-start', iso(T0 + 45 * M)]],
    );
    assert.ok(f.levels.some((l) => l.cls.startsWith('threshold')), `${f.slo}: thresholds still shown`);
    assert.not.ok(f.attrs.some((a) => /NaN|Infinity|undefined/.test(a)), `${f.slo}: no attribute gone wrong`);
  }
  assert.equal(model.actions, []);
  assert.is(model.verdict, null, 'no latest evaluation');
  assert.is(model.events.length, 2);
  // Nothing to place at all (not even a stage start) must not break the chart either.
  const bare: RolloutDetail = { ...FRESH, stages: FRESH.stages.map(({ startedAt: _s, ...s }) => ({ ...s, state: 'pending' as const })), events: [] };
  const b = await show(ctx, renderRolloutPage(bare, { now: FRESH.createdAt }), readRollout);
  assert.is(b.model.figures.length, SLOS.length);
  for (const f of b.model.figures) assert.not.ok(f.attrs.some((a) => /NaN|Infinity|undefined/.test(a)), `${f.slo}: bare chart`);
});

const EVIL = '<script>window.__pwned=1</script>';

chromiumTest(S, 'strings from a rollout are shown as text, never run', async (ctx) => {
  const hostileSlo = `lat"ency<b>x</b>'`;
  const r: RolloutDetail = {
    ...DETAIL,
    name: `${EVIL} & "quoted"`,
    version: `v1<b>bold</b>`,
    reason: `because <img src=x onerror="window.__pwned=2">`,
    stages: DETAIL.stages.map((s) => ({ ...s, name: `${s.name}"><img src=x>`, scope: `${s.scope}<b>bold</b>` })),
    slos: DETAIL.slos.map((s, i) => (i === 1 ? { ...s, name: hostileSlo } : s)),
    evaluations: DETAIL.evaluations.map((e) => ({ ...e, slos: e.slos.map((p) => (p.name === 'latency-p99' ? { ...p, name: hostileSlo } : p)), reasons: [...e.reasons, `x: ${EVIL}`] })),
    actions: DETAIL.actions.map((a) => (a.kind === 'revert' ? { ...a, state: 'failed' as const, error: `HTTP 500: <html><script>window.__pwned=3</script>`, idempotencyKey: `${a.idempotencyKey}"'<>` } : a)),
    events: [...DETAIL.events, { at: ENDED, kind: 'abort', message: `<img src=x onerror="window.__pwned=4">`, by: `<b>mallory</b>` }],
  };
  const { model } = await show(ctx, renderRolloutPage(r, { now: ENDED + M }), readRollout);
  assert.not.ok(model.pwned, 'no injected script ran');
  assert.is(model.scripts, 0, 'no injected script element');
  assert.is(model.images, 0, 'no injected image');
  assert.is(model.bold, 0, 'no injected markup at all');
  assert.is(model.title, `${r.name} ${r.version} · hmd rollout`);
  assert.ok(model.h1.includes(r.name) && model.h1.includes(r.version!), model.h1);
  assert.is(model.reason, r.reason);
  assert.ok(
    model.stages.every((s, i) => s.cells[1] === r.stages[i]!.name && s.cells[2] === r.stages[i]!.scope),
    'stage names and scopes as text',
  );
  assert.equal(
    model.figures.map((f) => f.slo),
    r.slos.map((s) => s.name),
    'the SLO name survives in its attribute',
  );
  assert.is(model.figures[1]!.circles.length, valued(DETAIL, 'latency-p99').length, 'the renamed SLO is still drawn');
  assert.is(model.reasons.at(-1), `x: ${EVIL}`);
  const revert = model.actions.find((a) => a.kind === 'revert')!;
  assert.is(revert.state, 'failed');
  assert.is(revert.cells['error'], 'HTTP 500: <html><script>window.__pwned=3</script>', 'the error as text');
  assert.is(revert.cells['idempotency key'], `${ID}/1/revert"'<>`, 'the key as text');
  assert.is(model.events.at(-1)!.message, `<img src=x onerror="window.__pwned=4">`);
  assert.is(model.events.at(-1)!.by, 'by <b>mallory</b>');
  const index = await show(ctx, renderIndexPage([summary(r)], { now: ENDED + M, title: `fleet ${EVIL}` }), readIndex);
  assert.not.ok(index.model.pwned);
  assert.is(index.model.scripts + index.model.images, 0);
  assert.is(index.model.title, `fleet ${EVIL}`);
  assert.is(index.model.rows[0]!.link, r.name);
});

chromiumTest(S, 'the checks would notice: markup that escaped escaping is refused and logged', async (ctx) => {
  const html = renderRolloutPage(DETAIL, { now: ENDED + M }).replace('<main ', `<script>window.__pwned=1</script><img src="http://127.0.0.1:9/x.png"><main `);
  assert.ok(html.includes('__pwned'), 'the test markup went in');
  const { model, opened } = await show(ctx, html, readRollout, false);
  assert.is(model.scripts, 1);
  assert.is(model.images, 1);
  assert.not.ok(model.pwned, "the page's Content-Security-Policy stops the script");
  assert.ok(opened.consoleErrors.length > 0, 'and the refusal is logged');
});

chromiumTest(S, 'the index: rollouts newest first, linked relatively, with state badges', async (ctx) => {
  const weird: RolloutSummary = { id: 'odd id/1?x#y', name: 'odd-one', state: 'paused', stage: { index: 2, name: 'world' }, reason: 'held past maxPause 1h: latency-p99 no-data', createdAt: T0 - 60 * M, updatedAt: T0 };
  const done: RolloutSummary = { id: 'r-20250701-0600-billing', name: 'billing-worker', version: 'v9.0.1', state: 'completed', stage: { index: 2, name: 'world' }, reason: 'every stage passed', createdAt: T0 - 180 * M, updatedAt: T0 - 60 * M };
  const list = [done, summary(DETAIL), weird, summary(FRESH)];
  const { model } = await show(ctx, renderIndexPage(list, { now: T0 + 46 * M, refreshSeconds: 10 }), readIndex);
  assert.is(model.title, 'hmd rollouts');
  assert.is(model.refresh, '10');
  assert.is(model.scripts, 0);
  const expected = [FRESH, DETAIL, weird, done];
  assert.equal(
    model.rows.map((r) => r.id),
    expected.map((r) => r.id),
    'newest first',
  );
  assert.equal(
    model.rows.map((r) => r.href),
    ['rollouts/r-20250701-0944-search', `rollouts/${ID}`, 'rollouts/odd%20id%2F1%3Fx%23y', 'rollouts/r-20250701-0600-billing'],
  );
  assert.equal(
    model.rows.map((r) => [r.state, r.badge]),
    expected.map((r) => [r.state, r.state]),
  );
  model.rows.forEach((row, i) => {
    const r = expected[i]!;
    assert.is(row.link, r.name);
    assert.is(row.cells[1], r.version ?? '–');
    assert.is(row.cells[3], `${r.stage.index + 1}. ${r.stage.name}`);
    assert.is(row.cells[4], r.reason);
    assert.ok(row.cells[5]!.startsWith(`${iso(r.createdAt).slice(0, 10)} ${iso(r.createdAt).slice(11, 19)} UTC`), row.cells[5]);
  });
  assert.equal(model.counts, { all: '4', running: '1', reverted: '1', paused: '1', completed: '1' });
  const empty = await show(ctx, renderIndexPage([], { now: T0 }), readIndex);
  assert.ok(empty.model.empty, 'an empty list says so');
  assert.is(empty.model.rows.length, 0);
  assert.is(empty.model.refresh, null);
});

S.run();
