/**
 * A rollout plan: the stages a release walks through (each a scope with a bake time), the SLOs
 * that judge it, how long a stage may hold, and the hooks that promote and revert it.
 *
 * Written as a file (`kind: Rollout`, SLOs by path) for `hmd rollout create`, and sent to the
 * daemon as JSON with every SLO spec inlined as text (`{file, text}`): the daemon never reads a
 * path a client names. JSON is YAML, so both go through the same located reader, and an error in
 * a request body says where in the body it is.
 */

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, type Node } from 'yaml';
import { ConfigError, YamlReader } from '../config/yaml.js';
import { readScope } from '../slo/scope.js';
import { parseSpecs, SPEC_API_VERSION, type SloSpec } from '../slo/spec.js';

export const ROLLOUT_KEYS = ['apiVersion', 'kind', 'metadata', 'spec'] as const;
export const ROLLOUT_METADATA_KEYS = ['name', 'description'] as const;
export const ROLLOUT_SPEC_KEYS = ['version', 'slos', 'stages', 'maxPause', 'hooks'] as const;
export const ROLLOUT_STAGE_KEYS = ['name', 'scope', 'baseline', 'bake'] as const;
export const ROLLOUT_HOOK_KEYS = ['promote', 'revert'] as const;
export const INLINE_SLO_KEYS = ['file', 'text'] as const;

/** A stage paused this long past its bake pauses the rollout for a person (default). */
export const DEFAULT_MAX_PAUSE_MS = 60 * 60_000;

export interface RolloutStage {
  readonly name: string;
  readonly scope: string;
  readonly baseline?: string;
  readonly bakeMs: number;
}

/** An SLO spec as sent: where it came from (for messages) and its text. */
export interface InlineSlo {
  readonly file: string;
  readonly text: string;
}

export interface RolloutPlan {
  readonly name: string;
  readonly description?: string;
  readonly version?: string;
  readonly stages: readonly RolloutStage[];
  readonly maxPauseMs: number;
  /** Hook names (hmd.yaml daemon.hooks) for each action; undefined: the daemon's default. */
  readonly hooks: { readonly promote?: string; readonly revert?: string };
  readonly slos: readonly SloSpec[];
  /** The SLO specs as sent, kept with the rollout so that it can be read again after a restart. */
  readonly sloTexts: readonly InlineSlo[];
}

const EMPTY_HINT = 'start it with `apiVersion: hmd.dev/v1` and `kind: Rollout` (see examples/rollout.yaml)';

export interface ParseRolloutOptions {
  /** Reads an SLO spec named by path (the file form); without it, SLOs must be inline. */
  readonly readSlo?: (path: string) => InlineSlo;
  /** Values for `${VAR}`: the environment for files; none for request bodies (a client must not read the daemon's). */
  readonly env?: Record<string, string | undefined>;
}

/**
 * What every kind of stage has (release plans and backtests alike): a name unique among
 * `names` (and plain when `plainName`), a scope and an optional baseline, checked and located.
 * Returns the stage's keys for the kind's own fields.
 */
export function readStage(y: YamlReader, item: Node, what: string, keys: readonly string[], names: Set<string>, plainName: boolean): { m: Map<string, Node>; stage: { name: string; scope: string; baseline?: string } } {
  const m = y.mapping(item, what, keys);
  const name = y.str(y.need(m, 'name', item, what), `${what}.name`);
  if (plainName && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) y.fail(m.get('name'), `${what}.name ${JSON.stringify(name)}: use letters, digits, '-', '_' and '.'`);
  if (names.has(name)) y.fail(m.get('name'), `${what}.name: ${JSON.stringify(name)} is used by an earlier stage`);
  names.add(name);
  return {
    m,
    stage: {
      name,
      scope: readScope(y, y.need(m, 'scope', item, what), `${what}.scope`),
      ...(m.has('baseline') ? { baseline: readScope(y, m.get('baseline'), `${what}.baseline`) } : {}),
    },
  };
}

