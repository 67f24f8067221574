/**
 * One backtest on a simulated clock: the release's stages replayed over history at the SLOs'
 * evaluation interval, each evaluation judged by the same Stage code the gate and the daemon
 * use, until the first revert, the end of the plan, or the moment people really reverted (after
 * which history no longer shows the release). Pure apart from the query function it is given.
 *
 * Timelines:
 * - actual: each stage runs from its real start to the next stage's start (the last one for its
 *   bake). The point `bake` after a stage's start is where hmd would have decided to promote;
 *   a pause there is recorded as a hold, and the replay follows what really happened.
 * - plan: from release.start, each stage bakes, and is promoted at the first evaluation past its
 *   bake that says continue; paused longer than maxPause past its bake, the release is held and
 *   the replay ends.
 */

import type { Status } from '../slo/judge.js';
import { sloInfo, type SloInfo } from '../slo/info.js';
import { ms } from '../util/duration.js';
import type { Expr } from '../promql/ast.js';
import { pointsAt, scopesFor, sliExpr, type QueryFn, type Scopes } from '../slo/measure.js';
import type { SloSpec } from '../slo/spec.js';
import { Stage } from '../slo/stage.js';
import type { StageVerdict, Verdict } from '../slo/verdict.js';
import type { BacktestSpec } from './spec.js';

/** One SLO at one evaluation. */
export interface SloPoint {
  readonly name: string;
  readonly status: Status;
  readonly sli?: number;
  readonly baseline?: number;
}

/** One evaluation of the stage in force. */
export interface EvaluationRecord {
  readonly at: number;
  readonly stage: string;
  readonly verdict: Verdict;
  readonly slos: readonly SloPoint[];
}

/** The SLIs at one time of the trace: the context the evaluations are drawn against. */
export interface TracePoint {
  readonly at: number;
  /** The stage whose scope was measured (before the release: the first stage). */
  readonly stage: string;
  readonly slos: readonly { readonly name: string; readonly sli?: number; readonly baseline?: number }[];
}

/** Trace from this long before the release (the SLI as it was before the new code). */
export const TRACE_BEFORE_MS = 30 * 60_000;
/** Trace at most this long past the last evaluation (to the real revert of an incident). */
const TRACE_AFTER_MAX_MS = 12 * 3_600_000;

export type StageOutcome = 'promoted' | 'held' | 'reverted' | 'completed' | 'stopped' | 'not-reached';

export interface StageRecord {
  readonly name: string;
  readonly scope: string;
  readonly baseline?: string;
  /** When the stage started (undefined: the replay never reached it), ms. */
  readonly start?: number;
  /** When hmd would have decided to promote it, ms. */
  readonly decisionAt?: number;
  /** The verdict at the decision point. */
  readonly decision?: Verdict;
  readonly outcome: StageOutcome;
  readonly evaluations: number;
}

export interface VerdictPoint {
  readonly at: number;
  readonly stage: string;
  readonly reasons: readonly string[];
}


export interface ReplayResult {
  readonly name: string;
  readonly description?: string;
  readonly version?: string;
  readonly slos: readonly SloInfo[];
  readonly file: string;
  readonly kind: 'incident' | 'healthy';
  readonly timeline: 'actual' | 'plan';
  readonly intervalMs: number;
  /** The first and last evaluation times, ms. */
  readonly start: number;
  readonly end: number;
  readonly stages: readonly StageRecord[];
  readonly evaluations: readonly EvaluationRecord[];
  /**
   * The SLIs at every interval from before the release to its end (for an incident, to the real
   * revert: what the release did after hmd would have reverted it), for charts.
   */
  readonly trace: readonly TracePoint[];
  /** The first revert decision. */
  readonly revert?: VerdictPoint;
  /** The first pause (an evaluation that would have held promotion). */
  readonly firstPause?: VerdictPoint;
  /** Revert time minus impact start, ms (negative: reverted before the impact began). */
  readonly detectionMs?: number;
  /** Scopes running the release when hmd reverted (or at the end, without a revert). */
  readonly blastRadius: readonly string[];
  readonly incident?: {
    readonly impactStart: number;
    readonly noticed?: number;
    readonly reverted?: number;
    /** How much earlier than people hmd would have reverted, ms (negative: later). */
    readonly savedMs?: number;
    /** How much earlier than people noticed, ms. */
    readonly beforeNoticedMs?: number;
  };
  /** A healthy release hmd would have reverted. */
  readonly falseRevert: boolean;
  /** An incident hmd would not have reverted before people did. */
  readonly missed: boolean;
  readonly expectations: readonly { readonly check: string; readonly ok: boolean; readonly message: string }[];
  /** Every expectation met. */
  readonly ok: boolean;
}

