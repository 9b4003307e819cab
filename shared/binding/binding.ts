import type { ChangeFeed } from './change-feed.js';
import type { OrthancConnection, RawAnswer, RestBody } from './connection.js';
import { DicomInstance } from './dicom-instance.js';
import { ChangeType, type ChangeTypeName, type ChangeTypeValue, type ResourceTypeValue } from './enums.js';
import { BindingError, isNotFound } from './errors.js';
import type { Logger } from './logger.js';
import type {
  BridgeHooks,
  IncomingCStoreInstanceFilter,
  IncomingFindRequestFilter,
  IncomingWorklistRequestFilter,
  ReceivedInstanceFilter,
} from './bridge-hooks.js';
import type { IncomingHttpRequestFilter, RequestFilters } from './request-filters.js';
import type { RestCallback, RestRouter, RouteOptions } from './rest-router.js';
import { openStream, type StreamedAnswer } from './rest-stream.js';

export type OnChangeCallback = (changeType: ChangeTypeValue, resourceType: ResourceTypeValue, resourceId: string) => unknown;
export type OnStoredInstanceCallback = (instance: DicomInstance, instanceId: string) => unknown;

/** Orthanc's `/system`; fields after `ApiVersion` 16 (Orthanc 1.10) may be absent. */
export interface OrthancSystem {
  ApiVersion: number;
  Version: string;
  Name: string;
  DicomAet: string;
  DicomPort: number;
  HttpPort: number;
  Capabilities?: { HasExtendedChanges?: boolean; HasExtendedFind?: boolean };
  [field: string]: unknown;
}

/**
 * The TypeScript counterpart of the Python plugin's `orthanc` module, over Orthanc's REST API.
 * Names are the Python ones in lower camel case (`RestApiGet` is `restApiGet`). Calls return
 * promises; registrations may be made any number of times (the Python plugin allows one each).
 */
