import type { ChangeFeed } from '../shared/binding/index.js';
import type { MetricsRegistry } from '../shared/metrics.js';
import type { WorkerPool } from '../shared/worker-pool.js';
import type { HttpFront } from './front.js';
import { registerRequestMetrics } from './request-metrics.js';

export interface HostMetricsSources {
  feed: ChangeFeed;
  front: HttpFront;
  /** The pool once a recipe has asked for it (it is lazy). */
  workers: () => WorkerPool | undefined;
  recipeStates: () => { id: string; status: string }[];
}

const recipeStatuses = ['starting', 'running', 'waiting', 'failed'] as const;

/**
 * The host's own metrics. Values that exist already (the feed's cursor and backlog, the pool's
 * queue, the recipes' states) are read at each scrape, never copied on the hot path.
 */
export function registerHostMetrics(registry: MetricsRegistry, { feed, front, workers, recipeStates }: HostMetricsSources): void {
  const metrics = registry.host;
  metrics.gauge('changes_cursor', 'Seq of the last Orthanc change that every recipe has finished.', [], (gauge) => gauge.set(feed.cursor));
  metrics.gauge('changes_backlog', 'The longest queue of changes waiting for one recipe.', [], (gauge) => gauge.set(feed.backlog));
  metrics.gauge(
    'changes_lag_seconds',
    "Seconds since the change feed last stood at Orthanc's last change with every handler done (0 while it does).",
    [],
    (gauge) => gauge.set(feed.lagSeconds),
  );
  const polls = metrics.counter('changes_polls_total', 'Polls of /changes.');
  const pollErrors = metrics.counter('changes_poll_errors_total', 'Polls of /changes that failed (Orthanc unreachable or refusing).');
  // Counters whose value the feed keeps: set at each scrape.
  (polls as unknown as { collect: () => void }).collect = () => {
    polls.reset();
    polls.inc(feed.polls.total);
  };
  (pollErrors as unknown as { collect: () => void }).collect = () => {
    pollErrors.reset();
    pollErrors.inc(feed.polls.failed);
  };
  metrics.gauge('orthanc_reachable', 'Whether the last call of the change feed to Orthanc succeeded (1) or not (0).', [], (gauge) =>
    gauge.set(feed.reachable ? 1 : 0),
  );

  registerRequestMetrics(metrics);
  metrics.gauge(
    'http_open_connections',
    'Connections open to the front.',
    [],
    (gauge) =>
      new Promise<void>((resolve) =>
        front.server.getConnections((error, count) => {
          gauge.set(error ? 0 : count);
          resolve();
        }),
      ),
  );
  metrics.gauge('http_requests_in_flight', 'Requests being answered by the front.', [], (gauge) => gauge.set(front.inFlight));

  metrics.gauge('worker_pool_queue', 'Tasks waiting for a worker thread.', [], (gauge) => gauge.set(workers()?.queued ?? 0));
  metrics.gauge('worker_pool_running', 'Tasks submitted to the worker pool and not yet settled (running or queued).', [], (gauge) =>
    gauge.set(workers()?.running ?? 0),
  );
  metrics.gauge('worker_pool_threads', 'Worker threads alive.', [], (gauge) => gauge.set(workers()?.threads ?? 0));
  metrics.gauge('worker_pool_utilization_ratio', "The worker threads' utilisation since they started, 0 to 1 (piscina's).", [], (gauge) =>
    gauge.set(workers()?.utilization ?? 0),
  );

  metrics.gauge(
    'recipe_state',
    "Each enabled recipe's state: 1 for the state it is in, 0 for the others.",
    ['recipe', 'state'],
    (gauge) => {
      gauge.reset();
      for (const { id, status } of recipeStates())
        for (const state of recipeStatuses) gauge.set({ recipe: id, state }, status === state ? 1 : 0);
    },
  );
}
