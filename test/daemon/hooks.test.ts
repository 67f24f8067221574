/**
 * src/daemon/hooks.ts against real parts: node:http servers on 127.0.0.1 for webhooks, real
 * child processes (this node binary running `-e` scripts) for commands. Waits between attempts
 * go through an injected sleep that records the delay and returns at once, so no test waits on
 * the backoff; the only real waits are the per-attempt timeouts and the SIGKILL grace under test.
 */

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { actionPayload, hookSecrets, redact, runHook, type ActionRequest, type CommandSpec, type HookSpec, type RunHookOptions } from '../../src/daemon/hooks.js';

const PROMOTE: ActionRequest = {
  idempotencyKey: 'r-42/1/promote',
  kind: 'promote',
  rollout: { id: 'r-42', name: 'checkout', version: 'v1.7.0' },
  stage: { index: 1, name: 'canary', scope: 'datacenter="dc1",tier="canary"' },
  next: { index: 2, name: 'dc1', scope: 'datacenter="dc1"' },
  reason: 'bake passed: 3 SLOs ok',
  at: Date.UTC(2025, 5, 12, 12, 0, 0, 250),
};

const REVERT: ActionRequest = {
  idempotencyKey: 'r-43/0/revert',
  kind: 'revert',
  rollout: { id: 'r-43', name: 'search' },
  stage: { index: 0, name: 'canary', scope: 'datacenter="dc2"' },
  reason: 'error-rate burn 14.4x over 5m',
  at: Date.UTC(2025, 5, 12, 13, 30, 0),
};

const tmp = mkdtempSync(join(tmpdir(), 'hmd-hooks-'));
let fileNo = 0;
const tmpFile = (name: string) => join(tmp, `${++fileNo}-${name}`);

test.after(() => rmSync(tmp, { recursive: true, force: true }));

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface TestServer {
  readonly url: string;
  readonly seen: Seen[];
  close(): Promise<void>;
}

/** A loopback server that records every request (with its body) and lets `answer` reply, or not. */
async function serve(answer: (n: number, req: Seen, res: ServerResponse) => void): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      answer(seen.length, s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Replies with a status, optional headers and a body. */
function reply(res: ServerResponse, status: number, body = '', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers });
  res.end(body);
}

/** An injected sleep that records each requested delay and returns at once. */
function recordingSleep(): { delays: number[]; sleep: NonNullable<RunHookOptions['sleep']> } {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

/** A jitter source that returns the given values in turn. */
function sequence(...xs: number[]): () => number {
  let i = 0;
  return () => xs[i++ % xs.length]!;
}

function webhook(url: string, extra: Partial<NonNullable<HookSpec['webhook']>> = {}): HookSpec {
  return { name: 'deploy-api', webhook: { url, ...extra } };
}

function command(script: string, extra: Partial<CommandSpec> = {}, args: string[] = []): HookSpec {
  return { name: 'deploy-script', command: { argv: [process.execPath, '-e', script, ...args], ...extra } };
}

/** True while the process runs. A killed orphan stays a zombie until init reaps it, which is not "running". */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return !existsSync('/proc/self/stat');
  }
}

function killQuietly(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const readPids = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number) : []);

// ---------------------------------------------------------------------------------------------
// Pure parts

test('actionPayload: the wire fields, with RFC3339 time, and no next or version when absent', () => {
  assert.equal(actionPayload(PROMOTE), {
    idempotencyKey: 'r-42/1/promote',
    kind: 'promote',
    rollout: { id: 'r-42', name: 'checkout', version: 'v1.7.0' },
    stage: { index: 1, name: 'canary', scope: 'datacenter="dc1",tier="canary"' },
    next: { index: 2, name: 'dc1', scope: 'datacenter="dc1"' },
    reason: 'bake passed: 3 SLOs ok',
    at: '2025-06-12T12:00:00.250Z',
  });
  const revert = actionPayload({ ...REVERT, rollout: { ...REVERT.rollout, extra: 'not sent' } as ActionRequest['rollout'] }) as Record<string, unknown>;
  assert.equal(revert, {
    idempotencyKey: 'r-43/0/revert',
    kind: 'revert',
    rollout: { id: 'r-43', name: 'search' },
    stage: { index: 0, name: 'canary', scope: 'datacenter="dc2"' },
    reason: 'error-rate burn 14.4x over 5m',
    at: '2025-06-12T13:30:00.000Z',
  });
  assert.not.ok('next' in revert);
});

