import assert from 'node:assert/strict';
import { eventually } from '../../../test/helpers/changes.js';
import { RecipeTester } from '../../../test/helpers/recipe-tester.js';
import scheduler from '../index.js';

// The fast tier: the scheduler in a real host in front of a fake Orthanc (no Orthanc). The
// integration suites (scheduler, built-in-tasks, pause) run it against a real Orthanc.

const ping = { Name: 'ping', Every: '1h', Request: { Method: 'POST', Uri: '/tools/log-level', Body: 'verbose' } };

new RecipeTester(scheduler, {
  options: { Tasks: [ping] },
  // The host-action probe (HttpServer.HostActionProbe) in front of the task routes.
  orthanc: { 'GET /jobs': { json: [] }, 'POST /tools/log-level': { body: 'verbose' } },
}).run([
  {
    name: 'lists its tasks',
    request: 'GET /recipes/scheduler/tasks',
    expect: { status: 200 },
    check: ({ answer }) =>
      assert.deepEqual(
        JSON.parse(answer!.body.toString()).map((task: { Name: string }) => task.Name),
        ['ping'],
      ),
  },
  {
    name: 'runs a task now on POST /run (202), sending its request to Orthanc',
    request: { method: 'POST', path: '/recipes/scheduler/tasks/ping/run' },
    expect: { status: 202 },
    check: async ({ recipe }) => {
      await eventually(() => recipe.orthanc.callsTo('POST', '/tools/log-level').length === 1, 5000);
      assert.equal(recipe.orthanc.callsTo('POST', '/tools/log-level')[0]!.body.toString(), 'verbose');
    },
  },
  {
    name: 'answers 404 naming the known tasks for an unknown one',
    request: { method: 'POST', path: '/recipes/scheduler/tasks/nope/run' },
    expect: { status: 404, body: /no task named \\?"nope\\?"; known: ping/ },
  },
  { name: 'answers 405 to a GET of /run', request: 'GET /recipes/scheduler/tasks/ping/run', expect: { status: 405 } },
  {
    name: 'runs an Every task by itself once Orthanc is up',
    options: { Tasks: [{ ...ping, Every: '100ms' }] },
    check: async ({ recipe }) => eventually(() => recipe.orthanc.callsTo('POST', '/tools/log-level').length >= 2, 5000),
  },
  {
    name: 'refuses an Every shorter than 100 ms',
    options: { Tasks: [{ ...ping, Every: '50ms' }] },
    expect: { configError: /\/Recipes\/scheduler\/Tasks\/0\/Every: "50ms" is shorter than 100 ms/ },
  },
  {
    name: 'refuses a task with both Schedule and Every',
    options: { Tasks: [{ ...ping, Schedule: '* * * * *' }] },
    expect: { configError: /\/Recipes\/scheduler\/Tasks\/0/ },
  },
  {
    name: 'refuses an Every without a unit',
    options: { Tasks: [{ ...ping, Every: '5' }] },
    expect: { configError: /\/Recipes\/scheduler\/Tasks\/0\/Every/ },
  },
]);
