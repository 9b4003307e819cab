import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Dispatcher } from 'undici';
import { describe, mayRetryOnNewConnection, sendJsonError, type Logger, type OrthancConnection } from '../shared/binding/index.js';
import { pathForLog } from './access-log.js';
import { prepareEarlyAnswer } from './early-answer.js';
import { headersForOrthanc, hopByHopAnswerHeaders, type TrustedProxies } from './forwarded.js';

/** Answer headers not passed back: those of one connection (RFC 9110 §7.6.1), plus `host` and `expect`. */
const hopByHop = new Set([...hopByHopAnswerHeaders, 'host', 'expect']);

/**
 * Sends a request to Orthanc as it is (method, path, query, headers including Authorization,
 * body; see `headersForOrthanc` for the headers that change) and streams the answer back (status, reason, headers, body) through the keep-alive pool.
 * Neither body is held in memory: back-pressure from either side pauses the other. A bodiless
 * idempotent request that meets a keep-alive connection Orthanc just closed is sent once more.
 * When Orthanc answers before it has read the whole body (a 401 challenge), the rest is left to
 * the front to drop (see early-answer.ts). Resolves when the exchange is over; never rejects.
 *
 * `readBody` is the body when it was read already (a recipe route's `output.passThrough()`): it
 * is sent instead of the request's stream, and may be sent again on a fresh connection.
 */
export function proxyToOrthanc(
  connection: OrthancConnection,
  request: IncomingMessage,
  response: ServerResponse,
  log: Logger,
  drainLimitBytes: number,
  trusted: TrustedProxies,
  readBody?: Buffer,
): Promise<void> {
  const headers = headersForOrthanc(request, trusted);
  const length = request.headers['content-length'];
  const hasBody = request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');

  const method = request.method ?? 'GET';
  return new Promise((resolve) => {
    let controller: Dispatcher.DispatchController | undefined;
    let attempts = 0;
    const resume = () => controller?.resume();
    response.once('close', () => {
      if (!response.writableFinished) controller?.abort(new Error('the client went away'));
    });
    const send = () => {
      attempts += 1;
      connection.pool.dispatch(
        {
          path: connection.basePath + (request.url ?? '/'),
          method: method,
          headers,
          body: hasBody ? (readBody ?? uploadOf(request)) : null,
        },
        handler,
      );
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(started) {
        controller = started;
        if (response.destroyed) started.abort(new Error('the client went away'));
      },
      onResponseStart(_controller, statusCode, answerHeaders, statusMessage) {
        if (statusCode < 200) return; // 1xx: the front answers `Expect: 100-continue` itself
        prepareEarlyAnswer(request, response, drainLimitBytes);
        const forwarded: Record<string, string | string[]> = {};
        for (const name in answerHeaders) {
          const value = answerHeaders[name];
          if (value !== undefined && !hopByHop.has(name)) forwarded[name] = value;
        }
        response.writeHead(statusCode, statusMessage || undefined, forwarded);
      },
      onResponseData(paused, chunk) {
        if (!response.write(chunk)) {
          paused.pause();
          response.once('drain', resume);
        }
      },
      onResponseEnd() {
        response.end();
        resolve();
      },
      onResponseError(_controller, error) {
        if (
          !response.headersSent &&
          !response.destroyed &&
          (!hasBody || readBody !== undefined) &&
          attempts === 1 &&
          mayRetryOnNewConnection(method, error)
        ) {
          send();
          return;
        }
        if (response.headersSent || response.destroyed) {
          response.destroy();
        } else {
          log.warning(`proxy ${request.method} ${pathForLog(request.url)}: ${describe(error)}`);
          sendJsonError(response, 502, `Orthanc is unreachable: ${describe(error)}`, {}, 'orthanc-unreachable');
        }
        resolve();
      },
    };
    send();
  });
}

/**
 * The request body as undici reads it. undici destroys the body it was given when Orthanc answers
 * before reading all of it; given the request itself, that would leave the client's connection
 * stuck (its unread upload blocks the next request). Through this pass-through, only the copy
 * is destroyed and the front can drop the rest of the upload.
 */
function uploadOf(request: IncomingMessage): PassThrough {
  const upload = new PassThrough({ highWaterMark: 64 * 1024 });
  request.pipe(upload);
  request.once('close', () => {
    if (!request.complete) upload.destroy(new Error('the client went away during the upload'));
  });
  return upload;
}
