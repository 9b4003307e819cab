import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkDicomFilter,
  compileDicomFilter,
  compileDicomPattern,
  DicomPatternError,
  isDateOrTimeKey,
  matchesDicom,
} from '../shared/dicom-match.js';

type Row = [
  pattern: string,
  value: string | string[] | undefined,
  expected: boolean,
  options?: { caseSensitive?: boolean; ranges?: boolean },
];

const table: Row[] = [
  // exact, case and accents
  ['CT', 'CT', true],
  ['CT', 'MR', false],
  ['ct', 'CT', true],
  ['ct', 'CT', false, { caseSensitive: true }],
  ['HELENE', 'Hélène', true],
  ['Hélène', 'HELENE', true],
  ['Hélène', 'HELENE', false, { caseSensitive: true }],
  ['CT', 'CTX', false],
  // wildcards, `/` included
  ['*CHEST*', 'CT CHEST W/O CONTRAST', true],
  ['*chest*', 'ct chest', true],
  ['CT*', 'CT/ABDOMEN', true],
  ['*/*', 'CT/ABDOMEN', true],
  ['C?', 'CT', true],
  ['C?', 'C', false],
  ['C?', 'CTT', false],
  ['*A*B*C*', 'xxAyyByyC', true],
  ['*A*B*C*', 'xxAyyCyyB', false],
  ['A*', '', false],
  ['*', '', true],
  ['*', undefined, true],
  ['**', 'anything', true],
  ['?', '', false],
  ['a*b', 'ab', true],
  ['a*b', 'a/b/b', true],
  ['a*b', 'a/b/c', false],
  // lists
  ['CT\\MR', 'MR', true],
  ['CT\\MR', 'US', false],
  ['CT\\MR', ['US', 'MR'], true],
  ['CT\\MR', ['US', 'OT'], false],
  ['CT*\\MR', 'CTA', true],
  ['CT\\', '', true],
  ['CT\\', undefined, true],
  ['CT\\*', 'US', true],
  // empty pattern: no constraint; missing values are empty strings
  ['', 'anything', true],
  ['', undefined, true],
  ['CT', undefined, false],
  ['CT', [], false],
  // ranges, only when asked for
  ['20240101-', '20240101', true, { ranges: true }],
  ['20240101-', '20231231', false, { ranges: true }],
  ['20240101-', '20250101', true, { ranges: true }],
  ['-20241231', '20241231', true, { ranges: true }],
  ['-20241231', '20250101', false, { ranges: true }],
  ['20240101-20241231', '20240615', true, { ranges: true }],
  ['20240101-20241231', '20250615', false, { ranges: true }],
  ['-20241231', '20241231T235959', true, { ranges: true }],
  ['20241231-', '20241231T000000', true, { ranges: true }],
  ['20240101T120000-', '20240101T115959', false, { ranges: true }],
  ['20240101-', '', false, { ranges: true }],
  ['20240101-', undefined, false, { ranges: true }],
  ['-', '20240101', true, { ranges: true }],
  ['20240101-20240131\\20240301-', '20240305', true, { ranges: true }],
  ['20240101-20240131\\20240301-', '20240215', false, { ranges: true }],
  ['20240101', '20240101', true, { ranges: true }],
  ['A-B', 'A-B', true],
  ['10-20', '15', true, { ranges: true }],
  ['10-20', '15', false],
];

describe('DICOM matcher (shared/dicom-match)', () => {
  for (const [pattern, value, expected, options] of table) {
    it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(value)}${options ? ` ${JSON.stringify(options)}` : ''}`, () => {
      assert.equal(matchesDicom(pattern, value, options), expected);
    });
  }

  it('rejects ranges with wildcards or more than one "-"', () => {
    assert.throws(() => compileDicomPattern('2024*-', { ranges: true }), DicomPatternError);
    assert.throws(() => compileDicomPattern('2024-01-01', { ranges: true }), /more than one "-"/);
    assert.doesNotThrow(() => compileDicomPattern('2024-01-01'));
  });

  it('stays fast on a pathological pattern and a 100 kB value', () => {
    const matcher = compileDicomPattern('*a*a*a*a*a*a*a*a*b');
    assert.equal(matcher('a'.repeat(100_000)), false);
  });

  it('knows which keys are dates and times', () => {
    for (const key of ['StudyDate', 'PatientBirthDate', 'StudyTime', 'AcquisitionDateTime', 'LastUpdate', 'ReceptionDate'])
      assert.ok(isDateOrTimeKey(key), key);
    for (const key of ['Modality', 'StudyDescription', 'RemoteAET', 'ModalitiesInStudy']) assert.ok(!isDateOrTimeKey(key), key);
  });

  it('compiles a filter: every key must match, dates as ranges, other keys with "-" literally', () => {
    const matches = compileDicomFilter({
      ModalitiesInStudy: 'CT\\MR',
      StudyDate: '20240101-',
      StudyDescription: '*CHEST*',
      AccessionNumber: 'A-1',
    });
    const study: Record<string, string | string[]> = {
      ModalitiesInStudy: ['OT', 'MR'],
      StudyDate: '20240506',
      StudyDescription: 'Chest',
      AccessionNumber: 'a-1',
    };
    assert.equal(
      matches((key) => study[key]),
      true,
    );
    assert.equal(
      matches((key) => ({ ...study, StudyDate: '20231231' })[key]),
      false,
    );
    assert.equal(
      matches((key) => ({ ...study, ModalitiesInStudy: ['US'] })[key]),
      false,
    );
    assert.equal(
      matches((key) => ({ ...study, StudyDescription: undefined })[key]),
      false,
    );
    assert.equal(
      compileDicomFilter({})(() => undefined),
      true,
    );
  });

  it('reports every bad pattern of a filter by key', () => {
    assert.deepEqual(
      checkDicomFilter({ StudyDate: '2024-01-01', Modality: '2024-01-01', SeriesDate: '*-' }).map((p) => p.key),
      ['StudyDate', 'SeriesDate'],
    );
  });
});
