import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ChangeType,
  InstanceOrigin,
  ResourceType,
  changeTypeFromOrthanc,
  changeTypeName,
  instanceOriginFromOrthanc,
  resourceTypeFromOrthanc,
} from '../shared/binding/index.js';

describe('enumerations', () => {
  it("have the Python plugin's names and numbers", () => {
    assert.deepEqual(ChangeType, {
      COMPLETED_SERIES: 0,
      DELETED: 1,
      NEW_CHILD_INSTANCE: 2,
      NEW_INSTANCE: 3,
      NEW_PATIENT: 4,
      NEW_SERIES: 5,
      NEW_STUDY: 6,
      STABLE_PATIENT: 7,
      STABLE_SERIES: 8,
      STABLE_STUDY: 9,
      ORTHANC_STARTED: 10,
      ORTHANC_STOPPED: 11,
      UPDATED_ATTACHMENT: 12,
      UPDATED_METADATA: 13,
      UPDATED_PEERS: 14,
      UPDATED_MODALITIES: 15,
      JOB_SUBMITTED: 16,
      JOB_SUCCESS: 17,
      JOB_FAILURE: 18,
    });
    assert.deepEqual(ResourceType, { PATIENT: 0, STUDY: 1, SERIES: 2, INSTANCE: 3, NONE: 4 });
    assert.deepEqual(InstanceOrigin, { UNKNOWN: 1, DICOM_PROTOCOL: 2, REST_API: 3, PLUGIN: 4, LUA: 5, WEB_DAV: 6 });
  });

  it('map the strings of /changes and of the Origin metadata', () => {
    assert.equal(changeTypeFromOrthanc.StableStudy, ChangeType.STABLE_STUDY);
    assert.equal(changeTypeFromOrthanc.NewInstance, ChangeType.NEW_INSTANCE);
    assert.equal(changeTypeFromOrthanc.CompletedSeries, ChangeType.COMPLETED_SERIES);
    assert.equal(changeTypeFromOrthanc.UpdatedMetadata, ChangeType.UPDATED_METADATA);
    assert.equal(resourceTypeFromOrthanc.Study, ResourceType.STUDY);
    assert.equal(instanceOriginFromOrthanc.Plugins, InstanceOrigin.PLUGIN);
    assert.equal(instanceOriginFromOrthanc.DicomProtocol, InstanceOrigin.DICOM_PROTOCOL);
    assert.equal(instanceOriginFromOrthanc.WebDav, InstanceOrigin.WEB_DAV);
    assert.equal(changeTypeName(9), 'STABLE_STUDY');
    assert.throws(() => changeTypeName(99), RangeError);
  });
});
