import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostInProcess, startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { startTestPostgres, type TestPostgres } from '../../../test/helpers/postgres.js';
import { startTestCouchDb, type TestCouchDb } from './couchdb-server.js';

const study = (patientId: string, instances = 2) =>
  generateStudy({ patientId, patientName: 'Couch^Secret', studyDate: '20240101', series: [{ modality: 'CT', instances }], size: 8 });
type Stored = { ID: string; ParentSeries: string; ParentStudy: string; ParentPatient: string };

describe(
  'recipe mirror, into CouchDB (PouchDB Server started by the test) beside PostgreSQL, with the embedded Orthanc',
  { timeout: 180_000 },
  () => {
    let couch: TestCouchDb;
    let postgres: TestPostgres;
    let secrets: string;
    let started: Awaited<ReturnType<typeof startHostInProcess>>;
    const upload = async (file: Buffer) =>
      JSON.parse((await rawRequest(`${started.url}/instances`, { method: 'POST', body: file })).body.toString()) as Stored;
    const documents = () => couch.documents('orthanc');
    const rows = async (id: string) => (await postgres.psql(`SELECT count(*) FROM orthanc_resources WHERE id = '${id}'`)).trim();

    before(async () => {
      couch = await startTestCouchDb();
      postgres = await startTestPostgres();
      secrets = await mkdtemp(join(tmpdir(), 'mirror-couchdb-'));
      await writeFile(join(secrets, 'couchdb-password'), `${couch.password}\n`);
      started = await startHostInProcess({
        Orthanc: { Configuration: { StableAge: 1 } },
        Recipes: {
          mirror: {
            Enabled: true,
            ConnectionString: postgres.connectionString(),
            RetrySeconds: 1,
            CouchDB: { Url: couch.url, PasswordFile: join(secrets, 'couchdb-password') },
          },
        },
      });
    });

    after(async () => {
      await started?.host.close();
      if (started) await rm(started.directory, { recursive: true, force: true });
      if (secrets) await rm(secrets, { recursive: true, force: true });
      await postgres?.dispose();
      await couch?.dispose();
    });

    it('a new study: one document per resource, _id the Orthanc ID, the fields Orthanc JSON (the database created, the credentials sent)', async () => {
      const [first, second] = study('COUCH-1');
      const a = await upload(first!.file);
      const b = await upload(second!.file);
      const expected = [a.ID, b.ID, a.ParentSeries, a.ParentStudy, a.ParentPatient].sort();
      await eventually(
        async () => JSON.stringify([...(await documents()).keys()].sort()) === JSON.stringify(expected),
        20_000,
        'five documents',
      );
      const docs = await documents();
      const fromOrthanc = JSON.parse((await rawRequest(`${started.url}/studies/${a.ParentStudy}`)).body.toString()) as {
        Series: string[];
        MainDicomTags: unknown;
      };
      assert.deepEqual(docs.get(a.ParentStudy)!.Series, fromOrthanc.Series);
      assert.deepEqual(docs.get(a.ParentStudy)!.MainDicomTags, fromOrthanc.MainDicomTags);
      assert.deepEqual(
        [a.ParentPatient, a.ParentStudy, a.ParentSeries, a.ID].map((id) => docs.get(id)!.Type),
        ['Patient', 'Study', 'Series', 'Instance'],
      );
      assert.equal(await rows(a.ParentStudy), '1', 'PostgreSQL, the first target, filled as well');
      assert.equal(couch.refused, 0, 'every request carried the password of the PasswordFile');
    });

    it('an update: the series document rewritten (a new revision) once the series has its new instance', async () => {
      const [first, second, third] = study('COUCH-2', 3);
      const a = await upload(first!.file);
      await upload(second!.file);
      await eventually(
        async () => ((await documents()).get(a.ParentSeries)?.Instances as unknown[] | undefined)?.length === 2,
        20_000,
        'the series with two instances',
      );
      const before = (await documents()).get(a.ParentSeries)!._rev as string;
      const c = await upload(third!.file);
      await eventually(
        async () => ((await documents()).get(a.ParentSeries)?.Instances as unknown[] | undefined)?.length === 3,
        20_000,
        'the series with three instances',
      );
      const after = (await documents()).get(a.ParentSeries)!;
      assert.notEqual(after._rev, before);
      assert.ok((after.Instances as string[]).includes(c.ID));
    });

    it('deletions (DELETED through the bridge) become CouchDB deletions, at every level', async () => {
      const [first, second] = study('COUCH-3');
      const a = await upload(first!.file);
      const b = await upload(second!.file);
      await eventually(async () => (await documents()).has(b.ID), 20_000, 'the second instance mirrored');
      assert.equal((await rawRequest(`${started.url}/instances/${a.ID}`, { method: 'DELETE' })).status, 200);
      await eventually(async () => !(await documents()).has(a.ID), 20_000, 'the deleted instance removed');
      assert.ok((await documents()).has(b.ID), 'its sibling stays');
      assert.equal((await rawRequest(`${started.url}/patients/${a.ParentPatient}`, { method: 'DELETE' })).status, 200);
      await eventually(
        async () => {
          const docs = await documents();
          return [b.ID, a.ParentSeries, a.ParentStudy, a.ParentPatient].every((id) => !docs.has(id));
        },
        20_000,
        'the whole patient removed',
      );
    });

    it('409 conflicts (the document written by someone else meanwhile): the _rev read again and the write retried; conflicts that go on are capped, then retried later', async () => {
      const competing = async (path: string) => {
        const id = decodeURIComponent(path.slice('/orthanc/'.length));
        const stored = await couch.call('GET', `/orthanc/${encodeURIComponent(id)}`);
        const written = await couch.call('PUT', `/orthanc/${encodeURIComponent(id)}`, {
          Competing: Math.random(),
          ...(stored.status === 200 ? { _rev: stored.json._rev } : {}),
        });
        assert.equal(written.status, 201);
      };
      const isDocumentWrite = (method: string, path: string) => method === 'PUT' && /^\/orthanc\/[^_/?][^/?]*$/.test(path);
      const failed = async () =>
        (
          JSON.parse((await rawRequest(`${started.url}/recipes/mirror/status`)).body.toString()) as {
            CouchDB: { SinceStart: { Failed: number } };
          }
        ).CouchDB.SinceStart.Failed;
      const failedBefore = await failed();
      const conflicted = new Set<string>();
      couch.interpose = async (method, path) => {
        if (!isDocumentWrite(method, path) || conflicted.has(path)) return;
        conflicted.add(path); // once per document: the retry goes through
        await competing(path);
      };
      const [first] = study('COUCH-409', 1);
      const a = await upload(first!.file);
      const ids = [a.ID, a.ParentSeries, a.ParentStudy, a.ParentPatient];
      await eventually(
        async () => {
          const docs = await documents();
          return ids.every((id) => docs.has(id) && docs.get(id)!.Competing === undefined);
        },
        20_000,
        'each document written over the competing one',
      );
      assert.ok(conflicted.size >= 4, 'every first write met a conflict');
      assert.equal(await failed(), failedBefore, 'each conflict retried at once, none left to the queue');
      const instance = (await documents()).get(a.ID)!;
      const fromOrthanc = JSON.parse((await rawRequest(`${started.url}/instances/${a.ID}`)).body.toString()) as Record<string, unknown>;
      assert.deepEqual({ ...instance, _id: undefined, _rev: undefined }, { ...fromOrthanc, _id: undefined, _rev: undefined });

      couch.interpose = async (method, path) => {
        if (isDocumentWrite(method, path)) await competing(path);
      };
      const [second] = study('COUCH-409-ALWAYS', 1);
      const b = await upload(second!.file);
      await started.log.waitFor(
        /mirror\] a resource was not mirrored; tried again later target=CouchDB retrySeconds=1 error="CouchDB: the document was still in conflict after 6 writes/,
        20_000,
      );
      couch.interpose = undefined;
      await eventually(
        async () => (await documents()).get(b.ID)?.Competing === undefined && (await documents()).has(b.ID),
        20_000,
        'mirrored once the conflicts stopped',
      );
    });

    it('CouchDB down: PostgreSQL goes on, nothing lost, mirrored once CouchDB is back', async () => {
      await couch.stop();
      const [only] = study('COUCH-4', 1);
      const a = await upload(only!.file);
      await started.log.waitFor(/mirror\] a resource was not mirrored; tried again later target=CouchDB retrySeconds=1 /, 20_000);
      await eventually(async () => (await rows(a.ID)) === '1', 20_000, 'PostgreSQL not held back by CouchDB');
      await couch.start();
      await eventually(async () => (await documents()).has(a.ID), 30_000, 'the instance mirrored after CouchDB came back');
    });

    it('status names both targets; the log holds no patient data nor the password', async () => {
      const answer = await rawRequest(`${started.url}/recipes/mirror/status`);
      assert.equal(answer.status, 200);
      const status = JSON.parse(answer.body.toString()) as {
        Table: string;
        CouchDB: { Database: string; Pending: number; SinceStart: { Upserted: number } };
      };
      assert.equal(status.Table, 'orthanc_resources');
      assert.equal(status.CouchDB.Database, 'orthanc');
      assert.ok(status.CouchDB.SinceStart.Upserted > 0);
      assert.doesNotMatch(started.log.lines.join('\n'), /COUCH-\d|Couch\^Secret|couch-secret/);
    });
  },
);

