import { randomUUID } from 'node:crypto';
import type { RecipeDatabase } from './recipe-database.js';

/**
 * A durable queue of one recipe (the Python plugin's `EnqueueValue`, `ReserveQueueValue`,
 * `AcknowledgeQueueValue`, `GetQueueSize`), kept in the recipe database:
 * - `enqueue` resolves once the value is durable: a host killed right after loses nothing;
 * - `reserve` hands out the oldest value that is not reserved, for `reserveSeconds`; a value not
 *   acknowledged in time (its worker failed, the host was killed) comes back to the front;
 * - `acknowledge` removes it for good. Delivery is at-least-once: workers must be idempotent.
 */
export interface RecipeQueue {
  readonly name: string;
  /** Appends `value` at the back; resolves with its id once it is stored. */
  enqueue(value: string): Promise<string>;
  /** The oldest value nobody holds, now reserved for `reserveSeconds`; undefined when there is none. */
  reserve(reserveSeconds: number): Promise<QueueItem | undefined>;
  /** Removes a reserved value for good; false when it was gone already (acknowledged twice). */
  acknowledge(id: string): Promise<boolean>;
  /** Gives a reserved value back at once, to be reserved again (a worker that cannot handle it now). */
  release(id: string): Promise<boolean>;
  /** Every value not acknowledged yet, reserved ones included. */
  size(): Promise<number>;
  /** `size` split in values waiting and values reserved now. */
  stats(): Promise<{ Waiting: number; Reserved: number }>;
  /**
   * Runs `handler` on each value, one at a time per worker, until `signal` aborts: a value is
   * acknowledged once its handler resolved; a handler that throws leaves it reserved, so it comes
   * back after `reserveSeconds` (a capped back-off by construction). Resolves when the workers stop.
   */
  work(handler: (value: string, item: QueueItem) => Promise<void>, options: WorkOptions): Promise<void>;
}

export interface QueueItem {
  id: string;
  value: string;
  /** How many times it was reserved, this time included (1 the first time). */
  reservations: number;
}

export interface WorkOptions {
  signal: AbortSignal;
  /** How long a worker holds a value before it comes back; default 60 s. */
  reserveSeconds?: number;
  /** Workers running at once; default 1. */
  concurrency?: number;
  /** Longest wait between two looks at an empty queue (expired reservations come back without an enqueue); default 1000 ms. */
  idleMilliseconds?: number;
  /** Called when a handler throws; the value comes back after its reservation. */
  onError?: (error: unknown, item: QueueItem) => void;
}

/** The migration of the queues' table; one table holds every queue of a recipe. */
const migrations = [
  `CREATE TABLE {values} (id TEXT PRIMARY KEY, queue TEXT NOT NULL, position BIGINT NOT NULL, value TEXT NOT NULL, reserved_until BIGINT NOT NULL, reservations INTEGER NOT NULL);
   CREATE INDEX {values_by_position} ON {values} (queue, position)`,
];

/** The owner name under which a recipe's queues live: `--` cannot occur in a recipe id, so it never meets another recipe's tables. */
export const queueOwner = (recipeId: string): string => `${recipeId}--queues`;

/**
 * Opens the queues of one recipe over `database` (its own owner, see `queueOwner`); `queue(name)`
 * returns the same object for the same name. The table is created on first use.
 */
