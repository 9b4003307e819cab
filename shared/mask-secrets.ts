/** What replaces a secret. */
export const maskedValue = '********';

/**
 * Key names whose values are secrets: a key that contains one of these, in any case
 * (`Password`, `OrthancPassword`, `ClientSecret`, `AccessToken`, `Authorization`, `ApiKey`,
 * `Credentials`…).
 */
export const defaultSecretKeyFragments: readonly string[] = ['password', 'secret', 'token', 'authorization', 'apikey', 'credential'];

export interface MaskOptions {
  /** More key-name fragments (any case) whose values are secrets. */
  extraKeyFragments?: readonly string[];
  /** Values that are masked wherever they appear as a whole string (e.g. the host's Orthanc password). */
  values?: readonly (string | undefined)[];
}

/**
 * A copy of `value` with its secrets replaced by `********`: the value of any key whose name
 * contains a secret fragment, the passwords of Orthanc's own `RegisteredUsers` (user → password)
 * and of `OrthancPeers` given as `[url, user, password]`, the password in a URL's user info
 * (`http://user:password@host`), and any string equal to one of `options.values`.
 */
export function maskSecrets<T>(value: T, options: MaskOptions = {}): T {
  const fragments = [...defaultSecretKeyFragments, ...(options.extraKeyFragments ?? [])].map((f) => f.toLowerCase()).filter(Boolean);
  const secretValues = new Set((options.values ?? []).filter((v): v is string => typeof v === 'string' && v !== ''));
  const isSecretKey = (key: string) => {
    const lower = key.toLowerCase();
    return fragments.some((fragment) => lower.includes(fragment));
  };
  const maskString = (text: string): string => {
    if (secretValues.has(text)) return maskedValue;
    return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]*@/i, `$1:${maskedValue}@`);
  };
  const walk = (node: unknown, key: string | undefined): unknown => {
    if (key !== undefined && isSecretKey(key) && node !== null && node !== undefined && node !== '') return maskedValue;
    if (typeof node === 'string') return maskString(node);
    if (Array.isArray(node)) return node.map((item) => walk(item, undefined));
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node as Record<string, unknown>);
    if (key === 'RegisteredUsers') return Object.fromEntries(entries.map(([user]) => [user, maskedValue]));
    if (key === 'OrthancPeers') {
      return Object.fromEntries(
        entries.map(([peer, definition]) => [
          peer,
          Array.isArray(definition)
            ? definition.map((item, index) => (index >= 2 ? maskedValue : walk(item, undefined)))
            : walk(definition, undefined),
        ]),
      );
    }
    return Object.fromEntries(entries.map(([childKey, child]) => [childKey, walk(child, childKey)]));
  };
  return walk(value, undefined) as T;
}
