/**
 * The status pages as the daemon serves them, in real headless Chromium: after the bundled bad
 * release is reverted at its canary, the rollout page shows its stages, a chart per SLO with the
 * revert drawn where it was decided, the action and the audit trail; the index lists it. The
 * pages load nothing from elsewhere and raise no error.
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { chromiumTest, launchChromium, openUrl } from '../helpers/chromium.js';
import { badRelease, call, finished, harness, waitFor } from '../helpers/daemon.js';

const S = suite('daemon status pages');

chromiumTest(S, 'the served rollout page shows stages, a chart per SLO with the revert where it was decided, actions and events', async () => {
  const h = await harness('2025-06-13T09:34:00Z');
  let browser: Browser | undefined;
  try {
    assert.is((await call(h.daemon.url, 'POST', '/api/v1/rollouts', { body: badRelease() })).status, 201);
    const d = await waitFor(h.daemon.url, 'r-1', finished);
    const revertAt = String(d.actions[0]!.createdAt);
    browser = await launchChromium();

    const p = await openUrl(browser, `${h.daemon.url}/rollouts/r-1`);
    try {
      const stages = await p.page.$$eval('tr[data-stage]', (rows) => rows.map((r) => [r.getAttribute('data-stage'), r.getAttribute('data-state'), r.textContent ?? '']));
      assert.equal(stages.map((s) => [s[0], s[1]]), [
        ['0', 'reverted'],
        ['1', 'pending'],
        ['2', 'pending'],
      ]);
      assert.match(stages[0]![2]!, /datacenter=dc2,tier=tier3,color=green/);
      const figures = await p.page.$$eval('figure[data-slo]', (fs) => fs.map((f) => f.getAttribute('data-slo')));
      assert.equal(figures, ['http-5xx-ratio', 'latency-p99']);
      // The revert marker sits at the decision's time, in each chart, and points were drawn.
      const markers = await p.page.$$eval('figure[data-slo="http-5xx-ratio"] .marker[data-kind="revert"]', (ms) => ms.map((m) => m.getAttribute('data-at')));
      assert.equal(markers, [revertAt]);
      const dots = await p.page.$$eval('figure[data-slo="http-5xx-ratio"] circle', (cs) => cs.length);
      assert.ok(dots >= d.evaluations.length - 1, `${dots} points for ${d.evaluations.length} evaluations`);
      const actions = await p.page.$$eval('tr[data-action]', (rows) => rows.map((r) => [r.getAttribute('data-kind'), r.getAttribute('data-state'), r.textContent ?? '']));
      assert.equal(actions.map((a) => [a[0], a[1]]), [['revert', 'succeeded']]);
      assert.match(actions[0]![2]!, /r-1\/0\/revert/);
      const events = await p.page.$$eval('li[data-event]', (ls) => ls.map((l) => l.getAttribute('data-kind')));
      assert.equal(events, ['created', 'revert', 'action-succeeded', 'reverted']);
      const badge = await p.page.$eval('header .badge, .badge', (b) => b.getAttribute('data-state'));
      assert.is(badge, 'reverted');
      assert.equal(p.consoleErrors, []);
      assert.equal(p.requests, [`${h.daemon.url}/rollouts/r-1`], 'the page loads nothing else');
    } finally {
      await p.close();
    }

    const index = await openUrl(browser, `${h.daemon.url}/`);
    try {
      const rows = await index.page.$$eval('tr[data-rollout]', (rs) => rs.map((r) => [r.getAttribute('data-rollout'), r.getAttribute('data-state'), r.querySelector('a')?.getAttribute('href')]));
      assert.equal(rows, [['r-1', 'reverted', 'rollouts/r-1']]);
      // The link leads to the rollout's page.
      await index.page.click('tr[data-rollout="r-1"] a');
      await index.page.waitForLoadState('load');
      assert.is(index.page.url(), `${h.daemon.url}/rollouts/r-1`);
      assert.equal(index.consoleErrors, []);
    } finally {
      await index.close();
    }
  } finally {
    await browser?.close();
    await h.stop();
  }
});

S.run();