/** Parses and checks a rollout document (file or request body); `file` names it in errors. */
export function parseRollout(text: string, file: string, o: ParseRolloutOptions = {}): RolloutPlan {
  const env = o.env ?? {};
  const y = new YamlReader(text, file, env, EMPTY_HINT);
  const { fail, str, mapping, duration, need } = y;
  const { name, description, specNode, spec: s } = y.document({
    apiVersion: SPEC_API_VERSION,
    kind: 'Rollout',
    what: 'the rollout',
    single: 'a rollout document holds one rollout; send each on its own',
    topKeys: ROLLOUT_KEYS,
    metadataKeys: ROLLOUT_METADATA_KEYS,
    specKeys: ROLLOUT_SPEC_KEYS,
  });
  const version = s.has('version') ? str(s.get('version'), 'spec.version') : undefined;

  const stageNames = new Set<string>();
  const stages = y.list(need(s, 'stages', specNode, 'spec'), 'spec.stages').map((item, i): RolloutStage => {
    const what = `spec.stages[${i}]`;
    const { m, stage } = readStage(y, item, what, ROLLOUT_STAGE_KEYS, stageNames, true);
    return { ...stage, bakeMs: duration(need(m, 'bake', item, what), `${what}.bake`) };
  });
  const maxPauseMs = s.has('maxPause') ? duration(s.get('maxPause'), 'spec.maxPause') : DEFAULT_MAX_PAUSE_MS;

  const hooks: { promote?: string; revert?: string } = {};
  if (s.has('hooks')) {
    const h = mapping(s.get('hooks'), 'spec.hooks', ROLLOUT_HOOK_KEYS);
    for (const k of ROLLOUT_HOOK_KEYS) if (h.has(k)) hooks[k] = str(h.get(k), `spec.hooks.${k}`);
  }

  // SLOs: paths (files only) or inline {file, text}.
  const sloTexts: InlineSlo[] = [];
  const slos: SloSpec[] = [];
  y.list(need(s, 'slos', specNode, 'spec'), 'spec.slos').forEach((n, i) => {
    const what = `spec.slos[${i}]`;
    let inline: InlineSlo;
    try {
      if (isScalar(n)) {
        const path = str(n, what);
        if (!o.readSlo) fail(n, `${what}: the daemon does not read files; send the SLO spec inline as {file, text} (hmd rollout create does this)`);
        inline = o.readSlo!(path);
      } else {
        if (!isMap(n)) fail(n, `${what}: expected a path, or {file, text} with the SLO spec's text`);
        const m = mapping(n, what, INLINE_SLO_KEYS);
        // The text is read as YAML on its own: its ${VAR} and $$ are its own business.
        inline = { file: y.rawStr(need(m, 'file', n, what), `${what}.file`), text: y.rawStr(need(m, 'text', n, what), `${what}.text`) };
      }
      // SLO specs are read with no environment, file or body alike: the daemon has none to give
      // them, so a plan that passes here passes there.
      slos.push(...parseSpecs(inline.text, inline.file, {}));
    } catch (err) {
      if (err instanceof ConfigError && !err.message.startsWith(`${file}:`)) fail(n, `${what}: ${err.message}`);
      throw err;
    }
    sloTexts.push(inline);
  });
  const seen = new Set<string>();
  for (const x of slos) {
    if (seen.has(x.name)) fail(s.get('slos'), `spec.slos: two SLOs are named ${JSON.stringify(x.name)}; names must be unique within a rollout`);
    seen.add(x.name);
  }
  return { name, ...(description !== undefined ? { description } : {}), ...(version !== undefined ? { version } : {}), stages, maxPauseMs, hooks, slos, sloTexts };
}

/** Reads a rollout file and the SLO files it names (relative to it). */
export function loadRollout(path: string, env: Record<string, string | undefined> = process.env): RolloutPlan {
  const file = resolve(path);
  const text = readText(file, 'rollout file');
  return parseRollout(text, file, {
    env,
    readSlo: (p) => {
      const f = resolve(dirname(file), p);
      return { file: p, text: readText(f, 'SLO spec') };
    },
  });
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, path);
  }
}

/** A value for a document the daemon reads again: its `$` escaped, so that it reads back as it is. */
const lit = (s: string): string => s.replaceAll('$', '$$$$');

/** The plan as a request body: the document with every SLO spec inline (what the daemon stores). */
export function rolloutDocument(p: RolloutPlan): object {
  const bake = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  return {
    apiVersion: SPEC_API_VERSION,
    kind: 'Rollout',
    metadata: { name: lit(p.name), ...(p.description !== undefined ? { description: lit(p.description) } : {}) },
    spec: {
      ...(p.version !== undefined ? { version: lit(p.version) } : {}),
      stages: p.stages.map((st) => ({ name: lit(st.name), scope: lit(st.scope), ...(st.baseline !== undefined ? { baseline: lit(st.baseline) } : {}), bake: bake(st.bakeMs) })),
      maxPause: bake(p.maxPauseMs),
      ...(p.hooks.promote !== undefined || p.hooks.revert !== undefined
        ? { hooks: { ...(p.hooks.promote !== undefined ? { promote: lit(p.hooks.promote) } : {}), ...(p.hooks.revert !== undefined ? { revert: lit(p.hooks.revert) } : {}) } }
        : {}),
      slos: p.sloTexts.map((x) => ({ file: x.file, text: x.text })),
    },
  };
}
