import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { getFreePort } from '../../../host/index.js';
import { toPart10 } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';

const run = promisify(execFile);

/** dcmtk's `findscu -W`; each pending answer as `(gggg,eeee) → value` (nested ones too, last wins). */
async function worklistQuery(port: number, aec: string, keys: string[]): Promise<{ answers: Record<string, string>[]; output: string }> {
  let output: string;
  try {
    const { stdout, stderr } = await run('findscu', [
      '-v',
      '-W',
      '-aet',
      'SCANNER',
      '-aec',
      aec,
      '127.0.0.1',
      String(port),
      ...keys.flatMap((key) => ['-k', key]),
    ]);
    output = stdout + stderr;
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? '') + String((error as { stderr?: string }).stderr ?? '');
  }
  const answers = output
    .split(/Find Response: \d+ \(Pending\)/)
    .slice(1)
    .map((block) => {
      const answer: Record<string, string> = {};
      for (const match of block.matchAll(/^I:\s+\(([0-9a-f]{4},[0-9a-f]{4})\) \w\w (?:\[([^\]]*)\]|\(no value available\))/gm))
        answer[match[1]!] = (match[2] ?? '').trimEnd();
      return answer;
    });
  return { answers, output };
}

const item = (patientId: string, name: string, accession: string, modality: string, date: string, station: string) => ({
  SOPClassUID: '1.2.840.10008.5.1.4.31',
  SOPInstanceUID: `1.2.826.0.1.3680043.10.1391.9.${accession.replace(/\D/g, '')}`,
  SpecificCharacterSet: 'ISO_IR 192',
  PatientID: patientId,
  PatientName: name,
  AccessionNumber: accession,
  RequestedProcedureID: `RP${accession}`,
  ScheduledProcedureStepSequence: [
    {
      Modality: modality,
      ScheduledStationAETitle: station,
      ScheduledProcedureStepStartDate: date,
      ScheduledProcedureStepDescription: `${modality} exam`,
    },
  ],
  _vrMap: {},
});

describe('recipe worklist, queried with dcmtk findscu -W', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let folder: string;
  let port: number;

  before(async () => {
    orthanc = await startTestOrthanc();
    folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-worklist-'));
    await mkdir(join(folder, 'items'));
    await writeFile(join(folder, 'items', 'a.wl'), toPart10(item('WL-1', 'Muller^Anna', 'ACC1001', 'MR', '20250301', 'MR1')));
    await writeFile(join(folder, 'items', 'b.wl'), toPart10(item('WL-2', 'Moreau^Bruno', 'ACC1002', 'CT', '20250302', 'CT1')));
    // The DICOM JSON model, as exported by a RIS.
    await writeFile(
      join(folder, 'items', 'c.json'),
      JSON.stringify({
        '00100020': { vr: 'LO', Value: ['WL-3'] },
        '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Martin^Chloe' }] },
        '00080050': { vr: 'SH', Value: ['ACC1003'] },
        '00400100': {
          vr: 'SQ',
          Value: [
            {
              '00080060': { vr: 'CS', Value: ['MR'] },
              '00400001': { vr: 'AE', Value: ['MR2'] },
              '00400002': { vr: 'DA', Value: ['20250410'] },
            },
          ],
        },
      }),
    );
    await writeFile(join(folder, 'items', 'broken.wl'), 'not DICOM at all');
    await writeFile(join(folder, 'items', 'notes.txt'), 'ignored');
    port = await getFreePort();
    host = await startHostProcess(
      {
        Orthanc: { Url: orthanc.url },
        Recipes: { worklist: { Enabled: true, Folder: './items', Host: '127.0.0.1', Port: port, Aet: 'WORKLIST' } },
      },
      folder,
    );
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  it('answers every item to a query of return keys only, from .wl and .json files', async () => {
    const { answers, output } = await worklistQuery(port, 'WORKLIST', ['PatientID', 'PatientName', 'AccessionNumber']);
    assert.deepEqual(answers.map((a) => a['0008,0050']).sort(), ['ACC1001', 'ACC1002', 'ACC1003'], output);
    assert.ok(answers.some((a) => a['0010,0010'] === 'Martin^Chloe'));
  });

  it('matches inside the scheduled procedure step: modality, and a date range', async () => {
    const mr = await worklistQuery(port, 'WORKLIST', [
      'AccessionNumber',
      'ScheduledProcedureStepSequence[0].Modality=MR',
      'ScheduledProcedureStepSequence[0].ScheduledStationAETitle',
    ]);
    assert.deepEqual(mr.answers.map((a) => a['0008,0050']).sort(), ['ACC1001', 'ACC1003'], mr.output);
    assert.ok(
      mr.answers.some((a) => a['0040,0001'] === 'MR2'),
      'the sequence is returned with its asked keys',
    );
    const march = await worklistQuery(port, 'WORKLIST', [
      'AccessionNumber',
      'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20250301-20250331',
    ]);
    assert.deepEqual(march.answers.map((a) => a['0008,0050']).sort(), ['ACC1001', 'ACC1002'], march.output);
  });

  it('wildcards and case: the patient name "mo*" finds Moreau only', async () => {
    const { answers, output } = await worklistQuery(port, 'WORKLIST', ['PatientName=mo*', 'AccessionNumber']);
    assert.deepEqual(
      answers.map((a) => a['0008,0050']),
      ['ACC1002'],
      output,
    );
  });

  it('refuses an association calling another AET', async () => {
    const { answers, output } = await worklistQuery(port, 'NOT-ME', ['PatientID']);
    assert.match(output, /Association Rejected/i);
    assert.equal(answers.length, 0);
  });

  it('skips an unreadable file with a warning naming the file, and logs no patient data', async () => {
    await host.log.waitFor(/worklist\] skipped a worklist file file="?\S*broken\.wl/);
    assert.doesNotMatch(host.log.lines.join('\n'), /WL-1|WL-2|WL-3|Muller|Moreau|Martin/);
  });
});
