import type { LoadedConfig } from './config.js';

const secretKey = /password|secret|token|apikey|credential/i;
export const masked = '********';

/**
 * The configuration the host would run with, for `orthanc-recipes validate`: the host's keys and
 * the enabled recipes' options with their defaults filled in (disabled recipes left out), and every
 * secret masked, so that the output can be pasted into a ticket.
 */
export function effectiveConfig(loaded: LoadedConfig): Record<string, unknown> {
  const { Recipes: _all, ...host } = loaded.config;
  const recipes = Object.fromEntries(loaded.recipes.map(({ id, options }) => [id, { Enabled: true, ...options }]));
  return maskSecrets({ ...host, Recipes: recipes }) as Record<string, unknown>;
}

/**
 * A copy of `value` with secrets replaced by `********`: the value of any key that names one
 * (Password, Secret, Token, ApiKey, Credentials, in any case, e.g. `Orthanc.Password`), the
 * passwords of an embedded Orthanc's `RegisteredUsers` and of its `OrthancPeers` given as
 * `[url, user, password]`, and the password of a URL written as `http://user:password@host`.
 */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (key && secretKey.test(key) && value !== undefined && value !== null && value !== '') return masked;
  if (typeof value === 'string') return maskUrlPassword(value);
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item));
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value)) {
    if (name === 'RegisteredUsers' && typeof item === 'object' && item !== null && !Array.isArray(item)) {
      copy[name] = Object.fromEntries(Object.keys(item).map((user) => [user, masked]));
    } else if (name === 'OrthancPeers' && typeof item === 'object' && item !== null && !Array.isArray(item)) {
      copy[name] = Object.fromEntries(
        Object.entries(item).map(([peer, definition]) => [
          peer,
          Array.isArray(definition) && definition.length >= 3 ? [maskSecrets(definition[0]), definition[1], masked, ...definition.slice(3)] : maskSecrets(definition),
        ]),
      );
    } else {
      copy[name] = maskSecrets(item, name);
    }
  }
  return copy;
}

function maskUrlPassword(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(text)) return text;
  try {
    const url = new URL(text);
    if (!url.password) return text;
    url.password = masked;
    return url.href;
  } catch {
    return text;
  }
}