test('hookSecrets: non-empty header and env values, and the credential of an Authorization header', () => {
  assert.equal(hookSecrets(webhook('http://h/x', { headers: { Authorization: 'Bearer abc123', 'X-Team': 'payments', 'X-Empty': '' } })), ['Bearer abc123', 'abc123', 'payments']);
  assert.equal(hookSecrets({ name: 'c', command: { argv: ['deploy'], env: { TOKEN: 't0k', EMPTY: '', REGION: 'eu' } } }), ['t0k', 'eu']);
  assert.equal(hookSecrets(webhook('http://deployer:pa%24%24@h/x')), ['pa$$']);
  assert.equal(hookSecrets(webhook('http://h/x')), []);
});

test('redact: every occurrence, longest secret first, regex characters literal, escaped forms, idempotent', () => {
  assert.is(redact('token abc and abc again', ['abc']), 'token <redacted> and <redacted> again');
  assert.is(redact('xabcdefy', ['abc', 'abcdef']), 'x<redacted>y');
  assert.is(redact('a.b+c* vs aXb+c*', ['a.b+c*']), '<redacted> vs aXb+c*');
  assert.is(redact('{"echo":"p\\"q"} and p%22q', ['p"q']), '{"echo":"<redacted>"} and <redacted>');
  assert.is(redact('nothing secret', []), 'nothing secret');
  assert.is(redact('nothing secret', ['']), 'nothing secret');
  const once = redact('key=red', ['red', 'd']);
  assert.is(once, 'key=<redacted>');
  assert.is(redact(once, ['red', 'd']), once);
});

test('invalid hooks and requests: ok:false, no attempt, no throw', async () => {
  const cases: [HookSpec, string][] = [
    [{ name: 'both', webhook: { url: 'http://127.0.0.1:1/' }, command: { argv: ['true'] } }, 'exactly one'],
    [{ name: 'none' }, 'exactly one'],
    [webhook('ftp://example.org/hook'), 'http or https'],
    [webhook('not a url'), 'not a URL'],
    [{ name: 'empty', command: { argv: [] } }, 'argv'],
    [webhook('http://127.0.0.1:1/', { retries: -1 }), 'retries'],
    [webhook('http://127.0.0.1:1/', { timeoutMs: 0 }), 'timeoutMs'],
  ];
  for (const [hook, why] of cases) {
    const out = await runHook(hook, PROMOTE);
    assert.is(out.ok, false, hook.name);
    assert.is(out.attempts, 0, hook.name);
    assert.match(out.error ?? '', `invalid hook "${hook.name}"`);
    assert.match(out.error ?? '', why);
  }
  const bad = await runHook(webhook('http://127.0.0.1:1/'), { ...PROMOTE, at: Number.NaN });
  assert.is(bad.ok, false);
  assert.is(bad.attempts, 0);
});

// ---------------------------------------------------------------------------------------------
// Webhooks

test('webhook: success on the first try sends the payload, the key, and the configured headers', async () => {
  const srv = await serve((_n, _req, res) => reply(res, 200, 'accepted'));
  const { delays, sleep } = recordingSleep();
  const attempts: [number, string | undefined][] = [];
  try {
    const out = await runHook(webhook(srv.url + '/hooks/deploy', { headers: { 'X-Team': 'payments', Authorization: 'Bearer tkn-1' } }), PROMOTE, {
      sleep,
      onAttempt: (n, e) => attempts.push([n, e]),
    });
    assert.is(out.ok, true);
    assert.is(out.attempts, 1);
    assert.is(out.status, 200);
    assert.is(out.error, undefined);
    assert.ok(out.durationMs >= 0);
    assert.equal(attempts, [[1, undefined]]);
    assert.equal(delays, []);
    assert.is(srv.seen.length, 1);
    const r = srv.seen[0]!;
    assert.is(r.method, 'POST');
    assert.is(r.url, '/hooks/deploy');
    assert.is(r.headers['content-type'], 'application/json');
    assert.is(r.headers['idempotency-key'], 'r-42/1/promote');
    assert.is(r.headers['user-agent'], 'hmd');
    assert.is(r.headers['x-team'], 'payments');
    assert.is(r.headers['authorization'], 'Bearer tkn-1');
    const body = JSON.parse(r.body) as Record<string, unknown>;
    assert.equal(body, actionPayload(PROMOTE));
    assert.is(body['at'], '2025-06-12T12:00:00.250Z');
    assert.equal(body['next'], { index: 2, name: 'dc1', scope: 'datacenter="dc1"' });
    assert.equal(body['rollout'], { id: 'r-42', name: 'checkout', version: 'v1.7.0' });
  } finally {
    await srv.close();
  }
});

