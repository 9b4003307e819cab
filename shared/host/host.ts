import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  BridgeHooks,
  ChangeFeed,
  ChangeType,
  OrthancConnection,
  RequestFilters,
  RestRouter,
  createLogger,
  createScopedBinding,
  renamed,
  describe,
  type Logger,
  type RestOutput,
  type RestRequest,
  type ScopedBinding,
} from '../binding/index.js';
import { maskSecrets } from '../mask-secrets.js';
import { RecipeOptionsError, type AnyRecipe, type HostView, type RecipeHandle, type RecipeMeta } from '../recipe.js';
import { StateStore } from '../state-store.js';
import { escapePointer } from '../validate.js';
import { ConfigError, type ConfigIssue, type LoadedConfig } from './config.js';
import { WorkerPool } from '../worker-pool.js';
import { BridgeServer, bridgeSecret } from './bridge.js';
import { bridgeNeeds, bridgeScript, runsBridge } from './bridge-script.js';
import { HostActionGate } from './caller-access.js';
import { HttpFront } from './front.js';
import { OrthancProcess } from './orthanc-process.js';
import { RemoteAccessGuard, isLoopbackHost } from './remote-access.js';
import { hostVersion } from './version.js';
import { queueOwner, recipeQueues } from '../recipe-queue.js';

export interface HostOptions {
  /** The root logger; one writing to stdout at the configured level by default. */
  log?: Logger;
}

interface RunningRecipe {
  meta: RecipeMeta;
  scoped: ScopedBinding;
  handle: RecipeHandle | void;
  setupMilliseconds: number;
}

interface FailedRecipe {
  meta: RecipeMeta;
  error: string;
  setupMilliseconds: number;
}

/**
 * The running host: the embedded Orthanc if any, the connection, the one change feed, the HTTP
 * front and the enabled recipes. It answers requests only once it is ready: the change feed has
 * its starting point and every recipe is set up (or has failed, without harm to the others).
 */
export class Host {
  private readonly abort = new AbortController();
  private closing: Promise<void> | undefined;
  private workerPool: WorkerPool | undefined;

  private constructor(
    readonly loaded: LoadedConfig,
    readonly log: Logger,
    readonly connection: OrthancConnection,
    readonly feed: ChangeFeed,
    readonly router: RestRouter,
    private readonly filters: RequestFilters,
    readonly front: HttpFront,
    private readonly state: StateStore,
    private readonly embedded: OrthancProcess | undefined,
    private readonly running: RunningRecipe[],
    private readonly failed: FailedRecipe[],
    private readonly guard: RemoteAccessGuard | undefined,
    private readonly bridge: BridgeServer | undefined,
    private readonly bridgeHooks: BridgeHooks,
    public address: AddressInfo | undefined = undefined,
  ) {}

