import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createLogger } from '../shared/binding/index.js';
import { numberPlaceholders } from '../shared/postgres-database.js';
import { PostgresStateStore } from '../shared/postgres-state.js';
import { RecipeDatabaseError, tablePrefix } from '../shared/recipe-database.js';
import { StateStore, type StateBackend } from '../shared/state-store.js';
import { startTestPostgres, type TestPostgres } from './helpers/postgres.js';

const steps = [
  'CREATE TABLE {items} (id TEXT PRIMARY KEY, size INTEGER NOT NULL)',
  'ALTER TABLE {items} ADD COLUMN colour TEXT; CREATE INDEX {items_by_colour} ON {items} (colour)',
];

/** One engine under test: how to open a fresh state, the same one again, and what it names things. */
interface Engine {
  name: 'SQLite' | 'PostgreSQL';
  /** A new, empty state; `again` opens the same one a second time (another host, or a restart). */
  fresh(): Promise<{ store: StateBackend; again: () => Promise<StateBackend>; tables: () => Promise<string[]> }>;
  missingTable: RegExp;
  duplicateKey: RegExp;
}

let postgres: TestPostgres | undefined;
let schemas = 0;
const log = createLogger('state', { level: 'error' });

const engines: Engine[] = [
  {
    name: 'SQLite',
    async fresh() {
      const directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-db-'));
      return {
        store: new StateStore(directory),
        again: async () => new StateStore(directory),
        async tables() {
          const raw = new Database(join(directory, 'state.sqlite'), { readonly: true });
          const names = raw
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .all()
            .map((row) => (row as { name: string }).name);
          raw.close();
          return names;
        },
      };
    },
    missingTable: /no such table/,
    duplicateKey: /UNIQUE/,
  },
  {
    name: 'PostgreSQL',
    async fresh() {
      const schema = `state_${++schemas}`;
      const open = () => PostgresStateStore.open({ connectionString: postgres!.connectionString(), schema, log });
      return {
        store: await open(),
        again: open,
        tables: async () =>
          (await postgres!.psql(`SELECT tablename FROM pg_tables WHERE schemaname = '${schema}' ORDER BY tablename`))
            .split('\n')
            .filter(Boolean),
      };
    },
    missingTable: /relation "r_careful__a" does not exist/,
    duplicateKey: /duplicate key value violates unique constraint/,
  },
];

before(async () => {
  postgres = await startTestPostgres();
});
after(async () => {
  await postgres?.dispose();
});

