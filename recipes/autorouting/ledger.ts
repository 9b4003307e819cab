import { postgresNowMs, type RecipeDatabase } from '../../shared/recipe-database.js';
import type { Level } from './resources.js';

/**
 * The durable ledger. A decision per resource and `LastUpdate` (routed, unmatched, dry run); a
 * route per resource, destination and `LastUpdate`, whose state moves:
 *   pending ──(Orthanc accepted the job)──▶ sending ──▶ succeeded
 *      ▲                                      │
 *      └──(job failed, vanished, Orthanc down)┘──(MaxAttempts)──▶ failed ──(retry)──▶ pending
 * and `pending`/`failed` ──(destination no longer configured)──▶ cancelled ──(it is back)──▶ pending.
 * A state is written before the action it describes is trusted: `sending` with the job id as soon
 * as Orthanc accepted it, so that a restarted host follows that job instead of forgetting it.
 * Finished routes (`succeeded`, `gone`) and their decisions are pruned after a while (`prune`).
 */
export const migrations = [
  `CREATE TABLE {decisions} (
     resource_id TEXT NOT NULL,
     last_update TEXT NOT NULL,
     level TEXT NOT NULL,
     outcome TEXT NOT NULL,
     rules TEXT NOT NULL,
     decided_at BIGINT NOT NULL,
     deleted_at BIGINT,
     PRIMARY KEY (resource_id, last_update)
   );
   CREATE TABLE {routes} (
     resource_id TEXT NOT NULL,
     last_update TEXT NOT NULL,
     destination TEXT NOT NULL,
     level TEXT NOT NULL,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL,
     last_error TEXT,
     job_id TEXT,
     next_attempt_at BIGINT NOT NULL,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL,
     PRIMARY KEY (resource_id, destination, last_update)
   );
   CREATE INDEX {routes_due} ON {routes} (destination, state, next_attempt_at);
   CREATE INDEX {decisions_outcome} ON {decisions} (outcome, decided_at)`,
  `CREATE TABLE {settings} (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  // The status reads routes by state, newest first, and the last hour's deliveries.
  `CREATE INDEX {routes_state} ON {routes} (state, updated_at)`,
  // DeleteAfterRouting deletes exactly the instances a decision covered (a JSON array of Orthanc
  // IDs, read when it was decided; NULL once deleted, or when DeleteAfterRouting was off).
  `ALTER TABLE {decisions} ADD COLUMN instances TEXT`,
  // Claims, for several hosts sharing the ledger (see `claim`): who works on a route and until when.
  `ALTER TABLE {routes} ADD COLUMN holder TEXT;
   ALTER TABLE {routes} ADD COLUMN lease_until BIGINT;
   ALTER TABLE {routes} ADD COLUMN taken_from TEXT;
   ALTER TABLE {routes} ADD COLUMN takeovers INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE {routes} ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0`,
  // Jobs that failed after sending part of their resource: sent again, that part arrives twice.
  `ALTER TABLE {routes} ADD COLUMN partial_failures INTEGER NOT NULL DEFAULT 0`,
];

export type RouteState = 'pending' | 'sending' | 'succeeded' | 'failed' | 'gone' | 'cancelled';
export type Outcome = 'routed' | 'unmatched' | 'dry-run';

export interface Route {
  resource_id: string;
  last_update: string;
  destination: string;
  level: Level;
  state: RouteState;
  attempts: number;
  last_error: string | null;
  job_id: string | null;
  next_attempt_at: number;
  created_at: number;
  updated_at: number;
  /** The host working on the route (its lease ends at `lease_until`); null when none does. */
  holder: string | null;
  lease_until: number | null;
  /** Set when this claim took the route over from another host whose lease expired: that host's Orthanc ran its job, if any. */
  taken_from: string | null;
  /** How many times the route was taken over from a host that died with it in flight (it may have been sent twice). */
  takeovers: number;
  /** How many of its jobs ran while their Orthanc went away (Orthanc resumes a job from its last checkpoint, or forgets it and the route is sent again). */
  interrupted: number;
  /** How many of its jobs failed after sending part of the resource (Orthanc restarts a store job from its first instance: that part arrives twice). */
  partial_failures: number;
}

const key = (route: Pick<Route, 'resource_id' | 'destination' | 'last_update'>) => [
  route.resource_id,
  route.destination,
  route.last_update,
];
const whereRoute = 'WHERE resource_id = ? AND destination = ? AND last_update = ?';

/**
 * The route as claimed: while its claim is this host's. A host whose lease expired and whose
 * route another host took over writes nothing more to it (its job's outcome is the new holder's
 * to read): otherwise a late `pending` could undo the new holder's `succeeded` and have the route
 * sent a third time. A route read without a claim (holder null) is written as it is.
 */
const whereClaimed = (
  route: Pick<Route, 'resource_id' | 'destination' | 'last_update' | 'holder'>,
): { sql: string; parameters: string[] } =>
  route.holder
    ? { sql: `${whereRoute} AND holder = ?`, parameters: [...key(route), route.holder] }
    : { sql: whereRoute, parameters: key(route) };

export class Ledger {
  constructor(private readonly db: RecipeDatabase) {}

  async open(): Promise<void> {
    await this.db.migrate(migrations);
  }

  async setting(name: string): Promise<string | undefined> {
    return (await this.db.get<{ value: string }>('SELECT value FROM {settings} WHERE name = ?', [name]))?.value;
  }

  async saveSetting(name: string, value: string): Promise<void> {
    await this.db.run('INSERT INTO {settings} (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [
      name,
      value,
    ]);
  }

  /** Stores `value` unless a value is already stored; resolves with the stored one. */
  async settingOnce(name: string, value: string): Promise<string> {
    await this.db.run('INSERT INTO {settings} (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', [name, value]);
    return (await this.setting(name))!;
  }

  /** Whether this version of the resource was decided; a dry-run decision does not count outside dry-run. */
  async isDecided(resourceId: string, lastUpdate: string, dryRun: boolean): Promise<boolean> {
    const row = await this.db.get<{ outcome: Outcome }>('SELECT outcome FROM {decisions} WHERE resource_id = ? AND last_update = ?', [
      resourceId,
      lastUpdate,
    ]);
    return row !== undefined && (dryRun || row.outcome !== 'dry-run');
  }

  /**
   * Records a decision and its routes (pending, due now) in one transaction; safe to run twice.
   * `instances`: the instance IDs the decision covers, kept for DeleteAfterRouting.
   */
  async decide(
    level: Level,
    resourceId: string,
    lastUpdate: string,
    outcome: Outcome,
    rules: string[],
    destinations: string[],
    now = Date.now(),
    instances?: string[],
  ): Promise<void> {
    await this.db.batch([
      {
        sql: `INSERT INTO {decisions} (resource_id, last_update, level, outcome, rules, decided_at, instances) VALUES (?, ?, ?, ?, ?, ?, ?)
              ON CONFLICT (resource_id, last_update) DO UPDATE SET outcome = excluded.outcome, rules = excluded.rules, decided_at = excluded.decided_at, instances = excluded.instances`,
        parameters: [resourceId, lastUpdate, level, outcome, rules.join(', '), now, instances ? JSON.stringify(instances) : null],
      },
      ...destinations.map((destination) => ({
        sql: `INSERT INTO {routes} (resource_id, last_update, destination, level, state, attempts, next_attempt_at, created_at, updated_at)
              VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (resource_id, destination, last_update) DO NOTHING`,
        parameters: [resourceId, lastUpdate, destination, level, now, now, now],
      })),
    ]);
  }

  /** Pending routes of a destination that are due, oldest first. */
  due(destination: string, now: number, limit: number): Promise<Route[]> {
    return this.db.all<Route>(
      `SELECT * FROM {routes} WHERE destination = ? AND state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?`,
      [destination, now, limit],
    );
  }

  /** When the next pending route of a destination falls due (undefined when none waits). */
  async nextDue(destination: string): Promise<number | undefined> {
    const row = await this.db.get<{ next: number | null }>(
      `SELECT MIN(next_attempt_at) AS next FROM {routes} WHERE destination = ? AND state = 'pending'`,
      [destination],
    );
    return row?.next ?? undefined;
  }

  /**
   * Claims for `holder`, for `leaseMs`, at most `limit` routes of a destination to work on,
   * oldest first: pending routes that are due, and routes left `sending` (their outcome not read
   * yet), that no other live host holds. A route held by a host whose lease expired is taken over
   * (`taken_from`; `countTakeover` once it is sent again rather than its job followed). On PostgreSQL, hosts claiming at once skip each other's rows
   * (`FOR UPDATE SKIP LOCKED`), and leases are on the database's clock; SQLite has one writer and
   * one host, whose clock (`now`) serves. `now` (the host's) says which pending routes are due.
   */
  claim(destination: string, holder: string, now: number, leaseMs: number, limit: number): Promise<Route[]> {
    const skipLocked = this.db.engine === 'PostgreSQL' ? ' FOR UPDATE SKIP LOCKED' : '';
    const clock = this.leaseClock(now);
    return this.db.all<Route>(
      `UPDATE {routes} SET holder = ?, lease_until = ${clock.sql} + ?,
         taken_from = CASE WHEN holder IS NOT NULL AND holder <> ? THEN holder ELSE NULL END
       WHERE (resource_id, destination, last_update) IN (
         SELECT resource_id, destination, last_update FROM {routes}
         WHERE destination = ? AND (holder IS NULL OR holder = ? OR lease_until < ${clock.sql})
           AND ((state = 'pending' AND next_attempt_at <= ?) OR state = 'sending')
         ORDER BY next_attempt_at, created_at LIMIT ?${skipLocked})
       RETURNING *`,
      [holder, ...clock.parameters, leaseMs, holder, destination, holder, ...clock.parameters, now, limit],
    );
  }

  /** Extends the leases of every route `holder` works on (its heartbeat), to `leaseMs` from now (the database's now on PostgreSQL). */
  renew(holder: string, now: number, leaseMs: number): Promise<number> {
    const clock = this.leaseClock(now);
    return this.db.run(`UPDATE {routes} SET lease_until = ${clock.sql} + ? WHERE holder = ? AND state IN ('pending', 'sending')`, [
      ...clock.parameters,
      leaseMs,
      holder,
    ]);
  }

  /** The time leases are set and compared with: the database's clock on PostgreSQL, `now` (the one host's) on SQLite. */
  private leaseClock(now: number): { sql: string; parameters: number[] } {
    return this.db.engine === 'PostgreSQL' ? { sql: postgresNowMs, parameters: [] } : { sql: '?', parameters: [now] };
  }

  /**
   * Gives a route back once it rests. A route still `sending` (its host stops while Orthanc runs
   * the job) keeps its holder: the host that takes it over knows the job ran on another Orthanc.
   */
  async release(route: Route, holder: string): Promise<void> {
    await this.db.run(`UPDATE {routes} SET holder = NULL, lease_until = NULL ${whereRoute} AND holder = ? AND state <> 'sending'`, [
      ...key(route),
      holder,
    ]);
  }

  /** Routes sent again because the host sending them died (see `claim`), and jobs interrupted by their Orthanc going away. */
  async possibleDuplicates(): Promise<{ takeovers: number; interrupted: number; partialFailures: number }> {
    const row = await this.db.get<{ takeovers: number | null; interrupted: number | null; partial: number | null }>(
      'SELECT SUM(takeovers) AS takeovers, SUM(interrupted) AS interrupted, SUM(partial_failures) AS partial FROM {routes}',
    );
    return {
      takeovers: Number(row?.takeovers ?? 0),
      interrupted: Number(row?.interrupted ?? 0),
      partialFailures: Number(row?.partial ?? 0),
    };
  }

  /**
   * At start: the routes that this host's previous run had claimed and left `pending` (killed
   * between Orthanc accepting a job and the ledger recording it, or before sending). They are
   * given back, due now, and counted as taken over (from that previous run): sent again, each may
   * arrive twice. Routes left `sending` keep their claim: their recorded job is followed.
   * Resolves with how many.
   */
  releaseLeftovers(holder: string): Promise<number> {
    return this.db.run(
      `UPDATE {routes} SET holder = NULL, lease_until = NULL, takeovers = takeovers + 1 WHERE holder = ? AND state = 'pending'`,
      [holder],
    );
  }

  /** Counts a route taken over from a dead host and sent again (it may arrive twice). */
  async countTakeover(route: Route): Promise<void> {
    const where = whereClaimed(route);
    await this.db.run(`UPDATE {routes} SET takeovers = takeovers + 1 ${where.sql}`, where.parameters);
  }

  /** Counts a job of this route that ran while its Orthanc went away: some instances may arrive twice. */
  async countInterrupted(route: Route): Promise<void> {
    const where = whereClaimed(route);
    await this.db.run(`UPDATE {routes} SET interrupted = interrupted + 1 ${where.sql}`, where.parameters);
  }

  /** Counts a job of this route that failed after sending part of the resource: sent again, that part arrives twice. */
  async countPartialFailure(route: Route): Promise<void> {
    const where = whereClaimed(route);
    await this.db.run(`UPDATE {routes} SET partial_failures = partial_failures + 1 ${where.sql}`, where.parameters);
  }

  /** Routes whose job was accepted by Orthanc but whose outcome was not read (after a restart). */
  sending(): Promise<Route[]> {
    return this.db.all<Route>(`SELECT * FROM {routes} WHERE state = 'sending' ORDER BY updated_at`);
  }

  /**
   * The writes of a route's progress (`markSending`, `markSucceeded`, `markPending`, `markFailed`,
   * `markGone`, `markCancelled`) apply while the route's claim is the one `route` was read with
   * (see `whereClaimed`); each resolves with whether it applied.
   */
  async markSending(route: Route, jobId: string, attempts: number): Promise<boolean> {
    const where = whereClaimed(route);
    return (
      (await this.db.run(`UPDATE {routes} SET state = 'sending', job_id = ?, attempts = ?, updated_at = ? ${where.sql}`, [
        jobId,
        attempts,
        Date.now(),
        ...where.parameters,
      ])) > 0
    );
  }

  async markSucceeded(route: Route): Promise<boolean> {
    const where = whereClaimed(route);
    return (
      (await this.db.run(`UPDATE {routes} SET state = 'succeeded', last_error = NULL, updated_at = ? ${where.sql}`, [
        Date.now(),
        ...where.parameters,
      ])) > 0
    );
  }

  /** Back to pending, due at `nextAttemptAt`, with the attempts counted so far and why. */
  async markPending(route: Route, attempts: number, nextAttemptAt: number, error: string | null): Promise<boolean> {
    const where = whereClaimed(route);
    const sql = `UPDATE {routes} SET state = 'pending', job_id = NULL, attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ? ${where.sql}`;
    return (await this.db.run(sql, [attempts, nextAttemptAt, error, Date.now(), ...where.parameters])) > 0;
  }

  async markFailed(route: Route, attempts: number, error: string): Promise<boolean> {
    const where = whereClaimed(route);
    return (
      (await this.db.run(`UPDATE {routes} SET state = 'failed', job_id = NULL, attempts = ?, last_error = ?, updated_at = ? ${where.sql}`, [
        attempts,
        error,
        Date.now(),
        ...where.parameters,
      ])) > 0
    );
  }

  async markGone(route: Route): Promise<boolean> {
    const where = whereClaimed(route);
    const sql = `UPDATE {routes} SET state = 'gone', job_id = NULL, last_error = ?, updated_at = ? ${where.sql}`;
    return (await this.db.run(sql, ['the resource was deleted from Orthanc before it was sent', Date.now(), ...where.parameters])) > 0;
  }

  /** The states of every route of one decision. */
  async routeStates(resourceId: string, lastUpdate: string): Promise<RouteState[]> {
    const rows = await this.db.all<{ state: RouteState }>('SELECT state FROM {routes} WHERE resource_id = ? AND last_update = ?', [
      resourceId,
      lastUpdate,
    ]);
    return rows.map((row) => row.state);
  }

  /** Routed decisions not deleted yet, with their instances, whose routes all succeeded (DeleteAfterRouting, after a restart). */
  routedNotDeleted(): Promise<{ resource_id: string; last_update: string; level: Level }[]> {
    return this.db.all(
      `SELECT resource_id, last_update, level FROM {decisions} d WHERE outcome = 'routed' AND deleted_at IS NULL AND instances IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM {routes} r WHERE r.resource_id = d.resource_id AND r.last_update = d.last_update AND r.state <> 'succeeded')`,
    );
  }

  /** The instance IDs a decision covered; undefined when it recorded none (DeleteAfterRouting was off, or already deleted). */
  async coveredInstances(resourceId: string, lastUpdate: string): Promise<string[] | undefined> {
    const row = await this.db.get<{ instances: string | null }>(
      'SELECT instances FROM {decisions} WHERE resource_id = ? AND last_update = ?',
      [resourceId, lastUpdate],
    );
    return row?.instances ? (JSON.parse(row.instances) as string[]) : undefined;
  }

  /** The decision's instances are deleted from Orthanc: the list is dropped (it was only kept for that). */
  async markDeleted(resourceId: string, lastUpdate: string): Promise<void> {
    await this.db.run('UPDATE {decisions} SET deleted_at = ?, instances = NULL WHERE resource_id = ? AND last_update = ?', [
      Date.now(),
      resourceId,
      lastUpdate,
    ]);
  }

  async markCancelled(route: Route, reason: string): Promise<boolean> {
    const where = whereClaimed(route);
    return (
      (await this.db.run(`UPDATE {routes} SET state = 'cancelled', job_id = NULL, last_error = ?, updated_at = ? ${where.sql}`, [
        reason,
        Date.now(),
        ...where.parameters,
      ])) > 0
    );
  }

  /** Destinations that have routes in one of `states`. */
  async destinationsIn(states: RouteState[]): Promise<string[]> {
    const rows = await this.db.all<{ destination: string }>(
      `SELECT DISTINCT destination FROM {routes} WHERE state IN (${states.map(() => '?').join(', ')})`,
      states,
    );
    return rows.map((row) => row.destination);
  }

  /** Cancels the pending and failed routes of a destination, with the reason; resolves with how many. */
  cancel(destination: string, reason: string, now = Date.now()): Promise<number> {
    return this.db.run(
      `UPDATE {routes} SET state = 'cancelled', job_id = NULL, last_error = ?, updated_at = ? WHERE destination = ? AND state IN ('pending', 'failed')`,
      [reason, now, destination],
    );
  }

  /** Makes the cancelled routes of a destination pending again, due now, attempts from zero; resolves with how many. */
  uncancel(destination: string, now = Date.now()): Promise<number> {
    return this.db.run(
      `UPDATE {routes} SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE destination = ? AND state = 'cancelled'`,
      [now, now, destination],
    );
  }

  /**
   * Deletes at most `limit` finished routes (`succeeded`, `gone`) last updated before `before`
   * (ms) and for a resource last updated before `lastUpdateBefore` (Orthanc's time). Resolves
   * with how many; call again until 0. Small batches: SQLite writes block the event loop.
   */
  pruneRoutes(before: number, lastUpdateBefore: string, limit: number): Promise<number> {
    return this.db.run(
      `DELETE FROM {routes} WHERE (resource_id, destination, last_update) IN
         (SELECT resource_id, destination, last_update FROM {routes} WHERE state IN ('succeeded', 'gone') AND updated_at < ? AND last_update < ? LIMIT ?)`,
      [before, lastUpdateBefore, limit],
    );
  }

  /**
   * Deletes at most `limit` decisions decided before `before` (ms), for a resource last updated
   * before `lastUpdateBefore`, that have no route left (prune the routes first: each call skips
   * over the decisions that still have one).
   */
  pruneDecisions(before: number, lastUpdateBefore: string, limit: number): Promise<number> {
    return this.db.run(
      `DELETE FROM {decisions} WHERE (resource_id, last_update) IN
         (SELECT resource_id, last_update FROM {decisions} d WHERE outcome IN ('routed', 'unmatched', 'dry-run') AND decided_at < ? AND last_update < ?
          AND NOT EXISTS (SELECT 1 FROM {routes} r WHERE r.resource_id = d.resource_id AND r.last_update = d.last_update) LIMIT ?)`,
      [before, lastUpdateBefore, limit],
    );
  }

  async counts(): Promise<{ decisions: number; routes: number }> {
    const decisions = await this.db.get<{ count: number }>('SELECT COUNT(*) AS count FROM {decisions}');
    const routes = await this.db.get<{ count: number }>('SELECT COUNT(*) AS count FROM {routes}');
    return { decisions: Number(decisions?.count ?? 0), routes: Number(routes?.count ?? 0) };
  }

  /**
   * Makes failed routes (and those waiting for their back-off) due now, with their attempts
   * counted from zero; of one resource when `resourceId` is given. Resolves with how many.
   */
  retry(resourceId?: string, now = Date.now()): Promise<number> {
    const where = resourceId === undefined ? '' : ' AND resource_id = ?';
    return this.db.run(
      `UPDATE {routes} SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?
       WHERE (state = 'failed' OR (state = 'pending' AND next_attempt_at > ?))${where}`,
      [now, now, now, ...(resourceId === undefined ? [] : [resourceId])],
    );
  }

  async knows(resourceId: string): Promise<boolean> {
    return (await this.db.get('SELECT 1 AS found FROM {decisions} WHERE resource_id = ? LIMIT 1', [resourceId])) !== undefined;
  }

  async routeCounts(): Promise<Record<string, number>> {
    const rows = await this.db.all<{ state: string; count: number }>('SELECT state, COUNT(*) AS count FROM {routes} GROUP BY state');
    return Object.fromEntries(rows.map((row) => [row.state, Number(row.count)]));
  }

  async decisionCounts(): Promise<Record<string, number>> {
    const rows = await this.db.all<{ outcome: string; count: number }>(
      'SELECT outcome, COUNT(*) AS count FROM {decisions} GROUP BY outcome',
    );
    return Object.fromEntries(rows.map((row) => [row.outcome, Number(row.count)]));
  }

  /**
   * Resources delivered per minute over the `minutes` before `now`, oldest minute first: a
   * resource counts once, in the minute its last succeeded route finished.
   */
  async routedPerMinute(now: number, minutes = 60): Promise<number[]> {
    const since = now - minutes * 60_000;
    const rows = await this.db.all<{ at: number }>(
      `SELECT MAX(updated_at) AS at FROM {routes} WHERE state = 'succeeded' AND updated_at > ? GROUP BY resource_id, last_update`,
      [since],
    );
    const counts = new Array<number>(minutes).fill(0);
    for (const { at } of rows) counts[Math.min(minutes - 1, Math.floor((Number(at) - since) / 60_000))]! += 1;
    return counts;
  }

  routesIn(states: RouteState[], limit: number, extra = ''): Promise<Route[]> {
    return this.db.all<Route>(
      `SELECT * FROM {routes} WHERE state IN (${states.map(() => '?').join(', ')})${extra} ORDER BY updated_at DESC LIMIT ?`,
      [...states, limit],
    );
  }

  latestDecisions(
    outcome: Outcome,
    limit: number,
  ): Promise<{ resource_id: string; level: Level; last_update: string; decided_at: number }[]> {
    return this.db.all(
      'SELECT resource_id, level, last_update, decided_at FROM {decisions} WHERE outcome = ? ORDER BY decided_at DESC LIMIT ?',
      [outcome, limit],
    );
  }
}
