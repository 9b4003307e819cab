import type { Readable } from 'node:stream';
import { parseErrorDetails, type OrthancConnection } from './connection.js';
import { OrthancHttpError, OrthancUnreachableError } from './errors.js';

/** An answer of Orthanc whose body is read as it arrives, not held in memory. */
export interface StreamedAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /**
   * The body: read it (`for await`) at the pace the consumer can take; undici reads from
   * Orthanc only as fast (back-pressure). Destroy it, or abort the signal, to stop reading.
   */
  body: Readable;
}

/** The largest error body read from a non-2xx answer (its JSON details); the rest is dropped. */
const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * GETs `uri` and resolves once the answer's headers have arrived, its body still to read. A
 * status outside 2xx throws `OrthancHttpError`, as `restApiGet` does. Aborting `signal` (say,
 * `output.signal` when the client goes away) closes the connection to Orthanc, which stops the
 * upload there. Note the connection's `timeoutSeconds`: a consumer that pauses longer than that
 * between two chunks makes the read fail.
 */
export async function openStream(
  connection: OrthancConnection,
  uri: string,
  options: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<StreamedAnswer> {
  // The connection's credentials: a caller's view sends the caller's, never the host's.
  const headers = connection.withCredentialHeaders(options.headers);
  let answer;
  try {
    answer = await connection.pool.request({ path: connection.basePath + uri, method: 'GET', headers, signal: options.signal });
  } catch (error) {
    throw new OrthancUnreachableError('GET', uri, error);
  }
  if (answer.statusCode < 200 || answer.statusCode > 299) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of answer.body as AsyncIterable<Buffer>) {
      if (size < ERROR_BODY_LIMIT) chunks.push(chunk);
      size += chunk.length;
    }
    throw new OrthancHttpError('GET', uri, answer.statusCode, parseErrorDetails(Buffer.concat(chunks).subarray(0, ERROR_BODY_LIMIT)));
  }
  return { statusCode: answer.statusCode, headers: answer.headers, body: answer.body };
}
