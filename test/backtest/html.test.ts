/**
 * The HTML report of a real batch (every bundled backtest on the fixture history, and a sweep of
 * the 5xx fail threshold), opened from a file in headless Chromium: one section and one chart
 * per SLO per run, lines that read back the values they draw, the hmd revert between the impact
 * and the people's revert, stage starts where stages started, a sweep row per setting, no request
 * beyond the file itself, no console error, and hostile names shown as text, never run.
 */

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runBatch, type BatchResult, type RunOutcome } from '../../src/backtest/batch.js';
import { renderHtmlReport } from '../../src/backtest/html.js';
import { parseSetFlag } from '../../src/backtest/overrides.js';
import type { ReplayResult } from '../../src/backtest/replay.js';
import { chromiumTest, launchChromium, openHtml, type OpenedPage } from '../helpers/chromium.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BACKTESTS = join(ROOT, 'backtests');
const FILES = readdirSync(BACKTESTS)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => join(BACKTESTS, f));
const BAD = 'v1.6.0-bad-canary';
const SWEEP_FLAG = 'slo[http-5xx-ratio].judgement.thresholds.fail=0.01,0.02';
const AT = new Date(Date.UTC(2025, 5, 14, 12));

// ── what the page shows, read in the browser ─────────────────────────────────────────────────

/** The little of the DOM the reader uses (the project compiles without the DOM library). */
interface El {
  readonly id: string;
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  getAttributeNames(): string[];
  querySelector(sel: string): El | null;
  querySelectorAll(sel: string): ArrayLike<El>;
  getBoundingClientRect(): { x: number; y: number; width: number; height: number };
  readonly points?: { readonly numberOfItems: number; getItem(i: number): { x: number; y: number } };
}

interface ChartModel {
  slo: string;
  plot: { x: number; y: number; width: number; height: number };
  sli: [number, number][][];
  baseline: [number, number][][];
  trace: [number, number][][];
  dots: number;
  /** Vertical markers: classes, the x of their rendered box, and their viewBox x. */
  markers: { cls: string; clientX: number; x: number }[];
  markerLabels: { cls: string; text: string }[];
  levels: { cls: string; y: number }[];
  yTicks: { text: string; y: number }[];
  status: string[];
  noData: boolean;
  offChart: string;
  /** Every attribute value in the chart. */
  attrs: string[];
  renderedWidth: number;
}

interface SectionModel {
  id: string;
  name: string | null;
  heading: string;
  charts: ChartModel[];
  stageRows: string[][];
  reasons: string[];
  expectations: { cls: string; text: string }[];
  error: string | null;
}

interface PageModel {
  title: string;
  headerText: string;
  summaryHead: string[];
  summaryRows: { href: string | null; text: string }[];
  sweepRows: { setting: string | null; cells: Record<string, string> }[];
  sections: SectionModel[];
  scripts: number;
  images: number;
  pwned: boolean;
}

