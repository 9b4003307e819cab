import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostInProcess, startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { startTestPostgres, type TestPostgres } from '../../../test/helpers/postgres.js';

const study = (patientId: string, instances = 2) =>
  generateStudy({ patientId, patientName: 'Mirror^Secret', studyDate: '20240101', series: [{ modality: 'CT', instances }], size: 8 });

describe(
  'recipe mirror, into a PostgreSQL started by the test, with the embedded Orthanc (deletions through the bridge)',
  { timeout: 180_000 },
  () => {
    let postgres: TestPostgres;
    let started: Awaited<ReturnType<typeof startHostInProcess>>;
    const rows = async (where = 'true') =>
      (await postgres.psql(`SELECT level || ' ' || id FROM orthanc_resources WHERE ${where} ORDER BY 1`)).split('\n').filter(Boolean);
    const upload = async (file: Buffer) =>
      JSON.parse((await rawRequest(`${started.url}/instances`, { method: 'POST', body: file })).body.toString()) as {
        ID: string;
        ParentSeries: string;
        ParentStudy: string;
        ParentPatient: string;
      };

    before(async () => {
      postgres = await startTestPostgres();
      started = await startHostInProcess({
        Recipes: { mirror: { Enabled: true, ConnectionString: postgres.connectionString(), RetrySeconds: 1 } },
      });
    });

    after(async () => {
      await started?.host.close();
      if (started) await rm(started.directory, { recursive: true, force: true });
      await postgres?.dispose();
    });

    it('mirrors each patient, study, series and instance JSON as Orthanc gives it', async () => {
      const [first, second] = study('MIRROR-1');
      const a = await upload(first!.file);
      const b = await upload(second!.file);
      const expected = [
        `instances ${a.ID}`,
        `instances ${b.ID}`,
        `patients ${a.ParentPatient}`,
        `series ${a.ParentSeries}`,
        `studies ${a.ParentStudy}`,
      ].sort();
      await eventually(async () => JSON.stringify(await rows()) === JSON.stringify(expected), 20_000, 'five rows');
      const body = JSON.parse(
        await postgres.psql(`SELECT body FROM orthanc_resources WHERE level = 'studies' AND id = '${a.ParentStudy}'`),
      ) as { ID: string; Instances?: unknown; Series: string[] };
      const fromOrthanc = JSON.parse((await rawRequest(`${started.url}/studies/${a.ParentStudy}`)).body.toString()) as { Series: string[] };
      assert.deepEqual(body.Series, fromOrthanc.Series);
    });

    it('removes deleted resources (DELETED through the bridge), at every level', async () => {
      const [first, second] = study('MIRROR-2');
      const a = await upload(first!.file);
      const b = await upload(second!.file);
      await eventually(async () => (await rows(`id = '${b.ID}'`)).length === 1, 20_000, 'the second instance mirrored');
      assert.equal((await rawRequest(`${started.url}/instances/${a.ID}`, { method: 'DELETE' })).status, 200);
      await eventually(async () => (await rows(`id = '${a.ID}'`)).length === 0, 20_000, 'the deleted instance removed');
      assert.equal((await rows(`id = '${b.ID}'`)).length, 1, 'its sibling stays');
      assert.equal((await rawRequest(`${started.url}/patients/${a.ParentPatient}`, { method: 'DELETE' })).status, 200);
      await eventually(
        async () => (await rows(`id IN ('${b.ID}', '${a.ParentSeries}', '${a.ParentStudy}', '${a.ParentPatient}')`)).length === 0,
        20_000,
        'the whole patient removed',
      );
    });

    it('PostgreSQL down: nothing lost, mirrored once it is back', async () => {
      await postgres.stop();
      const [only] = study('MIRROR-3', 1);
      const a = await upload(only!.file);
      await started.log.waitFor(/mirror\] a resource was not mirrored; tried again later target=PostgreSQL retrySeconds=1 /, 20_000);
      await postgres.start();
      await eventually(async () => (await rows(`id = '${a.ID}'`)).length === 1, 30_000, 'the instance mirrored after PostgreSQL came back');
    });

    it('status: GET only; the log holds no patient data', async () => {
      const answer = await rawRequest(`${started.url}/recipes/mirror/status`);
      assert.equal(answer.status, 200);
      assert.equal((JSON.parse(answer.body.toString()) as { Table: string }).Table, 'orthanc_resources');
      assert.equal((await rawRequest(`${started.url}/recipes/mirror/status`, { method: 'POST', body: '{}' })).status, 405);
      assert.doesNotMatch(started.log.lines.join('\n'), /MIRROR-\d|Mirror\^Secret/);
    });
  },
);

describe('recipe mirror: catch-up after downtime, bad configuration', { timeout: 120_000 }, () => {
  let postgres: TestPostgres;
  let orthanc: TestOrthanc;
  let host: HostProcess | undefined;

  before(async () => {
    postgres = await startTestPostgres();
    orthanc = await startTestOrthanc();
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await postgres?.dispose();
  });

  it('mirrors what arrived while it was off, and removes rows Orthanc no longer has', async () => {
    const stored = [];
    for (const instance of study('MIRROR-OFF', 3)) stored.push(await orthanc.upload(instance.file));
    await postgres.psql(`CREATE TABLE mirrored (level TEXT NOT NULL, id TEXT NOT NULL, body JSONB NOT NULL, last_update TEXT, mirrored_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (level, id));
      INSERT INTO mirrored (level, id, body) VALUES ('instances', 'gone-while-off', '{}')`);
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { mirror: { Enabled: true, ConnectionString: postgres.connectionString(), Table: 'mirrored' } },
    });
    await eventually(
      async () => (await postgres.psql("SELECT count(*) FROM mirrored WHERE level = 'instances'")).trim() === '3',
      20_000,
      'three instances mirrored by the catch-up',
    );
    assert.equal((await postgres.psql("SELECT count(*) FROM mirrored WHERE id = 'gone-while-off'")).trim(), '0');
    assert.equal((await postgres.psql('SELECT count(*) FROM mirrored')).trim(), '6');
  });

  it('refuses to start without a connection string, naming the option', async () => {
    await assert.rejects(
      startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { mirror: { Enabled: true } } }),
      /\/Recipes\/mirror\/ConnectionString/,
    );
  });

  it('refuses a table name that is not a plain identifier', async () => {
    await assert.rejects(
      startHostProcess({
        Orthanc: { Url: orthanc.url },
        Recipes: { mirror: { Enabled: true, ConnectionString: postgres.connectionString(), Table: 'x; DROP TABLE y' } },
      }),
      /\/Recipes\/mirror\/Table/,
    );
  });
});
