import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { AnyRecipe } from '../recipe.js';
import { compileSchema, escapePointer, toIssues, type ValidationIssue } from '../validate.js';
import { importExternalRecipe } from './external-recipe.js';
import type { HostConfig } from './host-config.generated.js';
import hostSchema from './host-schema.json' with { type: 'json' };
import { bundledRecipes, type RecipeRegistry } from './registry.js';

export type { HostConfig };

/** One enabled recipe with its validated options (defaults filled in). */
export interface EnabledRecipe {
  id: string;
  recipe: AnyRecipe;
  options: Record<string, unknown>;
}

export interface LoadedConfig {
  /** The configuration file, as given. */
  file: string;
  config: HostConfig;
  /** The configuration file's folder, absolute: relative paths in the file resolve against it. */
  configDirectory: string;
  /** `StateDirectory`, resolved against the configuration file's folder. */
  stateDirectory: string;
  recipes: EnabledRecipe[];
}

export interface ConfigIssue extends ValidationIssue {
  file: string;
  /** The recipe the issue belongs to; absent for the host's own keys. */
  recipe?: string;
}

/** A configuration that cannot be used; `issues` lists every problem found, not just the first. */
export class ConfigError extends Error {
  readonly code = 'ORC_ERR_CONFIG';
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}

/** `orthanc-recipes.json: recipe "hello": /Recipes/hello/Foo: unknown key "Foo"; …` */
export function formatIssue(issue: ConfigIssue): string {
  const owner = issue.recipe ? `recipe "${issue.recipe}"` : 'host';
  return `${issue.file}: ${owner}: ${issue.pointer || '/'}: ${issue.message}`;
}

/** Reads and validates a configuration file; throws `ConfigError`. */
export async function loadConfig(file: string, registry: RecipeRegistry = bundledRecipes): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ file, pointer: '', message: `cannot read the file: ${(error as Error).message}` }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([{ file, pointer: '', message: `not valid JSON: ${(error as Error).message}` }]);
  }
  return validateConfig(raw, file, registry);
}

/**
 * Validates the host's keys and the options of every enabled recipe (its schema, then its own
 * `check`), and reports all problems together. A recipe is bundled (by id) or external (its
 * `Module`: a path relative to this file, or an installed package, in TypeScript or JavaScript).
 * A recipe that is absent or has `"Enabled": false` is not loaded (nor validated beyond its
 * `Enabled` and `Module` keys), so a recipe is either wholly enabled or not at all.
 */
export async function validateConfig(raw: unknown, file: string, registry: RecipeRegistry = bundledRecipes): Promise<LoadedConfig> {
  const validateHost = compileSchema(hostSchema);
  if (!validateHost(raw)) throw new ConfigError(toIssues(validateHost.errors).map((issue) => ({ file, ...issue })));
  const config = raw as HostConfig;

  const configDirectory = dirname(resolve(file));
  const issues: ConfigIssue[] = [];
  const recipes: EnabledRecipe[] = [];
  if (config.StateDatabase.Engine === 'PostgreSQL' && config.StateDatabase.ConnectionString.trim() === '') {
    issues.push({ file, pointer: '/StateDatabase/ConnectionString', message: 'is required with "Engine": "PostgreSQL" (e.g. "postgres://orthanc_recipes@db.example:5432/orthanc")' });
  }
  for (const [id, entry] of Object.entries(config.Recipes)) {
    const pointer = `/Recipes/${escapePointer(id)}`;
    const { Enabled: enabled = false, Module: module, ...options } = entry;
    if (typeof enabled !== 'boolean') {
      issues.push({ file, recipe: id, pointer: `${pointer}/Enabled`, message: 'must be boolean' });
      continue;
    }
    if (module !== undefined && typeof module !== 'string') {
      issues.push({ file, recipe: id, pointer: `${pointer}/Module`, message: 'must be a string: a path (relative to this file) or a package name' });
      continue;
    }
    if (module === undefined && !registry[id]) {
      const known = Object.keys(registry).map((k) => `"${k}"`).join(', ');
      issues.push({ file, recipe: id, pointer, message: `unknown recipe "${id}"; known recipes: ${known} (or give its "Module")` });
      continue;
    }
    if (!enabled) continue;
    let recipe: AnyRecipe;
    let validateOptions: ReturnType<typeof compileSchema>;
    try {
      recipe = module === undefined ? await registry[id]!() : await importExternalRecipe(module, configDirectory);
      if (recipe.meta.id !== id) throw new Error(`the module's recipe is "${recipe.meta.id}", not "${id}": the id is the configuration key`);
      validateOptions = compileSchema(recipe.schema);
    } catch (error) {
      issues.push({ file, recipe: id, pointer: `${pointer}/Module`, message: (error as Error).message.split('\n')[0]! });
      continue;
    }
    if (!validateOptions(options)) {
      issues.push(...toIssues(validateOptions.errors, pointer).map((issue) => ({ file, recipe: id, ...issue })));
      continue;
    }
    const problems = (await recipe.check?.(options, { configDirectory })) ?? [];
    if (problems.length > 0) {
      issues.push(...problems.map((problem) => ({ file, recipe: id, pointer: `${pointer}${problem.pointer}`, message: problem.message })));
      continue;
    }
    recipes.push({ id, recipe, options });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { file, config, configDirectory, stateDirectory: resolve(configDirectory, config.StateDirectory), recipes };
}
