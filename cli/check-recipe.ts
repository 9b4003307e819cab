import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { importExternalRecipe } from '../host/external-recipe.js';
import type { AnyRecipe } from '../shared/recipe.js';
import { compileSchema, toIssues } from '../shared/validate.js';

/** A line of the template's README that a recipe's own README no longer has. */
export const templateReadmeMarker = 'made from its template by `orthanc-recipes new`';

/** The headings every recipe README has, in this order. */
export const standardHeadings = ['What it does', 'Options', 'Routes and events', 'Failure modes', 'Prior art'] as const;

/**
 * What a recipe folder needs before it joins the catalogue; each problem is one line to fix.
 * `recipe` is the recipe already loaded (a bundled one); otherwise the folder's index is imported.
 */
export async function checkRecipeFolder(folder: string, recipe?: AnyRecipe): Promise<string[]> {
  const id = basename(folder);
  const problems: string[] = [];
  const need = (file: string) => {
    const exists = existsSync(join(folder, file));
    if (!exists) problems.push(`${file} is missing`);
    return exists;
  };

  let loaded = recipe;
  if (!loaded && (need('index.ts') || existsSync(join(folder, 'index.js')))) {
    try {
      loaded = await importExternalRecipe(folder, folder);
    } catch (error) {
      problems.push(`index: ${(error as Error).message}`);
    }
  }
  if (loaded) problems.push(...checkMeta(loaded, id));

  let schema: Record<string, unknown> | undefined;
  if (need('schema.json')) {
    try {
      schema = JSON.parse(await readFile(join(folder, 'schema.json'), 'utf8')) as Record<string, unknown>;
      problems.push(...checkSchema(schema));
      if (loaded && !isDeepStrictEqual(loaded.schema, schema)) problems.push("the recipe's `schema` is not its schema.json");
    } catch (error) {
      problems.push(`schema.json: ${(error as Error).message}`);
      schema = undefined;
    }
  }

  if (existsSync(join(folder, 'test'))) {
    const tests = (await readdir(join(folder, 'test'))).filter((name) => /\.test\.(ts|mts|js|mjs)$/.test(name));
    if (tests.length === 0) problems.push('test/ has no *.test.ts file');
  } else {
    problems.push('test/ is missing');
  }

  if (need('README.md')) {
    const readme = await readFile(join(folder, 'README.md'), 'utf8');
    const headings = [...readme.matchAll(/^## +(.+?)\s*$/gm)].map((match) => match[1]);
    for (const heading of standardHeadings) if (!headings.includes(heading)) problems.push(`README.md lacks the heading "## ${heading}"`);
    if (readme.includes(templateReadmeMarker))
      problems.push("README.md is still the template's: say what this recipe does, its options, routes and failure modes");
    if (loaded && schema) problems.push(...checkReadmeExamples(readme, id, loaded));
  }
  return problems;
}

function checkMeta(recipe: AnyRecipe, id: string): string[] {
  const { meta } = recipe;
  const problems: string[] = [];
  if (meta.id !== id) problems.push(`meta.id is "${meta.id}", not the folder's name "${id}"`);
  if (typeof meta.title !== 'string' || meta.title === '') problems.push('meta.title is missing');
  if (typeof meta.description !== 'string' || meta.description === '') problems.push('meta.description is missing');
  if (!Array.isArray(meta.routes)) problems.push('meta.routes must be an array');
  if (!Array.isArray(meta.events)) problems.push('meta.events must be an array');
  if (typeof meta.destructive !== 'boolean') problems.push('meta.destructive must be true or false');
  return problems;
}

/** The one strict ajv must accept the schema, and every option must say what it is and its default. */
function checkSchema(schema: Record<string, unknown>): string[] {
  try {
    compileSchema(schema);
  } catch (error) {
    return [`schema.json is not a valid schema: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  if (schema.additionalProperties !== false)
    problems.push('schema.json: set "additionalProperties": false, so that a typo in a configuration is an error');
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, property] of Object.entries(properties)) {
    if (typeof property.description !== 'string') problems.push(`schema.json: option "${name}" has no "description"`);
    if (!('default' in property)) problems.push(`schema.json: option "${name}" has no "default"`);
  }
  return problems;
}

/**
 * Every JSON example in the README that configures this recipe (`"<id>": {...}` alone, or inside a
 * whole configuration) must validate against its schema; there must be one. (The recipe's `check`
 * is not run: examples may name files that exist only on the reader's machine.)
 */
function checkReadmeExamples(readme: string, id: string, recipe: AnyRecipe): string[] {
  const examples = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const problems: string[] = [];
  let found = 0;
  for (const [index, text] of examples.entries()) {
    const options = exampleOptions(text, id);
    if (options === undefined) continue;
    found += 1;
    const { Enabled: _enabled, Module: _module, ...rest } = options;
    const validate = compileSchema(recipe.schema);
    const copy = structuredClone(rest);
    if (!validate(copy)) {
      for (const issue of toIssues(validate.errors))
        problems.push(`README.md, JSON example ${index + 1}: ${issue.pointer || '/'}: ${issue.message}`);
    }
  }
  if (found === 0) problems.push(`README.md has no JSON example configuring "${id}" (a block like \`"${id}": { "Enabled": true }\`)`);
  return problems;
}

function exampleOptions(text: string, id: string): Record<string, unknown> | undefined {
  for (const candidate of [text, `{${text}}`]) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(candidate);
    } catch {
      continue;
    }
    const object = parsed as Record<string, Record<string, unknown> | undefined>;
    const options = object?.Recipes && typeof object.Recipes === 'object' ? object.Recipes[id] : object?.[id];
    return options && typeof options === 'object' ? (options as Record<string, unknown>) : undefined;
  }
  return undefined;
}