test('webhook: configured headers cannot replace Idempotency-Key or content-type; userAgent is sent', async () => {
  const srv = await serve((_n, _req, res) => reply(res, 204));
  try {
    const out = await runHook(webhook(srv.url, { headers: { 'Idempotency-Key': 'spoofed', 'Content-Type': 'text/plain' } }), REVERT, { userAgent: 'hmd/0.1.0' });
    assert.is(out.ok, true);
    assert.is(out.status, 204);
    assert.is(srv.seen[0]!.headers['idempotency-key'], 'r-43/0/revert');
    assert.is(srv.seen[0]!.headers['content-type'], 'application/json');
    assert.is(srv.seen[0]!.headers['user-agent'], 'hmd/0.1.0');
  } finally {
    await srv.close();
  }
});

test('webhook: 503, 503, then 200 is ok after 3 attempts with the same key and jittered backoff', async () => {
  const srv = await serve((n, _req, res) => (n < 3 ? reply(res, 503, 'upstream busy') : reply(res, 200, 'ok')));
  const { delays, sleep } = recordingSleep();
  const attempts: [number, string | undefined][] = [];
  try {
    const out = await runHook(webhook(srv.url + '/hook', { backoffMs: 1000 }), PROMOTE, { sleep, random: sequence(0.5, 0.75), onAttempt: (n, e) => attempts.push([n, e]) });
    assert.is(out.ok, true);
    assert.is(out.attempts, 3);
    assert.is(out.status, 200);
    assert.equal(
      srv.seen.map((s) => s.headers['idempotency-key']),
      ['r-42/1/promote', 'r-42/1/promote', 'r-42/1/promote'],
    );
    assert.equal(
      srv.seen.map((s) => s.body),
      Array(3).fill(srv.seen[0]!.body),
    );
    // retry 1: 0.5 of min(60s, 1000 * 2^0); retry 2: 0.75 of 1000 * 2^1
    assert.equal(delays, [500, 1500]);
    assert.equal(attempts, [
      [1, `HTTP 503 from ${srv.url}/hook: upstream busy`],
      [2, `HTTP 503 from ${srv.url}/hook: upstream busy`],
      [3, undefined],
    ]);
  } finally {
    await srv.close();
  }
});

test('webhook: backoff with the default jitter stays within full-jitter bounds; the cap is 60 s', async () => {
  const srv = await serve((_n, _req, res) => reply(res, 500));
  try {
    const a = recordingSleep();
    const out = await runHook(webhook(srv.url, { retries: 6, backoffMs: 100 }), PROMOTE, { sleep: a.sleep });
    assert.is(out.ok, false);
    assert.is(out.attempts, 7);
    assert.is(a.delays.length, 6);
    a.delays.forEach((d, i) => assert.ok(d >= 0 && d <= 100 * 2 ** i, `delay ${i + 1} = ${d}`));

    const b = recordingSleep();
    await runHook(webhook(srv.url, { retries: 3, backoffMs: 40_000 }), PROMOTE, { sleep: b.sleep, random: () => 0.999 });
    assert.equal(b.delays, [39_960, 59_940, 59_940]);
  } finally {
    await srv.close();
  }
});

