import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isKebabCase, type AnyRecipe } from '../shared/recipe.js';
import { compileSchema, escapePointer, toIssues, type ValidationIssue } from '../shared/validate.js';
import { applyEnvironment, sourceOf, syntaxErrorLocation, type ConfigSources } from './config-sources.js';
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
  /** Where the value came from when not from the file, e.g. `environment variable ORTHANC_RECIPES__HttpServer__Port`. */
  source?: string;
}

/** A configuration that cannot be used; `issues` lists every problem found, not just the first. */
export class ConfigError extends Error {
  readonly code = 'ORC_ERR_CONFIG';
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * `orthanc-recipes.json: recipe "hello": /Recipes/hello/LogChanges: must be boolean (found "yes")`;
 * `…: host: /HttpServer/Port (from environment variable ORTHANC_RECIPES__HttpServer__Port): must be <= 65535 (found 70000)`.
 */
export function formatIssue(issue: ConfigIssue): string {
  const owner = issue.recipe ? `recipe "${issue.recipe}"` : 'host';
  const source = issue.source ? ` (from ${issue.source})` : '';
  const found = issue.found !== undefined ? ` (found ${issue.found})` : '';
  return `${issue.file}: ${owner}: ${issue.pointer || '/'}${source}: ${issue.message}${found}`;
}

/**
 * Reads a configuration file, applies the `ORTHANC_RECIPES__...` environment variables of `env`
 * over it (see config-sources.ts) and validates the result; throws `ConfigError`.
 */
export async function loadConfig(
  file: string,
  registry: RecipeRegistry = bundledRecipes,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig> {
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
    const where = syntaxErrorLocation(text, (error as Error).message);
    throw new ConfigError([{ file, pointer: '', message: `not valid JSON${where ? ` at ${where}` : ''}: ${(error as Error).message}` }]);
  }
  const { sources, issues } = await applyEnvironment(raw, env, registry);
  if (issues.length > 0) {
    const recipeOf = (pointer: string) => /^\/Recipes\/([^/]+)/.exec(pointer)?.[1]?.replace(/~1/g, '/').replace(/~0/g, '~');
    throw new ConfigError(
      issues.map((issue) => ({ file, ...(recipeOf(issue.pointer) ? { recipe: recipeOf(issue.pointer) } : {}), ...issue })),
    );
  }
  return validateConfig(raw, file, registry, sources);
}

/**
 * Validates the host's keys and the options of every enabled recipe (its schema, then its own
 * `check`), and reports all problems together. A recipe is bundled (by id) or external (its
 * `Module`: a path relative to this file, or an installed package, in TypeScript or JavaScript).
 * A recipe that is absent or has `"Enabled": false` is not loaded (nor validated beyond its
 * `Enabled` and `Module` keys), so a recipe is either wholly enabled or not at all.
 */
export async function validateConfig(
  raw: unknown,
  file: string,
  registry: RecipeRegistry = bundledRecipes,
  sources: ConfigSources = new Map(),
): Promise<LoadedConfig> {
  const issues: ConfigIssue[] = [];
  const validateHost = compileSchema(hostSchema);
  // The host's errors and the recipes' are reported together (the recipes are checked as long as
  // `Recipes` is an object).
  if (!validateHost(raw)) issues.push(...toIssues(validateHost.errors).map((issue) => ({ file, ...issue })));
  const config = raw as HostConfig;
  const recipeEntries =
    typeof config === 'object' && config !== null && isPlainObject(config.Recipes) ? Object.entries(config.Recipes) : [];

  const configDirectory = dirname(resolve(file));
  if (issues.length === 0) issues.push(...readPasswordFile(config, configDirectory, file));
  const recipes: EnabledRecipe[] = [];
  if (config?.StateDatabase?.Engine === 'PostgreSQL' && !config.StateDatabase.ConnectionString?.trim()) {
    issues.push({
      file,
      pointer: '/StateDatabase/ConnectionString',
      message: 'is required with "Engine": "PostgreSQL" (e.g. "postgres://orthanc_recipes@db.example:5432/orthanc")',
    });
  }
  for (const [id, entry] of recipeEntries) {
    if (!isPlainObject(entry)) continue; // reported by the host's schema
    const pointer = `/Recipes/${escapePointer(id)}`;
    const { Enabled: enabled = false, Module: module, ...options } = entry;
    if (typeof enabled !== 'boolean') {
      issues.push({ file, recipe: id, pointer: `${pointer}/Enabled`, message: 'must be boolean' });
      continue;
    }
    if (module !== undefined && typeof module !== 'string') {
      issues.push({
        file,
        recipe: id,
        pointer: `${pointer}/Module`,
        message: 'must be a string: a path (relative to this file) or a package name',
      });
      continue;
    }
    if (module === undefined && !registry[id]) {
      const known = Object.keys(registry)
        .map((k) => `"${k}"`)
        .join(', ');
      const message =
        isKebabCase(id) && existsSync(new URL(`../../recipes/${id}/index.ts`, import.meta.url))
          ? `recipe "${id}" has a folder in recipes/ but is not built: run \`npm run build\``
          : `unknown recipe "${id}"; known recipes: ${known} (or give its "Module")`;
      issues.push({ file, recipe: id, pointer, message });
      continue;
    }
    if (!enabled) continue;
    let recipe: AnyRecipe;
    let validateOptions: ReturnType<typeof compileSchema>;
    try {
      recipe = module === undefined ? await registry[id]!() : await importExternalRecipe(module, configDirectory);
      if (recipe.meta.id !== id)
        throw new Error(`the module's recipe is "${recipe.meta.id}", not "${id}": the id is the configuration key`);
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
  for (const issue of issues) {
    const source = sourceOf(sources, issue.pointer, issue.message);
    if (source) issue.source = source;
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { file, config, configDirectory, stateDirectory: resolve(configDirectory, config.StateDirectory), recipes };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `Orthanc.PasswordFile`: the password is the file's content, without its final line break (a
 * Docker or systemd secret, `/run/secrets/orthanc-password`); relative to the configuration file.
 */
function readPasswordFile(config: HostConfig, configDirectory: string, file: string): ConfigIssue[] {
  const passwordFile = config.Orthanc.PasswordFile;
  if (passwordFile === undefined) return [];
  const pointer = '/Orthanc/PasswordFile';
  if (config.Orthanc.Password !== undefined) return [{ file, pointer, message: 'cannot be given with "Password": keep one of them' }];
  try {
    config.Orthanc.Password = readFileSync(resolve(configDirectory, passwordFile), 'utf8').replace(/\r?\n$/, '');
    return [];
  } catch (error) {
    return [{ file, pointer, message: `cannot read the password: ${(error as Error).message}` }];
  }
}
