/**
 * The daemon's action hooks: how a promote or a revert reaches the outside world, as an HTTP
 * webhook (POST of a JSON payload) or as a local command (argv, no shell, the payload on stdin
 * and in HMD_* variables).
 *
 * - Every attempt of one action carries the same idempotency key (`Idempotency-Key` header,
 *   HMD_IDEMPOTENCY_KEY), so a receiver that saw an attempt whose answer was lost can tell the
 *   retry apart from a new action.
 * - Transient failures are retried with full-jitter exponential backoff (or the server's
 *   Retry-After); a failure that a retry cannot fix (a 4xx, an invalid request) stops at once.
 * - Hooks hold secrets (header tokens, env values). Every error string that leaves this module
 *   has them replaced by `<redacted>`, because receivers and scripts echo them back (an auth
 *   error quoting the token it refused, `set -x` in a script).
 * - `runHook` never throws: the daemon records the outcome on the action and moves on.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { errorCode } from '../util/errors.js';

export interface WebhookSpec {
  /** http:// or https:// */
  readonly url: string;
  /** Sent with every attempt; the values may be secrets (tokens). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Deadline of one attempt (connect, headers and body), ms; default 10_000. */
  readonly timeoutMs?: number;
  /** Retries after the first attempt; default 5. */
  readonly retries?: number;
  /** First retry's backoff cap, ms; doubles per retry up to 60_000; default 1_000. */
  readonly backoffMs?: number;
}

export interface CommandSpec {
  /** argv[0] is the program, looked up in PATH; no shell is involved. */
  readonly argv: readonly string[];
  /** Added to the daemon's environment; the values may be secrets. */
  readonly env?: Readonly<Record<string, string>>;
  /** Deadline of one attempt, ms; default 60_000. Then SIGTERM, and SIGKILL 5 s later. */
  readonly timeoutMs?: number;
  /** Retries after the first attempt; default 3. */
  readonly retries?: number;
  /** First retry's backoff cap, ms; default 1_000. */
  readonly backoffMs?: number;
  readonly cwd?: string;
}

/** A hook as configured in hmd.yaml: exactly one of `webhook` and `command`. */
export interface HookSpec {
  readonly name: string;
  readonly webhook?: WebhookSpec;
  readonly command?: CommandSpec;
}

interface StageRef {
  readonly index: number;
  readonly name: string;
  readonly scope: string;
}

export interface ActionRequest {
  /** `<rollout id>/<stage>/<kind>`, e.g. "r-42/1/revert"; the same on every attempt and after restarts. */
  readonly idempotencyKey: string;
  readonly kind: 'promote' | 'revert';
  readonly rollout: { readonly id: string; readonly name: string; readonly version?: string };
  /** For promote, the stage whose bake passed; for revert, the stage reverted. */
  readonly stage: StageRef;
  /** Promote only: the stage to widen to; absent when the last stage passed. */
  readonly next?: StageRef;
  readonly reason: string;
  /** ms since the epoch */
  readonly at: number;
}

export interface HookOutcome {
  readonly ok: boolean;
  /** Attempts started (0 when the hook or request was invalid, or aborted before the first). */
  readonly attempts: number;
  readonly durationMs: number;
  /** The HTTP status of the last attempt, when it got one. */
  readonly status?: number;
  /** Why it failed, with the attempt count; secrets redacted. */
  readonly error?: string;
}

export interface RunHookOptions {
  /** Aborts the wait between attempts and the attempt in flight. */
  readonly signal?: AbortSignal;
  /** Waits `ms`; should end early on abort. Default: a real timer. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter source in [0, 1); default Math.random. */
  readonly random?: () => number;
  /** Called after each attempt with its error (undefined on success), already redacted. */
  readonly onAttempt?: (attempt: number, error: string | undefined) => void;
  /** Default "hmd". */
  readonly userAgent?: string;
}

const REDACTED = '<redacted>';

