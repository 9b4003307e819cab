import { maskSecrets } from '../shared/mask-secrets.js';
import type { LoadedConfig } from './config.js';

/**
 * The configuration the host would run with, for `orthanc-recipes validate`: the host's keys and
 * the enabled recipes' options with their defaults filled in (disabled recipes left out), and every
 * secret masked, so that the output can be pasted into a ticket.
 */
export function effectiveConfig(loaded: LoadedConfig): Record<string, unknown> {
  const { Recipes: _all, ...host } = loaded.config;
  const recipes = Object.fromEntries(loaded.recipes.map(({ id, options }) => [id, { Enabled: true, ...options }]));
  return maskSecrets({ ...host, Recipes: recipes }, { values: [loaded.config.Orthanc.Password] });
}
