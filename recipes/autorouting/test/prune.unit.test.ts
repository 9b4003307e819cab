import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../../shared/binding/index.js';
import { StateStore } from '../../../shared/state-store.js';
import type { RecipeDatabase } from '../../../shared/recipe-database.js';
import { Ledger, type RouteState } from '../ledger.js';
import { prunedBeforeSetting, Pruner } from '../prune.js';
import { formatOrthancTime, shiftOrthancTime } from '../../../shared/orthanc-resources.js';
import { sweepFloor } from '../sweep.js';

const day = 86_400_000;
const orthancTime = (ms: number) => formatOrthancTime(new Date(ms));

describe('recipe autorouting: pruning the ledger (its SQLite tables)', () => {
  let directory: string;
  let store: StateStore;
  let database: RecipeDatabase;
  let ledger: Ledger;
  const now = Date.now();

  /** A decision `ageDays` old with one route per state given, each last updated then. */
  const seed = async (id: string, ageDays: number, states: RouteState[], outcome: 'routed' | 'unmatched' = 'routed') => {
    const at = now - ageDays * day;
    const destinations = states.map((_, n) => `Modality:d${n}`);
    await ledger.decide('Study', id, orthancTime(at), outcome, ['all'], destinations, at);
    for (const [n, state] of states.entries()) {
      await database.run('UPDATE {routes} SET state = ?, updated_at = ? WHERE resource_id = ? AND destination = ?', [
        state,
        at,
        id,
        `Modality:d${n}`,
      ]);
    }
  };
  const remaining = async () =>
    (await database.all<{ resource_id: string }>('SELECT resource_id FROM {decisions} ORDER BY resource_id')).map((row) => row.resource_id);

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-prune-'));
    store = new StateStore(directory);
    database = store.database('autorouting');
    ledger = new Ledger(database);
    await ledger.open();
  });

  after(async () => {
    store.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("deletes finished routes and their decisions once KeepFinishedRoutesDays old, in batches; keeps failed, cancelled and recent ones; raises the sweep's floor first", async () => {
    for (let n = 0; n < 25; n += 1) await seed(`old-${String(n).padStart(2, '0')}`, 40, ['succeeded', 'gone']);
    await seed('old-unmatched', 40, [], 'unmatched');
    await seed('old-failed', 40, ['failed']);
    await seed('old-cancelled', 40, ['cancelled']);
    await seed('old-half', 40, ['succeeded', 'failed']);
    await seed('recent', 5, ['succeeded']);
    const lines: string[] = [];
    const log = createLogger('autorouting', { level: 'info', write: (line) => lines.push(line) });
    const pruner = new Pruner({ ledger, log, keepDays: 30, batchSize: 7, orthancNow: async () => orthancTime(now) });
    await pruner.run();

    assert.deepEqual(await remaining(), ['old-cancelled', 'old-failed', 'old-half', 'recent']);
    const routes = await database.all<{ resource_id: string; state: string }>(
      'SELECT resource_id, state FROM {routes} ORDER BY resource_id, state',
    );
    assert.deepEqual(
      routes.map((r) => `${r.resource_id}:${r.state}`),
      ['old-cancelled:cancelled', 'old-failed:failed', 'old-half:failed', 'recent:succeeded'],
    );
    assert.deepEqual(pruner.lastPruned, { routes: 51, decisions: 26 });
    assert.match(lines.join(''), /pruned finished routes and decisions routes=51 decisions=26 keepDays=30/);

    // The line: a pruned decision is never taken for a resource not yet decided.
    const line = await ledger.setting(prunedBeforeSetting);
    assert.equal(line, shiftOrthancTime(orthancTime(now), -30 * 86_400));
    assert.equal(sweepFloor('20200101T000000', line, undefined), line);
    assert.equal(sweepFloor('', line, orthancTime(now)), shiftOrthancTime(orthancTime(now), -86_400));
    assert.ok(orthancTime(now - 40 * day) < line);

    // Once more: nothing left to prune, and the line never moves back.
    await new Pruner({ ledger, log, keepDays: 60, orthancNow: async () => orthancTime(now) }).run();
    assert.equal(await ledger.setting(prunedBeforeSetting), line);
    assert.deepEqual(await remaining(), ['old-cancelled', 'old-failed', 'old-half', 'recent']);
  });

  it('KeepFinishedRoutesDays 0 never prunes', async () => {
    await seed('ancient', 400, ['succeeded']);
    const pruner = new Pruner({
      ledger,
      log: createLogger('autorouting', { level: 'error' }),
      keepDays: 0,
      orthancNow: async () => orthancTime(now),
    });
    await pruner.run();
    assert.ok((await remaining()).includes('ancient'));
  });
});
