/**
 * SLO specs (slo-specs/*.yaml): the SLI, the objective, the scopes, the windows and the
 * judgement, read with every error located (file:line:column). PromQL is checked at load with
 * `$window` filled in, so a typo fails `hmd validate`, not a release.
 */

import { readFileSync } from 'node:fs';
import type { Node } from 'yaml';
import { ConfigError, YamlReader } from '../config/yaml.js';
import { PromQLError } from '../promql/errors.js';
import { parseExpr } from '../promql/parser.js';
import { typeOf } from '../promql/signatures.js';
import { formatDuration } from '../promql/printer.js';
import { isLegacyLabelName } from '../storage/labels.js';
import type { BurnRateRule, ComparisonRule, DataPolicy, JudgementSpec } from './judge.js';
import { parseScopeMatchers } from './scope.js';
import { isOpenSlo, openSloSpecs } from './openslo.js';
import type { RunLimits } from './verdict.js';

export const SPEC_API_VERSION = 'hmd.dev/v1';

export type SliSpec = { readonly kind: 'ratio'; readonly errors: string; readonly total: string } | { readonly kind: 'expr'; readonly expr: string };

export interface SloSpec {
  readonly file: string;
  readonly name: string;
  readonly description?: string;
  readonly sli: SliSpec;
  /** Window the SLI's range selectors use (`$window`), ms. */
  readonly windowMs: number;
  readonly judgement: JudgementSpec;
  /** Comparison samples: the SLI over this window at this step, per scope. */
  readonly comparisonWindowMs?: number;
  readonly comparisonStepMs?: number;
  /** Requests in the release scope over the window (`$window` filled in); default for ratios: total × window. */
  readonly trafficQuery?: string;
  readonly scope: {
    /** Matchers of the release scope written in the spec (the gate's --scope overrides). */
    readonly release?: string;
    /** Matchers of the baseline (old code) scope (the gate's --baseline-scope overrides). */
    readonly baseline?: string;
    /** Select machines through an info-style series instead of matching every selector. */
    readonly via?: { readonly metric: string; readonly on: readonly string[] };
  };
  readonly evaluation: RunLimits & { readonly intervalMs: number };
  readonly weight: number;
  readonly critical: boolean;
  readonly dryRun: boolean;
}

export const SPEC_KEYS = ['apiVersion', 'kind', 'metadata', 'spec'] as const;
export const METADATA_KEYS = ['name', 'description'] as const;
export const SPEC_BODY_KEYS = ['sli', 'objective', 'worse', 'window', 'scope', 'judgement', 'evaluation', 'weight', 'critical', 'dryRun'] as const;
export const JUDGEMENT_KEYS = ['thresholds', 'burnRates', 'comparison', 'minTraffic', 'policy'] as const;
export const EVALUATION_KEYS = ['interval', 'initialDelay', 'failureLimit', 'inconclusiveLimit', 'errorLimit'] as const;

/** `$window` (and `${window}`) replaced by a PromQL duration. */
export function fillWindow(query: string, windowMs: number): string {
  return query.replace(/\$\{window\}|\$window\b/g, formatDuration(windowMs));
}

/**
 * Reads and checks a spec file: hmd's format (one SLO), or OpenSLO v1 (one or more SLO
 * documents, with their SLI documents).
 */
export function loadSpecs(path: string, env: Record<string, string | undefined> = process.env): SloSpec[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the SLO spec: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, path);
  }
  return parseSpecs(text, path, env);
}

/** Parses and checks spec text: hmd's format (one SLO) or OpenSLO v1 (one or more). */
export function parseSpecs(text: string, file: string, env: Record<string, string | undefined> = process.env): SloSpec[] {
  const y = new YamlReader(text, file, env, EMPTY_HINT);
  return isOpenSlo(y.root) ? openSloSpecs(y) : [specFrom(y)];
}

