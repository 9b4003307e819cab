import pg from 'pg';
import { describe, type Logger } from './binding/index.js';
import { Cluster, type ChangeClaim, type ChangeClaims, type ClusterDescription, type HostRecord, type RunClaim } from './cluster.js';
import { PostgresRecipeDatabase, checkOut, inTransaction, numberTypes } from './postgres-database.js';
import { postgresNowMs as dbNow, type RecipeDatabase } from './recipe-database.js';
import type { KeyValueStore, StateBackend } from './state-store.js';

export interface PostgresStateOptions {
  /** `postgres://user@host:port/database` (node-postgres's syntax; libpq's `key=value` too). */
  connectionString: string;
  /** Read from `PasswordFile`; overrides a password in the connection string. */
  password?: string;
  /** The schema that holds every table of the state (created if missing). */
  schema: string;
  log: Logger;
  /** Connections kept at most. Default 10. */
  maxConnections?: number;
}

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/** The tables of the state itself; created once, under an advisory lock, by the first host. */
const coreTables = [
  'CREATE TABLE IF NOT EXISTS kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (namespace, key))',
  'CREATE TABLE IF NOT EXISTS recipe_schema (recipe TEXT PRIMARY KEY, version INTEGER NOT NULL)',
  `CREATE TABLE IF NOT EXISTS hosts (host_id TEXT PRIMARY KEY, name TEXT NOT NULL, url TEXT, orthanc_url TEXT,
     started_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL, stopped_at BIGINT, activity TEXT NOT NULL DEFAULT '{}')`,
  `CREATE TABLE IF NOT EXISTS change_claims (owner TEXT NOT NULL, seq BIGINT NOT NULL, holder TEXT NOT NULL, taken_from TEXT,
     lease_until BIGINT, claimed_at BIGINT NOT NULL, done_at BIGINT, PRIMARY KEY (owner, seq))`,
  'CREATE INDEX IF NOT EXISTS change_claims_open ON change_claims (holder) WHERE done_at IS NULL',
  'ALTER TABLE hosts ADD COLUMN IF NOT EXISTS clock_offset_ms BIGINT',
  `CREATE TABLE IF NOT EXISTS single_runs (name TEXT NOT NULL, period TEXT NOT NULL, holder TEXT NOT NULL,
     started_at BIGINT NOT NULL, finished_at BIGINT, PRIMARY KEY (name, period))`,
];

/**
 * The state in PostgreSQL, shared by every host of a cluster: one pool of connections, the
 * schema's tables created once under an advisory lock whatever the number of hosts starting at
 * once. An idle connection that breaks (PostgreSQL restarted) is dropped and replaced; calls made
 * while PostgreSQL is down fail, and their callers retry.
 */
export class PostgresStateStore implements StateBackend {
  readonly engine = 'PostgreSQL';

  private constructor(
    readonly pool: pg.Pool,
    readonly schema: string,
  ) {}

