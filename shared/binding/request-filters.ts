import { describe } from './errors.js';

/** What an incoming-request filter is told of a request, besides its URI. */
export interface IncomingHttpRequest {
  /** `"GET"`, `"POST"`, … */
  method: string;
  /** Request headers, names in lower case. */
  headers: Record<string, string>;
  /** The client's address as the host sees it. */
  ip: string;
  /**
   * The Basic user name, once Orthanc has accepted the credentials (as Orthanc's Lua filter gets
   * it); undefined without credentials, with credentials Orthanc refuses, or when Orthanc cannot
   * be asked.
   */
  username: string | undefined;
  /** The query string's arguments (the last value of a repeated one). */
  get: Record<string, string>;
}

/**
 * Says whether a request may go on (`true`); anything else refuses it with 403 (a filter that
 * throws refuses too). The counterpart of the Python plugin's `RegisterIncomingHttpRequestFilter`
 * and of Orthanc's Lua `IncomingHttpRequestFilter`.
 */
export type IncomingHttpRequestFilter = (uri: string, request: IncomingHttpRequest) => boolean | Promise<boolean>;

export type FilterVerdict = { allowed: true } | { allowed: false; owner: string; reason: string };

/**
 * The filters registered by `registerIncomingHttpRequestFilter`, run by the front on every
 * request, proxied or served by a recipe, before Orthanc or the recipe sees it. They run in
 * registration order and all must allow: the first refusal stops the others.
 */
export class RequestFilters {
  private readonly registered: { owner: string; filter: IncomingHttpRequestFilter }[] = [];

  register(owner: string, filter: IncomingHttpRequestFilter): () => void {
    const entry = { owner, filter };
    this.registered.push(entry);
    return () => {
      const index = this.registered.indexOf(entry);
      if (index >= 0) this.registered.splice(index, 1);
    };
  }

  get size(): number {
    return this.registered.length;
  }

  async decide(uri: string, request: IncomingHttpRequest): Promise<FilterVerdict> {
    for (const { owner, filter } of [...this.registered]) {
      let answer: unknown;
      try {
        answer = await filter(uri, request);
      } catch (error) {
        return { allowed: false, owner, reason: `the filter failed: ${describe(error)}` };
      }
      // Only `true` lets in: a filter returning nothing (a forgotten `return`) refuses.
      if (answer !== true)
        return {
          allowed: false,
          owner,
          reason: answer === false ? 'refused by the filter' : `the filter returned ${typeof answer}, not a boolean`,
        };
    }
    return { allowed: true };
  }
}
