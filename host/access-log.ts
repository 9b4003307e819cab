import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger, RegisteredRoute } from '../shared/binding/index.js';

/**
 * The request path as it may be logged: without the query string (it may hold patient data, as in
 * `/tools/lookup?...` or a viewer's `?PatientID=`) and, for an absolute-form request target
 * (`GET http://user:password@host/path`), without the scheme, credentials and host.
 */
export function pathForLog(url: string | undefined): string {
  const raw = url ?? '/';
  const queryAt = raw.indexOf('?');
  const target = queryAt >= 0 ? raw.slice(0, queryAt) : raw;
  if (target.startsWith('/') || target === '*') return target;
  try {
    return new URL(target).pathname;
  } catch {
    return '(unparsable request target)';
  }
}

/**
 * Writes one access-log line at `debug` when the response is over (finished, or abandoned by
 * either side): method, path, status, duration, bytes sent (headers included, as nginx's
 * `$bytes_sent`), and the recipe and route that served it; `proxied` for requests passed to
 * Orthanc. Never a query string nor a header: Authorization and Cookie stay out of the logs.
 * Call it as the request arrives; `servedBy` tells, at the end, which route the pipeline chose, or whether it proxied.
 */
export function logAccessWhenDone(
  request: IncomingMessage,
  response: ServerResponse,
  log: Logger,
  servedBy: () => { route?: RegisteredRoute; proxied: boolean },
): void {
  const started = performance.now();
  const socket = request.socket;
  const bytesBefore = socket.bytesWritten;
  const path = pathForLog(request.url);
  response.once('close', () => {
    const { route, proxied } = servedBy();
    const method = request.method ?? 'GET';
    const status = response.headersSent ? response.statusCode : 0;
    log.debug(`${method} ${path} ${status || '-'}`, {
      method,
      path,
      status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      bytes: socket.bytesWritten - bytesBefore,
      recipe: route?.owner,
      route: route?.pattern,
      proxied,
      aborted: response.writableFinished ? undefined : true,
    });
  });
}
