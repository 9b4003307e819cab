import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateStudy } from './helpers/dicom.js';
import { startHostProcess, type HostProcess } from './helpers/host.js';
import { basicAuth, rawRequest } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

describe('credentials, with an Orthanc that requires them', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  const good = basicAuth('alice', 's3cret');
  const wrong = basicAuth('alice', 'guess');

  before(async () => {
    orthanc = await startTestOrthanc({
      configuration: { AuthenticationEnabled: true, RegisteredUsers: { alice: 's3cret' } },
      credentials: { username: 'alice', password: 's3cret' },
    });
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url, Username: 'alice', Password: 's3cret' },
      Recipes: { hello: { Enabled: true } },
    });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  it("passes the client's Authorization through the proxy, never the host's own", async () => {
    for (const [authorization, status] of [
      [undefined, 401],
      [wrong, 401],
      [good, 200],
    ] as const) {
      const headers = authorization ? { authorization } : undefined;
      const direct = await rawRequest(`${orthanc.url}/system`, { headers });
      const viaHost = await rawRequest(`${host.url}/system`, { headers });
      assert.equal(direct.status, status);
      assert.equal(viaHost.status, status);
      assert.equal(viaHost.headers['www-authenticate'], direct.headers['www-authenticate']);
    }
  });

  it('requires on recipe routes what Orthanc requires', async () => {
    for (const path of ['/toto', '/tata', '/recipes']) {
      const none = await rawRequest(`${host.url}${path}`);
      assert.equal(none.status, 401, `${path} without credentials`);
      assert.match(String(none.headers['www-authenticate']), /^Basic realm=/);
      assert.equal(
        (await rawRequest(`${host.url}${path}`, { headers: { authorization: wrong } })).status,
        401,
        `${path} with a wrong password`,
      );
      assert.equal(
        (await rawRequest(`${host.url}${path}`, { headers: { authorization: good } })).status,
        200,
        `${path} with good credentials`,
      );
    }
  });

  it('reads the change feed with the configured credentials', async () => {
    const [instance] = generateStudy({
      patientId: 'AUTH-1',
      patientName: 'Auth^Test',
      studyDate: '20240404',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const stored = await rawRequest(`${host.url}/instances`, { method: 'POST', headers: { authorization: good }, body: instance!.file });
    assert.equal(stored.status, 200);
    const { ID } = JSON.parse(stored.body.toString());
    await host.log.waitFor(new RegExp(`hello\\] NEW_INSTANCE INSTANCE ${ID}`), 10_000);
    const username = await rawRequest(`${orthanc.url}/instances/${ID}/metadata/HttpUsername`, { headers: { authorization: good } });
    assert.equal(username.body.toString(), 'alice', "Orthanc saw the client's own user through the proxy");
  });
});
