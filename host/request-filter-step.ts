import type { IncomingMessage } from 'node:http';
import { basicUsername, type FilterVerdict, type RequestFilters } from '../shared/binding/index.js';

/** What Orthanc says of an `Authorization` header (the front's cached `GET /system` check); undefined when it cannot say. */
export type CredentialsCheck = (
  authorization: string | undefined,
) => Promise<{ allowed: boolean; challenge: string | undefined } | undefined>;

/** What the front does after the filter step. */
export type FilterStepOutcome =
  | FilterVerdict
  /** Orthanc refuses the credentials: its challenge, as Orthanc answers before its own filters run. */
  | { allowed: false; challenge: string };

/**
 * The front's filter step: runs the registered incoming-request filters on a request, proxied or
 * not, before Orthanc or a recipe sees it. As in Orthanc, authentication comes first: credentials
 * that Orthanc refuses get its 401 challenge before any filter. A filter is told the Basic user
 * name only when Orthanc vouches for it: Orthanc accepts these credentials and refuses anonymous
 * callers (an Orthanc without authentication lets any name in, and a forged `admin` must not pass
 * a rule).
 */
export async function runFilterStep(
  filters: RequestFilters,
  request: IncomingMessage,
  path: string | undefined,
  check: CredentialsCheck,
): Promise<FilterStepOutcome> {
  const authorization = await check(request.headers.authorization);
  if (authorization?.challenge !== undefined) return { allowed: false, challenge: authorization.challenge };
  const anonymous = request.headers.authorization === undefined ? authorization : await check(undefined);
  const vouched = authorization?.allowed === true && anonymous?.allowed === false;

  const rawUrl = request.url ?? '/';
  const queryAt = rawUrl.indexOf('?');
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  const get: Record<string, string> = {};
  if (queryAt >= 0) for (const [key, value] of new URLSearchParams(rawUrl.slice(queryAt + 1))) get[key] = value;
  return filters.decide(path ?? (queryAt >= 0 ? rawUrl.slice(0, queryAt) : rawUrl), {
    method: request.method ?? 'GET',
    headers,
    ip: request.socket.remoteAddress ?? '',
    username: vouched ? basicUsername(headers.authorization) : undefined,
    get,
  });
}