test('webhook: Retry-After on 429/503 sets the delay (seconds, HTTP date, capped at 60 s); elsewhere it is ignored', async () => {
  const srv = await serve((n, req, res) => {
    const mode = new URL(req.url, 'http://x').searchParams.get('mode');
    if (n % 2 === 0) return reply(res, 200);
    if (mode === 'seconds') return reply(res, 429, 'slow down', { 'retry-after': '7' });
    if (mode === 'long') return reply(res, 503, '', { 'retry-after': '3600' });
    if (mode === 'date') return reply(res, 503, '', { 'retry-after': new Date(Date.now() + 30_000).toUTCString() });
    return reply(res, 500, '', { 'retry-after': '7' });
  });
  try {
    const delaysOf = async (mode: string) => {
      const { delays, sleep } = recordingSleep();
      const out = await runHook(webhook(`${srv.url}/hook?mode=${mode}`), PROMOTE, { sleep, random: () => 0.5 });
      assert.is(out.ok, true, mode);
      assert.is(out.attempts, 2, mode);
      return delays;
    };
    assert.equal(await delaysOf('seconds'), [7000]);
    assert.equal(await delaysOf('long'), [60_000]);
    const [d] = await delaysOf('date');
    // The date has whole seconds, so up to one second less than 30 s (and a little for the run itself).
    assert.ok(d! > 25_000 && d! <= 30_000, `date delay ${d}`);
    assert.equal(await delaysOf('other'), [500]);
  } finally {
    await srv.close();
  }
});

test('webhook: 400 is permanent: one attempt, no sleep, the error names the status and body', async () => {
  const srv = await serve((_n, _req, res) => reply(res, 400, '{"error":"unknown rollout r-42"}'));
  const { delays, sleep } = recordingSleep();
  try {
    const out = await runHook(webhook(srv.url + '/hook'), PROMOTE, { sleep });
    assert.is(out.ok, false);
    assert.is(out.attempts, 1);
    assert.is(out.status, 400);
    assert.is(out.error, `gave up after 1 attempt (not retryable): HTTP 400 from ${srv.url}/hook: {"error":"unknown rollout r-42"}`);
    assert.equal(delays, []);
    assert.is(srv.seen.length, 1);
  } finally {
    await srv.close();
  }
});

test('webhook: 408, 425 and 5xx are retried; 404 and redirects are not', async () => {
  const statuses = [408, 425, 502, 204];
  const srv = await serve((n, req, res) => {
    if (req.url === '/missing') return reply(res, 404, 'no such hook');
    if (req.url === '/moved') return reply(res, 302, '', { location: '/elsewhere' });
    reply(res, statuses[n - 1]!);
  });
  const { sleep } = recordingSleep();
  try {
    const out = await runHook(webhook(srv.url + '/hook'), PROMOTE, { sleep });
    assert.is(out.ok, true);
    assert.is(out.attempts, 4);
    assert.is(out.status, 204);
    const missing = await runHook(webhook(srv.url + '/missing'), PROMOTE, { sleep });
    assert.is(missing.attempts, 1);
    assert.is(missing.status, 404);
    assert.match(missing.error ?? '', 'HTTP 404');
    const moved = await runHook(webhook(srv.url + '/moved'), PROMOTE, { sleep });
    assert.is(moved.attempts, 1);
    assert.match(moved.error ?? '', 'HTTP 302');
    assert.match(moved.error ?? '', 'redirects are not followed');
  } finally {
    await srv.close();
  }
});

test('webhook: connection refused gives up after retries+1 attempts with a clear error', async () => {
  const srv = await serve(() => undefined);
  const url = srv.url + '/hook';
  await srv.close();
  const { delays, sleep } = recordingSleep();
  const errors: (string | undefined)[] = [];
  const out = await runHook(webhook(url, { retries: 2 }), PROMOTE, { sleep, onAttempt: (_n, e) => errors.push(e) });
  assert.is(out.ok, false);
  assert.is(out.attempts, 3);
  assert.is(out.status, undefined);
  assert.is(out.error, `gave up after 3 attempts: connection refused: ${url}`);
  assert.equal(errors, Array(3).fill(`connection refused: ${url}`));
  assert.is(delays.length, 2);
});

test('webhook: a server that never answers times out per attempt, is retried, then fails with "timeout"', async () => {
  const srv = await serve(() => undefined);
  const { delays, sleep } = recordingSleep();
  try {
    const out = await runHook(webhook(srv.url + '/slow', { timeoutMs: 200, retries: 1 }), PROMOTE, { sleep });
    assert.is(out.ok, false);
    assert.is(out.attempts, 2);
    assert.is(out.error, `gave up after 2 attempts: timeout: no complete answer from ${srv.url}/slow within 200 ms`);
    assert.is(srv.seen.length, 2);
    assert.is(delays.length, 1);
  } finally {
    await srv.close();
  }
});

