export { Host, type HostOptions } from './host.js';
export {
  loadConfig,
  validateConfig,
  formatIssue,
  ConfigError,
  type LoadedConfig,
  type EnabledRecipe,
  type ConfigIssue,
  type HostConfig,
} from './config.js';
export { OrthancProcess, OrthancLaunchError, getFreePort, findExecutable, type OrthancProcessOptions } from './orthanc-process.js';
export { bundledRecipes, type RecipeRegistry } from './registry.js';
export { hostVersion } from './version.js';
export { effectiveConfig } from './effective-config.js';
export { maskSecrets } from '../shared/mask-secrets.js';
