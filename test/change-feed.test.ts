import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ChangeType, changeTypeName, resourceTypeName } from '../shared/binding/index.js';
import { defineRecipe } from '../shared/recipe.js';
import type { Host } from '../host/index.js';
import { eventually, orthancChangeLines, waitUntilStable } from './helpers/changes.js';
import { generateCollection, generateStudy } from './helpers/dicom.js';
import { startHostInProcess, type LineLog } from './helpers/host.js';
import { rawRequest } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

/** A recipe that records what it receives as `NAME LEVEL id` lines, optionally slowly or failing. */
function recorder(id: string, behaviour: { delayMs?: number; failOn?: number } = {}) {
  const received: string[] = [];
  const recipe = defineRecipe({
    meta: { id, title: id, description: 'Records changes.', routes: [], events: [], destructive: false },
    schema: { type: 'object', properties: {}, additionalProperties: false },
    setup({ orthanc }) {
      orthanc.registerOnChangeCallback(async (changeType, resourceType, resourceId) => {
        received.push(`${changeTypeName(changeType)} ${resourceTypeName(resourceType)} ${resourceId}`.trimEnd());
        if (behaviour.delayMs) await sleep(behaviour.delayMs);
        if (changeType === behaviour.failOn) throw new Error(`refusing ${resourceId}`);
      });
    },
  });
  return { recipe, received, changes: () => received.filter((line) => !line.startsWith('ORTHANC_')) };
}

describe('the change feed, against a real Orthanc', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host;
  let url: string;
  let log: LineLog;
  let startCursor: number;
  const fast = recorder('fast');
  const slow = recorder('slow', { delayMs: 40 });
  const failing = recorder('failing', { failOn: ChangeType.NEW_SERIES });

  before(async () => {
    orthanc = await startTestOrthanc();
    // Stored before the first run: the feed starts from the current last change, so never sees these.
    for (const instance of generateStudy({
      patientId: 'EARLY',
      patientName: 'Early^Bird',
      studyDate: '20200101',
      series: [{ modality: 'CT', instances: 2 }],
    })) {
      await orthanc.upload(instance.file);
    }
    startCursor = (await orthanc.json('GET', '/changes?last')).Last;
    ({ host, url, log } = await startHostInProcess(
      {
        Orthanc: { Url: orthanc.url },
        ChangeFeed: { PageSize: 7 },
        Recipes: { fast: { Enabled: true }, slow: { Enabled: true }, failing: { Enabled: true } },
      },
      [fast.recipe, slow.recipe, failing.recipe],
    ));
    assert.equal(host.feed.cursor, startCursor, "the first run starts at Orthanc's last change");
    for (const instance of generateCollection()) await orthanc.upload(instance.file);
    await waitUntilStable(orthanc);
  });

  after(async () => {
    await host?.close();
    await orthanc?.stop();
  });

  it('delivers every change once, in Seq order, exactly as /changes lists them (pages of 7)', async () => {
    const expected = await orthancChangeLines(orthanc, startCursor);
    assert.ok(expected.length > 30, `expected many changes, got ${expected.length}`);
    assert.ok(expected.some((line) => line.startsWith('STABLE_STUDY')));
    await eventually(() => fast.changes().length >= expected.length, 20_000, 'the fast recipe');
    assert.deepEqual(fast.changes(), expected);
    assert.equal(fast.received[0], 'ORTHANC_STARTED NONE', 'ORTHANC_STARTED comes first');
  });

  it('lets a slow recipe lag without delaying the others, and the cursor waits for it', async () => {
    const expected = await orthancChangeLines(orthanc, startCursor);
    await eventually(() => fast.changes().length === expected.length, 20_000, 'the fast recipe');
    // The slow recipe spends 40 ms per change, so it is still behind when the fast one is done.
    assert.ok(slow.changes().length < expected.length, `slow has ${slow.changes().length} of ${expected.length}`);
    assert.ok(host.feed.cursor < (await orthanc.json('GET', '/changes?last')).Last, 'the cursor must not pass the slow recipe');
    await eventually(() => slow.changes().length === expected.length, 60_000, 'the slow recipe');
    assert.deepEqual(slow.changes(), expected);
    await eventually(async () => host.feed.cursor === (await orthanc.json('GET', '/changes?last')).Last, 5_000, 'the cursor');
  });

  it('logs a failing handler with recipe, change type and id, and keeps delivering to it', async () => {
    const expected = await orthancChangeLines(orthanc, startCursor);
    await eventually(() => failing.changes().length === expected.length, 20_000, 'the failing recipe');
    assert.deepEqual(failing.changes(), expected);
    const seriesIds = expected.filter((line) => line.startsWith('NEW_SERIES')).map((line) => line.split(' ')[2]);
    for (const id of seriesIds) {
      await log.waitFor(new RegExp(`recipe failing: change handler failed on NEW_SERIES SERIES ${id}: refusing ${id}`), 5_000);
    }
  });

  it('delivers ORTHANC_STOPPED when Orthanc goes away and ORTHANC_STARTED when it is back, then goes on', async () => {
    await orthanc.process.stop();
    await eventually(() => fast.received.includes('ORTHANC_STOPPED NONE'), 10_000, 'ORTHANC_STOPPED');
    const proxied = await rawRequest(`${url}/system`);
    assert.equal(proxied.status, 502);
    assert.match(JSON.parse(proxied.body.toString()).Message, /Orthanc is unreachable/);
    await orthanc.process.restart();
    await eventually(() => fast.received.filter((l) => l === 'ORTHANC_STARTED NONE').length === 2, 15_000, 'the second ORTHANC_STARTED');
    const [stored] = generateStudy({
      patientId: 'AFTER',
      patientName: 'After^Outage',
      studyDate: '20250101',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const { ID } = await orthanc.upload(stored!.file);
    await eventually(() => fast.received.includes(`NEW_INSTANCE INSTANCE ${ID}`), 10_000, 'a change after the outage');
    const lifecycle = fast.received.filter((line) => line.startsWith('ORTHANC_'));
    assert.deepEqual(lifecycle, ['ORTHANC_STARTED NONE', 'ORTHANC_STOPPED NONE', 'ORTHANC_STARTED NONE']);
  });
});
