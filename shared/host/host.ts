import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import {
  ChangeFeed,
  OrthancConnection,
  RestRouter,
  createLogger,
  createScopedBinding,
  describe,
  type Logger,
  type RestOutput,
  type RestRequest,
  type ScopedBinding,
} from '../binding/index.js';
import type { AnyRecipe, RecipeHandle, RecipeMeta } from '../recipe.js';
import { StateStore } from '../state-store.js';
import { WorkerPool } from '../worker-pool.js';
import type { LoadedConfig } from './config.js';
import { HttpFront } from './front.js';
import { OrthancProcess } from './orthanc-process.js';
import { hostVersion } from './version.js';

export interface HostOptions {
  /** The root logger; one writing to stdout at the configured level by default. */
  log?: Logger;
}

interface RunningRecipe {
  meta: RecipeMeta;
  scoped: ScopedBinding;
  handle: RecipeHandle | void;
}

interface FailedRecipe {
  meta: RecipeMeta;
  error: string;
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
    readonly front: HttpFront,
    private readonly state: StateStore,
    private readonly embedded: OrthancProcess | undefined,
    private readonly running: RunningRecipe[],
    private readonly failed: FailedRecipe[],
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
    return (this.workerPool ??= new WorkerPool({ maxThreads: this.loaded.config.WorkerPool.MaxThreads, log: this.log.child('workers') }));
  }

  static async start(loaded: LoadedConfig, options: HostOptions = {}): Promise<Host> {
    const { config } = loaded;
    const log = options.log ?? createLogger('host', { level: config.LogLevel });
    const state = new StateStore(loaded.stateDirectory);
    let embedded: OrthancProcess | undefined;
    let connection: OrthancConnection | undefined;
    try {
      let url = config.Orthanc.Url;
      if (!url) {
        embedded = await OrthancProcess.start({
          storageDirectory: join(loaded.stateDirectory, 'orthanc'),
          executable: config.Orthanc.Executable,
          configuration: config.Orthanc.Configuration,
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
        log: log.child('changes'),
        pollIntervalMs: config.ChangeFeed.PollIntervalMilliseconds,
        pageSize: config.ChangeFeed.PageSize,
        maxQueued: config.ChangeFeed.MaxQueuedChanges,
        cursor: {
          load: () => hostState.get<number>('changes.cursor'),
          save: (seq) => hostState.set('changes.cursor', seq),
        },
      });
      const router = new RestRouter();
      const front = new HttpFront({ connection, router, log, maxRecipeBodyBytes: config.HttpServer.MaxRecipeBodyMegabytes * 2 ** 20 });
      const host = new Host(loaded, log, connection, feed, router, front, state, embedded, [], []);
      await feed.prepare();
      router.register('host', '/recipes', (output, _uri, request) => host.describeRecipes(output, request));
      for (const enabled of loaded.recipes) await host.setUpRecipe(enabled.id, enabled.recipe, enabled.options);
      feed.start();
      host.address = await front.listen(config.HttpServer.Host, config.HttpServer.Port);
      log.info(`orthanc-recipes ${hostVersion} listening on ${host.url}, in front of Orthanc at ${connection.url}`);
      return host;
    } catch (error) {
      state.close();
      await connection?.close();
      await embedded?.stop();
      throw error;
    }
  }

  private async setUpRecipe(id: string, recipe: AnyRecipe, options: Record<string, unknown>): Promise<void> {
    const log = this.log.child(id);
    const scoped = createScopedBinding({ connection: this.connection, feed: this.feed, router: this.router, log, owner: id });
    const context = {
      orthanc: scoped.binding,
      log,
      state: this.state.namespace(`recipe:${id}`),
      signal: this.abort.signal,
      workers: this.workers,
      configDirectory: dirname(resolve(this.loaded.file)),
    };
    const timeoutMs = this.loaded.config.RecipeSetupTimeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`setup did not finish within ${timeoutMs / 1000} s (ORC_ERR_RECIPE_SETUP_TIMEOUT)`)), timeoutMs);
      });
      const handle = await Promise.race([Promise.resolve().then(() => recipe.setup(context, options)), timeout]);
      this.running.push({ meta: recipe.meta, scoped, handle });
      log.info('enabled');
    } catch (error) {
      scoped.dispose();
      this.failed.push({ meta: recipe.meta, error: describe(error) });
      log.error(`setup failed, the recipe is disabled: ${describe(error)}`);
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
      Recipes: [
        ...this.running.map(({ meta }) => ({ ...describeMeta(meta), Status: 'running' })),
        ...this.failed.map(({ meta, error }) => ({ ...describeMeta(meta), Status: 'failed', Error: error })),
      ],
    });
  }

  /**
   * Stops in order: stop accepting and finish requests in flight, deliver ORTHANC_STOPPED and
   * drain the change handlers, close the recipes in reverse order, save state, stop Orthanc.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.front.close();
      this.abort.abort();
      await this.feed.stop();
      for (const recipe of [...this.running].reverse()) {
        try {
          await recipe.handle?.close?.();
        } catch (error) {
          this.log.error(`recipe ${recipe.meta.id}: close failed: ${describe(error)}`);
        }
        recipe.scoped.dispose();
      }
      await this.workerPool?.close();
      this.state.close();
      await this.connection.close();
      await this.embedded?.stop();
      this.log.info('stopped');
    })();
    return this.closing;
  }
}
