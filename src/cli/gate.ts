/**
 * `hmd gate`: one step of a release pipeline. Evaluates the SLO specs over the release scope
 * (against a local store or the configured engines), prints a summary, writes JSON and JUnit XML
 * on request, and exits 0 continue, 1 revert, 2 pause, 3 error. With `--for` it bakes: it
 * re-evaluates at each spec's interval for that long (waiting on the wall clock, or walking
 * history when `--at` is given) and answers at the end, or at once on revert.
 */

import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../config/config.js';
import { DistributedEngine } from '../distributed/engine.js';
import { AdaptiveLimiter } from '../limiter/limiter.js';
import { DEFAULT_LOOKBACK_MS, Engine } from '../promql/engine.js';
import type { QueryFn } from '../slo/measure.js';
import { loadSpecs, type SloSpec } from '../slo/spec.js';
import { Stage } from '../slo/stage.js';
import type { StageVerdict } from '../slo/verdict.js';
import type { Queryable } from '../storage/queryable.js';
import { engineSpec, openSource } from './query.js';
import { DATA_OPTION } from './options.js';
import { parseDuration, parseTime } from './time.js';

/** The gate's exit codes (documented in --help and docs/cli.md). */
export const GATE_EXIT = { CONTINUE: 0, REVERT: 1, PAUSE: 2, ERROR: 3 } as const;

export interface GateArgs {
  spec: string[];
  scope?: string;
  'baseline-scope'?: string;
  at?: string;
  for?: string;
  data?: string;
  engines?: string;
  config?: string;
  junit?: string;
  json?: string;
  output?: 'table' | 'json';
}

export interface GateIO {
  out(s: string): void;
  err(s: string): void;
  now(): number;
  sleep(ms: number): Promise<void>;
}

const processIO: GateIO = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export const gateCommand: CommandModule<object, GateArgs> = {
  command: 'gate',
  describe: 'Judge a release stage from SLO specs: exit 0 continue, 1 revert, 2 pause, 3 error',
  builder: (y: Argv) =>
    y
      .option('spec', { type: 'string', array: true, requiresArg: true, demandOption: true, describe: 'SLO spec file(s) (slo-specs/*.yaml); give several, or repeat the flag' })
      .option('scope', { type: 'string', requiresArg: true, describe: 'Matchers of the machines running the new code, e.g. tier=tier3,color=green [default: the spec\'s scope.release]' })
      .option('baseline-scope', { type: 'string', requiresArg: true, describe: 'Matchers of the same fleet on the old code, e.g. tier=tier3,color=blue [default: the spec\'s scope.baseline]' })
      .option('at', { type: 'string', requiresArg: true, describe: 'Evaluate at this time (RFC3339 or Unix seconds) instead of now: replays history' })
      .option('for', { type: 'string', requiresArg: true, describe: 'Bake time: re-evaluate at each spec\'s interval for this long before answering (revert answers at once)' })
      .option('data', { ...DATA_OPTION, demandOption: false })
      .option('engines', { type: 'string', requiresArg: true, describe: 'Query the remote engines of this hmd.yaml (fan-out per datacenter)' })
      .option('config', { alias: 'c', type: 'string', requiresArg: true, describe: 'hmd.yaml: engines (when no --data/--engines), limiter and query defaults' })
      .option('junit', { type: 'string', requiresArg: true, describe: 'Write JUnit XML here (one test case per SLO) for CI systems' })
      .option('json', { type: 'string', requiresArg: true, describe: 'Write the full result (verdict, every SLO, evaluation and reason) as JSON here' })
      .option('output', { alias: 'o', choices: ['table', 'json'] as const, default: 'table' as const, describe: 'stdout: a summary for people, or the JSON' })
      .check((a) => {
        if (a['data'] !== undefined && a['engines'] !== undefined) return 'Give either --data or --engines, not both.';
        if (a['data'] === undefined && a['engines'] === undefined && a['config'] === undefined) return 'Give a source: --data, or --engines hmd.yaml (or --config with engines).';
        return true;
      })
      .example("$0 gate --spec slo-specs/http-5xx-ratio.yaml --engines hmd.yaml --scope 'tier=tier3,color=green' --baseline-scope 'tier=tier3,color=blue' --for 15m --junit gate.xml", 'a pipeline step with a 15 minute bake')
      .example("$0 gate --spec slo-specs/*.yaml --data fixtures/history --scope 'datacenter=dc2,tier=tier3,color=green' --baseline-scope 'datacenter=dc2,tier=tier3,color=blue' --at 2025-06-13T10:30:00Z", 'replay the bundled bad release')
      .epilogue(
        'Exit codes: 0 continue, 1 revert, 2 pause (inconclusive: missing data, partial answers, a failure below the revert weight), ' +
          '3 error (bad flags or specs, unreadable source). Missing data never passes. See docs/gate.md.',
      ) as unknown as Argv<GateArgs>,
  handler: async (args) => {
    process.exitCode = await runGate(args);
  },
};