/** The evaluation interval of a backtest: the shortest of its SLOs' intervals. */
export function replayInterval(slos: readonly SloSpec[]): number {
  return Math.min(...slos.map((s) => s.evaluation.intervalMs));
}

/**
 * The grid times a replay will ask about, known before it runs: from the trace's start to the
 * real revert of an incident, or to the last stage's bake (for a plan, its nominal end: every
 * stage promoted at its bake). Queries later than that are still answered, in fixed chunks.
 */
export function replayWindow(spec: BacktestSpec, slos: readonly SloSpec[]): { from: number; to: number } {
  const interval = replayInterval(slos);
  const align = (t: number) => Math.ceil(t / interval) * interval;
  const st = spec.release.stages;
  const nominal = spec.release.timeline === 'actual' ? st[st.length - 1]!.startedAt! + st[st.length - 1]!.bakeMs! : spec.release.start + st.reduce((a, s) => a + s.bakeMs!, 0);
  const end = spec.incident?.reverted !== undefined ? Math.max(spec.incident.reverted - interval, spec.release.start) : nominal;
  const from = align(spec.release.start - TRACE_BEFORE_MS);
  return { from, to: Math.max(from, Math.floor(Math.min(end, nominal + TRACE_AFTER_MAX_MS) / interval) * interval) };
}

