import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  BridgeHooks,
  Backoff,
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
} from '../shared/binding/index.js';
import { maskSecrets } from '../shared/mask-secrets.js';
import { MetricsRegistry } from '../shared/metrics.js';
import {
  RecipeOptionsError,
  type AnyRecipe,
  type HostView,
  type RecipeContext,
  type RecipeHandle,
  type RecipeMeta,
} from '../shared/recipe.js';
import { compareDeclarations } from '../shared/recipe-declarations.js';
import { RecipeLifetime } from '../shared/recipe-lifetime.js';
import type { Cluster } from '../shared/cluster.js';
import { openState } from '../shared/open-state.js';
import type { StateBackend } from '../shared/state-store.js';
import { escapePointer } from '../shared/validate.js';
import { ConfigError, formatIssue, type ConfigIssue, type LoadedConfig } from './config.js';
import { WorkerPool } from '../shared/worker-pool.js';
import { BridgeServer, bridgeSecret } from './bridge.js';
import { bridgeNeeds, bridgeScript, runsBridge, scriptHooks } from './bridge-script.js';
import { HostActionGate } from './caller-access.js';
import { TrustedProxies } from './forwarded.js';
import { HttpFront } from './front.js';
import { Health } from './health.js';
import { registerHostMetrics } from './host-metrics.js';
import { createRequestObserver } from './request-metrics.js';
import { isOrthancUnavailable, reserveRoutes } from './waiting-recipe.js';
import { OrthancProcess } from './orthanc-process.js';
import { checkPortFree } from './port-check.js';
import { RemoteAccessGuard, isLoopbackHost } from './remote-access.js';
import { hostVersion } from './version.js';
import { queueOwner, recipeQueues } from '../shared/recipe-queue.js';

export interface HostOptions {
  /** The root logger; one writing to stdout at the configured level by default. */
  log?: Logger;
  /**
   * Aborts the start (SIGTERM before `start` returns): every step checks it, whatever was started
   * (the embedded Orthanc, the feed, the recipes, the front) is stopped, and `start` rejects with
   * the signal's reason.
   */
  signal?: AbortSignal;
}

interface RunningRecipe {
  meta: RecipeMeta;
  /** Its signal and cleanups; closing it is the one way a recipe is shut down. */
  lifetime: RecipeLifetime;
  setupMilliseconds: number;
}

interface FailedRecipe {
  meta: RecipeMeta;
  error: string;
  setupMilliseconds: number;
}

/** A recipe whose setup found Orthanc unreachable (or refusing the host's credentials): set up again until it succeeds. */
interface WaitingRecipe {
  id: string;
  recipe: AnyRecipe;
  options: Record<string, unknown>;
  error: string;
  attempts: number;
  since: Date;
  backoff: Backoff;
  timer: NodeJS.Timeout | undefined;
  nextAttemptAt: number;
  attempting: boolean;
  /** Removes its 503 answers (see waiting-recipe.ts). */
  release: () => void;
}

/** What one setup came to. */
type SetupOutcome =
  | { kind: 'running' }
  | { kind: 'options'; issues: ConfigIssue[] }
  | { kind: 'unavailable' | 'failed'; error: string; setupMilliseconds: number };

/** Back-off between two setups of a waiting recipe; Orthanc coming back also sets it up at once. */
const waitingBackoff = { initialMs: 1000, maxMs: 30_000 };

/**
 * The running host: the embedded Orthanc if any, the connection, the one change feed, the HTTP
 * front and the enabled recipes. It answers requests only once it is ready: the change feed has
 * its starting point and every recipe is set up (or has failed, without harm to the others).
 */
export class Host {
  private readonly abort = new AbortController();
  private closing: Promise<void> | undefined;
  private workerPool: WorkerPool | undefined;
  private readonly waiting: WaitingRecipe[] = [];
  /** Setups of waiting recipes under way: `close` waits for them. */
  private readonly retries = new Set<Promise<void>>();
  /** The one Prometheus registry (`GET /recipes/metrics`); recipes reach it through `ctx.metrics`. */
  readonly metrics: MetricsRegistry;
  /** `GET /recipes/health/live` and `/ready`. */
  readonly health: Health;

