/**
 * The rollout daemon assembled: its state (SQLite), its clock, its data source, the runner that
 * walks rollouts, and the HTTP server for the API, status pages, /metrics and health checks.
 * `hmd daemon` starts one; tests start it in a child process and kill it.
 */

import pino from 'pino';
import type { HmdConfig } from '../config/config.js';
import { DistributedEngine } from '../distributed/engine.js';
import { engineSpec, openSource } from '../distributed/sources.js';
import { AdaptiveLimiter } from '../limiter/limiter.js';
import { DEFAULT_LOOKBACK_MS, Engine } from '../promql/engine.js';
import { FINAL } from '../rollout/machine.js';
import type { QueryAnswer, QueryFn } from '../slo/measure.js';
import { parseListen, startHttpServer, type RunningServer } from '../server/http.js';
import { DaemonApi } from './api.js';
import { simulatedClock, wallClock, type ClockAnchor, type DaemonClock } from './clock.js';
import type { HookSpec } from './hooks.js';
import { daemonMetrics, type DaemonMetrics } from './metrics.js';
import { Runner, type Log } from './runner.js';
import { Store } from './store.js';

export interface DaemonOptions {
  readonly config: HmdConfig;
  /** Query this store instead of the config's engines (a Parquet directory, s3://…, an OpenMetrics file). */
  readonly data?: string;
  /** host:port, overriding daemon.listen. */
  readonly listen?: string;
  /** SQLite file, overriding daemon.db. */
  readonly db?: string;
  /** Run on a simulated clock from this time at this speed (replaying history). */
  readonly simulate?: { readonly from: number; readonly speed: number };
  /** Where logs go (default: JSON lines on stdout). */
  readonly log?: pino.Logger;
}

export interface RunningDaemon {
  readonly url: string;
  readonly store: Store;
  readonly runner: Runner;
  readonly clock: DaemonClock;
  /** Graceful stop: no new requests, evaluations and hooks in flight finish, the database closes. */
  stop(graceMs?: number): Promise<void>;
}


/** The clock, from the anchor kept in the database (a restart goes on where the replay was). */
function clockOf(store: Store, simulate: DaemonOptions['simulate']): DaemonClock {
  const kept = store.meta('clock');
  if (kept === undefined) {
    if (!simulate) {
      store.setMeta('clock', 'wall');
      return wallClock();
    }
    const a: ClockAnchor = { simStart: simulate.from, wallStart: Date.now(), speed: simulate.speed };
    store.setMeta('clock', JSON.stringify(a));
    return simulatedClock(a);
  }
  if (kept === 'wall') {
    if (simulate) throw new Error('this database was written on the wall clock; a simulated run needs a new --db');
    return wallClock();
  }
  const a = JSON.parse(kept) as ClockAnchor;
  if (!simulate || simulate.from !== a.simStart || simulate.speed !== a.speed) {
    throw new Error(
      `this database was written on a clock simulated from ${new Date(a.simStart).toISOString()} at ${a.speed}x; start again with --simulate-from ${new Date(a.simStart).toISOString()} --speed ${a.speed}, or use a new --db`,
    );
  }
  return simulatedClock(a);
}

/** `q`, counting queries that failed or came back without some engines' part. */
function countingErrors(q: QueryFn, metrics: DaemonMetrics): QueryFn {
  const watch = async (p: Promise<QueryAnswer>): Promise<QueryAnswer> => {
    try {
      const a = await p;
      if (a.missingEngines && a.missingEngines.length > 0) metrics.queryErrors.inc({ reason: 'partial' });
      return a;
    } catch (err) {
      metrics.queryErrors.inc({ reason: 'failed' });
      throw err;
    }
  };
  return { instant: (e, t) => watch(q.instant(e, t)), range: (e, s, en, st) => watch(q.range(e, s, en, st)) };
}

/** Starts the daemon; resolves once it listens. */
export async function startDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const cfg = o.config;
  const d = cfg.daemon;
  const log = o.log ?? pino({ base: { service: 'hmd-daemon' } });
  const listen = o.listen ?? d.listen;
  const addr = parseListen(listen);
  if (!addr) throw new Error(`listen address ${JSON.stringify(listen)}: expected host:port, [ipv6]:port or :port (every interface)`);
  const store = new Store(o.db ?? d.db);
  let close: () => Promise<void> = async () => {};
  try {
    if (store.journalMode() !== 'wal') log.warn({ mode: store.journalMode() }, 'SQLite refused WAL mode on this file system');
    const clock = clockOf(store, o.simulate);

    // Live releases are decided here: the daemon's queries go at interactive priority (the default).
    let q: QueryFn;
    if (o.data !== undefined) {
      const storage = await openSource(o.data);
      const engine = new Engine({ lookbackDelta: cfg.query.lookbackDeltaMs ?? DEFAULT_LOOKBACK_MS });
      q = { instant: (e, t) => engine.instantQuery(storage, e, t), range: (e, s, en, st) => engine.rangeQuery(storage, e, s, en, st) };
      close = async () => void (await storage.close?.());
    } else {
      if (cfg.engines.length === 0) throw new Error(`${cfg.file}: declares no engines; give --data, or list engines to query`);
      const de = new DistributedEngine({ engines: cfg.engines.map(engineSpec), partialResponse: true, admit: new AdaptiveLimiter(cfg.limiter), now: () => clock.now(), central: { lookbackDelta: cfg.query.lookbackDeltaMs ?? DEFAULT_LOOKBACK_MS } });
      q = { instant: (e, t) => de.instantQuery(e, t), range: (e, s, en, st) => de.rangeQuery(e, s, en, st) };
      close = () => de.close();
    }

    const states = ['running', 'paused', 'promoting', 'reverting', ...FINAL];
    const metrics = daemonMetrics(() => store.countByState(), states);
    q = countingErrors(q, metrics);
    const hooks = new Map<string, HookSpec>(d.hooks.map((h) => [h.name, h]));
    const runner = new Runner({ store, q, clock, hooks, defaultHooks: d.defaultHooks, concurrency: d.concurrency, catchUpMs: d.catchUpMs, log: log as Log, metrics });
    const api = new DaemonApi({ store, runner, tokens: d.tokens, protectReads: d.protectReads, metrics, now: () => clock.now() });
    runner.start();
    let server: RunningServer;
    try {
      server = await startHttpServer({
        host: addr.host ?? '',
        port: addr.port,
        handler: (r) => api.handle(r),
        maxBodyBytes: d.maxBodyBytes,
        bodyLimit: { status: 413, message: (detail) => detail },
        logFields: (f) => log.info({ ...f }, 'request'),
      });
    } catch (err) {
      await runner.stop(0);
      throw err;
    }
    log.info({ url: server.url, db: o.db ?? d.db, clock: clock.description, source: o.data ?? `${cfg.engines.length} engines`, hooks: [...hooks.keys()] }, 'daemon listening');
    let stopped: Promise<void> | undefined;
    return {
      url: server.url,
      store,
      runner,
      clock,
      stop: (graceMs = 30_000) =>
        (stopped ??= (async () => {
          log.info({}, 'stopping');
          await server.close(Math.min(graceMs, 10_000));
          await runner.stop(graceMs);
          store.close();
          await close();
          log.info({}, 'stopped');
        })()),
    };
  } catch (err) {
    store.close();
    await close();
    throw err;
  }
}