/** Replays one backtest over `q`. */
export async function replay(spec: BacktestSpec, slos: readonly SloSpec[], q: QueryFn): Promise<ReplayResult> {
  if (slos.length === 0) throw new Error(`${spec.file}: no SLO to judge the release with`);
  const interval = replayInterval(slos);
  // Evaluation times are multiples of the interval, so that backtests share their queries.
  const align = (t: number) => Math.ceil(t / interval) * interval;
  const stopAt = spec.incident?.reverted ?? Infinity;
  const evaluations = new EvaluationLog(slos);
  const records: StageRecord[] = [];
  let revert: VerdictPoint | undefined;
  let firstPause: VerdictPoint | undefined;
  let stopped = false;

  // Each stage's evaluations are measured together before they are judged one by one (columnar:
  // one range query per expression instead of one instant query per expression and time).
  // Evaluation n of a stage is at times[n]; a time off that list is measured on its own.
  const measure = async (stage: Stage, times: number[]) => {
    evaluations.reserve(times.length);
    const rows = await stage.measureMany(times, q);
    // Synchronous when time n was measured: no promise per evaluation.
    return (n: number, t: number) => (times[n] === t ? stage.judgeMeasured(t, rows, n) : stage.evaluate(t, q));
  };
  const record = (stage: Stage, name: string, t: number, v: StageVerdict): Verdict => {
    evaluations.add(t, name, v.verdict, stage);
    if (v.verdict === 'revert' && !revert) revert = { at: t, stage: name, reasons: v.reasons };
    // A pause while SLOs still wait out their initial delay is the normal start of a stage, not a hold.
    if (v.verdict === 'pause' && !firstPause && stage.slos.every((s) => s.summary.status !== 'pending')) firstPause = { at: t, stage: name, reasons: v.reasons };
    return v.verdict;
  };

  const stages = spec.release.stages;
  if (spec.release.timeline === 'actual') {
    for (let i = 0; i < stages.length && !revert && !stopped; i++) {
      const st = stages[i]!;
      const start = st.startedAt!;
      const next = stages[i + 1]?.startedAt;
      const end = next ?? start + st.bakeMs!;
      const decisionAt = Math.min(st.bakeMs !== undefined ? start + st.bakeMs : end, end);
      const stage = new Stage({ specs: slos, scope: st.scope, baselineScope: st.baseline, startedAt: start, keepReasons: 'latest' });
      const times: number[] = [];
      for (let t = align(start); (next === undefined ? t <= end : t < end) && t < stopAt; t += interval) times.push(t);
      const judged = await measure(stage, times);
      let n = 0;
      let decision: Verdict | undefined;
      let last: Verdict | undefined;
      // The last stage includes its end; the others hand over to the next stage there.
      for (let t = align(start); next === undefined ? t <= end : t < end; t += interval) {
        if (t >= stopAt) {
          stopped = true;
          break;
        }
        const got = judged(n, t);
        const v = record(stage, st.name, t, got instanceof Promise ? await got : got);
        n++;
        last = v;
        if (decision === undefined && t >= decisionAt) decision = v;
        if (revert) break;
      }
      // Without a bake of its own, a stage is decided by its last evaluation before the next began.
      if (decision === undefined && !stopped && !revert) decision = last;
      const outcome: StageOutcome = revert ? 'reverted' : stopped ? 'stopped' : decision === undefined ? 'stopped' : decision === 'continue' ? (next === undefined ? 'completed' : 'promoted') : 'held';
      records.push({ name: st.name, scope: st.scope, ...(st.baseline ? { baseline: st.baseline } : {}), start, decisionAt, ...(decision ? { decision } : {}), outcome, evaluations: n });
    }
  } else {
    let start = spec.release.start;
    for (let i = 0; i < stages.length && !revert && !stopped; i++) {
      const st = stages[i]!;
      const decisionAt = start + st.bakeMs!;
      const deadline = decisionAt + spec.release.maxPauseMs;
      const stage = new Stage({ specs: slos, scope: st.scope, baselineScope: st.baseline, startedAt: start, keepReasons: 'latest' });
      // Up to the first evaluation past the deadline: the most this stage can take.
      const times: number[] = [];
      for (let t = align(start); t < stopAt; t += interval) {
        times.push(t);
        if (t >= deadline) break;
      }
      const judged = await measure(stage, times);
      let n = 0;
      let decision: Verdict | undefined;
      let outcome: StageOutcome = 'stopped';
      for (let t = align(start); ; t += interval) {
        if (t >= stopAt) {
          stopped = true;
          break;
        }
        const got = judged(n, t);
        const v = record(stage, st.name, t, got instanceof Promise ? await got : got);
        n++;
        if (revert) {
          outcome = 'reverted';
          break;
        }
        if (t < decisionAt) continue;
        decision = v;
        if (v === 'continue') {
          outcome = i === stages.length - 1 ? 'completed' : 'promoted';
          records.push({ name: st.name, scope: st.scope, ...(st.baseline ? { baseline: st.baseline } : {}), start, decisionAt, decision, outcome, evaluations: n });
          start = t;
          break;
        }
        if (t >= deadline) {
          outcome = 'held';
          stopped = true;
          break;
        }
      }
      if (outcome !== 'promoted' && outcome !== 'completed') {
        records.push({ name: st.name, scope: st.scope, ...(st.baseline ? { baseline: st.baseline } : {}), start, decisionAt, ...(decision ? { decision } : {}), outcome, evaluations: n });
      }
    }
  }
  for (const st of stages.slice(records.length)) records.push({ name: st.name, scope: st.scope, ...(st.baseline ? { baseline: st.baseline } : {}), outcome: 'not-reached', evaluations: 0 });
  const last = evaluations.lastAt ?? spec.release.start;
  const traceEnd = Math.min(Math.max(last, spec.incident?.reverted !== undefined ? spec.incident.reverted - interval : last), last + TRACE_AFTER_MAX_MS);
  const trace = await traceSlis(slos, records, q, align(spec.release.start - TRACE_BEFORE_MS), traceEnd, interval);
  return summarize(spec, slos, interval, records, evaluations, trace, revert, firstPause);
}