export interface OrthancBinding {
  /**
   * GET a URI of Orthanc's REST API (e.g. `/system`); a status outside 2xx throws `OrthancHttpError`.
   * `headers` are sent as well (e.g. `Accept` to choose the format of `/instances/{id}/rendered`).
   */
  restApiGet(uri: string, headers?: Record<string, string>): Promise<Buffer>;
  /** POST `body` (bytes or text as they are, anything else as JSON). */
  restApiPost(uri: string, body?: RestBody): Promise<Buffer>;
  restApiPut(uri: string, body?: RestBody): Promise<Buffer>;
  restApiDelete(uri: string): Promise<Buffer>;
  /**
   * Sends any request and resolves with Orthanc's whole answer (status, headers, body) whatever
   * its status, for a recipe that passes Orthanc's answer on as it is. Throws only when Orthanc
   * cannot be reached.
   */
  restApiRequest(method: string, uri: string, body?: RestBody, headers?: Record<string, string>): Promise<RawAnswer>;
  /**
   * GET whose body is read as it arrives (a study's archive, say), with back-pressure; resolves
   * with the headers, throws `OrthancHttpError` outside 2xx. Abort `signal` to stop the read
   * (pass `output.signal` to stop with the client).
   */
  restApiGetStream(uri: string, options?: { signal?: AbortSignal; headers?: Record<string, string> }): Promise<StreamedAnswer>;
  /** `restApiGet`, parsed as JSON. */
  restApiGetJson<T = unknown>(uri: string): Promise<T>;
  restApiPostJson<T = unknown>(uri: string, body?: RestBody): Promise<T>;
  restApiPutJson<T = unknown>(uri: string, body?: RestBody): Promise<T>;
  restApiDeleteJson<T = unknown>(uri: string): Promise<T>;
  /** The DICOM file of an instance, by Orthanc ID. */
  getDicomForInstance(instanceId: string): Promise<Buffer>;
  /**
   * The same file as chunks that each own their ArrayBuffer, for a large file bound for a worker
   * thread: transfer them all (`{ transfer: chunks.map((c) => c.buffer) }`) and join them there,
   * so that the event loop never fills a buffer of the whole file.
   */
  getDicomChunksForInstance(instanceId: string): Promise<Uint8Array<ArrayBuffer>[]>;
  /** Orthanc's `/system`, to detect features (`ApiVersion`, `Capabilities`) rather than assume a version. */
  getSystem(): Promise<OrthancSystem>;
  /**
   * Serves `pathRegex` (matched against the whole path, groups captured) on the host's HTTP front.
   * Handlers may be async; a thrown error becomes a JSON 500, never a crash. The handler's
   * `request.orthanc` calls Orthanc as the caller: use it for whatever is read for the caller.
   * Callers must have credentials that Orthanc accepts, unless `options.public` (a health check).
   * `options.maxBodyBytes` declares the largest body the route reads (default 1 MiB; 0: none).
   * With `options.hostAction` (a status page, a retry, a run now: something done with the host's
   * own rights), the front lets in only a caller whom Orthanc lets perform the host-action probe
   * (`HttpServer.HostActionProbe`, by default `GET /jobs`: an administrator).
   */
  registerRestCallback(pathRegex: string, callback: RestCallback, options?: Omit<RouteOptions, 'binding'>): void;
  /**
   * Called by the front for every request, proxied to Orthanc or served by a recipe, before either
   * sees it; every filter must return `true` (anything else, or a throw, answers 403).
   */
  registerIncomingHttpRequestFilter(filter: IncomingHttpRequestFilter): void;
  /**
   * Called for each change, in `Seq` order, at least once (see the change feed). With `types`,
   * only for those change types (and on Orthanc 1.12.5+, only those are read from `/changes`).
   */
  /**
   * With several hosts on one cluster, each change is handled by one host only (claimed in the
   * shared state first); `everyHost: true` delivers it on every host (for what each host keeps
   * for itself, such as a cache or an in-memory index).
   */
  registerOnChangeCallback(callback: OnChangeCallback, options?: { types?: readonly ChangeTypeName[]; everyHost?: boolean }): void;
  /** Called for each stored instance (NEW_INSTANCE); an instance deleted meanwhile is skipped. */
  registerOnStoredInstanceCallback(callback: OnStoredInstanceCallback): void;
  /**
   * Decides, before Orthanc stores it, whether an instance received by any means (REST, DICOM,
   * …) is kept. Needs the host's Lua bridge (`orthanc-recipes bridge`): the recipe declares
   * `bridge: ['ReceivedInstanceFilter']` in its meta. The Python plugin's
   * `RegisterIncomingDicomInstanceFilter`.
   */
  registerReceivedInstanceFilter(callback: ReceivedInstanceFilter): void;
  /**
   * Decides a C-STORE before Orthanc stores the instance: 0 accepts, any other DIMSE status
   * refuses. Needs the bridge (`bridge: ['ReceivedCStoreInstanceFilter']` in meta). The Python
   * plugin's `RegisterIncomingCStoreInstanceFilter`. Orthanc's Lua cannot pass a status on
   * (1.10.1 to 1.12.7 at least): the bridge refuses by raising an error in Lua, which Orthanc
   * answers 0xA700 (out of resources) whatever status the filter returned.
   */
  registerIncomingCStoreInstanceFilter(callback: IncomingCStoreInstanceFilter): void;
  /**
   * Rewrites or refuses (null) each C-FIND Orthanc's own DICOM server receives (not worklists),
   * before Orthanc runs it. Needs the bridge (`bridge: ['IncomingFindRequestFilter']` in meta).
   * After Orthanc's Lua `IncomingFindRequestFilter`; the Python plugin has no counterpart.
   */
  registerIncomingFindRequestFilter(callback: IncomingFindRequestFilter): void;
  /**
   * The same for worklist C-FINDs, before Orthanc's worklist plugin answers them
   * (`bridge: ['IncomingWorklistRequestFilter']`). After Lua's `IncomingWorklistRequestFilter`.
   */
  registerIncomingWorklistRequestFilter(callback: IncomingWorklistRequestFilter): void;
  logInfo(message: string): void;
  logWarning(message: string): void;
  logError(message: string): void;
}

