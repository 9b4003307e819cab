import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, generateStudy, rawRequest, startHostProcess, startTestOrthanc, type HostProcess, type TestOrthanc } from '__IMPORT_TESTING__';

describe('recipe __ID__, against a real Orthanc', { timeout: 90_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;

  before(async () => {
    orthanc = await startTestOrthanc();
    host = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { '__ID__': { Enabled: true, Greeting: 'Hi'__MODULE_ENTRY__ } } });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  it('answers the greeting, then the last stored instance', async () => {
    const empty = await rawRequest(`${host.url}/recipes/__ID__`);
    assert.equal(empty.status, 200);
    assert.deepEqual(JSON.parse(empty.body.toString()), { Greeting: 'Hi', LastInstance: null });

    const [instance] = generateStudy({ patientId: 'TEMPLATE-1', patientName: 'Template^Test', studyDate: '20240101', series: [{ modality: 'CT', instances: 1 }] });
    const stored = await orthanc.upload(instance!.file);
    await eventually(async () => JSON.parse((await rawRequest(`${host.url}/recipes/__ID__`)).body.toString()).LastInstance === stored.ID, 20_000, 'the instance to be seen');
  });

  it('answers 405 to other methods', async () => {
    const answer = await rawRequest(`${host.url}/recipes/__ID__`, { method: 'POST' });
    assert.equal(answer.status, 405);
    assert.equal(answer.headers.allow, 'GET');
  });
});
