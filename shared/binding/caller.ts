import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The credentials a caller sent, as Orthanc would see them. */
export interface CallerCredentials {
  /** The credential headers present in the request, names in lower case. */
  headers: Record<string, string>;
  /** Every header name that carries credentials (`authorization` and the forwarded ones), present or not. */
  names: readonly string[];
  /**
   * An opaque key of these credentials (a hash, never the secret itself), for caches kept per
   * caller; `anonymous` when the request carries none.
   */
  id: string;
}

/**
 * The credentials of a request: `Authorization` plus the token headers a site's configuration
 * forwards (`HttpServer.ForwardedAuthHeaders`, e.g. the authorization plugin's `token`).
 */
export function callerCredentials(requestHeaders: IncomingHttpHeaders, forwarded: readonly string[] = []): CallerCredentials {
  const names = [...new Set(['authorization', ...forwarded.map((name) => name.toLowerCase())])];
  const headers: Record<string, string> = {};
  for (const name of names) {
    const value = requestHeaders[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const present = Object.keys(headers);
  const id =
    present.length === 0
      ? 'anonymous'
      : createHash('sha256')
          .update(present.map((name) => `${name}:${headers[name]}`).join('\n'))
          .digest('base64url')
          .slice(0, 32);
  return { headers, names, id };
}

/** The user name of a Basic `Authorization` header; undefined for any other scheme or a malformed one. */
export function basicUsername(authorization: string | undefined): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decoded.slice(0, colon) : undefined;
}
