/**
 * The rollout daemon for tests: config text for a daemon whose hooks call a receiver, a Rollout
 * document from plain stages, API calls, and waiting on the simulated clock (polls counted, not
 * timed).
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseConfig } from '../../src/config/config.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { startReceiver, type Receiver } from './receiver.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { loadRollout, rolloutDocument } from '../../src/rollout/spec.js';
import type { RolloutDetail } from '../../src/daemon/types.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const HISTORY = join(ROOT, 'fixtures/history');
export const TOKEN = 'test-token-0123456789abcdef';
export const DEPLOY_SECRET = 'deploy-secret-9f8e7d6c5b4a';
export const ENV = { HMD_TEST_TOKEN: TOKEN, HMD_DEPLOY_SECRET: DEPLOY_SECRET };

/** hmd.yaml text: tokens, webhooks to `receiver` (promote at /promote, revert at /revert). */
export function daemonConfig(receiver: string, extra = ''): string {
  return `daemon:
  listen: 127.0.0.1:0
  tokens:
    - {name: ci, token: "\${HMD_TEST_TOKEN}"}
  hooks:
    - name: deploy
      webhook: {url: "${receiver}/promote", headers: {Authorization: "Bearer \${HMD_DEPLOY_SECRET}"}, retries: 2, backoff: 10ms, timeout: 5s}
    - name: rollback
      webhook: {url: "${receiver}/revert", headers: {Authorization: "Bearer \${HMD_DEPLOY_SECRET}"}, retries: 1, backoff: 10ms, timeout: 5s}
  defaultHooks: {promote: deploy, revert: rollback}
  maxBodyBytes: 65536
  # A loaded test machine may fall behind a fast simulated clock: every missed evaluation is taken.
  catchUp: 24h
${extra}`;
}

export interface StageDef {
  readonly name: string;
  readonly scope: string;
  readonly baseline?: string;
  readonly bake: string;
}

/** A Rollout document (the request body) judged by the bundled 5xx and latency SLOs. */
export function rolloutBody(name: string, stages: readonly StageDef[], o: { maxPause?: string; version?: string } = {}): object {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-rollout-'));
  const file = join(dir, 'rollout.yaml');
  const stagesYaml = stages.map((s) => `    - {name: ${s.name}, scope: "${s.scope}", ${s.baseline ? `baseline: "${s.baseline}", ` : ''}bake: ${s.bake}}`).join('\n');
  writeFileSync(
    file,
    `apiVersion: hmd.dev/v1
kind: Rollout
metadata: {name: ${name}}
spec:
  version: ${o.version ?? 'v1.6.0'}
  slos: ["${join(ROOT, 'slo-specs/http-5xx-ratio.yaml')}", "${join(ROOT, 'slo-specs/latency-p99.yaml')}"]
  stages:
${stagesYaml}
  maxPause: ${o.maxPause ?? '30m'}
`,
  );
  return rolloutDocument(loadRollout(file, {}));
}

/** The bundled bad release (examples/rollout.yaml) as a request body. */
export const badRelease = (): object => rolloutDocument(loadRollout(join(ROOT, 'examples/rollout.yaml'), {}));

export interface Answer {
  readonly status: number;
  readonly json: { status: string; data?: unknown; error?: string; errorType?: string };
  readonly text: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** One API call (with the test token unless `token` is given; '' for none). */
export async function call(base: string, method: string, path: string, o: { body?: string | object; token?: string; contentType?: string } = {}): Promise<Answer> {
  const token = o.token ?? TOKEN;
  const body = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const res = await request(new URL(path, base), {
    method: method as 'GET',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': o.contentType ?? 'application/json' } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.body.text();
  let json: Answer['json'];
  try {
    json = JSON.parse(text) as Answer['json'];
  } catch {
    json = { status: 'not-json' };
  }
  return { status: res.statusCode, json, text, headers: res.headers };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls a rollout until `done` holds (at most `polls` polls, 50ms apart); returns its last detail. */
export async function waitFor(base: string, id: string, done: (d: RolloutDetail) => boolean, polls = 2400): Promise<RolloutDetail> {
  let d: RolloutDetail | undefined;
  for (let i = 0; i < polls; i++) {
    const a = await call(base, 'GET', `/api/v1/rollouts/${id}`);
    d = a.json.data as RolloutDetail;
    if (d && done(d)) return d;
    await sleep(50);
  }
  throw new Error(`rollout ${id} did not get there: ${d?.state} at stage ${d?.stage.name}: ${d?.reason}`);
}

export const finished = (d: RolloutDetail): boolean => d.state === 'completed' || d.state === 'reverted' || d.state === 'aborted';

/** Evaluation times of each stage, as ms, from a detail answered as JSON (times are RFC3339 there). */
export function evaluationTimes(d: RolloutDetail): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const e of d.evaluations) {
    const list = out.get(e.stage) ?? [];
    list.push(Date.parse(e.at as unknown as string));
    out.set(e.stage, list);
  }
  return out;
}

export interface Harness {
  readonly daemon: RunningDaemon;
  readonly receiver: Receiver;
  readonly logs: string[];
  readonly dir: string;
  stop(): Promise<void>;
}

/** A daemon in this process on a simulated clock (600x) from `from`, hooks calling a fresh receiver, logs kept. */
export async function harness(from: string, extra = '', dir = mkdtempSync(join(tmpdir(), 'hmd-daemon-')), receiver?: Receiver, o: { speed?: number; engines?: string } = {}): Promise<Harness> {
  const rec = receiver ?? (await startReceiver());
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  // With `engines` (hmd.yaml's engines section), the daemon queries them instead of the local history.
  const config = parseConfig((o.engines ?? '') + daemonConfig(rec.url, extra), join(dir, 'hmd.yaml'), ENV);
  const daemon = await startDaemon({ config, ...(o.engines ? {} : { data: HISTORY }), db: join(dir, 'state.db'), simulate: { from: Date.parse(from), speed: o.speed ?? 600 }, log: pino({}, sink) });
  return {
    daemon,
    receiver: rec,
    logs,
    dir,
    stop: async () => {
      await daemon.stop(5_000);
      if (!receiver) await rec.close();
    },
  };
}
