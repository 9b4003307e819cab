import { existsSync } from 'node:fs';
import { cp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { isKebabCase } from '../shared/recipe.js';

/** The template that `orthanc-recipes new` copies, shipped in the package. */
export const templateDirectory = new URL('../../templates/recipe/', import.meta.url).pathname;

export class NewRecipeError extends Error {}

export interface NewRecipeResult {
  folder: string;
  /** True when the folder is this repository's `recipes/` (relative imports, registry updated). */
  bundled: boolean;
  files: string[];
}

/** `metadata-find` → `Metadata Find`. */
export const titleOf = (id: string) =>
  id
    .split('-')
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join(' ');

/**
 * Copies the template into `<parentDirectory>/<id>/` with the id, title and imports filled in.
 * Inside this repository's `recipes/` folder the recipe imports the project's modules by relative
 * path and gets its line in `host/registry.ts`; anywhere else it imports the installed
 * package (`orthanc-recipes/recipe`, `orthanc-recipes/testing`) and is enabled by `Module`.
 */
export async function newRecipe(id: string, parentDirectory: string, takenIds: readonly string[]): Promise<NewRecipeResult> {
  if (!isKebabCase(id))
    throw new NewRecipeError(
      `"${id}" is not a kebab-case id (lower-case letters and digits in words joined by "-", starting with a letter)`,
    );
  if (takenIds.includes(id)) throw new NewRecipeError(`"${id}" is taken by a bundled recipe`);
  const folder = resolve(parentDirectory, id);
  if (existsSync(folder)) throw new NewRecipeError(`${folder} exists already`);

  const repositoryRoot = resolve(parentDirectory, '..');
  const registryFile = join(repositoryRoot, 'host', 'registry.ts');
  const bundled = existsSync(registryFile) && existsSync(join(repositoryRoot, 'shared', 'recipe.ts'));
  const replacements: [string, string][] = [
    ['__IMPORT_RECIPE__', bundled ? '../../shared/recipe.js' : 'orthanc-recipes/recipe'],
    ['__IMPORT_TESTING__', bundled ? '../../../test/helpers/index.js' : 'orthanc-recipes/testing'],
    ['__MODULE_ENTRY__', bundled ? '' : `, Module: new URL('..', import.meta.url).pathname`],
    ['__TITLE__', titleOf(id)],
    ['__ID__', id],
  ];

  await cp(templateDirectory, folder, { recursive: true, errorOnExist: true, force: false });
  const files: string[] = [];
  for (const file of await listFiles(folder)) {
    const text = await readFile(file, 'utf8');
    await writeFile(
      file,
      replacements.reduce((result, [from, to]) => result.replaceAll(from, to), text),
    );
    const renamed = file.replaceAll('__ID__', id);
    if (renamed !== file) await rename(file, renamed);
    files.push(relative(folder, renamed));
  }
  if (bundled) {
    await addToRegistry(registryFile, id);
  } else if (!existsSync(join(folder, 'package.json'))) {
    // External recipes are ES modules; tsx and Node read the format from the nearest package.json.
    await writeFile(join(folder, 'package.json'), `${JSON.stringify({ private: true, type: 'module' }, null, 2)}\n`);
    files.push('package.json');
  }
  return { folder, bundled, files: files.sort() };
}

async function listFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

async function addToRegistry(registryFile: string, id: string): Promise<void> {
  const text = await readFile(registryFile, 'utf8');
  const line = `  '${id}': async () => (await import('../recipes/${id}/index.js')).default,\n`;
  const end = text.indexOf('};', text.indexOf('bundledRecipes'));
  if (end < 0) throw new NewRecipeError(`cannot find bundledRecipes in ${registryFile}`);
  await writeFile(registryFile, text.slice(0, end) + line + text.slice(end));
}
