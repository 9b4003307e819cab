import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../shared/binding/index.js';
import { inTransaction } from '../shared/postgres-database.js';
import { PostgresCluster, PostgresStateStore } from '../shared/postgres-state.js';
import { eventually } from './helpers/changes.js';
import { startTestPostgres, type TestPostgres } from './helpers/postgres.js';

/**
 * PostgreSQL restarting while a host holds connections out of the pool (a transaction under way,
 * a single run's advisory lock): node-postgres emits `error` on such a connection, which would
 * crash the process if nothing listened (seen as both hosts of the cluster test dying at once).
 * The host goes on, and its pool serves again once PostgreSQL is back.
 */
let postgres: TestPostgres;
let store: PostgresStateStore;
const log = createLogger('restart', { level: 'error' });

describe('PostgreSQL restarting under checked-out connections', { timeout: 60_000 }, () => {
  before(async () => {
    postgres = await startTestPostgres();
    store = await PostgresStateStore.open({ connectionString: postgres.connectionString(), schema: 'restart', log });
  });
  after(async () => {
    await store?.close().catch(() => undefined);
    await postgres?.dispose();
  });

  it('a transaction and a single run in progress fail, the process stays up, and the state answers again', async () => {
    const cluster = new PostgresCluster(store.pool, 'host-a', 1000, log);
    const run = await cluster.member('recipe').claimRun('task');
    assert.ok(run);
    const transaction = inTransaction(store.pool, async (client) => {
      await client.query('SELECT 1');
      // Between two queries of the transaction, PostgreSQL goes away (fast shutdown: 57P01, then the socket closes).
      await postgres.stop();
      await sleep(300);
      await client.query('SELECT 1');
    });
    await assert.rejects(transaction);
    await run.release();
    await postgres.start();
    const database = store.database('recipe');
    await eventually(
      async () => (await database.get<{ one: number }>('SELECT 1 AS one').catch(() => undefined))?.one === 1,
      20_000,
      'the state answers again',
    );
  });
});