/** Runs the gate; returns its exit code. */
export async function runGate(args: GateArgs, io: GateIO = processIO): Promise<number> {
  const fail = (msg: string): number => {
    io.err(`hmd gate: ${msg}\n`);
    return GATE_EXIT.ERROR;
  };
  let specs: SloSpec[];
  let start: number;
  let forMs = 0;
  try {
    specs = args.spec.flatMap((f) => loadSpecs(f));
    start = args.at !== undefined ? parseTime(args.at) : io.now();
    if (args.for !== undefined) forMs = parseDuration(args.for);
  } catch (err) {
    return fail((err as Error).message);
  }
  let stage: Stage;
  try {
    stage = new Stage({ specs, scope: args.scope, baselineScope: args['baseline-scope'], startedAt: start, oneShot: forMs === 0 });
  } catch (err) {
    return fail((err as Error).message);
  }

  // The source: a local store, or the engines (each request through the limiter).
  let q: QueryFn;
  let close: () => Promise<void>;
  try {
    const config = args.config !== undefined ? loadConfig(args.config) : undefined;
    if (args.data !== undefined) {
      const storage: Queryable = await openSource(args.data);
      const engine = new Engine({ lookbackDelta: config?.query.lookbackDeltaMs ?? DEFAULT_LOOKBACK_MS });
      q = { instant: (e, t) => engine.instantQuery(storage, e, t), range: (e, s, en, st) => engine.rangeQuery(storage, e, s, en, st) };
      close = async () => void (await storage.close?.());
    } else {
      const engines = (args.engines !== undefined ? loadConfig(args.engines) : config!).engines;
      if (engines.length === 0) return fail(`${args.engines ?? args.config}: declares no engines`);
      // Partial answers come back flagged, and the judgement counts them as missing data.
      const de = new DistributedEngine({ engines: engines.map(engineSpec), partialResponse: true, admit: new AdaptiveLimiter(config?.limiter ?? {}) });
      q = { instant: (e, t) => de.instantQuery(e, t), range: (e, s, en, st) => de.rangeQuery(e, s, en, st) };
      close = () => de.close();
    }
  } catch (err) {
    return fail(err instanceof ConfigError ? err.message : `cannot open the source: ${(err as Error).message}`);
  }

  let verdict: StageVerdict;
  try {
    const interval = Math.min(...specs.map((s) => s.evaluation.intervalMs));
    const live = args.at === undefined;
    for (let t = start; ; t += interval) {
      if (live && t > io.now()) await io.sleep(t - io.now());
      verdict = await stage.evaluate(t, q);
      if (verdict.verdict === 'revert' || t + interval > start + forMs) break;
    }
  } finally {
    await close();
  }
  const result = gateResult(stage, verdict, args, start);
  if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2) + '\n');
  if (args.junit) writeFileSync(args.junit, junitXml(stage, verdict));
  io.out(args.output === 'json' ? JSON.stringify(result, null, 2) + '\n' : summary(stage, verdict));
  return verdict.verdict === 'continue' ? GATE_EXIT.CONTINUE : verdict.verdict === 'revert' ? GATE_EXIT.REVERT : GATE_EXIT.PAUSE;
}

