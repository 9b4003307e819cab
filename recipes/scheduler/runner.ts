import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { describe, type Logger } from '../../shared/binding/index.js';

/** What one run of a task does; it should stop early when `signal` is aborted. */
export type TaskAction = (signal: AbortSignal) => Promise<unknown>;

export type RunOutcome = 'Success' | 'Failure' | 'Cancelled';

/** One run, as `GET /recipes/scheduler/tasks` shows it. */
export interface RunRecord {
  Start: string;
  /** `Schedule` for a tick, `Manual` for `POST .../run`. */
  Trigger: 'Schedule' | 'Manual';
  /** The next four are set when the run has ended. */
  DurationMs?: number;
  Outcome?: RunOutcome;
  Error?: string;
  Result?: unknown;
}

/** An error that carries a partial result (e.g. the deletions that did succeed). */
export class TaskError extends Error {
  constructor(
    message: string,
    readonly result: unknown,
  ) {
    super(message);
    this.name = 'TaskError';
  }
}

/**
 * Runs one task: never two runs at once (a tick that comes while a run is in flight is skipped
 * and counted), a run that throws is logged and counted, and `cancel()` aborts the run in flight
 * and waits for it.
 */
export class TaskRunner {
  runCount = 0;
  failureCount = 0;
  skippedCount = 0;
  lastRun: RunRecord | undefined;
  private current: { record: RunRecord; controller: AbortController; done: Promise<void> } | undefined;

  constructor(
    readonly name: string,
    private readonly action: TaskAction,
    private readonly log: Logger,
    /** Aborted when the host stops: every run is cancelled. */
    private readonly hostSignal: AbortSignal,
    /** Told of every run that ended (metrics). */
    private readonly onRunEnded?: (record: RunRecord) => void,
  ) {}

  get running(): RunRecord | undefined {
    return this.current?.record;
  }

  /** Resolves when the run in flight, if any, has ended. */
  whenDone(): Promise<void> {
    return this.current?.done ?? Promise.resolve();
  }

  /** Starts a run, or returns undefined (and counts a skip) when one is in flight. */
  start(trigger: RunRecord['Trigger']): RunRecord | undefined {
    if (this.current) {
      this.skippedCount += 1;
      if (trigger === 'Schedule') this.log.debug('task still running: this tick is skipped', { task: this.name });
      return undefined;
    }
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, this.hostSignal]);
    const record: RunRecord = { Start: new Date().toISOString(), Trigger: trigger };
    const started = performance.now();
    const done = (async () => {
      let ended: Pick<RunRecord, 'Outcome' | 'Error' | 'Result'>;
      try {
        ended = { Outcome: 'Success', Result: toJsonValue(await this.action(signal)) };
      } catch (error) {
        ended = { Outcome: signal.aborted ? 'Cancelled' : 'Failure', Error: describe(error) };
        if (error instanceof TaskError) ended.Result = toJsonValue(error.result);
      }
      Object.assign(record, { DurationMs: Math.round(performance.now() - started), ...ended });
      this.runCount += 1;
      const fields = { task: this.name, trigger, outcome: record.Outcome, durationMs: record.DurationMs, error: record.Error };
      if (record.Outcome === 'Failure') {
        this.failureCount += 1;
        this.log.error('task failed', fields);
      } else if (record.Outcome === 'Cancelled') {
        this.log.warning('task cancelled', fields);
      } else {
        this.log.debug('task succeeded', fields);
      }
      this.lastRun = record;
      this.current = undefined;
      this.onRunEnded?.(record);
    })();
    this.current = { record, controller, done };
    return record;
  }

  /** Aborts the run in flight, if any, and waits for it (at most `timeoutMs`). */
  async cancel(timeoutMs: number): Promise<void> {
    const current = this.current;
    if (!current) return;
    current.controller.abort(new Error('the scheduler is stopping'));
    const late = await Promise.race([current.done.then(() => false), sleep(timeoutMs, true, { ref: false })]);
    if (late) this.log.warning('task ignored its AbortSignal; stopping without it', { task: this.name, waitedMs: timeoutMs });
  }
}

/** A result as JSON can carry it (a Module may return anything: BigInt, cycles, functions). */
function toJsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return inspect(value, { depth: 4, breakLength: Infinity }); // a BigInt or a cycle: shown, not lost
  }
}
