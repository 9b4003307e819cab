import type { IncomingMessage } from 'node:http';
import { basicUsername, type FilterVerdict, type RequestFilters } from '../binding/index.js';

/**
 * The front's filter step: runs the registered incoming-request filters on a request, proxied or
 * not, before Orthanc or a recipe sees it. `isAccepted` says whether Orthanc accepts an
 * `Authorization` header (the front's cached check): a filter is told the Basic user name only
 * once Orthanc has accepted it, as Orthanc's Lua filter is, so a forged name never reaches a rule.
 */
export async function filterIncomingRequest(
  filters: RequestFilters,
  request: IncomingMessage,
  path: string | undefined,
  isAccepted: (authorization: string | undefined) => Promise<boolean>,
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
  const username = claimed !== undefined && (await isAccepted(headers.authorization)) ? claimed : undefined;
  return filters.decide(path ?? (queryAt >= 0 ? rawUrl.slice(0, queryAt) : rawUrl), {
    method: request.method ?? 'GET',
    headers,
    ip: request.socket.remoteAddress ?? '',
    username,
    get,
  });
}
