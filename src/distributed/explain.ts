/** A plan for people (`hmd query --explain`) and for programs (its JSON form). */

import { exprToString } from '../promql/printer.js';
import { formatLabels } from '../storage/labels.js';
import type { Plan, RemoteNode, RemoteTarget } from './planner.js';

const iso = (ms: number): string => new Date(ms).toISOString();

function span(node: RemoteNode, t: RemoteTarget): string {
  if (node.instant) return `instant at ${iso(t.start)}`;
  const steps = Math.round((t.end - t.start) / node.grid.interval) + 1;
  return `range ${iso(t.start)} .. ${iso(t.end)} step ${node.grid.interval / 1000}s (${steps} steps)`;
}

/** The plan as indented text: mode, central expression, each remote sub-query per engine. */
export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  const p = plan.params;
  const when = p.step === 0 ? `instant query at ${iso(p.start)}` : `range query ${iso(p.start)} .. ${iso(p.end)} step ${p.step / 1000}s`;
  lines.push(`query:   ${plan.query}`);
  lines.push(`         ${when}`);
  if (plan.passthrough) {
    const t = plan.passthrough.target;
    lines.push(`plan:    passthrough: engine ${t.engine.name} answers the whole query`);
    lines.push(`  ${t.engine.name} ${formatLabels(t.partition.labels)}: ${t.query}`);
  } else {
    const what = plan.mode === 'distributed' ? `${plan.remotes.length} remote sub-quer${plan.remotes.length === 1 ? 'y' : 'ies'}, merged centrally` : 'evaluated centrally';
    lines.push(`plan:    ${plan.mode} (${what})`);
    lines.push(`central: ${exprToString(plan.central)}`);
    for (const node of plan.remotes) {
      lines.push(`${node.name} (${node.mode === 'absent' ? 'absent on every engine, combined' : 'union of the engines\' answers'}): ${node.query}`);
      if (node.targets.length === 0) lines.push('  no engine can hold matching series: empty');
      for (const t of node.targets) {
        const text = t.query === node.query ? '' : `  as: ${t.query}`;
        lines.push(`  ${t.engine.name} ${formatLabels(t.partition.labels)}: ${span(node, t)}${text}`);
      }
    }
    if (plan.rawSelectors.length > 0) {
      lines.push('pulled raw from the engines (evaluated centrally):');
      for (const s of new Set(plan.rawSelectors.map((s) => exprToString({ ...s, offset: 0, at: undefined })))) lines.push(`  ${s}`);
    }
  }
  if (plan.prunedEngines.length > 0) lines.push(`pruned:  ${plan.prunedEngines.join(', ')} (their external labels cannot match)`);
  for (const n of plan.notes) lines.push(`note:    ${n}`);
  return lines.join('\n') + '\n';
}

/** The plan as a JSON-ready object. */
export function planToJSON(plan: Plan): unknown {
  const target = (node: RemoteNode | undefined, t: RemoteTarget) => ({
    engine: t.engine.name,
    labels: Object.fromEntries(t.partition.labels.map((l) => [l.name, l.value])),
    query: t.query,
    start: iso(t.start),
    end: iso(t.end),
    ...(node && !node.instant ? { step: node.grid.interval / 1000 } : {}),
  });
  return {
    mode: plan.mode,
    query: plan.query,
    central: plan.passthrough ? null : exprToString(plan.central),
    passthrough: plan.passthrough ? target(plan.remotes[0], plan.passthrough.target) : null,
    remotes: plan.passthrough
      ? []
      : plan.remotes.map((n) => ({ name: n.name, mode: n.mode, query: n.query, targets: n.targets.map((t) => target(n, t)) })),
    rawSelectors: [...new Set(plan.rawSelectors.map((s) => exprToString({ ...s, offset: 0, at: undefined })))],
    prunedEngines: plan.prunedEngines,
    notes: plan.notes,
  };
}
