import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import {
  ChangeFeed,
  ChangeType,
  OrthancConnection,
  changeTypeName,
  createLogger,
  resourceTypeName,
  type ChangeTypeValue,
} from '../shared/binding/index.js';
import { eventually, orthancChangeLines, waitUntilStable } from './helpers/changes.js';
import { generateCollection } from './helpers/dicom.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

type Subscription = { name: string; types?: ChangeTypeValue[]; delayMs?: number };

/** Runs a feed from the very first change with these subscribers; returns what each received. */
async function deliver(orthanc: TestOrthanc, typeFilter: 'auto' | 'never', subscriptions: Subscription[], maxQueued?: number) {
  const connection = new OrthancConnection({ url: orthanc.url });
  let saved = 0;
  let longestBacklog = 0;
  const feed = new ChangeFeed({
    connection,
    typeFilter,
    maxQueued,
    pageSize: 3,
    log: createLogger('feed', { level: 'error' }),
    cursor: { load: () => 0, save: (seq) => (saved = seq) },
  });
  const received = new Map(subscriptions.map(({ name }) => [name, [] as string[]]));
  for (const { name, types, delayMs } of subscriptions) {
    feed.subscribe(
      name,
      async (c) => {
        received.get(name)!.push(`${changeTypeName(c.changeType)} ${resourceTypeName(c.resourceType)} ${c.resourceId}`.trimEnd());
        longestBacklog = Math.max(longestBacklog, feed.backlog);
        if (delayMs) await sleep(delayMs);
      },
      types,
    );
  }
  await feed.prepare();
  feed.start();
  const last = (await orthanc.json('GET', '/changes?last')).Last;
  await eventually(() => saved === last, 30_000, `the ${typeFilter} feed to reach ${last}`);
  const filtered = feed.filtersTypes;
  await feed.stop();
  await connection.close();
  return { received, filtered, longestBacklog };
}

describe('the change feed used directly: fast path, portable path, back-pressure', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let extended: boolean;

  before(async () => {
    orthanc = await startTestOrthanc();
    for (const instance of generateCollection()) await orthanc.upload(instance.file);
    await waitUntilStable(orthanc);
    extended = (await orthanc.json('GET', '/system')).Capabilities?.HasExtendedChanges === true;
  });

  after(async () => {
    await orthanc?.stop();
  });

  it('delivers the same changes, in the same order, to subscribers of some change types', async (t) => {
    const subscriptions: Subscription[] = [
      { name: 'stable-studies', types: [ChangeType.STABLE_STUDY] },
      { name: 'instances-and-series', types: [ChangeType.NEW_INSTANCE, ChangeType.STABLE_SERIES, ChangeType.ORTHANC_STARTED] },
    ];
    const portable = await deliver(orthanc, 'never', subscriptions);
    const fast = await deliver(orthanc, 'auto', subscriptions);
    t.diagnostic(`Orthanc ${(await orthanc.json('GET', '/system')).Version}: fast path ${fast.filtered ? 'used' : 'not available'}`);
    assert.equal(portable.filtered, false);
    assert.equal(fast.filtered, extended, 'the fast path is used exactly where /system offers it');

    const all = await orthancChangeLines(orthanc, 0);
    const only = (...prefixes: string[]) => all.filter((line) => prefixes.some((p) => line.startsWith(p)));
    assert.deepEqual(portable.received.get('stable-studies'), only('STABLE_STUDY '));
    assert.deepEqual(portable.received.get('instances-and-series'), ['ORTHANC_STARTED NONE', ...only('NEW_INSTANCE ', 'STABLE_SERIES ')]);
    assert.ok(only('STABLE_STUDY ').length >= 4);
    for (const { name } of subscriptions) assert.deepEqual(fast.received.get(name), portable.received.get(name), name);
  });

  it('reads every change, on both paths, when one subscriber wants them all', async () => {
    const subscriptions: Subscription[] = [{ name: 'stable-studies', types: [ChangeType.STABLE_STUDY] }, { name: 'everything' }];
    const portable = await deliver(orthanc, 'never', subscriptions);
    const fast = await deliver(orthanc, 'auto', subscriptions);
    assert.equal(fast.filtered, false);
    assert.deepEqual(fast.received.get('everything'), portable.received.get('everything'));
    assert.deepEqual(
      fast.received.get('everything')!.filter((l) => !l.startsWith('ORTHANC_')),
      await orthancChangeLines(orthanc, 0),
    );
    assert.deepEqual(fast.received.get('stable-studies'), portable.received.get('stable-studies'));
  });

  it('stops fetching while a subscriber is behind (back-pressure), and still delivers everything', async () => {
    const maxQueued = 4;
    const { received, longestBacklog } = await deliver(orthanc, 'never', [{ name: 'slow', delayMs: 15 }], maxQueued);
    // The feed fetches a page of 3 only while the queue is shorter than 4: it never exceeds 3 + 3.
    assert.ok(longestBacklog <= maxQueued - 1 + 3, `the backlog reached ${longestBacklog}`);
    assert.deepEqual(
      received.get('slow')!.filter((l) => !l.startsWith('ORTHANC_')),
      await orthancChangeLines(orthanc, 0),
    );
  });
});
