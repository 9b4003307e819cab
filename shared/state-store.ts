import Database from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteRecipeDatabase, type RecipeDatabase } from './recipe-database.js';

/**
 * A small persistent key-value map of JSON values, owned by one recipe (or the host).
 * Asynchronous, as it is on a network database; a call that resolved is durable.
 */
export interface KeyValueStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

/** The state database, whichever the engine: key-value namespaces and recipes' tables. */
export interface StateBackend {
  readonly engine: 'SQLite' | 'PostgreSQL';
  namespace(name: string): KeyValueStore;
  /** The tables of one recipe (see `RecipeDatabase`). */
  database(owner: string): RecipeDatabase;
  close(): Promise<void> | void;
}

/**
 * The state directory's database (SQLite in WAL mode, `state.sqlite`). Each owner sees its own
 * namespace. Writes are synchronous underneath and durable when `set` resolves.
 */
export class StateStore implements StateBackend {
  readonly engine = 'SQLite';
  private readonly db: Database.Database;
  private readonly statements;

  constructor(readonly directory: string) {
    // Private to the host's user: the state and the embedded Orthanc's files (its configuration
    // may hold RegisteredUsers) are nobody else's to read.
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    chmodSync(directory, 0o700);
    const file = join(directory, 'state.sqlite');
    // Created 0600 before SQLite opens it: its -wal and -shm files take the database's mode.
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (namespace, key))',
    );
    this.statements = {
      get: this.db.prepare<[string, string], { value: string }>('SELECT value FROM kv WHERE namespace = ? AND key = ?'),
      set: this.db.prepare(
        'INSERT INTO kv (namespace, key, value) VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value',
      ),
      delete: this.db.prepare('DELETE FROM kv WHERE namespace = ? AND key = ?'),
      keys: this.db.prepare<[string], { key: string }>('SELECT key FROM kv WHERE namespace = ? ORDER BY key'),
    };
  }

  namespace(name: string): KeyValueStore {
    const { get, set, delete: remove, keys } = this.statements;
    return {
      get: async <T>(key: string) => {
        const row = get.get(name, key);
        return row ? (JSON.parse(row.value) as T) : undefined;
      },
      set: async (key, value) => void set.run(name, key, JSON.stringify(value)),
      delete: async (key) => void remove.run(name, key),
      keys: async () => keys.all(name).map((row) => row.key),
    };
  }

  /** The tables of one recipe (see `RecipeDatabase`), in this same database file. */
  database(owner: string): RecipeDatabase {
    return new SqliteRecipeDatabase(this.db, owner);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
