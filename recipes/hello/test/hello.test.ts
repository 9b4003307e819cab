import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';

describe('recipe hello, against a real Orthanc', { timeout: 90_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;

  before(async () => {
    orthanc = await startTestOrthanc();
    host = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { hello: { Enabled: true } } });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  it('answers /toto and /tata with "ok\\n" as text/plain', async () => {
    for (const path of ['/toto', '/tata']) {
      const answer = await rawRequest(`${host.url}${path}`);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['content-type'], 'text/plain');
      assert.equal(answer.body.toString(), 'ok\n');
    }
  });

  it('logs Started, then every change as "<ChangeType> <ResourceType> <id>"', async () => {
    await host.log.waitFor(/hello\] Started$/);
    const [instance] = generateStudy({
      patientId: 'HELLO-1',
      patientName: 'Hello^World',
      studyDate: '20240606',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const stored = await orthanc.upload(instance!.file);
    await host.log.waitFor(new RegExp(`hello\\] STABLE_PATIENT PATIENT ${stored.ParentPatient}$`), 15_000);
    const messages = host.log.messages('hello').filter((m) => m !== 'enabled');
    assert.deepEqual(messages.slice(0, 5), [
      'Started',
      `NEW_INSTANCE INSTANCE ${stored.ID}`,
      `NEW_SERIES SERIES ${stored.ParentSeries}`,
      `NEW_STUDY STUDY ${stored.ParentStudy}`,
      `NEW_PATIENT PATIENT ${stored.ParentPatient}`,
    ]);
    for (const stable of [`STABLE_SERIES SERIES ${stored.ParentSeries}`, `STABLE_STUDY STUDY ${stored.ParentStudy}`]) {
      assert.ok(messages.includes(stable), stable);
    }
  });

  it('logs nothing of the patient: no name, no PatientID', () => {
    const all = host.log.lines.join('\n');
    assert.doesNotMatch(all, /Hello\^World|HELLO-1/);
  });
});
