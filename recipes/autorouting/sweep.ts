import { describe, type Logger, type OrthancBinding } from '../../shared/binding/index.js';
import { levelPath, type Level, type OrthancResource } from './resources.js';

export interface SweepOptions {
  orthanc: OrthancBinding;
  log: Logger;
  levels: Level[];
  /** Resources whose `LastUpdate` comes before this (Orthanc's UTC `YYYYMMDDTHHMMSS`) are not swept. */
  since: string;
  /** Whether this version of the resource was already decided. */
  isDecided(resourceId: string, lastUpdate: string): Promise<boolean>;
  /** Decides (and routes) one resource. */
  consider(level: Level, resourceId: string, listed?: OrthancResource): Promise<void>;
  pageSize?: number;
}

/**
 * Finds the resources that Orthanc reports as stable (`IsStable`) and that the ledger has not
 * decided for their current `LastUpdate`: those whose Stable change came while the host was down
 * (and lies before the saved cursor... or was never written: Orthanc forgets its unstable
 * resources when it restarts, and never writes their Stable change). Pages through
 * `/{level}?expand&since=&limit=` so that a large archive is never read at once. Requests made
 * while a sweep runs are coalesced into one more sweep.
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
    const { orthanc, log, levels } = this.options;
    const pageSize = this.options.pageSize ?? 500;
    this.lastStarted = new Date();
    let considered = 0;
    try {
      for (const level of levels) {
        // Instances have no LastUpdate: they are found through their series.
        const listed: Level = level === 'Instance' ? 'Series' : level;
        for (let offset = 0; ; offset += pageSize) {
          const page = await orthanc.restApiGetJson<OrthancResource[]>(`/${levelPath[listed]}?expand&since=${offset}&limit=${pageSize}`);
          for (const resource of page) {
            if (this.stopped) return;
            if ((resource.LastUpdate ?? '') < this.options.since) continue;
            if (level === 'Instance') {
              for (const instance of resource.Instances ?? []) {
                if (this.stopped) return;
                if (await this.options.isDecided(instance, '')) continue;
                considered += 1;
                await this.options.consider(level, instance);
              }
              continue;
            }
            if (resource.IsStable !== true) continue;
            if (await this.options.isDecided(resource.ID, resource.LastUpdate ?? '')) continue;
            considered += 1;
            await this.options.consider(level, resource.ID, resource);
          }
          if (page.length < pageSize) break;
        }
      }
      this.lastError = undefined;
      this.lastFinished = new Date();
      if (considered > 0) log.info(`sweep (${reason}): ${considered} stable resource(s) not yet routed for their last update were picked up`);
    } catch (error) {
      this.lastError = describe(error);
      log.warning(`sweep (${reason}) stopped: ${this.lastError}; it runs again when Orthanc comes back or at the next interval`);
    }
  }
}