const WEBHOOK_DEFAULTS = { timeoutMs: 10_000, retries: 5, backoffMs: 1_000 } as const;
const COMMAND_DEFAULTS = { timeoutMs: 60_000, retries: 3, backoffMs: 1_000 } as const;
const MAX_BACKOFF_MS = 60_000;
const KILL_GRACE_MS = 5_000;
// A command that exits but leaves a background process holding its stderr must not hold the
// action forever: after its exit we wait this long for the pipe to close, then stop reading.
const STDIO_DRAIN_MS = 1_000;
const BODY_EXCERPT_CHARS = 200;
const BODY_READ_BYTES = 4_096;
const SUCCESS_DRAIN_BYTES = 1 << 20;
const STDERR_EXCERPT_CHARS = 500;
const STDERR_KEEP_CHARS = 4_096;

/** The JSON body a webhook receives (and a command reads on stdin). */
export function actionPayload(req: ActionRequest): object {
  const stage = (s: StageRef) => ({ index: s.index, name: s.name, scope: s.scope });
  // Built field by field so that whatever else the caller's objects carry stays out of the wire format.
  return {
    idempotencyKey: req.idempotencyKey,
    kind: req.kind,
    rollout: { id: req.rollout.id, name: req.rollout.name, ...(req.rollout.version !== undefined ? { version: req.rollout.version } : {}) },
    stage: stage(req.stage),
    ...(req.next !== undefined ? { next: stage(req.next) } : {}),
    reason: req.reason,
    at: new Date(req.at).toISOString(),
  };
}

/** The secrets of a hook: its header values and env values (non-empty ones). */
export function hookSecrets(hook: HookSpec): string[] {
  const out = new Set<string>();
  const add = (s: string | undefined) => {
    if (typeof s === 'string' && s !== '') out.add(s);
  };
  for (const [name, value] of Object.entries(hook.webhook?.headers ?? {})) {
    add(value);
    // A receiver that rejects a credential tends to quote the credential alone, without its scheme.
    if (/^(proxy-)?authorization$/i.test(name)) add(/^\S+\s+(\S.*)$/.exec(value.trim())?.[1]);
  }
  const url = hook.webhook !== undefined ? parseUrl(hook.webhook.url) : undefined;
  if (url?.password) add(safeDecode(url.password));
  for (const value of Object.values(hook.command?.env ?? {})) add(value);
  return [...out];
}

/** `text` with every secret (header values, env values of the hook) replaced by "<redacted>". */
export function redact(text: string, secrets: readonly string[]): string {
  const re = redactor(secrets);
  return re === undefined ? text : text.replace(re, REDACTED);
}

/** Carries out one action through a hook, retrying transient failures; never throws. */
export async function runHook(hook: HookSpec, req: ActionRequest, opts: RunHookOptions = {}): Promise<HookOutcome> {
  const t0 = performance.now();
  const elapsed = () => Math.round(performance.now() - t0);
  let secrets: string[] = [];
  try {
    secrets = hookSecrets(hook);
    const invalid = checkHook(hook) ?? checkRequest(req);
    if (invalid !== undefined) return { ok: false, attempts: 0, durationMs: elapsed(), error: redact(`invalid hook "${hook.name}": ${invalid}`, secrets) };
    const attempt = hook.webhook !== undefined ? webhookAttempts(hook.webhook, req, opts, secrets) : commandAttempts(hook.command!, req, secrets);
    try {
      return { ...(await retryLoop(attempt, opts, secrets)), durationMs: elapsed() };
    } finally {
      await attempt.close();
    }
  } catch (err) {
    return { ok: false, attempts: 0, durationMs: elapsed(), error: redact(`hook "${hook?.name}": internal error: ${messageOf(err)}`, secrets) };
  }
}

// ---------------------------------------------------------------------------------------------
// The retry loop, shared by both kinds of hook.

/** One attempt's result. Error strings are raw here and redacted once, by the loop. */
interface AttemptResult {
  readonly ok: boolean;
  readonly error?: string;
  /** False when another attempt cannot help (a 4xx, an invalid request). */
  readonly retryable: boolean;
  /** The server's Retry-After, already capped. */
  readonly retryAfterMs?: number;
  readonly status?: number;
  readonly aborted?: boolean;
}

interface Attempter {
  readonly retries: number;
  readonly backoffMs: number;
  run(signal: AbortSignal | undefined): Promise<AttemptResult>;
  close(): Promise<void>;
}