/**
 * A replay's evaluations as columns, made into records when read: a batch judges tens of
 * thousands, and records kept for each from the start would all outlive the replay in the heap.
 */
class EvaluationLog {
  private n = 0;
  private at = new Float64Array(0);
  /** Per evaluation: the stage (an index into `stages`) and the verdict (into VERDICTS). */
  private stage = new Uint16Array(0);
  private readonly stages: string[] = [];
  private verdict = new Uint8Array(0);
  /** Per SLO (in the order of the specs): status (into STATUSES), and the SLIs (flag 0: not measured). */
  private readonly cols: { status: Uint8Array; sli: Float64Array; hasSli: Uint8Array; base: Float64Array; hasBase: Uint8Array }[];

  constructor(private readonly slos: readonly SloSpec[]) {
    this.cols = slos.map(() => ({ status: new Uint8Array(0), sli: new Float64Array(0), hasSli: new Uint8Array(0), base: new Float64Array(0), hasBase: new Uint8Array(0) }));
  }

  /** Makes room for `more` evaluations (a stage's, known before it is judged): columns grow once per stage, not per push. */
  reserve(more: number): void {
    const size = this.n + more;
    if (size <= this.at.length) return;
    // Every column in one buffer: a typed array of its own each costs an allocation per stage.
    const f64 = 1 + 2 * this.cols.length;
    const u8 = 1 + 3 * this.cols.length;
    const buf = new ArrayBuffer(size * (8 * f64 + 2 + u8));
    let off = 0;
    const grown = <A extends Float64Array | Uint16Array | Uint8Array>(x: A, make: new (b: ArrayBuffer, o: number, n: number) => A): A => {
      const y = new make(buf, off, size);
      off += size * y.BYTES_PER_ELEMENT;
      y.set(x.subarray(0, this.n));
      return y;
    };
    this.at = grown(this.at, Float64Array);
    for (const c of this.cols) {
      c.sli = grown(c.sli, Float64Array);
      c.base = grown(c.base, Float64Array);
    }
    this.stage = grown(this.stage, Uint16Array);
    this.verdict = grown(this.verdict, Uint8Array);
    for (const c of this.cols) {
      c.status = grown(c.status, Uint8Array);
      c.hasSli = grown(c.hasSli, Uint8Array);
      c.hasBase = grown(c.hasBase, Uint8Array);
    }
  }

  /** Records the latest evaluation of every SLO of `stage` (whose SLOs are the specs, in order). */
  add(at: number, stage: string, verdict: Verdict, st: Stage): void {
    if (this.n === this.at.length) this.reserve(Math.max(16, this.n));
    const i = this.n++;
    this.at[i] = at;
    let k = this.stages.lastIndexOf(stage);
    if (k < 0) k = this.stages.push(stage) - 1;
    this.stage[i] = k;
    this.verdict[i] = VERDICTS.indexOf(verdict);
    for (let j = 0; j < st.slos.length; j++) {
      const evs = st.slos[j]!.evaluations;
      const e = evs[evs.length - 1]!;
      const c = this.cols[j]!;
      c.status[i] = STATUSES.indexOf(e.status);
      c.hasSli[i] = e.sli !== undefined ? 1 : 0;
      c.sli[i] = e.sli ?? NaN;
      c.hasBase[i] = e.baseline !== undefined ? 1 : 0;
      c.base[i] = e.baseline ?? NaN;
    }
  }

  get firstAt(): number | undefined {
    return this.n > 0 ? this.at[0] : undefined;
  }

