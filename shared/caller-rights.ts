import { LRUCache } from 'lru-cache';
import type { RestRequest } from './binding/index.js';

/**
 * Checks a caller's right on a resource before a recipe answers it from a cache keyed by
 * resource (a thumbnail, a metadata map), so that a cache never answers a caller what Orthanc
 * would refuse them. The check is one cheap request made as the caller (`GET /instances/{id}`,
 * say): Orthanc's Lua `IncomingHttpRequestFilter` and its authorization plugin both judge URIs
 * that name a resource. A granted right is kept per caller for `ttlSeconds` (a right withdrawn
 * meanwhile takes effect within that time); a refusal is never kept.
 */
export class CallerRights {
  private readonly granted: LRUCache<string, true> | undefined;

  constructor(options: { ttlSeconds?: number; max?: number } = {}) {
    const ttl = (options.ttlSeconds ?? 10) * 1000;
    this.granted = ttl > 0 ? new LRUCache({ max: options.max ?? 50_000, ttl }) : undefined;
  }

  /**
   * Resolves when the caller may `GET uri`; otherwise rejects with Orthanc's `OrthancHttpError`
   * (401, 403, 404…), which a route answers with the same status.
   */
  async ensure(request: Pick<RestRequest, 'orthanc' | 'callerId'>, uri: string): Promise<void> {
    const key = `${request.callerId} ${uri}`;
    if (this.granted?.get(key)) return;
    await request.orthanc.restApiGet(uri);
    this.granted?.set(key, true);
  }

  clear(): void {
    this.granted?.clear();
  }
}
