/**
 * The daemon's /metrics (prom-client, a registry of its own): rollouts by state, evaluations and
 * their verdicts, SLO results, actions and how long their hooks took, query errors, and the
 * process's own figures.
 */

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface DaemonMetrics {
  readonly registry: Registry;
  readonly evaluations: Counter<'verdict'>;
  readonly sloResults: Counter<'slo' | 'status'>;
  readonly evaluationSeconds: Histogram;
  readonly actions: Counter<'kind' | 'outcome'>;
  readonly actionSeconds: Histogram<'kind' | 'outcome'>;
  readonly queryErrors: Counter<'reason'>;
  readonly apiRequests: Counter<'method' | 'route' | 'code'>;
}

/** A registry with every metric; `rolloutsByState` is read at each scrape. */
export function daemonMetrics(rolloutsByState: () => Record<string, number>, states: readonly string[]): DaemonMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hmd_' });
  new Gauge({
    name: 'hmd_rollouts',
    help: 'Rollouts known to the daemon, by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const n = rolloutsByState();
      // Every state is reported, 0 included, so that a dashboard's series do not vanish.
      for (const s of states) this.set({ state: s }, n[s] ?? 0);
    },
  });
  const queryErrors = new Counter({
    name: 'hmd_query_errors_total',
    help: 'SLI queries that failed, or answered without some engines (partial); either makes the SLO an error or no-data, never a pass.',
    labelNames: ['reason'],
    registers: [registry],
  });
  // Shown at 0 from the start, so that an alert on their rate has a series to read.
  for (const reason of ['failed', 'partial']) queryErrors.inc({ reason }, 0);
  return {
    registry,
    queryErrors,
    evaluations: new Counter({ name: 'hmd_evaluations_total', help: 'Stage evaluations taken, by the verdict they gave.', labelNames: ['verdict'], registers: [registry] }),
    sloResults: new Counter({ name: 'hmd_slo_results_total', help: 'SLO judgements, by SLO and status.', labelNames: ['slo', 'status'], registers: [registry] }),
    evaluationSeconds: new Histogram({
      name: 'hmd_evaluation_duration_seconds',
      help: 'Time to measure and judge every SLO of a stage once.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    actions: new Counter({ name: 'hmd_actions_total', help: 'Promote and revert attempts through hooks, by outcome.', labelNames: ['kind', 'outcome'], registers: [registry] }),
    actionSeconds: new Histogram({
      name: 'hmd_action_duration_seconds',
      help: 'Time a hook took to carry out an action, retries included.',
      labelNames: ['kind', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    apiRequests: new Counter({ name: 'hmd_api_requests_total', help: 'HTTP requests to the daemon, by route and status code.', labelNames: ['method', 'route', 'code'], registers: [registry] }),
  };
}
