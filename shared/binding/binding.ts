import type { ChangeFeed } from './change-feed.js';
import type { OrthancConnection, RawAnswer, RestBody } from './connection.js';
import { DicomInstance } from './dicom-instance.js';
import { ChangeType, type ChangeTypeName, type ChangeTypeValue, type ResourceTypeValue } from './enums.js';
import { isNotFound } from './errors.js';
import type { Logger } from './logger.js';
import type { RestCallback, RestRouter } from './rest-router.js';
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
  /** Orthanc's `/system`, to detect features (`ApiVersion`, `Capabilities`) rather than assume a version. */
  getSystem(): Promise<OrthancSystem>;
  /**
   * Serves `pathRegex` (matched against the whole path, groups captured) on the host's HTTP front.
   * Handlers may be async; a thrown error becomes a JSON 500, never a crash.
   */
  registerRestCallback(pathRegex: string, callback: RestCallback): void;
  /**
   * Called for each change, in `Seq` order, at least once (see the change feed). With `types`,
   * only for those change types (and on Orthanc 1.12.5+, only those are read from `/changes`).
   */
  registerOnChangeCallback(callback: OnChangeCallback, options?: { types?: readonly ChangeTypeName[] }): void;
  /** Called for each stored instance (NEW_INSTANCE); an instance deleted meanwhile is skipped. */
  registerOnStoredInstanceCallback(callback: OnStoredInstanceCallback): void;
  logInfo(message: string): void;
  logWarning(message: string): void;
  logError(message: string): void;
}

export interface BindingParts {
  connection: OrthancConnection;
  feed: ChangeFeed;
  router: RestRouter;
  log: Logger;
  /** Who registers: a recipe id, used in logs and to remove everything it registered. */
  owner: string;
}

/** A binding whose registrations can all be removed at once (when a recipe fails or closes). */
export interface ScopedBinding {
  binding: OrthancBinding;
  dispose(): void;
}

export function createScopedBinding({ connection, feed, router, log, owner }: BindingParts): ScopedBinding {
  const disposers: (() => void)[] = [];
  let disposed = false;
  const keep = (dispose: () => void) => {
    if (!disposed) return void disposers.push(dispose);
    dispose();
    log.warning('a registration came after this recipe was stopped; it was removed');
  };
  const encode = encodeURIComponent;
  const binding: OrthancBinding = {
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
    getSystem: () => connection.callJson<OrthancSystem>('GET', '/system'),
    registerRestCallback(pathRegex, callback) {
      keep(router.register(owner, pathRegex, callback));
    },
    registerOnChangeCallback(callback, options) {
      const types = options?.types?.map((name) => ChangeType[name]);
      keep(feed.subscribe(owner, (c) => callback(c.changeType, c.resourceType, c.resourceId), types));
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
  };
}

async function exists(connection: OrthancConnection, instanceId: string): Promise<boolean> {
  const answer = await connection.send('GET', `/instances/${encodeURIComponent(instanceId)}/metadata`);
  return answer.statusCode !== 404;
}
