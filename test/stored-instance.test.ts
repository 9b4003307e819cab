import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { InstanceOrigin, type DicomInstance, type OrthancBinding } from '../shared/binding/index.js';
import { defineRecipe } from '../shared/recipe.js';
import type { Host } from '../host/index.js';
import { eventually } from './helpers/changes.js';
import { generateCollection, generateStudy, toPart10 } from './helpers/dicom.js';
import { startHostInProcess, type LineLog } from './helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

interface Observed {
  size: number;
  metadata: Record<string, string>;
  origin: number;
  remoteAet: string;
  transferSyntax: string | undefined;
  hasReceptionDate: boolean;
  hasMissing: boolean;
  missing: string | undefined;
  simplified: Record<string, unknown>;
  json: Record<string, unknown>;
  data: Buffer;
  dicomForInstance: Buffer;
  hasPixelData: boolean;
  frames: number;
}

async function observe(instance: DicomInstance, binding: OrthancBinding): Promise<Observed> {
  return {
    dicomForInstance: await binding.getDicomForInstance(instance.instanceId),
    size: await instance.getInstanceSize(),
    metadata: await instance.getAllMetadata(),
    origin: await instance.getInstanceOrigin(),
    remoteAet: await instance.getInstanceRemoteAet(),
    transferSyntax: await instance.getInstanceTransferSyntaxUid(),
    hasReceptionDate: await instance.hasInstanceMetadata('ReceptionDate'),
    hasMissing: await instance.hasInstanceMetadata('NoSuchMetadata'),
    missing: await instance.getInstanceMetadata('NoSuchMetadata'),
    simplified: await instance.getInstanceSimplifiedJson(),
    json: await instance.getInstanceJson(),
    data: await instance.getInstanceData(),
    hasPixelData: await instance.hasInstancePixelData(),
    frames: await instance.getInstanceFramesCount(),
  };
}