/** Reads and checks a file holding exactly one SLO. */
export function loadSpec(path: string, env: Record<string, string | undefined> = process.env): SloSpec {
  const specs = loadSpecs(path, env);
  if (specs.length !== 1) throw new ConfigError(`holds ${specs.length} SLOs where one is expected`, path);
  return specs[0]!;
}

/** Parses and checks spec text. */
export function parseSpec(text: string, file: string, env: Record<string, string | undefined> = process.env): SloSpec {
  return specFrom(new YamlReader(text, file, env, EMPTY_HINT));
}

const EMPTY_HINT = 'start it with `apiVersion: hmd.dev/v1` and `kind: SLO` (see slo-specs/)';

/** The spec of an already parsed hmd-format document. */
function specFrom(y: YamlReader): SloSpec {
  const file = y.file;
  const { fail, str, num, duration, mapping } = y;
  const { need } = y;
  const { name, description, specNode, spec: s } = y.document({
    apiVersion: SPEC_API_VERSION,
    kind: 'SLO',
    what: 'the spec',
    single: 'an hmd spec file holds one SLO; put each in its own file (OpenSLO files may hold several)',
    topKeys: SPEC_KEYS,
    metadataKeys: METADATA_KEYS,
    specKeys: SPEC_BODY_KEYS,
  });
  const windowMs = s.has('window') ? duration(s.get('window'), 'spec.window') : 5 * 60_000;

  /** A PromQL query, checked with the window filled in; errors point into the YAML value. */
  const query = (n: Node | undefined, what: string, want: 'vector' | 'any' = 'vector'): string => {
    const q = str(n, what);
    try {
      const e = parseExpr(fillWindow(q, windowMs));
      const t = typeOf(e);
      if (want === 'vector' && t !== 'vector' && t !== 'scalar') fail(n, `${what}: must give an instant vector or a scalar, not a ${t === 'matrix' ? 'range vector' : t}`);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      fail(n, `${what}: ${err instanceof PromQLError ? err.message : String(err)}`);
    }
    return q;
  };

  const sliMap = mapping(need(s, 'sli', specNode, 'spec'), 'spec.sli', ['ratio', 'expr']);
  let sli: SliSpec;
  if (sliMap.has('ratio') === sliMap.has('expr')) fail(s.get('sli'), 'spec.sli: give either `ratio: {errors, total}` or `expr`');
  if (sliMap.has('ratio')) {
    const r = mapping(sliMap.get('ratio'), 'spec.sli.ratio', ['errors', 'total']);
    sli = { kind: 'ratio', errors: query(need(r, 'errors', sliMap.get('ratio')!, 'spec.sli.ratio'), 'spec.sli.ratio.errors'), total: query(need(r, 'total', sliMap.get('ratio')!, 'spec.sli.ratio'), 'spec.sli.ratio.total') };
  } else sli = { kind: 'expr', expr: query(sliMap.get('expr'), 'spec.sli.expr') };

  const worse = s.has('worse') ? y.oneOf(s.get('worse'), 'spec.worse', ['higher', 'lower'] as const) : 'higher';
  let objective: number | undefined;
  if (s.has('objective')) {
    objective = num(s.get('objective'), 'spec.objective', 'share');
    if (!(objective > 0 && objective < 1)) fail(s.get('objective'), 'spec.objective: a target strictly between 0 and 1, e.g. 0.999');
  }

  // Judgement.
  const judgement: { -readonly [K in keyof JudgementSpec]: JudgementSpec[K] } = { worse };
  let comparisonWindowMs: number | undefined;
  let comparisonStepMs: number | undefined;
  let trafficQuery: string | undefined;
  if (objective !== undefined) judgement.objective = objective;
  if (s.has('judgement')) {
    const j = mapping(s.get('judgement'), 'spec.judgement', JUDGEMENT_KEYS);
    if (j.has('thresholds')) {
      const t = mapping(j.get('thresholds'), 'spec.judgement.thresholds', ['warn', 'fail']);
      const thr: { warn?: number; fail?: number } = {};
      if (t.has('warn')) thr.warn = num(t.get('warn'), 'thresholds.warn', 'number');
      if (t.has('fail')) thr.fail = num(t.get('fail'), 'thresholds.fail', 'number');
      if (thr.warn !== undefined && thr.fail !== undefined && (worse === 'higher' ? thr.warn > thr.fail : thr.warn < thr.fail)) {
        fail(j.get('thresholds'), `thresholds: warn ${thr.warn} must come before fail ${thr.fail} (worse is ${worse})`);
      }
      judgement.thresholds = thr;
    }
    if (j.has('burnRates')) {
      if (sli.kind !== 'ratio' || objective === undefined) fail(j.get('burnRates'), 'burnRates need a ratio SLI and an objective (the error budget is 1 - objective)');
      judgement.burnRates = y.list(j.get('burnRates'), 'spec.judgement.burnRates').map((item, i): BurnRateRule => {
        const b = mapping(item, `burnRates[${i}]`, ['long', 'short', 'factor', 'severity']);
        const rule = {
          longMs: duration(need(b, 'long', item, `burnRates[${i}]`), `burnRates[${i}].long`),
          shortMs: duration(need(b, 'short', item, `burnRates[${i}]`), `burnRates[${i}].short`),
          factor: num(need(b, 'factor', item, `burnRates[${i}]`), `burnRates[${i}].factor`, 'number'),
          severity: b.has('severity') ? y.oneOf(b.get('severity'), `burnRates[${i}].severity`, ['warn', 'fail'] as const) : ('fail' as const),
        };
        if (rule.shortMs >= rule.longMs) fail(b.get('short'), `burnRates[${i}]: the short window must be shorter than the long one`);
        return rule;
      });
    }
    if (j.has('comparison')) {
      const c = mapping(j.get('comparison'), 'spec.judgement.comparison', ['window', 'step', 'maxRelativeIncrease', 'alpha', 'minEffect', 'minSamples', 'severity']);
      comparisonWindowMs = c.has('window') ? duration(c.get('window'), 'comparison.window') : 30 * 60_000;
      comparisonStepMs = c.has('step') ? duration(c.get('step'), 'comparison.step') : 60_000;
      const rule: ComparisonRule = {
        maxRelativeIncrease: c.has('maxRelativeIncrease') ? num(c.get('maxRelativeIncrease'), 'comparison.maxRelativeIncrease', 'number') : 0.5,
        alpha: c.has('alpha') ? num(c.get('alpha'), 'comparison.alpha', 'share') : 0.01,
        minEffect: c.has('minEffect') ? num(c.get('minEffect'), 'comparison.minEffect', 'share') : 0.2,
        minSamples: c.has('minSamples') ? num(c.get('minSamples'), 'comparison.minSamples', 'int') : 10,
        severity: c.has('severity') ? y.oneOf(c.get('severity'), 'comparison.severity', ['warn', 'fail'] as const) : 'fail',
      };
      if (comparisonWindowMs / comparisonStepMs < rule.minSamples) fail(j.get('comparison'), `comparison: a ${formatDuration(comparisonWindowMs)} window at ${formatDuration(comparisonStepMs)} steps gives fewer than minSamples (${rule.minSamples}) samples`);
      judgement.comparison = rule;
    }
    if (j.has('minTraffic')) {
      const t = mapping(j.get('minTraffic'), 'spec.judgement.minTraffic', ['min', 'query']);
      judgement.minTraffic = num(need(t, 'min', j.get('minTraffic')!, 'minTraffic'), 'minTraffic.min', 'number');
      if (t.has('query')) trafficQuery = query(t.get('query'), 'minTraffic.query');
      else if (sli.kind !== 'ratio') fail(j.get('minTraffic'), 'minTraffic: give a `query` counting requests (only ratio SLIs have a default: total × window)');
    }
    if (j.has('policy')) {
      const p = mapping(j.get('policy'), 'spec.judgement.policy', ['noData', 'partial', 'error']);
      const pol: { -readonly [K in keyof DataPolicy]?: DataPolicy[K] } = {};
      if (p.has('noData')) pol.noData = y.oneOf(p.get('noData'), 'policy.noData', ['no-data', 'fail', 'pass'] as const);
      if (p.has('partial')) pol.partial = y.oneOf(p.get('partial'), 'policy.partial', ['no-data', 'use', 'fail'] as const);
      if (p.has('error')) pol.error = y.oneOf(p.get('error'), 'policy.error', ['error', 'no-data', 'fail'] as const);
      judgement.policy = pol;
    }
  }
  if (!judgement.thresholds && !judgement.burnRates && !judgement.comparison) fail(specNode, 'spec: no judgement: give judgement.thresholds, burnRates or comparison');

  // Scopes.
  const scope: { release?: string; baseline?: string; via?: { metric: string; on: string[] } } = {};
  if (s.has('scope')) {
    const sc = mapping(s.get('scope'), 'spec.scope', ['release', 'baseline', 'via']);
    for (const k of ['release', 'baseline'] as const) {
      if (!sc.has(k)) continue;
      const text = str(sc.get(k), `scope.${k}`);
      try {
        parseScopeMatchers(text);
      } catch (err) {
        fail(sc.get(k), `scope.${k}: ${(err as Error).message}`);
      }
      scope[k] = text;
    }
    if (sc.has('via')) {
      const v = mapping(sc.get('via'), 'scope.via', ['metric', 'on']);
      const metric = str(need(v, 'metric', sc.get('via')!, 'scope.via'), 'scope.via.metric');
      if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric)) fail(v.get('metric'), `scope.via.metric ${JSON.stringify(metric)} is not a metric name`);
      const on = y.list(need(v, 'on', sc.get('via')!, 'scope.via'), 'scope.via.on').map((n) => {
        const l = str(n, 'scope.via.on');
        if (!isLegacyLabelName(l)) fail(n, `scope.via.on: ${JSON.stringify(l)} is not a label name`);
        return l;
      });
      scope.via = { metric, on };
    }
  }

  // Evaluation across time.
  const ev = { intervalMs: 60_000, initialDelayMs: 0, failureLimit: 0, inconclusiveLimit: 0, errorLimit: 0 };
  if (s.has('evaluation')) {
    const e = mapping(s.get('evaluation'), 'spec.evaluation', EVALUATION_KEYS);
    if (e.has('interval')) ev.intervalMs = duration(e.get('interval'), 'evaluation.interval');
    if (e.has('initialDelay')) ev.initialDelayMs = y.durationOrZero(e.get('initialDelay')!, 'evaluation.initialDelay');
    if (e.has('failureLimit')) ev.failureLimit = num(e.get('failureLimit'), 'evaluation.failureLimit', 'int');
    if (e.has('inconclusiveLimit')) ev.inconclusiveLimit = num(e.get('inconclusiveLimit'), 'evaluation.inconclusiveLimit', 'int');
    if (e.has('errorLimit')) ev.errorLimit = num(e.get('errorLimit'), 'evaluation.errorLimit', 'int');
  }

  return {
    file,
    name,
    ...(description !== undefined ? { description } : {}),
    sli,
    windowMs,
    judgement,
    ...(comparisonWindowMs !== undefined ? { comparisonWindowMs, comparisonStepMs: comparisonStepMs! } : {}),
    ...(trafficQuery !== undefined ? { trafficQuery } : {}),
    scope,
    evaluation: ev,
    weight: s.has('weight') ? num(s.get('weight'), 'spec.weight', 'number') : 1,
    critical: s.has('critical') ? y.bool(s.get('critical'), 'spec.critical') : false,
    dryRun: s.has('dryRun') ? y.bool(s.get('dryRun'), 'spec.dryRun') : false,
  };
}
