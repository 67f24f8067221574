/**
 * OpenSLO v1 input: SLO documents (with an inline indicator or an indicatorRef) and SLI
 * documents whose ratioMetric or thresholdMetric reads Prometheus, turned into hmd SLO specs.
 * What OpenSLO does not say (the judgement's windows and burn rates, the evaluation cadence)
 * takes hmd's defaults: the SRE workbook's 14.4x/1h+5m and 6x/6h+30m burn rates for ratios.
 */

import type { Node } from 'yaml';
import { isMap } from 'yaml';
import type { YamlReader } from '../config/yaml.js';
import { PromQLError } from '../promql/errors.js';
import { parseExpr } from '../promql/parser.js';
import { fillWindow, type SloSpec } from './spec.js';

export const OPENSLO_API_VERSION = 'openslo/v1';

const DEFAULT_WINDOW_MS = 5 * 60_000;

/** True when the document declares OpenSLO's apiVersion. */
export function isOpenSlo(root: Node): boolean {
  if (!isMap(root)) return false;
  const v = root.get('apiVersion');
  return v === OPENSLO_API_VERSION;
}

/** The hmd specs of every OpenSLO SLO document in the file (SLI documents resolve indicatorRefs). */
export function openSloSpecs(y: YamlReader): SloSpec[] {
  const { fail, str, num, mapping } = y;
  const slis = new Map<string, Node>();
  const slos: Node[] = [];
  for (const root of y.roots) {
    const top = mapping(root, 'an OpenSLO document', ['apiVersion', 'kind', 'metadata', 'spec']);
    if (str(top.get('apiVersion'), 'apiVersion') !== OPENSLO_API_VERSION) fail(top.get('apiVersion'), `every document of an OpenSLO file must be ${OPENSLO_API_VERSION}`);
    const kind = str(top.get('kind'), 'kind');
    const meta = mapping(top.get('metadata'), 'metadata', ['name', 'displayName', 'labels', 'annotations']);
    const name = str(meta.get('name'), 'metadata.name');
    if (kind === 'SLI') slis.set(name, top.get('spec')!);
    else if (kind === 'SLO') slos.push(root);
    else fail(top.get('kind'), `kind ${JSON.stringify(kind)}: hmd reads OpenSLO SLO and SLI documents`);
  }
  if (slos.length === 0) fail(y.root, 'no OpenSLO SLO document in the file');

  /** A Prometheus query of a metricSource. */
  const source = (n: Node | undefined, what: string): { query: string; node: Node } => {
    const ms = mapping(mapping(n, what, ['metricSource']).get('metricSource'), `${what}.metricSource`, ['type', 'metricSourceRef', 'spec']);
    const type = str(ms.get('type'), `${what}.metricSource.type`);
    if (type.toLowerCase() !== 'prometheus') fail(ms.get('type'), `${what}: metric source type ${JSON.stringify(type)}; hmd reads Prometheus sources`);
    const q = mapping(ms.get('spec'), `${what}.metricSource.spec`, ['query', 'promql']);
    const node = q.get('query') ?? q.get('promql') ?? fail(ms.get('spec'), `${what}: missing query`);
    return { query: str(node, `${what} query`), node };
  };
  /** A counter selector becomes a rate over $window; any other query is summed as given. */
  const series = (s: { query: string; node: Node }, counter: boolean, what: string): string => {
    let e;
    try {
      e = parseExpr(s.query);
    } catch (err) {
      return fail(s.node, `${what}: ${err instanceof PromQLError ? err.message : String(err)}`);
    }
    if (!counter) return `sum(${s.query})`;
    if (e.kind !== 'VectorSelector') fail(s.node, `${what}: with counter: true the query must be a selector (hmd applies rate() over the window)`);
    return `sum(rate(${s.query}[$window]))`;
  };

  return slos.map((root): SloSpec => {
    const top = mapping(root, 'an OpenSLO SLO', ['apiVersion', 'kind', 'metadata', 'spec']);
    const name = str(mapping(top.get('metadata'), 'metadata', ['name', 'displayName', 'labels', 'annotations']).get('name'), 'metadata.name');
    const spec = mapping(top.get('spec'), 'spec', ['description', 'service', 'indicator', 'indicatorRef', 'timeWindow', 'budgetingMethod', 'objectives', 'alertPolicies']);
    let sliSpec: Node;
    if (spec.has('indicator')) {
      sliSpec = mapping(spec.get('indicator'), 'spec.indicator', ['metadata', 'spec']).get('spec') ?? fail(spec.get('indicator'), 'spec.indicator: missing spec');
    } else {
      const ref = str(spec.get('indicatorRef') ?? fail(top.get('spec'), 'spec: give indicator or indicatorRef'), 'spec.indicatorRef');
      sliSpec = slis.get(ref) ?? fail(spec.get('indicatorRef'), `spec.indicatorRef: no SLI document named ${JSON.stringify(ref)} in this file`);
    }
    const objectives = y.list(spec.get('objectives'), 'spec.objectives');
    const o = mapping(objectives[0], 'objectives[0]', ['displayName', 'op', 'value', 'target', 'targetPercent', 'timeSliceTarget', 'timeSliceWindow', 'indicator', 'compositeWeight']);
    const target = o.has('target') ? num(o.get('target'), 'objectives[0].target', 'share') : o.has('targetPercent') ? num(o.get('targetPercent'), 'objectives[0].targetPercent', 'number') / 100 : fail(objectives[0], 'objectives[0]: give target (e.g. 0.999)');
    if (!(target > 0 && target < 1)) fail(objectives[0], 'objectives[0]: the target must be strictly between 0 and 1');
    const sm = mapping(sliSpec, 'the SLI spec', ['description', 'thresholdMetric', 'ratioMetric']);
    const base = {
      file: y.file,
      name,
      ...(spec.has('description') ? { description: str(spec.get('description'), 'spec.description') } : {}),
      windowMs: DEFAULT_WINDOW_MS,
      scope: {},
      evaluation: { intervalMs: 60_000, initialDelayMs: 0, failureLimit: 0, inconclusiveLimit: 0, errorLimit: 0 },
      weight: 1,
      critical: false,
      dryRun: false,
    };
    let out: SloSpec;
    if (sm.has('ratioMetric')) {
      const r = mapping(sm.get('ratioMetric'), 'ratioMetric', ['counter', 'good', 'bad', 'total', 'rawType', 'raw']);
      const counter = r.has('counter') ? y.bool(r.get('counter'), 'ratioMetric.counter') : false;
      const total = series(source(r.get('total') ?? fail(sm.get('ratioMetric'), 'ratioMetric: missing total'), 'ratioMetric.total'), counter, 'ratioMetric.total');
      let errors: string;
      if (r.has('bad')) errors = series(source(r.get('bad'), 'ratioMetric.bad'), counter, 'ratioMetric.bad');
      else if (r.has('good')) errors = `${total} - ${series(source(r.get('good'), 'ratioMetric.good'), counter, 'ratioMetric.good')}`;
      else return fail(sm.get('ratioMetric'), 'ratioMetric: give good or bad, and total');
      out = {
        ...base,
        sli: { kind: 'ratio', errors, total },
        judgement: {
          worse: 'higher',
          objective: target,
          // Rounded so that 1 - 0.99 reads 0.01, not 0.010000000000000009.
          thresholds: { fail: Math.round((1 - target) * 1e12) / 1e12 },
          burnRates: [
            { longMs: 3_600_000, shortMs: 300_000, factor: 14.4, severity: 'fail' },
            { longMs: 21_600_000, shortMs: 1_800_000, factor: 6, severity: 'warn' },
          ],
        },
      };
    } else if (sm.has('thresholdMetric')) {
      const q = source(sm.get('thresholdMetric'), 'thresholdMetric');
      try {
        parseExpr(fillWindow(q.query, DEFAULT_WINDOW_MS));
      } catch (err) {
        fail(q.node, `thresholdMetric: ${err instanceof PromQLError ? err.message : String(err)}`);
      }
      const op = y.oneOf(o.get('op') ?? fail(objectives[0], 'objectives[0]: a threshold SLI needs op and value'), 'objectives[0].op', ['lt', 'lte', 'gt', 'gte'] as const);
      const value = num(o.get('value') ?? fail(objectives[0], 'objectives[0]: missing value'), 'objectives[0].value', 'number');
      out = { ...base, sli: { kind: 'expr', expr: q.query }, judgement: { worse: op.startsWith('l') ? 'higher' : 'lower', thresholds: { fail: value } } };
    } else return fail(sliSpec, 'the SLI spec: give ratioMetric or thresholdMetric');
    return out;
  });
}