export interface BindingParts {
  connection: OrthancConnection;
  feed: ChangeFeed;
  router: RestRouter;
  /** Where `registerIncomingHttpRequestFilter` registers; without it, registering throws. */
  filters?: RequestFilters;
  log: Logger;
  /** Who registers: a recipe id, used in logs and to remove everything it registered. */
  owner: string;
  /** The Lua bridge's hooks, when the host runs the bridge. */
  bridge?: BridgeHooks;
}

/** A binding whose registrations can all be removed at once (when a recipe fails or closes). */
export interface ScopedBinding {
  binding: OrthancBinding;
  dispose(): void;
  /** What was registered through it: route patterns and change types (`'all'` for a callback without `types`). */
  /** `methods`: each route's declared methods (`RouteOptions.methods`), by pattern; absent: every method. */
  registered(): { routes: string[]; events: ChangeTypeName[] | 'all'; methods: Record<string, readonly string[]> };
}

/** The REST calls of a binding, over `connection` and with its credentials. */
export function restCallsOver(connection: OrthancConnection): RestCalls {
  const encode = encodeURIComponent;
  return {
    restApiGet: (uri, headers) => connection.call('GET', uri, undefined, headers),
    restApiPost: (uri, body) => connection.call('POST', uri, body ?? ''),
    restApiPut: (uri, body) => connection.call('PUT', uri, body ?? ''),
    restApiDelete: (uri) => connection.call('DELETE', uri),
    restApiRequest: (method, uri, body, headers) => connection.send(method, uri, body, headers),
    restApiGetStream: (uri, options) => openStream(connection, uri, options),
    restApiGetJson: (uri) => connection.callJson('GET', uri),
    restApiPostJson: (uri, body) => connection.callJson('POST', uri, body ?? ''),
    restApiPutJson: (uri, body) => connection.callJson('PUT', uri, body ?? ''),
    restApiDeleteJson: (uri) => connection.callJson('DELETE', uri),
    getDicomForInstance: (instanceId) => connection.call('GET', `/instances/${encode(instanceId)}/file`),
    getDicomChunksForInstance: (instanceId) => connection.getChunks(`/instances/${encode(instanceId)}/file`),
    getSystem: () => connection.callJson<OrthancSystem>('GET', '/system'),
  };
}

/** The functions of a binding that call Orthanc. */
export type RestCalls = Pick<
  OrthancBinding,
  | 'restApiGet'
  | 'restApiPost'
  | 'restApiPut'
  | 'restApiDelete'
  | 'restApiRequest'
  | 'restApiGetJson'
  | 'restApiPostJson'
  | 'restApiPutJson'
  | 'restApiDeleteJson'
  | 'getDicomForInstance'
  | 'getDicomChunksForInstance'
  | 'restApiGetStream'
  | 'getSystem'
>;

/**
 * `base` with its REST calls made over `connection` (the caller's credentials, the same pool);
 * registrations and logs are `base`'s. Without `base`, registering throws.
 */
export function createCallerBinding(connection: OrthancConnection, base?: OrthancBinding): OrthancBinding {
  const refuse = () => {
    throw new BindingError('ORC_ERR_BAD_ROUTE', "this binding only calls Orthanc: register from the recipe's own binding");
  };
  const registrations = base ?? {
    registerRestCallback: refuse,
    registerIncomingHttpRequestFilter: refuse,
    registerOnChangeCallback: refuse,
    registerOnStoredInstanceCallback: refuse,
    registerReceivedInstanceFilter: refuse,
    registerIncomingCStoreInstanceFilter: refuse,
    registerIncomingFindRequestFilter: refuse,
    registerIncomingWorklistRequestFilter: refuse,
    logInfo: () => undefined,
    logWarning: () => undefined,
    logError: () => undefined,
  };
  // The base binding's registrations and logs (plain functions of an object literal: no `this`), its REST calls replaced.
  return { ...registrations, ...restCallsOver(connection) };
}

