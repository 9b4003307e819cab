import { setTimeout as sleep } from 'node:timers/promises';
import { describe, type Logger } from '../../shared/binding/index.js';
import type { Ledger } from './ledger.js';
import { shiftOrthancTime } from '../../shared/orthanc-resources.js';

export interface PruneOptions {
  /** Orthanc's time now (`/tools/now`): the line is in Orthanc's clock, as `LastUpdate` is. */
  orthancNow(): Promise<string>;
  ledger: Ledger;
  log: Logger;
  /** How long finished routes (and their decisions) are kept. */
  keepDays: number;
  /** Rows deleted per statement; between two, other work (routing) runs. */
  batchSize?: number;
}

/** The ledger setting that holds the Orthanc time before which decisions may have been pruned. */
export const prunedBeforeSetting = 'PrunedBefore';

/**
 * Deletes finished routes (`succeeded`, `gone`) and their decisions once they are `keepDays` old,
 * in small batches with pauses between them (SQLite writes are synchronous and would hold the
 * event loop), so that routing goes on meanwhile. Failed and cancelled routes stay: they wait for someone.
 *
 * A pruned decision must never be taken for a resource not yet decided: before deleting any, the
 * line (`PrunedBefore`, Orthanc's time `keepDays` ago) is saved, and the sweep never looks at
 * resources last updated before it.
 */
export class Pruner {
  private running: Promise<void> | undefined;
  private stopped = false;
  lastFinished: Date | undefined;
  lastPruned = { routes: 0, decisions: 0 };

  constructor(private readonly options: PruneOptions) {}

  /** Prunes once (or waits for the pruning under way). */
  run(): Promise<void> {
    if (this.stopped || this.options.keepDays <= 0) return Promise.resolve();
    this.running ??= this.prune().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async prune(): Promise<void> {
    const { ledger, log, keepDays } = this.options;
    const batchSize = this.options.batchSize ?? 500;
    try {
      const keepMs = keepDays * 86_400_000;
      const orthancNow = await this.options.orthancNow();
      const lastUpdateBefore = shiftOrthancTime(orthancNow, -keepMs / 1000);
      if (!lastUpdateBefore) throw new Error(`Orthanc's /tools/now answered "${orthancNow}"`);
      const previous = await ledger.setting(prunedBeforeSetting);
      if (!previous || previous < lastUpdateBefore) await ledger.saveSetting(prunedBeforeSetting, lastUpdateBefore);
      const before = Date.now() - keepMs;
      const total = { routes: 0, decisions: 0 };
      // Routes first, then the decisions left without one. After each batch, a pause three times
      // as long as the batch took: pruning takes at most a quarter of the event loop's time.
      for (const kind of ['routes', 'decisions'] as const) {
        const prune = kind === 'routes' ? ledger.pruneRoutes.bind(ledger) : ledger.pruneDecisions.bind(ledger);
        for (;;) {
          if (this.stopped) return;
          const started = performance.now();
          const count = await prune(before, lastUpdateBefore, batchSize);
          total[kind] += count;
          if (count < batchSize) break;
          await sleep(Math.max(1, 3 * (performance.now() - started)));
        }
      }
      this.lastPruned = total;
      this.lastFinished = new Date();
      if (total.routes + total.decisions > 0)
        log.info('pruned finished routes and decisions', { routes: total.routes, decisions: total.decisions, keepDays });
    } catch (error) {
      log.warning('pruning the ledger failed; it runs again later', { error: describe(error) });
    }
  }
}
