import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve as resolveImport } from 'import-meta-resolve';
import { importFile } from '../shared/import-file.js';
import type { AnyRecipe } from '../shared/recipe.js';

/** A recipe module that cannot be used: missing, without a default recipe, or with a bad schema. */
export class ExternalRecipeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExternalRecipeError';
  }
}

const candidates = ['index.ts', 'index.mts', 'index.js', 'index.mjs'];

/**
 * Where `specifier` points: a path (relative to `fromDirectory`) to a file, or to a folder with an
 * `index.ts`/`index.js`; otherwise an installed package's name, resolved from `fromDirectory` as
 * `import` would resolve it.
 */
export function resolveRecipeModule(specifier: string, fromDirectory: string): string {
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    const path = resolve(fromDirectory, specifier);
    if (existsSync(path) && statSync(path).isDirectory()) {
      const index = candidates.map((name) => join(path, name)).find((file) => existsSync(file));
      if (!index) throw new ExternalRecipeError(`${path} is a folder without ${candidates.join(', ')}`);
      return index;
    }
    const file = [path, ...['.ts', '.mts', '.js', '.mjs'].map((ext) => path + ext)].find((f) => existsSync(f) && statSync(f).isFile());
    if (!file) throw new ExternalRecipeError(`cannot find the module ${path}`);
    return file;
  }
  try {
    // Node's own ES module resolution (the `import` condition of `exports`), from that folder:
    // `createRequire().resolve` would miss a package that exports only for `import`.
    const url = resolveImport(specifier, pathToFileURL(join(fromDirectory, 'package.json')).href);
    if (!url.startsWith('file:')) throw new Error(`${specifier} is not a file`);
    return fileURLToPath(url);
  } catch {
    throw new ExternalRecipeError(`cannot find the package "${specifier}" from ${fromDirectory} (is it installed there?)`);
  }
}

/** Whether `value` has the shape `defineRecipe` gives. */
export function isRecipe(value: unknown): value is AnyRecipe {
  const recipe = value as Partial<AnyRecipe> | undefined;
  return (
    typeof recipe === 'object' &&
    recipe !== null &&
    typeof recipe.setup === 'function' &&
    typeof recipe.schema === 'object' &&
    typeof recipe.meta === 'object' &&
    typeof recipe.meta?.id === 'string'
  );
}

/** Imports a recipe written in TypeScript or JavaScript and returns its default export. */
export async function importExternalRecipe(specifier: string, fromDirectory: string): Promise<AnyRecipe> {
  const file = resolveRecipeModule(specifier, fromDirectory);
  let module: { default?: unknown };
  try {
    module = await importFile(file);
  } catch (error) {
    const reason = (error as Error).message ?? String(error);
    const hint = /ERR_REQUIRE_CYCLE_MODULE|require\(\) of ES Module|Cannot use import statement/.test(
      `${(error as { code?: string }).code} ${reason}`,
    )
      ? ' (an ES module: its folder\'s package.json needs "type": "module", or name the file .mts/.mjs)'
      : '';
    throw new ExternalRecipeError(`cannot load ${file}: ${reason.split('\n')[0]}${hint}`);
  }
  const recipe = module.default;
  if (!isRecipe(recipe)) throw new ExternalRecipeError(`${file} has no default export made by defineRecipe({ meta, schema, setup })`);
  return recipe;
}
