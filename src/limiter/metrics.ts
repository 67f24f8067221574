/** The limiter's Prometheus metrics (prom-client), registered on a registry of the caller's choice. */

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface LimiterMetrics {
  window: Gauge;
  inFlight: Gauge;
  queued: Gauge<'class'>;
  admitted: Counter<'class'>;
  rejected: Counter<'class' | 'reason'>;
  failed: Counter<'class'>;
  retried: Counter<'class'>;
  latency: Histogram<'class'>;
}

/** Creates and registers the metrics under `prefix` (default hmd_limiter_). */
export function limiterMetrics(registry: Registry, prefix = 'hmd_limiter_'): LimiterMetrics {
  const registers = [registry];
  return {
    window: new Gauge({ name: `${prefix}window`, help: 'Current congestion window: requests allowed in flight.', registers }),
    inFlight: new Gauge({ name: `${prefix}in_flight`, help: 'Requests in flight.', registers }),
    queued: new Gauge({ name: `${prefix}queued`, help: 'Requests waiting for admission, by priority class.', labelNames: ['class'], registers }),
    admitted: new Counter({ name: `${prefix}admitted_total`, help: 'Requests admitted, by priority class.', labelNames: ['class'], registers }),
    rejected: new Counter({
      name: `${prefix}rejected_total`,
      help: 'Requests rejected without being sent (queue full or waited too long), by class and reason.',
      labelNames: ['class', 'reason'],
      registers,
    }),
    failed: new Counter({ name: `${prefix}failed_total`, help: 'Requests that failed with an overload signal (429, 5xx, timeout, connection error).', labelNames: ['class'], registers }),
    retried: new Counter({ name: `${prefix}retried_total`, help: 'Retries sent, by priority class.', labelNames: ['class'], registers }),
    latency: new Histogram({
      name: `${prefix}request_duration_seconds`,
      help: 'Time from admission to answer, by priority class.',
      labelNames: ['class'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
  };
}