  /** The front's URL, e.g. `http://127.0.0.1:8043`. */
  get url(): string {
    if (!this.address) throw new Error('the host is not listening');
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}`;
  }

  /** The worker pool that every recipe shares; its threads start at the first task. */
  get workers(): WorkerPool {
    return (this.workerPool ??= new WorkerPool({ maxThreads: this.loaded.config.WorkerPool.MaxThreads, log: renamed(this.log, 'workers') }));
  }

  static async start(loaded: LoadedConfig, options: HostOptions = {}): Promise<Host> {
    const { config } = loaded;
    const log = options.log ?? createLogger('host', { level: config.LogLevel, format: config.LogFormat });
    const state = new StateStore(loaded.stateDirectory);
    let embedded: OrthancProcess | undefined;
    let connection: OrthancConnection | undefined;
    let host: Host | undefined;
    let bridge: BridgeServer | undefined;
    try {
      let url = config.Orthanc.Url;
      // The bridge listens before Orthanc starts, so that the embedded Orthanc's script finds it
      // (answering 503, the script's "host down", until the recipes are set up).
      const needs = bridgeNeeds(loaded.recipes.map(({ recipe }) => recipe.meta));
      let luaScripts: string[] = [];
      if (runsBridge(config.Bridge.Enabled, needs, !url)) {
        const secret = await bridgeSecret(loaded.stateDirectory);
        const [bridgeHost, bridgePort] = url ? [config.Bridge.Host, config.Bridge.Port] : ['127.0.0.1', 0];
        bridge = await BridgeServer.start({ host: bridgeHost, port: bridgePort, secret, log: renamed(log, 'bridge') });
        log.info(`bridge listening on ${bridge.url} for Orthanc's Lua script`);
        if (!url) {
          const script = join(loaded.stateDirectory, 'bridge.lua');
          const scriptOptions = { url: config.Bridge.Url || bridge.url, secret, timeoutSeconds: config.Bridge.TimeoutSeconds, whenHostDown: config.Bridge.WhenHostDown };
          await writeFile(script, bridgeScript(needs, scriptOptions), { mode: 0o600 });
          luaScripts = [script];
        }
      }
      if (!url) {
        const extraScripts = (config.Orthanc.Configuration as { LuaScripts?: unknown }).LuaScripts;
        embedded = await OrthancProcess.start({
          storageDirectory: join(loaded.stateDirectory, 'orthanc'),
          executable: config.Orthanc.Executable,
          configuration: {
            ...config.Orthanc.Configuration,
            ...(luaScripts.length > 0 ? { LuaScripts: [...(Array.isArray(extraScripts) ? extraScripts : []), ...luaScripts] } : {}),
          },
        });
        url = embedded.url;
        log.info(`embedded Orthanc started at ${url} (storage in ${join(loaded.stateDirectory, 'orthanc')})`);
      }
      connection = new OrthancConnection({
        url,
        username: config.Orthanc.Username,
        password: config.Orthanc.Password,
        timeoutSeconds: config.Orthanc.TimeoutSeconds,
      });
      const hostState = state.namespace('host');
      const feed = new ChangeFeed({
        connection,
        log: renamed(log, 'changes'),
        pollIntervalMs: config.ChangeFeed.PollIntervalMilliseconds,
        pageSize: config.ChangeFeed.PageSize,
        maxQueued: config.ChangeFeed.MaxQueuedChanges,
        cursor: {
          load: () => hostState.get<number>('changes.cursor'),
          save: (seq) => hostState.set('changes.cursor', seq),
        },
      });
      const router = new RestRouter();
      const guard =
        isLoopbackHost(config.HttpServer.Host) || config.HttpServer.AllowRemoteAccessWithoutAuthentication
          ? undefined
          : new RemoteAccessGuard(connection, config.HttpServer.Host, log);
      const filters = new RequestFilters();
      const forwardedAuthHeaders = config.HttpServer.ForwardedAuthHeaders;
      const probe = config.HttpServer.HostActionProbe;
      const hostActions = new HostActionGate(connection, { method: probe.Method, uri: probe.Uri, cacheSeconds: probe.CacheSeconds }, forwardedAuthHeaders, log);
      const front = new HttpFront({
        connection,
        router,
        log,
        maxRecipeBodyBytes: config.HttpServer.MaxRecipeBodyMegabytes * 2 ** 20,
        gate: guard,
        filters,
        forwardedAuthHeaders,
        hostActions,
      });
      const bridgeHooks = new BridgeHooks(renamed(log, 'bridge'));
      const started = new Host(loaded, log, connection, feed, router, filters, front, state, embedded, [], [], guard, bridge, bridgeHooks);
      host = started;
      await feed.prepare();
      if (guard) await started.guardRemoteAccess(guard);
      router.register('host', '/recipes', (output, _uri, request) => started.describeRecipes(output, request), { hostAction: true });
      const optionsIssues: ConfigIssue[] = [];
      for (const enabled of loaded.recipes) optionsIssues.push(...(await started.setUpRecipe(enabled.id, enabled.recipe, enabled.options)));
      if (optionsIssues.length > 0) throw new ConfigError(optionsIssues);
      feed.start();
      if (bridge) bridge.target = { hooks: bridgeHooks, feed };
      started.address = await front.listen(config.HttpServer.Host, config.HttpServer.Port);
      log.info(`orthanc-recipes ${hostVersion} listening on ${started.url}, in front of Orthanc at ${connection.url}`);
      return started;
    } catch (error) {
      await bridge?.close();
      await host?.closeRecipes();
      await host?.workerPool?.close();
      state.close();
      await connection?.close();
      await embedded?.stop();
      throw error;
    }
  }

  /**
   * Refuses to start when the front would open an unprotected Orthanc to the network, and shuts
   * the door whenever Orthanc goes away until it is seen to require credentials again.
   */
  private async guardRemoteAccess(guard: RemoteAccessGuard): Promise<void> {
    const verdict = await guard.check();
    if (verdict === 'open') throw new ConfigError([{ file: this.loaded.file, pointer: '/HttpServer/Host', message: guard.explanation() }]);
    if (verdict === 'requires-credentials') guard.open();
    else guard.recheck('Orthanc does not answer yet');
    this.feed.subscribe(
      'host',
      (change) => {
        if (change.changeType === ChangeType.ORTHANC_STOPPED) guard.recheck('Orthanc became unreachable');
        else if (guard.refusal !== undefined) guard.recheck('Orthanc is reachable again');
      },
      [ChangeType.ORTHANC_STARTED, ChangeType.ORTHANC_STOPPED],
    );
  }

  /**
   * Sets one recipe up. A failure disables it alone, except a `RecipeOptionsError`: its issues are
   * returned, to be reported as configuration errors.
   */
  private async setUpRecipe(id: string, recipe: AnyRecipe, options: Record<string, unknown>): Promise<ConfigIssue[]> {
    const log = renamed(this.log, id);
    const scoped = createScopedBinding({
      connection: this.connection,
      feed: this.feed,
      router: this.router,
      filters: this.filters,
      log,
      owner: id,
      bridge: this.bridge && this.bridgeHooks,
    });
    const context = {
      orthanc: scoped.binding,
      log,
      state: this.state.namespace(`recipe:${id}`),
      database: this.state.database(id),
      queue: recipeQueues(this.state.database(queueOwner(id))),
      signal: this.abort.signal,
      workers: this.workers,
      configDirectory: this.loaded.configDirectory,
      host: this.view,
    };
    const timeoutMs = this.loaded.config.RecipeSetupTimeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    try {
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`setup did not finish within ${timeoutMs / 1000} s (ORC_ERR_RECIPE_SETUP_TIMEOUT)`)), timeoutMs);
      });
      const handle = await Promise.race([Promise.resolve().then(() => recipe.setup(context, options)), timeout]);
      const setupMilliseconds = elapsed();
      this.running.push({ meta: recipe.meta, scoped, handle, setupMilliseconds });
      log.info('enabled');
      return [];
    } catch (error) {
      scoped.dispose();
      if (error instanceof RecipeOptionsError) {
        const file = this.loaded.file;
        return error.issues.map((issue) => ({ file, recipe: id, pointer: `/Recipes/${escapePointer(id)}${issue.pointer}`, message: issue.message }));
      }
      const setupMilliseconds = elapsed();
      this.failed.push({ meta: recipe.meta, error: describe(error), setupMilliseconds });
      log.error(`setup failed, the recipe is disabled: ${describe(error)}`, { recipe: id, setupMilliseconds });
      return [];
    } finally {
      clearTimeout(timer);
    }
  }

  private async describeRecipes(output: RestOutput, request: RestRequest): Promise<void> {
    if (request.method !== 'GET') return output.sendMethodNotAllowed('GET');
    let orthanc: Record<string, unknown>;
    try {
      const system = await this.connection.callJson<{ Version: string; ApiVersion: number }>('GET', '/system');
      orthanc = { Url: this.connection.url, Answers: true, Version: system.Version, ApiVersion: system.ApiVersion };
    } catch (error) {
      orthanc = { Url: this.connection.url, Answers: false, Error: describe(error) };
    }
    const describeMeta = (meta: RecipeMeta) => ({
      Id: meta.id,
      Title: meta.title,
      Description: meta.description,
      Routes: meta.routes,
      Events: meta.events,
      Destructive: meta.destructive,
    });
    output.answerJson({
      Version: hostVersion,
      Orthanc: { ...orthanc, Embedded: this.embedded !== undefined },
      ChangeFeed: { Cursor: this.feed.cursor, Backlog: this.feed.backlog, FiltersTypes: this.feed.filtersTypes, OrthancReachable: this.feed.reachable },
      ...(this.bridge ? { Bridge: { Url: this.bridge.url, ...this.bridge.counters } } : {}),
      Recipes: [
        ...this.running.map(({ meta, setupMilliseconds }) => ({ ...describeMeta(meta), Status: 'running', SetupMilliseconds: setupMilliseconds })),
        ...this.failed.map(({ meta, error, setupMilliseconds }) => ({
          ...describeMeta(meta),
          Status: 'failed',
          SetupMilliseconds: setupMilliseconds,
          Error: error,
        })),
      ],
    });
  }

  /** Closes the running recipes in reverse order; a failing close is logged, and the others still close. */
  private async closeRecipes(): Promise<void> {
    for (const recipe of this.running.splice(0).reverse()) {
      try {
        await recipe.handle?.close?.();
      } catch (error) {
        this.log.error(`recipe ${recipe.meta.id}: close failed: ${describe(error)}`);
      }
      recipe.scoped.dispose();
    }
  }
  /** What recipes see of the host (`ctx.host`): the enabled recipes and their options, secrets masked. */
  private readonly view: HostView = {
    version: hostVersion,
    recipes: () =>
      this.loaded.recipes.map(({ id, recipe, options }) => {
        const failed = this.failed.find((f) => f.meta.id === id);
        const status = failed ? 'failed' : this.running.some((r) => r.meta.id === id) ? 'running' : 'starting';
        const masked = maskSecrets(options, { values: [this.loaded.config.Orthanc.Password] });
        return { meta: recipe.meta, schema: recipe.schema, options: masked, status, ...(failed ? { error: failed.error } : {}) };
      }),
  };

  /**
   * Stops in order: stop accepting and finish requests in flight, deliver ORTHANC_STOPPED and
   * drain the change handlers, close the recipes in reverse order, save state, stop Orthanc.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.front.close();
      await this.bridge?.close();
      this.guard?.stop();
      this.abort.abort();
      await this.feed.stop();
      await this.closeRecipes();
      await this.workerPool?.close();
      this.state.close();
      await this.connection.close();
      await this.embedded?.stop();
      this.log.info('stopped');
    })();
    return this.closing;
  }
}