/** Runs in the page: self-contained, as Playwright sends it over as source. */
function readPage(): PageModel {
  const g = globalThis as unknown as { document: El & { title: string }; __pwned?: unknown };
  const doc = g.document;
  const all = (root: El, sel: string) => Array.from(root.querySelectorAll(sel));
  const text = (e: El | null) => (e?.textContent ?? '').trim();
  const attr = (e: El, a: string) => Number(e.getAttribute(a));
  const pts = (e: El): [number, number][] =>
    Array.from({ length: e.points!.numberOfItems }, (_, i) => {
      const p = e.points!.getItem(i);
      return [p.x, p.y];
    });
  const chart = (svg: El): ChartModel => {
    const plot = svg.querySelector('rect.plot')!;
    const gridY = all(svg, 'line.grid.y');
    return {
      slo: svg.getAttribute('data-slo') ?? '',
      plot: { x: attr(plot, 'x'), y: attr(plot, 'y'), width: attr(plot, 'width'), height: attr(plot, 'height') },
      sli: all(svg, 'polyline.sli').map(pts),
      baseline: all(svg, 'polyline.baseline').map(pts),
      trace: all(svg, 'polyline.trace').map(pts),
      dots: all(svg, 'circle.point').length,
      markers: all(svg, 'line.marker').map((m) => {
        const b = m.getBoundingClientRect();
        return { cls: m.getAttribute('class') ?? '', clientX: b.x + b.width / 2, x: attr(m, 'x1') };
      }),
      markerLabels: all(svg, 'text.marker-label').map((t) => ({ cls: t.getAttribute('class') ?? '', text: text(t) })),
      levels: all(svg, 'line.threshold, line.burn-rate').map((l) => ({ cls: l.getAttribute('class') ?? '', y: attr(l, 'y1') })),
      yTicks: all(svg, 'text.tick.y').map((t, i) => ({ text: text(t), y: attr(gridY[i]!, 'y1') })),
      status: all(svg, 'rect.status').map((r) => r.getAttribute('class') ?? ''),
      noData: svg.querySelector('text.no-data') !== null,
      offChart: text(svg.querySelector('text.off-chart')),
      attrs: all(svg, '*').flatMap((e) => e.getAttributeNames().map((n) => e.getAttribute(n) ?? '')),
      renderedWidth: svg.getBoundingClientRect().width,
    };
  };
  return {
    title: doc.title,
    headerText: text(doc.querySelector('header')),
    summaryHead: all(doc, 'table.runs thead th').map(text),
    summaryRows: all(doc, 'table.runs tbody tr').map((tr) => ({ href: tr.querySelector('a')?.getAttribute('href') ?? null, text: text(tr) })),
    sweepRows: all(doc, 'table.sweep tbody tr').map((tr) => ({
      setting: tr.getAttribute('data-setting'),
      cells: Object.fromEntries(all(tr, 'td').map((td) => [td.getAttribute('class') ?? '', text(td)])),
    })),
    sections: all(doc, 'section.run').map((s) => ({
      id: s.id,
      name: s.getAttribute('data-name'),
      heading: text(s.querySelector('h2')),
      charts: all(s, 'svg.chart').map(chart),
      stageRows: all(s, 'table.stages tbody tr').map((tr) => all(tr, 'td').map(text)),
      reasons: all(s, 'ul.reasons li').map(text),
      expectations: all(s, 'ul.expectations li').map((li) => ({ cls: li.getAttribute('class') ?? '', text: text(li) })),
      error: s.querySelector('p.error') ? text(s.querySelector('p.error')) : null,
    })),
    scripts: all(doc, 'script').length,
    images: all(doc, 'img').length,
    pwned: g.__pwned !== undefined,
  };
}

// ── expectations from the batch itself ───────────────────────────────────────────────────────

/** Per evaluation: does the named SLO have a finite value there. */
function hasValue(x: ReplayResult, slo: string, key: 'sli' | 'baseline'): boolean[] {
  return x.evaluations.map((e) => {
    const v = e.slos.find((s) => s.name === slo)?.[key];
    return v !== undefined && Number.isFinite(v);
  });
}

/** Maximal stretches of consecutive evaluations with a value: the pieces of a broken line. */
function stretches(flags: readonly boolean[]): number {
  return flags.filter((f, i) => f && !flags[i - 1]).length;
}

/** The value at a height, read off the chart's own y tick labels. */
function readY(c: ChartModel, y: number): number {
  const [a, b] = [c.yTicks[0]!, c.yTicks.at(-1)!];
  return Number(a.text) + ((y - a.y) * (Number(b.text) - Number(a.text))) / (b.y - a.y);
}

function axisSpan(c: ChartModel): number {
  return Math.abs(Number(c.yTicks.at(-1)!.text) - Number(c.yTicks[0]!.text));
}

const result = (r: RunOutcome): ReplayResult => {
  assert.ok(r.result, `${r.name}: ${r.error}`);
  return r.result;
};

// ── the suite ────────────────────────────────────────────────────────────────────────────────

interface Ctx {
  batch: BatchResult;
  sweep: BatchResult;
  browser?: Browser;
}

const S = suite<Ctx>('backtest HTML report', {} as Ctx);

S.before(async (ctx) => {
  ctx.batch = await runBatch({ files: FILES, concurrency: 4 });
  ctx.sweep = await runBatch({ files: [join(BACKTESTS, `${BAD}.yaml`), join(BACKTESTS, 'healthy-over-crash.yaml')], sets: [parseSetFlag(SWEEP_FLAG)], concurrency: 4 });
});

S.after(async (ctx) => {
  await ctx.browser?.close();
});

/** Opens a report and reads it; the page must ask for nothing but its own file and log no error. */
async function show(ctx: Ctx, html: string, check = true): Promise<{ model: PageModel; opened: OpenedPage }> {
  ctx.browser ??= await launchChromium();
  const opened = await openHtml(ctx.browser, html);
  try {
    const model = await opened.page.evaluate(readPage);
    if (check) {
      assert.equal(opened.requests, [opened.url], 'the page requests nothing beyond itself');
      assert.equal(opened.consoleErrors, [], 'no console errors');
      assert.is(model.scripts, 0, 'no script element');
    }
    return { model, opened };
  } finally {
    await opened.close();
  }
}

