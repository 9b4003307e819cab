import pg from 'pg';
import { RecipeDatabaseError, placeholder, tablePrefix, type RecipeDatabase, type SqlValue } from './recipe-database.js';

/**
 * `?` placeholders numbered as PostgreSQL wants them (`$1`, `$2`, …). A `?` inside a quoted string
 * or identifier, or a comment, is text and stays as it is.
 */
export function numberPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i += 1) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end < 0 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '?') {
      n += 1;
      out += `$${n}`;
    } else {
      out += c;
    }
  }
  return out;
}

/** Type parsers: `BIGINT` (times in ms, `COUNT(*)`) and `NUMERIC` (`SUM`) as JavaScript numbers. */
const numericTypes = new Set([20, 1700]);
export const numberTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    numericTypes.has(oid) && format !== 'binary'
      ? (value: string) => Number(value)
      : (pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * The PostgreSQL implementation, over the host's pool, in the state schema (the pool's
 * `search_path`). Each migration step runs in its own transaction under an advisory lock of the
 * recipe's, after reading the version again: however many hosts start at once, a step runs once.
 */
export class PostgresRecipeDatabase implements RecipeDatabase {
  readonly engine = 'PostgreSQL';
  private readonly prefix: string;
  private readonly translated = new Map<string, string>();

  constructor(
    private readonly pool: pg.Pool,
    readonly owner: string,
    private readonly schema: string,
  ) {
    this.prefix = tablePrefix(owner);
  }

  private expand(sql: string): string {
    let text = this.translated.get(sql);
    if (text === undefined) {
      text = numberPlaceholders(sql.replace(placeholder, (_all, name: string) => this.prefix + name));
      if (this.translated.size < 1000) this.translated.set(sql, text);
    }
    return text;
  }

  async version(): Promise<number> {
    return readVersion(this.pool, this.owner);
  }

  async migrate(steps: readonly string[]): Promise<number> {
    for (;;) {
      const { client, release } = await checkOut(this.pool);
      let applied: number | undefined;
      try {
        await client.query('BEGIN');
        await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
          `orthanc-recipes:${this.schema}:migrate:${this.owner}`,
        ]);
        const current = await readVersion(client, this.owner);
        if (current > steps.length) {
          throw new RecipeDatabaseError(
            this.owner,
            `its tables are at schema version ${current}, newer than this version of the recipe knows (${steps.length}); upgrade the package`,
          );
        }
        if (current < steps.length) {
          try {
            const before = await this.relations(client);
            await client.query(steps[current]!.replace(placeholder, (_all, name: string) => this.prefix + name));
            const foreign = [...(await this.relations(client))].filter((name) => !before.has(name) && !name.startsWith(this.prefix));
            if (foreign.length > 0) throw new Error(`creates ${foreign.join(', ')}: write table names as {name}`);
            await client.query(
              'INSERT INTO recipe_schema (recipe, version) VALUES ($1, $2) ON CONFLICT (recipe) DO UPDATE SET version = excluded.version',
              [this.owner, current + 1],
            );
          } catch (error) {
            throw new RecipeDatabaseError(
              this.owner,
              `migration to schema version ${current + 1} failed and was rolled back: ${(error as Error).message}`,
              { cause: error },
            );
          }
          applied = current + 1;
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        release();
      }
      if (applied === undefined) return steps.length;
    }
  }

  private async relations(client: pg.PoolClient): Promise<Set<string>> {
    const { rows } = await client.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'i', 'S', 'm', 'p')`,
      [this.schema],
    );
    return new Set(rows.map((row) => row.relname));
  }

  async run(sql: string, parameters: readonly SqlValue[] = []): Promise<number> {
    return (await this.pool.query(this.expand(sql), parameters as unknown[])).rowCount ?? 0;
  }

  async get<Row>(sql: string, parameters: readonly SqlValue[] = []): Promise<Row | undefined> {
    return (await this.pool.query(this.expand(sql), parameters as unknown[])).rows[0] as Row | undefined;
  }

  async all<Row>(sql: string, parameters: readonly SqlValue[] = []): Promise<Row[]> {
    return (await this.pool.query(this.expand(sql), parameters as unknown[])).rows as Row[];
  }

  async batch(statements: readonly { sql: string; parameters?: readonly SqlValue[] }[]): Promise<number[]> {
    return inTransaction(this.pool, async (client) => {
      const counts: number[] = [];
      for (const { sql, parameters } of statements)
        counts.push((await client.query(this.expand(sql), (parameters ?? []) as unknown[])).rowCount ?? 0);
      return counts;
    });
  }
}

async function readVersion(client: pg.Pool | pg.PoolClient, owner: string): Promise<number> {
  const { rows } = await client.query<{ version: number }>('SELECT version FROM recipe_schema WHERE recipe = $1', [owner]);
  return rows[0]?.version ?? 0;
}

/** Runs `work` in one transaction on one connection of the pool: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkOut(pool);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    release();
  }
}

/**
 * A connection of the pool, listened to while it is checked out. node-postgres emits `error` on
 * a checked-out connection that breaks between two queries (PostgreSQL shutting down: 57P01,
 * then the socket closing), and the pool listens only to idle ones: without this listener the
 * host crashes when PostgreSQL restarts in the middle of a transaction. The broken connection is
 * given back with its error (or with `error`: a query on it failed), so that the pool drops it.
 */
export async function checkOut(pool: pg.Pool): Promise<{ client: pg.PoolClient; release: (error?: Error) => void }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => void (broken ??= error);
  client.on('error', onError);
  let released = false;
  return {
    client,
    release: (error?: Error) => {
      if (released) return;
      released = true;
      broken ??= error;
      // Still listened to: a second error (the socket closing after 57P01) may follow the first.
      if (!broken) client.off('error', onError);
      client.release(broken);
    },
  };
}
