import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliPath } from '../../../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Writes `recipe` as the autorouting options of a configuration and runs the CLI's `command` on it. */
async function cli(
  command: 'validate' | 'run',
  recipe: Record<string, unknown>,
  orthancUrl = 'http://127.0.0.1:1',
): Promise<CliResult & { file: string }> {
  const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-autorouting-config-'));
  const file = join(folder, 'config.json');
  const config = {
    Orthanc: { Url: orthancUrl },
    StateDirectory: './state',
    HttpServer: { Port: 0 },
    Recipes: { autorouting: { Enabled: true, ...recipe } },
  };
  await writeFile(file, JSON.stringify(config));
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, command, '--config', file], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr, file });
    });
  });
}

const lines = (stderr: string) =>
  stderr
    .trim()
    .split('\n')
    .filter((line) => line.includes('recipe "autorouting"'));

describe('recipe autorouting: every bad configuration exits with code 2 and names the JSON pointer', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;

  before(async () => {
    orthanc = await startTestOrthanc({
      configuration: {
        DicomModalities: { sample: ['SAMPLE', '127.0.0.1', 4242] },
        OrthancPeers: { backup: { Url: 'http://127.0.0.1:1' } },
      },
    });
  });
  after(async () => await orthanc?.stop());

  it('refuses options the schema does not allow, each at its pointer', async () => {
    const { code, stderr, file } = await cli('validate', {
      Rules: [
        { Level: 'Patient', Destinations: ['sample'] },
        { Destinations: [] },
        { Destinations: [{ Peer: 3 }], Colour: 'red' },
        { Destinations: ['sample'], Filter: { StudyDate: 20240101 } },
      ],
      Retry: { MaxAttempts: 0 },
      DryRun: 'yes',
    });
    assert.equal(code, 2);
    const found = lines(stderr);
    const at = (pointer: string, message: RegExp) =>
      assert.ok(
        found.some((line) => line.startsWith(`${file}: recipe "autorouting": /Recipes/autorouting${pointer}: `) && message.test(line)),
        `${pointer} ${message}\n${found.join('\n')}`,
      );
    at('/Rules/0/Level', /must be one of "Study", "Series", "Instance"/);
    at('/Rules/1/Destinations', /must NOT have fewer than 1 items/);
    at('/Rules/2/Destinations/0', /./);
    at('/Rules/2/Colour', /unknown key "Colour"/);
    at('/Rules/3/Filter/StudyDate', /must be string/);
    at('/Retry/MaxAttempts', /must be >= 1/);
    at('/DryRun', /must be boolean/);
  });

  it('refuses bad filter patterns and delays, and deleting after routing with rules at two levels, at load, without Orthanc', async () => {
    const { code, stderr, file } = await cli('validate', {
      Rules: [
        { Destinations: ['sample'], Filter: { StudyDate: '2024*-2025', SeriesDate: '1-2-3', StudyDescription: '*CT/ABD*' } },
        { Level: 'Series', Destinations: ['sample'] },
      ],
      Retry: { InitialDelaySeconds: 60, MaxDelaySeconds: 10 },
      DeleteAfterRouting: true,
    });
    assert.equal(code, 2);
    assert.deepEqual(lines(stderr).sort(), [
      `${file}: recipe "autorouting": /Recipes/autorouting/DeleteAfterRouting: cannot be true when the rules route more than one level (Study, Series): deleting one level would lose the routes of the other`,
      `${file}: recipe "autorouting": /Recipes/autorouting/Retry/InitialDelaySeconds: must not exceed MaxDelaySeconds (10)`,
      `${file}: recipe "autorouting": /Recipes/autorouting/Rules/0/Filter/SeriesDate: invalid pattern "1-2-3": "1-2-3" has more than one "-"; a range is "from-to", "from-" or "-to"`,
      `${file}: recipe "autorouting": /Recipes/autorouting/Rules/0/Filter/StudyDate: invalid pattern "2024*-2025": a range cannot hold wildcards ("2024*-2025")`,
    ]);
  });

  it('refuses to run with a destination Orthanc does not know (modality, peer, DICOMweb server), naming each', async () => {
    const { code, stderr, stdout, file } = await cli(
      'run',
      {
        Rules: [
          { Destinations: ['sample', 'nope'] },
          { Level: 'Series', Destinations: [{ Peer: 'backup' }, { Peer: 'elsewhere' }, { DicomWeb: 'cloud' }] },
        ],
      },
      orthanc.url,
    );
    assert.equal(code, 2, stderr);
    assert.doesNotMatch(stdout, /listening/);
    assert.deepEqual(lines(stderr).sort(), [
      `${file}: recipe "autorouting": /Recipes/autorouting/Rules/0/Destinations/1: Orthanc has no modality "nope" (its DicomModalities: "sample")`,
      `${file}: recipe "autorouting": /Recipes/autorouting/Rules/1/Destinations/1: Orthanc has no peer "elsewhere" (its OrthancPeers: "backup")`,
      `${file}: recipe "autorouting": /Recipes/autorouting/Rules/1/Destinations/2: Orthanc has no DICOMweb plugin (GET /dicom-web/servers answered 404), so it cannot send to DICOMweb server "cloud"`,
    ]);
  });

  it('accepts the configuration example of its README', async () => {
    const { code, stdout } = await cli('validate', {
      Rules: [
        {
          Name: 'ct-to-archive',
          Level: 'Study',
          Destinations: ['sample', { Peer: 'backup' }],
          Filter: { ModalitiesInStudy: 'CT\\MR', StudyDescription: '*CHEST*', StudyDate: '20240101-' },
        },
      ],
      Retry: { MaxAttempts: 10, InitialDelaySeconds: 5, MaxDelaySeconds: 600 },
      DeleteAfterRouting: false,
      DryRun: false,
    });
    assert.equal(code, 0);
    assert.match(stdout, /enabled recipes: autorouting/);
  });
});
