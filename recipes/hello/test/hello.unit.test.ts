import assert from 'node:assert/strict';
import { RecipeTester } from '../../../test/helpers/recipe-tester.js';
import hello from '../index.js';

// The fast tier: the recipe in a real host in front of a fake Orthanc (no Orthanc, milliseconds).
// hello.test.ts runs the same recipe against a real Orthanc.
new RecipeTester(hello).run([
  {
    name: 'answers /toto with "ok" as text/plain',
    request: 'GET /toto',
    expect: { status: 200, body: 'ok\n', headers: { 'content-type': 'text/plain' } },
  },
  { name: 'answers /tata to any method', request: { method: 'DELETE', path: '/tata' }, expect: { status: 200, body: 'ok\n' } },
  { name: 'leaves /tato to Orthanc (its 404, through the proxy)', request: 'GET /tato', expect: { status: 404 } },
  {
    name: 'logs each change as "<ChangeType> <ResourceType> <id>"',
    changes: [
      ['NEW_INSTANCE', 'INSTANCE', 'i-1'],
      ['STABLE_STUDY', 'STUDY', 's-1'],
    ],
    expect: { logs: [/^NEW_INSTANCE INSTANCE i-1$/, /^STABLE_STUDY STUDY s-1$/] },
    check: ({ recipe }) =>
      assert.ok(recipe.recipeLog().indexOf('NEW_INSTANCE INSTANCE i-1') < recipe.recipeLog().indexOf('STABLE_STUDY STUDY s-1')),
  },
  {
    name: 'logs nothing with LogChanges off',
    options: { LogChanges: false },
    changes: [['NEW_INSTANCE', 'INSTANCE', 'i-1']],
    check: ({ recipe }) => assert.ok(!recipe.recipeLog().some((l) => l.includes('i-1'))),
  },
  { name: 'refuses an unknown option with its JSON pointer', options: { Nope: 1 }, expect: { configError: /\/Recipes\/hello.*Nope/ } },
]);
