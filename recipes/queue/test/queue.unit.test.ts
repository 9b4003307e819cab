import assert from 'node:assert/strict';
import { RecipeTester } from '../../../test/helpers/recipe-tester.js';
import { eventually } from '../../../test/helpers/changes.js';
import queue from '../index.js';

// The fast tier, on a fake Orthanc; queue.test.ts runs against a real Orthanc and kills the host.
/** The host-action probe: the fake Orthanc lets every caller list jobs. */
const admin = { 'GET /jobs': { json: [] } };

new RecipeTester(queue).run([
  {
    name: 'tags each new instance with its metadata, then the queue is empty',
    options: { Metadata: 'Handled', Value: 'yes' },
    orthanc: { ...admin, 'PUT /instances/i-1/metadata/Handled': { body: '' }, 'PUT /instances/i-2/metadata/Handled': { body: '' } },
    changes: [
      ['NEW_INSTANCE', 'INSTANCE', 'i-1'],
      ['NEW_INSTANCE', 'INSTANCE', 'i-2'],
    ],
    check: async ({ recipe }) => {
      await eventually(() => recipe.orthanc.calls.filter((c) => c.method === 'PUT').length >= 2, 5000, 'two tags');
      const put = recipe.orthanc.calls.find((c) => c.method === 'PUT')!;
      assert.equal(put.body.toString(), 'yes');
      await eventually(
        async () => JSON.parse((await recipe.request('GET /recipes/queue/stats')).body.toString()).Size === 0,
        5000,
        'an empty queue',
      );
    },
  },
  {
    name: 'an instance deleted before its turn is acknowledged, not retried',
    orthanc: {
      ...admin,
      'PUT /instances/gone/metadata/1024': { status: 404, json: { Message: 'Unknown resource' } },
      'GET /instances/gone': { status: 404, json: {} },
    },
    changes: [['NEW_INSTANCE', 'INSTANCE', 'gone']],
    check: async ({ recipe }) => {
      await eventually(
        async () => JSON.parse((await recipe.request('GET /recipes/queue/stats')).body.toString()).SinceStart.Vanished === 1,
        5000,
        'vanished',
      );
      assert.equal(JSON.parse((await recipe.request('GET /recipes/queue/stats')).body.toString()).Size, 0);
    },
  },
  {
    name: 'an Orthanc error leaves the instance queued (reserved), and says so without patient data',
    options: { ReserveSeconds: 600 },
    orthanc: { ...admin, 'PUT /instances/i-9/metadata/1024': { status: 400, json: { Message: 'Bad request' } } },
    changes: [['NEW_INSTANCE', 'INSTANCE', 'i-9']],
    check: async ({ recipe }) => {
      await eventually(
        () => recipe.recipeLog().some((l) => /^not tagged; it comes back later instance=i-9 retrySeconds=600 /.test(l)),
        5000,
        'the warning',
      );
      assert.deepEqual(JSON.parse((await recipe.request('GET /recipes/queue/stats')).body.toString()).Reserved, 1);
    },
  },
  {
    name: 'a metadata name Orthanc does not know (404 for an instance that exists) keeps the instance queued',
    options: { Metadata: 'Undeclared', ReserveSeconds: 600 },
    orthanc: {
      ...admin,
      'PUT /instances/i-3/metadata/Undeclared': { status: 404, json: { Message: 'Accessing an inexistent item' } },
      'GET /instances/i-3': { json: { ID: 'i-3' } },
    },
    changes: [['NEW_INSTANCE', 'INSTANCE', 'i-3']],
    check: async ({ recipe }) => {
      await eventually(() => recipe.recipeLog().some((l) => /^not tagged; it comes back later instance=i-3 /.test(l)), 5000, 'the warning');
      const stats = JSON.parse((await recipe.request('GET /recipes/queue/stats')).body.toString());
      assert.equal(stats.Size, 1);
      assert.equal(stats.SinceStart.Vanished, 0);
    },
  },
  {
    name: 'stats answer GET only',
    orthanc: admin,
    request: { method: 'POST', path: '/recipes/queue/stats', body: '{}' },
    expect: { status: 405 },
  },
  { name: 'refuses zero workers with its JSON pointer', options: { Workers: 0 }, expect: { configError: /\/Recipes\/queue\/Workers/ } },
  {
    name: 'refuses a metadata name that would change the URI',
    options: { Metadata: '../../tools/reset' },
    expect: { configError: /\/Recipes\/queue\/Metadata/ },
  },
  { name: 'refuses a reservation of no time', options: { ReserveSeconds: 0 }, expect: { configError: /\/Recipes\/queue\/ReserveSeconds/ } },
]);
