/**
 * Backtest specs (backtests/*.yaml): where the history is, which SLOs judge the release, the
 * release's stages (when they really started, or a plan to simulate), the incident's facts and
 * what the backtest expects. Read with every error located, like SLO specs; relative paths are
 * relative to the spec's own directory, so a spec means the same from any working directory.
 */

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Node } from 'yaml';
import { ConfigError, YamlReader } from '../config/yaml.js';
import { readStage } from '../rollout/spec.js';
import { parseSpecs, SPEC_API_VERSION, type SloSpec } from '../slo/spec.js';
import { applyOverrides, OverrideError, type Setting } from './overrides.js';

export const BACKTEST_KEYS = ['apiVersion', 'kind', 'metadata', 'spec'] as const;
export const BACKTEST_METADATA_KEYS = ['name', 'description'] as const;
export const BACKTEST_SPEC_KEYS = ['source', 'slos', 'release', 'incident', 'expect'] as const;
export const SOURCE_KEYS = ['data', 'engines'] as const;
export const RELEASE_KEYS = ['version', 'start', 'maxPause', 'stages'] as const;
export const STAGE_KEYS = ['name', 'scope', 'baseline', 'startedAt', 'bake'] as const;
export const INCIDENT_KEYS = ['impactStart', 'noticed', 'reverted'] as const;
export const EXPECT_KEYS = ['revert', 'within', 'stage'] as const;

/** Where a backtest reads history: a store (directory or s3://) or the engines of an hmd.yaml. */
export type SourceSpec = { readonly kind: 'data'; readonly location: string } | { readonly kind: 'engines'; readonly config: string };

export interface StageSpec {
  readonly name: string;
  /** Matchers of the machines running the new code in this stage. */
  readonly scope: string;
  /** Matchers of comparable machines on the old code (SLOs that compare need it). */
  readonly baseline?: string;
  /** When the stage really started (actual timelines), ms. */
  readonly startedAt?: number;
  /** How long the stage bakes before hmd would promote, ms. */
  readonly bakeMs?: number;
}

export interface ReleaseSpec {
  readonly version?: string;
  /** `actual`: every stage has startedAt; `plan`: stages follow each other from `start` as hmd promotes. */
  readonly timeline: 'actual' | 'plan';
  /** The first stage's start, ms. */
  readonly start: number;
  /** Plans: how long a stage may stay paused past its bake before the replay ends it as held, ms. */
  readonly maxPauseMs: number;
  readonly stages: readonly StageSpec[];
}

export interface IncidentSpec {
  /** When users started to be hurt, ms. */
  readonly impactStart: number;
  /** When people noticed, ms. */
  readonly noticed?: number;
  /** When the release was really reverted, ms: the data after it no longer shows the bad code. */
  readonly reverted?: number;
}

export interface Expectation {
  /** hmd should revert (incidents) or not (healthy releases). */
  readonly revert: boolean;
  /** Revert no later than this after the impact start, ms. */
  readonly withinMs?: number;
  /** Revert at this stage. */
  readonly stage?: string;
}

export interface BacktestSpec {
  readonly file: string;
  readonly name: string;
  readonly description?: string;
  readonly source: SourceSpec;
  /** SLO spec files, absolute. */
  readonly sloFiles: readonly string[];
  readonly release: ReleaseSpec;
  /** Absent: a healthy release. */
  readonly incident?: IncidentSpec;
  readonly expect: Expectation;
}

/** A backtest spec with its SLO specs read, under one setting of the overrides. */
export interface LoadedBacktest {
  readonly spec: BacktestSpec;
  readonly slos: readonly SloSpec[];
  readonly setting: Setting;
}

const EMPTY_HINT = 'start it with `apiVersion: hmd.dev/v1` and `kind: Backtest` (see backtests/)';
/** Default for plans: a stage paused this long past its bake is held for good. */
const DEFAULT_MAX_PAUSE_MS = 60 * 60_000;

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, path);
  }
}

/** Runs `f`, naming the setting in any error it raises (a spec may be valid only under some overrides). */
function underSetting<T>(setting: Setting, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (setting.length === 0 || !(err instanceof Error)) throw err;
    const label = setting.map((a) => `${a.flag.key}=${a.raw}`).join(' ');
    err.message = `${err.message} (with --set ${label})`;
    throw err;
  }
}

/**
 * SLO files already read, and specs already parsed (by file and text as overridden): a batch's
 * backtests mostly share their SLO files, and sharing the parsed specs also shares what is
 * remembered per spec. One batch's reads: a file is read once per batch.
 */