async function retryLoop(attempter: Attempter, opts: RunHookOptions, secrets: readonly string[]): Promise<Omit<HookOutcome, 'durationMs'>> {
  const signal = opts.signal;
  const sleep = opts.sleep ?? realSleep;
  const random = opts.random ?? Math.random;
  const plural = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;
  let attempts = 0;
  let status: number | undefined;
  let lastFailure: string | undefined;
  const aborted = () => {
    const what = attempts === 0 ? 'aborted before the first attempt' : `aborted after ${plural(attempts)}`;
    return { ok: false, attempts, ...(status !== undefined ? { status } : {}), error: lastFailure !== undefined ? `${what}; last error: ${lastFailure}` : what };
  };
  for (;;) {
    if (signal?.aborted) return aborted();
    attempts++;
    const r = await attempter.run(signal);
    status = r.status;
    const error = r.error === undefined ? undefined : redact(r.error, secrets);
    try {
      opts.onAttempt?.(attempts, r.ok ? undefined : (error ?? 'failed'));
    } catch {
      // A broken observer must not turn into a failed (or, worse, a repeated) action.
    }
    const withStatus = status !== undefined ? { status } : {};
    if (r.ok) return { ok: true, attempts, ...withStatus };
    if (r.aborted || signal?.aborted) return aborted();
    lastFailure = error ?? 'failed';
    if (!r.retryable) return { ok: false, attempts, ...withStatus, error: `gave up after ${plural(attempts)} (not retryable): ${lastFailure}` };
    if (attempts > attempter.retries) return { ok: false, attempts, ...withStatus, error: `gave up after ${plural(attempts)}: ${lastFailure}` };
    const cap = Math.min(MAX_BACKOFF_MS, attempter.backoffMs * 2 ** (attempts - 1));
    const delay = r.retryAfterMs ?? Math.min(1, Math.max(0, random())) * cap;
    try {
      await sleep(delay, signal);
    } catch {
      // A sleep that rejects is how an injected sleep reports an abort; the check above decides.
    }
  }
}

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------
// Webhooks

function webhookAttempts(spec: WebhookSpec, req: ActionRequest, opts: RunHookOptions, secrets: readonly string[]): Attempter {
  const timeoutMs = spec.timeoutMs ?? WEBHOOK_DEFAULTS.timeoutMs;
  const u = parseUrl(spec.url)!;
  const shown = displayUrl(u);
  const headers: Record<string, string> = { 'user-agent': opts.userAgent ?? 'hmd' };
  if (u.username || u.password) {
    headers['authorization'] = 'Basic ' + Buffer.from(`${safeDecode(u.username)}:${safeDecode(u.password)}`).toString('base64');
  }
  for (const [k, v] of Object.entries(spec.headers ?? {})) headers[k.toLowerCase()] = v;
  // Set after the configured headers: the receiver's deduplication relies on these two.
  headers['content-type'] = 'application/json';
  headers['idempotency-key'] = req.idempotencyKey;
  const target = new URL(u.href);
  target.username = '';
  target.password = '';
  const body = Buffer.from(JSON.stringify(actionPayload(req)));
  // One agent per action, destroyed at the end: no keep-alive socket outlives the action, and a
  // retry after a reset never reuses a connection the server already dropped.
  const agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });

  return {
    retries: spec.retries ?? WEBHOOK_DEFAULTS.retries,
    backoffMs: spec.backoffMs ?? WEBHOOK_DEFAULTS.backoffMs,
    close: () => agent.destroy().catch(() => undefined),
    async run(signal) {
      const ac = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        ac.abort(new Error('timeout'));
      }, timeoutMs);
      const onAbort = () => ac.abort(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      let status: number | undefined;
      try {
        const res = await request(target, { dispatcher: agent, method: 'POST', headers, body, signal: ac.signal });
        status = res.statusCode;
        if (status >= 200 && status < 300) {
          // The receiver acted once it answered 2xx; a body cut short afterwards changes nothing.
          await res.body.dump({ limit: SUCCESS_DRAIN_BYTES }).catch(() => undefined);
          return { ok: true, retryable: false, status };
        }
        const excerpt = await bodyExcerpt(res.body, secrets);
        const error = `HTTP ${status} from ${shown}${excerpt ? `: ${excerpt}` : ''}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`;
        const retryAfter = status === 429 || status === 503 ? retryAfterMs(res.headers['retry-after'], Date.now()) : undefined;
        return { ok: false, error, status, retryable: retryableStatus(status), ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) };
      } catch (err) {
        const withStatus = status !== undefined ? { status } : {};
        if (timedOut) return { ok: false, retryable: true, ...withStatus, error: `timeout: no complete answer from ${shown} within ${timeoutMs} ms` };
        if (signal?.aborted) return { ok: false, retryable: false, aborted: true, ...withStatus, error: 'aborted' };
        const code = errorCode(err);
        if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
          return { ok: false, retryable: true, ...withStatus, error: `timeout: no complete answer from ${shown} within ${timeoutMs} ms` };
        }
        // undici refuses a malformed request (a header value with a newline, say) before sending it: the same request would be refused again.
        const retryable = code !== 'UND_ERR_INVALID_ARG';
        return { ok: false, retryable, ...withStatus, error: transportError(code, err, shown) };
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    },
  };
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

