import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, testOrthancRoot, type TestOrthanc } from '../../../test/helpers/orthanc.js';

type Study = { ID: string; MainDicomTags: Record<string, string>; PatientMainDicomTags: Record<string, string> };

const dates = ['20240105', '20240101', '20240103', '20240101', '20240102', '20240103', '20240101', '20231231', '20240104', '20240102'];

describe('recipe paging, against a real Orthanc', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let auto: HostProcess;
  let indexed: HostProcess;
  const studyIds: string[] = [];

  const page = async (host: HostProcess, query: string) => {
    const answer = await rawRequest(`${host.url}/sort-studies${query}`);
    return { status: answer.status, headers: answer.headers, json: JSON.parse(answer.body.toString()) };
  };
  const ready = (host: HostProcess) => eventually(async () => (await page(host, '')).status === 200, 30_000, 'the index');

  before(async () => {
    orthanc = await startTestOrthanc();
    for (const [i, date] of dates.entries()) {
      const [instance] = generateStudy({
        patientId: `PG-${i}`,
        patientName: `Name${i % 4}^Test`,
        studyDate: date,
        series: [{ modality: 'CT', instances: 1 }],
      });
      studyIds.push((await orthanc.upload(instance!.file)).ParentStudy);
    }
    auto = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { paging: { Enabled: true } } });
    indexed = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { paging: { Enabled: true, Engine: 'index', DefaultLimit: 4 } },
    });
    await ready(auto);
    await ready(indexed);
  });

  after(async () => {
    await auto?.stop();
    await indexed?.stop();
    await orthanc?.stop();
  });

  it("uses Orthanc's OrderBy where Orthanc has it (1.12.5+), else its own index", async () => {
    const engine = (await page(auto, '')).headers['x-paging-engine'];
    assert.equal(engine, testOrthancRoot ? 'find' : 'index');
    assert.equal((await page(indexed, '')).headers['x-paging-engine'], 'index');
  });

  for (const which of ['auto', 'indexed'] as const) {
    it(`${which}: pages follow each other without repeat or gap, sorted, with the total in X-Total-Count`, async () => {
      const host = which === 'auto' ? auto : indexed;
      for (const order of ['asc', 'desc']) {
        const all = await page(host, `?sort=StudyDate&order=${order}&limit=1000`);
        assert.equal(all.status, 200);
        assert.equal(all.headers['x-total-count'], String(dates.length));
        const ids = (all.json as Study[]).map((study) => study.ID);
        assert.deepEqual([...ids].sort(), [...studyIds].sort());
        const studyDates = (all.json as Study[]).map((study) => study.MainDicomTags.StudyDate);
        assert.deepEqual(
          studyDates,
          [...dates].sort((a, b) => (order === 'asc' ? a.localeCompare(b) : b.localeCompare(a))),
        );
        const paged: string[] = [];
        for (let offset = 0; offset < dates.length + 3; offset += 3) {
          const part = await page(host, `?sort=StudyDate&order=${order}&offset=${offset}&limit=3`);
          assert.equal(part.headers['x-total-count'], String(dates.length));
          paged.push(...(part.json as Study[]).map((study) => study.ID));
        }
        assert.deepEqual(paged, ids, 'the pages, one after the other, are the whole list');
        assert.deepEqual(
          (await page(host, `?sort=StudyDate&order=${order}&limit=1000`)).json.map((s: Study) => s.ID),
          ids,
          'the same order again',
        );
      }
      const byName = (await page(host, '?sort=PatientName&limit=1000')).json as Study[];
      const names = byName.map((study) => study.PatientMainDicomTags.PatientName);
      assert.deepEqual(names, [...names].sort());
      assert.ok(byName[0]!.MainDicomTags.StudyInstanceUID, 'expanded studies, as /studies?expand');
    });
  }

  it('both engines give the same order (ties broken by StudyInstanceUID)', async () => {
    for (const query of ['?sort=StudyDate&limit=1000', '?sort=StudyDate&order=desc&limit=1000']) {
      const a = (await page(auto, query)).json.map((s: Study) => s.ID);
      const b = (await page(indexed, query)).json.map((s: Study) => s.ID);
      assert.deepEqual(a, b, query);
    }
  });

  it('the index follows new and deleted studies', async () => {
    const [instance] = generateStudy({
      patientId: 'PG-NEW',
      patientName: 'New^Study',
      studyDate: '19990101',
      series: [{ modality: 'MR', instances: 1 }],
    });
    const added = (await orthanc.upload(instance!.file)).ParentStudy;
    await eventually(async () => (await page(indexed, '?limit=1')).json[0]?.ID === added, 20_000, 'the new study first');
    assert.equal((await page(indexed, '?limit=1')).headers['x-total-count'], String(dates.length + 1));
    // Orthanc writes no deletion to /changes: the page that meets the study drops it.
    await orthanc.json('DELETE', `/studies/${added}`);
    const after = await page(indexed, '?limit=4');
    assert.equal(after.status, 200);
    assert.equal(after.json.length, 4);
    assert.ok(!after.json.some((s: Study) => s.ID === added));
    assert.equal(after.headers['x-total-count'], String(dates.length));
  });

  it('400 with a JSON body for bad parameters, 405 for another method', async () => {
    const bad = [
      '?offset=-1',
      '?offset=abc',
      '?offset=1e3',
      '?limit=0',
      '?limit=1001',
      '?limit=',
      '?sort=Modality',
      '?sort=toString',
      '?sort=__proto__',
      '?order=up',
      '?order=ASC',
      '?ofset=3',
      '?offset=1234567890',
    ];
    for (const query of bad) {
      const { status, json } = await page(auto, query);
      assert.equal(status, 400, query);
      assert.equal(json.HttpStatus, 400);
      assert.equal(typeof json.Message, 'string');
    }
    const post = await rawRequest(`${auto.url}/sort-studies`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
  });
});