  static async open(options: PostgresStateOptions): Promise<PostgresStateStore> {
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      ...(options.password !== undefined ? { password: options.password } : {}),
      options: `-c search_path=${quote(options.schema)}`,
      types: numberTypes,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: 10_000,
      // A query that never answers (a connection dead without a reset) must not stall the heartbeat for ever.
      query_timeout: 120_000,
      idleTimeoutMillis: 30_000,
      application_name: 'orthanc-recipes',
    });
    pool.on('error', (error) => options.log.warning(`a PostgreSQL connection broke: ${describe(error)}`));
    try {
      await inTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`orthanc-recipes:${options.schema}:core`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(options.schema)}`);
        for (const sql of coreTables) await client.query(sql);
      });
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return new PostgresStateStore(pool, options.schema);
  }

  namespace(name: string): KeyValueStore {
    const pool = this.pool;
    return {
      get: async <T>(key: string) => {
        const { rows } = await pool.query<{ value: string }>('SELECT value FROM kv WHERE namespace = $1 AND key = $2', [name, key]);
        return rows[0] ? (JSON.parse(rows[0].value) as T) : undefined;
      },
      set: async (key, value) =>
        void (await pool.query(
          'INSERT INTO kv (namespace, key, value) VALUES ($1, $2, $3) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value',
          [name, key, JSON.stringify(value)],
        )),
      delete: async (key) => void (await pool.query('DELETE FROM kv WHERE namespace = $1 AND key = $2', [name, key])),
      keys: async () =>
        (await pool.query<{ key: string }>('SELECT key FROM kv WHERE namespace = $1 ORDER BY key', [name])).rows.map((row) => row.key),
    };
  }

  database(owner: string): RecipeDatabase {
    return new PostgresRecipeDatabase(this.pool, owner, this.schema);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Several hosts on one PostgreSQL state: leases in `change_claims`, hosts' heartbeats, advisory locks for single runs. */
export class PostgresCluster extends Cluster {
  readonly engine = 'PostgreSQL';
  readonly changeClaims: ChangeClaims;
  private lastPrune = 0;

  constructor(
    private readonly pool: pg.Pool,
    hostId: string,
    leaseMs: number,
    log: Logger,
  ) {
    super(hostId, leaseMs, log);
    this.changeClaims = {
      checkIntervalMs: Math.max(100, Math.floor(leaseMs / 5)),
      claim: (owner, seq) => this.claimChange(owner, seq),
      complete: async (owner, seq) =>
        void (await pool.query(`UPDATE change_claims SET done_at = ${dbNow}, lease_until = NULL WHERE owner = $1 AND seq = $2`, [
          owner,
          seq,
        ])),
      check: (owner, seqs) => this.checkChanges(owner, seqs),
    };
  }

  /** Every time below is the database's (`dbNow`): the hosts' clocks need not agree. */
  private async claimChange(owner: string, seq: number): Promise<ChangeClaim> {
    // Inserted, or taken over from a holder whose lease expired (or from this host's previous run).
    const taken = await this.pool.query(
      `INSERT INTO change_claims (owner, seq, holder, lease_until, claimed_at) VALUES ($1, $2, $3, ${dbNow} + $4, ${dbNow})
       ON CONFLICT (owner, seq) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until, claimed_at = excluded.claimed_at, taken_from = change_claims.holder
       WHERE change_claims.done_at IS NULL AND (change_claims.holder = excluded.holder OR change_claims.lease_until IS NULL OR change_claims.lease_until < ${dbNow})`,
      [owner, seq, this.hostId, this.leaseMs],
    );
    if (taken.rowCount === 1) return 'mine';
    const { rows } = await this.pool.query<{ done_at: number | null }>('SELECT done_at FROM change_claims WHERE owner = $1 AND seq = $2', [
      owner,
      seq,
    ]);
    return rows[0]?.done_at != null ? 'done' : 'held';
  }

  private async checkChanges(owner: string, seqs: readonly number[]): Promise<Map<number, 'done' | 'held' | 'expired'>> {
    const { rows } = await this.pool.query<{ seq: number; done: boolean; live: boolean }>(
      `SELECT seq, done_at IS NOT NULL AS done, coalesce(lease_until >= ${dbNow}, false) AS live FROM change_claims WHERE owner = $1 AND seq = ANY($2::bigint[])`,
      [owner, seqs],
    );
    const found = new Map(rows.map((row) => [row.seq, row]));
    return new Map(
      seqs.map((seq) => {
        const row = found.get(seq);
        if (row?.done) return [seq, 'done'];
        return [seq, row?.live ? 'held' : 'expired'];
      }),
    );
  }

  protected async heartbeat(activity: Record<string, unknown>): Promise<void> {
    const now = Date.now();
    const { name, url, orthanc } = this.identity;
    // started_at is the host's own (shown, never compared); heartbeat_at the database's, which
    // also measures this host's clock: the database's now against the host's when it sent the
    // query (stored, for /recipes), then against the middle of the round trip (used here).
    const sent = Date.now();
    const { rows } = await this.pool.query<{ heartbeat_at: number }>(
      `INSERT INTO hosts (host_id, name, url, orthanc_url, started_at, heartbeat_at, activity, clock_offset_ms) VALUES ($1, $2, $3, $4, $5, ${dbNow}, $6, ${dbNow} - $7)
       ON CONFLICT (host_id) DO UPDATE SET name = excluded.name, url = excluded.url, orthanc_url = excluded.orthanc_url, started_at = excluded.started_at,
         heartbeat_at = excluded.heartbeat_at, stopped_at = NULL, activity = excluded.activity, clock_offset_ms = excluded.clock_offset_ms
       RETURNING heartbeat_at`,
      [this.hostId, name, url, orthanc, this.started, JSON.stringify(activity), sent],
    );
    this.noteClockOffset(Number(rows[0]!.heartbeat_at) - (sent + Date.now()) / 2);
    await this.pool.query(`UPDATE change_claims SET lease_until = ${dbNow} + $2 WHERE holder = $1 AND done_at IS NULL`, [
      this.hostId,
      this.leaseMs,
    ]);
    if (Math.abs(now - this.lastPrune) > 60_000) {
      this.lastPrune = now;
      // Done claims are kept an hour: a host whose saved cursor lags behind skips them cheaply.
      await this.pool.query(`DELETE FROM change_claims WHERE done_at < ${dbNow} - 3600000`);
      await this.pool.query(`DELETE FROM single_runs WHERE started_at < ${dbNow} - 86400000 AND finished_at IS NOT NULL`);
    }
  }

  /**
   * An advisory lock on a connection of its own, held while the run lasts (PostgreSQL releases it
   * when that connection ends, a killed host's too), then the period's row: inserted once.
   */
  protected async claimRun(key: string, period: string | undefined): Promise<RunClaim | undefined> {
    const { client, release: done } = await checkOut(this.pool);
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [
        `orthanc-recipes:run:${key}`,
      ]);
      if (!rows[0]?.locked) {
        done();
        return undefined;
      }
      if (period !== undefined) {
        const inserted = await client.query(
          `INSERT INTO single_runs (name, period, holder, started_at) VALUES ($1, $2, $3, ${dbNow}) ON CONFLICT (name, period) DO NOTHING`,
          [key, period, this.hostId],
        );
        if (inserted.rowCount !== 1) {
          await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`orthanc-recipes:run:${key}`]);
          done();
          return undefined;
        }
      }
    } catch (error) {
      done(error as Error);
      throw error;
    }
    return {
      release: async () => {
        try {
          if (period !== undefined)
            await client.query(`UPDATE single_runs SET finished_at = ${dbNow} WHERE name = $1 AND period = $2`, [key, period]);
          await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`orthanc-recipes:run:${key}`]);
          done();
        } catch (error) {
          // The connection is gone, and the lock with it.
          done(error as Error);
        }
      },
    };
  }

  protected override async orthancOf(hostId: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ orthanc_url: string | null }>('SELECT orthanc_url FROM hosts WHERE host_id = $1', [hostId]);
    return rows[0]?.orthanc_url ?? null;
  }

  protected async leave(): Promise<void> {
    await this.pool.query(`UPDATE hosts SET stopped_at = ${dbNow}, heartbeat_at = ${dbNow} WHERE host_id = $1`, [this.hostId]);
    // Changes claimed and not finished (the feed stopped first): free to take over at once.
    await this.pool.query('UPDATE change_claims SET lease_until = 0 WHERE holder = $1 AND done_at IS NULL', [this.hostId]);
  }

  async describe(): Promise<ClusterDescription> {
    // The database's now: hosts' heartbeats and leases are on its clock.
    const now = Number((await this.pool.query<{ now: number }>(`SELECT ${dbNow} AS now`)).rows[0]!.now);
    const hosts = await this.pool.query<{
      host_id: string;
      name: string;
      url: string | null;
      orthanc_url: string | null;
      started_at: number;
      heartbeat_at: number;
      stopped_at: number | null;
      activity: string;
      clock_offset_ms: number | null;
    }>('SELECT * FROM hosts WHERE heartbeat_at > $1 ORDER BY started_at', [now - 86_400_000]);
    const leases = await this.pool.query<{ holder: string; count: number }>(
      'SELECT holder, COUNT(*) AS count FROM change_claims WHERE done_at IS NULL AND lease_until >= $1 GROUP BY holder',
      [now],
    );
    const runs = await this.pool.query<{ holder: string; name: string }>(
      'SELECT holder, name FROM single_runs WHERE finished_at IS NULL AND started_at > $1',
      [now - 86_400_000],
    );
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      Engine: 'PostgreSQL',
      HostId: this.hostId,
      LeaseSeconds: this.leaseMs / 1000,
      Hosts: hosts.rows.map((row): HostRecord => ({
        Id: row.host_id,
        Name: row.name,
        Url: row.url,
        Orthanc: row.orthanc_url,
        Started: iso(row.started_at),
        LastHeartbeat: iso(row.heartbeat_at),
        Alive: row.stopped_at === null && row.heartbeat_at >= now - this.leaseMs,
        ChangeLeases: leases.rows.find((lease) => lease.holder === row.host_id)?.count ?? 0,
        Runs: row.host_id === this.hostId ? [...this.runs] : runs.rows.filter((run) => run.holder === row.host_id).map((run) => run.name),
        Activity: safeJson(row.activity),
        ClockOffsetMs: row.clock_offset_ms,
      })),
    };
  }
}

function safeJson(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
}
