import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { RecipeDatabaseError, tablePrefix } from '../shared/recipe-database.js';
import { StateStore } from '../shared/state-store.js';

const stateDirectory = () => mkdtemp(join(tmpdir(), 'orthanc-recipes-db-'));

const steps = [
  'CREATE TABLE {items} (id TEXT PRIMARY KEY, size INTEGER NOT NULL)',
  'ALTER TABLE {items} ADD COLUMN colour TEXT; CREATE INDEX {items_by_colour} ON {items} (colour)',
];

describe('recipe tables in the state database', () => {
  it('applies migrations in order, records the version, and applies each only once', async () => {
    const directory = await stateDirectory();
    const store = new StateStore(directory);
    const db = store.database('my-recipe');
    assert.equal(await db.version(), 0);
    assert.equal(await db.migrate(steps.slice(0, 1)), 1);
    await db.run('INSERT INTO {items} (id, size) VALUES (?, ?)', ['a', 1]);
    assert.equal(await db.migrate(steps), 2);
    assert.equal(await db.migrate(steps), 2, 'a second run changes nothing');
    await db.run('UPDATE {items} SET colour = ? WHERE id = ?', ['red', 'a']);
    assert.deepEqual(await db.all('SELECT id, size, colour FROM {items}'), [{ id: 'a', size: 1, colour: 'red' }]);
    store.close();

    // Durable: a new store on the same folder sees the rows and the version.
    const again = new StateStore(directory);
    const reopened = again.database('my-recipe');
    assert.equal(await reopened.version(), 2);
    assert.deepEqual(await reopened.get('SELECT colour FROM {items} WHERE id = ?', ['a']), { colour: 'red' });
    again.close();
  });

  it('scopes tables by recipe: same names, separate tables, prefixed in the file', async () => {
    const directory = await stateDirectory();
    const store = new StateStore(directory);
    const first = store.database('first');
    const second = store.database('second-one');
    await first.migrate(steps);
    await second.migrate(steps.slice(0, 1));
    await first.run('INSERT INTO {items} (id, size) VALUES (?, ?)', ['x', 1]);
    assert.deepEqual(await second.all('SELECT * FROM {items}'), []);
    assert.equal(await second.version(), 1);
    store.close();
    const raw = new Database(join(directory, 'state.sqlite'), { readonly: true });
    const tables = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((row) => (row as { name: string }).name);
    raw.close();
    assert.equal(tablePrefix('second-one'), 'r_second_one__');
    assert.deepEqual(tables.filter((name) => name.startsWith('r_')), ['r_first__items', 'r_second_one__items']);
  });

  it('rolls a failing migration back entirely, and refuses a table outside the recipe', async () => {
    const store = new StateStore(await stateDirectory());
    const db = store.database('careful');
    await assert.rejects(db.migrate(['CREATE TABLE {a} (x INTEGER); CREATE TABLE {a} (y INTEGER)']), (error: unknown) => {
      assert.ok(error instanceof RecipeDatabaseError);
      assert.match(error.message, /recipe careful: migration to schema version 1 failed and was rolled back: .*already exists/);
      return true;
    });
    assert.equal(await db.version(), 0);
    await assert.rejects(db.run('SELECT * FROM {a}'), /no such table/);
    await assert.rejects(db.migrate(['CREATE TABLE unscoped (x INTEGER)']), /creates unscoped: write table names as \{name\}/);
    assert.equal(await db.version(), 0);
    store.close();
  });

  it('refuses tables written by a newer version of the recipe', async () => {
    const store = new StateStore(await stateDirectory());
    const db = store.database('newer');
    await db.migrate(steps);
    await assert.rejects(db.migrate(steps.slice(0, 1)), /schema version 2, newer than this version of the recipe knows \(1\)/);
    store.close();
  });

  it('runs a batch as one transaction: all or nothing', async () => {
    const store = new StateStore(await stateDirectory());
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
      /UNIQUE/,
    );
    assert.deepEqual(await db.get('SELECT size FROM {items} WHERE id = ?', ['a']), { size: 1 });
    store.close();
  });
});
