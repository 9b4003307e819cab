import { describe, type Logger, type OrthancBinding } from '../../shared/binding/index.js';
import { findResources, listResources, shiftOrthancTime, type ExpandedResource } from '../../shared/orthanc-resources.js';
import type { Level } from './resources.js';

export interface SweepOptions {
  orthanc: OrthancBinding;
  log: Logger;
  levels: Level[];
  /** Resources whose `LastUpdate` comes before this (Orthanc's UTC `YYYYMMDDTHHMMSS`) are not swept. */
  since: string;
  /** Orthanc has `/tools/find` with `OrderBy` (1.12.5+, `Capabilities.HasExtendedFind`). */
  extendedFind: boolean;
  /** Whether this version of the resource was already decided. */
  isDecided(resourceId: string, lastUpdate: string): Promise<boolean>;
  /** Decides (and routes) one resource. */
  consider(level: Level, resourceId: string, listed?: ExpandedResource): Promise<void>;
  /** The Orthanc time before which decisions may have been pruned (see `Pruner`): never swept. */
  loadPrunedBefore?(): Promise<string | undefined>;
  /** Orthanc's time when the last complete sweep of a level started, and where to keep it. */
  loadMark(level: Level): Promise<string | undefined>;
  saveMark(level: Level, orthancTime: string): Promise<void>;
  pageSize?: number;
  /** issue 18: counts sweeps, for GET /recipes/metrics. */
  onSwept?: (outcome: 'finished' | 'failed') => void;
  /**
   * Resources updated less than this long ago are left for later: with several Orthancs on one
   * index, each knows only the resources it received itself as unstable. 0: none.
   */
  minimumAgeSeconds?: number;
}

/**
 * How far behind the last complete sweep an ordered sweep still looks. A resource last updated
 * before (last complete sweep − margin) existed, unchanged, during that sweep, and was stable by
 * then (StableAge is seconds or minutes), so it was decided then.
 */
const markMarginSeconds = 24 * 3600;

/**
 * Finds the resources that Orthanc reports as stable (`IsStable`) and that the ledger has not
 * decided for their current `LastUpdate`: those whose Stable change came while the host was down,
 * and those whose Stable change Orthanc never wrote (it forgets its unstable resources when it
 * restarts). It reads pages, so that a large archive is never read at once: on Orthanc 1.12.5+
 * most recently updated first (`/tools/find` ordered by `LastUpdate`), stopping a day before the
 * last complete sweep; before that, `/{level}?expand&since=&limit=` through the whole archive.
 * Instances have no `LastUpdate`: they are found through their series. Requests made while a
 * sweep runs are coalesced into one more sweep.
 */
export class Sweeper {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  lastStarted: Date | undefined;
  lastFinished: Date | undefined;
  lastError: string | undefined;

  constructor(private readonly options: SweepOptions) {}

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Starts a sweep, or one more after the one running; resolves when that sweep is over. */
  request(reason: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.sweep(reason);
        reason = 'requested while sweeping';
      } while (this.again && !this.stopped);
      this.running = undefined;
    })();
    return this.running;
  }

  /** Stops at the next resource and waits for the sweep under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async sweep(reason: string): Promise<void> {
    this.lastStarted = new Date();
    let considered = 0;
    try {
      for (const level of this.options.levels) {
        const now = (await this.options.orthanc.restApiGet('/tools/now')).toString('utf8').trim();
        const age = this.options.minimumAgeSeconds ?? 0;
        // What is younger than `age` is not swept now: the mark stays before it.
        const startedAt = age > 0 ? shiftOrthancTime(now, -age) : now;
        const result = await this.sweepLevel(level, age > 0 ? startedAt : undefined);
        if (result === undefined) return; // stopped
        considered += result;
        await this.options.saveMark(level, startedAt);
      }
      this.lastError = undefined;
      this.lastFinished = new Date();
      this.options.onSwept?.('finished'); // issue 18: metrics
      if (considered > 0)
        this.options.log.info('sweep picked up stable resources not yet routed for their last update', { reason, resources: considered });
    } catch (error) {
      this.lastError = describe(error);
      this.options.onSwept?.('failed'); // issue 18: metrics
      this.options.log.warning('sweep stopped; it runs again when Orthanc comes back or at the next interval', {
        reason,
        error: this.lastError,
      });
    }
  }

  /** Resolves with the number of resources considered, or undefined when stopped. */
  private async sweepLevel(level: Level, updatedBefore: string | undefined): Promise<number | undefined> {
    const { orthanc, extendedFind, since } = this.options;
    const pageSize = this.options.pageSize ?? 500;
    const listed: Level = level === 'Instance' ? 'Series' : level;
    const mark = extendedFind ? await this.options.loadMark(level) : undefined;
    const floor = sweepFloor(since, await this.options.loadPrunedBefore?.(), mark);
    let considered = 0;
    const resources = extendedFind
      ? findResources<ExpandedResource>(
          orthanc,
          { Level: listed, Query: {}, Expand: true, OrderBy: [{ Type: 'Metadata', Key: 'LastUpdate', Direction: 'DESC' }] },
          { pageSize },
        )
      : listResources<ExpandedResource>(orthanc, listed, { pageSize });
    for await (const resource of resources) {
      if (this.stopped) return undefined;
      const lastUpdate = resource.LastUpdate ?? '';
      if (lastUpdate < floor) {
        if (extendedFind) return considered; // ordered: everything after is older
        continue;
      }
      if (level === 'Instance') {
        for (const instance of resource.Instances ?? []) {
          if (this.stopped) return undefined;
          if (await this.options.isDecided(instance, '')) continue;
          considered += 1;
          await this.options.consider(level, instance);
        }
        continue;
      }
      if (resource.IsStable !== true) continue;
      if (updatedBefore !== undefined && lastUpdate > updatedBefore) continue;
      if (await this.options.isDecided(resource.ID, lastUpdate)) continue;
      considered += 1;
      await this.options.consider(level, resource.ID, resource);
    }
    return considered;
  }
}

/**
 * The oldest `LastUpdate` a sweep looks at: the first start's line, the pruning line (a pruned
 * decision must not be taken for a resource never decided), and a day before the last complete
 * sweep (ordered sweeps only), whichever is latest.
 */
export function sweepFloor(since: string, prunedBefore: string | undefined, mark: string | undefined): string {
  const lines = [since, prunedBefore ?? '', mark ? shiftOrthancTime(mark, -markMarginSeconds) : ''];
  return lines.reduce((latest, line) => (line > latest ? line : latest));
}
