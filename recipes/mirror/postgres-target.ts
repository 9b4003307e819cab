import pg from 'pg';
import type { Logger } from '../../shared/binding/index.js';
import { emptyMirrored, lastUpdateOf, type Level, type MirrorTarget, type ResourceJson } from './targets.js';

/**
 * A JSONB table, one row per resource (`level`, `id`, `body`, `last_update`, `mirrored_at`),
 * created when missing. Throws when PostgreSQL cannot be reached at start.
 */
export async function openPostgresTarget(connectionString: string, tableName: string, log: Logger): Promise<MirrorTarget> {
  const table = `"${tableName}"`;
  const pool = new pg.Pool({ connectionString, max: 4, connectionTimeoutMillis: 10_000 });
  // An idle client's error (the server restarted) is emitted on the pool: without a listener it would crash the host.
  pool.on('error', (error) => log.warning('PostgreSQL connection error', { error: error.message }));
  try {
    await pool.query(
      `CREATE TABLE IF NOT EXISTS ${table} (level TEXT NOT NULL, id TEXT NOT NULL, body JSONB NOT NULL, last_update TEXT, mirrored_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (level, id))`,
    );
  } catch (error) {
    await pool.end();
    throw error;
  }
  return {
    name: 'PostgreSQL',
    async upsert(level: Level, id: string, body: ResourceJson) {
      await pool.query(
        `INSERT INTO ${table} (level, id, body, last_update) VALUES ($1, $2, $3, $4)
         ON CONFLICT (level, id) DO UPDATE SET body = excluded.body, last_update = excluded.last_update, mirrored_at = now()`,
        [level, id, JSON.stringify(body), lastUpdateOf(body)],
      );
    },
    async remove(level: Level, id: string) {
      await pool.query(`DELETE FROM ${table} WHERE level = $1 AND id = $2`, [level, id]);
    },
    async mirrored() {
      const found = emptyMirrored();
      const rows = await pool.query<{ level: Level; id: string; last_update: string | null }>(
        `SELECT level, id, last_update FROM ${table}`,
      );
      for (const row of rows.rows) found[row.level]?.set(row.id, row.last_update);
      return found;
    },
    close: () => pool.end(),
  };
}
