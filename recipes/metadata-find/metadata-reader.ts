import type { Logger, OrthancBinding } from '../../shared/binding/index.js';
import { isNotFound, type LevelPath } from '../../shared/orthanc-resources.js';
import type { MetadataIndex } from './metadata-index.js';

export type MetadataMap = Record<string, string>;
export type { LevelPath };
export type ReadMode = 'Bulk' | 'PerResource';

export interface ReaderOptions {
  mode: ReadMode;
  /** Requests to Orthanc in flight at once, for one query. */
  concurrency: number;
  /** Resources per `/tools/bulk-content` request. */
  batchSize: number;
}

/**
 * Reads the metadata of many resources of one level, with at most `concurrency` requests in
 * flight over the binding's keep-alive pool.
 * - `Bulk`: `POST /tools/bulk-content` (Orthanc 1.9.4+), `batchSize` resources per request; each
 *   answer carries the same `Metadata` map as `/{level}/{id}/metadata?expand`, and Orthanc leaves
 *   out a resource that no longer exists. An Orthanc without the route falls back to:
 * - `PerResource`: `GET /{level}/{id}/metadata?expand`, one request per resource; a 404 (deleted
 *   meanwhile) leaves the resource out.
 * A resource missing from the result was deleted during the query. With an `index`, the maps it
 * holds are not read again, and the maps read are kept in it.
 */
export class MetadataReader {
  private bulkUnavailable = false;
  /** Resources whose metadata were asked of Orthanc, since the start (index hits not counted). */
  resourcesRead = 0;

  constructor(
    private readonly orthanc: OrthancBinding,
    private readonly options: ReaderOptions,
    private readonly log: Logger,
    private readonly index?: MetadataIndex,
  ) {}

  /**
   * Splits `ids` into batches for `readBatches`, in order. When only the first `wanted` matches
   * are needed (a page), batches are smaller, so that the reading can stop early.
   */
  batches(ids: readonly string[], wanted = Infinity): string[][] {
    const bulkSize = Number.isFinite(wanted) ? Math.min(this.options.batchSize, Math.max(32, wanted * 4)) : this.options.batchSize;
    const size = this.usesBulk ? bulkSize : this.options.concurrency;
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += size) batches.push(ids.slice(i, i + size));
    return batches;
  }

  /** Whether metadata are to be read in bulk (`MetadataReads: "Bulk"`). */
  get readsInBulk(): boolean {
    return this.options.mode === 'Bulk';
  }

  private get usesBulk(): boolean {
    return this.options.mode === 'Bulk' && !this.bulkUnavailable;
  }

  /**
   * Reads `batches` in order, `concurrency` at a time, into `found`. After each round, `enough`
   * gets the number of batches read so far (always a prefix) and may stop the reading there.
   */
  async readBatches(
    levelPath: LevelPath,
    batches: readonly string[][],
    found: Map<string, MetadataMap>,
    enough: (batchesRead: number) => boolean | Promise<boolean>,
    /** `orthanc`: the binding to read with (a request's, acting as the caller); the reader's own by default. */
    options: { useIndex?: boolean; objects?: Map<string, object>; orthanc?: OrthancBinding } = {},
  ): Promise<void> {
    const perRound = this.usesBulk ? this.options.concurrency : 1;
    const orthanc = options.orthanc ?? this.orthanc;
    for (let next = 0; next < batches.length && !(await enough(Math.min(next, batches.length))); next += perRound) {
      await Promise.all(
        batches
          .slice(next, next + perRound)
          .map((batch) => this.readBatch(orthanc, levelPath, batch, found, options.useIndex ?? true, options.objects)),
      );
    }
  }

  private async readBatch(
    orthanc: OrthancBinding,
    levelPath: LevelPath,
    batch: readonly string[],
    found: Map<string, MetadataMap>,
    useIndex: boolean,
    objects?: Map<string, object>,
  ): Promise<void> {
    let ids = batch;
    if (this.index && !objects) {
      const index = this.index;
      const epoch = index.epoch(levelPath);
      ids = batch.filter((id) => {
        const known = useIndex ? index.get(levelPath, id) : undefined;
        if (known) found.set(id, known);
        return !known;
      });
      const read = new Map<string, MetadataMap>();
      await this.readFromOrthanc(orthanc, levelPath, ids, read);
      for (const [id, metadata] of read) {
        found.set(id, metadata);
        index.set(levelPath, id, metadata, epoch);
      }
      return;
    }
    await this.readFromOrthanc(orthanc, levelPath, ids, found, objects);
  }

  /** With `objects`, bulk reads also keep each resource's object, without its `Metadata`. */
  private async readFromOrthanc(
    orthanc: OrthancBinding,
    levelPath: LevelPath,
    ids: readonly string[],
    found: Map<string, MetadataMap>,
    objects?: Map<string, object>,
  ): Promise<void> {
    if (ids.length === 0) return;
    this.resourcesRead += ids.length;
    if (this.usesBulk) {
      const answer = await orthanc.restApiRequest('POST', '/tools/bulk-content', { Resources: ids, Metadata: true });
      if (answer.statusCode >= 200 && answer.statusCode < 300) {
        const resources = JSON.parse(answer.body.toString('utf8')) as { ID: string; Metadata?: MetadataMap }[];
        const wanted = new Set(ids);
        for (const { Metadata: metadata, ...resource } of resources) {
          if (!wanted.has(resource.ID)) continue;
          found.set(resource.ID, metadata ?? {});
          objects?.set(resource.ID, resource);
        }
        return;
      }
      if (answer.statusCode !== 404 && answer.statusCode !== 405) {
        throw new Error(
          `Orthanc answered POST /tools/bulk-content with HTTP ${answer.statusCode}: ${answer.body.toString('utf8').slice(0, 200)}`,
        );
      }
      this.bulkUnavailable = true;
      this.log.warning('this Orthanc has no /tools/bulk-content (1.9.4+): metadata are read one resource per request');
    }
    await forEachConcurrently(ids, this.options.concurrency, async (id) => {
      try {
        found.set(id, await orthanc.restApiGetJson<MetadataMap>(`/${levelPath}/${encodeURIComponent(id)}/metadata?expand`));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    });
  }
}

/** Runs `task` on every item, at most `limit` at once; rejects with the first failure. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next]!;
      next += 1;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