test('webhook: a secret echoed in an error body never reaches the outcome or onAttempt', async () => {
  const token = 's3cr3t-T0KEN-9f8e7d';
  const key = 'k"ey/+=&9';
  const srv = await serve((_n, req, res) => {
    // Echo the credentials back in every form a careless receiver might: raw, bare, JSON, percent-encoded,
    // and once right across the 200-character excerpt limit.
    const body = `${'x'.repeat(190)}${token} | denied ${req.headers['authorization']} ${JSON.stringify({ key: req.headers['x-api-key'] })} ${encodeURIComponent(String(req.headers['x-api-key']))}`;
    reply(res, 500, body);
  });
  const { sleep } = recordingSleep();
  const errors: (string | undefined)[] = [];
  try {
    const out = await runHook(webhook(srv.url, { retries: 1, headers: { authorization: `Bearer ${token}`, 'x-api-key': key } }), PROMOTE, {
      sleep,
      onAttempt: (_n, e) => errors.push(e),
    });
    assert.is(out.ok, false);
    assert.is(out.attempts, 2);
    assert.match(out.error ?? '', '<redacted>');
    assert.match(out.error ?? '', 'HTTP 500');
    const everything = JSON.stringify([out, errors]);
    for (const leak of [token, 's3cr3t', 'T0KEN', key, JSON.stringify(key).slice(1, -1), encodeURIComponent(key)]) {
      assert.not.ok(everything.includes(leak), `leaked ${leak}`);
    }
    assert.is(errors.length, 2);
  } finally {
    await srv.close();
  }
});

test('webhook: URL credentials become Basic auth; errors show neither them nor the query string', async () => {
  const srv = await serve((_n, req, res) => reply(res, 401, `bad credentials in ${req.headers['authorization']}: pa55word`));
  try {
    const out = await runHook(webhook(srv.url.replace('//', '//deployer:pa55word@') + '/hook?token=qtok123'), PROMOTE);
    assert.is(srv.seen[0]!.headers['authorization'], 'Basic ' + Buffer.from('deployer:pa55word').toString('base64'));
    assert.is(srv.seen[0]!.url, '/hook?token=qtok123');
    assert.is(out.attempts, 1);
    assert.match(out.error ?? '', `HTTP 401 from ${srv.url}/hook?…: `);
    assert.not.ok(out.error?.includes('pa55word'));
    assert.not.ok(out.error?.includes('qtok123'));
  } finally {
    await srv.close();
  }
});

test('webhook: abort during the backoff stops retrying', async () => {
  const srv = await serve((_n, _req, res) => reply(res, 503, 'busy'));
  const ac = new AbortController();
  const delays: number[] = [];
  try {
    const out = await runHook(webhook(srv.url + '/hook'), PROMOTE, {
      signal: ac.signal,
      sleep: async (ms) => {
        delays.push(ms);
        ac.abort();
      },
    });
    assert.is(out.ok, false);
    assert.is(out.attempts, 1);
    assert.is(out.error, `aborted after 1 attempt; last error: HTTP 503 from ${srv.url}/hook: busy`);
    assert.is(srv.seen.length, 1);
    assert.is(delays.length, 1);
  } finally {
    await srv.close();
  }
});

test('webhook: abort during an attempt ends it at once; an aborted signal makes no attempt', async () => {
  const ac = new AbortController();
  const srv = await serve(() => ac.abort());
  try {
    const out = await runHook(webhook(srv.url, { timeoutMs: 600_000 }), PROMOTE, { signal: ac.signal });
    assert.is(out.ok, false);
    assert.is(out.attempts, 1);
    assert.is(out.error, 'aborted after 1 attempt');
    const before = await runHook(webhook(srv.url), PROMOTE, { signal: ac.signal });
    assert.is(before.attempts, 0);
    assert.is(before.error, 'aborted before the first attempt');
    assert.is(srv.seen.length, 1);
  } finally {
    await srv.close();
  }
});

