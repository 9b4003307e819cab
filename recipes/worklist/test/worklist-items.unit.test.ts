import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { queryValueText } from '../../../shared/find-scp.js';
import { answerFor, matchesQuery, readWorklistItems } from '../worklist-items.js';

// The fast tier: matching and answers without a network, and files without Orthanc.
const item = {
  PatientID: 'P1',
  PatientName: [{ Alphabetic: 'Müller^Anna' }],
  AccessionNumber: 'A1',
  ScheduledProcedureStepSequence: [
    { Modality: 'CT', ScheduledStationAETitle: 'CT1', ScheduledProcedureStepStartDate: '20250301' },
    { Modality: 'MR', ScheduledStationAETitle: 'MR1', ScheduledProcedureStepStartDate: '20250305' },
  ],
};

describe('worklist items: DICOM matching and answers', () => {
  it('matches keys with values; empty keys and "*" are return keys only', () => {
    assert.equal(matchesQuery({ PatientID: '', AccessionNumber: '*' }, item), true);
    assert.equal(matchesQuery({ PatientID: 'P1' }, item), true);
    assert.equal(matchesQuery({ PatientID: 'P2' }, item), false);
  });

  it('folds case and accents on names, as Orthanc does', () => {
    assert.equal(matchesQuery({ PatientName: 'muller*' }, item), true);
    assert.equal(matchesQuery({ PatientName: [{ Alphabetic: 'MÜLLER^ANNA' }] }, item), true);
  });

  it("a sequence matches when one of its items matches every key of the query's item", () => {
    assert.equal(matchesQuery({ ScheduledProcedureStepSequence: [{ Modality: 'MR', ScheduledStationAETitle: 'MR1' }] }, item), true);
    assert.equal(
      matchesQuery({ ScheduledProcedureStepSequence: [{ Modality: 'MR', ScheduledStationAETitle: 'CT1' }] }, item),
      false,
      'both keys in the same item',
    );
    assert.equal(matchesQuery({ ScheduledProcedureStepSequence: [{ ScheduledProcedureStepStartDate: '20250302-20250310' }] }, item), true);
    assert.equal(matchesQuery({ ScheduledProcedureStepSequence: [{ ScheduledProcedureStepStartDate: '20250401-' }] }, item), false);
    assert.equal(
      matchesQuery({ ScheduledProcedureStepSequence: [{ Modality: '' }] }, { PatientID: 'P9' }),
      true,
      'an empty item only asks',
    );
  });

  it('answers the asked keys, sequences cut to their asked keys, missing ones empty', () => {
    const answer = answerFor({ PatientID: '', StudyInstanceUID: '', ScheduledProcedureStepSequence: [{ Modality: '' }] }, item);
    assert.deepEqual(answer, {
      SpecificCharacterSet: 'ISO_IR 192',
      PatientID: 'P1',
      StudyInstanceUID: '',
      ScheduledProcedureStepSequence: [{ Modality: 'CT' }, { Modality: 'MR' }],
    });
  });

  it('reads .wl and .json items, skips unreadable ones and other files', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-wl-'));
    try {
      await writeFile(join(folder, 'a.json'), JSON.stringify({ PatientID: 'K1' }));
      await writeFile(join(folder, 'b.json'), JSON.stringify({ '00100020': { vr: 'LO', Value: ['K2'] } }));
      await writeFile(join(folder, 'c.json'), '[1, 2]');
      await writeFile(join(folder, 'd.wl'), 'garbage');
      await writeFile(join(folder, 'e.txt'), 'ignored');
      const skipped: string[] = [];
      const items = await readWorklistItems(folder, (file) => skipped.push(file));
      assert.deepEqual(
        items.map((i) => i.PatientID),
        ['K1', 'K2'],
      );
      assert.deepEqual(skipped, ['c.json', 'd.wl']);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('query values as text: lists, names, numbers; sequences are not text', () => {
    assert.equal(queryValueText(['CT', 'MR']), 'CT\\MR');
    assert.equal(queryValueText([{ Alphabetic: 'A^B' }]), 'A^B');
    assert.equal(queryValueText(12), '12');
    assert.equal(queryValueText([{ Modality: 'CT' }]), undefined);
  });
});
