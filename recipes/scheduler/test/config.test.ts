import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliPath } from '../../../test/helpers/host.js';
import { folderWithModules } from './fixtures.js';

/** Runs `orthanc-recipes validate --config <folder>/orthanc-recipes.json` on these tasks. */
async function validate(folder: string, tasks: unknown[]): Promise<{ code: number; stdout: string; stderr: string; file: string }> {
  const file = join(folder, 'orthanc-recipes.json');
  await writeFile(file, JSON.stringify({ Recipes: { scheduler: { Enabled: true, Tasks: tasks } } }));
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, 'validate', '--config', file], (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr, file });
    });
  });
}

const ok = { Name: 'ok', Every: '1s', Task: 'log-statistics' };

describe('recipe scheduler: invalid tasks exit with code 2, naming the JSON pointer', () => {
  let folder: string;
  before(async () => (folder = await folderWithModules()));
  after(async () => await rm(folder, { recursive: true, force: true }));

  it("accepts the issue's example, with a JavaScript and a TypeScript module", async () => {
    const { code, stdout, stderr } = await validate(folder, [
      { Name: 'heartbeat', Every: '1s', Task: 'log-statistics' },
      {
        Name: 'nightly-purge',
        Schedule: '0 30 2 * * *',
        TimeZone: 'Europe/Brussels',
        Task: 'purge-older-than',
        Options: { Days: 365, Level: 'Study', Filter: { Modality: 'OT' }, DryRun: true },
      },
      { Name: 'clear-exports', Every: '1h', Request: { Method: 'DELETE', Uri: '/exports' } },
      { Name: 'custom', Schedule: '*/10 * * * * *', Module: './tasks/echo.mjs', Options: { Any: 'thing' } },
      { Name: 'custom-ts', Schedule: '*/10 * * * *', Module: 'tasks/echo.ts' },
      { Name: 'jobs', Every: '500ms', Task: 'resubmit-failed-jobs', Options: { Types: ['DicomModalityStore'], MaxPerRun: 3 } },
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /valid; enabled recipes: scheduler/);
  });

  it('accepts the configuration example of its README', async () => {
    const readme = await readFile(new URL('../../../../recipes/scheduler/README.md', import.meta.url), 'utf8');
    const example = /## Options\n\n```json\n([\s\S]*?)\n```/.exec(readme)![1]!;
    const { Recipes } = JSON.parse(`{ "Recipes": { ${example} } }`) as { Recipes: { scheduler: { Tasks: unknown[] } } };
    const { code, stderr } = await validate(folder, Recipes.scheduler.Tasks);
    assert.equal(code, 0, stderr);
  });

  const cases: { what: string; tasks: unknown[]; pointer: string; message: RegExp }[] = [
    {
      what: 'a bad cron expression',
      tasks: [ok, { Name: 'x', Schedule: '61 * * * *', Task: 'log-statistics' }],
      pointer: '/Tasks/1/Schedule',
      message: /"61 \* \* \* \*" is not a valid cron expression: 61 is a invalid expression for minute/,
    },
    {
      what: 'a cron expression with 7 fields',
      tasks: [{ Name: 'x', Schedule: '* * * * * * *', Task: 'log-statistics' }],
      pointer: '/Tasks/0/Schedule',
      message: /expected 5 or 6 fields but got 7/,
    },
    {
      what: 'both Schedule and Every',
      tasks: [ok, ok, { Name: 'x', Schedule: '* * * * *', Every: '1s', Task: 'log-statistics' }].map((t, i) =>
        i === 1 ? { ...t, Name: 'ok2' } : t,
      ),
      pointer: '/Tasks/2',
      message: /has both Schedule and Every; give exactly one/,
    },
    {
      what: 'neither Schedule nor Every',
      tasks: [{ Name: 'x', Task: 'log-statistics' }],
      pointer: '/Tasks/0',
      message: /needs a Schedule \(cron expression\) or an Every/,
    },
    {
      what: 'a bad Every',
      tasks: [{ Name: 'x', Every: '5 minutes', Task: 'log-statistics' }],
      pointer: '/Tasks/0/Every',
      message: /"5 minutes" is not a period; write a whole number and a unit: 500ms, 1s, 5m, 1h/,
    },
    {
      what: 'an Every too short',
      tasks: [{ Name: 'x', Every: '10ms', Task: 'log-statistics' }],
      pointer: '/Tasks/0/Every',
      message: /"10ms" is shorter than 100 ms/,
    },
    {
      what: 'an Every too long for a timer',
      tasks: [{ Name: 'x', Every: '1000h', Task: 'log-statistics' }],
      pointer: '/Tasks/0/Every',
      message: /longer than 24 days; use Schedule/,
    },
    {
      what: 'an unknown time zone',
      tasks: [{ Name: 'x', Schedule: '* * * * *', TimeZone: 'Mars/Olympus_Mons', Task: 'log-statistics' }],
      pointer: '/Tasks/0/TimeZone',
      message: /"Mars\/Olympus_Mons" is not a time zone/,
    },
    {
      what: 'a time zone with Every',
      tasks: [{ Name: 'x', Every: '1s', TimeZone: 'Europe/Brussels', Task: 'log-statistics' }],
      pointer: '/Tasks/0/TimeZone',
      message: /applies to Schedule only/,
    },
    {
      what: 'two actions',
      tasks: [{ Name: 'x', Every: '1s', Task: 'log-statistics', Request: { Uri: '/system' } }],
      pointer: '/Tasks/0',
      message: /has Task and Request; give exactly one action/,
    },
    {
      what: 'no action',
      tasks: [{ Name: 'x', Every: '1s' }],
      pointer: '/Tasks/0',
      message: /needs exactly one action: Task \(built-in\), Request or Module/,
    },
    {
      what: 'an unknown built-in',
      tasks: [{ Name: 'x', Every: '1s', Task: 'purge-everything' }],
      pointer: '/Tasks/0/Task',
      message: /must be one of "purge-older-than", "resubmit-failed-jobs", "log-statistics"/,
    },
    {
      what: 'a bad option of a built-in',
      tasks: [{ Name: 'x', Every: '1s', Task: 'purge-older-than', Options: { Days: -1 } }],
      pointer: '/Tasks/0/Options/Days',
      message: /must be >= 0/,
    },
    {
      what: 'an unknown option of a built-in',
      tasks: [{ Name: 'x', Every: '1s', Task: 'resubmit-failed-jobs', Options: { MaxJobs: 3 } }],
      pointer: '/Tasks/0/Options/MaxJobs',
      message: /unknown key "MaxJobs"; expected one of "Types", "MaxPerRun"/,
    },
    {
      what: 'a bad level of purge-older-than',
      tasks: [{ Name: 'x', Every: '1s', Task: 'purge-older-than', Options: { Level: 'Instance' } }],
      pointer: '/Tasks/0/Options/Level',
      message: /must be one of "Patient", "Study", "Series"/,
    },
    {
      what: 'a bad Filter pattern',
      tasks: [{ Name: 'x', Every: '1s', Task: 'purge-older-than', Options: { Filter: { StudyDate: '2020*-2021' } } }],
      pointer: '/Tasks/0/Options/Filter/StudyDate',
      message: /a range cannot hold wildcards/,
    },
    {
      what: 'Options on a Request',
      tasks: [{ Name: 'x', Every: '1s', Request: { Uri: '/system' }, Options: { A: 1 } }],
      pointer: '/Tasks/0/Options',
      message: /applies to Task and Module only/,
    },
    {
      what: 'a body on a GET Request',
      tasks: [{ Name: 'x', Every: '1s', Request: { Uri: '/system', Body: { A: 1 } } }],
      pointer: '/Tasks/0/Request/Body',
      message: /a GET request has no body/,
    },
    {
      what: 'an unknown Request method',
      tasks: [{ Name: 'x', Every: '1s', Request: { Method: 'PATCH', Uri: '/system' } }],
      pointer: '/Tasks/0/Request/Method',
      message: /must be one of "GET", "POST", "PUT", "DELETE"/,
    },
    {
      what: 'a Request Uri not starting with /',
      tasks: [{ Name: 'x', Every: '1s', Request: { Uri: 'system' } }],
      pointer: '/Tasks/0/Request/Uri',
      message: /must match pattern "\^\/"/,
    },
    {
      what: 'a Module that does not exist',
      tasks: [{ Name: 'x', Every: '1s', Module: './tasks/missing.js' }],
      pointer: '/Tasks/0/Module',
      message: /tasks\/missing\.js does not exist/,
    },
    {
      what: 'a Module whose default export is not a function',
      tasks: [{ Name: 'x', Every: '1s', Module: './tasks/not-a-function.mjs' }],
      pointer: '/Tasks/0/Module',
      message: /its default export is not a function/,
    },
    {
      what: 'a Module with no default export',
      tasks: [{ Name: 'x', Every: '1s', Module: './tasks/no-default.mjs' }],
      pointer: '/Tasks/0/Module',
      message: /its default export is not a function/,
    },
    {
      what: 'a TypeScript Module that does not compile',
      tasks: [{ Name: 'x', Every: '1s', Module: './tasks/syntax-error.ts' }],
      pointer: '/Tasks/0/Module',
      message: /syntax-error\.ts: /,
    },
    {
      what: 'two tasks of the same name',
      tasks: [ok, { ...ok, Every: '2s' }],
      pointer: '/Tasks/1/Name',
      message: /"ok" is already the name of \/Tasks\/0; names must be unique/,
    },
    { what: 'a name that cannot be in a URL', tasks: [{ ...ok, Name: 'a/b' }], pointer: '/Tasks/0/Name', message: /must match pattern/ },
    { what: 'an unknown key in a task', tasks: [{ ...ok, Cron: '* * * * *' }], pointer: '/Tasks/0/Cron', message: /unknown key "Cron"/ },
  ];

  for (const { what, tasks, pointer, message } of cases) {
    it(`refuses ${what} (${pointer})`, async () => {
      const { code, stderr, file } = await validate(folder, tasks);
      assert.equal(code, 2, stderr);
      const line = stderr.split('\n').find((l) => l.startsWith(`${file}: recipe "scheduler": /Recipes/scheduler${pointer}: `));
      assert.ok(line, `no line for ${pointer} in:\n${stderr}`);
      assert.match(line, message);
    });
  }
});