export function createScopedBinding({ connection, feed, router, filters, log, owner, bridge }: BindingParts): ScopedBinding {
  const disposers: (() => void)[] = [];
  let disposed = false;
  const routes: string[] = [];
  const methods: Record<string, readonly string[]> = Object.create(null) as Record<string, readonly string[]>;
  const events = new Set<ChangeTypeName>();
  let allEvents = false;
  const keep = (dispose: () => void) => {
    if (!disposed) return void disposers.push(dispose);
    dispose();
    log.warning('a registration came after this recipe was stopped; it was removed');
  };
  const binding: OrthancBinding = {
    ...restCallsOver(connection),
    registerRestCallback(pathRegex, callback, options) {
      keep(
        router.register(owner, pathRegex, callback, {
          ...options,
          public: options?.public === true,
          hostAction: options?.hostAction === true,
          binding,
        }),
      );
      routes.push(pathRegex);
      if (options?.methods) methods[pathRegex] = [...options.methods];
    },
    registerIncomingHttpRequestFilter(filter) {
      if (!filters) throw new BindingError('ORC_ERR_BAD_ROUTE', 'no HTTP front runs filters here');
      if (typeof filter !== 'function') throw new TypeError('registerIncomingHttpRequestFilter: the filter must be a function');
      keep(filters.register(owner, filter));
    },
    registerOnChangeCallback(callback, options) {
      const types = options?.types?.map((name) => ChangeType[name]);
      if (options?.types) for (const name of options.types) events.add(name);
      else allEvents = true;
      keep(feed.subscribe(owner, (c) => callback(c.changeType, c.resourceType, c.resourceId), types, { everyHost: options?.everyHost }));
    },
    registerOnStoredInstanceCallback(callback) {
      const onNewInstance = async ({ resourceId }: { resourceId: string }) => {
        const instance = new DicomInstance(connection, resourceId);
        try {
          await instance.getAllMetadata();
          await callback(instance, resourceId);
        } catch (error) {
          if (isNotFound(error) && !(await exists(connection, resourceId))) {
            log.debug(`instance ${resourceId} was deleted before its callback finished`);
            return;
          }
          throw error;
        }
      };
      keep(feed.subscribe(owner, onNewInstance, [ChangeType.NEW_INSTANCE]));
      events.add('NEW_INSTANCE');
    },
    registerReceivedInstanceFilter(callback) {
      keep(requireBridge(bridge, 'registerReceivedInstanceFilter').addReceivedInstanceFilter(owner, callback));
    },
    registerIncomingCStoreInstanceFilter(callback) {
      keep(requireBridge(bridge, 'registerIncomingCStoreInstanceFilter').addIncomingCStoreInstanceFilter(owner, callback));
    },
    registerIncomingFindRequestFilter(callback) {
      keep(requireBridge(bridge, 'registerIncomingFindRequestFilter').addIncomingFindRequestFilter(owner, callback));
    },
    registerIncomingWorklistRequestFilter(callback) {
      keep(requireBridge(bridge, 'registerIncomingWorklistRequestFilter').addIncomingWorklistRequestFilter(owner, callback));
    },
    logInfo: (message) => log.info(message),
    logWarning: (message) => log.warning(message),
    logError: (message) => log.error(message),
  };
  return {
    binding,
    dispose: () => {
      disposed = true;
      for (const dispose of disposers.splice(0).reverse()) dispose();
    },
    registered: () => ({ routes: [...routes], events: allEvents ? 'all' : [...events], methods: { ...methods } }),
  };
}

function requireBridge(bridge: BridgeHooks | undefined, what: string): BridgeHooks {
  if (!bridge)
    throw new BindingError('ORC_ERR_NO_BRIDGE', `${what} needs the host's Lua bridge: declare the hook in the recipe's meta.bridge`);
  return bridge;
}

async function exists(connection: OrthancConnection, instanceId: string): Promise<boolean> {
  const answer = await connection.send('GET', `/instances/${encodeURIComponent(instanceId)}/metadata`);
  return answer.statusCode !== 404;
}
