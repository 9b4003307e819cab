import type { IncomingMessage } from 'node:http';
import { basicUsername, type FilterVerdict, type RequestFilters } from '../binding/index.js';

/**
 * The front's filter step: runs the registered incoming-request filters on a request, proxied or
 * not, before Orthanc or a recipe sees it. `accepted` says whether Orthanc accepts the request's
 * `Authorization` (the front's cached check, made before: credentials Orthanc refuses get its 401
 * challenge first, as Orthanc authenticates before its own Lua filter). A filter is told the
 * Basic user name only once Orthanc has accepted it, so a forged name never reaches a rule.
 */
export async function filterIncomingRequest(
  filters: RequestFilters,
  request: IncomingMessage,
  path: string | undefined,
  accepted: boolean,
): Promise<FilterVerdict> {
  const rawUrl = request.url ?? '/';
  const queryAt = rawUrl.indexOf('?');
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  const get: Record<string, string> = {};
  if (queryAt >= 0) for (const [key, value] of new URLSearchParams(rawUrl.slice(queryAt + 1))) get[key] = value;
  const claimed = basicUsername(headers.authorization);
  const username = accepted ? claimed : undefined;
  return filters.decide(path ?? (queryAt >= 0 ? rawUrl.slice(0, queryAt) : rawUrl), {
    method: request.method ?? 'GET',
    headers,
    ip: request.socket.remoteAddress ?? '',
    username,
    get,
  });
}
