import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostInProcess, startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import type { StoredInstanceRecord } from '../index.js';
import { REDACTED, patientIdentifyingTags } from '../redact.js';

const AUDIT_MAX_BYTES = 4096;

describe('recipe stored-instances, against a real Orthanc', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let folder: string;

  before(async () => {
    orthanc = await startTestOrthanc();
    folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-stored-'));
    host = await startHostProcess(
      {
        Orthanc: { Url: orthanc.url },
        Recipes: {
          'stored-instances': {
            Enabled: true,
            LogLine: 'tags',
            AuditFile: 'audit/stored.jsonl',
            AuditMaxMegabytes: AUDIT_MAX_BYTES / 2 ** 20,
            AuditKeepFiles: 2,
            RecentCapacity: 50,
          },
        },
      },
      folder,
    );
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  async function recent(limit?: number): Promise<StoredInstanceRecord[]> {
    const response = await rawRequest(`${host.url}/recipes/stored-instances/recent${limit ? `?limit=${limit}` : ''}`);
    assert.equal(response.status, 200);
    return JSON.parse(response.body.toString());
  }

  async function recordOf(id: string): Promise<StoredInstanceRecord> {
    let found: StoredInstanceRecord | undefined;
    await eventually(
      async () => (found = (await recent(50)).find((r) => r.InstanceId === id)) !== undefined,
      20_000,
      `the record of ${id}`,
    );
    return found!;
  }

  /** The record's fields against Orthanc's own answers about the instance. */
  async function expectMatchesOrthanc(record: StoredInstanceRecord, origin: string, orthancOrigin: string): Promise<void> {
    const id = record.InstanceId;
    const info = await orthanc.json('GET', `/instances/${id}`);
    const metadata = await orthanc.json('GET', `/instances/${id}/metadata?expand`);
    const tags = await orthanc.json('GET', `/instances/${id}/simplified-tags`);
    assert.equal(record.Size, info.FileSize);
    assert.equal(record.TransferSyntax, metadata.TransferSyntax);
    assert.equal(record.SopClassUid, metadata.SopClassUid);
    assert.equal(record.Origin, origin);
    assert.equal(metadata.Origin, orthancOrigin);
    assert.equal(record.RemoteAet, metadata.RemoteAET ?? '');
    assert.equal(record.ReceptionDate, metadata.ReceptionDate);
    assert.deepEqual(Object.keys(record.Tags).sort(), Object.keys(tags).sort());
    for (const [name, value] of Object.entries(tags)) {
      if (patientIdentifyingTags.includes(name)) assert.equal(record.Tags[name], REDACTED, name);
      else assert.deepEqual(record.Tags[name], value, name);
    }
  }

  it("records an instance stored over REST with Orthanc's own size, syntax, SOP class and origin", async () => {
    const [instance] = generateStudy({
      patientId: 'STORED-REST',
      patientName: 'Rest^Stored',
      studyDate: '20240707',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const { ID } = await orthanc.upload(instance!.file);
    const record = await recordOf(ID);
    await expectMatchesOrthanc(record, 'REST_API', 'RestApi');
    for (const name of ['PatientName', 'PatientID', 'PatientBirthDate', 'AccessionNumber']) assert.equal(record.Tags[name], REDACTED, name);
    assert.equal(record.Tags.Modality, 'CT');
    assert.equal(record.Tags.SOPInstanceUID, instance!.sopInstanceUid);
  });

  it('records DICOM_PROTOCOL and the remote AET for an instance sent with storescu', async () => {
    const [instance] = generateStudy({
      patientId: 'STORED-SCU',
      patientName: 'Scu^Stored',
      studyDate: '20240708',
      series: [{ modality: 'US', instances: 1 }],
    });
    const path = join(folder, 'scu.dcm');
    await writeFile(path, instance!.file);
    await promisify(execFile)('storescu', [
      '-aet',
      'RCPSTOREDSCU',
      '-aec',
      orthanc.process.aet,
      '127.0.0.1',
      String(orthanc.process.dicomPort),
      path,
    ]);
    const [found] = await orthanc.json('POST', '/tools/lookup', instance!.sopInstanceUid);
    const record = await recordOf(found.ID);
    await expectMatchesOrthanc(record, 'DICOM_PROTOCOL', 'DicomProtocol');
    assert.equal(record.RemoteAet, 'RCPSTOREDSCU');
  });

  it("logs one line per instance with those fields, and never the patient's name or ID", async () => {
    const [record] = await recent(1);
    const line = await host.log.waitFor(
      new RegExp(
        `stored-instances\\] stored instance=${record!.InstanceId} bytes=${record!.Size} transferSyntax=${record!.TransferSyntax} sopClass=${record!.SopClassUid} origin=DICOM_PROTOCOL remoteAet=RCPSTOREDSCU tags="\\{`,
      ),
    );
    assert.match(line, /\\"PatientName\\":\\"<redacted>\\"/);
    assert.doesNotMatch(host.log.lines.join('\n'), /Rest\^Stored|STORED-REST|Scu\^Stored|STORED-SCU/);
  });

  it('serves the latest instances newest first, as many as `limit` asks', async () => {
    const ids: string[] = [];
    for (const instance of generateStudy({
      patientId: 'STORED-ORDER',
      patientName: 'Order^Of',
      studyDate: '20240709',
      series: [{ modality: 'MR', instances: 3 }],
    })) {
      ids.push((await orthanc.upload(instance.file)).ID);
      await recordOf(ids.at(-1)!);
    }
    assert.deepEqual(
      (await recent(3)).map((r) => r.InstanceId),
      ids.reverse(),
    );
    assert.deepEqual(
      (await recent(1)).map((r) => r.InstanceId),
      [ids[0]],
    );
    assert.equal((await recent()).length, 5, 'the default limit (10) takes all five instances stored so far');
  });

  it('answers 400 with a JSON reason to a bad limit, and 405 to other methods', async () => {
    for (const limit of ['0', '-1', 'abc', '1.5', '', '51', '1e3', '99999999999']) {
      const response = await rawRequest(`${host.url}/recipes/stored-instances/recent?limit=${encodeURIComponent(limit)}`);
      assert.equal(response.status, 400, `limit=${limit}`);
      assert.match(response.headers['content-type'] as string, /^application\/json/);
      const body = JSON.parse(response.body.toString());
      assert.equal(body.HttpStatus, 400);
      assert.match(body.Message, /limit must be an integer from 1 to 50/);
    }
    const post = await rawRequest(`${host.url}/recipes/stored-instances/recent`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET');
  });

  it('appends one JSON line per instance to the audit file (relative to the configuration file), rotated by size', async () => {
    const instances = generateStudy({
      patientId: 'STORED-AUDIT',
      patientName: 'Audit^Trail',
      studyDate: '20240710',
      series: [{ modality: 'CT', instances: 6 }],
    });
    const ids: string[] = [];
    for (const instance of instances) ids.push((await orthanc.upload(instance.file)).ID);
    const audit = join(folder, 'audit');
    const read = async (name: string) =>
      (await readFile(join(audit, name), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as StoredInstanceRecord);
    await eventually(
      async () => (await read('stored.jsonl')).some((r) => r.InstanceId === ids.at(-1)),
      20_000,
      'the last instance in the audit file',
    );

    assert.deepEqual(
      (await readdir(audit)).sort(),
      ['stored.jsonl', 'stored.jsonl.1', 'stored.jsonl.2'],
      'two rotated files kept, no more',
    );
    const files = ['stored.jsonl.2', 'stored.jsonl.1', 'stored.jsonl'];
    const records: StoredInstanceRecord[] = [];
    for (const name of files) {
      const lines = await read(name);
      assert.ok(lines.length >= 1, name);
      assert.ok((await stat(join(audit, name))).size <= AUDIT_MAX_BYTES, `${name} stays under AuditMaxMegabytes`);
      records.push(...lines);
    }
    // Oldest file first: the records follow the order of storage, each once, the latest at the end.
    const expected = (await recent(50)).map((r) => r.InstanceId).reverse();
    assert.deepEqual(
      records.map((r) => r.InstanceId),
      expected.slice(-records.length),
    );
    const latest = records.at(-1)!;
    assert.deepEqual(latest, (await recent(1))[0]);
    assert.equal(latest.Tags.PatientName, REDACTED);
    assert.doesNotMatch(await readFile(join(audit, 'stored.jsonl'), 'utf8'), /Audit\^Trail|STORED-AUDIT/);
  });
});

describe('recipe stored-instances with its default options', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;

  before(async () => {
    orthanc = await startTestOrthanc();
  });

  after(async () => {
    await orthanc?.stop();
  });

  it('logs a short line per instance, without the tags ("LogLine": "summary"); "none" logs nothing', async () => {
    for (const [logLine, patientId] of [
      [undefined, 'STORED-QUIET'],
      ['none', 'STORED-SILENT'],
    ] as const) {
      const started = await startHostInProcess({
        Orthanc: { Url: orthanc.url },
        Recipes: { 'stored-instances': { Enabled: true, ...(logLine ? { LogLine: logLine } : {}) } },
      });
      try {
        const [instance] = generateStudy({
          patientId,
          patientName: 'Quiet^Log',
          studyDate: '20240712',
          series: [{ modality: 'CT', instances: 1 }],
        });
        const { ID } = await orthanc.upload(instance!.file);
        await eventually(
          async () =>
            JSON.parse((await rawRequest(`${started.url}/recipes/stored-instances/recent?limit=1`)).body.toString())[0]?.InstanceId === ID,
          20_000,
          'the record',
        );
        const lines = started.log.lines.filter((line) => line.includes(`instance=${ID} `));
        if (logLine === 'none') {
          assert.deepEqual(lines, []);
        } else {
          assert.equal(lines.length, 1, lines.join('\n'));
          assert.match(lines[0]!, /\] stored instance=\S+ bytes=\d+ transferSyntax=\S+ sopClass=\S+ origin=REST_API remoteAet=""$/);
          assert.ok(lines[0]!.length < 300, `${lines[0]!.length} characters: ${lines[0]}`);
        }
      } finally {
        await started.host.close();
      }
    }
  });
});

describe('recipe stored-instances with "LogTags": true', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let stop: () => Promise<void>;
  let url: string;

  before(async () => {
    orthanc = await startTestOrthanc();
    const started = await startHostInProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { 'stored-instances': { Enabled: true, LogTags: true } },
    });
    url = started.url;
    stop = () => started.host.close();
  });

  after(async () => {
    await stop?.();
    await orthanc?.stop();
  });

  it('records the tags exactly as Orthanc simplifies them', async () => {
    const [instance] = generateStudy({
      patientId: 'STORED-OPEN',
      patientName: 'Open^Tags',
      studyDate: '20240711',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const { ID } = await orthanc.upload(instance!.file);
    let records: StoredInstanceRecord[] = [];
    await eventually(
      async () => (records = JSON.parse((await rawRequest(`${url}/recipes/stored-instances/recent`)).body.toString())).length > 0,
      20_000,
      'the record',
    );
    assert.equal(records[0]!.InstanceId, ID);
    assert.deepEqual(records[0]!.Tags, await orthanc.json('GET', `/instances/${ID}/simplified-tags`));
    assert.equal(records[0]!.Tags.PatientName, 'Open^Tags');
  });

  it('fails its setup, with the reason in /recipes, when the audit file cannot be opened', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-stored-'));
    const notAFolder = join(folder, 'file');
    await writeFile(notAFolder, '');
    const started = await startHostInProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { 'stored-instances': { Enabled: true, AuditFile: join(notAFolder, 'audit.jsonl') } },
    });
    try {
      const recipes = JSON.parse((await rawRequest(`${started.url}/recipes`)).body.toString());
      const [entry] = recipes.Recipes.filter((r: { Id: string }) => r.Id === 'stored-instances');
      assert.equal(entry.Status, 'failed');
      assert.match(entry.Error, /^cannot open the audit file \/.*\/file\/audit\.jsonl: EEXIST/);
      assert.equal((await rawRequest(`${started.url}/recipes/stored-instances/recent`)).status, 404, 'its route is not served');
    } finally {
      await started.host.close();
    }
  });
});
