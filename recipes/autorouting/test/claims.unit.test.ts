import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RecipeDatabase } from '../../../shared/recipe-database.js';
import { StateStore } from '../../../shared/state-store.js';
import { Ledger } from '../ledger.js';

/**
 * The claims on routes (the ledger's SQLite form; PostgreSQL runs the same statements, see
 * test/cluster-clock.test.ts and test/cluster.test.ts): how a route can be sent twice, and how
 * each such case is counted.
 */
describe('recipe autorouting: claims on routes', () => {
  let directory: string;
  let store: StateStore;
  let database: RecipeDatabase;
  let ledger: Ledger;
  const destination = 'Modality:scp';
  const row = async (id: string) =>
    (await database.get<{ state: string; holder: string | null; takeovers: number }>(
      'SELECT state, holder, takeovers FROM {routes} WHERE resource_id = ?',
      [id],
    ))!;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-claims-'));
    store = new StateStore(directory);
    database = store.database('autorouting');
    ledger = new Ledger(database);
    await ledger.open();
  });
  after(async () => {
    store.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("a host whose route was taken over writes nothing more to it: its late outcome cannot undo the new holder's", async () => {
    const now = Date.now();
    await ledger.decide('Study', 'late', '20261205T120000', 'routed', ['r'], [destination], now);
    const [mine] = await ledger.claim(destination, 'host-a', now, 1000, 10);
    assert.equal(mine?.resource_id, 'late');
    assert.equal(await ledger.markSending(mine, 'job-a', 1), true);
    // host-a's lease runs out; host-b takes the route over and delivers it.
    const [taken] = await ledger.claim(destination, 'host-b', now + 5000, 1000, 10);
    assert.equal(taken?.taken_from, 'host-a');
    assert.equal(await ledger.markSucceeded(taken), true);
    // host-a, late, reads its job as failed: nothing changes, the route is not sent a third time.
    assert.equal(await ledger.markPending(mine, 1, now, 'job-a failed'), false);
    assert.equal(await ledger.markSucceeded(mine), false);
    assert.equal((await row('late')).state, 'succeeded');
  });

  it("a route taken over counts only once sent again; one left pending by this host's previous run is given back and counted", async () => {
    const now = Date.now();
    await ledger.decide('Study', 'left', '20261205T120000', 'routed', ['r'], [destination], now);
    await ledger.decide('Study', 'inflight', '20261205T120000', 'routed', ['r'], [destination], now);
    const claimed = await ledger.claim(destination, 'host-c', now, 1000, 10);
    assert.deepEqual(claimed.map((route) => route.resource_id).sort(), ['inflight', 'left']);
    assert.equal(
      await ledger.markSending(
        claimed.find((route) => route.resource_id === 'inflight')!,
        'job-c',
        1,
      ),
      true,
    );
    assert.equal((await row('left')).takeovers, 0, 'a claim alone counts nothing');
    // host-c is killed and starts again: 'left' may have had its job accepted before the ledger knew.
    assert.equal(await ledger.releaseLeftovers('host-c'), 1);
    assert.deepEqual(await row('left'), { state: 'pending', holder: null, takeovers: 1 });
    // The route in flight keeps its claim and its job, followed by the next run.
    assert.deepEqual(await row('inflight'), { state: 'sending', holder: 'host-c', takeovers: 0 });
  });
});
