import { isAbsolute, resolve } from 'node:path';
import { importFile } from '../../shared/import-file.js';

/** The default export of a `Module` task. */
export type ModuleTask = (ctx: unknown, options: Record<string, unknown>) => unknown;

/** The file a `Module` names: relative paths resolve against the configuration file's folder. */
export const modulePath = (module: string, configDirectory: string): string =>
  isAbsolute(module) ? module : resolve(configDirectory, module);

/**
 * Imports a task module, JavaScript or TypeScript (compiled by tsx, whose loader is registered
 * once for the whole process), and returns its default export; throws when it is not a
 * function. A CommonJS module (`module.exports = fn`, or a `.ts`/`.js` file with no
 * `"type": "module"` above it) may come back as `{ default: { default: fn } }`; both shapes are
 * accepted. Node caches the module: its top-level code runs once, however often it is loaded.
 */
export async function loadTaskModule(file: string): Promise<ModuleTask> {
  const namespace = await importFile(file);
  let exported = namespace.default;
  if (typeof exported !== 'function' && exported && typeof (exported as { default?: unknown }).default === 'function') {
    exported = (exported as { default: unknown }).default;
  }
  if (typeof exported !== 'function')
    throw new TypeError('its default export is not a function: export default async (ctx, options) => result');
  return exported as ModuleTask;
}
