import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChangeFeed, OrthancConnection, createLogger } from '../shared/binding/index.js';
import { PostgresCluster, PostgresStateStore } from '../shared/postgres-state.js';
import { eventually } from './helpers/changes.js';
import { generateStudy } from './helpers/dicom.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';
import { startTestPostgres, type TestPostgres } from './helpers/postgres.js';

/**
 * Two hosts' change feeds on one Orthanc's `/changes`, claiming changes in one PostgreSQL state:
 * each change is handled once for a recipe, by one host, and a host that stops renewing its
 * claims (dead) has its changes taken over.
 */
let postgres: TestPostgres;
let orthanc: TestOrthanc;
const log = createLogger('claims', { level: 'error' });
const stores: PostgresStateStore[] = [];
const feeds: ChangeFeed[] = [];
let schemas = 0;

interface FakeHost {
  handled: number[];
  cluster: PostgresCluster;
  feed: ChangeFeed;
}

/** A host's feed from Orthanc's last change on, with a subscriber `recipe` that records what it handled. */
async function startFeed(
  schema: string,
  hostId: string,
  from: number,
  heartbeat: boolean,
  handler: (seq: number) => Promise<void> = async () => undefined,
): Promise<FakeHost> {
  const store = await PostgresStateStore.open({ connectionString: postgres.connectionString(), schema, log });
  stores.push(store);
  const cluster = new PostgresCluster(store.pool, hostId, 1000, log);
  if (heartbeat) await cluster.start({ url: `http://${hostId}` });
  let cursor = from;
  const feed = new ChangeFeed({
    connection: new OrthancConnection({ url: orthanc.url }),
    log,
    pollIntervalMs: 50,
    drainTimeoutMs: 1000,
    claims: cluster.changeClaims,
    cursor: { load: () => cursor, save: (seq) => void (cursor = seq) },
  });
  feeds.push(feed);
  const handled: number[] = [];
  feed.subscribe('recipe', async (change) => {
    if (change.seq === undefined) return; // ORTHANC_STARTED: every host's own
    await handler(change.seq);
    handled.push(change.seq);
  });
  await feed.prepare();
  feed.start();
  return { handled, cluster, feed };
}

const lastChange = async () => ((await (await fetch(`${orthanc.url}/changes?last`)).json()) as { Last: number }).Last;

async function upload(label: string, instances: number): Promise<number> {
  for (const instance of generateStudy({
    patientId: label,
    patientName: 'Claims^Test',
    studyDate: '20240601',
    series: [{ modality: 'CT', instances }],
    size: 16,
  }))
    await orthanc.upload(instance.file);
  return lastChange();
}

describe('changes claimed by hosts sharing the state', { timeout: 120_000 }, () => {
  before(async () => {
    [postgres, orthanc] = await Promise.all([startTestPostgres(), startTestOrthanc({ configuration: { StableAge: 1 } })]);
  });
  after(async () => {
    await Promise.allSettled(feeds.map((feed) => feed.stop()));
    await Promise.allSettled(stores.map((store) => store.close()));
    await orthanc?.stop();
    await postgres?.dispose();
  });

  it('handles each change once, on one host or the other', async () => {
    const schema = `claims_${++schemas}`;
    const slow = () => new Promise<void>((resolve) => setTimeout(resolve, 15));
    const since = await lastChange();
    const [a, b] = await Promise.all([startFeed(schema, 'host-a', since, true, slow), startFeed(schema, 'host-b', since, true, slow)]);
    const last = await upload('CLAIMS-1', 8);
    const wanted = Array.from({ length: last - since }, (_unused, n) => since + 1 + n);
    await eventually(() => wanted.every((seq) => a.handled.includes(seq) || b.handled.includes(seq)), 30_000, 'every change handled');
    await eventually(() => a.feed.cursor >= last && b.feed.cursor >= last, 10_000, 'both cursors past the last change');
    const all = [...a.handled, ...b.handled].sort((x, y) => x - y);
    assert.deepEqual(all, wanted, `each change once (host a: ${a.handled.length}, host b: ${b.handled.length})`);
  });

  it('takes over the changes of a host that stopped renewing its claims', async () => {
    const schema = `claims_${++schemas}`;
    // Host b never beats: its claims expire after the lease (1 s). Its handler never returns.
    const stuck = new Promise<void>(() => undefined);
    const since = await lastChange();
    const b = await startFeed(schema, 'host-b', since, false, () => stuck);
    const last = await upload('CLAIMS-2', 3);
    let held = 0;
    await eventually(
      async () =>
        (held = Number(await postgres.psql(`SELECT coalesce(MIN(seq), 0) FROM ${schema}.change_claims WHERE holder = 'host-b'`))) > 0,
      10_000,
      'host b claims a change',
    );
    // Host a starts from the same point as b: it sees b's change held until b's lease expires.
    const a = await startFeed(schema, 'host-a', since, true);
    await eventually(() => a.feed.cursor >= last, 20_000, "host a passes every change, b's included");
    assert.ok(a.handled.includes(held), `host a handled change ${held}, taken over from host b`);
    assert.equal(
      await postgres.psql(`SELECT holder || ' ' || coalesce(taken_from, '-') FROM ${schema}.change_claims WHERE seq = ${held}`),
      'host-a host-b\n',
    );
    assert.deepEqual(b.handled, []);
  });
});