function transportError(code: string | undefined, err: unknown, shown: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused: ${shown}`;
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return `connection reset: ${shown}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found: ${shown}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `host unreachable: ${shown}`;
    default:
      return `request to ${shown} failed${code ? ` (${code})` : ''}: ${messageOf(err)}`;
  }
}

/** Retry-After in ms (delta-seconds or an HTTP date), capped; undefined when absent or unreadable. */
function retryAfterMs(value: string | string[] | undefined, now: number): number | undefined {
  const s = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!s) return undefined;
  if (/^\d+$/.test(s)) return Math.min(MAX_BACKOFF_MS, Number(s) * 1000);
  // Only something that looks like a date: Date.parse also takes bare numbers like "1.5".
  if (!/[a-z]/i.test(s)) return undefined;
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  return Math.min(MAX_BACKOFF_MS, Math.max(0, t - now));
}

/** The start of an error response's body, for the error message: redacted before it is cut. */
async function bodyExcerpt(body: AsyncIterable<unknown> & { destroy(): unknown }, secrets: readonly string[]): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  try {
    for await (const chunk of body) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      chunks.push(b);
      bytes += b.length;
      if (bytes >= BODY_READ_BYTES) {
        truncated = true;
        break;
      }
    }
  } catch {
    // What arrived before the failure is still worth showing.
  } finally {
    body.destroy();
  }
  const raw = Buffer.concat(chunks, bytes).subarray(0, BODY_READ_BYTES).toString('utf8');
  return excerpt(redactCut(raw, secrets, false, truncated), BODY_EXCERPT_CHARS, 'head');
}

// ---------------------------------------------------------------------------------------------
// Commands

function commandAttempts(spec: CommandSpec, req: ActionRequest, secrets: readonly string[]): Attempter {
  const timeoutMs = spec.timeoutMs ?? COMMAND_DEFAULTS.timeoutMs;
  const env = commandEnv(spec, req);
  const stdin = JSON.stringify(actionPayload(req));
  const children = new Set<ChildProcess>();
  return {
    retries: spec.retries ?? COMMAND_DEFAULTS.retries,
    backoffMs: spec.backoffMs ?? COMMAND_DEFAULTS.backoffMs,
    async close() {
      // Normally empty: an attempt removes its child once it has exited. This is the last line against an orphan.
      for (const c of children) killGroup(c, 'SIGKILL');
    },
    run: (signal) => runCommand(spec, env, stdin, timeoutMs, signal, secrets, children),
  };
}

/** The daemon's environment, the hook's env, then the HMD_* contract, which the other two cannot override. */
function commandEnv(spec: CommandSpec, req: ActionRequest): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...spec.env };
  // A variable this action has no value for must not arrive from the daemon's own environment.
  for (const k of ['HMD_VERSION', 'HMD_NEXT_STAGE', 'HMD_NEXT_STAGE_INDEX', 'HMD_NEXT_SCOPE']) delete env[k];
  env['HMD_ACTION'] = req.kind;
  env['HMD_IDEMPOTENCY_KEY'] = req.idempotencyKey;
  env['HMD_ROLLOUT_ID'] = req.rollout.id;
  env['HMD_ROLLOUT_NAME'] = req.rollout.name;
  if (req.rollout.version !== undefined) env['HMD_VERSION'] = req.rollout.version;
  env['HMD_STAGE'] = req.stage.name;
  env['HMD_STAGE_INDEX'] = String(req.stage.index);
  env['HMD_SCOPE'] = req.stage.scope;
  if (req.next !== undefined) {
    env['HMD_NEXT_STAGE'] = req.next.name;
    env['HMD_NEXT_STAGE_INDEX'] = String(req.next.index);
    env['HMD_NEXT_SCOPE'] = req.next.scope;
  }
  env['HMD_REASON'] = req.reason;
  return env;
}