S('the batch ran every bundled backtest, and the document stands alone', (ctx) => {
  assert.ok(FILES.length >= 2, 'bundled backtests found');
  assert.is(ctx.batch.runs.length, FILES.length);
  const html = renderHtmlReport(ctx.batch, { generatedAt: AT });
  assert.ok(html.startsWith('<!doctype html>'));
  assert.not.match(html, /<script/i, 'no script');
  assert.not.match(html, /\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i, 'nothing fetched from elsewhere');
  assert.not.match(html, /NaN|Infinity/, 'no number gone wrong');
  assert.ok(html.includes('2025-06-14 12:00:00 UTC'), 'the generated time given is shown');
});

chromiumTest(S, 'one section per run, linked from the summary table, with one chart per SLO', async (ctx) => {
  const { batch } = ctx;
  const { model } = await show(ctx, renderHtmlReport(batch, { title: 'nightly backtests', generatedAt: AT }));
  assert.is(model.title, 'nightly backtests');
  for (const figure of [batch.stats.backtests, batch.stats.evaluations, batch.stats.queriesAsked, batch.stats.queriesSent]) {
    assert.ok(model.headerText.includes(String(figure)), `header shows ${figure}: ${model.headerText}`);
  }
  assert.is(model.sections.length, batch.runs.length);
  assert.is(model.summaryRows.length, batch.runs.length);
  assert.not.ok(model.summaryHead.includes('setting'), 'one setting: no setting column');
  assert.is(model.sweepRows.length, 0, 'one setting: no sweep table');
  let charts = 0;
  batch.runs.forEach((run, i) => {
    const s = model.sections[i]!;
    const x = result(run);
    assert.is(s.name, run.name);
    assert.is(model.summaryRows[i]!.href, `#${s.id}`, `${run.name}: the summary row links to its section`);
    assert.ok(model.summaryRows[i]!.text.includes(run.name));
    assert.equal(
      s.charts.map((c) => c.slo),
      x.slos.map((slo) => slo.name),
      `${run.name}: a chart per SLO`,
    );
    assert.is(s.stageRows.length, x.stages.length, `${run.name}: a row per stage`);
    assert.equal(
      s.stageRows.map((r) => [r[0], r[1], r.at(-2)]),
      x.stages.map((st) => [st.name, st.scope, st.outcome]),
    );
    assert.is(s.expectations.length, x.expectations.length);
    s.expectations.forEach((e, j) => assert.ok(e.text.startsWith(x.expectations[j]!.ok ? '✓' : '✗'), `${run.name}: ${e.text}`));
    assert.is(s.reasons.length, x.revert?.reasons.length ?? 0, `${run.name}: the revert's reasons`);
    for (const c of s.charts) assert.ok(c.renderedWidth > 300, `${run.name}/${c.slo} is drawn at a readable width`);
    charts += s.charts.length;
  });
  assert.ok(charts > batch.runs.length, 'runs have several SLOs');
});