  get lastAt(): number | undefined {
    return this.n > 0 ? this.at[this.n - 1] : undefined;
  }

  records(): EvaluationRecord[] {
    const out: EvaluationRecord[] = [];
    for (let i = 0; i < this.n; i++) {
      out.push({
        at: this.at[i]!,
        stage: this.stages[this.stage[i]!]!,
        verdict: VERDICTS[this.verdict[i]!]!,
        slos: this.cols.map((c, j) => {
          const r: { name: string; status: Status; sli?: number; baseline?: number } = { name: this.slos[j]!.name, status: STATUSES[c.status[i]!]! };
          if (c.hasSli[i]) r.sli = c.sli[i]!;
          if (c.hasBase[i]) r.baseline = c.base[i]!;
          return r;
        }),
      });
    }
    return out;
  }
}

const VERDICTS: readonly Verdict[] = ['continue', 'pause', 'revert'];
const STATUSES: readonly Status[] = ['pass', 'warn', 'fail', 'no-data', 'error'];

/** The SLIs of the stage in force (the first one before the release) at every interval from `from` to `to`: measured now, made into points when asked. */
async function traceSlis(slos: readonly SloSpec[], stages: readonly StageRecord[], q: QueryFn, from: number, to: number, interval: number): Promise<() => TracePoint[]> {
  const started = stages.filter((s) => s.start !== undefined);
  const exprs = new Map<string, { name: string; release?: Expr; baseline?: Expr }[]>();
  const forStage = (st: StageRecord) => {
    let e = exprs.get(st.name);
    if (!e) {
      e = slos.map((spec) => {
        // The trace is context: a spec whose scopes cannot be built here is simply not traced.
        let sc: Scopes | undefined;
        try {
          sc = scopesFor(spec, st.scope, st.baseline);
        } catch {
          sc = undefined;
        }
        return sc
          ? { name: spec.name, release: sliExpr(spec, spec.windowMs, sc.release), ...(sc.baseline ? { baseline: sliExpr(spec, spec.windowMs, sc.baseline) } : {}) }
          : { name: spec.name };
      });
      exprs.set(st.name, e);
    }
    return e;
  };
  // The values of one expression at each of `ts` (a regular grid), from one range query: NaN
  // where it has none (no series, several, a value that is not finite, or a failed query).
  const column = async (e: Expr | undefined, ts: readonly number[]): Promise<Float64Array> => {
    const out = new Float64Array(ts.length).fill(NaN);
    if (!e || ts.length === 0) return out;
    try {
      const a = await q.range(e, ts[0]!, ts[ts.length - 1]!, interval);
      if (a.value.type !== 'matrix') return out;
      const { counts, values } = pointsAt(a.value.series, ts);
      for (let i = 0; i < ts.length; i++) if (counts[i] === 1 && Number.isFinite(values[i])) out[i] = values[i]!;
    } catch {
      // Context only: a trace that cannot be drawn is left empty.
    }
    return out;
  };
  // Times by the stage in force (before the release: the first stage).
  const segments: { st: StageRecord; ts: number[] }[] = [];
  for (let t = from; t <= to; t += interval) {
    // The last stage started by t (stages start in order).
    let st = started[0] ?? stages[0]!;
    for (let k = started.length - 1; k >= 0; k--) {
      if (started[k]!.start! <= t) {
        st = started[k]!;
        break;
      }
    }
    const last = segments[segments.length - 1];
    if (last && last.st === st) last.ts.push(t);
    else segments.push({ st, ts: [t] });
  }
  const parts = await Promise.all(
    segments.map(async ({ st, ts }) => ({
      st,
      ts,
      cols: await Promise.all(forStage(st).map(async (x) => ({ name: x.name, sli: await column(x.release, ts), baseline: await column(x.baseline, ts) }))),
    })),
  );
  // The points are made from the columns when first read: a batch that reports no chart (or a
  // few) never makes the tens of thousands of them.
  return () =>
    parts.flatMap(({ st, ts, cols }) =>
      ts.map((t, i) => ({
        at: t,
        stage: st.name,
        slos: cols.map((c) => {
          const p: { name: string; sli?: number; baseline?: number } = { name: c.name };
          const sli = c.sli[i]!;
          const base = c.baseline[i]!;
          if (sli === sli) p.sli = sli;
          if (base === base) p.baseline = base;
          return p;
        }),
      })),
    );
}


