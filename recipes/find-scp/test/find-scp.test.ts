import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { getFreePort } from '../../../host/index.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';

const run = promisify(execFile);

/** Runs dcmtk's findscu; resolves with each answer as keyword-free `(gggg,eeee) → value` maps, and the raw output. */
async function findscu(
  port: number,
  aec: string,
  keys: string[],
  model: '-S' | '-P' = '-S',
): Promise<{ answers: Record<string, string>[]; output: string; ok: boolean }> {
  const args = ['-v', model, '-aet', 'DEVICE', '-aec', aec, '127.0.0.1', String(port), ...keys.flatMap((key) => ['-k', key])];
  let output: string;
  let ok = true;
  try {
    const { stdout, stderr } = await run('findscu', args);
    output = stdout + stderr;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    output = stdout + stderr;
    ok = false;
  }
  const answers: Record<string, string>[] = [];
  for (const block of output.split(/Find Response: \d+ \(Pending\)/).slice(1)) {
    const answer: Record<string, string> = {};
    for (const match of block.matchAll(/^I: \(([0-9a-f]{4},[0-9a-f]{4})\) \w\w (?:\[([^\]]*)\]|\(no value available\))/gm))
      answer[match[1]!] = (match[2] ?? '').trimEnd();
    answers.push(answer);
  }
  return { answers, output, ok: ok && !/Association Rejected|Failed|Error/i.test(output.replace(/Find Response: \d+ \(Pending\)/g, '')) };
}

describe('recipe find-scp, against a real Orthanc, queried with dcmtk findscu', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let port: number;
  let filteredPort: number;
  const studies = [
    generateStudy({
      patientId: 'FIND-1',
      patientName: 'Alpha^Ann',
      studyDate: '20240105',
      studyDescription: 'CHEST',
      series: [
        { modality: 'CT', instances: 2 },
        { modality: 'MR', instances: 1 },
      ],
    }),
    generateStudy({
      patientId: 'FIND-2',
      patientName: 'Beta^Bob',
      studyDate: '20240210',
      studyDescription: 'HEAD',
      series: [{ modality: 'MR', instances: 1 }],
    }),
  ];

  before(async () => {
    orthanc = await startTestOrthanc();
    for (const study of studies) for (const instance of study) await orthanc.upload(instance.file);
    port = await getFreePort();
    filteredPort = await getFreePort();
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { 'find-scp': { Enabled: true, Host: '127.0.0.1', Port: port, Aet: 'FINDSCP' } },
    });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  it('patient level: wildcards on the name, requested keys returned', async () => {
    const { answers, ok, output } = await findscu(
      port,
      'FINDSCP',
      ['QueryRetrieveLevel=PATIENT', 'PatientName=A*', 'PatientID', 'PatientBirthDate'],
      '-P',
    );
    assert.ok(ok, output);
    assert.equal(answers.length, 1, output);
    assert.equal(answers[0]!['0010,0020'], 'FIND-1');
    assert.equal(answers[0]!['0010,0010'], 'Alpha^Ann');
  });

  it('study level: a date range, the study UID and description returned', async () => {
    const { answers, output } = await findscu(port, 'FINDSCP', [
      'QueryRetrieveLevel=STUDY',
      'StudyDate=20240201-20240301',
      'StudyInstanceUID',
      'StudyDescription',
      'PatientID',
    ]);
    assert.equal(answers.length, 1, output);
    assert.equal(answers[0]!['0020,000d'], studies[1]![0]!.studyInstanceUid);
    assert.equal(answers[0]!['0008,1030'], 'HEAD');
    assert.equal(answers[0]!['0010,0020'], 'FIND-2', 'a patient tag at the study level');
  });

  it('series level: by study UID and modality, with the study UID returned from the parent', async () => {
    const { answers, output } = await findscu(port, 'FINDSCP', [
      'QueryRetrieveLevel=SERIES',
      `StudyInstanceUID=${studies[0]![0]!.studyInstanceUid}`,
      'Modality=CT',
      'SeriesInstanceUID',
    ]);
    assert.equal(answers.length, 1, output);
    assert.equal(answers[0]!['0008,0060'], 'CT');
    assert.equal(answers[0]!['0020,000d'], studies[0]![0]!.studyInstanceUid);
    assert.equal(answers[0]!['0020,000e'], studies[0]![0]!.seriesInstanceUid);
  });

  it('image level: every instance of a series, SOP instance UIDs returned', async () => {
    const { answers, output } = await findscu(port, 'FINDSCP', [
      'QueryRetrieveLevel=IMAGE',
      `StudyInstanceUID=${studies[0]![0]!.studyInstanceUid}`,
      `SeriesInstanceUID=${studies[0]![0]!.seriesInstanceUid}`,
      'SOPInstanceUID',
    ]);
    assert.equal(answers.length, 2, output);
    assert.deepEqual(answers.map((a) => a['0008,0018']).sort(), [studies[0]![0]!.sopInstanceUid, studies[0]![1]!.sopInstanceUid].sort());
  });

  it('no match: no answer, a success', async () => {
    const { answers, ok, output } = await findscu(port, 'FINDSCP', ['QueryRetrieveLevel=STUDY', 'PatientID=NOBODY', 'StudyInstanceUID']);
    assert.ok(ok, output);
    assert.equal(answers.length, 0);
  });

  it('refuses an association calling another AET, and logs it without patient data', async () => {
    const { answers, output } = await findscu(port, 'SOMEONE', ['QueryRetrieveLevel=PATIENT', 'PatientID']);
    assert.match(output, /Association Rejected/i);
    assert.equal(answers.length, 0);
    await host.log.waitFor(/find-scp\] refused an association callingAet=DEVICE address=\S+ calledAet=SOMEONE /);
  });

  it('a bad level gets a failure status, and the SCP keeps answering', async () => {
    const { output } = await findscu(port, 'FINDSCP', ['QueryRetrieveLevel=NOPE', 'PatientID']);
    assert.match(output, /Final Find Response \(Error: DataSetDoesNotMatchSOPClass\)/, output);
    const again = await findscu(port, 'FINDSCP', ['QueryRetrieveLevel=PATIENT', 'PatientID=FIND-2']);
    assert.equal(again.answers.length, 1, again.output);
  });

  it('a filter narrows the view: the device never sees what the filter leaves out', async () => {
    const filtered = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: {
        'find-scp': { Enabled: true, Host: '127.0.0.1', Port: filteredPort, Aet: 'FILTERED', Filter: { StudyDescription: 'CH*' } },
      },
    });
    try {
      const all = await findscu(filteredPort, 'FILTERED', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'PatientID']);
      assert.deepEqual(
        all.answers.map((a) => a['0010,0020']),
        ['FIND-1'],
        all.output,
      );
      const both = await findscu(filteredPort, 'FILTERED', ['QueryRetrieveLevel=STUDY', 'StudyDescription=HEAD', 'PatientID']);
      assert.equal(both.answers.length, 0, "the device's own pattern cannot widen the filter");
    } finally {
      await filtered.stop();
    }
  });

  it('logs no patient name or ID', () => {
    assert.doesNotMatch(host.log.lines.join('\n'), /FIND-1|FIND-2|Alpha\^Ann|Beta\^Bob/);
  });
});
