import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ledger } from '../recipes/autorouting/ledger.js';
import { createLogger } from '../shared/binding/index.js';
import { PostgresCluster, PostgresStateStore } from '../shared/postgres-state.js';
import { eventually } from './helpers/changes.js';
import { startTestPostgres, type TestPostgres } from './helpers/postgres.js';

/**
 * Leases on PostgreSQL's clock: hosts' clocks need not agree. A host whose clock runs an hour
 * ahead neither steals a lease that a live host holds, nor (dead) keeps its own for that hour;
 * one whose clock runs behind does not hand its leases out early. The hosts share one process
 * here, so a host's clock is skewed by shifting `Date.now` while it acts.
 */
let postgres: TestPostgres;
let store: PostgresStateStore;
const log = createLogger('clock', { level: 'error' });
const leaseMs = 1500;
const hour = 3_600_000;

/** Runs `act` as a host whose clock is `offsetMs` off. */
async function withClockOff<T>(offsetMs: number, act: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => realNow() + offsetMs;
  try {
    return await act();
  } finally {
    Date.now = realNow;
  }
}

describe("leases on the database clock, whatever the hosts' clocks", { timeout: 60_000 }, () => {
  let a: PostgresCluster;
  let b: PostgresCluster;
  before(async () => {
    postgres = await startTestPostgres();
    store = await PostgresStateStore.open({ connectionString: postgres.connectionString(), schema: 'clock', log });
    // No heartbeat: a claim lives leaseMs from when it was taken, as a host that died right after.
    a = new PostgresCluster(store.pool, 'host-a', leaseMs, log);
    b = new PostgresCluster(store.pool, 'host-b', leaseMs, log);
  });
  after(async () => {
    await store?.close();
    await postgres?.dispose();
  });

  it('change claims: a host an hour ahead does not steal a live claim, and one an hour behind does not lose its own', async () => {
    assert.equal(await a.changeClaims.claim('recipe', 1), 'mine');
    assert.equal(await withClockOff(hour, () => b.changeClaims.claim('recipe', 1)), 'held');
    assert.equal((await withClockOff(hour, () => b.changeClaims.check('recipe', [1]))).get(1), 'held');
    assert.equal(await withClockOff(-hour, () => a.changeClaims.claim('recipe', 2)), 'mine');
    assert.equal(await b.changeClaims.claim('recipe', 2), 'held');
  });

  it('change claims: a dead host whose clock ran an hour ahead loses its claim after the lease', async () => {
    assert.equal(await withClockOff(hour, () => a.changeClaims.claim('recipe', 3)), 'mine');
    assert.equal(await b.changeClaims.claim('recipe', 3), 'held');
    await eventually(async () => (await b.changeClaims.claim('recipe', 3)) === 'mine', 10 * leaseMs, 'host b takes change 3 over');
  });

  it('routes: a host an hour ahead does not take over a live claim; a dead host an hour ahead loses it after the lease', async () => {
    const ledger = new Ledger(store.database('autorouting'));
    await ledger.open();
    await ledger.decide('Study', 'study-1', '20261205T120000', 'routed', ['r'], ['Modality:scp']);
    await ledger.decide('Study', 'study-2', '20261205T120000', 'routed', ['r'], ['Modality:scp']);
    const claimed = (holder: string, offsetMs = 0, limit = 1) =>
      withClockOff(offsetMs, () => ledger.claim('Modality:scp', holder, Date.now(), leaseMs, limit));

    assert.deepEqual(
      (await claimed('host-a')).map((route) => route.resource_id),
      ['study-1'],
    );
    // study-1 is a's: b, an hour ahead, may take study-2 (due, free) but not study-1.
    assert.deepEqual(
      (await claimed('host-b', hour)).map((route) => route.resource_id),
      ['study-2'],
    );
    assert.equal(Number(await postgres.psql(`SELECT count(*) FROM clock.r_autorouting__routes WHERE holder = 'host-a'`)), 1);
    // a renews an hour behind: its lease still runs leaseMs from the database's now.
    await withClockOff(-hour, () => ledger.renew('host-a', Date.now(), leaseMs));
    // b (its own study-2 aside, which it holds) still cannot take study-1, first in line.
    assert.deepEqual(
      (await claimed('host-b')).map((route) => route.resource_id),
      ['study-2'],
    );
    // b (an hour ahead) dies holding study-2; a, on time, takes it over once the lease is out.
    await eventually(
      async () => (await claimed('host-a', 0, 10)).some((route) => route.resource_id === 'study-2'),
      10 * leaseMs,
      'host a takes study-2 over',
    );
    const row = await postgres.psql(`SELECT holder || ' ' || taken_from FROM clock.r_autorouting__routes WHERE resource_id = 'study-2'`);
    assert.equal(row.trim(), 'host-a host-b');
  });

  it("measures each host's offset at its heartbeat: the cluster's clock is the database's, the offset shown and said", async () => {
    const lines: string[] = [];
    const said = createLogger('clock', { level: 'info', write: (line) => void lines.push(line) });
    const ahead = new PostgresCluster(store.pool, 'host-ahead', 60_000, said);
    try {
      // Its first heartbeat, an hour ahead (later ones, on this process's true clock, would mend it).
      await withClockOff(hour, () => ahead.start({ name: 'ahead' }));
      const databaseNow = Number(await postgres.psql(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint`));
      const clusterNow = await withClockOff(hour, async () => ahead.member('x').now());
      assert.ok(Math.abs(clusterNow - databaseNow) < 1000, `the cluster's clock is the database's (${clusterNow - databaseNow} ms off)`);
      const warning = lines
        .map((line) => / clock\] this host's clock is ahead of the state database's by (\d+) ms/.exec(line))
        .find(Boolean);
      assert.ok(warning && Math.abs(Number(warning[1]) - hour) < 1000, lines.join('\n'));
      const [host] = (await ahead.describe()).Hosts.filter((record) => record.Id === 'host-ahead');
      assert.ok(Math.abs(host!.ClockOffsetMs! + hour) < 1000, String(host!.ClockOffsetMs));
    } finally {
      await ahead.close();
    }
  });
});
