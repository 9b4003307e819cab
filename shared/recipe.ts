import type { SchemaObject } from 'ajv';
import type { ChangeTypeName, Logger, OrthancBinding } from './binding/index.js';

/**
 * What a route handler throws to answer with an error: `new RecipeHttpError(400, 'bad-parameter',
 * 'limit must be a whole number')`. The host answers every error in one JSON shape, Orthanc's
 * own (`HttpError`, `HttpStatus`, `Message`, `Method`, `Uri`) plus a stable `Code`.
 */
export { RecipeHttpError } from './binding/errors.js';
import type { Metrics } from './metrics.js';
import type { ClusterMember } from './cluster.js';
import type { RecipeDatabase } from './recipe-database.js';
import type { RecipeQueue } from './recipe-queue.js';
import type { KeyValueStore } from './state-store.js';
import type { Workers } from './worker-pool.js';

/** What a recipe declares about itself, as data: the host lists it, the catalogue is built from it. */
export interface RecipeMeta {
  /** Kebab-case; equal to the folder name, the config key and the logger name. */
  id: string;
  title: string;
  /** One sentence. */
  description: string;
  /** The catalogue's section, e.g. `Routing`, `Search`, `Imaging`, `Automation`, `Inspection`, `Examples`. */
  category?: string;
  /** Routes it serves, e.g. `"GET /instances/{id}/thumbnail"`. */
  routes: string[];
  /** Change types it listens to. */
  events: ChangeTypeName[];
  /** True when it deletes or modifies data in Orthanc; such recipes default to dry-run. */
  destructive: boolean;
  /** The sample or project it follows, as a link. */
  priorArt?: string;
  /**
   * Orthanc's in-process hooks it registers through the Lua bridge (`orthanc-recipes bridge`).
   * `DELETED` in `events` asks the bridge for deletions too.
   */
  bridge?: BridgeHookName[];
}

/** The hooks of Orthanc's Lua engine that the bridge forwards to recipes' filters. */
export type BridgeHookName =
  'ReceivedInstanceFilter' | 'ReceivedCStoreInstanceFilter' | 'IncomingFindRequestFilter' | 'IncomingWorklistRequestFilter';

/** Everything a recipe may use; it never imports the host or another recipe. */
export interface RecipeContext {
  /** The binding, scoped to this recipe: what it registers is removed when it closes. */
  orthanc: OrthancBinding;
  /** A child logger named after the recipe. */
  log: Logger;
  /** The recipe's own persistent key-value state. */
  state: KeyValueStore;
  /** The recipe's own tables in the state database: `migrate([...steps])`, then queries (see `RecipeDatabase`). */
  database: RecipeDatabase;
  /** A durable queue of the recipe's own, by name, in the state database (see `RecipeQueue`). */
  queue: (name: string) => RecipeQueue;
  /**
   * The other hosts sharing this Orthanc cluster's work (PostgreSQL state), or this host alone
   * (SQLite): its id, leases renewed at each heartbeat, single runs. Absent outside the host.
   */
  cluster?: ClusterMember;
  /**
   * This recipe's signal: aborted when the host stops, and when this recipe's setup fails or
   * times out (then a setup still running should stop: what it registers is removed anyway).
   */
  signal: AbortSignal;
  /**
   * Registers a cleanup, run once when the recipe closes (host shutdown, failed or timed-out
   * setup), last registered first, after the handle's `close`; registrations made through
   * `orthanc` are removed after it. Registered once closing has begun, it runs at once.
   */
  onClose(cleanup: () => unknown): void;
  /** The host's worker pool, for CPU work (bytes in, bytes out; workers never call Orthanc). */
  workers: Workers;
  /** The absolute folder of the configuration file, against which relative paths in options resolve. */
  configDirectory: string;
  /** What the host tells of itself, read-only and with secrets masked; absent outside the host. */
  host?: HostView;
  /**
   * The recipe's Prometheus metrics, served by the host at `GET /recipes/metrics`: names are
   * prefixed `orthanc_recipes_<recipe>_` (see shared/metrics.ts).
   */
  metrics: Metrics;
}