  private constructor(
    readonly loaded: LoadedConfig,
    readonly log: Logger,
    readonly connection: OrthancConnection,
    readonly feed: ChangeFeed,
    readonly router: RestRouter,
    private readonly filters: RequestFilters,
    readonly front: HttpFront,
    private readonly state: StateBackend,
    readonly cluster: Cluster,
    private readonly embedded: OrthancProcess | undefined,
    private readonly running: RunningRecipe[],
    private readonly failed: FailedRecipe[],
    private readonly guard: RemoteAccessGuard | undefined,
    private readonly bridge: BridgeServer | undefined,
    private readonly bridgeHooks: BridgeHooks,
    metrics: MetricsRegistry,
    public address: AddressInfo | undefined = undefined,
  ) {
    this.metrics = metrics;
    this.health = new Health({ connection, recipeStates: () => this.recipeStates() });
  }

  /** The front's URL, e.g. `http://127.0.0.1:8043`. */
  get url(): string {
    if (!this.address) throw new Error('the host is not listening');
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}`;
  }

  /** The worker pool that every recipe shares; its threads start at the first task. */
  get workers(): WorkerPool {
    return (this.workerPool ??= new WorkerPool({
      maxThreads: this.loaded.config.WorkerPool.MaxThreads,
      log: renamed(this.log, 'workers'),
    }));
  }

  static async start(loaded: LoadedConfig, options: HostOptions = {}): Promise<Host> {
    const { config } = loaded;
    const log = options.log ?? createLogger('host', { level: config.LogLevel, format: config.LogFormat });
    const { state, cluster } = await openState(config.StateDatabase, loaded.stateDirectory, loaded.configDirectory, log.child('state'));
    let embedded: OrthancProcess | undefined;
    let connection: OrthancConnection | undefined;
    let host: Host | undefined;
    let bridge: BridgeServer | undefined;
    const signal = options.signal;
    /** Rejects when the start is aborted, whatever `step` is waiting for. */
    const step = async <T>(work: Promise<T>): Promise<T> => {
      if (!signal) return work;
      signal.throwIfAborted();
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_resolve, reject) =>
        signal.addEventListener('abort', (onAbort = () => reject(signal.reason as Error)), { once: true }),
      );
      try {
        return await Promise.race([work, aborted]);
      } finally {
        signal.removeEventListener('abort', onAbort!);
      }
    };
    let feedStarted = false;
    try {
      signal?.throwIfAborted();
      await checkPortFree(config.HttpServer.Host, config.HttpServer.Port);
      let url = config.Orthanc.Url;
      // The bridge listens before Orthanc starts, so that the embedded Orthanc's script finds it
      // (answering 503, the script's "host down", until the recipes are set up).
      const needs = bridgeNeeds(loaded.recipes);
      let luaScripts: string[] = [];
      if (runsBridge(config.Bridge.Enabled, needs, !url)) {
        const secret = await bridgeSecret(loaded.stateDirectory);
        const [bridgeHost, bridgePort] = url ? [config.Bridge.Host, config.Bridge.Port] : ['127.0.0.1', 0];
        bridge = await BridgeServer.start({
          host: bridgeHost,
          port: bridgePort,
          secret,
          expectedHooks: scriptHooks(needs),
          log: renamed(log, 'bridge'),
        });
        log.info(`bridge listening on ${bridge.url} for Orthanc's Lua script`);
        if (!url) {
          const script = join(loaded.stateDirectory, 'bridge.lua');
          const scriptOptions = {
            url: config.Bridge.Url || bridge.url,
            secret,
            timeoutSeconds: config.Bridge.TimeoutSeconds,
            whenHostDown: config.Bridge.WhenHostDown,
          };
          await writeFile(script, bridgeScript(needs, scriptOptions), { mode: 0o600 });
          luaScripts = [script];
        }
      }
      if (!url) {
        const extraScripts = (config.Orthanc.Configuration as { LuaScripts?: unknown }).LuaScripts;
        // Ports that the administrator fixed in Orthanc's configuration are the ones to wait on.
        const port = (key: string) =>
          typeof config.Orthanc.Configuration[key] === 'number' ? config.Orthanc.Configuration[key] : undefined;
        embedded = await OrthancProcess.start({
          storageDirectory: join(loaded.stateDirectory, 'orthanc'),
          executable: config.Orthanc.Executable,
          configuration: {
            ...config.Orthanc.Configuration,
            ...(luaScripts.length > 0
              ? { LuaScripts: [...(Array.isArray(extraScripts) ? (extraScripts as unknown[]) : []), ...luaScripts] }
              : {}),
          },
          httpPort: port('HttpPort'),
          dicomPort: port('DicomPort'),
          signal,
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
      // A route taken over from another host follows its job on that host's Orthanc: same users.
      cluster.setPeerConnector((peerUrl) => {
        const peer = new OrthancConnection({
          url: peerUrl,
          username: config.Orthanc.Username,
          password: config.Orthanc.Password,
          timeoutSeconds: config.Orthanc.TimeoutSeconds,
        });
        return { url: peer.url, getJson: (uri) => peer.callJson('GET', uri), close: () => peer.close() };
      });
      const hostState = state.namespace('host');
      const feed = new ChangeFeed({
        connection,
        log: renamed(log, 'changes'),
        pollIntervalMs: config.ChangeFeed.PollIntervalMilliseconds,
        pageSize: config.ChangeFeed.PageSize,
        maxQueued: config.ChangeFeed.MaxQueuedChanges,
        claims: cluster.changeClaims,
        cursor: {
          load: () => hostState.get<number>('changes.cursor'),
          save: (seq) => hostState.set('changes.cursor', seq),
        },
      });
      checkTrustedProxies(loaded);
      const router = new RestRouter();
      const guard =
        isLoopbackHost(config.HttpServer.Host) || config.HttpServer.AllowRemoteAccessWithoutAuthentication
          ? undefined
          : new RemoteAccessGuard(connection, config.HttpServer.Host, log);
      const filters = new RequestFilters();
      const forwardedAuthHeaders = config.HttpServer.ForwardedAuthHeaders;
      const probe = config.HttpServer.HostActionProbe;
      const hostActions = new HostActionGate(
        connection,
        { method: probe.Method, uri: probe.Uri, cacheSeconds: probe.CacheSeconds },
        forwardedAuthHeaders,
        log,
      );
      const metrics = new MetricsRegistry();
      let health: Health | undefined;
      const front = new HttpFront({
        connection,
        router,
        log,
        maxRecipeBodyBytes: config.HttpServer.MaxRecipeBodyMegabytes * 2 ** 20,
        trustedProxies: config.HttpServer.TrustedProxies,
        allowedOrigins: config.HttpServer.AllowedOrigins,
        limits: {
          headTimeoutMs: config.HttpServer.RequestHeadTimeoutSeconds * 1000,
          keepAliveTimeoutMs: config.HttpServer.KeepAliveTimeoutSeconds * 1000,
          bodyIdleTimeoutMs: config.HttpServer.BodyInactivityTimeoutSeconds * 1000,
          maxConnections: config.HttpServer.MaxConnections,
        },
        gate: guard,
        filters,
        forwardedAuthHeaders,
        hostActions,
        answerFirst: (request, response) => health?.answer(request, response) ?? false, // issue 18: health, without credentials
        observe: createRequestObserver(metrics.host, router), // issue 18: request metrics
      });
      const bridgeHooks = new BridgeHooks(renamed(log, 'bridge'));
      const started = new Host(
        loaded,
        log,
        connection,
        feed,
        router,
        filters,
        front,
        state,
        cluster,
        embedded,
        [],
        [],
        guard,
        bridge,
        bridgeHooks,
        metrics,
      );
      host = started;
      health = started.health;
      registerHostMetrics(metrics, { feed, front, workers: () => started.workerPool, recipeStates: () => started.recipeStates() });
      await feed.prepare(signal);
      if (guard) await step(started.guardRemoteAccess(guard));
      router.register('host', '/recipes', (output) => started.describeRecipes(output), { hostAction: true, methods: ['GET'] });
      router.register('host', '/recipes/metrics', (output) => started.answerMetrics(output), { hostAction: true, methods: ['GET'] });
      // A waiting recipe is set up again as soon as the feed sees Orthanc (back) with the host's credentials.
      feed.subscribe('host', () => started.retryWaitingNow(), [ChangeType.ORTHANC_STARTED]);
      const optionsIssues: ConfigIssue[] = [];
      for (const enabled of loaded.recipes)
        optionsIssues.push(...(await step(started.setUpRecipe(enabled.id, enabled.recipe, enabled.options))));
      if (optionsIssues.length > 0) throw new ConfigError(optionsIssues);
      signal?.throwIfAborted();
      feed.start();
      if (bridge) bridge.target = { hooks: bridgeHooks, feed };
      feedStarted = true;
      started.address = await front.listen(config.HttpServer.Host, config.HttpServer.Port);
      signal?.throwIfAborted();
      await cluster.start({ url: started.url, orthanc: connection.url });
      if (cluster.shared) log.info(`sharing the work with the other hosts of the cluster (state in PostgreSQL, host ${cluster.hostId})`);
      log.info(`orthanc-recipes ${hostVersion} listening on ${started.url}, in front of Orthanc at ${connection.url}`);
      started.logWhereToLook();
      return started;
    } catch (error) {
      if (signal?.aborted) log.info('start aborted: stopping what was started');
      await bridge?.close();
      // Everything that keeps the event loop busy stops, so that the CLI exits at once.
      host?.stopWaiting();
      host?.guard?.stop();
      await host?.front.close(0);
      if (feedStarted) await host?.feed.stop();
      await host?.closeRecipes();
      await host?.workerPool?.close();
      await cluster.close();
      await state.close();
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
   * returned, to be reported as configuration errors; and a failure because Orthanc is
   * unreachable or refuses the host's credentials: the recipe then waits and is set up again. A failed or timed-out setup is closed like
   * a running recipe: its signal aborted, its cleanups run, its registrations removed (a setup
   * that finishes after its timeout has its handle closed then).
   */
  private async setUpRecipe(id: string, recipe: AnyRecipe, options: Record<string, unknown>): Promise<ConfigIssue[]> {
    const outcome = await this.attemptSetup(id, recipe, options);
    if (outcome.kind === 'options') return outcome.issues;
    if (outcome.kind === 'failed')
      this.failed.push({ meta: recipe.meta, error: outcome.error, setupMilliseconds: outcome.setupMilliseconds });
    if (outcome.kind === 'unavailable') this.startWaiting(id, recipe, options, outcome.error);
    return [];
  }

  private async attemptSetup(id: string, recipe: AnyRecipe, options: Record<string, unknown>): Promise<SetupOutcome> {
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
    const lifetime = new RecipeLifetime(this.abort.signal, log);
    lifetime.onClose(() => scoped.dispose());
    const keepHandle = (handle: RecipeHandle | void) => {
      if (handle && typeof handle.close === 'function') lifetime.onClose(() => handle.close?.());
    };
    const context: RecipeContext = {
      orthanc: scoped.binding,
      log,
      state: this.state.namespace(`recipe:${id}`),
      database: this.state.database(id),
      cluster: this.cluster.member(id),
      queue: recipeQueues(this.state.database(queueOwner(id))),
      signal: lifetime.signal,
      onClose: lifetime.onClose,
      workers: this.workers,
      configDirectory: this.loaded.configDirectory,
      host: this.view,
      metrics: this.metrics.forRecipe(id),
    };
    const timeoutMs = this.loaded.config.RecipeSetupTimeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    const setup = Promise.resolve().then(() => recipe.setup(context, options));
    try {
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`setup did not finish within ${timeoutMs / 1000} s (ORC_ERR_RECIPE_SETUP_TIMEOUT)`)),
          timeoutMs,
        );
      });
      keepHandle(await Promise.race([setup, timeout]));
      const setupMilliseconds = elapsed();
      this.running.push({ meta: recipe.meta, lifetime, setupMilliseconds });
      for (const mismatch of compareDeclarations(recipe.meta, scoped.registered())) {
        // A route or event missing from `meta` is a mistake; one `meta` lists but setup skipped may be an option turned off.
        log[mismatch.kind === 'undeclared' ? 'warning' : 'debug'](`meta does not match setup: ${mismatch.message}`);
      }
      log.info('enabled');
      return { kind: 'running' };
    } catch (error) {
      await lifetime.close(error);
      // A setup that outlives its timeout finishes with its signal aborted; its handle is closed at once.
      setup.then(keepHandle, () => undefined);
      if (error instanceof RecipeOptionsError) {
        const file = this.loaded.file;
        const issues = error.issues.map((issue) => ({
          file,
          recipe: id,
          pointer: `/Recipes/${escapePointer(id)}${issue.pointer}`,
          message: issue.message,
        }));
        return { kind: 'options', issues };
      }
      const setupMilliseconds = elapsed();
      if (isOrthancUnavailable(error)) return { kind: 'unavailable', error: describe(error), setupMilliseconds };
      log.error(`setup failed, the recipe is disabled: ${describe(error)}`, { recipe: id, setupMilliseconds });
      return { kind: 'failed', error: describe(error), setupMilliseconds };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Puts a recipe in the waiting list: its routes answer 503, and its setup is tried again with back-off. */
  private startWaiting(id: string, recipe: AnyRecipe, options: Record<string, unknown>, error: string): void {
    const waiting: WaitingRecipe = {
      id,
      recipe,
      options,
      error,
      attempts: 1,
      since: new Date(),
      backoff: new Backoff(waitingBackoff.initialMs, waitingBackoff.maxMs),
      timer: undefined,
      nextAttemptAt: 0,
      attempting: false,
      release: () => undefined,
    };
    waiting.release = reserveRoutes(
      this.router,
      recipe.meta,
      () => waiting.error,
      () => (waiting.nextAttemptAt - Date.now()) / 1000,
    );
    this.waiting.push(waiting);
    renamed(this.log, id).warning(`setup failed because Orthanc is unavailable; waiting, and trying again until it succeeds: ${error}`, {
      recipe: id,
    });
    this.scheduleRetry(waiting);
  }

  private scheduleRetry(waiting: WaitingRecipe, delayMs = waiting.backoff.next()): void {
    clearTimeout(waiting.timer);
    waiting.nextAttemptAt = Date.now() + delayMs;
    waiting.timer = setTimeout(() => {
      const retry = this.retry(waiting);
      this.retries.add(retry);
      void retry.finally(() => this.retries.delete(retry));
    }, delayMs);
  }

  /** Orthanc is back: every waiting recipe is set up again now, and its back-off starts over. */
  private retryWaitingNow(): void {
    for (const waiting of this.waiting) {
      waiting.backoff.reset();
      if (!waiting.attempting) this.scheduleRetry(waiting, 0);
    }
  }

  private async retry(waiting: WaitingRecipe): Promise<void> {
    if (this.abort.signal.aborted || waiting.attempting || !this.waiting.includes(waiting)) return;
    waiting.attempting = true;
    const log = renamed(this.log, waiting.id);
    const outcome = await this.attemptSetup(waiting.id, waiting.recipe, waiting.options);
    waiting.attempting = false;
    waiting.attempts += 1;
    if (this.abort.signal.aborted) {
      // The host stopped during this setup; what it started is closed with the others.
      return;
    }
    if (outcome.kind === 'unavailable') {
      if (outcome.error !== waiting.error) log.warning(`still waiting: ${outcome.error}`, { recipe: waiting.id });
      waiting.error = outcome.error;
      return this.scheduleRetry(waiting);
    }
    const index = this.waiting.indexOf(waiting);
    if (index >= 0) this.waiting.splice(index, 1);
    waiting.release();
    if (outcome.kind === 'running')
      return log.info(
        `set up after waiting ${Math.round((Date.now() - waiting.since.getTime()) / 1000)} s for Orthanc (${waiting.attempts} attempts)`,
      );
    // Options that this Orthanc refuses (a destination it does not know), found only now that it
    // answers: the host is running, so the recipe alone is disabled, named as at start.
    const error = outcome.kind === 'options' ? outcome.issues.map(formatIssue).join('; ') : outcome.error;
    if (outcome.kind === 'options')
      log.error(`setup failed, the recipe is disabled: configuration error: ${error}`, { recipe: waiting.id });
    this.failed.push({ meta: waiting.recipe.meta, error, setupMilliseconds: outcome.kind === 'options' ? 0 : outcome.setupMilliseconds });
  }

  /** No more retries of waiting recipes (the host is stopping). */
  private stopWaiting(): void {
    for (const waiting of this.waiting.splice(0)) {
      clearTimeout(waiting.timer);
      waiting.release();
    }
  }

  /** Each enabled recipe's state, in load order. */
  recipeStates(): { id: string; status: 'starting' | 'running' | 'waiting' | 'failed'; error?: string }[] {
    return this.loaded.recipes.map(({ id }) => {
      const failed = this.failed.find((f) => f.meta.id === id);
      if (failed) return { id, status: 'failed', error: failed.error };
      if (this.running.some((r) => r.meta.id === id)) return { id, status: 'running' };
      const waiting = this.waiting.find((w) => w.id === id);
      if (waiting) return { id, status: 'waiting', error: waiting.error };
      return { id, status: 'starting' };
    });
  }

  private async answerMetrics(output: RestOutput): Promise<void> {
    output.answerBuffer(await this.metrics.render(), this.metrics.contentType);
  }

  /** Where an administrator looks next: the embedded Orthanc's DICOM port and AET, and the dashboard. */
  private logWhereToLook(): void {
    if (this.embedded) {
      this.log.info(`embedded Orthanc: DICOM port ${this.embedded.dicomPort}, AET ${this.embedded.aet}, HTTP ${this.embedded.url}`);
    }
    if (this.loaded.recipes.some((r) => r.id === 'dashboard')) this.log.info(`dashboard: ${this.url}/recipes/ui/`);
  }

  private async describeRecipes(output: RestOutput): Promise<void> {
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
    let cluster: unknown;
    try {
      cluster = await this.cluster.describe();
    } catch (error) {
      cluster = {
        Engine: this.cluster.engine,
        HostId: this.cluster.hostId,
        Error: `the state database does not answer: ${describe(error)}`,
      };
    }
    output.answerJson({
      Version: hostVersion,
      Cluster: cluster,
      Orthanc: { ...orthanc, Embedded: this.embedded !== undefined },
      ChangeFeed: {
        Cursor: this.feed.cursor,
        Backlog: this.feed.backlog,
        FiltersTypes: this.feed.filtersTypes,
        OrthancReachable: this.feed.reachable,
      },
      ...(this.bridge
        ? {
            Bridge: {
              Url: this.bridge.url,
              ...this.bridge.counters,
              ...(this.bridge.scriptMismatch ? { ScriptMismatch: this.bridge.scriptMismatch } : {}),
            },
          }
        : {}),
      Recipes: [
        ...this.running.map(({ meta, setupMilliseconds }) => ({
          ...describeMeta(meta),
          Status: 'running',
          SetupMilliseconds: setupMilliseconds,
        })),
        ...this.waiting.map(({ recipe, error, attempts, since, nextAttemptAt }) => ({
          ...describeMeta(recipe.meta),
          Status: 'waiting',
          Error: error,
          Attempts: attempts,
          WaitingSince: since.toISOString(),
          NextAttempt: new Date(Math.max(nextAttemptAt, Date.now())).toISOString(),
        })),
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
    for (const recipe of this.running.splice(0).reverse()) await recipe.lifetime.close(new Error('the host is stopping'));
  }
  /** What recipes see of the host (`ctx.host`): the enabled recipes and their options, secrets masked. */
  private readonly view: HostView = {
    version: hostVersion,
    recipes: () =>
      this.loaded.recipes.map(({ id, recipe, options }) => {
        const { status, error } = this.recipeStates().find((state) => state.id === id)!;
        const masked = maskSecrets(options, { values: [this.loaded.config.Orthanc.Password] });
        const servedRoutes = this.router.routes
          .filter((route) => route.owner === id && !route.reservation)
          .map((route) => `${route.methods?.join(',') ?? '*'} ${route.pattern}`);
        return {
          meta: recipe.meta,
          schema: recipe.schema,
          options: masked,
          status,
          ...(error !== undefined ? { error } : {}),
          servedRoutes,
        };
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
      this.stopWaiting();
      this.abort.abort();
      await Promise.allSettled([...this.retries]);
      await this.feed.stop();
      await this.closeRecipes();
      await this.workerPool?.close();
      await this.cluster.close();
      await this.state.close();
      await this.connection.close();
      await this.embedded?.stop();
      this.log.info('stopped');
    })();
    return this.closing;
  }
}

/** Every `HttpServer.TrustedProxies` entry must be an IP address or range (a ConfigError otherwise). */
function checkTrustedProxies(loaded: LoadedConfig): void {
  const issues: ConfigIssue[] = [];
  loaded.config.HttpServer.TrustedProxies.forEach((entry, index) => {
    try {
      new TrustedProxies([entry]);
    } catch (error) {
      issues.push({ file: loaded.file, pointer: `/HttpServer/TrustedProxies/${index}`, message: describe(error) });
    }
  });
  if (issues.length > 0) throw new ConfigError(issues);
}