for (const engine of engines) {
  describe(`recipe tables in the state database (${engine.name})`, () => {
    it('applies migrations in order, records the version, and applies each only once', async () => {
      const { store, again } = await engine.fresh();
      const db = store.database('my-recipe');
      assert.equal(db.engine, engine.name);
      assert.equal(await db.version(), 0);
      assert.equal(await db.migrate(steps.slice(0, 1)), 1);
      await db.run('INSERT INTO {items} (id, size) VALUES (?, ?)', ['a', 1]);
      assert.equal(await db.migrate(steps), 2);
      assert.equal(await db.migrate(steps), 2, 'a second run changes nothing');
      await db.run('UPDATE {items} SET colour = ? WHERE id = ?', ['red', 'a']);
      assert.deepEqual(await db.all('SELECT id, size, colour FROM {items}'), [{ id: 'a', size: 1, colour: 'red' }]);
      await store.close();

      // Durable: the same state opened again sees the rows and the version.
      const reopenedStore = await again();
      const reopened = reopenedStore.database('my-recipe');
      assert.equal(await reopened.version(), 2);
      assert.deepEqual(await reopened.get('SELECT colour FROM {items} WHERE id = ?', ['a']), { colour: 'red' });
      await reopenedStore.close();
    });

    it('scopes tables by recipe: same names, separate tables, prefixed in the database', async () => {
      const { store, tables } = await engine.fresh();
      const first = store.database('first');
      const second = store.database('second-one');
      await first.migrate(steps);
      await second.migrate(steps.slice(0, 1));
      await first.run('INSERT INTO {items} (id, size) VALUES (?, ?)', ['x', 1]);
      assert.deepEqual(await second.all('SELECT * FROM {items}'), []);
      assert.equal(await second.version(), 1);
      await store.close();
      assert.equal(tablePrefix('second-one'), 'r_second_one__');
      assert.deepEqual(
        (await tables()).filter((name) => name.startsWith('r_')),
        ['r_first__items', 'r_second_one__items'],
      );
    });

    it('rolls a failing migration back entirely, and refuses a table outside the recipe', async () => {
      const { store } = await engine.fresh();
      const db = store.database('careful');
      await assert.rejects(db.migrate(['CREATE TABLE {a} (x INTEGER); CREATE TABLE {a} (y INTEGER)']), (error: unknown) => {
        assert.ok(error instanceof RecipeDatabaseError);
        assert.match(error.message, /recipe careful: migration to schema version 1 failed and was rolled back: .*already exists/);
        return true;
      });
      assert.equal(await db.version(), 0);
      await assert.rejects(db.run('SELECT * FROM {a}'), engine.missingTable);
      await assert.rejects(db.migrate(['CREATE TABLE unscoped (x INTEGER)']), /creates unscoped: write table names as \{name\}/);
      assert.equal(await db.version(), 0);
      await store.close();
    });

    it('refuses tables written by a newer version of the recipe', async () => {
      const { store } = await engine.fresh();
      const db = store.database('newer');
      await db.migrate(steps);
      await assert.rejects(db.migrate(steps.slice(0, 1)), /schema version 2, newer than this version of the recipe knows \(1\)/);
      await store.close();
    });

    it('runs a batch as one transaction: all or nothing', async () => {
      const { store } = await engine.fresh();
      const db = store.database('batcher');
      await db.migrate(steps.slice(0, 1));
      assert.deepEqual(
        await db.batch([
          { sql: 'INSERT INTO {items} (id, size) VALUES (?, ?)', parameters: ['a', 1] },
          { sql: 'INSERT INTO {items} (id, size) VALUES (?, ?)', parameters: ['b', 2] },
        ]),
        [1, 1],
      );
      await assert.rejects(
        db.batch([
          { sql: 'UPDATE {items} SET size = 10 WHERE id = ?', parameters: ['a'] },
          { sql: 'INSERT INTO {items} (id, size) VALUES (?, ?)', parameters: ['b', 3] },
        ]),
        engine.duplicateKey,
      );
      assert.deepEqual(await db.get('SELECT size FROM {items} WHERE id = ?', ['a']), { size: 1 });
      await store.close();
    });

    it('returns BIGINT and COUNT(*) as numbers, and keeps key-value state', async () => {
      const { store } = await engine.fresh();
      const db = store.database('numbers');
      await db.migrate(['CREATE TABLE {times} (at BIGINT NOT NULL)']);
      await db.run('INSERT INTO {times} (at) VALUES (?)', [1_765_000_000_123]);
      assert.deepEqual(await db.get('SELECT at, COUNT(*) AS count FROM {times} GROUP BY at'), { at: 1_765_000_000_123, count: 1 });
      const kv = store.namespace('host');
      assert.equal(await kv.get('changes.cursor'), undefined);
      await kv.set('changes.cursor', 42);
      await kv.set('other', { a: [1] });
      assert.equal(await kv.get('changes.cursor'), 42);
      assert.deepEqual(await kv.keys(), ['changes.cursor', 'other']);
      await kv.delete('other');
      assert.deepEqual(await store.namespace('recipe:x').keys(), []);
      assert.deepEqual(await kv.keys(), ['changes.cursor']);
      await store.close();
    });
  });
}

describe('PostgreSQL state shared by several hosts', () => {
  it('runs each migration step once, however many hosts start at once', async () => {
    const { store, again } = await engines[1]!.fresh();
    // Each step inserts a row: a step run twice would show as two rows.
    const counted = [
      'CREATE TABLE {runs} (step INTEGER NOT NULL)',
      'INSERT INTO {runs} (step) VALUES (1)',
      'INSERT INTO {runs} (step) VALUES (2)',
    ];
    const hosts = [store, ...(await Promise.all([1, 2, 3, 4, 5].map(() => again())))];
    const versions = await Promise.all(hosts.map((host) => host.database('counted').migrate(counted)));
    assert.deepEqual(versions, [3, 3, 3, 3, 3, 3]);
    assert.deepEqual(await store.database('counted').all('SELECT step, COUNT(*) AS n FROM {runs} GROUP BY step ORDER BY step'), [
      { step: 1, n: 1 },
      { step: 2, n: 1 },
    ]);
    for (const host of hosts) await host.close();
  });

  it('numbers ? placeholders outside quotes and comments', () => {
    assert.equal(
      numberPlaceholders('SELECT \'?\', "a?", x FROM t WHERE a = ? AND b IN (?, ?) -- why?\nAND c = ?'),
      'SELECT \'?\', "a?", x FROM t WHERE a = $1 AND b IN ($2, $3) -- why?\nAND c = $4',
    );
  });
});