export interface SloReads {
  readonly texts: Map<string, string>;
  readonly specs: Map<string, readonly SloSpec[]>;
}

/** Empty reads for one batch. */
export function sloReads(): SloReads {
  return { texts: new Map(), specs: new Map() };
}

/** Reads a backtest spec and its SLO specs, with a setting's overrides applied to both. */
export function loadBacktest(
  path: string,
  setting: Setting = [],
  env: Record<string, string | undefined> = process.env,
  reads?: SloReads,
): LoadedBacktest {
  const file = resolve(path);
  return underSetting(setting, () => {
    const { text } = applyOverrides(readText(file, 'backtest spec'), file, 'backtest', setting);
    const spec = parseBacktest(text, file, env);
    const slos: SloSpec[] = [];
    const sloApplied = new Set<string>();
    for (const f of spec.sloFiles) {
      let text = reads?.texts.get(f);
      if (text === undefined) {
        text = readText(f, 'SLO spec');
        reads?.texts.set(f, text);
      }
      const o = applyOverrides(text, f, 'slo', setting);
      for (const a of o.applied) sloApplied.add(a.flag.key);
      const key = `${f}\0${o.text}`;
      let parsed = reads?.specs.get(key);
      if (!parsed) {
        parsed = parseSpecs(o.text, f, env);
        reads?.specs.set(key, parsed);
      }
      slos.push(...parsed);
    }
    // An SLO override that names an SLO this backtest does not have reaches nothing here.
    for (const a of setting) {
      if (a.flag.target === 'slo' && !sloApplied.has(a.flag.key) && a.flag.slo === undefined) {
        throw new OverrideError(`--set ${a.flag.key}: no SLO spec of ${file} was changed`);
      }
    }
    const names = new Set<string>();
    for (const s of slos) {
      if (names.has(s.name)) throw new ConfigError(`two SLOs are named ${JSON.stringify(s.name)}; names must be unique within a backtest`, file);
      names.add(s.name);
    }
    return { spec, slos, setting };
  });
}

