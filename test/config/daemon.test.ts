/**
 * hmd.yaml's daemon section: the defaults a config without one gets, every key of a full one,
 * paths resolved beside the config file, and errors located and saying what to write.
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, DAEMON_DEFAULTS, parseConfig, type DaemonConfig } from '../../src/config/config.js';

const S = suite('hmd.yaml daemon section');
const FILE = '/some/dir/hmd.yaml';
const TOKEN_A = '0123456789abcdef0123';
const TOKEN_B = 'fedcba9876543210fedc';
const ENV = { HMD_TOKEN_A: TOKEN_A, HMD_TOKEN_B: TOKEN_B, HMD_SHORT: 'abc' };

const daemonOf = (text: string, env: Record<string, string> = ENV): DaemonConfig => parseConfig(text, FILE, env).daemon;

/** The error parseConfig throws for `text`, checked to be a located ConfigError. */
function error(text: string, env: Record<string, string> = ENV): ConfigError {
  try {
    parseConfig(text, FILE, env);
  } catch (err) {
    assert.instance(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected an error for:\n${text}`);
}

/** 1-based line and column of the first `needle` in `text`. */
function at(text: string, needle: string): [number, number] {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`${JSON.stringify(needle)} is not in the text`);
  const before = text.slice(0, i).split('\n');
  return [before.length, before[before.length - 1]!.length + 1];
}

const FULL = `daemon:
  listen: "0.0.0.0:8080"
  db: state/hmd.db
  tokens:
    - {name: ci, token: "\${HMD_TOKEN_A}"}
    - {name: alice, token: "\${HMD_TOKEN_B}"}
  protectReads: true
  maxBodyBytes: 65536
  catchUp: 30m
  concurrency: 2
  hooks:
    - name: deploy
      webhook:
        url: https://deploy.example.com/hooks/hmd
        headers: {Authorization: "Bearer \${HMD_TOKEN_A}"}
        timeout: 10s
        retries: 3
        backoff: 2s
    - name: rollback
      command:
        argv: [./scripts/rollback.sh, --fast]
        env: {MODE: revert}
        cwd: work
        timeout: 5m
        retries: 1
        backoff: 500ms
  defaultHooks: {promote: deploy, revert: rollback}
`;

S('without a daemon section: the defaults, with the database beside the config file', () => {
  const expected: DaemonConfig = {
    listen: '127.0.0.1:9797',
    db: '/some/dir/hmd-daemon.db',
    tokens: [],
    protectReads: false,
    hooks: [],
    defaultHooks: {},
    maxBodyBytes: 1024 * 1024,
    catchUpMs: 3_600_000,
    concurrency: 8,
  };
  assert.equal(daemonOf('query: {timeout: 1m}\n'), expected);
  // An empty mapping is the same as none.
  assert.equal(daemonOf('daemon: {}\n'), expected);
  // The defaults are the published constants, not values repeated by chance.
  assert.is(DAEMON_DEFAULTS.listen, expected.listen);
  assert.is(DAEMON_DEFAULTS.maxBodyBytes, expected.maxBodyBytes);
  assert.is(DAEMON_DEFAULTS.catchUpMs, expected.catchUpMs);
  assert.is(DAEMON_DEFAULTS.concurrency, expected.concurrency);
  // Where the config lives decides where the database goes, not where hmd runs.
  assert.is(parseConfig('query: {timeout: 1m}\n', '/elsewhere/conf/hmd.yaml', {}).daemon.db, '/elsewhere/conf/hmd-daemon.db');
});

S('a full section: tokens from the environment, hooks with durations in ms, paths beside the config', () => {
  assert.equal(daemonOf(FULL), {
    listen: '0.0.0.0:8080',
    db: '/some/dir/state/hmd.db',
    tokens: [
      { name: 'ci', token: TOKEN_A },
      { name: 'alice', token: TOKEN_B },
    ],
    protectReads: true,
    hooks: [
      {
        name: 'deploy',
        webhook: {
          url: 'https://deploy.example.com/hooks/hmd',
          headers: { Authorization: `Bearer ${TOKEN_A}` },
          timeoutMs: 10_000,
          retries: 3,
          backoffMs: 2000,
        },
      },
      {
        name: 'rollback',
        command: {
          argv: ['/some/dir/scripts/rollback.sh', '--fast'],
          env: { MODE: 'revert' },
          cwd: '/some/dir/work',
          timeoutMs: 300_000,
          retries: 1,
          backoffMs: 500,
        },
      },
    ],
    defaultHooks: { promote: 'deploy', revert: 'rollback' },
    maxBodyBytes: 65536,
    catchUpMs: 1_800_000,
    concurrency: 2,
  });
});

S('command argv: ./ and ../ are beside the config; a bare name is left for PATH; absolute paths stay', () => {
  const argv0 = (a: string) => {
    const d = daemonOf(`daemon:\n  hooks:\n    - {name: h, command: {argv: ["${a}"]}}\n`);
    return d.hooks[0]!.command!.argv[0];
  };
  assert.is(argv0('./deploy.sh'), '/some/dir/deploy.sh');
  assert.is(argv0('../bin/deploy'), '/some/bin/deploy');
  assert.is(argv0('kubectl'), 'kubectl');
  assert.is(argv0('/usr/local/bin/deploy'), '/usr/local/bin/deploy');
  // A webhook alone: only what was written, no default timeout filled in here.
  assert.equal(daemonOf('daemon:\n  hooks:\n    - {name: w, webhook: {url: "http://x:8080/h"}}\n').hooks, [{ name: 'w', webhook: { url: 'http://x:8080/h' } }]);
  // Absolute and bracketed listen addresses, and every interface.
  for (const l of ['[::1]:9797', ':9797', 'localhost:1']) assert.is(daemonOf(`daemon:\n  listen: "${l}"\n`).listen, l);
});

/** [what, text, message, the text the error must point at, env]. */
const ERRORS: [string, string, RegExp, string, Record<string, string>?][] = [
  [
    'a token written in the file',
    'daemon:\n  tokens:\n    - {name: ci, token: 0123456789abcdef0123}\n',
    /daemon\.tokens\[0\]\.token: write the token as \$\{VARIABLE\} alone \(from the environment\), not in the file/,
    '0123456789abcdef0123',
  ],
  [
    'a token that YAML reads as a number',
    'daemon:\n  tokens:\n    - {name: ci, token: 12345678901234567890}\n',
    /daemon\.tokens\[0\]\.token: expected a string \(write token: "\$\{HMD_TOKEN\}" to read it from the environment\)/,
    '12345678901234567890',
  ],
  ['a short token', 'daemon:\n  tokens:\n    - {name: ci, token: "${HMD_SHORT}"}\n', /daemon\.tokens\[0\]\.token: the token is 3 characters; use at least 16 \(e\.g\. openssl rand -hex 32\)/, '"${HMD_SHORT}"'],
  ['a token variable not set', 'daemon:\n  tokens:\n    - {name: ci, token: "${HMD_UNSET}"}\n', /environment variable HMD_UNSET is not set/, '"${HMD_UNSET}"'],
  ['a token without a name', 'daemon:\n  tokens:\n    - {token: "${HMD_TOKEN_A}"}\n', /daemon\.tokens\[0\]: missing `name`/, '{token'],
  [
    'two tokens of one name',
    'daemon:\n  tokens:\n    - {name: ci, token: "${HMD_TOKEN_A}"}\n    - {name: ci, token: "${HMD_TOKEN_B}"}\n',
    /daemon\.tokens\[1\]\.name: "ci" is used twice/,
    'ci, token: "${HMD_TOKEN_B}',
  ],
  ['an unknown token key', 'daemon:\n  tokens:\n    - {name: ci, secret: x}\n', /unknown key "secret" in daemon\.tokens\[0\]; allowed: name, token/, 'secret'],
  ['a listen address without a port', 'daemon:\n  listen: localhost\n', /daemon\.listen: "localhost" is not host:port \(e\.g\. 127\.0\.0\.1:9797, \[::1\]:9797, or :9797 for every interface\)/, 'localhost'],
  ['a listen port out of range', 'daemon:\n  listen: "127.0.0.1:70000"\n', /daemon\.listen: "127\.0\.0\.1:70000" is not host:port/, '"127'],
  ['a hook with webhook and command', 'daemon:\n  hooks:\n    - name: h\n      webhook: {url: "http://x"}\n      command: {argv: [x]}\n', /daemon\.hooks\[0\]: give either `webhook` \(an HTTP endpoint\) or `command` \(a program to run\)/, 'name: h'],
  ['a hook with neither', 'daemon:\n  hooks:\n    - name: h\n', /daemon\.hooks\[0\]: give either `webhook`/, 'name: h'],
  ['a webhook url that is not http(s)', 'daemon:\n  hooks:\n    - {name: h, webhook: {url: "ftp://x/h"}}\n', /daemon\.hooks\[0\]\.webhook\.url: must be http:\/\/ or https:\/\//, '"ftp'],
  ['a webhook url that is not a URL', 'daemon:\n  hooks:\n    - {name: h, webhook: {url: deploy}}\n', /daemon\.hooks\[0\]\.webhook\.url: "deploy" is not a URL \(e\.g\. https:\/\/deploy\.example\.com\/hooks\/hmd\)/, 'deploy}'],
  ['a webhook without a url', 'daemon:\n  hooks:\n    - {name: h, webhook: {timeout: 1s}}\n', /daemon\.hooks\[0\]\.webhook: missing `url`/, '{timeout'],
  ['a command without argv', 'daemon:\n  hooks:\n    - {name: h, command: {cwd: x}}\n', /daemon\.hooks\[0\]\.command: missing `argv`/, '{cwd'],
  ['an empty argv', 'daemon:\n  hooks:\n    - {name: h, command: {argv: []}}\n', /daemon\.hooks\[0\]\.command\.argv: expected a non-empty list/, '[]'],
  ['a hook timeout without a unit', 'daemon:\n  hooks:\n    - {name: h, command: {argv: [x], timeout: 30}}\n', /daemon\.hooks\[0\]\.command\.timeout: expected a string \(a duration needs a unit, e\.g\. 30s\)/, '30}'],
  ['negative retries', 'daemon:\n  hooks:\n    - {name: h, webhook: {url: "http://x", retries: -1}}\n', /daemon\.hooks\[0\]\.webhook\.retries: expected a whole number >= 0/, '-1'],
  [
    'two hooks of one name',
    'daemon:\n  hooks:\n    - {name: h, webhook: {url: "http://x"}}\n    - {name: h, command: {argv: [x]}}\n',
    /daemon\.hooks\[1\]\.name: "h" is used twice/,
    'h, command',
  ],
  ['a bad hook name', 'daemon:\n  hooks:\n    - {name: "-h", command: {argv: [x]}}\n', /daemon\.hooks\[0\]\.name "-h": use letters, digits, '-', '_' and '\.'/, '"-h"'],
  ['an unknown hook key', 'daemon:\n  hooks:\n    - {name: h, command: {argv: [x]}, retries: 2}\n', /unknown key "retries" in daemon\.hooks\[0\]; allowed: name, webhook, command/, 'retries'],
  ['an unknown webhook key', 'daemon:\n  hooks:\n    - {name: h, webhook: {url: "http://x", method: PUT}}\n', /unknown key "method" in daemon\.hooks\[0\]\.webhook; allowed: url, headers, timeout, retries, backoff/, 'method'],
  ['an unknown command key', 'daemon:\n  hooks:\n    - {name: h, command: {argv: [x], shell: true}}\n', /unknown key "shell" in daemon\.hooks\[0\]\.command; allowed: argv, env, timeout, retries, backoff, cwd/, 'shell'],
  ['defaultHooks naming a missing hook', 'daemon:\n  hooks:\n    - {name: deploy, command: {argv: [x]}}\n  defaultHooks: {promote: deploy, revert: rollback}\n', /daemon\.defaultHooks\.revert: no hook named "rollback" in daemon\.hooks/, 'rollback'],
  ['defaultHooks without any hooks', 'daemon:\n  defaultHooks: {promote: deploy}\n', /daemon\.defaultHooks\.promote: no hook named "deploy" in daemon\.hooks/, 'deploy'],
  ['an unknown defaultHooks key', 'daemon:\n  defaultHooks: {rollback: x}\n', /unknown key "rollback" in daemon\.defaultHooks; allowed: promote, revert/, 'rollback'],
  ['maxBodyBytes below 1024', 'daemon:\n  maxBodyBytes: 1023\n', /daemon\.maxBodyBytes: at least 1024 \(a rollout with its SLOs is a few KiB\)/, '1023'],
  ['maxBodyBytes with a unit', 'daemon:\n  maxBodyBytes: 1MiB\n', /daemon\.maxBodyBytes: expected a whole number >= 0/, '1MiB'],
  ['concurrency 0', 'daemon:\n  concurrency: 0\n', /daemon\.concurrency: at least 1/, '0'],
  ['fractional concurrency', 'daemon:\n  concurrency: 1.5\n', /daemon\.concurrency: expected a whole number >= 0/, '1.5'],
  ['catchUp not a duration', 'daemon:\n  catchUp: forever\n', /daemon\.catchUp: "forever" is not a positive duration/, 'forever'],
  ['protectReads not a boolean', 'daemon:\n  protectReads: "yes"\n', /daemon\.protectReads: expected true or false/, '"yes"'],
  ['an unknown daemon key', 'daemon:\n  port: 9797\n', /unknown key "port" in daemon; allowed: listen, db, tokens, protectReads, hooks, defaultHooks, maxBodyBytes, catchUp, concurrency/, 'port'],
  ['a daemon section that is a list', 'daemon:\n  - listen: ":1"\n', /daemon: expected a mapping/, '- listen'],
];

for (const [name, text, re, target, env] of ERRORS) {
  S(`a located error: ${name}`, () => {
    const e = error(text, env ?? ENV);
    assert.match(e.message, re);
    const [line, col] = at(text, target);
    assert.is(e.line, line, `line of: ${e.message}`);
    assert.is(e.column, col, `column of: ${e.message}`);
    assert.ok(e.message.startsWith(`${FILE}:${line}:${col}: `), e.message);
  });
}

S('a token must come from the environment even when the value looks long enough', () => {
  // Partly written in the file is written in the file: the whole token must come from one variable.
  assert.match(error('daemon:\n  tokens:\n    - {name: ci, token: "prefix-${HMD_SHORT}-0123456789"}\n').message, /hmd\.yaml:3:25: daemon\.tokens\[0\]\.token: write the token as \$\{VARIABLE\} alone/);
  // $$ makes a literal ${…}: a token in the file all the same.
  assert.match(error('daemon:\n  tokens:\n    - {name: ci, token: "$${literal_token_1234567}"}\n').message, /write the token as \$\{VARIABLE\} alone/);
  // Two clients with one token could not be told apart.
  assert.match(error('daemon:\n  tokens:\n    - {name: a, token: "${HMD_A}"}\n    - {name: b, token: "${HMD_B}"}\n', { HMD_A: 'same-token-0123456789', HMD_B: 'same-token-0123456789' }).message, /hmd\.yaml:4:24: daemon\.tokens\[1\]\.token: the same token as a's/);
  // `daemon:` with nothing under it is the defaults.
  assert.is(daemonOf('daemon:\n  # listen: 0.0.0.0:9797\n').listen, '127.0.0.1:9797');
  // Set in the process but not in the env given: not set.
  process.env['HMD_TEST_DAEMON_TOKEN'] = TOKEN_A;
  try {
    assert.match(error('daemon:\n  tokens:\n    - {name: ci, token: "${HMD_TEST_DAEMON_TOKEN}"}\n', {}).message, /environment variable HMD_TEST_DAEMON_TOKEN is not set/);
  } finally {
    delete process.env['HMD_TEST_DAEMON_TOKEN'];
  }
});

S.run();
