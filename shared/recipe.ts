import type { SchemaObject } from 'ajv';
import type { ChangeTypeName, Logger, OrthancBinding } from './binding/index.js';
import type { KeyValueStore } from './state-store.js';
import type { Workers } from './worker-pool.js';

/** What a recipe declares about itself, as data: the host lists it, the catalogue is built from it. */
export interface RecipeMeta {
  /** Kebab-case; equal to the folder name, the config key and the logger name. */
  id: string;
  title: string;
  /** One sentence. */
  description: string;
  /** Routes it serves, e.g. `"GET /instances/{id}/thumbnail"`. */
  routes: string[];
  /** Change types it listens to. */
  events: ChangeTypeName[];
  /** True when it deletes or modifies data in Orthanc; such recipes default to dry-run. */
  destructive: boolean;
  /** The sample or project it follows, as a link. */
  priorArt?: string;
}

/** Everything a recipe may use; it never imports the host or another recipe. */
export interface RecipeContext {
  /** The binding, scoped to this recipe: what it registers is removed when it closes. */
  orthanc: OrthancBinding;
  /** A child logger named after the recipe. */
  log: Logger;
  /** The recipe's own persistent key-value state. */
  state: KeyValueStore;
  /** Aborted when the host stops. */
  signal: AbortSignal;
  /** The host's worker pool, for CPU work (bytes in, bytes out; workers never call Orthanc). */
  workers: Workers;
  /** The absolute folder of the configuration file, to resolve the recipe's relative paths. */
  configDirectory: string;
}

/** What `setup` may return: how to release what it holds. */
export interface RecipeHandle {
  close?(): unknown;
}

export interface Recipe<Options = Record<string, never>> {
  meta: RecipeMeta;
  /** The options' JSON schema (the recipe's `schema.json`), without the host's `Enabled` key. */
  schema: SchemaObject;
  /** Registers what the recipe needs; nothing runs at import. Options are already validated. */
  setup(ctx: RecipeContext, options: Options): RecipeHandle | void | Promise<RecipeHandle | void>;
}

const kebabCase = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Declares a recipe; checks the metadata's shape early so that a typo fails at load. */
export function defineRecipe<Options>(recipe: Recipe<Options>): Recipe<Options> {
  if (!kebabCase.test(recipe.meta.id)) throw new TypeError(`recipe id must be kebab-case: "${recipe.meta.id}"`);
  if (typeof recipe.setup !== 'function') throw new TypeError(`recipe ${recipe.meta.id}: setup must be a function`);
  return Object.freeze(recipe);
}

/** A recipe whose options type is not known statically (the registry's view). */
export type AnyRecipe = Recipe<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