chromiumTest(S, 'the SLI lines: a point per evaluation with a value, broken at gaps, at the height of their value', async (ctx) => {
  const { batch } = ctx;
  const { model } = await show(ctx, renderHtmlReport(batch, { generatedAt: AT }));
  let drawn = 0;
  let broken = 0;
  batch.runs.forEach((run, i) => {
    const x = result(run);
    model.sections[i]!.charts.forEach((c, j) => {
      const slo = x.slos[j]!.name;
      const where = `${run.name}/${slo}`;
      const sli = hasValue(x, slo, 'sli');
      const base = hasValue(x, slo, 'baseline');
      const values = x.evaluations.map((e) => e.slos.find((s) => s.name === slo)?.sli).filter((v): v is number => v !== undefined && Number.isFinite(v));
      assert.is(c.sli.flat().length, values.length, `${where}: SLI points`);
      assert.is(c.dots, values.length, `${where}: status dots`);
      assert.is(c.sli.length, stretches(sli), `${where}: SLI line pieces`);
      assert.is(c.baseline.flat().length, base.filter(Boolean).length, `${where}: baseline points`);
      assert.is(c.baseline.length, stretches(base), `${where}: baseline line pieces`);
      assert.is(c.status.length, x.evaluations.length, `${where}: a status cell per evaluation`);
      assert.ok(c.yTicks.length >= 2, `${where}: y ticks`);
      const xs = c.sli.flat().map((p) => p[0]);
      // Not strictly: a plan's promoting evaluation and the next stage's first share their time.
      xs.forEach((v, k) => k > 0 && assert.ok(v >= xs[k - 1]!, `${where}: time runs left to right`));
      c.sli.flat().forEach(([px, py], k) => {
        assert.ok(px >= c.plot.x && px <= c.plot.x + c.plot.width && py >= c.plot.y && py <= c.plot.y + c.plot.height, `${where}: point ${k} inside the plot`);
        assert.ok(Math.abs(readY(c, py) - values[k]!) <= axisSpan(c) * 0.01, `${where}: point ${k} at ${values[k]} reads ${readY(c, py)}`);
      });
      assert.not.ok(c.attrs.some((a) => /NaN|Infinity/.test(a)), `${where}: no attribute gone wrong`);
      // The faint trace: a point for every traced value, from before the first evaluation.
      const traced = x.trace.map((p) => p.slos.find((s) => s.name === slo)?.sli).filter((v) => v !== undefined && Number.isFinite(v));
      assert.is(c.trace.flat().length, traced.length, `${where}: trace points`);
      if (traced.length && c.sli.length) assert.ok(c.trace.flat()[0]![0] < c.sli.flat()[0]![0], `${where}: the trace starts before the release`);
      drawn += values.length;
      if (c.sli.length > 1) broken++;
    });
  });
  assert.ok(drawn > 0, 'some SLI was drawn');
  assert.ok(broken > 0, 'the scrape gap breaks a line');
});

chromiumTest(S, 'thresholds and near burn-rate levels are drawn at their value', async (ctx) => {
  const { batch } = ctx;
  const { model } = await show(ctx, renderHtmlReport(batch, { generatedAt: AT }));
  let seen = 0;
  let burnSeen = 0;
  batch.runs.forEach((run, i) => {
    const x = result(run);
    model.sections[i]!.charts.forEach((c, j) => {
      const t = x.slos[j]!.thresholds;
      for (const level of ['warn', 'fail'] as const) {
        const lines = c.levels.filter((l) => l.cls === `threshold ${level}`);
        assert.is(lines.length, t?.[level] !== undefined ? 1 : 0, `${run.name}/${c.slo}: ${level} threshold`);
        if (lines[0]) {
          assert.ok(Math.abs(readY(c, lines[0].y) - t![level]!) <= axisSpan(c) * 0.01, `${run.name}/${c.slo}: ${level} line at ${t![level]}`);
          seen++;
        }
      }
      // Burn-rate levels: drawn when within 3x of the highest value or threshold, at their value.
      const slo = x.slos[j]!;
      const top = Math.max(...x.evaluations.flatMap((e) => e.slos.filter((p) => p.name === slo.name).flatMap((p) => [p.sli ?? -Infinity, p.baseline ?? -Infinity])), t?.warn ?? -Infinity, t?.fail ?? -Infinity);
      const near = (slo.burnRates ?? []).filter((b) => b.level <= 3 * top);
      const burns = c.levels.filter((l) => l.cls.startsWith('burn-rate'));
      assert.is(burns.length, near.length, `${run.name}/${c.slo}: burn-rate levels`);
      for (const b of near) assert.ok(burns.some((l) => Math.abs(readY(c, l.y) - b.level) <= axisSpan(c) * 0.01), `${run.name}/${c.slo}: a burn-rate line at ${b.level}`);
      burnSeen += burns.length;
    });
  });
  assert.ok(seen > 0, 'some threshold was drawn');
  assert.ok(burnSeen > 0, 'some burn-rate level was drawn');
});

