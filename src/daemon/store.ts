/**
 * The daemon's state in SQLite (better-sqlite3, WAL, synchronous=FULL): rollouts, their
 * evaluations, actions (an outbox) and events. Every change that belongs together is one
 * transaction: an evaluation, the state it moves the rollout to and the action it decides are
 * written at once or not at all, so a kill -9 at any point leaves either the state before or the
 * state after, and a restart carries on from there.
 *
 * Uniqueness does the rest: an evaluation is keyed by (rollout, stage, time), so one taken again
 * after a crash is not stored twice; an action by (rollout, stage, kind), so a revert is decided
 * once per stage, and its idempotency key never changes across retries and restarts.
 */

import Database from 'better-sqlite3';
import type { Reason, Status } from '../slo/judge.js';
import type { Verdict } from '../slo/verdict.js';
import type { ActionIntent, ActionKind, Happening, RolloutStatus } from '../rollout/machine.js';
import type { ActionState, ActionView, EventView, EvaluationView, SloEvaluationView } from './types.js';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rollouts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  version TEXT,
  document TEXT NOT NULL,
  state TEXT NOT NULL,
  stage INTEGER NOT NULL,
  stage_started_at INTEGER NOT NULL,
  holding_since INTEGER,
  aborting INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  created_by TEXT
);
CREATE INDEX IF NOT EXISTS rollouts_state ON rollouts(state);
CREATE TABLE IF NOT EXISTS stage_runs (
  rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  stage INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  outcome TEXT,
  PRIMARY KEY (rollout_id, stage)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS evaluations (
  rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  stage INTEGER NOT NULL,
  at INTEGER NOT NULL,
  verdict TEXT NOT NULL,
  slos TEXT NOT NULL,
  reasons TEXT NOT NULL,
  PRIMARY KEY (rollout_id, stage, at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  kind TEXT NOT NULL,
  stage INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  hook TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  next_attempt_at INTEGER NOT NULL,
  error TEXT,
  UNIQUE (rollout_id, stage, kind)
);
CREATE INDEX IF NOT EXISTS actions_pending ON actions(state, next_attempt_at);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  by TEXT
);
CREATE INDEX IF NOT EXISTS events_rollout ON events(rollout_id, id);
`;

/** A rollout row: its plan document and its status. */
export interface RolloutRow {
  readonly seq: number;
  readonly id: string;
  readonly name: string;
  readonly version?: string;
  readonly document: string;
  readonly status: RolloutStatus;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly createdBy?: string;
}

/** One SLO's evaluation as stored: the view, plus the reasons a restart needs to summarise runs. */
export interface StoredSloEvaluation extends SloEvaluationView {
  readonly reasons: readonly Reason[];
}

export interface StoredEvaluation {
  readonly at: number;
  readonly stage: number;
  readonly verdict: Verdict;
  readonly slos: readonly StoredSloEvaluation[];
  readonly reasons: readonly string[];
}

/** An action due to be carried out. */
export interface PendingAction {
  readonly id: number;
  readonly rolloutId: string;
  readonly kind: ActionKind;
  readonly stage: number;
  readonly idempotencyKey: string;
  readonly hook?: string;
  readonly attempts: number;
  readonly reason: string;
  readonly createdAt: number;
}

export interface StageRun {
  readonly stage: number;
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly outcome?: 'promoted' | 'reverted';
}

/** The idempotency key of an action: the same for every attempt, retry and restart. */
export function idempotencyKey(rolloutId: string, stage: number, kind: ActionKind): string {
  return `${rolloutId}/${stage}/${kind}`;
}

type Row = Record<string, unknown>;

const statusOf = (r: Row): RolloutStatus => ({
  state: r['state'] as RolloutStatus['state'],
  stage: r['stage'] as number,
  stageStartedAt: r['stage_started_at'] as number,
  ...(r['holding_since'] !== null ? { holdingSince: r['holding_since'] as number } : {}),
  ...(r['aborting'] ? { aborting: true } : {}),
  reason: r['reason'] as string,
});

const rolloutOf = (r: Row): RolloutRow => ({
  seq: r['seq'] as number,
  id: r['id'] as string,
  name: r['name'] as string,
  ...(r['version'] !== null ? { version: r['version'] as string } : {}),
  document: r['document'] as string,
  status: statusOf(r),
  createdAt: r['created_at'] as number,
  updatedAt: r['updated_at'] as number,
  ...(r['created_by'] !== null ? { createdBy: r['created_by'] as string } : {}),
});

const actionOf = (r: Row): ActionView & { nextAttemptAt: number } => ({
  id: r['id'] as number,
  kind: r['kind'] as ActionKind,
  stage: r['stage'] as number,
  idempotencyKey: r['idempotency_key'] as string,
  ...(r['hook'] !== null ? { hook: r['hook'] as string } : {}),
  state: r['state'] as ActionState,
  attempts: r['attempts'] as number,
  reason: r['reason'] as string,
  createdAt: r['created_at'] as number,
  ...(r['finished_at'] !== null ? { finishedAt: r['finished_at'] as number } : {}),
  ...(r['error'] !== null ? { error: r['error'] as string } : {}),
  nextAttemptAt: r['next_attempt_at'] as number,
});

/** Where a state change comes from, written with it. */
export interface Change {
  readonly rolloutId: string;
  readonly at: number;
  readonly status: RolloutStatus;
  readonly actions: readonly (ActionIntent & { readonly hook?: string })[];
  readonly happened: readonly Happening[];
}

/** The daemon's SQLite database. */
export class Store {
  private readonly db: Database.Database;

  /** Opens (creating when needed) the database at `path` (':memory:' for tests). */
  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // FULL: a committed decision survives the machine losing power, not only the process dying.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const v = this.meta('schema_version');
    if (v === undefined) this.setMeta('schema_version', String(SCHEMA_VERSION));
    else if (Number(v) !== SCHEMA_VERSION) throw new Error(`${path}: schema version ${v}, this hmd reads ${SCHEMA_VERSION}; use a new --db or the hmd that wrote it`);
  }

  /** The journal mode in force (wal, unless the file system refused it). */
  journalMode(): string {
    return String(this.db.pragma('journal_mode', { simple: true }));
  }

  meta(key: string): string | undefined {
    const r = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as Row | undefined;
    return r ? (r['value'] as string) : undefined;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** Stores a new rollout, its first stage started; returns its id (`r-<seq>`). */
  createRollout(o: { name: string; version?: string; document: string; status: RolloutStatus; at: number; by?: string }): string {
    return this.db.transaction(() => {
      const seq = (this.db.prepare("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM rollouts").get() as Row)['n'] as number;
      const id = `r-${seq}`;
      this.db
        .prepare(
          `INSERT INTO rollouts(seq, id, name, version, document, state, stage, stage_started_at, holding_since, aborting, reason, created_at, updated_at, created_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?, ?, ?)`,
        )
        .run(seq, id, o.name, o.version ?? null, o.document, o.status.state, o.status.stage, o.status.stageStartedAt, o.status.reason, o.at, o.at, o.by ?? null);
      this.db.prepare('INSERT INTO stage_runs(rollout_id, stage, started_at) VALUES (?, ?, ?)').run(id, o.status.stage, o.status.stageStartedAt);
      this.addEvent(id, o.at, 'created', `rollout ${o.name} created`, o.by);
      return id;
    })();
  }

  rollout(id: string): RolloutRow | undefined {
    const r = this.db.prepare('SELECT * FROM rollouts WHERE id = ?').get(id) as Row | undefined;
    return r ? rolloutOf(r) : undefined;
  }

  /** Rollouts, newest first; only those in `states` when given. */
  rollouts(states?: readonly string[]): RolloutRow[] {
    const rows = (states?.length
      ? this.db.prepare(`SELECT * FROM rollouts WHERE state IN (${states.map(() => '?').join(',')}) ORDER BY seq DESC`).all(...states)
      : this.db.prepare('SELECT * FROM rollouts ORDER BY seq DESC').all()) as Row[];
    return rows.map(rolloutOf);
  }

  /** Runs `f` in one transaction: everything it writes is kept, or nothing (also on a crash). */
  tx<T>(f: () => T): T {
    return this.db.transaction(f)();
  }

  /**
   * Stores an evaluation; false (and nothing written) when it was already stored: it was taken
   * again after a restart. Call inside tx() with the change it causes.
   */
  insertEvaluation(e: StoredEvaluation & { rolloutId: string }): boolean {
    const r = this.db
      .prepare('INSERT INTO evaluations(rollout_id, stage, at, verdict, slos, reasons) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(e.rolloutId, e.stage, e.at, e.verdict, JSON.stringify(e.slos), JSON.stringify(e.reasons));
    return r.changes > 0;
  }

  /** The new status, its actions, its events and the stage bookkeeping (call inside tx()). */
  applyChange(c: Change): void {
    const before = this.rollout(c.rolloutId);
    if (!before) throw new Error(`no rollout ${c.rolloutId}`);
    const s = c.status;
    this.db
      .prepare('UPDATE rollouts SET state = ?, stage = ?, stage_started_at = ?, holding_since = ?, aborting = ?, reason = ?, updated_at = ? WHERE id = ?')
      .run(s.state, s.stage, s.stageStartedAt, s.holdingSince ?? null, s.aborting ? 1 : 0, s.reason, c.at, c.rolloutId);
    if (s.stage !== before.status.stage) {
      this.db.prepare("UPDATE stage_runs SET ended_at = ?, outcome = 'promoted' WHERE rollout_id = ? AND stage = ?").run(c.at, c.rolloutId, before.status.stage);
      this.db.prepare('INSERT INTO stage_runs(rollout_id, stage, started_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(c.rolloutId, s.stage, s.stageStartedAt);
    }
    if (s.state === 'completed' && before.status.state !== 'completed') {
      this.db.prepare("UPDATE stage_runs SET ended_at = ?, outcome = 'promoted' WHERE rollout_id = ? AND stage = ?").run(c.at, c.rolloutId, s.stage);
    }
    if ((s.state === 'reverted' || s.state === 'aborted') && before.status.state !== s.state) {
      this.db.prepare("UPDATE stage_runs SET ended_at = ?, outcome = 'reverted' WHERE rollout_id = ? AND stage = ?").run(c.at, c.rolloutId, s.stage);
    }
    for (const a of c.actions) {
      const key = idempotencyKey(c.rolloutId, a.stage, a.kind);
      // One action per (rollout, stage, kind): deciding it again (a promote retried after its
      // hook failed) puts the same action, with the same key, back in the queue.
      this.db
        .prepare(
          `INSERT INTO actions(rollout_id, kind, stage, idempotency_key, hook, state, attempts, reason, created_at, next_attempt_at)
           VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
           ON CONFLICT(rollout_id, stage, kind) DO UPDATE SET state = 'pending', next_attempt_at = excluded.next_attempt_at, error = NULL, finished_at = NULL
           WHERE actions.state = 'failed'`,
        )
        .run(c.rolloutId, a.kind, a.stage, key, a.hook ?? null, a.reason, c.at, c.at);
    }
    for (const h of c.happened) this.addEvent(c.rolloutId, c.at, h.kind, h.message, h.by);
  }

  /** Adds an event to a rollout's audit trail. */
  addEvent(id: string, at: number, kind: string, message: string, by?: string): void {
    this.db.prepare('INSERT INTO events(rollout_id, at, kind, message, by) VALUES (?, ?, ?, ?, ?)').run(id, at, kind, message, by ?? null);
  }

  /** The evaluations of a rollout (of one stage when given), in time order. */
  evaluations(id: string, stage?: number): StoredEvaluation[] {
    const rows = (stage === undefined
      ? this.db.prepare('SELECT * FROM evaluations WHERE rollout_id = ? ORDER BY stage, at').all(id)
      : this.db.prepare('SELECT * FROM evaluations WHERE rollout_id = ? AND stage = ? ORDER BY at').all(id, stage)) as Row[];
    return rows.map((r) => ({
      at: r['at'] as number,
      stage: r['stage'] as number,
      verdict: r['verdict'] as Verdict,
      slos: JSON.parse(r['slos'] as string) as StoredSloEvaluation[],
      reasons: JSON.parse(r['reasons'] as string) as string[],
    }));
  }

  /** The time of a rollout's last evaluation of `stage`, if any. */
  lastEvaluationAt(id: string, stage: number): number | undefined {
    const r = this.db.prepare('SELECT MAX(at) AS at FROM evaluations WHERE rollout_id = ? AND stage = ?').get(id, stage) as Row;
    return (r['at'] as number | null) ?? undefined;
  }

  actions(id: string): ActionView[] {
    return (this.db.prepare('SELECT * FROM actions WHERE rollout_id = ? ORDER BY id').all(id) as Row[]).map((r) => {
      const { nextAttemptAt: _, ...a } = actionOf(r);
      return a;
    });
  }

  /** Actions waiting to be carried out whose time has come (or all pending ones, `due` undefined). */
  pendingActions(due?: number): (PendingAction & { nextAttemptAt: number })[] {
    const rows = (due === undefined
      ? this.db.prepare("SELECT * FROM actions WHERE state = 'pending' ORDER BY id").all()
      : this.db.prepare("SELECT * FROM actions WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id").all(due)) as Row[];
    return rows.map((r) => {
      const a = actionOf(r);
      return {
        id: a.id,
        rolloutId: r['rollout_id'] as string,
        kind: a.kind,
        stage: a.stage,
        idempotencyKey: a.idempotencyKey,
        ...(a.hook !== undefined ? { hook: a.hook } : {}),
        attempts: a.attempts,
        reason: a.reason,
        createdAt: a.createdAt,
        nextAttemptAt: a.nextAttemptAt,
      };
    });
  }

  /** Records an action's outcome: done, failed for good, or to be tried again at `retryAt` (call inside tx() with the change it causes). */
  finishAction(o: { id: number; at: number; attempts: number; outcome: 'succeeded' | 'failed' | 'retry'; retryAt?: number; error?: string }): void {
    const state = o.outcome === 'retry' ? 'pending' : o.outcome;
    this.db
      .prepare('UPDATE actions SET state = ?, attempts = attempts + ?, finished_at = ?, next_attempt_at = ?, error = ? WHERE id = ?')
      .run(state, o.attempts, o.outcome === 'retry' ? null : o.at, o.retryAt ?? o.at, o.error ?? null, o.id);
  }

  events(id: string): EventView[] {
    return (this.db.prepare('SELECT * FROM events WHERE rollout_id = ? ORDER BY id').all(id) as Row[]).map((r) => ({
      at: r['at'] as number,
      kind: r['kind'] as EventView['kind'],
      message: r['message'] as string,
      ...(r['by'] !== null ? { by: r['by'] as string } : {}),
    }));
  }

  stageRuns(id: string): StageRun[] {
    return (this.db.prepare('SELECT * FROM stage_runs WHERE rollout_id = ? ORDER BY stage').all(id) as Row[]).map((r) => ({
      stage: r['stage'] as number,
      startedAt: r['started_at'] as number,
      ...(r['ended_at'] !== null ? { endedAt: r['ended_at'] as number } : {}),
      ...(r['outcome'] !== null ? { outcome: r['outcome'] as 'promoted' | 'reverted' } : {}),
    }));
  }

  /** Rollouts per state, for /metrics. */
  countByState(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM rollouts GROUP BY state').all() as Row[]) out[r['state'] as string] = r['n'] as number;
    return out;
  }

  /** Runs a quick query: the database answers (for /readyz). */
  ping(): boolean {
    return (this.db.prepare('SELECT 1 AS one').get() as Row)['one'] === 1;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** An evaluation view from a stored one (reasons of each SLO left out). */
export function evaluationView(e: StoredEvaluation): EvaluationView {
  return {
    at: e.at,
    stage: e.stage,
    verdict: e.verdict,
    slos: e.slos.map((s) => ({ name: s.name, status: s.status as Status, ...(s.sli !== undefined ? { sli: s.sli } : {}), ...(s.baseline !== undefined ? { baseline: s.baseline } : {}) })),
    reasons: e.reasons,
  };
}
