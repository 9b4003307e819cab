import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';

describe('recipe dictionary, against a real Orthanc', { timeout: 90_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  const get = async (key: string) => {
    const answer = await rawRequest(`${host.url}/recipes/dictionary/${key}`);
    return { status: answer.status, type: answer.headers['content-type'], json: JSON.parse(answer.body.toString()) };
  };

  before(async () => {
    orthanc = await startTestOrthanc();
    host = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { dictionary: { Enabled: true } } });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  it('answers a keyword and its tag alike, in both tag spellings', async () => {
    const expected = {
      Tag: '0010,0010',
      Group: 0x10,
      Element: 0x10,
      Keyword: 'PatientName',
      Name: 'PatientName',
      VR: 'PN',
      VM: '1',
      MinMultiplicity: 1,
      MaxMultiplicity: 1,
      Retired: false,
    };
    for (const key of ['PatientName', '0010,0010', '00100010']) {
      const { status, type, json } = await get(key);
      assert.equal(status, 200, key);
      assert.match(String(type), /^application\/json/);
      assert.deepEqual(json, expected, key);
    }
    assert.deepEqual((await get('7fe0,0010')).json.Keyword, 'PixelData');
  });

  it('says retired, several VRs as PS3.6 writes them, unbounded multiplicity and repeating groups', async () => {
    const curve = (await get('CurveDimensions')).json;
    assert.deepEqual([curve.Tag, curve.Keyword, curve.Retired], ['5000,0005', 'CurveDimensions', true]);
    assert.equal((await get('PixelData')).json.VR, 'OB or OW');
    assert.equal((await get('LUTData')).json.VR, 'US or SS or OW');
    assert.equal((await get('Item')).json.VR, '');
    const charset = (await get('SpecificCharacterSet')).json;
    assert.deepEqual([charset.VM, charset.MinMultiplicity, charset.MaxMultiplicity], ['1-n', 1, 0]);
    assert.equal((await get('300A,0782')).json.Keyword, '');
    const overlay = (await get('6002,0010')).json;
    assert.deepEqual([overlay.Tag, overlay.Keyword, overlay.Group], ['6002,0010', 'OverlayRows', 0x6002]);
  });

  it('names every tag of a stored instance as Orthanc (DCMTK) does', async () => {
    const [instance] = generateStudy({
      patientId: 'DICT-1',
      patientName: 'Dict^Test',
      studyDate: '20240101',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const stored = await orthanc.upload(instance!.file);
    const tags = await orthanc.json<Record<string, { Name: string }>>('GET', `/instances/${stored.ID}/tags`);
    assert.ok(Object.keys(tags).length > 20);
    for (const [tag, { Name }] of Object.entries(tags)) {
      const { status, json } = await get(tag);
      assert.equal(status, 200, tag);
      assert.equal(json.Keyword, Name, tag);
    }
  });

  it('404 for what is not in the standard dictionary, prototype names included', async () => {
    for (const key of [
      'NoSuchKeyword',
      'patientname',
      'toString',
      'constructor',
      'hasOwnProperty',
      'undefined',
      '0009,0010',
      '0010,9999',
      '6001,0010',
    ]) {
      const { status, json } = await get(key);
      assert.equal(status, 404, key);
      assert.equal(json.HttpStatus, 404);
      assert.equal(typeof json.Message, 'string');
    }
  });

  it('400 for what is neither a keyword nor a tag; 405 for another method', async () => {
    for (const key of ['0028,04x2', '0010%2C001', 'Patient%20Name', '__proto__', 'A'.repeat(300), '']) {
      const { status, json } = await get(key);
      assert.equal(status, 400, key);
      assert.match(json.Message, /neither a DICOM keyword/);
    }
    const post = await rawRequest(`${host.url}/recipes/dictionary/PatientName`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET');
  });
});
