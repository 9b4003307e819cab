import type Database from 'better-sqlite3';

/** A value a query binds or returns. */
export type SqlValue = string | number | bigint | null;

/**
 * Tables of a recipe's own in the state database, behind an interface small enough for two
 * implementations: SQLite (one host) and PostgreSQL (several hosts sharing one Orthanc index). The rules that keep SQL
 * portable between both engines:
 * - name tables `{name}`: the braces become the recipe's own prefix (`{routes}` is
 *   `r_autorouting__routes`), so recipes never see each other's tables;
 * - bind values with `?` (a PostgreSQL implementation numbers them `$1`, `$2`, …);
 * - use types both engines know (`TEXT`, `INTEGER`, `BIGINT`) and `INSERT … ON CONFLICT (…) DO
 *   UPDATE SET x = excluded.x`; keep times as `BIGINT` milliseconds;
 * - calls are asynchronous, as they are on a network database; a call that resolved is durable;
 * - `BIGINT` and `COUNT(*)` values come back as numbers (an implementation over `pg` parses them).
 */
export interface RecipeDatabase {
  /**
   * The engine underneath, for the few statements that differ: a claim reads
   * `… FOR UPDATE SKIP LOCKED` on PostgreSQL (several hosts), where SQLite (one host, one writer)
   * needs nothing.
   */
  readonly engine: 'SQLite' | 'PostgreSQL';
  /**
   * Brings the recipe's tables to the last version: applies, in order and each in its own
   * transaction, the steps not applied yet (step `i` takes the schema from version `i` to `i + 1`).
   * Steps are only ever appended, never edited. Resolves with the version reached. Refuses a
   * database written by a newer version of the recipe (more steps than given).
   */
  migrate(steps: readonly string[]): Promise<number>;
  /** The version reached so far (0 before any migration). */
  version(): Promise<number>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(sql: string, parameters?: readonly SqlValue[]): Promise<number>;
  /** The first row of a query, or undefined. */
  get<Row = Record<string, SqlValue>>(sql: string, parameters?: readonly SqlValue[]): Promise<Row | undefined>;
  all<Row = Record<string, SqlValue>>(sql: string, parameters?: readonly SqlValue[]): Promise<Row[]>;
  /** Runs statements in one transaction: all of them or none. Resolves with each one's change count. */
  batch(statements: readonly { sql: string; parameters?: readonly SqlValue[] }[]): Promise<number[]>;
}

/** Thrown when a migration fails (it is rolled back) or the schema is newer than the recipe's. */
export class RecipeDatabaseError extends Error {
  constructor(
    readonly owner: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`recipe ${owner}: ${message}`, options);
    this.name = 'RecipeDatabaseError';
  }
}

/** The prefix of every table of `owner`: `r_` then the id with `-` as `_`, then `__`. */
export const tablePrefix = (owner: string): string => `r_${owner.replace(/-/g, '_')}__`;

export const placeholder = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The SQLite implementation, over the state database (WAL mode) that the host opened. */
export class SqliteRecipeDatabase implements RecipeDatabase {
  readonly engine = 'SQLite';
  private readonly prefix: string;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    readonly owner: string,
  ) {
    this.prefix = tablePrefix(owner);
    db.exec('CREATE TABLE IF NOT EXISTS recipe_schema (recipe TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  }

  private expand(sql: string): string {
    return sql.replace(placeholder, (_all, name: string) => this.prefix + name);
  }

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(this.expand(sql));
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private currentVersion(): number {
    const row = this.db.prepare('SELECT version FROM recipe_schema WHERE recipe = ?').get(this.owner) as { version: number } | undefined;
    return row?.version ?? 0;
  }

  async version(): Promise<number> {
    return this.currentVersion();
  }

  async migrate(steps: readonly string[]): Promise<number> {
    const current = this.currentVersion();
    if (current > steps.length) {
      throw new RecipeDatabaseError(
        this.owner,
        `its tables are at schema version ${current}, newer than this version of the recipe knows (${steps.length}); upgrade the package`,
      );
    }
    for (let version = current; version < steps.length; version += 1) {
      const step = this.expand(steps[version]!);
      const apply = this.db.transaction(() => {
        const before = this.tableNames();
        this.db.exec(step);
        const foreign = [...this.tableNames()].filter((name) => !before.has(name) && !name.startsWith(this.prefix));
        if (foreign.length > 0) throw new Error(`creates ${foreign.join(', ')}: write table names as {name}`);
        this.db
          .prepare(
            'INSERT INTO recipe_schema (recipe, version) VALUES (?, ?) ON CONFLICT (recipe) DO UPDATE SET version = excluded.version',
          )
          .run(this.owner, version + 1);
      });
      try {
        apply.immediate();
      } catch (error) {
        throw new RecipeDatabaseError(
          this.owner,
          `migration to schema version ${version + 1} failed and was rolled back: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    // Statements prepared against an older schema would fail; prepare again.
    if (steps.length > current) this.statements.clear();
    return steps.length;
  }

  private tableNames(): Set<string> {
    const rows = this.db
      .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view', 'index') AND name NOT LIKE 'sqlite_%'")
      .all() as { name: string }[];
    return new Set(rows.map((row) => row.name));
  }

  async run(sql: string, parameters: readonly SqlValue[] = []): Promise<number> {
    return this.prepare(sql).run(...parameters).changes;
  }

  async get<Row>(sql: string, parameters: readonly SqlValue[] = []): Promise<Row | undefined> {
    return this.prepare(sql).get(...parameters) as Row | undefined;
  }

  async all<Row>(sql: string, parameters: readonly SqlValue[] = []): Promise<Row[]> {
    return this.prepare(sql).all(...parameters) as Row[];
  }

  async batch(statements: readonly { sql: string; parameters?: readonly SqlValue[] }[]): Promise<number[]> {
    const prepared = statements.map(({ sql, parameters }) => ({ statement: this.prepare(sql), parameters: parameters ?? [] }));
    return this.db.transaction(() => prepared.map(({ statement, parameters }) => statement.run(...parameters).changes)).immediate();
  }
}

/**
 * PostgreSQL's clock in ms since the epoch, as SQL: leases and heartbeats are set and compared on
 * the database's clock, never on the hosts' (which need not agree), so that a host whose clock is
 * off neither steals a live lease nor keeps a dead one.
 */
export const postgresNowMs = '(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT';
