import type { IncomingMessage } from 'node:http';

/** Methods a browser's cross-site request may use without consent: they change nothing. */
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a request must be refused as cross-site, or undefined. A browser holding Basic credentials
 * for the host sends them with any form POST or script `fetch` from another site; so a
 * state-changing request (anything but GET/HEAD/OPTIONS) that a browser marks as coming from
 * elsewhere is refused: `Sec-Fetch-Site: cross-site` or `same-site`, or an `Origin` that is neither
 * the host's own (the `Host` it was asked for, or the one a trusted proxy reports) nor one of
 * `allowedOrigins`. A client that sends neither header (curl, scripts, modalities' tools) passes.
 */
export function crossSiteRefusal(
  request: IncomingMessage,
  allowedOrigins: ReadonlySet<string>,
  forwardedHost: string | undefined,
): string | undefined {
  if (safeMethods.has(request.method ?? 'GET')) return undefined;
  const origin = request.headers.origin;
  if (origin !== undefined && allowedOrigins.has(origin)) return undefined;
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site')
    return `a ${request.method} from another site (Sec-Fetch-Site: ${site}) is refused; HttpServer.AllowedOrigins lists the origins that may`;
  if (site === 'same-origin' || origin === undefined) return undefined;
  if (isOwnOrigin(origin, request.headers.host, forwardedHost)) return undefined;
  return `a ${request.method} from the origin ${JSON.stringify(origin.slice(0, 200))} is refused; HttpServer.AllowedOrigins lists the origins that may`;
}

/** Whether `origin` names the host as the client reached it (any scheme: a proxy may add TLS). */
function isOwnOrigin(origin: string, host: string | undefined, forwardedHost: string | undefined): boolean {
  let named: string;
  try {
    const url = new URL(origin);
    if (url.origin === 'null') return false;
    named = url.host;
  } catch {
    return false;
  }
  return named === host || (forwardedHost !== undefined && named === forwardedHost);
}