test('webhook: the default sleep ends early on abort', async () => {
  const srv = await serve((_n, _req, res) => reply(res, 503));
  const ac = new AbortController();
  try {
    // Jitter 1 makes the wait the full 60-s cap. A sleep that ignored the abort would end only
    // then, so the guard (well short of it, far beyond any real run) tells the two apart.
    let guard: NodeJS.Timeout | undefined;
    const ignoredAbort = new Promise<'ignored'>((resolve) => (guard = setTimeout(() => resolve('ignored'), 45_000)));
    const done = runHook(webhook(srv.url, { backoffMs: 600_000 }), PROMOTE, { signal: ac.signal, random: () => 1, onAttempt: () => setImmediate(() => ac.abort()) });
    const out = await Promise.race([done, ignoredAbort]);
    clearTimeout(guard);
    if (out === 'ignored') return assert.unreachable('the default sleep did not end on abort');
    assert.is(out.attempts, 1);
    assert.match(out.error ?? '', /^aborted after 1 attempt; last error: HTTP 503/);
  } finally {
    await srv.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Commands

const DUMP_SCRIPT = `
const fs = require('fs');
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const env = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('HMD_') || k === 'EXTRA' || k === 'PATH') env[k] = process.env[k];
  fs.writeFileSync(process.env.OUT_FILE, JSON.stringify({ env, stdin: input, cwd: process.cwd(), args: process.argv.slice(1) }));
});`;

interface Dump {
  env: Record<string, string>;
  stdin: string;
  cwd: string;
  args: string[];
}

test('command: success; the child gets the HMD_* variables, its env, the payload on stdin, argv untouched', async () => {
  const out1 = tmpFile('promote.json');
  const saved = { inherited: process.env['HMD_TEST_INHERITED'], version: process.env['HMD_VERSION'] };
  process.env['HMD_TEST_INHERITED'] = 'from the daemon';
  process.env['HMD_VERSION'] = 'stale';
  try {
    const hook = command(DUMP_SCRIPT, { env: { OUT_FILE: out1, EXTRA: 'extra value', HMD_ACTION: 'spoofed' }, cwd: tmp }, ['a b', '$HOME;echo']);
    const out = await runHook(hook, PROMOTE);
    assert.is(out.ok, true);
    assert.is(out.attempts, 1);
    assert.is(out.error, undefined);
    const d = JSON.parse(readFileSync(out1, 'utf8')) as Dump;
    assert.equal(JSON.parse(d.stdin), actionPayload(PROMOTE));
    assert.is(d.cwd, tmp);
    assert.equal(d.args, ['a b', '$HOME;echo']);
    // Whatever HMD_* variables the test runs with (HMD_TEST_JOBS, …) are inherited as they are.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('HMD_') && !/^HMD_(ACTION|IDEMPOTENCY_KEY|ROLLOUT_ID|ROLLOUT_NAME|VERSION|STAGE|STAGE_INDEX|SCOPE|NEXT_STAGE|NEXT_STAGE_INDEX|NEXT_SCOPE|REASON)$/.test(k)));
    assert.is(inherited['HMD_TEST_INHERITED'], 'from the daemon');
    assert.equal(d.env, {
      ...inherited,
      PATH: process.env['PATH'],
      EXTRA: 'extra value',
      HMD_ACTION: 'promote',
      HMD_IDEMPOTENCY_KEY: 'r-42/1/promote',
      HMD_ROLLOUT_ID: 'r-42',
      HMD_ROLLOUT_NAME: 'checkout',
      HMD_VERSION: 'v1.7.0',
      HMD_STAGE: 'canary',
      HMD_STAGE_INDEX: '1',
      HMD_SCOPE: 'datacenter="dc1",tier="canary"',
      HMD_NEXT_STAGE: 'dc1',
      HMD_NEXT_STAGE_INDEX: '2',
      HMD_NEXT_SCOPE: 'datacenter="dc1"',
      HMD_REASON: 'bake passed: 3 SLOs ok',
    });

    // A revert has no next stage and this one no version: none may leak in from the daemon's environment.
    const out2 = tmpFile('revert.json');
    assert.is((await runHook(command(DUMP_SCRIPT, { env: { OUT_FILE: out2 } }), REVERT)).ok, true);
    const r = JSON.parse(readFileSync(out2, 'utf8')) as Dump;
    assert.is(r.env['HMD_ACTION'], 'revert');
    assert.is(r.env['HMD_IDEMPOTENCY_KEY'], 'r-43/0/revert');
    assert.is(r.env['HMD_STAGE_INDEX'], '0');
    for (const k of ['HMD_VERSION', 'HMD_NEXT_STAGE', 'HMD_NEXT_STAGE_INDEX', 'HMD_NEXT_SCOPE']) assert.not.ok(k in r.env, k);
    assert.equal(JSON.parse(r.stdin), actionPayload(REVERT));
  } finally {
    if (saved.inherited === undefined) delete process.env['HMD_TEST_INHERITED'];
    else process.env['HMD_TEST_INHERITED'] = saved.inherited;
    if (saved.version === undefined) delete process.env['HMD_VERSION'];
    else process.env['HMD_VERSION'] = saved.version;
  }
});

test('command: a non-zero exit is retried with the same key until it succeeds', async () => {
  const log = tmpFile('attempts.log');
  const script = `
const fs = require('fs');
fs.appendFileSync(process.env.OUT_FILE, process.env.HMD_IDEMPOTENCY_KEY + '\\n');
const n = fs.readFileSync(process.env.OUT_FILE, 'utf8').trim().split('\\n').length;
if (n < 3) { process.stderr.write('deploy API busy (try ' + n + ')\\n'); process.exit(3); }`;
  const { delays, sleep } = recordingSleep();
  const attempts: [number, string | undefined][] = [];
  const out = await runHook(command(script, { env: { OUT_FILE: log } }), REVERT, { sleep, random: () => 0.5, onAttempt: (n, e) => attempts.push([n, e]) });
  assert.is(out.ok, true);
  assert.is(out.attempts, 3);
  assert.equal(readFileSync(log, 'utf8'), 'r-43/0/revert\n'.repeat(3));
  assert.equal(delays, [500, 1000]);
  assert.equal(attempts, [
    [1, `${process.execPath} exited with code 3: deploy API busy (try 1)`],
    [2, `${process.execPath} exited with code 3: deploy API busy (try 2)`],
    [3, undefined],
  ]);
});

test('command: a failing command gives up after retries+1 attempts', async () => {
  const { delays, sleep } = recordingSleep();
  const out = await runHook(command('process.exit(1)'), PROMOTE, { sleep });
  assert.is(out.ok, false);
  assert.is(out.attempts, 4);
  assert.is(out.error, `gave up after 4 attempts: ${process.execPath} exited with code 1`);
  assert.is(delays.length, 3);
});

test('command: a program that does not exist, or a missing cwd, says so', async () => {
  const { sleep } = recordingSleep();
  const missing = join(tmp, 'no-such-deployer');
  const out = await runHook({ name: 'gone', command: { argv: [missing, '--now'], retries: 1 } }, PROMOTE, { sleep });
  assert.is(out.ok, false);
  assert.is(out.attempts, 2);
  assert.is(out.error, `gave up after 2 attempts: program not found: ${missing}`);
  const bare = await runHook({ name: 'gone', command: { argv: ['hmd-no-such-program-on-path'], retries: 0 } }, PROMOTE, { sleep });
  assert.is(bare.error, 'gave up after 1 attempt: program not found: hmd-no-such-program-on-path');
  const cwd = join(tmp, 'no-such-dir');
  const noCwd = await runHook(command('0', { cwd, retries: 0 }), PROMOTE, { sleep });
  assert.is(noCwd.error, `gave up after 1 attempt: working directory not found: ${cwd}`);
});

test('command: a child that outlives its timeout is stopped with SIGTERM and the outcome says timed out', async () => {
  const pidFile = tmpFile('pid');
  const script = `require('fs').writeFileSync(process.env.OUT_FILE, String(process.pid)); setInterval(() => {}, 1000);`;
  const { sleep } = recordingSleep();
  try {
    const out = await runHook(command(script, { env: { OUT_FILE: pidFile }, timeoutMs: 300, retries: 1 }), PROMOTE, { sleep });
    assert.is(out.ok, false);
    assert.is(out.attempts, 2);
    assert.is(out.error, `gave up after 2 attempts: ${process.execPath} timed out after 300 ms (stopped with SIGTERM)`);
    // The pid file exists if the child got as far as writing it; then it must be gone now.
    for (const pid of readPids(pidFile)) assert.not.ok(alive(pid), `child ${pid} still running`);
  } finally {
    readPids(pidFile).forEach(killQuietly);
  }
});

test('command: a child that ignores SIGTERM is killed with SIGKILL 5 s later', async () => {
  const pidFile = tmpFile('pid');
  const script = `process.on('SIGTERM', () => {}); require('fs').writeFileSync(process.env.OUT_FILE, String(process.pid)); setInterval(() => {}, 1000);`;
  try {
    const out = await runHook(command(script, { env: { OUT_FILE: pidFile }, timeoutMs: 1500, retries: 0 }), PROMOTE);
    const pids = readPids(pidFile);
    assert.is(pids.length, 1, 'the child started within its timeout');
    assert.is(out.error, `gave up after 1 attempt: ${process.execPath} timed out after 1500 ms (killed with SIGKILL 5 s after SIGTERM)`);
    assert.not.ok(alive(pids[0]!));
  } finally {
    readPids(pidFile).forEach(killQuietly);
  }
});

test('command: a timeout also stops what the command started, which holds its stderr open', async () => {
  const pidFile = tmpFile('pids');
  const script = `
const { spawn } = require('child_process');
const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'ignore', 'inherit'] });
require('fs').writeFileSync(process.env.OUT_FILE, process.pid + ' ' + g.pid);
setInterval(() => {}, 1000);`;
  try {
    const out = await runHook(command(script, { env: { OUT_FILE: pidFile }, timeoutMs: 1500, retries: 0 }), PROMOTE);
    const pids = readPids(pidFile);
    assert.is(pids.length, 2, 'child and grandchild started within the timeout');
    assert.match(out.error ?? '', 'timed out after 1500 ms');
    for (const pid of pids) assert.not.ok(alive(pid), `process ${pid} still running`);
  } finally {
    readPids(pidFile).forEach(killQuietly);
  }
});

test('command: exit 0 counts even when a background process keeps stderr open', async () => {
  const pidFile = tmpFile('pids');
  const script = `
const { spawn } = require('child_process');
const g = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: ['ignore', 'ignore', 'inherit'] });
require('fs').writeFileSync(process.env.OUT_FILE, String(g.pid));
process.exit(0);`;
  try {
    const out = await runHook(command(script, { env: { OUT_FILE: pidFile }, timeoutMs: 30_000 }), PROMOTE);
    assert.is(out.ok, true);
    assert.is(out.attempts, 1);
    assert.is(readPids(pidFile).length, 1);
  } finally {
    readPids(pidFile).forEach(killQuietly);
  }
});

test('command: an env secret printed to stderr is redacted; only the tail of stderr is kept', async () => {
  const secret = 'tok-SECRET-5a4b3c';
  const script = `process.stderr.write('y'.repeat(3000) + ' auth failed for token ' + process.env.API_TOKEN + '\\nexit now\\n'); process.exit(2);`;
  const errors: (string | undefined)[] = [];
  const out = await runHook(command(script, { env: { API_TOKEN: secret }, retries: 0 }), PROMOTE, { onAttempt: (_n, e) => errors.push(e) });
  assert.is(out.ok, false);
  assert.ok(out.error?.startsWith(`gave up after 1 attempt: ${process.execPath} exited with code 2: …`), out.error);
  assert.ok(out.error?.endsWith('auth failed for token <redacted> exit now'), out.error);
  assert.not.ok(JSON.stringify([out, errors]).includes('SECRET'));
  // The excerpt is the last 500 characters, not all 3000 of the y's.
  const excerpt = out.error!.slice(out.error!.indexOf(': …') + 3);
  assert.is(excerpt.length, 500);
});

test('command: abort while the command runs stops it and reports aborted', async () => {
  const ac = new AbortController();
  let pid: number | undefined;
  // The child tells the server it is running; that, not a timer, triggers the abort.
  const srv = await serve((_n, req, res) => {
    pid = Number(new URL(req.url, 'http://x').searchParams.get('pid'));
    reply(res, 200);
    ac.abort();
  });
  const script = `require('http').get(process.env.PING + '?pid=' + process.pid, (r) => r.resume()); setInterval(() => {}, 1000);`;
  const { delays, sleep } = recordingSleep();
  try {
    const out = await runHook(command(script, { env: { PING: srv.url + '/started' }, timeoutMs: 600_000 }), PROMOTE, { signal: ac.signal, sleep });
    assert.is(out.ok, false);
    assert.is(out.attempts, 1);
    assert.is(out.error, 'aborted after 1 attempt');
    assert.equal(delays, []);
    assert.ok(pid !== undefined && pid > 0);
    assert.not.ok(alive(pid!));
  } finally {
    killQuietly(pid);
    await srv.close();
  }
});

test.run();
