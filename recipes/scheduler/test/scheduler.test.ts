import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../../test/helpers/changes.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { call, folderWithModules, taskView, type TaskView } from './fixtures.js';

describe('recipe scheduler, against a real Orthanc', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let folder: string;

  before(async () => {
    orthanc = await startTestOrthanc();
    folder = await folderWithModules();
    const never = '0 0 1 1 *'; // once a year: these tasks run when asked to
    host = await startHostProcess(
      {
        Orthanc: { Url: orthanc.url },
        Recipes: {
          scheduler: {
            Enabled: true,
            Tasks: [
              { Name: 'heartbeat', Every: '1s', Task: 'log-statistics' },
              { Name: 'slow', Schedule: '* * * * * *', Module: './tasks/slow.mjs' },
              { Name: 'failing', Every: '500ms', Module: './tasks/fail.mjs' },
              { Name: 'system', Schedule: never, Request: { Uri: '/system' } },
              {
                Name: 'find',
                Schedule: never,
                TimeZone: 'Europe/Brussels',
                Request: { Method: 'POST', Uri: '/tools/find', Body: { Level: 'Study', Query: {} } },
              },
              { Name: 'clear-exports', Every: '1h', Request: { Method: 'DELETE', Uri: '/exports' } },
              { Name: 'not-found', Schedule: never, Request: { Uri: '/no/such/route' } },
              { Name: 'echo-js', Schedule: never, Module: './tasks/echo.mjs', Options: { Any: 'thing' } },
              { Name: 'echo-ts', Schedule: never, Module: 'tasks/echo.ts', Options: { Any: 'thing' } },
              { Name: 'hang', Schedule: never, Module: './tasks/hang.mjs', Options: { Marker: join(folder, 'hang.marker') } },
            ],
          },
        },
      },
      folder,
    );
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  const run = (name: string) => call(`${host.url}/recipes/scheduler/tasks/${name}/run`, 'POST');
  const view = (name: string) => taskView(host.url, name);

  /** Runs a task now and waits for the run to end. */
  async function runNow(name: string): Promise<NonNullable<TaskView['LastRun']>> {
    const { status, body } = await run(name);
    assert.equal(status, 202, JSON.stringify(body));
    let last: TaskView['LastRun'] = null;
    await eventually(
      async () => {
        last = (await view(name)).LastRun;
        return last !== null && last.Start === body.Start;
      },
      20_000,
      `the end of ${name}'s run`,
    );
    return last!;
  }

  it('lists every task with its schedule, next run, counts and last run', async () => {
    const { status, body, headers } = await call<TaskView[]>(`${host.url}/recipes/scheduler/tasks`);
    assert.equal(status, 200);
    assert.match(String(headers['content-type']), /^application\/json/);
    assert.deepEqual(
      body.map((t) => t.Name),
      ['heartbeat', 'slow', 'failing', 'system', 'find', 'clear-exports', 'not-found', 'echo-js', 'echo-ts', 'hang'],
    );
    const find = body.find((t) => t.Name === 'find') as unknown as Record<string, unknown>;
    assert.equal(find.Schedule, '0 0 1 1 *');
    assert.equal(find.TimeZone, 'Europe/Brussels');
    assert.equal(find.Every, undefined);
    assert.equal(find.RunCount, 0);
    assert.equal(find.LastRun, null);
    await eventually(async () => (await view('heartbeat')).NextRun !== null, 10_000, 'the tasks to start with Orthanc');
    const heartbeat = (await view('heartbeat')) as unknown as Record<string, unknown>;
    assert.equal(heartbeat.Every, '1s');
    assert.equal(heartbeat.Schedule, undefined);
    assert.ok(Date.parse(String(heartbeat.NextRun)) - Date.now() <= 1500, String(heartbeat.NextRun));
    // Next 1 January at 00:00 in Brussels is 23:00 UTC the day before.
    assert.match(String((find.NextRun as string | null) ?? (await view('find')).NextRun), /-12-31T23:00:00\.000Z$/);
  });

  it('runs a 1-second task about once a second', async () => {
    await eventually(async () => (await view('heartbeat')).RunCount >= 1, 10_000, 'a first heartbeat');
    const first = await view('heartbeat');
    const start = Date.now();
    await eventually(async () => (await view('heartbeat')).RunCount >= first.RunCount + 5, 20_000, 'five more heartbeats');
    // Five more runs cannot come much faster than five seconds (the upper bound is the wait's timeout).
    assert.ok(Date.now() - start >= 3500, `five runs in ${Date.now() - start} ms`);
    const last = (await view('heartbeat')).LastRun!;
    assert.equal(last.Outcome, 'Success');
    assert.equal(last.Trigger, 'Schedule');
    assert.equal(typeof last.Result.CountInstances, 'number');
    await host.log.waitForMessage('scheduler.heartbeat', (m) => /^statistics patients=0 studies=0 /.test(m));
  });

  it('never runs a slow task twice at once: ticks that come during a run are skipped', async () => {
    await eventually(
      async () => {
        const slow = await view('slow');
        return slow.RunCount >= 2 && slow.SkippedCount >= 2;
      },
      30_000,
      'two runs of the slow task',
    );
    const slow = await view('slow');
    assert.equal(slow.LastRun!.Result.MaxActive, 1);
    assert.equal(slow.FailureCount, 0);
  });

  it('logs and counts a run that throws, and keeps the schedule going', async () => {
    await eventually(async () => (await view('failing')).FailureCount >= 3, 20_000, 'three failures');
    const failing = await view('failing');
    assert.equal(failing.LastRun!.Outcome, 'Failure');
    assert.equal(failing.LastRun!.Error, 'boom from fail.mjs');
    assert.ok(failing.RunCount >= failing.FailureCount);
    await eventually(async () => (await view('failing')).FailureCount > failing.FailureCount, 10_000, 'one more run after failures');
    assert.ok(
      host.log.lines.some((line) =>
        /^E .* scheduler\] task failed task=failing trigger=Schedule outcome=Failure durationMs=\d+ error="boom from fail\.mjs/.test(line),
      ),
    );
  });

  it('runs a task now: 202 with the run, 409 while it runs, 404 for an unknown task', async () => {
    const { status, body } = await run('hang');
    assert.equal(status, 202);
    assert.equal(body.Name, 'hang');
    assert.equal(body.Trigger, 'Manual');
    assert.ok(Math.abs(Date.parse(body.Start) - Date.now()) < 60_000);
    const again = await run('hang');
    assert.equal(again.status, 409);
    assert.match(again.body.Message, /already running/);
    assert.equal(again.body.Running.Start, body.Start);
    assert.deepEqual((await view('hang')).Running, { Start: body.Start, Trigger: 'Manual' });

    const unknown = await run('nope');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.Message, /no task named "nope"/);
    assert.equal((await call(`${host.url}/recipes/scheduler/tasks/nope`)).status, 404);
  });

  it('answers 405 with Allow to other methods', async () => {
    const list = await call(`${host.url}/recipes/scheduler/tasks`, 'POST');
    assert.equal(list.status, 405);
    assert.equal(list.headers.allow, 'GET');
    const runRoute = await call(`${host.url}/recipes/scheduler/tasks/system/run`, 'GET');
    assert.equal(runRoute.status, 405);
    assert.equal(runRoute.headers.allow, 'POST');
    assert.equal((await call(`${host.url}/recipes/scheduler/tasks/system`, 'DELETE')).status, 405);
  });

  it('sends a Request to Orthanc and keeps its answer; an error status fails the run', async () => {
    const system = await runNow('system');
    assert.equal(system.Outcome, 'Success');
    assert.equal(system.Result.Version, (await orthanc.json('GET', '/system')).Version);
    const find = await runNow('find');
    assert.deepEqual(find.Result, []);
    const exports = await runNow('clear-exports');
    assert.equal(exports.Outcome, 'Success');
    const notFound = await runNow('not-found');
    assert.equal(notFound.Outcome, 'Failure');
    assert.match(notFound.Error!, /HTTP 404/);
  });

  it('runs a JavaScript and a TypeScript Module with the recipe context, an AbortSignal and its options', async () => {
    const js = await runNow('echo-js');
    assert.equal(js.Outcome, 'Success', js.Error);
    assert.deepEqual(js.Result, {
      Options: { Any: 'thing' },
      Version: (await orthanc.json('GET', '/system')).Version,
      HasLog: true,
      HasState: true,
      SignalIsAbortSignal: true,
      ConfigDirectory: folder,
    });
    const ts = await runNow('echo-ts');
    assert.equal(ts.Outcome, 'Success', ts.Error);
    assert.deepEqual(ts.Result, { Typed: 'THING', CountStudies: 0 });
  });

  it('on shutdown, cancels the runs in flight through their AbortSignal and waits for them', async () => {
    assert.notEqual((await view('hang')).Running, null);
    const code = await host.stop('SIGTERM');
    assert.equal(code, 0);
    assert.equal(await readFile(join(folder, 'hang.marker'), 'utf8'), 'cancelled');
    const cancelled = host.log.lines.findIndex((line) =>
      /scheduler\] task cancelled task=hang trigger=Manual outcome=Cancelled durationMs=\d+/.test(line),
    );
    const stopped = host.log.lines.findIndex((line) => / host\] stopped$/.test(line));
    assert.ok(cancelled >= 0 && stopped > cancelled, `the host stopped before the run ended:\n${host.log.lines.slice(-10).join('\n')}`);
  });
});
