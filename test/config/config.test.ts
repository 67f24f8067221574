/** hmd.yaml: the loader's values, its located errors, and the published schema kept in step. */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMAND_KEYS, ConfigError, DAEMON_KEYS, DAEMON_TOKEN_KEYS, ENGINE_KEYS, HOOK_KEYS, WEBHOOK_KEYS, LIMITER_CLASS_KEYS, LIMITER_KEYS, LIMITER_RETRY_KEYS, LIMITER_WINDOW_KEYS, loadConfig, parseConfig, PROXY_KEYS, QUERY_KEYS, resolveTimeBound, TOP_KEYS } from '../../src/config/config.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const S = suite('config');

/** The error parseConfig throws for `text`, checked to be a located ConfigError. */
function error(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    parseConfig(text, 'hmd.yaml', env);
  } catch (err) {
    assert.instance(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected an error for:\n${text}`);
}

const ENGINE = (extra = '') => `engines:\n  - name: dc1\n    url: http://p1:9090\n    labels: {datacenter: dc1}\n${extra}`;

S('the bundled example loads with every field', () => {
  const env = { DC3_ARCHIVE_TOKEN: 's3cr3t', HMD_CI_TOKEN: 'ci-token-0123456789ab', DEPLOY_TOKEN: 'deploy-0123' };
  const c = loadConfig(join(ROOT, 'examples/hmd.yaml'), env);
  const day = 86_400_000;
  assert.equal(c.engines, [
    { name: 'dc1', url: 'http://prometheus-dc1.internal:9090', labels: { datacenter: 'dc1' } },
    { name: 'dc2', url: 'http://prometheus-dc2.internal:9090', labels: { datacenter: 'dc2' }, timeoutMs: 30_000 },
    { name: 'dc3-recent', url: 'http://prometheus-dc3.internal:9090', labels: { datacenter: 'dc3' }, minTime: { kind: 'relative', offsetMs: -15 * day } },
    {
      name: 'dc3-archive',
      url: 'https://thanos-dc3.internal', // trailing slash dropped
      labels: { datacenter: 'dc3' },
      maxTime: { kind: 'relative', offsetMs: -14 * day },
      headers: { 'X-Scope-OrgID': 'release-eng' },
      bearerToken: 's3cr3t',
      connections: 8,
    },
  ]);
  assert.equal(c.query, { partialResponse: false, lookbackDeltaMs: 300_000, timeoutMs: 120_000 });
  assert.equal([c.daemon.listen, c.daemon.db, c.daemon.tokens], ['127.0.0.1:9797', join(ROOT, 'examples/hmd-daemon.db'), [{ name: 'ci', token: env.HMD_CI_TOKEN }]]);
  assert.equal(c.daemon.hooks.map((h) => [h.name, h.webhook?.url, h.webhook?.headers?.['Authorization']]), [
    ['deploy', 'https://deploy.internal/hooks/hmd', 'Bearer deploy-0123'],
    ['rollback', 'https://deploy.internal/hooks/hmd-rollback', 'Bearer deploy-0123'],
  ]);
  assert.equal(c.daemon.defaultHooks, { promote: 'deploy', revert: 'rollback' });
  assert.throws(() => loadConfig(join(ROOT, 'examples/hmd.yaml'), {}), /examples\/hmd.yaml:\d+:\d+: environment variable DC3_ARCHIVE_TOKEN is not set/);
});

S('absolute times, and resolveTimeBound', () => {
  const c = parseConfig(ENGINE('    minTime: 2025-06-01T00:00:00Z\n    maxTime: "2025-07-01T00:00:00+02:00"\n'), 'x.yaml');
  assert.equal(c.engines[0]!.minTime, { kind: 'absolute', ms: Date.UTC(2025, 5, 1) });
  assert.equal(c.engines[0]!.maxTime, { kind: 'absolute', ms: Date.UTC(2025, 5, 30, 22) });
  assert.is(resolveTimeBound({ kind: 'relative', offsetMs: -1000 }, 5000, 0), 4000);
  assert.is(resolveTimeBound({ kind: 'absolute', ms: 7 }, 5000, 0), 7);
  assert.is(resolveTimeBound(undefined, 5000, -Infinity), -Infinity);
});

S('errors carry file:line:column and say what to do', () => {
  const cases: [string, RegExp, number, number][] = [
    [ENGINE('    lables: {}\n'), /unknown key "lables" in an engine; allowed: name, url, labels/, 5, 5],
    ['engines:\n  - name: dc1\n    url: ftp://x\n', /url must be http:\/\/ or https:\/\//, 3, 10],
    ['engines:\n  - name: dc1\n    url: not a url\n', /is not a URL/, 3, 10],
    ['engines:\n  - name: "dc 1"\n    url: http://x\n', /use letters, digits/, 2, 11],
    ['engines:\n  - url: http://x\n', /missing `name`/, 2, 5],
    ['engines:\n  - name: a\n    url: http://x\n    labels: {dc: 1}\n  - name: b\n    url: http://y\n    labels: {dc: "2"}\n', /expected a string \(quote it: "1"\)/, 4, 18],
    ['engines:\n  - name: a\n    url: http://x\n    labels: {dc: a}\n  - name: a\n    url: http://y\n    labels: {dc: b}\n', /used twice/, 5, 11],
    ['engines:\n  - name: a\n    url: http://x\n    labels: {dc: a}\n  - name: b\n    url: http://y\n    labels: {region: b}\n', /every engine must declare the same label names/, 5, 5],
    ['engines:\n  - name: a\n    url: http://x\n    labels: {dc: a}\n  - name: b\n    url: http://y\n    labels: {dc: a}\n', /engines a and b own the same labels \{dc: a\} and the same time range/, 5, 5],
    ['engines:\n  - name: a\n    url: http://x\n    labels: {__dc: a}\n', /not a valid external label name/, 4, 14],
    [ENGINE('    timeout: soon\n'), /"soon" is not a positive duration/, 5, 14],
    [ENGINE('    minTime: yesterday\n'), /neither a duration before now/, 5, 14],
    [ENGINE('    minTime: 2025-07-01T00:00:00Z\n    maxTime: 2025-06-01T00:00:00Z\n'), /maxTime must be after minTime/, 6, 14],
    [ENGINE('    bearerToken: x\n    bearerTokenFile: y\n'), /bearerToken or bearerTokenFile, not both/, 6, 22],
    [ENGINE('    bearerToken: x\n    headers: {Authorization: Basic y}\n'), /conflict; keep one/, 6, 14],
    [ENGINE('    connections: 0\n'), /positive integer/, 5, 18],
    [ENGINE('    bearerToken: ${NOPE}\n'), /environment variable NOPE is not set/, 5, 18],
    [ENGINE('query:\n  partialResponse: yes please\n'), /expected true or false/, 6, 20],
    ['engines: []\n', /non-empty list/, 1, 10],
    ['engines:\n  - name: a\n   url: x\n', /YAML syntax/, 3, 1],
    ['', /the file is empty/, 1, 1],
    ['# only a comment\n', /the file is empty/, 1, 1],
    ['- engines\n', /expected a mapping with `engines:`/, 1, 1],
    ['engine:\n  - name: a\n', /unknown key "engine" in the top level; allowed: engines, query, limiter, proxy/, 1, 1],
    ['engines: {name: a}\n', /non-empty list/, 1, 10],
    [ENGINE('query:\n  timout: 1m\n'), /unknown key "timout" in query; allowed: partialResponse, lookbackDelta, timeout/, 6, 3],
    [ENGINE('query:\n  lookbackDelta: 0s\n'), /"0s" is not a positive duration/, 6, 18],
    [ENGINE('    timeout: 30\n'), /expected a string \(a duration needs a unit, e.g. 30s\)/, 5, 14],
    [ENGINE('    url2: http://x\n'), /unknown key "url2" in an engine; allowed: name, url, labels, minTime, maxTime, headers, bearerToken, bearerTokenFile, timeout, connections/, 5, 5],
    ['engines:\n  - name: a\n', /engine a: missing `url`/, 2, 5],
    ['engines:\n  - name: a\n    url: http://x/api?x=1\n', /base URL without \?query/, 3, 10],
    ['engines:\n  - name: a\n    url: http://x\n    labels: {canary: true}\n', /labels.canary: expected a string \(quote it: "true"\)/, 4, 22],
    ['engines:\n  - name: a\n    url: http://x\n    labels: {dc: 01}\n', /quote it: "01"/, 4, 18],
    ['engines:\n  - name: a\n    url: http://x\n    labels: {1dc: a}\n', /"1dc" is not a valid external label name/, 4, 14],
    ['engines:\n  - name: a\n    url: http://x\n    labels: {dc: a}\n  - name: b\n    url: http://y\n', /engine b: with several engines, each must declare/, 5, 5],
    ['engines:\n  - name: a\n    url: http://x\n    labels: {dc: a}\n    minTime: -15d\n  - name: b\n    url: http://y\n    labels: {dc: a}\n', /engines a and b own the same labels/, 6, 5],
    [ENGINE('    minTime: -1d\n    maxTime: -15d\n'), /maxTime must be after minTime \(the range is empty\)/, 6, 14],
    [ENGINE('    minTime: 15d\n'), /neither a duration before now/, 5, 14],
    [ENGINE('    connections: 2.5\n'), /positive integer/, 5, 18],
    [ENGINE('    bearerToken: x\n    headers: {authorization: Basic y}\n'), /conflict; keep one/, 6, 14],
    [ENGINE('    headers: {X-A: "${NOPE}"}\n'), /environment variable NOPE is not set/, 5, 20],
    [ENGINE('    headers: {X-A: ${NOPE}}\n'), /YAML syntax: .*; inside \{…\} or \[…\] quote a value holding \$\{VAR\}: "\$\{VAR\}"/, 5, 21],
    ['engines:\n  - name: a\n    url: http://x\n    name: b\n', /YAML syntax: Map keys must be unique/, 4, 5],
  ];
  for (const [text, re, line, col] of cases) {
    const e = error(text);
    assert.match(e.message, re, text);
    assert.is(e.line, line, `line of: ${e.message}`);
    assert.is(e.column, col, `column of: ${e.message}`);
    assert.ok(e.message.startsWith(`hmd.yaml:${line}:${col}: `), e.message);
  }
});

S('${VAR} comes from the environment and $$ is a dollar', () => {
  const c = parseConfig(ENGINE('    headers: {X-Scope-OrgID: "${TENANT}-$$1"}\n'), 'x.yaml', { TENANT: 'team-a' });
  assert.equal(c.engines[0]!.headers, { 'X-Scope-OrgID': 'team-a-$1' });
  const d = parseConfig(ENGINE('    bearerToken: "$x ${A}${B} $${A}"\n'), 'x.yaml', { A: '${B}', B: 'b' });
  assert.is(d.engines[0]!.bearerToken, '$x ${B}b ${A}', 'a lone $ stays; substituted values are not expanded again');
  assert.is(parseConfig(ENGINE('    bearerToken: ${E}\n'), 'x.yaml', { E: '' }).engines[0]!.bearerToken, '', 'set but empty is set');
});

S('bearerTokenFile is read relative to the config file, trimmed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-config-'));
  try {
    writeFileSync(join(dir, 'token'), 'abc123\n');
    writeFileSync(join(dir, 'hmd.yaml'), ENGINE('    bearerTokenFile: token\n'));
    assert.is(loadConfig(join(dir, 'hmd.yaml')).engines[0]!.bearerToken, 'abc123');
    writeFileSync(join(dir, 'hmd.yaml'), ENGINE('    bearerTokenFile: missing\n'));
    assert.throws(() => loadConfig(join(dir, 'hmd.yaml')), /hmd.yaml:5:22: engine dc1: cannot read bearerTokenFile .*missing: ENOENT/);
    assert.throws(() => loadConfig(join(dir, 'nope.yaml')), /nope.yaml: cannot read the config file: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

S('a single engine may own no labels; time-split engines may share labels', () => {
  assert.equal(parseConfig('engines:\n  - {name: only, url: "http://x"}\n', 'x').engines[0]!.labels, {});
  const c = parseConfig(
    'engines:\n  - {name: r, url: "http://x", labels: {dc: a}, minTime: -15d}\n  - {name: o, url: "http://y", labels: {dc: a}, maxTime: -14d}\n',
    'x',
  );
  assert.is(c.engines.length, 2);
});

S('limiter and proxy sections: durations, shares, classes, client rules; engines are optional', () => {
  const c = parseConfig(
    [
      'limiter:',
      '  window: {initial: 20, min: 0, max: 200, latencyTarget: 2s, decreaseInterval: 250ms, warnFailureRate: 0.1}',
      '  minRatePerSec: 0.5',
      '  classes:',
      '    batch: {minShare: 0.2, maxShare: 0.7, maxQueue: 50000, maxWait: 10m, jitter: 200ms}',
      '  retry: {maxRetries: 2, baseDelay: 50ms, budgetRatio: 0.05}',
      'proxy:',
      '  defaultPriority: batch',
      '  clients:',
      '    - {userAgent: "^grafana", priority: interactive}',
      '    - {address: "10.1.", priority: batch}',
      '',
    ].join('\n'),
    'x.yaml',
  );
  assert.equal(c.engines, []);
  assert.equal(c.limiter, {
    window: { initialLimit: 20, minLimit: 0, maxLimit: 200, latencyTargetMs: 2000, decreaseIntervalMs: 250, warnFailureRate: 0.1 },
    minRatePerSec: 0.5,
    classes: { batch: { minShare: 0.2, maxShare: 0.7, maxQueue: 50000, maxWaitMs: 600_000, jitterMs: 200 } },
    retry: { maxRetries: 2, baseDelayMs: 50, budgetRatio: 0.05 },
  });
  assert.equal(c.proxy, { defaultPriority: 'batch', clients: [{ priority: 'interactive', userAgent: '^grafana' }, { priority: 'batch', address: '10.1.' }] });
  assert.match(error('limiter:\n  window: {initail: 3}\n').message, /hmd.yaml:2:12: unknown key "initail" in limiter.window; allowed: initial, min, max/);
  assert.match(error('limiter:\n  classes:\n    batch: {maxShare: 1.5}\n').message, /hmd.yaml:3:23: limiter.classes.batch.maxShare: expected a number from 0 to 1/);
  assert.match(error('limiter:\n  classes:\n    urgent: {}\n').message, /unknown key "urgent" in limiter.classes; allowed: interactive, batch/);
  assert.match(error('limiter:\n  minRatePerSec: 0\n').message, /must be above 0/);
  assert.match(error('proxy:\n  clients:\n    - {userAgent: "(", priority: batch}\n').message, /hmd.yaml:3:19: proxy client userAgent: Invalid regular expression/);
  assert.match(error('proxy:\n  defaultPriority: high\n').message, /"high" is not a priority/);
});

S('the published JSON schema names exactly the keys the loader accepts', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'schemas/hmd.schema.json'), 'utf8'));
  assert.equal(Object.keys(schema.properties).sort(), [...TOP_KEYS].sort());
  assert.equal(Object.keys(schema.$defs.engine.properties).sort(), [...ENGINE_KEYS].sort());
  assert.equal(Object.keys(schema.properties.query.properties).sort(), [...QUERY_KEYS].sort());
  assert.equal(Object.keys(schema.properties.limiter.properties).sort(), [...LIMITER_KEYS].sort());
  assert.equal(Object.keys(schema.properties.limiter.properties.window.properties).sort(), Object.keys(LIMITER_WINDOW_KEYS).sort());
  assert.equal(Object.keys(schema.properties.limiter.properties.retry.properties).sort(), Object.keys(LIMITER_RETRY_KEYS).sort());
  assert.equal(Object.keys(schema.properties.limiter.properties.classes.properties.batch.properties).sort(), Object.keys(LIMITER_CLASS_KEYS).sort());
  assert.equal(Object.keys(schema.properties.proxy.properties).sort(), [...PROXY_KEYS].sort());
  assert.equal(Object.keys(schema.properties.daemon.properties).sort(), [...DAEMON_KEYS].sort());
  assert.equal(Object.keys(schema.$defs.daemonToken.properties).sort(), [...DAEMON_TOKEN_KEYS].sort());
  assert.equal(Object.keys(schema.$defs.hook.properties).sort(), [...HOOK_KEYS].sort());
  assert.equal(Object.keys(schema.$defs.hook.properties.webhook.properties).sort(), [...WEBHOOK_KEYS].sort());
  assert.equal(Object.keys(schema.$defs.hook.properties.command.properties).sort(), [...COMMAND_KEYS].sort());
  assert.is(schema.additionalProperties, false);
  assert.is(schema.$defs.engine.additionalProperties, false);
  assert.is(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.is(schema.required, undefined, 'every section is optional to the loader (hmd proxy needs no engines)');
  for (const [k, v] of Object.entries(schema.$defs.engine.properties as Record<string, { description?: string }>)) assert.ok(v.description, `engine.${k} has a description`);
});

S.run();
