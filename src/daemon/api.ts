/**
 * The daemon's HTTP API, status pages, /metrics and health checks, behind the shared HTTP
 * transport (server/http.ts: bounded bodies, graceful close).
 *
 *   GET  /api/v1/rollouts[?state=running,paused]     list, newest first
 *   POST /api/v1/rollouts                            create (a Rollout document, JSON or YAML, SLOs inline)
 *   GET  /api/v1/rollouts/<id>                       status, with the whole evaluation history
 *   POST /api/v1/rollouts/<id>/pause|resume|promote|abort
 *   GET  /  and  /rollouts/<id>                      status pages (HTML)
 *   GET  /metrics  /healthz  /readyz
 *
 * Answers are JSON `{"status":"success","data":…}` or `{"status":"error","errorType":…,"error":…}`
 * as Prometheus's API; times in them are RFC3339. Every POST needs a bearer token from the
 * config; reads need one too when `protectReads` is set. Request bodies are validated like files
 * (errors say where in the body), and `${VAR}` in them is never filled from the daemon's environment.
 */

import { timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/yaml.js';
import { TransitionError, type RolloutState } from '../rollout/machine.js';
import { parseRollout, type RolloutPlan } from '../rollout/spec.js';
import { sloInfo } from '../slo/info.js';
import type { ApiRequest, ApiResponse } from '../server/api.js';
import type { DaemonMetrics } from './metrics.js';
import { renderIndexPage, renderRolloutPage } from './page.js';
import { NotFoundError, type Runner } from './runner.js';
import { evaluationView, type RolloutRow, type Store } from './store.js';
import type { RolloutDetail, RolloutSummary, StageView } from './types.js';

/** A client allowed to change rollouts: its name shows in the audit trail as who asked. */
export interface ApiToken {
  readonly name: string;
  readonly token: string;
}

export interface DaemonApiOptions {
  readonly store: Store;
  readonly runner: Runner;
  readonly tokens: readonly ApiToken[];
  /** Require a token for reads too (default: reads are open, like a status page). */
  readonly protectReads?: boolean;
  readonly metrics: DaemonMetrics;
  /** Now, for page headers (the daemon's clock). */
  readonly now: () => number;
  /** Seconds between refreshes of the status pages (default 10). */
  readonly refreshSeconds?: number;
}

const STATES: readonly RolloutState[] = ['running', 'paused', 'promoting', 'reverting', 'completed', 'reverted', 'aborted'];
const REQUESTS = ['pause', 'resume', 'promote', 'abort'] as const;
type RequestKind = (typeof REQUESTS)[number];

/** Serialises with times as RFC3339 strings (keys ending in `At` or `Since`, and `at`). */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (k, x: unknown) => (typeof x === 'number' && (k === 'at' || k.endsWith('At') || k.endsWith('Since')) ? new Date(x).toISOString() : x));
}

const json = (status: number, data: unknown, extra: Record<string, string> = {}): ApiResponse => ({
  status,
  headers: { 'Content-Type': 'application/json', ...extra },
  body: toJson({ status: 'success', data }),
});

type ErrorType = 'bad_data' | 'unauthorized' | 'not_found' | 'conflict' | 'method_not_allowed' | 'unsupported_media_type' | 'unavailable' | 'internal';

const fail = (status: number, errorType: ErrorType, error: string, extra: Record<string, string> = {}): ApiResponse => ({
  status,
  headers: { 'Content-Type': 'application/json', ...extra },
  body: JSON.stringify({ status: 'error', errorType, error }),
  errorType: errorType as ApiResponse['errorType'],
});