describe('recipe mirror into CouchDB alone: catch-up after downtime, refused credentials, bad configuration', { timeout: 120_000 }, () => {
  let couch: TestCouchDb;
  let orthanc: TestOrthanc;
  let host: HostProcess | undefined;

  before(async () => {
    couch = await startTestCouchDb();
    orthanc = await startTestOrthanc();
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await couch?.dispose();
  });

  it('CouchDB down at start: the catch-up backs off, then mirrors what arrived while the recipe was off and removes what Orthanc no longer has', async () => {
    const auth = { authorization: `Basic ${Buffer.from(`${couch.username}:${couch.password}`).toString('base64')}` };
    const base = couch.url.replace(`${couch.username}@`, '');
    assert.equal((await fetch(`${base}/mirrored`, { method: 'PUT', headers: auth })).status, 201);
    assert.equal(
      (
        await fetch(`${base}/mirrored/gone-while-off`, {
          method: 'PUT',
          headers: { ...auth, 'content-type': 'application/json' },
          body: '{"Type":"Instance"}',
        })
      ).status,
      201,
    );
    const stored = [];
    for (const instance of study('COUCH-OFF', 3)) stored.push(await orthanc.upload(instance.file));
    await couch.stop();
    const couchUrl = couch.url.replace(couch.username, `${couch.username}:${couch.password}`);
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { mirror: { Enabled: true, RetrySeconds: 1, CouchDB: { Url: couchUrl, Database: 'mirrored' } } },
    });
    await host.log.waitFor(/catch-up failed; tried again later target=CouchDB retrySeconds=1 /, 20_000);
    await couch.start();
    const expected = [
      ...new Set(stored.flatMap((instance) => [instance.ID, instance.ParentSeries, instance.ParentStudy, instance.ParentPatient])),
    ].sort();
    await eventually(
      async () => JSON.stringify([...(await couch.documents('mirrored')).keys()].sort()) === JSON.stringify(expected),
      30_000,
      'what Orthanc has, and nothing else',
    );
    assert.equal(expected.length, 6);
    assert.doesNotMatch(host.log.lines.join('\n'), /couch-secret/);
    await host.stop();
    host = undefined;
  });

  it('refused credentials: a warning, nothing written, the host up', async () => {
    const wrong = couch.url.replace(couch.username, `${couch.username}:wrong`);
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { mirror: { Enabled: true, RetrySeconds: 1, CouchDB: { Url: wrong, Database: 'refused' } } },
    });
    await host.log.waitFor(/catch-up failed; tried again later target=CouchDB retrySeconds=\d+ error="CouchDB answered 401/, 20_000);
    assert.equal((await couch.documents('refused')).size, 0);
    assert.equal((await rawRequest(`${host.url}/recipes/mirror/status`)).status, 200);
    await host.stop();
    host = undefined;
  });

  it('refuses a configuration without any target, a PasswordFile without a user, a database name CouchDB would refuse', async () => {
    await assert.rejects(
      startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { mirror: { Enabled: true } } }),
      /\/Recipes\/mirror\/ConnectionString/,
    );
    await assert.rejects(
      startHostProcess({
        Orthanc: { Url: orthanc.url },
        Recipes: { mirror: { Enabled: true, CouchDB: { Url: 'http://127.0.0.1:5984', PasswordFile: 'x' } } },
      }),
      /\/Recipes\/mirror\/CouchDB\/PasswordFile/,
    );
    await assert.rejects(
      startHostProcess({
        Orthanc: { Url: orthanc.url },
        Recipes: { mirror: { Enabled: true, CouchDB: { Url: 'http://127.0.0.1:5984', Database: 'Orthanc' } } },
      }),
      /\/Recipes\/mirror\/CouchDB\/Database/,
    );
  });
});
