import { LRUCache } from 'lru-cache';
import { ChangeType, type ChangeTypeValue, type ResourceTypeValue } from '../../shared/binding/index.js';
import { levelPathOfResourceType, type LevelPath } from '../../shared/orthanc-resources.js';
import type { MetadataMap } from './metadata-reader.js';

/** The change types that can make a metadata map stale. */
export const indexEvents = [
  'NEW_INSTANCE',
  'NEW_SERIES',
  'NEW_STUDY',
  'NEW_PATIENT',
  'UPDATED_METADATA',
  'ORTHANC_STARTED',
  'DELETED',
] as const;

/**
 * The metadata maps read so far, kept current by the change feed, so that a repeated query does
 * not read them again.
 * - `UPDATED_METADATA` (a user metadata set or deleted) drops that resource's map.
 * - `NEW_INSTANCE` drops the instance's map and every patient, study and series map: storing an
 *   instance rewrites its ancestors' `LastUpdate` (and a series' `RemoteAET`), and the change does
 *   not say who the ancestors are.
 * - `NEW_SERIES`/`NEW_STUDY`/`NEW_PATIENT` drop that resource (it may be an old ID come back after
 *   a deletion); `ORTHANC_STARTED` drops everything.
 * - `DELETED` (from the host's Lua bridge, when it runs) drops the resource, and its ancestors'
 *   maps as for a new instance. Without the bridge, a deleted resource's map stays until the LRU
 *   drops it, which is harmless, since only the resources that Orthanc's find returns are looked
 *   up. But on Orthanc 1.12 a deletion also rewrites the ancestors' `LastUpdate`: the reader does
 *   not use the index for a patient's, study's or series' `LastUpdate` (see `runMetadataFind`).
 * A read that started before a drop is not stored (`epoch`), so a late answer cannot bring a
 * stale map back. What the index cannot see is the feed's own delay: a change is applied once
 * the feed has read it (within its poll interval, 200 ms by default).
 */
export class MetadataIndex {
  private readonly maps: LRUCache<string, MetadataMap>;
  private epochs: Record<LevelPath, number> = { patients: 0, studies: 0, series: 0, instances: 0 };

  constructor(maxResources: number) {
    this.maps = new LRUCache({ max: maxResources });
  }

  get size(): number {
    return this.maps.size;
  }

  get(level: LevelPath, id: string): MetadataMap | undefined {
    return this.maps.get(`${level}/${id}`);
  }

  /** A token to pass to `set`, taken before the read starts. */
  epoch(level: LevelPath): number {
    return this.epochs[level];
  }

  /** Stores a map read from Orthanc, unless the level changed since `epoch` was taken. */
  set(level: LevelPath, id: string, metadata: MetadataMap, epoch: number): void {
    if (epoch === this.epochs[level]) this.maps.set(`${level}/${id}`, metadata);
  }

  onChange(changeType: ChangeTypeValue, resourceType: ResourceTypeValue, resourceId: string): void {
    if (changeType === ChangeType.ORTHANC_STARTED) {
      for (const level of Object.keys(this.epochs) as LevelPath[]) this.dropLevel(level);
      return;
    }
    const level = levelPathOfResourceType(resourceType);
    if (!level) return;
    this.drop(level, resourceId);
    if (changeType === ChangeType.NEW_INSTANCE || changeType === ChangeType.DELETED)
      for (const ancestor of ['patients', 'studies', 'series'] as const) this.dropLevel(ancestor);
  }

  private drop(level: LevelPath, id: string): void {
    this.epochs[level] += 1;
    this.maps.delete(`${level}/${id}`);
  }

  private dropLevel(level: LevelPath): void {
    this.epochs[level] += 1;
    const prefix = `${level}/`;
    for (const key of [...this.maps.keys()]) if (key.startsWith(prefix)) this.maps.delete(key);
  }
}
