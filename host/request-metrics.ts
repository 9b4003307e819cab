import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { decodePath, type RestRouter } from '../shared/binding/index.js';
import type { Metrics } from '../shared/metrics.js';
import { livePath, readyPath } from './health.js';

/** Who answered a request: a recipe's route, the host's own (`/recipes`, metrics, health), or Orthanc through the proxy. */
export type RouteKind = 'recipe' | 'host' | 'proxy';

export function routeKind(router: RestRouter, url: string | undefined): RouteKind {
  const raw = url ?? '/';
  const queryAt = raw.indexOf('?');
  const path = decodePath(queryAt >= 0 ? raw.slice(0, queryAt) : raw);
  if (path === livePath || path === readyPath) return 'host';
  const owner = path === undefined ? undefined : router.match(path)?.route.owner;
  return owner === undefined ? 'proxy' : owner === 'host' ? 'host' : 'recipe';
}

/** `2xx`, `4xx`…; `none` when the connection closed before an answer was sent. */
const statusClass = (response: ServerResponse) => (response.headersSent ? `${Math.floor(response.statusCode / 100)}xx` : 'none');

/**
 * Returns what counts a request of the front when it is over: requests by route kind and status
 * class, the latency histogram, and the proxied requests that Orthanc could not answer (the host's
 * own 502 and 504). Call it as the request arrives. The labelled series are looked up once and
 * kept (prom-client hashes the labels on every call otherwise).
 */
export function createRequestObserver(metrics: Metrics, router: RestRouter): (request: IncomingMessage, response: ServerResponse) => void {
  const requests = requestsCounter(metrics);
  const latency = latencyHistogram(metrics);
  const upstreamErrors = upstreamErrorsCounter(metrics);
  const counted = new Map<string, { inc(): void }>();
  const timed = new Map<RouteKind, { observe(value: number): void }>();
  return (request, response) => {
    const started = performance.now();
    const kind = routeKind(router, request.url);
    response.once('close', () => {
      const status = statusClass(response);
      const key = `${kind} ${status}`;
      let counter = counted.get(key);
      if (!counter) counted.set(key, (counter = requests.labels({ kind, status_class: status })));
      counter.inc();
      let histogram = timed.get(kind);
      if (!histogram) timed.set(kind, (histogram = latency.labels({ kind })));
      histogram.observe((performance.now() - started) / 1000);
      if (kind === 'proxy' && response.headersSent && (response.statusCode === 502 || response.statusCode === 504)) upstreamErrors.inc();
    });
  };
}

const requestsCounter = (metrics: Metrics) =>
  metrics.counter('http_requests_total', 'Requests answered by the front, by route kind (recipe, host, proxy) and status class.', [
    'kind',
    'status_class',
  ]);
const latencyHistogram = (metrics: Metrics) =>
  metrics.histogram(
    'http_request_duration_seconds',
    "Time from a request's arrival to the end of its answer, by route kind.",
    ['kind'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
const upstreamErrorsCounter = (metrics: Metrics) =>
  metrics.counter('http_proxy_upstream_errors_total', 'Proxied requests that Orthanc did not answer (the host answered 502 or 504).');

/** Creates the front's metrics at once, so that a scrape shows them before the first request. */
export function registerRequestMetrics(metrics: Metrics): void {
  requestsCounter(metrics);
  latencyHistogram(metrics);
  upstreamErrorsCounter(metrics);
}