chromiumTest(S, "markers: the bad canary's hmd revert lies between the impact and the people's revert; no revert, no marker; a line per stage started", async (ctx) => {
  const { batch } = ctx;
  const { model } = await show(ctx, renderHtmlReport(batch, { generatedAt: AT }));
  const only = (c: ChartModel, cls: string) => c.markers.filter((m) => m.cls.split(' ').includes(cls));
  const bad = batch.runs.findIndex((r) => r.name === BAD);
  assert.ok(bad >= 0, `${BAD} is among the bundled backtests`);
  const inc = result(batch.runs[bad]!);
  assert.ok(inc.revert && inc.incident?.reverted !== undefined, `${BAD}: reverted by hmd, and by people`);
  assert.ok(inc.incident.impactStart < inc.revert.at && inc.revert.at < inc.incident.reverted, 'the data says hmd came between');
  for (const c of model.sections[bad]!.charts) {
    const [revert, impact, people] = [only(c, 'revert'), only(c, 'impact'), only(c, 'actual-revert')];
    assert.is(revert.length, 1, `${c.slo}: one hmd revert marker`);
    assert.is(impact.length, 1, `${c.slo}: one impact marker`);
    assert.is(people.length, 1, `${c.slo}: one actual-revert marker`);
    assert.ok(impact[0]!.clientX < revert[0]!.clientX && revert[0]!.clientX < people[0]!.clientX, `${c.slo}: ${impact[0]!.clientX} < ${revert[0]!.clientX} < ${people[0]!.clientX}`);
    assert.ok(c.markerLabels.some((l) => l.cls.includes('revert') && l.text === 'hmd revert'), `${c.slo}: labelled "hmd revert"`);
  }
  let quiet = 0;
  batch.runs.forEach((run, i) => {
    const x = result(run);
    const started = x.stages.filter((s) => s.start !== undefined).length;
    for (const c of model.sections[i]!.charts) {
      assert.is(only(c, 'revert').length, x.revert ? 1 : 0, `${run.name}/${c.slo}: revert markers`);
      assert.is(only(c, 'stage-start').length, started, `${run.name}/${c.slo}: stage-start markers`);
      assert.is(only(c, 'impact').length, x.incident ? 1 : 0, `${run.name}/${c.slo}: impact markers`);
      for (const m of c.markers) assert.ok(m.x >= c.plot.x && m.x <= c.plot.x + c.plot.width, `${run.name}/${c.slo}: ${m.cls} inside the plot`);
    }
    if (x.kind === 'healthy' && !x.revert) quiet++;
  });
  assert.ok(quiet > 0, 'some healthy run was left alone (and has no revert marker)');
});

chromiumTest(S, 'a sweep: a setting column, and one sweep row per setting with the figures of its runs', async (ctx) => {
  const { sweep } = ctx;
  const settings = [...new Set(sweep.runs.map((r) => r.setting))];
  assert.is(settings.length, parseSetFlag(SWEEP_FLAG).values.length, 'a setting per value of the flag');
  const { model } = await show(ctx, renderHtmlReport(sweep, { generatedAt: AT }));
  assert.is(model.sections.length, sweep.runs.length);
  assert.ok(model.summaryHead.includes('setting'));
  assert.equal(
    model.sweepRows.map((r) => r.setting),
    settings,
  );
  for (const row of model.sweepRows) {
    const mine = sweep.runs.filter((r) => r.setting === row.setting).map(result);
    const incidents = mine.filter((x) => x.kind === 'incident');
    assert.ok(row.cells['setting']!.includes(row.setting!), 'the setting is named');
    assert.is(row.cells['incidents'], String(incidents.length), `${row.setting}: incidents`);
    assert.is(row.cells['reverted'], String(incidents.filter((x) => x.revert).length), `${row.setting}: reverted`);
    assert.is(row.cells['missed'], String(incidents.filter((x) => x.missed).length), `${row.setting}: missed`);
    assert.is(row.cells['healthy'], String(mine.length - incidents.length), `${row.setting}: healthy`);
    assert.is(row.cells['false-reverts'], String(mine.filter((x) => x.falseRevert).length), `${row.setting}: false reverts`);
  }
});

