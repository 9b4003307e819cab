import { createTask, validateDetailed, type ScheduledTask } from 'node-cron';
import type { Logger } from '../../shared/binding/index.js';
import { parseEvery } from './every.js';

/**
 * When a task runs: a cron `Schedule` (through node-cron) or a fixed period (`Every`, through a
 * timer of our own: node-cron's finest unit is the second). A trigger only calls `tick`; it never
 * waits for the run, so keeping runs apart is the runner's job (node-cron's `noOverlap` has been
 * buggy, and a run that is not awaited never makes node-cron report a missed execution).
 */
export interface Trigger {
  /** Starts ticking; calling it while started does nothing. */
  start(): void;
  /** Stops ticking; ticks missed while stopped are never replayed. */
  stop(): void;
  /** The next tick while started; undefined while stopped. */
  nextRun(): Date | undefined;
  /** Stops for good and releases what the trigger holds (node-cron keeps a global registry). */
  destroy(): void;
}

export interface TriggerSpec {
  Schedule?: string;
  Every?: string;
  TimeZone?: string;
}

/** Why a cron expression cannot be used, or undefined when it can (node-cron's own parser). */
export function checkCron(expression: string): string | undefined {
  const { valid, errors } = validateDetailed(expression);
  if (valid) return undefined;
  const reasons = errors.map((error) => error.message).join('; ');
  return `"${expression}" is not a valid cron expression${reasons ? `: ${reasons}` : ''}`;
}

/** Why a time zone cannot be used (not an IANA zone known to this Node), or undefined. */
export function checkTimeZone(timeZone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return undefined;
  } catch {
    return `"${timeZone}" is not a time zone known to Node (an IANA name such as "Europe/Brussels")`;
  }
}

/** How hosts sharing the work tick together: on one clock (the cluster's), periods counted from the epoch. */
export interface SharedTicks {
  /** The clock `Every` ticks follow (ms since the epoch); the hosts' clocks may disagree, this one does not. */
  now(): number;
}

/**
 * `tick` receives the time the tick was due (ms since the epoch). With `shared`, `Every` ticks fall
 * on multiples of the period since the epoch of the cluster's clock, so that hosts sharing the
 * work tick at the same instants and name the same period whatever their own clocks say; a cron
 * `Schedule` still fires on this host's clock, but names the cron time nearest the cluster's.
 */
export function createTrigger(name: string, spec: TriggerSpec, tick: (dueAt: number) => void, log: Logger, shared?: SharedTicks): Trigger {
  if (spec.Every !== undefined) {
    const period = parseEvery(spec.Every);
    if (period === undefined) throw new TypeError(`task ${name}: bad Every "${spec.Every}"`);
    return new PeriodTrigger(period, tick, shared);
  }
  if (spec.Schedule === undefined) throw new TypeError(`task ${name}: neither Schedule nor Every`);
  return new CronTrigger(name, spec.Schedule, spec.TimeZone, tick, log, shared);
}

/** The farthest a cron time is looked for from the cluster's now, in seconds (a search costs about 25 µs a second). */
const cronSearchLimitSeconds = 3600;

/**
 * The cron time (a whole second that `matches`) nearest to `now`, looked for at most `limitSeconds`
 * away; undefined when none is that close. node-cron fires on this host's clock: with hosts sharing
 * the work, each names the cron time nearest the cluster's clock instead, so that hosts whose clocks
 * disagree by less than half the time between two cron times name the same one.
 */
export function nearestCronTime(matches: (time: Date) => boolean, now: number, limitSeconds: number): number | undefined {
  const base = Math.floor(now / 1000) * 1000;
  // Step k looks at the two whole seconds between k and k + 1 seconds away from now.
  for (let k = 0; k <= limitSeconds; k += 1) {
    const found = [base - k * 1000, base + (k + 1) * 1000].filter((time) => matches(new Date(time)));
    if (found.length > 0) return found.reduce((best, time) => (Math.abs(time - now) < Math.abs(best - now) ? time : best));
  }
  return undefined;
}

/**
 * Ticks at start + k × period. After a blocked event loop it skips to the next multiple rather
 * than catching up, so a late timer never fires a burst of runs.
 */
class PeriodTrigger implements Trigger {
  private timer: NodeJS.Timeout | undefined;
  private anchor = 0;
  private next = 0;

  private readonly now: () => number;

  constructor(
    private readonly periodMs: number,
    private readonly tick: (dueAt: number) => void,
    private readonly shared: SharedTicks | undefined,
  ) {
    this.now = shared ? () => shared.now() : Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.anchor = this.shared ? 0 : this.now();
    this.next = 0;
    this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** On this host's clock, as the other times it shows. */
  nextRun(): Date | undefined {
    return this.timer ? new Date(this.next - this.now() + Date.now()) : undefined;
  }

  destroy(): void {
    this.stop();
  }

  private arm(): void {
    const now = this.now();
    const periods = Math.floor((now - this.anchor) / this.periodMs) + 1;
    // Never the tick just made again: the cluster's clock may step back a few ms at a heartbeat.
    this.next = Math.max(this.anchor + periods * this.periodMs, this.next + this.periodMs);
    const dueAt = this.next;
    this.timer = setTimeout(() => {
      this.arm();
      this.tick(dueAt);
    }, this.next - now);
  }
}

class CronTrigger implements Trigger {
  private readonly task: ScheduledTask;
  private started = false;

  constructor(
    name: string,
    expression: string,
    timeZone: string | undefined,
    tick: (dueAt: number) => void,
    log: Logger,
    shared: SharedTicks | undefined,
  ) {
    const dueAt = () => {
      if (!shared) return Date.now();
      const clusterNow = shared.now();
      const limit = Math.min(Math.ceil(Math.abs(clusterNow - Date.now()) / 1000) + 1, cronSearchLimitSeconds);
      // Past the limit (a clock hours off, said in the log), the time this host fired for.
      return nearestCronTime((time) => this.task.match(time), clusterNow, limit) ?? Math.floor(Date.now() / 1000) * 1000;
    };
    this.task = createTask(expression, () => tick(dueAt()), {
      name: `scheduler:${name}`,
      timezone: timeZone,
      logger: {
        info: (message) => log.debug('node-cron', { task: name, detail: message }),
        debug: () => undefined,
        // "missed execution": the event loop was blocked past a tick; the tick is simply lost.
        warn: (message) => log.warning('node-cron', { task: name, detail: message }),
        error: (message) => log.error('node-cron', { task: name, detail: String(message) }),
      },
    });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.task.start();
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    void this.task.stop();
  }

  nextRun(): Date | undefined {
    return this.started ? (this.task.getNextRun() ?? undefined) : undefined;
  }

  destroy(): void {
    this.started = false;
    void this.task.destroy();
  }
}