/** A problem with a recipe's options that its schema cannot see; `pointer` is relative to the options (`/Rules/0/Destinations/1`). */
export interface OptionsIssue {
  pointer: string;
  message: string;
}

/**
 * Thrown by `setup` when the options are well formed but do not fit this Orthanc (a destination
 * it does not know, say). The host then refuses to start, as for any configuration error: exit
 * code 2, each issue named by file, recipe and JSON pointer.
 */
export class RecipeOptionsError extends Error {
  constructor(readonly issues: OptionsIssue[]) {
    super(issues.map((issue) => `${issue.pointer || '/'}: ${issue.message}`).join('; '));
    this.name = 'RecipeOptionsError';
  }
}

/** The host as a recipe may see it (the introspection recipe's view): read-only, secrets masked. */
export interface HostView {
  /** This package's version. */
  readonly version: string;
  /** The enabled recipes, in load order, as they are now. */
  recipes(): EnabledRecipeView[];
}

export interface EnabledRecipeView {
  meta: RecipeMeta;
  schema: SchemaObject;
  /** The options in force (defaults filled in), secrets masked (shared/mask-secrets.ts). */
  options: Record<string, unknown>;
  /**
   * `starting` until its setup has finished; `waiting` while its setup is retried because Orthanc
   * is unreachable or refuses the host's credentials.
   */
  status: 'starting' | 'running' | 'waiting' | 'failed';
  /** Why setup failed, or why it is waiting. */
  error?: string;
  /**
   * The routes it serves now, as registered: `"GET,HEAD /recipes/ui/(.*)"` (the methods it
   * declared, `*` for a route that sees every method, then its regular expression).
   */
  servedRoutes?: string[];
}

/** What `setup` may return: how to release what it holds. */
export interface RecipeHandle {
  close?(): unknown;
}

export interface Recipe<Options = Record<string, never>> {
  meta: RecipeMeta;
  /** The options' JSON schema (the recipe's `schema.json`), without the host's `Enabled` key. */
  schema: SchemaObject;
  /**
   * Checks what the schema cannot express (a cron expression, a file that must exist), at load
   * time and without Orthanc: `orthanc-recipes validate` runs it too. Options have their defaults.
   */
  check?(options: Options, env: { configDirectory: string }): OptionsIssue[] | Promise<OptionsIssue[]>;
  /**
   * Checks the options against the running Orthanc, read-only (`orthanc-recipes validate
   * --online`): the destinations it must know, say. Issues as for `check`.
   */
  checkOnline?(options: Options, env: { orthanc: OrthancBinding }): OptionsIssue[] | Promise<OptionsIssue[]>;
  /**
   * The hooks of `meta.bridge` that these options use (default: all of them). Orthanc's script
   * defines only the hooks some enabled recipe uses: a C-FIND filter that nobody needs would cost
   * every C-FIND a call to the host. A hook left out here never reaches the recipe.
   */
  bridgeHooks?(options: Options): BridgeHookName[];
  /** Registers what the recipe needs; nothing runs at import. Options are already validated. */
  setup(ctx: RecipeContext, options: Options): RecipeHandle | void | Promise<RecipeHandle | void>;
}

const kebabCase = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Whether `id` may name a recipe: lower-case words of letters and digits joined by `-`. */
export const isKebabCase = (id: string): boolean => kebabCase.test(id);

/** Declares a recipe; checks the metadata's shape early so that a typo fails at load. */
export function defineRecipe<Options>(recipe: Recipe<Options>): Recipe<Options> {
  if (!kebabCase.test(recipe.meta.id)) throw new TypeError(`recipe id must be kebab-case: "${recipe.meta.id}"`);
  if (typeof recipe.setup !== 'function') throw new TypeError(`recipe ${recipe.meta.id}: setup must be a function`);
  return Object.freeze(recipe);
}

/** A recipe whose options type is not known statically (the registry's view). */
export type AnyRecipe = Recipe<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
