import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Host } from '../../../host/index.js';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy, type GeneratedInstance } from '../../../test/helpers/dicom.js';
import { startHostInProcess, type LineLog } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { bruteForce, levelPath, levels, putMetadata, reMatch, userMetadata } from './fixture.js';

describe('recipe metadata-find with MetadataIndex, against a real Orthanc', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host;
  let url: string;
  let log: LineLog;
  const files: GeneratedInstance[][] = [];

  before(async () => {
    orthanc = await startTestOrthanc({ configuration: { UserMetadata: userMetadata } });
    const system = await orthanc.json('GET', '/system');
    for (let i = 0; i < 4; i += 1) {
      const study = generateStudy({
        patientId: `IDX${i % 2}`,
        patientName: 'Index^Test',
        studyDate: '20240101',
        size: 8,
        series: [{ modality: 'CT', instances: 2 }],
      });
      files.push(study);
      for (const instance of study) await orthanc.upload(instance.file);
    }
    for (const level of levels) {
      const ids: string[] = await orthanc.json('GET', `/${levelPath[level]}`);
      for (const [i, id] of ids.entries()) if (i % 3 !== 2) await putMetadata(orthanc, level, id, 'Reviewer', i % 2 ? 'alice' : 'bob');
    }
    // On 1.12.5+ the default reads come with the find itself; the index serves separate reads.
    const reads = system.Capabilities?.HasExtendedFind ? 'PerResource' : 'Bulk';
    const recipe = { Enabled: true, MetadataIndex: true, NativeMetadataQuery: false, MetadataReads: reads, BatchSize: 3 };
    ({ host, url, log } = await startHostInProcess({ Orthanc: { Url: orthanc.url }, Recipes: { 'metadata-find': recipe } }));
  });

  after(async () => {
    await host?.close();
    await orthanc?.stop();
  });

  const lastReadCount = () => {
    const line = log
      .messages('metadata-find')
      .filter((message) => / readFromOrthanc=\d+/.test(message))
      .at(-1)!;
    return Number(/ readFromOrthanc=(\d+)/.exec(line)![1]);
  };

  /** The recipe's answer equals a brute-force rescan of Orthanc, at every level and for a few patterns. */
  async function expectAgreement(when: string): Promise<void> {
    for (const level of levels) {
      const lastUpdate = (
        await orthanc.json<Record<string, string>>(
          'GET',
          `/${levelPath[level]}/${(await orthanc.json('GET', `/${levelPath[level]}`))[0]}/metadata?expand`,
        )
      ).LastUpdate;
      const metadata: Record<string, string>[] = [
        { Reviewer: 'al' },
        { Reviewer: '(?i)B' },
        { Reviewer: '^$' },
        { RemoteAET: 'IDX' },
        { LastUpdate: lastUpdate ?? '^$' },
      ];
      for (const filter of metadata) {
        const [name, pattern] = Object.entries(filter)[0]!;
        const matches = reMatch(pattern);
        const expected = await bruteForce(orthanc, { Level: level }, (m) => matches(m[name]));
        const answer = await rawRequest(`${url}/tools/find`, {
          method: 'POST',
          body: JSON.stringify({ Level: level, Query: {}, Metadata: filter }),
        });
        assert.deepEqual(JSON.parse(answer.body.toString('utf8')), expected, `${when}: ${level} ${JSON.stringify(filter)}`);
      }
    }
  }

  /**
   * Waits until the index has applied the change of `id` (the feed delivers it within its poll
   * interval), in the lines from `from`: take it before the action, as an older line may name the same change.
   */
  const applied = (change: string, id: string, from: number) =>
    log.waitFor(new RegExp(`metadata-find\\] index: change applied changeType=${change} resource=${id} `), 20_000, from);

  it('answers a repeated query from the index, without reading metadata again', async () => {
    await expectAgreement('first queries');
    for (const level of levels) {
      await rawRequest(`${url}/tools/find`, {
        method: 'POST',
        body: JSON.stringify({ Level: level, Query: {}, Metadata: { Reviewer: 'al' } }),
      });
      assert.equal(lastReadCount(), 0, `${level}: nothing read again`);
    }
  });

  it('agrees with a rescan after user metadata are set and deleted', async () => {
    for (const level of levels) {
      const ids: string[] = await orthanc.json('GET', `/${levelPath[level]}`);
      let from = log.lines.length;
      await putMetadata(orthanc, level, ids[0]!, 'Reviewer', 'alice-changed');
      await applied('UPDATED_METADATA', ids[0]!, from);
      from = log.lines.length;
      await fetch(`${orthanc.url}/${levelPath[level]}/${ids[1]}/metadata/Reviewer`, { method: 'DELETE' });
      await applied('UPDATED_METADATA', ids[1]!, from);
    }
    await expectAgreement('after PUT and DELETE of metadata');
  });

  it("agrees with a rescan after a new instance changes its ancestors' LastUpdate", async () => {
    await expectAgreement('before the new instance'); // fills the index with the current LastUpdate
    const series: string[] = await orthanc.json('GET', '/series');
    const before = (await orthanc.json('GET', `/series/${series[0]}/metadata?expand`)).LastUpdate;
    const now = () => new Date().toISOString().replace(/[-:]/g, '').slice(0, 15); // LastUpdate's format, one-second resolution
    await eventually(() => now() > before, 5_000, 'the next second');
    // A new instance of an existing series, sent by storescu: the series' RemoteAET becomes its AET.
    const created = await orthanc.json('POST', '/tools/create-dicom', {
      Parent: series[0],
      Tags: { SOPClassUID: '1.2.840.10008.5.1.4.1.1.7' },
    });
    const path = join(orthanc.directory, 'index-new.dcm');
    await writeFile(path, Buffer.from(await (await fetch(`${orthanc.url}/instances/${created.ID}/file`)).arrayBuffer()));
    await orthanc.json('DELETE', `/instances/${created.ID}`); // its NEW_INSTANCE row goes with it
    const from = log.lines.length;
    await promisify(execFile)('storescu', [
      '-aet',
      'IDX-NEW-AET',
      '-aec',
      orthanc.process.aet,
      '127.0.0.1',
      String(orthanc.process.dicomPort),
      path,
    ]);
    await applied('NEW_INSTANCE', created.ID, from);
    assert.notEqual((await orthanc.json('GET', `/series/${series[0]}/metadata?expand`)).LastUpdate, before, "the series' LastUpdate moved");
    await expectAgreement('after a new instance');
  });

  it('agrees with a rescan after a study is deleted and stored again under the same IDs', async () => {
    const study = files[0]!;
    const { ParentStudy: studyId } = await orthanc.upload(study[0]!.file);
    // (Lines from `from` on: the cases above changed this study's metadata too.)
    let from = log.lines.length;
    await putMetadata(orthanc, 'Study', studyId, 'Reviewer', 'alice-before-deletion');
    await applied('UPDATED_METADATA', studyId, from);
    await expectAgreement('before the deletion');
    await orthanc.json('DELETE', `/studies/${studyId}`);
    await expectAgreement('after the deletion');
    from = log.lines.length;
    const stored = await orthanc.upload(study[0]!.file);
    assert.equal(stored.ParentStudy, studyId, 'the same Orthanc ID');
    await applied('NEW_STUDY', studyId, from);
    await expectAgreement('after the study came back without its metadata');
  });
});