chromiumTest(S, 'strings from specs and results are shown as text, never run', async (ctx) => {
  const evil = '<script>window.__pwned=1</script>';
  const base = ctx.batch.runs.find((r) => r.name === BAD)!;
  const x = result(base);
  const hostile: RunOutcome = {
    ...base,
    name: `${evil} & "quoted"`,
    setting: `x="><img src=x onerror="window.__pwned=2">`,
    result: {
      ...x,
      description: `<img src=x onerror="window.__pwned=3">`,
      stages: x.stages.map((s) => ({ ...s, scope: `${s.scope}<b>bold</b>` })),
      revert: { ...x.revert!, reasons: [`http-5xx-ratio: ${evil}`] },
    },
  };
  const broken: RunOutcome = { ...base, name: 'broken', status: 'error', error: `cannot read ${evil}` };
  delete (broken as { result?: unknown }).result;
  const batch = { runs: [ctx.batch.runs[0]!, hostile, broken], stats: ctx.batch.stats };
  const { model } = await show(ctx, renderHtmlReport(batch, { title: `report ${evil}`, generatedAt: AT }));
  assert.not.ok(model.pwned, 'no injected script ran');
  assert.is(model.images, 0, 'no injected image');
  assert.is(model.title, `report ${evil}`);
  const s = model.sections[1]!;
  assert.is(s.name, hostile.name, 'the attribute holds the name as given');
  assert.ok(s.heading.includes(hostile.name), 'the heading shows the name as text');
  assert.equal(s.reasons, [`http-5xx-ratio: ${evil}`]);
  assert.ok(s.stageRows.every((r) => r[1]!.endsWith('<b>bold</b>')), 'scopes as text');
  assert.ok(model.summaryRows[1]!.text.includes(hostile.name));
  assert.is(model.sections[2]!.error, broken.error, 'an error run shows its error');
  assert.is(model.sections[2]!.charts.length, 0);
});

chromiumTest(S, 'the checks would notice: markup that escaped escaping is refused and logged', async (ctx) => {
  const name = ctx.batch.runs[0]!.name;
  const html = renderHtmlReport(ctx.batch, { generatedAt: AT }).replace(`<h2>${name} `, `<h2><script>window.__pwned=1</script><img src="http://127.0.0.1:9/x.png">${name} `);
  assert.ok(html.includes('__pwned'), 'the test markup went in');
  const { model, opened } = await show(ctx, html, false);
  assert.is(model.scripts, 1);
  assert.not.ok(model.pwned, "the page's Content-Security-Policy stops the script");
  assert.ok(opened.consoleErrors.length > 0, 'and the refusal is logged');
});

chromiumTest(S, 'an SLO without any value, and one with a constant value, still draw', async (ctx) => {
  const base = ctx.batch.runs.find((r) => r.name === BAD)!;
  const x = result(base);
  const [empty, flat] = [x.slos[0]!.name, x.slos[1]!.name];
  const evaluations = x.evaluations.map((e) => ({
    ...e,
    slos: e.slos.map((p) => (p.name === empty ? { name: p.name, status: 'no-data' as const } : p.name === flat ? { name: p.name, status: 'pass' as const, sli: 0.5 } : p)),
  }));
  // Without thresholds, nothing but the constant itself decides the axis; a burn-rate level far above it stays off.
  const far = { level: 50, factor: 100, severity: 'fail' as const, window: '1h/5m' };
  const slos = x.slos.map(({ thresholds, burnRates, ...bare }) => (bare.name === flat ? { ...bare, burnRates: [far] } : { ...bare, ...(thresholds ? { thresholds } : {}), ...(burnRates ? { burnRates } : {}) }));
  // The trace around the evaluations goes the same way: nothing for one, the constant for the other.
  const trace = x.trace.map((p) => ({ ...p, slos: p.slos.map((q) => (q.name === empty ? { name: q.name } : q.name === flat ? { name: q.name, sli: 0.5 } : q)) }));
  const run: RunOutcome = { ...base, result: { ...x, slos, evaluations, trace } };
  const { model } = await show(ctx, renderHtmlReport({ runs: [run], stats: ctx.batch.stats }, { generatedAt: AT }));
  const [a, b] = model.sections[0]!.charts;
  assert.ok(a && b);
  assert.ok(a.noData, 'the empty chart says so');
  assert.is(a.sli.length + a.baseline.length + a.dots, 0);
  assert.ok(a.status.every((c) => c.includes('s-no-data')) && a.status.length === evaluations.length, 'its status band shows no data');
  assert.is(a.markers.filter((m) => m.cls.includes('revert')).length, 2, 'markers still drawn (hmd and people)');
  assert.not.ok(b.noData);
  assert.is(b.levels.length, 0, 'no thresholds on the constant chart, and the far burn-rate level left off');
  assert.ok(b.offChart.includes('100×'), `the far level is named: ${b.offChart}`);
  assert.is(b.sli.flat().length, evaluations.length);
  assert.is(new Set(b.sli.flat().map((p) => p[1])).size, 1, 'a constant is a flat line');
  for (const [, py] of b.sli.flat()) assert.ok(Math.abs(readY(b, py) - 0.5) <= axisSpan(b) * 0.01);
  for (const c of [a, b]) assert.not.ok(c.attrs.some((v) => /NaN|Infinity/.test(v)), `${c.slo}: no attribute gone wrong`);
});

S.run();
