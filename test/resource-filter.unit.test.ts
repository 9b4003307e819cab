import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OrthancHttpError } from '../shared/binding/index.js';
import { compileDicomFilter } from '../shared/dicom-match.js';
import { readOrGone } from '../shared/orthanc-resources.js';
import { resourceForFilter } from '../shared/resource-filter.js';

/** A tiny archive: one patient, one study with a CT and an MR series, one instance each; Orthanc's 404 for the rest. */
const archive: Record<string, unknown> = {
  '/patients/p-1': { ID: 'p-1', MainDicomTags: { PatientSex: 'F' }, LastUpdate: '20261201T080000' },
  '/studies/st-1': {
    ID: 'st-1',
    MainDicomTags: { StudyDescription: 'CHEST', StudyDate: '20261201' },
    PatientMainDicomTags: { PatientSex: 'F' },
    LastUpdate: '20261201T090000',
    IsStable: true,
    Series: ['se-ct', 'se-mr'],
  },
  '/studies/st-1/series': [
    { ID: 'se-ct', MainDicomTags: { Modality: 'CT' }, Instances: ['i-ct', 'i-ct-2'] },
    { ID: 'se-mr', MainDicomTags: { Modality: 'MR' }, Instances: ['i-mr'] },
    { ID: 'se-none', MainDicomTags: {}, Instances: [] },
  ],
  '/series/se-ct': {
    ID: 'se-ct',
    MainDicomTags: { Modality: 'CT', StudyDescription: 'overridden by nobody' },
    ParentStudy: 'st-1',
    LastUpdate: '20261201T085900',
    Instances: ['i-ct', 'i-ct-2'],
  },
  '/series/se-orphan': { ID: 'se-orphan', MainDicomTags: { Modality: 'OT' }, ParentStudy: 'st-gone', Instances: [] },
  '/instances/i-ct': { ID: 'i-ct', MainDicomTags: { InstanceNumber: '1' }, ParentSeries: 'se-ct' },
  '/instances/i-ct/metadata?expand': { RemoteAET: 'CT_SCANNER', CalledAET: 'ORTHANC' },
  '/instances/i-mr/metadata?expand': { RemoteAET: 'MR_SCANNER', CalledAET: 'ORTHANC' },
};

const fakeOrthanc = () => {
  const uris: string[] = [];
  return {
    uris,
    restApiGetJson: async <T>(uri: string): Promise<T> => {
      uris.push(uri);
      if (uri === '/fails') throw new OrthancHttpError('GET', uri, 500, 'boom');
      if (!(uri in archive)) throw new OrthancHttpError('GET', uri, 404, 'Unknown resource');
      return structuredClone(archive[uri]) as T;
    },
  };
};

describe('resource-filter: what a DICOM filter sees of a resource', () => {
  const cases: { name: string; level: 'Patient' | 'Study' | 'Series' | 'Instance'; id: string; expect: Record<string, unknown> }[] = [
    {
      name: 'a study: its tags, the patient tags it carries, LastUpdate, and its series modalities as ModalitiesInStudy and Modality',
      level: 'Study',
      id: 'st-1',
      expect: {
        StudyDescription: 'CHEST',
        PatientSex: 'F',
        LastUpdate: '20261201T090000',
        ModalitiesInStudy: ['CT', 'MR'],
        Modality: ['CT', 'MR'],
        RemoteAET: ['CT_SCANNER', 'MR_SCANNER'],
        CalledAET: ['ORTHANC'],
        SeriesDescription: undefined,
      },
    },
    {
      name: 'a series: its own tags first, then the study and the patient; AETs of its first instance',
      level: 'Series',
      id: 'se-ct',
      expect: {
        Modality: 'CT',
        StudyDescription: 'overridden by nobody',
        StudyDate: '20261201',
        PatientSex: 'F',
        ModalitiesInStudy: ['CT', 'MR'],
        RemoteAET: ['CT_SCANNER'],
        LastUpdate: '20261201T085900',
      },
    },
    {
      name: 'an instance: its tags, its series, study and patient; no LastUpdate; its own AETs',
      level: 'Instance',
      id: 'i-ct',
      expect: {
        InstanceNumber: '1',
        Modality: 'CT',
        StudyDate: '20261201',
        PatientSex: 'F',
        LastUpdate: undefined,
        RemoteAET: ['CT_SCANNER'],
        CalledAET: ['ORTHANC'],
      },
    },
    {
      name: 'a patient: its own tags and LastUpdate; nothing of studies',
      level: 'Patient',
      id: 'p-1',
      expect: { PatientSex: 'F', LastUpdate: '20261201T080000', ModalitiesInStudy: undefined, RemoteAET: undefined },
    },
  ];
  for (const { name, level, id, expect } of cases) {
    it(name, async () => {
      const found = await resourceForFilter(fakeOrthanc(), level, id, Object.keys(expect));
      assert.ok(found);
      assert.equal(found.resource.ID, id);
      assert.deepEqual(Object.fromEntries(Object.keys(expect).map((key) => [key, found.lookup(key)])), expect);
    });
  }

  it('reads nothing more than asked: no keys and a listed resource, no request; main tags alone, no computed reads', async () => {
    const orthanc = fakeOrthanc();
    const listed = archive['/studies/st-1'] as { ID: string };
    const bare = await resourceForFilter(orthanc, 'Study', 'st-1', [], { listed });
    assert.equal(bare?.lookup('StudyDescription'), undefined);
    assert.deepEqual(orthanc.uris, []);
    await resourceForFilter(orthanc, 'Series', 'se-ct', ['StudyDate']);
    assert.deepEqual(orthanc.uris, ['/series/se-ct', '/studies/st-1']);
  });

  it('reads a study through readStudy when given (a purge reads it once for all its series)', async () => {
    const orthanc = fakeOrthanc();
    const readStudy = async () => ({ ID: 'st-1', MainDicomTags: { StudyDescription: 'FROM CACHE' } });
    const found = await resourceForFilter(orthanc, 'Series', 'se-ct', ['StudyDescription', 'StudyDate'], { readStudy });
    assert.equal(found?.lookup('StudyDate'), undefined);
    assert.deepEqual(orthanc.uris, ['/series/se-ct']);
  });

  it('is undefined when the resource or a parent is gone; other errors go through', async () => {
    assert.equal(await resourceForFilter(fakeOrthanc(), 'Study', 'st-gone', ['StudyDate']), undefined);
    assert.equal(await resourceForFilter(fakeOrthanc(), 'Series', 'se-orphan', ['StudyDate']), undefined);
    assert.equal(await readOrGone(fakeOrthanc(), '/studies/st-gone'), undefined);
    await assert.rejects(readOrGone(fakeOrthanc(), '/fails'), /HTTP 500/);
  });

  it('feeds compileDicomFilter: a study rule on Modality matches any of its series, as /tools/find does', async () => {
    const found = await resourceForFilter(fakeOrthanc(), 'Study', 'st-1', ['Modality', 'StudyDate']);
    assert.equal(compileDicomFilter({ Modality: 'MR', StudyDate: '20260101-' })(found!.lookup), true);
    assert.equal(compileDicomFilter({ Modality: 'US' })(found!.lookup), false);
    assert.equal(compileDicomFilter({ LastUpdate: '-20261130' })(found!.lookup), false);
  });
});