function runCommand(
  spec: CommandSpec,
  env: NodeJS.ProcessEnv,
  stdin: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  secrets: readonly string[],
  children: Set<ChildProcess>,
): Promise<AttemptResult> {
  const prog = spec.argv[0]!;
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(prog, spec.argv.slice(1), {
        cwd: spec.cwd,
        env,
        stdio: ['pipe', 'ignore', 'pipe'],
        // Its own process group, so that a timeout also stops what the command started (curl
        // under a shell script): those would otherwise keep running and hold stderr open.
        detached: process.platform !== 'win32',
        windowsHide: true,
      });
    } catch (err) {
      resolve({ ok: false, retryable: false, error: `cannot start ${prog}: ${messageOf(err)}` });
      return;
    }
    children.add(child);

    let stderr = '';
    let stderrCut = false;
    const keep = STDERR_KEEP_CHARS + longestSecret(secrets);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      stderr += s;
      if (stderr.length > keep) {
        stderr = stderr.slice(-keep);
        stderrCut = true;
      }
    });
    child.stderr!.on('error', () => undefined);
    // A command that exits without reading its input is no failure of ours (EPIPE).
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(stdin);

    let stopping: 'timeout' | 'abort' | undefined;
    let killedHard = false;
    let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
    let spawnError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let finished = false;

    const stop = (why: 'timeout' | 'abort') => {
      // After its exit the child is only being drained: its outcome is already decided.
      if (stopping !== undefined || exit !== undefined || finished) return;
      stopping = why;
      killGroup(child, 'SIGTERM');
      // Not cancelled when the child itself exits: what it started may outlive it, holding stderr.
      killTimer = setTimeout(() => {
        killedHard = true;
        killGroup(child, 'SIGKILL');
      }, KILL_GRACE_MS);
    };
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    const onAbort = () => stop('abort');
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });

    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      signal?.removeEventListener('abort', onAbort);
      child.stderr!.destroy();
      children.delete(child);
      resolve(result());
    };
    const result = (): AttemptResult => {
      const tail = excerpt(redactCut(stderr, secrets, stderrCut, false), STDERR_EXCERPT_CHARS, 'tail');
      const withTail = (s: string) => (tail ? `${s}: ${tail}` : s);
      if (spawnError !== undefined) return { ok: false, retryable: true, error: spawnFailure(spawnError, prog, spec.cwd) };
      if (stopping === 'abort') return { ok: false, retryable: false, aborted: true, error: 'aborted' };
      if (stopping === 'timeout') {
        const how = killedHard ? `killed with SIGKILL ${KILL_GRACE_MS / 1000} s after SIGTERM` : 'stopped with SIGTERM';
        return { ok: false, retryable: true, error: withTail(`${prog} timed out after ${timeoutMs} ms (${how})`) };
      }
      if (exit?.code === 0) return { ok: true, retryable: false };
      if (exit?.sig) return { ok: false, retryable: true, error: withTail(`${prog} was killed by ${exit.sig}`) };
      return { ok: false, retryable: true, error: withTail(`${prog} exited with code ${exit?.code ?? 'unknown'}`) };
    };

    child.on('error', (err) => {
      // Also emitted when a kill fails; only a child that never started ends the attempt here.
      if (child.pid === undefined) {
        spawnError = err;
        finish();
      }
    });
    child.on('exit', (code, sig) => {
      exit = { code, sig };
      // While stopping, the SIGKILL of the group is still to come and normally closes the pipe;
      // this is the backstop for a descendant that left the group.
      drainTimer = setTimeout(finish, stopping === undefined ? STDIO_DRAIN_MS : KILL_GRACE_MS + STDIO_DRAIN_MS);
    });
    child.on('close', finish);
  });
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform !== 'win32') process.kill(-child.pid, sig);
    else child.kill(sig);
  } catch {
    // The group is gone already (ESRCH): nothing left to stop.
  }
}

