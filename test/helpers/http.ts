import { request } from 'undici';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP exchange with no decompression or redirects, so proxied bytes can be compared. */
export async function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  const answer = await request(url, {
    method: (options.method ?? 'GET') as 'GET',
    headers: options.headers,
    body: options.body,
  });
  return { status: answer.statusCode, headers: answer.headers, body: Buffer.from(await answer.body.arrayBuffer()) };
}

/** Headers that differ between two answers for reasons unrelated to the proxy. */
const volatile = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

export function comparableHeaders(headers: RawResponse['headers']): Record<string, string | string[] | undefined> {
  return Object.fromEntries(
    Object.entries(headers)
      .filter(([name]) => !volatile.has(name))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

export const basicAuth = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
