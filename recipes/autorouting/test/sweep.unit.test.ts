import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shiftOrthancTime } from '../sweep.js';

describe('recipe autorouting: Orthanc times', () => {
  it('moves Orthanc\'s YYYYMMDDTHHMMSS across days, months and years', () => {
    assert.equal(shiftOrthancTime('20240301T001500', -24 * 3600), '20240229T001500');
    assert.equal(shiftOrthancTime('20250101T000000', -1), '20241231T235959');
    assert.equal(shiftOrthancTime('20241231T235959', 1), '20250101T000000');
    assert.equal(shiftOrthancTime('not a time', 1), '');
  });
});
