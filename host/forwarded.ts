import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/**
 * Headers that belong to one connection, not to the message (RFC 9110 §7.6.1), plus those the
 * front never passes on: `host` (the pool sets Orthanc's), `expect` (the front answers it),
 * `proxy-authorization` (credentials for a proxy, never for Orthanc), and the forwarding headers,
 * which the front writes itself (see `forwardingHeaders`).
 */
const notForwarded = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
  'proxy-authorization',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);

/** Hop-by-hop headers of an answer (RFC 9110 §7.6.1): never passed back to the client. */
export const hopByHopAnswerHeaders = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The proxies whose forwarding headers (`Forwarded`, `X-Forwarded-*`) are believed: addresses
 * (`10.0.0.5`, `::1`) or ranges (`10.0.0.0/8`). From anyone else they are dropped and replaced.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (isIP(address) === 0) throw new TypeError(`not an IP address or range: ${entry}`);
      if (bits === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, Number(bits), family);
    }
    this.empty = entries.length === 0;
  }

  includes(address: string | undefined): boolean {
    if (this.empty || !address) return false;
    const bare = plainAddress(address);
    return this.list.check(bare, isIP(bare) === 6 ? 'ipv6' : 'ipv4');
  }
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) as `10.0.0.1`. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The request's headers as Orthanc gets them (raw names and order kept): without the hop-by-hop
 * headers, those that `Connection` names, `Proxy-Authorization`, and forwarding headers from a
 * client that is not a trusted proxy; with `Forwarded` and `X-Forwarded-For/-Proto/-Host` saying
 * who asked and which address they used, appended to what a trusted proxy set.
 */
export function headersForOrthanc(request: IncomingMessage, trusted: TrustedProxies): string[] {
  const raw = request.rawHeaders;
  const named = connectionOptions(request.headers.connection);
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!notForwarded.has(name) && !named.has(name)) headers.push(raw[i]!, raw[i + 1]!);
  }
  headers.push(...forwardingHeaders(request, trusted.includes(request.socket.remoteAddress)));
  return headers;
}

/** The header names listed in `Connection` (e.g. `close, X-Secret`), in lower case. */
function connectionOptions(value: string | undefined): Set<string> {
  if (!value) return new Set();
  return new Set(
    value
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * `Forwarded` (RFC 7239) and `X-Forwarded-*` for one request. The host's element names the client
 * (`for`), and the scheme and host the client used: the ones a trusted proxy in front reports, or
 * else the host's own (plain HTTP, the `Host` header received). Orthanc's DICOMweb plugin builds
 * its `BulkDataURI` and `RetrieveURL` from the first element of `Forwarded` (1.14 and later also
 * from `X-Forwarded-Proto/-Host`), so they name the address the client can reach.
 *
 * `host` is sent unquoted even with a port (`host=pacs.example:8443`): the DICOMweb plugin does
 * not remove quotes, and reads a quoted one as part of the name.
 */
export function forwardingHeaders(request: IncomingMessage, fromTrustedProxy: boolean): string[] {
  const peer = plainAddress(request.socket.remoteAddress ?? 'unknown');
  const earlierForwarded = fromTrustedProxy ? joined(request, 'forwarded') : undefined;
  const { proto, host } = addressUsed(request, fromTrustedProxy);
  const node = isIP(peer) === 6 ? `"[${peer}]"` : isIP(peer) === 4 ? peer : '"unknown"';
  const element = [`for=${node}`, `proto=${proto}`, ...(host ? [`host=${host}`] : [])].join(';');
  const forwardedFor = fromTrustedProxy ? joined(request, 'x-forwarded-for') : undefined;
  return [
    'Forwarded',
    earlierForwarded ? `${earlierForwarded}, ${element}` : element,
    'X-Forwarded-For',
    forwardedFor ? `${forwardedFor}, ${peer}` : peer,
    'X-Forwarded-Proto',
    proto,
    ...(host ? ['X-Forwarded-Host', host] : []),
  ];
}

/**
 * The scheme and host the client used: those a trusted proxy in front reports (the first element
 * of its `Forwarded`, else its `X-Forwarded-Proto/-Host`), or else the host's own (plain HTTP, the
 * `Host` header received). `host` is undefined when it is not a plain name or address and port.
 */
export function addressUsed(request: IncomingMessage, fromTrustedProxy: boolean): { proto: string; host: string | undefined } {
  const earlierForwarded = fromTrustedProxy ? joined(request, 'forwarded') : undefined;
  const reported = earlierForwarded ? firstElement(earlierForwarded) : {};
  const first = (name: string) => (fromTrustedProxy ? joined(request, name)?.split(',')[0]?.trim() : undefined);
  const proto = reported.proto ?? first('x-forwarded-proto')?.toLowerCase() ?? 'http';
  const host = reported.host ?? first('x-forwarded-host') ?? request.headers.host;
  return { proto: /^[a-z][a-z0-9+.-]*$/.test(proto) ? proto : 'http', host: host && isSafeHost(host) ? host : undefined };
}

/** A request header's value, repeated ones joined with `, `; undefined when absent or blank. */
function joined(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return (Array.isArray(value) ? value.join(', ') : value)?.trim() || undefined;
}

/** A `Host` value that can stand unquoted in `Forwarded`: a name or address and a port, nothing else. */
function isSafeHost(host: string): boolean {
  return /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host);
}

/** `proto` and `host` of a `Forwarded` value's first element (quotes removed). */
function firstElement(value: string): { proto?: string; host?: string } {
  const element = value.split(',')[0] ?? '';
  const found: { proto?: string; host?: string } = {};
  for (const pair of element.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    const key = pair.slice(0, at).trim().toLowerCase();
    const raw = pair
      .slice(at + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (key === 'proto' && /^[a-z][a-z0-9+.-]*$/i.test(raw)) found.proto = raw.toLowerCase();
    if (key === 'host' && isSafeHost(raw)) found.host = raw;
  }
  return found;
}