describe('registerOnStoredInstanceCallback, against a real Orthanc', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host;
  let log: LineLog;
  const observed = new Map<string, Observed>();
  let releaseGate: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (releaseGate = resolve));
  const gated = new Set<string>();

  const inspector = defineRecipe({
    meta: {
      id: 'inspector',
      title: 'Inspector',
      description: 'Reads every accessor.',
      routes: [],
      events: ['NEW_INSTANCE'],
      destructive: false,
    },
    schema: { type: 'object', properties: {}, additionalProperties: false },
    setup({ orthanc: binding }) {
      binding.registerOnStoredInstanceCallback(async (instance, instanceId) => {
        const simplified = await instance.getInstanceSimplifiedJson();
        if (simplified.PatientID === 'DELETED-MEANWHILE') {
          gated.add(instanceId);
          await gate; // the test deletes the instance, then opens the gate
          await instance.getInstanceData();
          return;
        }
        observed.set(instanceId, await observe(instance, binding));
      });
    },
  });

  before(async () => {
    orthanc = await startTestOrthanc();
    ({ host, log } = await startHostInProcess({ Orthanc: { Url: orthanc.url }, Recipes: { inspector: { Enabled: true } } }, [inspector]));
  });

  after(async () => {
    await host?.close();
    await orthanc?.stop();
  });

  async function expectMatchesOrthanc(id: string, origin: number, remoteAet: string): Promise<Observed> {
    await eventually(() => observed.has(id), 15_000, `the callback for ${id}`);
    const seen = observed.get(id)!;
    const info = await orthanc.json('GET', `/instances/${id}`);
    const metadata = await orthanc.json('GET', `/instances/${id}/metadata?expand`);
    const file = Buffer.from(await (await fetch(`${orthanc.url}/instances/${id}/file`)).arrayBuffer());
    assert.equal(seen.size, info.FileSize);
    assert.equal(seen.size, file.length);
    assert.deepEqual(seen.metadata, metadata);
    assert.equal(seen.origin, origin);
    assert.equal(seen.remoteAet, remoteAet);
    assert.equal(seen.transferSyntax, metadata.TransferSyntax);
    assert.equal(seen.hasReceptionDate, true);
    assert.equal(seen.hasMissing, false);
    assert.equal(seen.missing, undefined);
    assert.deepEqual(seen.simplified, await orthanc.json('GET', `/instances/${id}/simplified-tags`));
    assert.deepEqual(seen.json, await orthanc.json('GET', `/instances/${id}/tags`));
    assert.ok(seen.data.equals(file), 'getInstanceData() is the stored file');
    assert.ok(seen.dicomForInstance.equals(file), 'getDicomForInstance(id) is the stored file');
    assert.equal(seen.frames, (await orthanc.json('GET', `/instances/${id}/frames`)).length);
    return seen;
  }

  it("gives each accessor Orthanc's own answer for instances stored over REST", async () => {
    for (const instance of generateCollection().slice(0, 4)) {
      const { ID } = await orthanc.upload(instance.file);
      const seen = await expectMatchesOrthanc(ID, InstanceOrigin.REST_API, '');
      assert.ok(seen.data.equals(instance.file), 'a REST upload is stored byte for byte');
      assert.equal(seen.transferSyntax, '1.2.840.10008.1.2.1');
      assert.equal(seen.hasPixelData, true);
      assert.equal(seen.frames, 1);
    }
  });

  it('reports DICOM_PROTOCOL and the remote AET for an instance sent with storescu', async () => {
    const [instance] = generateStudy({
      patientId: 'SCU-1',
      patientName: 'Scu^Sent',
      studyDate: '20240202',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const path = join(orthanc.directory, 'scu.dcm');
    await writeFile(path, instance!.file);
    await promisify(execFile)('storescu', [
      '-aet',
      'RCPTESTSCU',
      '-aec',
      orthanc.process.aet,
      '127.0.0.1',
      String(orthanc.process.dicomPort),
      path,
    ]);
    const [found] = await orthanc.json('POST', '/tools/lookup', instance!.sopInstanceUid);
    const seen = await expectMatchesOrthanc(found.ID, InstanceOrigin.DICOM_PROTOCOL, 'RCPTESTSCU');
    assert.equal(seen.metadata.CalledAET, orthanc.process.aet);
  });

  it('counts frames and sees the absence of pixel data', async () => {
    const frames = 3;
    const multiframe = toPart10({
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.7.3',
      SOPInstanceUID: '1.2.826.0.1.3680043.10.1391.9.1',
      StudyInstanceUID: '1.2.826.0.1.3680043.10.1391.9.2',
      SeriesInstanceUID: '1.2.826.0.1.3680043.10.1391.9.3',
      PatientID: 'MULTI',
      Modality: 'OT',
      NumberOfFrames: String(frames),
      Rows: 8,
      Columns: 8,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 0,
      PixelData: [new Uint16Array(8 * 8 * frames).buffer],
      _vrMap: { PixelData: 'OW' },
    });
    const { ID: multiId } = await orthanc.upload(multiframe);
    assert.equal((await expectMatchesOrthanc(multiId, InstanceOrigin.REST_API, '')).frames, frames);

    const created = await orthanc.json('POST', '/tools/create-dicom', { Tags: { PatientID: 'NOPIXELS', Modality: 'SR' } });
    const seen = await expectMatchesOrthanc(created.ID, InstanceOrigin.REST_API, '');
    assert.equal(seen.hasPixelData, false);
  });

  it('skips quietly an instance deleted before its callback finished', async () => {
    const [instance] = generateStudy({
      patientId: 'DELETED-MEANWHILE',
      patientName: 'Gone^Soon',
      studyDate: '20240303',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const { ID } = await orthanc.upload(instance!.file);
    await eventually(() => gated.has(ID), 10_000, 'the gated callback');
    await orthanc.json('DELETE', `/instances/${ID}`);
    const linesBefore = log.lines.length;
    releaseGate();
    const [later] = generateStudy({
      patientId: 'AFTER-DELETE',
      patientName: 'Next^One',
      studyDate: '20240304',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const { ID: laterId } = await orthanc.upload(later!.file);
    await eventually(() => observed.has(laterId), 10_000, 'the next instance');
    const errors = log.lines.slice(linesBefore).filter((line) => line.startsWith('E '));
    assert.deepEqual(errors, []);
  });
});
