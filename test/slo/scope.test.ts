/** Release scopes: parsing `--scope`, and applying matchers or an info series to every selector. */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../../src/promql/engine.js';
import { parseExpr } from '../../src/promql/parser.js';
import { exprToString } from '../../src/promql/printer.js';
import { applyScope, formatScope, infoScope, matcherScope, parseScopeMatchers } from '../../src/slo/scope.js';
import { labelsFromRecord } from '../../src/storage/labels.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { diffResults } from '../helpers/series.js';

const S = suite('slo scope');

S('--scope text: =, !=, =~, !~, quoted values with commas, clear errors', () => {
  const ms = parseScopeMatchers(' tier=tier3, color=~"gr.*" ,datacenter!="a,b",canary!~x|y');
  assert.equal(ms.map(String), ['tier="tier3"', 'color=~"gr.*"', 'datacenter!="a,b"', 'canary!~"x|y"']);
  assert.throws(() => parseScopeMatchers(''), /empty scope/);
  assert.throws(() => parseScopeMatchers('tier'), /cannot read "tier"; write label=value pairs/);
  assert.throws(() => parseScopeMatchers('tier=~"("'), /tier=~"\(":/);
});

S('matchers are added to every selector, instant, range and inside subqueries', () => {
  const e = parseExpr('sum(rate(a{code=~"5.."}[5m])) / sum(rate(a[5m])) + max(b) + max_over_time(c[10m:1m] offset 5m)');
  const out = exprToString(applyScope(e, matcherScope(parseScopeMatchers('tier=tier3,color=green'))));
  assert.is(
    out,
    'sum(rate(a{code=~"5..", tier="tier3", color="green"}[5m])) / sum(rate(a{tier="tier3", color="green"}[5m])) + max(b{tier="tier3", color="green"}) + max_over_time(c{tier="tier3", color="green"}[10m:1m] offset 5m)',
  );
  assert.is(formatScope(matcherScope(parseScopeMatchers('tier=tier3'))), 'tier="tier3"');
});

S('an info scope joins each per-series value on the machine labels', () => {
  const sc = infoScope('hmd:release_scopes:info{tier="tier3",color="green"}', ['instance']);
  const out = exprToString(applyScope(parseExpr('sum(rate(a[5m])) / max(b) + max_over_time(c[10m:1m])'), sc));
  const info = 'hmd:release_scopes:info{tier="tier3", color="green"}';
  assert.is(out, `sum(rate(a[5m]) and on (instance) ${info}) / max(b and on (instance) ${info}) + max_over_time((c and on (instance) ${info})[10m:1m])`);
  assert.throws(() => infoScope('sum(x)', ['instance']), /must be an instant vector selector/);
  assert.throws(() => infoScope('x', []), /needs the labels that identify a machine/);
});

S('evaluated: an info scope selects the same machines as the equivalent matchers', async () => {
  const store = new MemoryStore();
  const t0 = Date.UTC(2025, 5, 12, 10);
  const machines = [
    { instance: 'a', tier: 'tier3', color: 'green' },
    { instance: 'b', tier: 'tier3', color: 'blue' },
    { instance: 'c', tier: 'tier2', color: 'green' },
  ];
  for (const [k, m] of machines.entries()) {
    for (let i = 0; i < 40; i++) {
      const t = t0 + i * 15_000 + 250;
      store.append(labelsFromRecord({ __name__: 'reqs', ...m, code: '500' }), t, i * (k + 1));
      store.append(labelsFromRecord({ __name__: 'reqs', ...m, code: '200' }), t, i * 10 * (k + 2));
      store.append(labelsFromRecord({ __name__: 'hmd:release_scopes:info', instance: m.instance, tier: m.tier, color: m.color }), t, 1);
    }
  }
  const q = parseExpr('sum(rate(reqs{code="500"}[5m])) / sum(rate(reqs[5m]))');
  const e = new Engine();
  const at = t0 + 9 * 60_000;
  const byMatchers = await e.instantQuery(store, applyScope(q, matcherScope(parseScopeMatchers('tier=tier3,color=green'))), at);
  const byInfo = await e.instantQuery(store, applyScope(q, infoScope('hmd:release_scopes:info{tier="tier3",color="green"}', ['instance'])), at);
  const fleet = await e.instantQuery(store, q, at);
  assert.equal(diffResults(byInfo.value, byMatchers.value), []);
  assert.ok(byMatchers.value.type === 'vector' && byMatchers.value.samples.length === 1);
  assert.ok(diffResults(fleet.value, byMatchers.value).length > 0, 'the scope changes the answer');
});

S.run();