// The pages hold no script and load nothing: the browser is told so too.
const HTML_HEADERS = { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'" };

/** The daemon's request handler. */
export class DaemonApi {
  private readonly tokens: { name: string; token: Buffer }[];
  /** Plans read from rollout documents, which never change: a list need not parse every SLO again. */
  private readonly plans = new Map<string, RolloutPlan>();

  constructor(private readonly o: DaemonApiOptions) {
    this.tokens = o.tokens.map((t) => ({ name: t.name, token: Buffer.from(t.token) }));
  }

  /** Answers a request; never throws. */
  async handle(req: ApiRequest): Promise<ApiResponse> {
    const route = routeOf(req.path);
    let out: ApiResponse;
    try {
      out = await this.dispatch(req, route);
    } catch (err) {
      out = errorResponse(err);
    }
    this.o.metrics.apiRequests.inc({ method: req.method, route: route.name, code: String(out.status) });
    return out;
  }

  private async dispatch(req: ApiRequest, route: Route): Promise<ApiResponse> {
    const m = req.method === 'HEAD' ? 'GET' : req.method;
    switch (route.name) {
      case 'healthz':
        return m === 'GET' ? json(200, 'ok') : notAllowed('GET');
      case 'readyz':
        if (m !== 'GET') return notAllowed('GET');
        return this.o.runner.ready && this.o.store.ping() ? json(200, 'ready') : fail(503, 'unavailable', 'not ready: the daemon is starting or stopping');
      case 'metrics':
        if (m !== 'GET') return notAllowed('GET');
        return { status: 200, headers: { 'Content-Type': this.o.metrics.registry.contentType }, body: await this.o.metrics.registry.metrics() };
      case 'index':
        if (m !== 'GET') return notAllowed('GET');
        return this.read(req, () => ({ status: 200, headers: HTML_HEADERS, body: renderIndexPage(this.summaries(), { now: this.o.now(), refreshSeconds: this.o.refreshSeconds ?? 10 }) }));
      case 'page':
        if (m !== 'GET') return notAllowed('GET');
        return this.read(req, () => ({ status: 200, headers: HTML_HEADERS, body: renderRolloutPage(this.detail(route.id!), { now: this.o.now(), refreshSeconds: this.o.refreshSeconds ?? 10 }) }));
      case 'rollouts':
        if (m === 'GET') return this.read(req, () => json(200, this.summaries(stateFilter(req.query))));
        if (m === 'POST') return this.write(req, (by) => this.create(req, by));
        return notAllowed('GET, POST');
      case 'rollout':
        if (m !== 'GET') return notAllowed('GET');
        return this.read(req, () => json(200, this.detail(route.id!)));
      case 'request':
        if (m !== 'POST') return notAllowed('POST');
        return this.write(req, (by) => {
          this.o.runner.request(route.id!, route.request!, by);
          return json(200, this.summary(this.o.store.rollout(route.id!)!));
        });
      default:
        return fail(404, 'not_found', `no such endpoint: ${req.method} ${req.path} (see GET / for rollouts, /api/v1/rollouts for the API)`);
    }
  }

  /** The client's name for a valid bearer token, or undefined. */
  private who(req: ApiRequest): string | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.authorization ?? '');
    if (!m) return undefined;
    const given = Buffer.from(m[1]!);
    // Compared in constant time, against every token, so timing tells nothing of a token.
    let found: string | undefined;
    for (const t of this.tokens) if (t.token.length === given.length && timingSafeEqual(t.token, given)) found ??= t.name;
    return found;
  }

  private unauthorized(req: ApiRequest): ApiResponse {
    if (this.tokens.length === 0) return fail(403, 'unauthorized', 'this daemon accepts no changes: its config lists no daemon.tokens');
    const why = req.authorization ? 'the bearer token is not one of daemon.tokens' : 'send Authorization: Bearer <token> (a token from daemon.tokens)';
    return fail(401, 'unauthorized', `unauthorized: ${why}`, { 'WWW-Authenticate': 'Bearer realm="hmd"' });
  }

  private read(req: ApiRequest, f: () => ApiResponse): ApiResponse {
    if (this.o.protectReads && this.who(req) === undefined) return this.unauthorized(req);
    return f();
  }

  private write(req: ApiRequest, f: (by: string) => ApiResponse): ApiResponse {
    const by = this.who(req);
    if (by === undefined) return this.unauthorized(req);
    if (!this.o.runner.ready) return fail(503, 'unavailable', 'the daemon is stopping; try again when it is back');
    return f(by);
  }

  private create(req: ApiRequest, by: string): ApiResponse {
    const ct = (req.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (!['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml'].includes(ct)) {
      return fail(415, 'unsupported_media_type', `send the rollout as application/json or application/yaml, not ${ct || 'no Content-Type'}`);
    }
    if (!req.body || req.body.length === 0) return fail(400, 'bad_data', 'empty request body: send a Rollout document (apiVersion: hmd.dev/v1, kind: Rollout)');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(req.body);
    } catch {
      return fail(400, 'bad_data', 'the request body is not UTF-8 text');
    }
    // Checked before anything is stored: a bad document changes nothing.
    parseRollout(text, 'request body', {});
    const id = this.o.runner.create(text, 'request body', by);
    return json(201, this.detail(id), { Location: `/api/v1/rollouts/${id}` });
  }

  private summaries(states?: readonly string[]): RolloutSummary[] {
    return this.o.store.rollouts(states).map((r) => this.summary(r));
  }

  /** A rollout's plan, kept for the most recent 512 rollouts asked about. */
  private planOf(r: RolloutRow): RolloutPlan {
    let p = this.plans.get(r.id);
    if (p) return p;
    p = parseRollout(r.document, `rollout ${r.id}`, {});
    this.plans.set(r.id, p);
    if (this.plans.size > 512) this.plans.delete(this.plans.keys().next().value!);
    return p;
  }

  private summary(r: RolloutRow): RolloutSummary {
    const plan = this.planOf(r);
    return {
      id: r.id,
      name: r.name,
      ...(r.version !== undefined ? { version: r.version } : {}),
      state: r.status.state,
      stage: { index: r.status.stage, name: plan.stages[r.status.stage]?.name ?? String(r.status.stage) },
      reason: r.status.reason,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    };
  }

  private detail(id: string): RolloutDetail {
    const r = this.o.store.rollout(id);
    if (!r) throw new NotFoundError(`no rollout ${id}`);
    const plan = this.planOf(r);
    const runs = new Map(this.o.store.stageRuns(id).map((x) => [x.stage, x]));
    const stages: StageView[] = plan.stages.map((s, i) => {
      const run = runs.get(i);
      const state: StageView['state'] = !run ? 'pending' : run.outcome ?? (r.status.state === 'reverted' || r.status.state === 'aborted' ? 'reverted' : 'baking');
      return {
        index: i,
        name: s.name,
        scope: s.scope,
        ...(s.baseline !== undefined ? { baseline: s.baseline } : {}),
        bakeMs: s.bakeMs,
        state,
        ...(run ? { startedAt: run.startedAt } : {}),
        ...(run?.endedAt !== undefined ? { endedAt: run.endedAt } : {}),
      };
    });
    return {
      ...this.summary(r),
      stages,
      slos: plan.slos.map(sloInfo),
      intervalMs: Math.min(...plan.slos.map((s) => s.evaluation.intervalMs)),
      maxPauseMs: plan.maxPauseMs,
      evaluations: this.o.store.evaluations(id).map(evaluationView),
      actions: this.o.store.actions(id),
      events: this.o.store.events(id),
    };
  }
}