/** Parses and checks backtest spec text (`file` locates errors and anchors relative paths). */
export function parseBacktest(text: string, file: string, env: Record<string, string | undefined> = process.env): BacktestSpec {
  const y = new YamlReader(text, file, env, EMPTY_HINT);
  const { fail, str, mapping, duration } = y;
  const base = dirname(file);
  const { need } = y;
  const { name, description, specNode, spec: s } = y.document({
    apiVersion: SPEC_API_VERSION,
    kind: 'Backtest',
    what: 'the backtest',
    single: 'a backtest file holds one backtest; put each in its own file',
    topKeys: BACKTEST_KEYS,
    metadataKeys: BACKTEST_METADATA_KEYS,
    specKeys: BACKTEST_SPEC_KEYS,
  });

  // Source.
  const srcNode = need(s, 'source', specNode, 'spec');
  const src = mapping(srcNode, 'spec.source', SOURCE_KEYS);
  if (src.has('data') === src.has('engines')) fail(srcNode, 'spec.source: give either `data` (a store directory or s3://bucket/prefix) or `engines` (an hmd.yaml listing engines)');
  const local = (p: string) => (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(p) ? p : resolve(base, p));
  const source: SourceSpec = src.has('data')
    ? { kind: 'data', location: local(str(src.get('data'), 'spec.source.data')) }
    : { kind: 'engines', config: resolve(base, str(src.get('engines'), 'spec.source.engines')) };

  // SLOs.
  const sloFiles = y.list(need(s, 'slos', specNode, 'spec'), 'spec.slos').map((n) => resolve(base, str(n, 'spec.slos[]')));
  if (new Set(sloFiles).size !== sloFiles.length) fail(s.get('slos'), 'spec.slos: a file is listed twice');

  // Release.
  const relNode = need(s, 'release', specNode, 'spec');
  const rel = mapping(relNode, 'spec.release', RELEASE_KEYS);
  const stageNames = new Set<string>();
  const stages = y.list(need(rel, 'stages', relNode, 'spec.release'), 'spec.release.stages').map((item, i): StageSpec => {
    const what = `release.stages[${i}]`;
    const { m, stage } = readStage(y, item, what, STAGE_KEYS, stageNames, false);
    return {
      ...stage,
      ...(m.has('startedAt') ? { startedAt: y.time(m.get('startedAt'), `${what}.startedAt`) } : {}),
      ...(m.has('bake') ? { bakeMs: duration(m.get('bake'), `${what}.bake`) } : {}),
    };
  });
  const items = y.list(rel.get('stages'), 'spec.release.stages');
  const actual = stages.filter((st) => st.startedAt !== undefined).length;
  let timeline: 'actual' | 'plan';
  let start: number;
  if (actual === stages.length) {
    timeline = 'actual';
    if (rel.has('start')) fail(rel.get('start'), 'release.start: the stages carry their real start times (startedAt); drop `start`, or drop every startedAt to simulate a plan');
    for (let i = 1; i < stages.length; i++) {
      if (stages[i]!.startedAt! <= stages[i - 1]!.startedAt!) fail(items[i], `release.stages[${i}].startedAt: must be after the stage before (${new Date(stages[i - 1]!.startedAt!).toISOString()})`);
    }
    if (stages[stages.length - 1]!.bakeMs === undefined) fail(items[stages.length - 1], `release.stages[${stages.length - 1}]: the last stage needs a \`bake\` (how long to replay it)`);
    start = stages[0]!.startedAt!;
  } else if (actual === 0) {
    timeline = 'plan';
    start = y.time(need(rel, 'start', relNode, 'spec.release (a plan: stages without startedAt)'), 'release.start');
    stages.forEach((st, i) => {
      if (st.bakeMs === undefined) fail(items[i], `release.stages[${i}]: a planned stage needs a \`bake\` (how long before hmd promotes it)`);
    });
  } else {
    const i = stages.findIndex((st) => st.startedAt === undefined);
    return fail(items[i], `release.stages[${i}]: give every stage a startedAt (the real timeline) or none (a plan from release.start)`);
  }
  if (rel.has('maxPause') && timeline === 'actual') fail(rel.get('maxPause'), 'release.maxPause applies to plans; the real timeline already says how long each stage lasted');
  const maxPauseMs = rel.has('maxPause') ? y.durationOrZero(rel.get('maxPause')!, 'release.maxPause') : DEFAULT_MAX_PAUSE_MS;
  const release: ReleaseSpec = {
    ...(rel.has('version') ? { version: str(rel.get('version'), 'release.version') } : {}),
    timeline,
    start,
    maxPauseMs,
    stages,
  };

  // Incident.
  let incident: IncidentSpec | undefined;
  if (s.has('incident')) {
    const inNode = s.get('incident')!;
    const m = mapping(inNode, 'spec.incident', INCIDENT_KEYS);
    const impactStart = y.time(need(m, 'impactStart', inNode, 'spec.incident'), 'incident.impactStart');
    const noticed = m.has('noticed') ? y.time(m.get('noticed'), 'incident.noticed') : undefined;
    const reverted = m.has('reverted') ? y.time(m.get('reverted'), 'incident.reverted') : undefined;
    for (const [k, v] of [['noticed', noticed], ['reverted', reverted]] as const) {
      if (v !== undefined && v < impactStart) fail(m.get(k), `incident.${k}: before the impact start`);
    }
    if (reverted !== undefined && reverted <= start) fail(m.get('reverted'), 'incident.reverted: before the release started');
    incident = { impactStart, ...(noticed !== undefined ? { noticed } : {}), ...(reverted !== undefined ? { reverted } : {}) };
  }

  // Expectations: by default, revert an incident and leave a healthy release alone.
  let expect: Expectation = { revert: incident !== undefined };
  if (s.has('expect')) {
    const exNode = s.get('expect')!;
    const m = mapping(exNode, 'spec.expect', EXPECT_KEYS);
    const revert = m.has('revert') ? y.bool(m.get('revert'), 'expect.revert') : incident !== undefined;
    const withinMs = m.has('within') ? duration(m.get('within'), 'expect.within') : undefined;
    const stage = m.has('stage') ? str(m.get('stage'), 'expect.stage') : undefined;
    if (!revert && (withinMs !== undefined || stage !== undefined)) fail(exNode, 'expect: `within` and `stage` describe a revert; drop them, or expect `revert: true`');
    if (withinMs !== undefined && !incident) fail(m.get('within'), 'expect.within counts from the impact start: give spec.incident.impactStart');
    if (stage !== undefined && !stageNames.has(stage)) fail(m.get('stage'), `expect.stage: no stage is named ${JSON.stringify(stage)} (stages: ${[...stageNames].join(', ')})`);
    expect = { revert, ...(withinMs !== undefined ? { withinMs } : {}), ...(stage !== undefined ? { stage } : {}) };
  }

  return { file, name, ...(description !== undefined ? { description } : {}), source, sloFiles, release, ...(incident ? { incident } : {}), expect };
}