function summarize(
  spec: BacktestSpec,
  slos: readonly SloSpec[],
  intervalMs: number,
  stages: StageRecord[],
  evaluations: EvaluationLog,
  trace: () => TracePoint[],
  revert: VerdictPoint | undefined,
  firstPause: VerdictPoint | undefined,
): ReplayResult {
  const inc = spec.incident;
  const reached = stages.filter((s) => s.start !== undefined && (revert === undefined || s.start <= revert.at));
  const detectionMs = revert && inc ? revert.at - inc.impactStart : undefined;
  const expectations: { check: string; ok: boolean; message: string }[] = [];
  const ex = spec.expect;
  const at = (t: number) => new Date(t).toISOString();
  if (ex.revert) {
    expectations.push({ check: 'revert', ok: revert !== undefined, message: revert ? `reverted at ${at(revert.at)} in stage ${revert.stage}` : 'hmd would not have reverted' });
    if (ex.withinMs !== undefined) {
      const ok = detectionMs !== undefined && detectionMs <= ex.withinMs;
      expectations.push({
        check: 'within',
        ok,
        message: detectionMs === undefined ? `no revert to time (expected within ${ms(ex.withinMs)} of the impact)` : `reverted ${ms(detectionMs)} after the impact started (expected within ${ms(ex.withinMs)})`,
      });
    }
    if (ex.stage !== undefined) {
      const ok = revert?.stage === ex.stage;
      expectations.push({ check: 'stage', ok, message: revert ? `reverted in stage ${revert.stage} (expected ${ex.stage})` : `no revert (expected one in stage ${ex.stage})` });
    }
  } else {
    expectations.push({ check: 'no-revert', ok: revert === undefined, message: revert ? `would have reverted at ${at(revert.at)} in stage ${revert.stage}: ${revert.reasons[0] ?? ''}` : 'not reverted' });
  }
  const first = evaluations.firstAt ?? spec.release.start;
  const last = evaluations.lastAt ?? first;
  let points: TracePoint[] | undefined;
  let records: EvaluationRecord[] | undefined;
  return {
    name: spec.name,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    ...(spec.release.version !== undefined ? { version: spec.release.version } : {}),
    slos: slos.map(sloInfo),
    file: spec.file,
    kind: inc ? 'incident' : 'healthy',
    timeline: spec.release.timeline,
    intervalMs,
    start: first,
    end: last,
    stages,
    // Read as plain properties (and serialised as such); made once, when first read.
    get evaluations() {
      return (records ??= evaluations.records());
    },
    get trace() {
      return (points ??= trace());
    },
    ...(revert ? { revert } : {}),
    ...(firstPause ? { firstPause } : {}),
    ...(detectionMs !== undefined ? { detectionMs } : {}),
    blastRadius: reached.map((s) => s.scope),
    ...(inc
      ? {
          incident: {
            impactStart: inc.impactStart,
            ...(inc.noticed !== undefined ? { noticed: inc.noticed } : {}),
            ...(inc.reverted !== undefined ? { reverted: inc.reverted } : {}),
            ...(revert && inc.reverted !== undefined ? { savedMs: inc.reverted - revert.at } : {}),
            ...(revert && inc.noticed !== undefined ? { beforeNoticedMs: inc.noticed - revert.at } : {}),
          },
        }
      : {}),
    falseRevert: !inc && revert !== undefined,
    missed: inc !== undefined && revert === undefined,
    expectations,
    ok: expectations.every((e) => e.ok),
  };
}