export function recipeQueues(database: RecipeDatabase): (name: string) => RecipeQueue {
  let ready: Promise<unknown> | undefined;
  const migrated = () => (ready ??= database.migrate(migrations).catch((error) => ((ready = undefined), Promise.reject(error as Error))));
  const wakers = new Map<string, Set<() => void>>();
  const opened = new Map<string, RecipeQueue>();
  // Positions keep FIFO order across restarts: microseconds of the clock, strictly increasing here.
  let lastPosition = 0;
  const nextPosition = () => (lastPosition = Math.max(lastPosition + 1, Date.now() * 1000));

  return (name) => {
    if (typeof name !== 'string' || name === '') throw new TypeError('a queue needs a non-empty name');
    const existing = opened.get(name);
    if (existing) return existing;
    const waiting = wakers.get(name) ?? new Set();
    wakers.set(name, waiting);
    const wake = () => {
      for (const resolve of waiting) resolve();
      waiting.clear();
    };

    const queue: RecipeQueue = {
      name,
      async enqueue(value) {
        if (typeof value !== 'string') throw new TypeError('a queued value is a string (JSON.stringify objects)');
        await migrated();
        const id = randomUUID();
        await database.run('INSERT INTO {values} (id, queue, position, value, reserved_until, reservations) VALUES (?, ?, ?, ?, 0, 0)', [
          id,
          name,
          nextPosition(),
          value,
        ]);
        wake();
        return id;
      },
      async reserve(reserveSeconds) {
        if (!(reserveSeconds > 0)) throw new RangeError('reserveSeconds must be positive');
        await migrated();
        // Compare-and-set: another worker may take the same row between the SELECT and the UPDATE.
        for (let attempt = 0; attempt < 100; attempt += 1) {
          const now = Date.now();
          const row = await database.get<{ id: string; value: string; reservations: number }>(
            'SELECT id, value, reservations FROM {values} WHERE queue = ? AND reserved_until <= ? ORDER BY position LIMIT 1',
            [name, now],
          );
          if (!row) return undefined;
          const taken = await database.run(
            'UPDATE {values} SET reserved_until = ?, reservations = reservations + 1 WHERE id = ? AND reserved_until <= ?',
            [now + Math.round(reserveSeconds * 1000), row.id, now],
          );
          if (taken === 1) return { id: row.id, value: row.value, reservations: Number(row.reservations) + 1 };
        }
        return undefined;
      },
      async acknowledge(id) {
        await migrated();
        return (await database.run('DELETE FROM {values} WHERE id = ? AND queue = ?', [id, name])) === 1;
      },
      async release(id) {
        await migrated();
        const released = (await database.run('UPDATE {values} SET reserved_until = 0 WHERE id = ? AND queue = ?', [id, name])) === 1;
        if (released) wake();
        return released;
      },
      async size() {
        await migrated();
        return Number((await database.get<{ n: number }>('SELECT COUNT(*) AS n FROM {values} WHERE queue = ?', [name]))?.n ?? 0);
      },
      async stats() {
        await migrated();
        const now = Date.now();
        const row = await database.get<{ waiting: number | null; reserved: number | null }>(
          'SELECT SUM(CASE WHEN reserved_until <= ? THEN 1 ELSE 0 END) AS waiting, SUM(CASE WHEN reserved_until > ? THEN 1 ELSE 0 END) AS reserved FROM {values} WHERE queue = ?',
          [now, now, name],
        );
        return { Waiting: Number(row?.waiting ?? 0), Reserved: Number(row?.reserved ?? 0) };
      },
      async work(handler, options) {
        const { signal, reserveSeconds = 60, concurrency = 1, idleMilliseconds = 1000, onError } = options;
        const idle = () =>
          new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              signal.removeEventListener('abort', done);
              waiting.delete(done);
              resolve();
            };
            const timer = setTimeout(done, idleMilliseconds);
            signal.addEventListener('abort', done, { once: true });
            waiting.add(done);
          });
        const worker = async () => {
          while (!signal.aborted) {
            let item: QueueItem | undefined;
            try {
              item = await queue.reserve(reserveSeconds);
            } catch (error) {
              onError?.(error, { id: '', value: '', reservations: 0 });
              await idle();
              continue;
            }
            if (!item) {
              await idle();
              continue;
            }
            try {
              await handler(item.value, item);
              await queue.acknowledge(item.id);
            } catch (error) {
              onError?.(error, item);
            }
          }
        };
        await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
      },
    };
    opened.set(name, queue);
    return queue;
  };
}