function gateResult(stage: Stage, v: StageVerdict, args: GateArgs, start: number): unknown {
  return {
    verdict: v.verdict,
    reasons: v.reasons,
    scope: args.scope ?? null,
    baselineScope: args['baseline-scope'] ?? null,
    start: new Date(start).toISOString(),
    slos: stage.slos.map((s) => ({
      name: s.spec.name,
      file: s.spec.file,
      status: s.summary.status,
      message: s.summary.message,
      critical: s.spec.critical,
      dryRun: s.spec.dryRun,
      weight: s.spec.weight,
      evaluations: s.evaluations.map((e) => ({ at: new Date(e.at).toISOString(), status: e.status, reasons: e.reasons })),
    })),
  };
}

function summary(stage: Stage, v: StageVerdict): string {
  const lines = [`verdict: ${v.verdict.toUpperCase()}`, `  ${v.reasons[0]}`, ''];
  for (const s of stage.slos) {
    const last = s.evaluations[s.evaluations.length - 1];
    const flags = [s.spec.critical ? 'critical' : '', s.spec.dryRun ? 'dry run' : ''].filter(Boolean).join(', ');
    lines.push(`${s.summary.status.padEnd(12)} ${s.spec.name}${flags ? ` (${flags})` : ''}: ${s.summary.message}, ${s.evaluations.length} evaluation(s)`);
    for (const r of last?.reasons ?? []) lines.push(`  ${r.status.padEnd(8)} ${r.check}: ${r.message}`);
  }
  return lines.join('\n') + '\n';
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JUnit XML: one test case per SLO; fail is a failure, error an error, the rest skipped or passed. */
export function junitXml(stage: Stage, v: StageVerdict): string {
  const cases = stage.slos.map((s) => {
    const last = s.evaluations[s.evaluations.length - 1];
    const detail = xml((last?.reasons ?? []).map((r) => `${r.status} ${r.check}: ${r.message}`).join('\n'));
    const name = xml(s.spec.name);
    const st = s.summary.status;
    const body =
      s.spec.dryRun && st !== 'pass'
        ? `<skipped message="dry run: ${xml(st)}: ${xml(s.summary.message)}"/>`
        : st === 'fail'
          ? `<failure message="${xml(s.summary.message)}" type="fail">${detail}</failure>`
          : st === 'error'
            ? `<error message="${xml(s.summary.message)}" type="error">${detail}</error>`
            : st === 'pass'
              ? ''
              : `<skipped message="${xml(st)}: ${xml(s.summary.message)}"/>`;
    return `    <testcase classname="hmd.gate" name="${name}">${body}${body ? '' : ''}<system-out>${detail}</system-out></testcase>`;
  });
  const failures = stage.slos.filter((s) => !s.spec.dryRun && s.summary.status === 'fail').length;
  const errors = stage.slos.filter((s) => !s.spec.dryRun && s.summary.status === 'error').length;
  const skipped = stage.slos.filter((s) => (s.spec.dryRun && s.summary.status !== 'pass') || ['pending', 'inconclusive'].includes(s.summary.status)).length;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="hmd gate" tests="${stage.slos.length}" failures="${failures}" errors="${errors}">\n` +
    `  <testsuite name="hmd gate: ${xml(v.verdict)}" tests="${stage.slos.length}" failures="${failures}" errors="${errors}" skipped="${skipped}">\n` +
    `    <properties><property name="verdict" value="${xml(v.verdict)}"/></properties>\n` +
    cases.join('\n') +
    `\n  </testsuite>\n</testsuites>\n`
  );
}
