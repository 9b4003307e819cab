import type { Metrics } from '../../shared/metrics.js';
import type { Ledger, Route } from './ledger.js';

export type AttemptOutcome = 'succeeded' | 'failed' | 'vanished' | 'orthanc-unreachable';

/** What the sender and the sweep report; see `createRoutingMetrics`. */
export interface RoutingMetrics {
  attempt(outcome: AttemptOutcome): void;
  /** A route succeeded: its delivery latency, from its decision to the end of its job. */
  delivered(route: Pick<Route, 'created_at'>): void;
  swept(outcome: 'finished' | 'failed'): void;
}

const routeStates = ['pending', 'sending', 'succeeded', 'failed', 'gone'] as const;

/**
 * Autorouting's metrics (`orthanc_recipes_autorouting_*`): routes by state (read from the ledger
 * at each scrape), attempts by outcome, the delivery latency histogram, and sweeps.
 */
export function createRoutingMetrics(metrics: Metrics, ledger: Ledger): RoutingMetrics {
  metrics.gauge('routes', 'Routes in the ledger by state.', ['state'], async (gauge) => {
    const counts = await ledger.routeCounts();
    for (const state of routeStates) gauge.set({ state }, counts[state] ?? 0);
  });
  const attempts = metrics.counter(
    'attempts_total',
    'Sends to a destination by outcome (orthanc-unreachable ones are not counted against the route).',
    ['outcome'],
  );
  const latency = metrics.histogram(
    'delivery_latency_seconds',
    "Time from a route's decision to its successful delivery.",
    [],
    [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600, 14_400, 86_400],
  );
  const sweeps = metrics.counter('sweeps_total', 'Sweeps of Orthanc for stable resources not yet decided, by outcome.', ['outcome']);
  return {
    attempt: (outcome) => attempts.inc({ outcome }),
    delivered: (route) => latency.observe(Math.max(0, (Date.now() - Number(route.created_at)) / 1000)),
    swept: (outcome) => sweeps.inc({ outcome }),
  };
}