interface Route {
  readonly name: 'healthz' | 'readyz' | 'metrics' | 'index' | 'page' | 'rollouts' | 'rollout' | 'request' | 'none';
  readonly id?: string;
  readonly request?: RequestKind;
}

const ID = '(r-[0-9]+)';

/** The route of a path (ids are r-<n>; anything else is not found). */
function routeOf(path: string): Route {
  if (path === '/healthz' || path === '/-/healthy') return { name: 'healthz' };
  if (path === '/readyz' || path === '/-/ready') return { name: 'readyz' };
  if (path === '/metrics') return { name: 'metrics' };
  if (path === '/' || path === '/rollouts' || path === '/rollouts/') return { name: 'index' };
  if (path === '/api/v1/rollouts' || path === '/api/v1/rollouts/') return { name: 'rollouts' };
  let m = new RegExp(`^/rollouts/${ID}/?$`).exec(path);
  if (m) return { name: 'page', id: m[1]! };
  m = new RegExp(`^/api/v1/rollouts/${ID}/?$`).exec(path);
  if (m) return { name: 'rollout', id: m[1]! };
  m = new RegExp(`^/api/v1/rollouts/${ID}/(pause|resume|promote|abort)$`).exec(path);
  if (m) return { name: 'request', id: m[1]!, request: m[2] as RequestKind };
  return { name: 'none' };
}

function notAllowed(allow: string): ApiResponse {
  return fail(405, 'method_not_allowed', `method not allowed; use ${allow}`, { Allow: allow });
}

/** `?state=running,paused` (repeatable); unknown states are a bad request. */
function stateFilter(query: string): string[] | undefined {
  const states = new URLSearchParams(query).getAll('state').flatMap((s) => s.split(',')).filter((s) => s !== '');
  for (const s of states) if (!STATES.includes(s as RolloutState)) throw new BadRequest(`state=${s}: not a rollout state; use ${STATES.join(', ')}`);
  return states.length ? states : undefined;
}

class BadRequest extends Error {}

function errorResponse(err: unknown): ApiResponse {
  if (err instanceof ConfigError || err instanceof BadRequest) return fail(400, 'bad_data', err.message);
  if (err instanceof NotFoundError) return fail(404, 'not_found', err.message);
  if (err instanceof TransitionError) return fail(409, 'conflict', err.message);
  return fail(500, 'internal', `internal error: ${err instanceof Error ? err.message : String(err)}`);
}
