import { pathToFileURL } from 'node:url';
import { importOptional } from './optional-package.js';

let typeScriptLoader: Promise<void> | undefined;

/**
 * Registers tsx's loaders for the whole process, once, the first time a TypeScript module is
 * imported. tsx's `tsImport` would load each import tree in a namespace of its own, so that a
 * module's `orthanc-recipes/recipe` would be a second copy of the host's; `register` keeps one.
 * Both loaders: Node hands a `.ts` file with no `"type": "module"` above it to its CommonJS
 * loader, which the ES module hooks never see ("Unexpected identifier" on the first type).
 */
function loadTypeScript(): Promise<void> {
  // tsx is an optional package of orthanc-recipes (only TypeScript files need it).
  typeScriptLoader ??= Promise.all([
    importOptional('tsx', () => import('tsx/esm/api')).then(({ register }) => void register()),
    importOptional('tsx', () => import('tsx/cjs/api')).then(({ register }) => void register()),
  ]).then(() => undefined);
  // A failed attempt is not kept: installing tsx and retrying works without a restart.
  typeScriptLoader.catch(() => (typeScriptLoader = undefined));
  return typeScriptLoader;
}

/** Whether a file is TypeScript, by its name. */
export const isTypeScript = (file: string): boolean => /\.(ts|mts|cts|tsx)$/.test(file);

/**
 * Imports a JavaScript or TypeScript file by its absolute path (an external recipe, a scheduler
 * task). Node caches the module: importing it again does not run its top-level code again.
 */
export async function importFile(file: string): Promise<{ default?: unknown }> {
  if (isTypeScript(file)) await loadTypeScript();
  return (await import(pathToFileURL(file).href)) as { default?: unknown };
}
