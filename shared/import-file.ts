import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { importOptional } from './optional-package.js';

let typeScriptLoader: Promise<void> | undefined;
let ownPackageHooks = false;

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

/**
 * Makes `orthanc-recipes` (and its subpaths) in any module imported from now on resolve to this
 * running package (see module-hooks/own-package.ts), once for the process.
 */
function resolveOwnPackageEverywhere(): void {
  if (ownPackageHooks) return;
  ownPackageHooks = true;
  // This file runs as dist/shared/import-file.js: the package's root is two folders up.
  const packageJsonUrl = new URL('../../package.json', import.meta.url).href;
  register(new URL('./module-hooks/own-package.js', import.meta.url), { data: { packageJsonUrl } });
}

/** Whether a file is TypeScript, by its name. */
export const isTypeScript = (file: string): boolean => /\.(ts|mts|cts|tsx)$/.test(file);

/**
 * Imports a JavaScript or TypeScript file by its absolute path (an external recipe, a scheduler
 * task). Node caches the module: importing it again does not run its top-level code again.
 * `orthanc-recipes` imported by that file is this package, wherever the file lies.
 */
export async function importFile(file: string): Promise<{ default?: unknown }> {
  resolveOwnPackageEverywhere();
  if (isTypeScript(file)) await loadTypeScript();
  return (await import(pathToFileURL(file).href)) as { default?: unknown };
}
