import type { OrthancConnection } from './connection.js';
import { InstanceOrigin, instanceOriginFromOrthanc, type InstanceOriginValue } from './enums.js';

/** Orthanc's full JSON of an instance's tags, `{"gggg,eeee": {Name, Type, Value}}`. */
export type DicomTagsJson = Record<string, { Name: string; Type: string; Value: unknown }>;

/**
 * A stored instance, as the Python plugin's `DicomInstance` in `RegisterOnStoredInstanceCallback`.
 * Each accessor asks Orthanc's REST API lazily and at most once per object. Unlike the Python
 * plugin, the instance is already stored when the callback runs (it cannot block storage), and
 * the JSON accessors return parsed objects rather than strings.
 */
export class DicomInstance {
  private readonly cache = new Map<string, Promise<unknown>>();

  constructor(
    private readonly connection: OrthancConnection,
    /** Orthanc's ID of the instance. */
    readonly instanceId: string,
  ) {}

  private once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let value = this.cache.get(key) as Promise<T> | undefined;
    if (!value) {
      value = load();
      this.cache.set(key, value);
      value.catch(() => this.cache.delete(key));
    }
    return value;
  }

  private get uri(): string {
    return `/instances/${encodeURIComponent(this.instanceId)}`;
  }

  /** All metadata of the instance (`/instances/{id}/metadata?expand`). */
  getAllMetadata(): Promise<Record<string, string>> {
    return this.once('metadata', () => this.connection.callJson<Record<string, string>>('GET', `${this.uri}/metadata?expand`));
  }

  /** Size in bytes of the stored DICOM file. */
  async getInstanceSize(): Promise<number> {
    const info = await this.once('info', () => this.connection.callJson<{ FileSize: number }>('GET', this.uri));
    return info.FileSize;
  }

  /** One metadata value (e.g. `"TransferSyntax"`, `"ReceptionDate"`, user metadata), or undefined. */
  async getInstanceMetadata(name: string): Promise<string | undefined> {
    return (await this.getAllMetadata())[name];
  }

  async hasInstanceMetadata(name: string): Promise<boolean> {
    return (await this.getInstanceMetadata(name)) !== undefined;
  }

  /** How the instance reached Orthanc, from its `Origin` metadata. */
  async getInstanceOrigin(): Promise<InstanceOriginValue> {
    const origin = await this.getInstanceMetadata('Origin');
    return (origin !== undefined ? instanceOriginFromOrthanc[origin] : undefined) ?? InstanceOrigin.UNKNOWN;
  }

  /** AET of the modality that sent the instance; `""` unless it came over the DICOM protocol. */
  async getInstanceRemoteAet(): Promise<string> {
    return (await this.getInstanceMetadata('RemoteAET')) ?? '';
  }

  async getInstanceTransferSyntaxUid(): Promise<string | undefined> {
    return this.getInstanceMetadata('TransferSyntax');
  }

  /** Tags as `{Keyword: value}` (`/instances/{id}/simplified-tags`). */
  getInstanceSimplifiedJson(): Promise<Record<string, unknown>> {
    return this.once('simplified', () => this.connection.callJson('GET', `${this.uri}/simplified-tags`));
  }

  /** Tags in Orthanc's full format (`/instances/{id}/tags`). */
  getInstanceJson(): Promise<DicomTagsJson> {
    return this.once('tags', () => this.connection.callJson('GET', `${this.uri}/tags`));
  }

  /** The stored DICOM file's bytes. */
  getInstanceData(): Promise<Buffer> {
    return this.once('data', () => this.connection.call('GET', `${this.uri}/file`));
  }

  /**
   * Whether the instance has pixel data: Orthanc records `PixelDataOffset` when it finds them
   * (1.9.1+); otherwise its tags show `7fe0,0010`.
   */
  async hasInstancePixelData(): Promise<boolean> {
    if (await this.hasInstanceMetadata('PixelDataOffset')) return true;
    return '7fe0,0010' in (await this.getInstanceJson());
  }

  /** Number of frames (Orthanc counts 1 when NumberOfFrames is absent, even without pixel data). */
  async getInstanceFramesCount(): Promise<number> {
    const frames = await this.once('frames', () => this.connection.callJson<number[]>('GET', `${this.uri}/frames`));
    return frames.length;
  }
}
