import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The default export of a `Module` task. */
export type ModuleTask = (ctx: unknown, options: Record<string, unknown>) => unknown;

const typeScript = /\.(ts|mts|cts|tsx)$/;

/** The file a `Module` names: relative paths resolve against the configuration file's folder. */
export const modulePath = (module: string, configDirectory: string): string => (isAbsolute(module) ? module : resolve(configDirectory, module));

/**
 * Imports a task module, JavaScript or TypeScript (through tsx's `tsImport`, which compiles it
 * without a process-wide hook), and returns its default export; throws when it is not a function.
 * A CommonJS module (`module.exports = fn`, or a `.ts`/`.js` file with no `"type": "module"`
 * above it) comes back as `{ default: { default: fn } }`; both shapes are accepted.
 */
export async function loadTaskModule(file: string): Promise<ModuleTask> {
  let namespace: { default?: unknown };
  if (typeScript.test(file)) {
    const { tsImport } = await import('tsx/esm/api');
    namespace = (await tsImport(pathToFileURL(file).href, import.meta.url)) as { default?: unknown };
  } else {
    namespace = (await import(pathToFileURL(file).href)) as { default?: unknown };
  }
  let exported = namespace.default;
  if (typeof exported !== 'function' && exported && typeof (exported as { default?: unknown }).default === 'function') {
    exported = (exported as { default: unknown }).default;
  }
  if (typeof exported !== 'function') throw new TypeError('its default export is not a function: export default async (ctx, options) => result');
  return exported as ModuleTask;
}