function spawnFailure(err: Error, prog: string, cwd: string | undefined): string {
  const code = errorCode(err);
  // Node reports a missing working directory as ENOENT of the program; tell them apart.
  if (code === 'ENOENT' && cwd !== undefined && !existsSync(cwd)) return `working directory not found: ${cwd}`;
  if (code === 'ENOENT') return `program not found: ${prog}`;
  if (code === 'EACCES') return `program not executable (permission denied): ${prog}`;
  return `cannot start ${prog}: ${err.message}`;
}

// ---------------------------------------------------------------------------------------------
// Validation

function checkHook(hook: HookSpec): string | undefined {
  if (hook === null || typeof hook !== 'object') return 'not an object';
  if ((hook.webhook === undefined) === (hook.command === undefined)) return 'needs exactly one of webhook and command';
  const common = (s: WebhookSpec | CommandSpec): string | undefined => {
    if (s.timeoutMs !== undefined && !(Number.isFinite(s.timeoutMs) && s.timeoutMs > 0)) return `timeoutMs must be a positive number, not ${s.timeoutMs}`;
    if (s.retries !== undefined && !(Number.isInteger(s.retries) && s.retries >= 0)) return `retries must be a whole number >= 0, not ${s.retries}`;
    if (s.backoffMs !== undefined && !(Number.isFinite(s.backoffMs) && s.backoffMs >= 0)) return `backoffMs must be a number >= 0, not ${s.backoffMs}`;
    return undefined;
  };
  if (hook.webhook !== undefined) {
    const u = parseUrl(hook.webhook.url);
    if (u === undefined) return 'webhook.url is not a URL';
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `webhook.url must be http or https, not ${u.protocol}`;
    return common(hook.webhook);
  }
  const c = hook.command!;
  if (!Array.isArray(c.argv) || c.argv.length === 0 || typeof c.argv[0] !== 'string' || c.argv[0] === '') return 'command.argv needs at least the program';
  if (c.argv.some((a) => typeof a !== 'string')) return 'command.argv must hold strings only';
  return common(c);
}

function checkRequest(req: ActionRequest): string | undefined {
  if (typeof req?.idempotencyKey !== 'string' || req.idempotencyKey === '') return 'the action has no idempotency key';
  if (req.kind !== 'promote' && req.kind !== 'revert') return `unknown action kind ${String(req.kind)}`;
  if (!Number.isFinite(req.at)) return 'the action has no valid time';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** The forms a secret takes when echoed: as is, escaped inside a JSON string, percent-encoded. */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (typeof s !== 'string' || s === '') continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
    forms.add(encodeURIComponent(s));
  }
  return [...forms];
}

function redactor(secrets: readonly string[]): RegExp | undefined {
  const forms = secretForms(secrets);
  if (forms.length === 0) return undefined;
  // One pass over the text, longest first: a secret that contains another is replaced whole,
  // and the marker itself is matched (and kept) so that redacting twice changes nothing.
  const alts = [REDACTED, ...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
  return new RegExp(alts.join('|'), 'g');
}

function longestSecret(secrets: readonly string[]): number {
  return secretForms(secrets).reduce((m, s) => Math.max(m, s.length), 0);
}

/**
 * Redacts a piece cut out of a longer text. A secret that straddled a cut is left as a fragment
 * the redactor cannot recognise, so the cut edges lose as many characters as the longest secret.
 */
function redactCut(text: string, secrets: readonly string[], cutStart: boolean, cutEnd: boolean): string {
  let r = redact(text, secrets);
  const edge = Math.max(0, longestSecret(secrets) - 1);
  if (cutStart) r = '…' + r.slice(edge);
  if (cutEnd) r = r.slice(0, Math.max(0, r.length - edge)) + '…';
  return r;
}

/** Whitespace folded to single spaces, then at most `n` characters from the head or the tail. */
function excerpt(text: string, n: number, keep: 'head' | 'tail'): string {
  const s = text.replace(/\s+/g, ' ').trim();
  if (s.length <= n) return s;
  return keep === 'head' ? s.slice(0, n) + '…' : '…' + s.slice(s.length - n);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function parseUrl(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The URL as errors show it: no credentials, and no query string, which often carries a token. */
function displayUrl(u: URL): string {
  return u.origin + u.pathname + (u.search ? '?…' : '');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
